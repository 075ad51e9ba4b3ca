// Small, pure number helpers for scenario files. Addresses and values are handled as BigInt while
// they are checked, because guest virtual addresses and 64-bit register values exceed 2^53.

import type { Gva } from './types';

export const PAGE_4K = 0x1000n;
export const PAGE_2M = 0x200000n;
export const PAGE_1G = 0x40000000n;
export const U64_MAX = (1n << 64n) - 1n;

const SUFFIXES: Record<string, bigint> = { k: 10n, m: 20n, g: 30n, t: 40n };

/**
 * Parses an integer written as text: decimal (`4096`), hex (`0x1000`) or a decimal with a binary
 * size suffix (`4K`, `2M`, `256M`, `1G`, `1T`; case-insensitive). Returns null if it is none of these.
 */
export function parseIntText(text: string): bigint | null {
  const s = text.trim();
  if (/^0x[0-9a-f]+$/i.test(s)) return BigInt(s);
  if (/^[0-9]+$/.test(s)) return BigInt(s);
  const m = /^([0-9]+)\s*([kmgt])$/i.exec(s);
  if (m) return BigInt(m[1]!) << SUFFIXES[m[2]!.toLowerCase()]!;
  return null;
}

/** `0x`-prefixed lower-case hex, for messages. */
export function hex(v: bigint | number): string {
  return '0x' + v.toString(16);
}

/** A size for messages: `4K`, `2M`, `256M`, `1G` when exact, else hex. */
export function sizeText(v: bigint): string {
  for (const [suffix, shift] of [['G', 30n], ['M', 20n], ['K', 10n]] as const) {
    const unit = 1n << shift;
    if (v >= unit && v % unit === 0n) return `${v / unit}${suffix}`;
  }
  return hex(v);
}

/** True if bits 63:47 of the 64-bit address are all equal (canonical for 48-bit virtual addresses). */
export function isCanonical48(v: bigint): boolean {
  return v < 1n << 47n || (v >= U64_MAX - ((1n << 47n) - 1n) && v <= U64_MAX);
}

/** Splits a canonical GVA into its 52-bit virtual page number and 12-bit page offset. */
export function splitGva(v: bigint): Gva {
  return {
    vpn: Number((v >> 12n) & ((1n << 52n) - 1n)),
    offset: Number(v & 0xfffn),
  };
}

/** Splits a 64-bit value into its low and high 32-bit halves (both unsigned). */
export function splitU64(v: bigint): { lo: number; hi: number } {
  return { lo: Number(v & 0xffffffffn), hi: Number((v >> 32n) & 0xffffffffn) };
}
