// The few x86 instructions the simulated guest uses for its memory accesses: MOV between a register
// and [rdi], in the four operand sizes. The workload's steps are assembled into guest RAM with these
// encodings; KVM's emulator fetches and decodes them from there, as x86_decode_insn does.
//
//   store: 88 07 (mov [rdi],al)  66 89 07 (ax)  89 07 (eax)  48 89 07 (rax)
//   load:  8a 07 (mov al,[rdi])  66 8b 07 (ax)  8b 07 (eax)  48 8b 07 (rax)

/** Encode into `out` at `at`; returns the length. */
export function encodeMov(out: Uint8Array, at: number, write: boolean, size: number): number {
  let n = 0;
  if (size === 2) out[at + n++] = 0x66;
  if (size === 8) out[at + n++] = 0x48;
  out[at + n++] = size === 1 ? (write ? 0x88 : 0x8a) : write ? 0x89 : 0x8b;
  out[at + n++] = 0x07; // ModRM: mod 00, reg 0 (al/ax/eax/rax), rm 111 ([rdi])
  return n;
}

/** The decoder's result (reused). */
export class DecodedInsn {
  ok = false;
  write = false;
  size = 0;
  len = 0;
}

/** Decode a MOV r/m form from little-endian bytes held in two words (lo: bytes 0-3, hi: 4-7). */
export function decodeMov(lo: number, hi: number, out: DecodedInsn): DecodedInsn {
  let at = 0;
  let size = 4;
  let b = byteOf(lo, hi, at);
  if (b === 0x66) {
    size = 2;
    b = byteOf(lo, hi, ++at);
  } else if (b === 0x48) {
    size = 8;
    b = byteOf(lo, hi, ++at);
  }
  out.ok = true;
  if (b === 0x88 || b === 0x8a) size = 1;
  if (b === 0x88 || b === 0x89) out.write = true;
  else if (b === 0x8a || b === 0x8b) out.write = false;
  else out.ok = false;
  if (byteOf(lo, hi, at + 1) !== 0x07) out.ok = false;
  out.size = size;
  out.len = at + 2;
  return out;
}

function byteOf(lo: number, hi: number, i: number): number {
  return i < 4 ? (lo >>> (8 * i)) & 0xff : (hi >>> (8 * (i - 4))) & 0xff;
}
