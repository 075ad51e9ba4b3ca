// The guest: its paging mode, CPU settings, page-table placement, code location and mappings (with
// their leaf-entry flags).

import { isScalar } from 'yaml';
import { readAligned, readGva, readPhysRange } from './address';
import { checkBacked, checkGvaRange, checkPhys, type GvaRange, type Region } from './checks';
import { PAGE_2M, PAGE_4K, hex, splitGva } from './numbers';
import {
  describe,
  need,
  opt,
  readBool,
  readEnum,
  readInt,
  readList,
  readObj,
  readString,
  req,
  type Ctx,
  type Obj,
  type Val,
} from './reader';
import { didYouMean } from './suggest';
import type { GuestDecl, MappingDecl, PageSize } from './types';

/** Leaf-entry flag tokens, in the canonical order the parsed flags are returned in. */
export const FLAG_TOKENS: readonly string[] = ['p', 'w', 'u', 'pwt', 'pcd', 'a', 'd', 'g', 'nx'];

// ---------------------------------------------------------------------------------------------
// Guest

export function readGuest(ctx: Ctx, o: Obj, maxphyaddr: number, backing: Region[] | null): GuestDecl {
  const paging = opt(o, 'paging', (v) => readEnum(ctx, v, ['4-level'] as const), '4-level');
  const cpuO = o.keys.get('cpu') ? readObj(ctx, o.keys.get('cpu')!, ['cr0_wp', 'efer_nx', 'cpl']) : null;
  const cpu: GuestDecl['cpu'] = {
    cr0_wp: cpuO ? opt(cpuO, 'cr0_wp', (v) => readBool(ctx, v), true) : true,
    efer_nx: cpuO ? opt(cpuO, 'efer_nx', (v) => readBool(ctx, v), true) : true,
    cpl: cpuO ? opt(cpuO, 'cpl', (v) => readCpl(ctx, v), 0) : 0,
  };
  // Tables and code live in guest RAM: a memslot, not a device (unchecked when the layout is invalid).
  const ram = backing?.filter((r) => r.what.startsWith('memslots')) ?? null;
  const inRam = (gpa: number) => ram === null || ram.some((r) => r.start <= gpa && gpa < r.end);
  const topV = o.keys.get('page_tables_top');
  const top = topV ? readTablesTop(ctx, topV, maxphyaddr) : null;
  if (topV && top !== null && !inRam(top - 4096)) ctx.error(topV, `${hex(top)} is not just above guest RAM: no memslot holds the page below it`);
  const codeV = o.keys.get('code');
  const code = codeV ? readCode(ctx, codeV, maxphyaddr, inRam) : null;
  const mappingsV = o.keys.get('mappings');
  const mappings = mappingsV ? readMappings(ctx, mappingsV, maxphyaddr, cpu.efer_nx, backing) : [];
  return { paging, cpu, mappings, page_tables_top: top, code };
}

function readCpl(ctx: Ctx, v: Val): 0 | 3 | null {
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

function readMappings(ctx: Ctx, v: Val, maxphyaddr: number, nx: boolean, backing: Region[] | null): MappingDecl[] {
  const out: MappingDecl[] = [];
  const ranges: GvaRange[] = [];
  for (const item of readList(ctx, v, 'mapping') ?? []) {
    const o = readObj(ctx, item, ['gva', 'gpa', 'size', 'page', 'flags']);
    if (!o) continue;
    const before = ctx.count();
    const page = opt(o, 'page', (x) => readPage(ctx, x), '4K');
    const pageBytes = page === '2M' ? PAGE_2M : PAGE_4K;
    const gvaV = need(ctx, o, 'gva');
    let gva = gvaV ? readGva(ctx, gvaV) : null;
    if (gvaV && gva !== null && gva % pageBytes !== 0n) {
      ctx.error(gvaV, `${hex(gva)} is not aligned to the ${page} page size`);
      gva = null;
    }
    const range = readPhysRange(ctx, o, pageBytes, maxphyaddr);
    const flags = opt(o, 'flags', (x) => readFlags(ctx, x, nx), ['p', 'w', 'a', 'd']);
    if (gva !== null && range) {
      const r = { start: gva, end: gva + range.size, what: item.path };
      checkGvaRange(ctx, gvaV!, o.keys.get('size')!, r, ranges);
      ranges.push(r);
      if (backing) checkBacked(ctx, item, range.gpa, range.size, backing);
    }
    if (ctx.count() === before && gva !== null && range) {
      out.push({ gva: splitGva(gva), gpa: Number(range.gpa), size: Number(range.size), page, flags, pos: ctx.pos(item) });
    }
  }
  return out;
}

function readPage(ctx: Ctx, v: Val): PageSize | null {
  const n = readInt(ctx, v);
  if (n === PAGE_4K) return '4K';
  if (n === PAGE_2M) return '2M';
  if (n !== null) ctx.error(v, `expected 4K or 2M, got ${describe(ctx, v)}`);
  return null;
}

/** Space-separated flag tokens; each bad token is reported at its own column when possible. */
function readFlags(ctx: Ctx, v: Val, nx: boolean): string[] | null {
  const text = readString(ctx, v);
  if (text === null) return null;
  const tokens = tokenVals(ctx, v, text);
  const seen = new Set<string>();
  let ok = true;
  for (const t of tokens) {
    const name = t.name;
    if (!FLAG_TOKENS.includes(name)) {
      const hint = didYouMean(name, FLAG_TOKENS) || ` (expected tokens from: ${FLAG_TOKENS.join(' ')})`;
      ctx.error(t.v, `unknown flag \`${name}\`${hint}`);
      ok = false;
    } else if (seen.has(name)) {
      ctx.error(t.v, `flag \`${name}\` is given twice`);
      ok = false;
    } else if (name === 'nx' && !nx) {
      ctx.error(t.v, 'flag `nx` needs guest.cpu.efer_nx: true (without it bit 63 is reserved)');
      ok = false;
    }
    seen.add(name);
  }
  return ok ? FLAG_TOKENS.filter((f) => seen.has(f)) : null;
}

/** Splits a flags string into tokens, each with the source range of that token if it can be found. */
function tokenVals(ctx: Ctx, v: Val, text: string): { name: string; v: Val }[] {
  const names = text.split(/\s+/).filter((s) => s !== '');
  const src = ctx.text.slice(v.range[0], v.range[1]);
  const found = [...src.matchAll(/[^\s"']+/g)];
  // Only trust source columns when the source tokens are exactly the value's (no escapes etc.).
  const exact = found.length === names.length && found.every((m, i) => m[0] === names[i]);
  return names.map((name, i) => {
    const m = found[i];
    const range: [number, number] =
      exact && m ? [v.range[0] + m.index!, v.range[0] + m.index! + name.length] : v.range;
    return { name, v: { ...v, range } };
  });
}
