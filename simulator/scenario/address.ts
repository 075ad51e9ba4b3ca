// Readers for addresses and sizes: page-aligned guest-physical addresses and sizes, canonical guest
// virtual addresses, and guest-physical ranges below 2^maxphyaddr.

import { checkPhys } from './checks';
import { hex, isCanonical48, sizeText } from './numbers';
import { need, readInt, type Ctx, type Obj, type Val } from './reader';

// ---------------------------------------------------------------------------------------------
// Address readers

export function readAligned(ctx: Ctx, v: Val, page: bigint): bigint | null {
  const n = readInt(ctx, v);
  if (n !== null && n % page !== 0n) {
    ctx.error(v, `${hex(n)} is not aligned to the ${sizeText(page)} page size`);
    return null;
  }
  return n;
}

export function readPageSize(ctx: Ctx, v: Val, page: bigint): bigint | null {
  const n = readInt(ctx, v);
  if (n === null) return null;
  if (n === 0n) {
    ctx.error(v, 'must be greater than 0');
    return null;
  }
  if (n % page !== 0n) {
    ctx.error(v, `${hex(n)} is not a multiple of the ${sizeText(page)} page size`);
    return null;
  }
  return n;
}

/** A canonical 48-bit guest virtual address. */
export function readGva(ctx: Ctx, v: Val): bigint | null {
  const n = readInt(ctx, v);
  if (n !== null && !isCanonical48(n)) {
    ctx.error(v, `${hex(n)} is not canonical (bits 63:47 must all be equal)`);
    return null;
  }
  return n;
}

/** A page-aligned guest-physical range with a non-zero page-multiple size below 2^maxphyaddr. */
export function readPhysRange(ctx: Ctx, o: Obj, page: bigint, maxphyaddr: number): { gpa: bigint; size: bigint } | null {
  const gpaV = need(ctx, o, 'gpa');
  const sizeV = need(ctx, o, 'size');
  const gpa = gpaV ? readAligned(ctx, gpaV, page) : null;
  const size = sizeV ? readPageSize(ctx, sizeV, page) : null;
  if (gpa === null || size === null || !checkPhys(ctx, gpaV!, sizeV!, gpa, size, maxphyaddr)) return null;
  return { gpa, size };
}
