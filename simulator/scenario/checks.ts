// Cross-checks between validated values: addresses beyond maxphyaddr, overlapping memslots and
// devices, overlapping or non-canonical guest mappings, and mappings of guest-physical memory that
// no memslot or device backs.

import { U64_MAX, hex, isCanonical48, sizeText } from './numbers';
import type { Ctx, Val } from './reader';
import type { DeviceDecl, MemslotDecl } from './types';

/** Checks that [gpa, gpa + size) lies below 2^maxphyaddr; blames gpa if it alone is beyond. */
export function checkPhys(ctx: Ctx, gpaV: Val, sizeV: Val, gpa: bigint, size: bigint, maxphyaddr: number): boolean {
  const limit = 1n << BigInt(maxphyaddr);
  if (gpa >= limit) {
    ctx.error(gpaV, `${hex(gpa)} is beyond maxphyaddr ${maxphyaddr} (limit ${hex(limit)})`);
    return false;
  }
  if (gpa + size > limit) {
    ctx.error(sizeV, `${hex(gpa)} + ${sizeText(size)} ends at ${hex(gpa + size)}, beyond maxphyaddr ${maxphyaddr} (limit ${hex(limit)})`);
    return false;
  }
  return true;
}

/** A validated declaration with the list item it came from (to blame overlaps on). */
export interface Placed<T> {
  decl: T;
  v: Val;
}

export interface Region {
  start: number;
  end: number;
  what: string;
}

function rangeText(start: bigint | number, end: bigint | number): string {
  return `[${hex(start)}, ${hex(end)})`;
}

/** Memslots must not overlap each other, devices each other, nor devices memslots. */
export function checkLayout(ctx: Ctx, decls: Placed<MemslotDecl | DeviceDecl>[]): void {
  const placed: Region[] = [];
  for (const { decl: d, v } of decls) {
    const r: Region = { start: d.gpa, end: d.gpa + d.size, what: v.path };
    const hit = placed.find((p) => p.start < r.end && r.start < p.end);
    if (hit) ctx.error(v, `gpa range ${rangeText(r.start, r.end)} overlaps ${hit.what} ${rangeText(hit.start, hit.end)}`);
    placed.push(r);
  }
}

export function regions(memslots: Placed<MemslotDecl>[], devices: Placed<DeviceDecl>[]): Region[] {
  return [...memslots, ...devices].map(({ decl, v }) => ({ start: decl.gpa, end: decl.gpa + decl.size, what: v.path }));
}

export interface GvaRange {
  start: bigint;
  end: bigint;
  what: string;
}

/** The mapping must stay canonical to its end and not overlap earlier mappings in GVA space. */
export function checkGvaRange(ctx: Ctx, gvaV: Val, sizeV: Val, r: GvaRange, earlier: GvaRange[]): void {
  const last = r.end - 1n;
  const sameHalf = (r.start < 1n << 47n) === (last < 1n << 47n);
  if (last > U64_MAX || !isCanonical48(last) || !sameHalf) {
    ctx.error(sizeV, `mapping ${rangeText(r.start, r.end)} runs past the canonical address range`);
    return;
  }
  const hit = earlier.find((e) => e.start < r.end && r.start < e.end);
  if (hit) {
    ctx.error(gvaV, `gva range ${rangeText(r.start, r.end)} overlaps ${hit.what} ${rangeText(hit.start, hit.end)}`);
  }
}

/** Every page of the mapping's gpa range must be inside some memslot or device. */
export function checkBacked(ctx: Ctx, item: Val, gpa: bigint, size: bigint, backing: Region[]): void {
  let a = Number(gpa);
  const end = Number(gpa + size);
  while (a < end) {
    const r = backing.find((b) => b.start <= a && a < b.end);
    if (!r) {
      ctx.error(item, `gpa ${hex(a)} (in ${rangeText(gpa, gpa + size)}) is not backed by any memslot or device`);
      return;
    }
    a = r.end;
  }
}
