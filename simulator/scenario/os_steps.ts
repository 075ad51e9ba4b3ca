// The guest OS steps: touch, fork, vfork, munmap, exit, exec and switch_mm. Each names what a Linux process
// does; simulator/guest/linux.ts expands it into the page-table and CPU work Linux 3.0.1 does for it.

import { readGva, readPageSize } from './address';
import { readSpace } from './guest';
import { PAGE_4K, hex, splitU64 } from './numbers';
import { need, opt, readEnum, readInt, type Ctx, type Obj, type Val } from './reader';
import type { Gva, SourcePos, Step } from './types';

export const OS_STEP_KINDS = ['touch', 'fork', 'vfork', 'munmap', 'exit', 'exec', 'switch_mm'] as const;
export type OsStepKind = (typeof OS_STEP_KINDS)[number];

/** Where x86-64 Linux's user half ends (TASK_SIZE_MAX is one page below). */
const USER_END = 0x800000000000n;

export function readOsStep(ctx: Ctx, o: Obj, kind: OsStepKind, pos: SourcePos, gvaOf: (gva: bigint) => Gva): Step | null {
  const v = o.keys.get(kind)!;
  switch (kind) {
    case 'touch': {
      const gva = readUserGva(ctx, o, kind);
      const access = opt(o, 'access', (w) => readEnum(ctx, w, ['read', 'write'] as const), 'write');
      const write = access === null ? null : access === 'write';
      const valueV = o.keys.get('value');
      const value = valueV ? readU64(ctx, valueV) : 0n;
      if (valueV && write === false) ctx.error(valueV, '`value` is what a write stores: it needs `access: write` (the default)');
      if (gva !== null && gva % 8n !== 0n) ctx.error(o.keys.get(kind)!, `${hex(gva)} is not 8-byte aligned: \`touch\` makes one 8-byte access`);
      const pages = readTouchPages(ctx, o, gva);
      if (gva === null || write === null || value === null || (valueV && write === false) || gva % 8n !== 0n || pages === null) return null;
      return { kind: 'touch', gva: gvaOf(gva), write, ...splitU64(value), pages, pos };
    }
    case 'munmap': {
      const gva = readUserGva(ctx, o, kind);
      if (gva !== null && gva % PAGE_4K !== 0n) ctx.error(v, `${hex(gva)} is not page-aligned: munmap takes whole pages`);
      const sizeV = need(ctx, o, 'size');
      const size = sizeV ? readPageSize(ctx, sizeV, PAGE_4K) : null;
      if (gva === null || gva % PAGE_4K !== 0n || size === null) return null;
      if (gva + size > USER_END) {
        ctx.error(sizeV!, `${hex(gva)} + ${hex(size)} runs past the user half (${hex(USER_END)})`);
        return null;
      }
      return { kind: 'munmap', gva: gvaOf(gva), size: Number(size), pos };
    }
    case 'fork': {
      const child = readSpace(ctx, v);
      return child === null ? null : { kind: 'fork', child, pos };
    }
    case 'vfork': {
      const space = readSpace(ctx, v);
      return space === null ? null : { kind: 'vfork', space, pos };
    }
    case 'exit':
    case 'exec': {
      const space = readSpace(ctx, v);
      return space === null ? null : { kind, space, pos };
    }
    case 'switch_mm': {
      const space = readSpace(ctx, v);
      return space === null ? null : { kind: 'switch-mm', space, pos };
    }
  }
}

/** `touch`'s optional `size`: the pages of [gva, gva + size) touched one after another (1 without it).
 *  With it, the range is whole pages of the user half. */
function readTouchPages(ctx: Ctx, o: Obj, gva: bigint | null): number | null {
  const sizeV = o.keys.get('size');
  if (!sizeV) return 1;
  const size = readPageSize(ctx, sizeV, PAGE_4K);
  if (gva !== null && gva % 8n === 0n && gva % PAGE_4K !== 0n) {
    ctx.error(o.keys.get('touch')!, `${hex(gva)} is not page-aligned: with \`size\`, \`touch\` touches whole pages, each at its start`);
    return null;
  }
  if (gva === null || size === null || gva % PAGE_4K !== 0n) return null;
  if (gva + size > USER_END) {
    ctx.error(sizeV, `${hex(gva)} + ${hex(size)} runs past the user half (${hex(USER_END)})`);
    return null;
  }
  return Number(size / PAGE_4K);
}

/** The step's address: a canonical address in the user half (a user access or a user mapping). */
function readUserGva(ctx: Ctx, o: Obj, kind: OsStepKind): bigint | null {
  const v = o.keys.get(kind)!;
  const gva = readGva(ctx, v);
  if (gva !== null && (gva < 0n || gva >= USER_END)) {
    ctx.error(v, `${hex(gva)} is not a user address: \`${kind}\` works on the process's own half (below ${hex(USER_END)})`);
    return null;
  }
  return gva;
}

function readU64(ctx: Ctx, v: Val): bigint | null {
  const n = readInt(ctx, v);
  if (n !== null && n >= 1n << 64n) {
    ctx.error(v, `${hex(n)} does not fit in 8 bytes`);
    return null;
  }
  return n;
}
