// 64-bit entries are kept as two 32-bit halves (lo = bits 31:0, hi = bits 63:32) so the hot path
// never touches BigInt. These helpers convert at the edges (parsing, reporting) only.
//
// Addresses and frame numbers are integers below 2^53, often above 2^32. On those, hot paths take low
// bits with a mask (`x & 0xfff` for `x % 4096`) and shifts, not `%`: the bit operators first reduce
// the integer modulo 2^32 (ToInt32), which is exact and keeps every low bit, where `%` on a double is
// a call to fmod (10-22 ns).

export const TWO32 = 0x1_0000_0000;

/** Bits 51:12 of an entry (the frame number) from its halves. */
export function frameOf(lo: number, hi: number): number {
  return (hi & 0xfffff) * 0x100000 + (lo >>> 12);
}

/** Low half of `frame << 12`. */
export function frameLo(frame: number): number {
  return (frame << 12) >>> 0;
}

/** High half of `frame << 12` (frame < 2^40). */
export function frameHi(frame: number): number {
  return Math.floor(frame / 0x100000) >>> 0;
}

/** Mask of bits [from, to) of the high half for 64-bit bit positions from..to-1 (32 <= from <= to <= 64). */
export function hiBits(from: number, to: number): number {
  return (2 ** (to - 32) - 2 ** (from - 32)) >>> 0;
}

export function hex64(lo: number, hi: number): string {
  if (hi === 0) return '0x' + (lo >>> 0).toString(16);
  return '0x' + (hi >>> 0).toString(16) + (lo >>> 0).toString(16).padStart(8, '0');
}

export function toBigInt(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

export function fromBigInt(v: bigint): { lo: number; hi: number } {
  return { lo: Number(v & 0xffffffffn), hi: Number((v >> 32n) & 0xffffffffn) };
}

/** A plain number (< 2^53) as hex. */
export function hexNum(n: number): string {
  return '0x' + n.toString(16);
}

/** Low half of a virtual address given as page number and offset. */
export function vaLo(vpn: number, offset: number): number {
  return ((vpn << 12) | offset) >>> 0;
}

/** High half of a virtual address given as page number (bits 63:48 come out as the vpn holds them). */
export function vaHi(vpn: number): number {
  return Math.floor(vpn / 0x100000) >>> 0;
}
