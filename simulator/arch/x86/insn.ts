// The few x86 instructions the simulated guest uses for its memory accesses: MOV between a register
// and [rdi], in the four operand sizes. The workload's steps are assembled into guest RAM with these
// encodings; KVM's emulator fetches and decodes them from there, as x86_decode_insn does.
//
//   store: 88 07 (mov [rdi],al)  66 89 07 (ax)  89 07 (eax)  48 89 07 (rax)
//   load:  8a 07 (mov al,[rdi])  66 8b 07 (ax)  8b 07 (eax)  48 8b 07 (rax)

/** Encode into `out` at `at`; returns the length. */
export function encodeMov(out: Uint8Array, at: number, write: boolean, size: number): number {
  let i = at;
  if (size === 2) out[i++] = 0x66;
  if (size === 8) out[i++] = 0x48;
  out[i++] = size === 1 ? (write ? 0x88 : 0x8a) : write ? 0x89 : 0x8b;
  out[i++] = 0x07; // ModRM: mod 00, reg 0 (al/ax/eax/rax), rm 111 ([rdi])
  return i - at;
}

/** The decoder's result (reused: every decode writes all four fields). */
export class DecodedInsn {
  ok = false;
  write = false;
  size = 0;
  len = 0;
}

/**
 * Decode a MOV r/m form from its first bytes, little-endian in `lo` (bytes 0-3): the longest form the
 * guest's code uses is three bytes (prefix, opcode, ModRM).
 */
export function decodeMov(lo: number, out: DecodedInsn): DecodedInsn {
  let at = 0;
  let size = 4;
  let b = byteOf(lo, at);
  if (b === 0x66) {
    size = 2;
    b = byteOf(lo, ++at);
  } else if (b === 0x48) {
    size = 8;
    b = byteOf(lo, ++at);
  }
  if (b === 0x88 || b === 0x8a) size = 1;
  out.write = b === 0x88 || b === 0x89;
  out.ok = (out.write || b === 0x8a || b === 0x8b) && byteOf(lo, at + 1) === 0x07;
  out.size = size;
  out.len = at + 2;
  return out;
}

function byteOf(lo: number, i: number): number {
  return (lo >>> (8 * i)) & 0xff;
}
