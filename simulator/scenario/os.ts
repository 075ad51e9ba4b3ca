// `guest.os`: the guest kernel behind the guest OS steps: its page allocator's pool of frames, the
// address space of swapper_pg_dir, and each process's private mappings (vmas): anonymous, or of a file
// whose pages are in the page cache.

import { readAligned, readGva, readPageSize, readPhysRange } from './address';
import { checkGvaRange, type GvaRange, type Region } from './checks';
import { readSpace } from './guest';
import { PAGE_4K, hex, splitGva } from './numbers';
import { need, opt, readEnum, readInt, readList, readObj, type Ctx, type Val } from './reader';
import type { MappingDecl, OsDecl, VmaDecl, VmaProt } from './types';

const OS_KEYS = ['page_pool', 'swapper', 'vmas'];
const VMA_KEYS = ['gva', 'size', 'space', 'prot', 'file'];
const FILE_KEYS = ['gpa', 'size'];
const PROTS: readonly VmaProt[] = ['r', 'rw', 'rx'];

/** At most this many frames in the pool (4 GiB): the kernel model keeps a map count per frame. */
export const MAX_POOL_FRAMES = 1 << 20;

export function readOs(ctx: Ctx, v: Val, maxphyaddr: number, backing: Region[] | null, mappings: MappingDecl[]): OsDecl | null {
  const o = readObj(ctx, v, OS_KEYS);
  if (!o) return null;
  const before = ctx.count();
  const poolV = need(ctx, o, 'page_pool');
  const poolO = poolV ? readObj(ctx, poolV, ['gpa', 'size']) : null;
  const pool = poolO ? readPhysRange(ctx, poolO, PAGE_4K, maxphyaddr) : null;
  if (pool && pool.size / PAGE_4K > BigInt(MAX_POOL_FRAMES)) ctx.error(poolO!.keys.get('size')!, `${hex(pool.size)} is more than the ${MAX_POOL_FRAMES} frames (4G) the pool may hold`);
  // The pool is RAM: every frame of it in one RAM memslot (the allocator hands out guest memory).
  const ram = backing?.filter((r) => r.what.startsWith('memslots')) ?? null;
  if (pool && ram && !ram.some((r) => r.start <= Number(pool.gpa) && Number(pool.gpa + pool.size) <= r.end)) {
    ctx.error(poolV!, `[${hex(pool.gpa)}, ${hex(pool.gpa + pool.size)}) is not inside one RAM memslot: the page allocator hands out guest RAM`);
  }
  const swapper = opt(o, 'swapper', (s) => readSpace(ctx, s), 0);
  const vmasV = o.keys.get('vmas');
  const vmas = vmasV ? readVmas(ctx, vmasV, mappings, pool, ram) : [];
  if (ctx.count() !== before || !pool || swapper === null) return null;
  return { page_pool: { gpa: Number(pool.gpa), size: Number(pool.size) }, swapper, vmas, pos: ctx.pos(v) };
}

/** Vmas: page-aligned user ranges, clear of each other and of the mappings in their address space. */
function readVmas(ctx: Ctx, v: Val, mappings: MappingDecl[], pool: { gpa: bigint; size: bigint } | null, ram: Region[] | null): VmaDecl[] {
  const out: VmaDecl[] = [];
  const taken: (GvaRange & { space: number | null })[] = mappings.map((m) => {
    const start = (BigInt(m.gva.vpn) << 12n) | BigInt(m.gva.offset);
    return { start, end: start + BigInt(m.size), what: `the mapping at line ${m.pos.line}`, space: m.space };
  });
  for (const item of readList(ctx, v, 'vma') ?? []) {
    const o = readObj(ctx, item, VMA_KEYS);
    if (!o) continue;
    const before = ctx.count();
    const gvaV = need(ctx, o, 'gva');
    const gva = gvaV ? readGva(ctx, gvaV) : null;
    if (gvaV && gva !== null && gva % PAGE_4K !== 0n) ctx.error(gvaV, `${hex(gva)} is not aligned to the 4K page size`);
    if (gvaV && gva !== null && gva >= 1n << 47n) ctx.error(gvaV, `${hex(gva)} is not a user address: a vma lies in the user half (below 0x800000000000)`);
    const sizeV = need(ctx, o, 'size');
    const size = sizeV ? readPageSize(ctx, sizeV, PAGE_4K) : null;
    const spaceV = o.keys.get('space');
    const space = spaceV ? readSpace(ctx, spaceV) : 0;
    const prot = opt(o, 'prot', (p) => readEnum(ctx, p, PROTS), 'rw');
    const fileV = o.keys.get('file');
    const file = fileV ? readFile(ctx, fileV, size) : null;
    if (ctx.count() !== before || gva === null || size === null || space === null || prot === null) continue;
    const r = { start: gva, end: gva + size, what: item.path, space };
    if (r.end > 1n << 47n) {
      ctx.error(sizeV!, `[${hex(gva)}, ${hex(r.end)}) runs past the user half (0x800000000000)`);
      continue;
    }
    checkGvaRange(ctx, gvaV!, sizeV!, r, taken.filter((t) => t.space === null || t.space === space));
    taken.push(r);
    if (file && pool && ram) checkFile(ctx, fileV!, file, size, pool, ram);
    if (ctx.count() === before) out.push({ gva: splitGva(gva), size: Number(size), space, prot, file, pos: ctx.pos(item) });
  }
  return out;
}

/** A vma's `file: { gpa, size }`: the page-cache frame of its first page (page-aligned) and the file's
 *  size in bytes from there (default: the vma's size). */
function readFile(ctx: Ctx, v: Val, vmaSize: bigint | null): { gpa: number; size: number } | null {
  const o = readObj(ctx, v, FILE_KEYS);
  if (!o) return null;
  const gpaV = need(ctx, o, 'gpa');
  const gpa = gpaV ? readAligned(ctx, gpaV, PAGE_4K) : null;
  const sizeV = o.keys.get('size');
  const size = sizeV ? readInt(ctx, sizeV) : vmaSize;
  if (sizeV && size !== null && (size <= 0n || size > 1n << 52n)) {
    ctx.error(sizeV, `${hex(size)} is not a file size (1 byte to 4P)`);
    return null;
  }
  if (gpa === null || size === null) return null;
  return { gpa: Number(gpa), size: Number(size) };
}

/** The page-cache frames a file vma can map (its pages that lie inside the file) are guest RAM in one
 *  memslot and outside the page pool (the allocator never hands them out). */
function checkFile(ctx: Ctx, at: Val, file: { gpa: number; size: number }, vmaSize: bigint, pool: { gpa: bigint; size: bigint }, ram: Region[]): void {
  const pages = Math.min(Math.ceil(file.size / 4096), Number(vmaSize) / 4096);
  const start = file.gpa;
  const end = start + pages * 4096;
  const where = 'the pages this vma maps';
  if (!ram.some((r) => r.start <= start && end <= r.end)) ctx.error(at, `${where}, [${hex(BigInt(start))}, ${hex(BigInt(end))}), are not inside one RAM memslot: the page cache holds guest RAM`);
  else if (start < Number(pool.gpa + pool.size) && Number(pool.gpa) < end) ctx.error(at, `${where}, [${hex(BigInt(start))}, ${hex(BigInt(end))}), overlap the page_pool: page-cache pages are not the allocator's free frames`);
}
