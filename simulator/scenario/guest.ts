// The guest: its paging mode, CPU settings, page-table placement, code location and mappings (with
// their entry bits by level and their address space).

import { isScalar } from 'yaml';
import { readAligned, readGva, readPhysRange } from './address';
import { checkBacked, checkGvaRange, checkPhys, type GvaRange, type Region } from './checks';
import { DEFAULT_LEAF, readEntryBits } from './entry';
import { PAGE_1G, PAGE_2M, PAGE_4K, hex, splitGva } from './numbers';
import {
  describe,
  need,
  numOrNull,
  opt,
  readBool,
  readEnum,
  readInt,
  readList,
  readObj,
  req,
  type Ctx,
  type Obj,
  type Val,
} from './reader';
import { readOs } from './os';
import type { EntryBits, GuestCpu, GuestDecl, MappingDecl, PageSize } from './types';

const CPU_KEYS = ['cr0_wp', 'efer_nx', 'cpl', 'cr4_smep', 'cr4_smap', 'cr4_pke', 'pkru', 'eflags_ac'];
const MAPPING_KEYS = ['gva', 'gpa', 'size', 'page', 'flags', 'space', 'pte', 'pde', 'pdpte', 'pml4e'];

/** The key of each paging level's entry (index 1 = PTE to 4 = PML4E), and its name in messages. */
const LEVEL_KEYS = ['', 'pte', 'pde', 'pdpte', 'pml4e'] as const;
const LEVEL_NAMES = ['', 'PTE', 'PDE', 'PDPTE', 'PML4E'] as const;
const LEAF_LEVEL: Record<PageSize, number> = { '4K': 1, '2M': 2, '1G': 3 };
const PAGE_BYTES: Record<PageSize, bigint> = { '4K': PAGE_4K, '2M': PAGE_2M, '1G': PAGE_1G };

/** Address spaces are numbered 0..MAX_SPACE. */
export const MAX_SPACE = 15;

// ---------------------------------------------------------------------------------------------
// Guest

export function readGuest(ctx: Ctx, o: Obj, maxphyaddr: number, backing: Region[] | null): GuestDecl {
  const paging = opt(o, 'paging', (v) => readEnum(ctx, v, ['4-level'] as const), '4-level');
  const cpuV = o.keys.get('cpu');
  const cpu = readCpu(ctx, cpuV ? readObj(ctx, cpuV, CPU_KEYS) : null);
  // Tables and code live in guest RAM: a memslot, not a device (unchecked when the layout is invalid).
  const ram = backing?.filter((r) => r.what.startsWith('memslots')) ?? null;
  const inRam = (gpa: number) => ram === null || ram.some((r) => r.start <= gpa && gpa < r.end);
  const topV = o.keys.get('page_tables_top');
  const top = topV ? readTablesTop(ctx, topV, maxphyaddr) : null;
  if (topV && top !== null && !inRam(top - 4096)) ctx.error(topV, `${hex(top)} is not just above guest RAM: no memslot holds the page below it`);
  const codeV = o.keys.get('code');
  const code = codeV ? readCode(ctx, codeV, maxphyaddr, inRam) : null;
  const mappingsV = o.keys.get('mappings');
  const mappings = mappingsV ? readMappings(ctx, mappingsV, maxphyaddr, backing) : [];
  const osV = o.keys.get('os');
  const os = osV ? readOs(ctx, osV, maxphyaddr, backing, mappings) : null;
  // The workload's `pte` and `cr3` steps may name more spaces (parse.ts takes those into account).
  const spaces = [...mappings.map((m) => m.space ?? 0), ...(os ? [os.swapper, ...os.vmas.map((m) => m.space)] : [])];
  const address_spaces = Math.max(1, ...spaces.map((s) => s + 1));
  return { paging, cpu, address_spaces, mappings, page_tables_top: top, code, os };
}

function readCpu(ctx: Ctx, o: Obj | null): GuestCpu {
  const bool = (key: string, fallback: boolean) => (o ? opt(o, key, (v) => readBool(ctx, v), fallback) : fallback);
  return {
    cr0_wp: bool('cr0_wp', true),
    efer_nx: bool('efer_nx', true),
    cpl: o ? opt(o, 'cpl', (v) => readCpl(ctx, v), 0) : 0,
    cr4_smep: bool('cr4_smep', false),
    cr4_smap: bool('cr4_smap', false),
    cr4_pke: bool('cr4_pke', false),
    pkru: o ? opt(o, 'pkru', (v) => readU32(ctx, v), 0) : 0,
    eflags_ac: bool('eflags_ac', false),
  };
}

function readU32(ctx: Ctx, v: Val): number | null {
  const n = readInt(ctx, v);
  if (n !== null && n > 0xffffffffn) {
    ctx.error(v, `${hex(n)} does not fit in 32 bits`);
    return null;
  }
  return n === null ? null : Number(n);
}

/** An address-space number (which CR3), 0..MAX_SPACE. */
export function readSpace(ctx: Ctx, v: Val): number | null {
  return numOrNull(readInt(ctx, v, 0n, BigInt(MAX_SPACE)));
}

/** A CPL: the guest runs its kernel at 0 and user code at 3. */
export function readCpl(ctx: Ctx, v: Val): 0 | 3 | null {
  const raw = isScalar(v.node) ? v.node.value : undefined;
  if (raw === 0n || raw === 3n) return raw === 0n ? 0 : 3;
  ctx.error(v, `expected 0 or 3, got ${describe(ctx, v)}`);
  return null;
}

function readTablesTop(ctx: Ctx, v: Val, maxphyaddr: number): number | null {
  const n = readAligned(ctx, v, PAGE_4K);
  if (n === null) return null;
  if (n === 0n) {
    ctx.error(v, 'must be greater than 0 (tables are placed below it)');
    return null;
  }
  if (n > 1n << BigInt(maxphyaddr)) {
    ctx.error(v, `${hex(n)} is beyond maxphyaddr ${maxphyaddr}`);
    return null;
  }
  return Number(n);
}

function readCode(ctx: Ctx, v: Val, maxphyaddr: number, inRam: (gpa: number) => boolean): GuestDecl['code'] {
  const o = readObj(ctx, v, ['gva', 'gpa']);
  if (!o) return null;
  const gva = req(ctx, o, 'gva', (x) => {
    const n = readGva(ctx, x);
    if (n !== null && n % PAGE_4K !== 0n) ctx.error(x, `${hex(n)} is not aligned to the 4K page size`);
    return n;
  });
  const gpaV = need(ctx, o, 'gpa');
  const gpa = gpaV ? readAligned(ctx, gpaV, PAGE_4K) : null;
  if (gpaV && gpa !== null && !checkPhys(ctx, gpaV, gpaV, gpa, PAGE_4K, maxphyaddr)) return null;
  if (gpaV && gpa !== null && !inRam(Number(gpa))) {
    ctx.error(gpaV, `${hex(gpa)} is not in a RAM memslot: the guest's code must live in RAM`);
    return null;
  }
  return gva === null || gpa === null ? null : { gva: splitGva(gva), gpa: Number(gpa), pos: ctx.pos(v) };
}

function readMappings(ctx: Ctx, v: Val, maxphyaddr: number, backing: Region[] | null): MappingDecl[] {
  const out: MappingDecl[] = [];
  const ranges: (GvaRange & { space: number | null })[] = [];
  for (const item of readList(ctx, v, 'mapping') ?? []) {
    const o = readObj(ctx, item, MAPPING_KEYS);
    if (!o) continue;
    const before = ctx.count();
    const pageV = o.keys.get('page');
    const pageRead = pageV ? readPage(ctx, pageV) : '4K';
    const page = pageRead ?? '4K';
    const pageBytes = PAGE_BYTES[page];
    const gvaV = need(ctx, o, 'gva');
    let gva = gvaV ? readGva(ctx, gvaV) : null;
    if (gvaV && gva !== null && gva % pageBytes !== 0n) {
      ctx.error(gvaV, `${hex(gva)} is not aligned to the ${page} page size`);
      gva = null;
    }
    const range = readPhysRange(ctx, o, pageBytes, maxphyaddr);
    const entries = readEntries(ctx, o, pageRead);
    const spaceV = o.keys.get('space');
    const space = spaceV ? readSpace(ctx, spaceV) : null;
    // A bad space is not "every space": skip the overlap check rather than report a cascade.
    if (gva !== null && range && (!spaceV || space !== null)) {
      const r = { start: gva, end: gva + range.size, what: item.path, space };
      // Mappings in two different spaces are in two different trees; a shared one (null) is in all.
      const sameTree = ranges.filter((e) => e.space === null || space === null || e.space === space);
      checkGvaRange(ctx, gvaV!, o.keys.get('size')!, r, sameTree);
      ranges.push(r);
      if (backing) checkBacked(ctx, item, range.gpa, range.size, backing);
    }
    if (ctx.count() === before && gva !== null && range && entries) {
      out.push({ gva: splitGva(gva), gpa: Number(range.gpa), size: Number(range.size), page, entries, space, pos: ctx.pos(item) });
    }
  }
  return out;
}

/**
 * The entry bits by level (index 0 unused). The leaf comes from `flags` or its own level key
 * (default "p w a d"); keys above the leaf are optional; a key below the leaf does not apply. With an
 * invalid page size (`page` null) the keys are still read, but which apply is not judged.
 */
function readEntries(ctx: Ctx, o: Obj, page: PageSize | null): (EntryBits | null)[] | null {
  const entries: (EntryBits | null)[] = [null, null, null, null, null];
  const leaf = page ? LEAF_LEVEL[page] : null;
  const flagsV = o.keys.get('flags');
  let ok = true;
  for (let level = 1; level <= 4; level++) {
    const key = LEVEL_KEYS[level]!;
    const v = o.keys.get(key);
    if (!v) continue;
    if (leaf !== null && level < leaf) {
      const leafKey = LEVEL_KEYS[leaf]!;
      ctx.error(v, `\`${key}\` does not apply to a ${page} page: its leaf entry is the ${LEVEL_NAMES[leaf]} (\`flags\` or \`${leafKey}\`)`);
      ok = false;
    } else if (leaf === level && flagsV) {
      // Blame whichever of the two comes second.
      const second = v.range[0] > flagsV.range[0] ? v : flagsV;
      ctx.error(second, `\`flags\` and \`${key}\` both give the leaf entry (the ${LEVEL_NAMES[leaf]} of a ${page} page): give only one`);
      ok = false;
    } else {
      entries[level] = readEntryBits(ctx, v);
      if (!entries[level]) ok = false;
    }
  }
  if (flagsV) {
    const bits = readEntryBits(ctx, flagsV);
    if (!bits) ok = false;
    if (leaf !== null) entries[leaf] = bits;
  }
  if (leaf !== null && !entries[leaf]) entries[leaf] = { ...DEFAULT_LEAF };
  return ok ? entries : null;
}

function readPage(ctx: Ctx, v: Val): PageSize | null {
  const n = readInt(ctx, v);
  const page = (Object.keys(PAGE_BYTES) as PageSize[]).find((p) => PAGE_BYTES[p] === n);
  if (page) return page;
  if (n !== null) ctx.error(v, `expected 4K, 2M or 1G, got ${describe(ctx, v)}`);
  return null;
}
