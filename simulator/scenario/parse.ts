// Parser and validator for `*.mmio.yaml` scenario files. It turns YAML text into a `Scenario`, or
// into diagnostics that point at the offending YAML node. It never throws on bad input and never
// returns a Scenario when anything is wrong. No Node built-ins: this runs in browsers and workers.

import {
  LineCounter,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  parseDocument,
  type Document,
  type YAMLMap,
} from 'yaml';
import { COMPONENTS } from '../cost/profile';
import { STATS } from '../trace/stats';
import {
  PAGE_2M,
  PAGE_4K,
  U64_MAX,
  hex,
  isCanonical48,
  parseIntText,
  sizeText,
  splitGva,
  splitU64,
} from './numbers';
import {
  KERNELS,
  PROFILES,
  RACE_POINTS,
  type DeviceDecl,
  type DeviceHandler,
  type Diagnostic,
  type ExpectDecl,
  type ExpectOp,
  type GuestDecl,
  type MappingDecl,
  type MemslotDecl,
  type PageSize,
  type Scenario,
  type SourcePos,
  type Step,
  type VcpuDecl,
} from './types';

export const EXIT_REASONS: readonly string[] = [
  'EXCEPTION_NMI', 'EXTERNAL_INTERRUPT', 'TRIPLE_FAULT', 'PENDING_INTERRUPT', 'NMI_WINDOW',
  'TASK_SWITCH', 'CPUID', 'HLT', 'INVD', 'INVLPG', 'RDPMC', 'RDTSC', 'VMCALL', 'CR_ACCESS',
  'DR_ACCESS', 'IO_INSTRUCTION', 'MSR_READ', 'MSR_WRITE', 'INVALID_STATE', 'MWAIT_INSTRUCTION',
  'MONITOR_INSTRUCTION', 'PAUSE_INSTRUCTION', 'MCE_DURING_VMENTRY', 'TPR_BELOW_THRESHOLD',
  'APIC_ACCESS', 'EOI_INDUCED', 'EPT_VIOLATION', 'EPT_MISCONFIG', 'INVEPT', 'PREEMPTION_TIMER',
  'WBINVD', 'XSETBV', 'APIC_WRITE', 'INVPCID',
];

export const FAULT_KINDS: readonly string[] = [
  'map', 'spurious', 'mmio-slow', 'mmio-fast', 'mmio-cache', 'mmio-retry', 'mmio-bug', 'guest-pf',
  'guest-pf-direct',
];

/** Leaf-entry flag tokens, in the canonical order the parsed flags are returned in. */
export const FLAG_TOKENS: readonly string[] = ['p', 'w', 'u', 'pwt', 'pcd', 'a', 'd', 'g', 'nx'];

const EXPECT_ROOTS = ['exits', 'faults', 'stats', 'cycles', 'labels'];
const STEP_KINDS = ['read', 'write', 'compute', 'repeat', 'memslot', 'set', 'wait_for'] as const;
type StepKind = (typeof STEP_KINDS)[number];
const STEP_KEYS: Record<StepKind, readonly string[]> = {
  read: ['read', 'size'],
  write: ['write', 'size', 'value'],
  compute: ['compute'],
  repeat: ['repeat', 'label', 'steps'],
  memslot: ['memslot', 'slot', 'gpa', 'size', 'readonly'],
  set: ['set'],
  wait_for: ['wait_for'],
};

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const DEFAULT_MAXPHYADDR = 40;

// ---------------------------------------------------------------------------------------------
// Reading context: diagnostics and positions

/** A YAML value being validated: its (alias-resolved) node, source range and dotted path. */
interface Val {
  node: unknown;
  range: [number, number];
  path: string;
}

/** A mapping whose keys were checked against an allowed list. */
interface Obj {
  v: Val;
  keys: Map<string, Val>;
  /** Allowed keys that an unknown key looks like a typo of (already reported, so not "missing"). */
  misspelled: Set<string>;
}

/** Alias uses allowed per file: each use is validated again, so nested aliases could blow up. */
const MAX_ALIASES = 1000;

/** Thrown (and caught in parseScenario) to stop validating a file that uses too many aliases. */
class TooManyAliases extends Error {}

class Ctx {
  readonly diags: Diagnostic[] = [];
  aliases = 0;
  constructor(
    readonly text: string,
    readonly file: string,
    readonly lc: LineCounter,
    readonly doc: Document,
  ) {}

  report(range: [number, number], message: string): void {
    const start = this.lc.linePos(range[0]);
    // Block nodes end after their trailing newline; end the squiggle on the last real character.
    let end = Math.max(range[0], range[1]);
    while (end > range[0] && /\s/.test(this.text[end - 1]!)) end--;
    const stop = this.lc.linePos(end);
    this.diags.push({
      file: this.file,
      line: Math.max(start.line, 1),
      col: start.col,
      endLine: Math.max(stop.line, 1),
      endCol: stop.col,
      message,
    });
  }

  error(v: Val, message: string): void {
    this.report(v.range, v.path ? `${v.path}: ${message}` : message);
  }

  count(): number {
    return this.diags.length;
  }

  pos(v: Val): SourcePos {
    const p = this.lc.linePos(v.range[0]);
    return { line: Math.max(p.line, 1), col: p.col };
  }

  source(v: Val): string {
    return this.text.slice(v.range[0], v.range[1]).trim();
  }
}

function child(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Wraps a YAML node; aliases are resolved but keep the alias's position (where the value is used). */
function val(ctx: Ctx, node: unknown, path: string, fallback: [number, number]): Val {
  const range: [number, number] =
    isNode(node) && node.range ? [node.range[0], node.range[1]] : fallback;
  if (!isAlias(node)) return { node, range, path };
  if (++ctx.aliases > MAX_ALIASES) {
    ctx.report(range, `${path || 'scenario'}: too many alias uses (more than ${MAX_ALIASES})`);
    throw new TooManyAliases();
  }
  return { node: node.resolve(ctx.doc) ?? null, range, path };
}

function describe(ctx: Ctx, v: Val): string {
  if (isMap(v.node)) return 'a mapping';
  if (isSeq(v.node)) return 'a list';
  if (isScalar(v.node) && v.node.value === null) return 'nothing';
  return ctx.source(v) || 'nothing';
}

// ---------------------------------------------------------------------------------------------
// Name suggestions

/** Edit distance where swapping two adjacent characters counts as one edit (`raed` -> `read`). */
function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest option if it is an obvious fix, else null: the only option a few edits away (case
 *  ignored), or failing that the only option that starts with `name`. */
export function closestName(name: string, options: readonly string[]): string | null {
  const lower = name.toLowerCase();
  const limit = Math.max(1, Math.floor(name.length / 3));
  const distances = options.map((o) => editDistance(lower, o.toLowerCase()));
  const best = Math.min(...distances);
  const nearest = options.filter((_, i) => distances[i] === best);
  if (best <= limit && nearest.length === 1) return nearest[0]!;
  const prefixed = options.filter((o) => lower.length >= 2 && o.toLowerCase().startsWith(lower));
  return best > limit && prefixed.length === 1 ? prefixed[0]! : null;
}

function didYouMean(name: string, options: readonly string[]): string {
  const best = closestName(name, options);
  return best === null ? '' : `; did you mean \`${best}\`?`;
}

// ---------------------------------------------------------------------------------------------
// Generic readers: each reports its own problems and returns null on error

function readObj(ctx: Ctx, v: Val, allowed: readonly string[]): Obj | null {
  if (!isMap(v.node)) {
    ctx.error(v, `expected a mapping, got ${describe(ctx, v)}`);
    return null;
  }
  const keys = new Map<string, Val>();
  const misspelled = new Set<string>();
  for (const pair of (v.node as YAMLMap<unknown, unknown>).items) {
    const key = val(ctx, pair.key, v.path, v.range);
    const name = isScalar(key.node) ? key.node.value : undefined;
    if (typeof name !== 'string') {
      ctx.error(key, `keys must be names, got ${describe(ctx, key)}`);
      continue;
    }
    if (!allowed.includes(name)) {
      const guess = closestName(name, allowed);
      if (guess) misspelled.add(guess);
      const hint = guess ? `; did you mean \`${guess}\`?` : ` (expected one of: ${allowed.join(', ')})`;
      ctx.error(key, `unknown key \`${name}\`${hint}`);
      continue;
    }
    keys.set(name, val(ctx, pair.value, child(v.path, name), [key.range[1], key.range[1]]));
  }
  return { v, keys, misspelled };
}

function need(ctx: Ctx, o: Obj, key: string): Val | null {
  const v = o.keys.get(key);
  if (!v && !o.misspelled.has(key)) ctx.error(o.v, `missing required key \`${key}\``);
  return v ?? null;
}

function readList(ctx: Ctx, v: Val, what: string): Val[] | null {
  if (!isSeq(v.node)) {
    ctx.error(v, `expected a list of ${what}s, got ${describe(ctx, v)}`);
    return null;
  }
  return v.node.items.map((item, i) => val(ctx, item, `${v.path}[${i}]`, v.range));
}

function readNonEmptyList(ctx: Ctx, v: Val, what: string): Val[] | null {
  const items = readList(ctx, v, what);
  if (items && items.length === 0) {
    ctx.error(v, `must list at least one ${what}`);
    return null;
  }
  return items;
}

/** An integer in [min, max]: a YAML int, or a string such as "0x1000", "4096" or "4K". */
function readInt(ctx: Ctx, v: Val, min = 0n, max = U64_MAX): bigint | null {
  const raw = isScalar(v.node) ? v.node.value : undefined;
  let n: bigint | null = null;
  if (typeof raw === 'bigint') n = raw;
  else if (typeof raw === 'string') n = parseIntText(raw);
  if (n === null) {
    const example = typeof raw === 'string' ? ' (e.g. 4096, 0x1000 or 4K)' : '';
    ctx.error(v, `expected an integer${example}, got ${describe(ctx, v)}`);
    return null;
  }
  if (n < 0n) {
    ctx.error(v, `must not be negative (got ${n})`);
    return null;
  }
  if (n > max && max === U64_MAX) {
    ctx.error(v, `${hex(n)} does not fit in 64 bits`);
    return null;
  }
  if (n < min || n > max) {
    const range = max === U64_MAX || max === MAX_SAFE ? `at least ${min}` : `between ${min} and ${max}`;
    ctx.error(v, `must be ${range} (got ${n})`);
    return null;
  }
  return n;
}

function readBool(ctx: Ctx, v: Val): boolean | null {
  const raw = isScalar(v.node) ? v.node.value : undefined;
  if (typeof raw === 'boolean') return raw;
  ctx.error(v, `expected true or false, got ${describe(ctx, v)}`);
  return null;
}

function readString(ctx: Ctx, v: Val): string | null {
  const raw = isScalar(v.node) ? v.node.value : undefined;
  if (typeof raw === 'string') return raw;
  ctx.error(v, `expected a string, got ${describe(ctx, v)}`);
  return null;
}

function readEnum<T extends string>(ctx: Ctx, v: Val, options: readonly T[]): T | null {
  const raw = isScalar(v.node) ? v.node.value : undefined;
  if (typeof raw === 'string' && (options as readonly string[]).includes(raw)) return raw as T;
  const got = describe(ctx, v);
  const hint = typeof raw === 'string' ? didYouMean(raw, options) : '';
  ctx.error(v, `expected one of ${options.join(', ')}, got ${got}${hint}`);
  return null;
}

/** Reads an optional key with `read`, or returns `fallback` when absent (or on error: the caller
 *  never builds a Scenario once a diagnostic exists, so the fallback only keeps checks going). */
function opt<T>(o: Obj, key: string, read: (v: Val) => T | null, fallback: T): T {
  const v = o.keys.get(key);
  return v ? (read(v) ?? fallback) : fallback;
}

/** Reads a required key with `read`; null if missing or invalid. */
function req<T>(ctx: Ctx, o: Obj, key: string, read: (v: Val) => T | null): T | null {
  const v = need(ctx, o, key);
  return v ? read(v) : null;
}

// ---------------------------------------------------------------------------------------------
// Address readers

function readAligned(ctx: Ctx, v: Val, page: bigint): bigint | null {
  const n = readInt(ctx, v);
  if (n !== null && n % page !== 0n) {
    ctx.error(v, `${hex(n)} is not aligned to the ${sizeText(page)} page size`);
    return null;
  }
  return n;
}

function readPageSize(ctx: Ctx, v: Val, page: bigint): bigint | null {
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
function readGva(ctx: Ctx, v: Val): bigint | null {
  const n = readInt(ctx, v);
  if (n !== null && !isCanonical48(n)) {
    ctx.error(v, `${hex(n)} is not canonical (bits 63:47 must all be equal)`);
    return null;
  }
  return n;
}

/** Checks that [gpa, gpa + size) lies below 2^maxphyaddr; blames gpa if it alone is beyond. */
function checkPhys(ctx: Ctx, gpaV: Val, sizeV: Val, gpa: bigint, size: bigint, maxphyaddr: number): boolean {
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

/** A page-aligned guest-physical range with a non-zero page-multiple size below 2^maxphyaddr. */
function readPhysRange(ctx: Ctx, o: Obj, page: bigint, maxphyaddr: number): { gpa: bigint; size: bigint } | null {
  const gpaV = need(ctx, o, 'gpa');
  const sizeV = need(ctx, o, 'size');
  const gpa = gpaV ? readAligned(ctx, gpaV, page) : null;
  const size = sizeV ? readPageSize(ctx, sizeV, page) : null;
  if (gpa === null || size === null || !checkPhys(ctx, gpaV!, sizeV!, gpa, size, maxphyaddr)) return null;
  return { gpa, size };
}

// ---------------------------------------------------------------------------------------------
// Top-level sections

function defaultName(file: string): string {
  const base = file.split(/[\\/]/).pop() ?? file;
  return base.replace(/\.mmio\.ya?ml$|\.ya?ml$/, '') || base;
}

function readHost(ctx: Ctx, o: Obj | null): Scenario['host'] {
  if (!o) return { maxphyaddr: DEFAULT_MAXPHYADDR, profile: 'westmere-2011' };
  const v = o.keys.get('maxphyaddr');
  // An invalid maxphyaddr is replaced by the largest, so it causes no "beyond maxphyaddr" cascade.
  const maxphyaddr = v ? (numOrNull(readInt(ctx, v, 36n, 52n)) ?? 52) : DEFAULT_MAXPHYADDR;
  return { maxphyaddr, profile: opt(o, 'profile', (x) => readEnum(ctx, x, PROFILES), 'westmere-2011') };
}

function readMmu(ctx: Ctx, o: Obj | null): Scenario['mmu'] {
  if (!o) return { tdp: true, mmio_caching: true };
  const tdp = opt(o, 'tdp', (v) => {
    const b = readBool(ctx, v);
    if (b === false) ctx.error(v, 'false (shadow paging) is not supported yet');
    return b;
  }, true);
  return { tdp, mmio_caching: opt(o, 'mmio_caching', (v) => readBool(ctx, v), true) };
}

function readScheduler(ctx: Ctx, o: Obj | null): Scenario['scheduler'] {
  if (!o) return { seed: 1, preempt: 0 };
  return {
    seed: opt(o, 'seed', (v) => numOrNull(readInt(ctx, v, 0n, MAX_SAFE)), 1),
    preempt: opt(o, 'preempt', (v) => readProbability(ctx, v), 0),
  };
}

function readProbability(ctx: Ctx, v: Val): number | null {
  const raw = isScalar(v.node) ? v.node.value : undefined;
  const n = typeof raw === 'bigint' ? Number(raw) : raw;
  if (typeof n !== 'number' || !(n >= 0 && n <= 1)) {
    ctx.error(v, `expected a number between 0 and 1, got ${describe(ctx, v)}`);
    return null;
  }
  return n;
}

function numOrNull(n: bigint | null): number | null {
  return n === null ? null : Number(n);
}

/** A validated declaration with the list item it came from (to blame overlaps on). */
interface Placed<T> {
  decl: T;
  v: Val;
}

function readMemslots(ctx: Ctx, v: Val, maxphyaddr: number): Placed<MemslotDecl>[] {
  const out: Placed<MemslotDecl>[] = [];
  const seen = new Map<number, string>();
  for (const item of readNonEmptyList(ctx, v, 'memslot') ?? []) {
    const o = readObj(ctx, item, ['slot', 'gpa', 'size', 'readonly']);
    if (!o) continue;
    const before = ctx.count();
    const slotV = need(ctx, o, 'slot');
    const slot = slotV ? numOrNull(readInt(ctx, slotV, 0n, 31n)) : null;
    if (slotV && slot !== null && seen.has(slot)) {
      ctx.error(slotV, `slot ${slot} is already used by ${seen.get(slot)}`);
    } else if (slot !== null) seen.set(slot, item.path);
    const range = readPhysRange(ctx, o, PAGE_4K, maxphyaddr);
    const readonly = opt(o, 'readonly', (x) => readBool(ctx, x), false);
    // Only clean entries take part in the overlap and coverage checks (no cascades).
    if (ctx.count() === before && slot !== null && range) {
      const decl = { slot, gpa: Number(range.gpa), size: Number(range.size), readonly, pos: ctx.pos(item) };
      out.push({ decl, v: item });
    }
  }
  return out;
}

function readDevices(ctx: Ctx, v: Val, maxphyaddr: number): Placed<DeviceDecl>[] {
  const out: Placed<DeviceDecl>[] = [];
  const names = new Map<string, string>();
  for (const item of readList(ctx, v, 'device') ?? []) {
    const o = readObj(ctx, item, ['name', 'gpa', 'size', 'handler', 'registers']);
    if (!o) continue;
    const before = ctx.count();
    const nameV = need(ctx, o, 'name');
    const name = nameV ? readString(ctx, nameV) : null;
    if (nameV && name !== null) {
      if (name.trim() === '') ctx.error(nameV, 'must not be empty');
      else if (names.has(name)) ctx.error(nameV, `device name \`${name}\` is already used by ${names.get(name)}`);
      else names.set(name, item.path);
    }
    const handler = req(ctx, o, 'handler', (x) => readEnum<DeviceHandler>(ctx, x, ['kernel', 'userspace']));
    const range = readPhysRange(ctx, o, PAGE_4K, maxphyaddr);
    const regsV = o.keys.get('registers');
    const registers = regsV ? readRegisters(ctx, regsV, range?.size ?? null) : [];
    if (ctx.count() === before && name !== null && handler !== null && range) {
      const decl = { name, gpa: Number(range.gpa), size: Number(range.size), handler, registers, pos: ctx.pos(item) };
      out.push({ decl, v: item });
    }
  }
  return out;
}

/** Register offsets are checked against the device size only when that size is valid. */
function readRegisters(ctx: Ctx, v: Val, size: bigint | null): DeviceDecl['registers'] {
  if (!isMap(v.node)) {
    ctx.error(v, `expected a mapping of byte offset to value, got ${describe(ctx, v)}`);
    return [];
  }
  const out: DeviceDecl['registers'] = [];
  for (const pair of (v.node as YAMLMap<unknown, unknown>).items) {
    const key = val(ctx, pair.key, v.path, v.range);
    key.path = `${v.path}.${ctx.source(key)}`;
    const offset = readInt(ctx, key);
    if (offset !== null && offset % 8n !== 0n) {
      ctx.error(key, `register offset ${hex(offset)} is not a multiple of 8`);
    } else if (offset !== null && size !== null && offset >= size) {
      ctx.error(key, `register offset ${hex(offset)} is beyond the device size ${sizeText(size!)}`);
    } else if (offset !== null && out.some((r) => r.offset === Number(offset))) {
      ctx.error(key, `register offset ${hex(offset)} is given twice`);
    }
    const value = readInt(ctx, val(ctx, pair.value, key.path, [key.range[1], key.range[1]]));
    if (offset !== null && value !== null) out.push({ offset: Number(offset), ...splitU64(value) });
  }
  return out;
}

interface Region {
  start: number;
  end: number;
  what: string;
}

function rangeText(start: bigint | number, end: bigint | number): string {
  return `[${hex(start)}, ${hex(end)})`;
}

/** Memslots must not overlap each other, devices each other, nor devices memslots. */
function checkLayout(ctx: Ctx, decls: Placed<MemslotDecl | DeviceDecl>[]): void {
  const placed: Region[] = [];
  for (const { decl: d, v } of decls) {
    const r: Region = { start: d.gpa, end: d.gpa + d.size, what: v.path };
    const hit = placed.find((p) => p.start < r.end && r.start < p.end);
    if (hit) ctx.error(v, `gpa range ${rangeText(r.start, r.end)} overlaps ${hit.what} ${rangeText(hit.start, hit.end)}`);
    placed.push(r);
  }
}

// ---------------------------------------------------------------------------------------------
// Guest

function readGuest(ctx: Ctx, o: Obj, maxphyaddr: number, backing: Region[] | null): GuestDecl {
  const paging = opt(o, 'paging', (v) => readEnum(ctx, v, ['4-level'] as const), '4-level');
  const cpuO = o.keys.get('cpu') ? readObj(ctx, o.keys.get('cpu')!, ['cr0_wp', 'efer_nx', 'cpl']) : null;
  const cpu: GuestDecl['cpu'] = {
    cr0_wp: cpuO ? opt(cpuO, 'cr0_wp', (v) => readBool(ctx, v), true) : true,
    efer_nx: cpuO ? opt(cpuO, 'efer_nx', (v) => readBool(ctx, v), true) : true,
    cpl: cpuO ? opt(cpuO, 'cpl', (v) => readCpl(ctx, v), 0) : 0,
  };
  const top = opt(o, 'page_tables_top', (v) => readTablesTop(ctx, v, maxphyaddr), null);
  const codeV = o.keys.get('code');
  const code = codeV ? readCode(ctx, codeV, maxphyaddr) : null;
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

function readCode(ctx: Ctx, v: Val, maxphyaddr: number): GuestDecl['code'] {
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
  return gva === null || gpa === null ? null : { gva: splitGva(gva), gpa: Number(gpa) };
}

interface GvaRange {
  start: bigint;
  end: bigint;
  what: string;
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

/** The mapping must stay canonical to its end and not overlap earlier mappings in GVA space. */
function checkGvaRange(ctx: Ctx, gvaV: Val, sizeV: Val, r: GvaRange, earlier: GvaRange[]): void {
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
function checkBacked(ctx: Ctx, item: Val, gpa: bigint, size: bigint, backing: Region[]): void {
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

// ---------------------------------------------------------------------------------------------
// Workloads

interface StepCtx {
  vcpu: number;
  vcpuCount: number;
  maxphyaddr: number;
  labels: Map<string, Val>;
}

function readVcpus(ctx: Ctx, top: Obj, maxphyaddr: number, labels: Map<string, Val>): VcpuDecl[] {
  const workloadV = top.keys.get('workload');
  const vcpusV = top.keys.get('vcpus');
  if (!workloadV && !vcpusV) {
    ctx.error(top.v, 'missing required key `workload` (or `vcpus`)');
    return [];
  }
  // Each vCPU's workload list and its declaration node. With both keys, `workload` is still
  // checked (as vCPU 0) so that its own problems are reported too.
  const lists: { list: Val | null; decl: Val }[] = [];
  if (workloadV) lists.push({ list: workloadV, decl: workloadV });
  if (workloadV && vcpusV) ctx.error(vcpusV, 'use either `workload` (vCPU 0 only) or `vcpus`, not both');
  for (const item of vcpusV && !workloadV ? (readNonEmptyList(ctx, vcpusV, 'vCPU') ?? []) : []) {
    const o = readObj(ctx, item, ['workload']);
    lists.push({ list: o ? need(ctx, o, 'workload') : null, decl: item });
  }
  return lists.map(({ list, decl }, id) => {
    const sc: StepCtx = { vcpu: id, vcpuCount: lists.length, maxphyaddr, labels };
    return { id, workload: list ? readSteps(ctx, list, sc) : [], pos: ctx.pos(decl) };
  });
}

function readSteps(ctx: Ctx, v: Val, sc: StepCtx): Step[] {
  const out: Step[] = [];
  for (const item of readNonEmptyList(ctx, v, 'step') ?? []) {
    const step = readStep(ctx, item, sc);
    if (step) out.push(step);
  }
  return out;
}

/** The kind key of a step map: exactly one of STEP_KINDS must be present. */
function stepKind(ctx: Ctx, v: Val): StepKind | null {
  if (!isMap(v.node)) {
    ctx.error(v, `expected a step (a mapping such as { read: 0x1000 }), got ${describe(ctx, v)}`);
    return null;
  }
  const keys = (v.node as YAMLMap<unknown, unknown>).items.map((p) => val(ctx, p.key, v.path, v.range));
  const names = keys.map((k) => (isScalar(k.node) ? String(k.node.value) : ''));
  const kinds = names.filter((n): n is StepKind => (STEP_KINDS as readonly string[]).includes(n));
  if (kinds.length === 0) {
    // Point at the key that looks like a misspelt kind, if there is one.
    const guesses = names.map((n) => closestName(n, STEP_KINDS));
    const i = guesses.findIndex((g) => g !== null);
    const suffix = i >= 0 ? `; did you mean \`${guesses[i]}\`?` : '';
    ctx.error(i >= 0 ? { ...keys[i]!, path: v.path } : v, `a step needs exactly one of ${STEP_KINDS.join(', ')}${suffix}`);
    return null;
  }
  if (kinds.length > 1) {
    const second = keys[names.indexOf(kinds[1]!)]!;
    ctx.error(second, `a step has exactly one kind, but this one has both \`${kinds[0]}\` and \`${kinds[1]}\``);
    return null;
  }
  return kinds[0]!;
}

function readStep(ctx: Ctx, v: Val, sc: StepCtx): Step | null {
  const kind = stepKind(ctx, v);
  if (kind === null) return null;
  let allowed = STEP_KEYS[kind];
  if (kind === 'memslot') {
    const op = (v.node as YAMLMap<unknown, unknown>).get('memslot');
    if (op === 'delete') allowed = ['memslot', 'slot'];
  }
  const o = readObj(ctx, v, allowed);
  if (!o) return null;
  const pos = ctx.pos(v);
  switch (kind) {
    case 'read':
    case 'write':
      return readAccess(ctx, o, kind, pos);
    case 'compute': {
      const cycles = numOrNull(readInt(ctx, o.keys.get('compute')!, 0n, MAX_SAFE));
      return cycles === null ? null : { kind, cycles, pos };
    }
    case 'repeat':
      return readRepeat(ctx, o, sc, pos);
    case 'memslot':
      return readMemslotStep(ctx, o, sc, pos);
    case 'set':
      return readSet(ctx, o, pos);
    case 'wait_for':
      return readWaitFor(ctx, o, sc, pos);
  }
}

function readAccess(ctx: Ctx, o: Obj, kind: 'read' | 'write', pos: SourcePos): Step | null {
  const gvaV = o.keys.get(kind)!;
  const gva = readGva(ctx, gvaV);
  const size = opt(o, 'size', (v) => readAccessSize(ctx, v), 8);
  const offset = gva === null ? 0 : Number(gva & 0xfffn);
  if (gva !== null && offset + size > 4096) {
    ctx.error(gvaV, `an access of ${size} bytes at page offset ${hex(offset)} crosses a 4K page boundary`);
    return null;
  }
  if (kind === 'read') return gva === null ? null : { kind, gva: splitGva(gva), size, pos };
  const value = opt(o, 'value', (v) => readValue(ctx, v, size), 0n);
  return gva === null ? null : { kind, gva: splitGva(gva), size, ...splitU64(value), pos };
}

function readAccessSize(ctx: Ctx, v: Val): 1 | 2 | 4 | 8 | null {
  const n = readInt(ctx, v);
  if (n === 1n || n === 2n || n === 4n || n === 8n) return Number(n) as 1 | 2 | 4 | 8;
  if (n !== null) ctx.error(v, `must be 1, 2, 4 or 8 (got ${n})`);
  return null;
}

function readValue(ctx: Ctx, v: Val, size: number): bigint | null {
  const n = readInt(ctx, v);
  if (n !== null && n >= 1n << BigInt(size * 8)) {
    ctx.error(v, `${hex(n)} does not fit in ${size} byte${size === 1 ? '' : 's'}`);
    return null;
  }
  return n;
}

function readRepeat(ctx: Ctx, o: Obj, sc: StepCtx, pos: SourcePos): Step | null {
  const count = numOrNull(readInt(ctx, o.keys.get('repeat')!, 1n, MAX_SAFE));
  const label = opt(o, 'label', (v) => readLabel(ctx, v, sc.labels), null);
  const stepsV = need(ctx, o, 'steps');
  const steps = stepsV ? readSteps(ctx, stepsV, sc) : [];
  return count === null ? null : { kind: 'repeat', count, label, steps, pos };
}

function readLabel(ctx: Ctx, v: Val, labels: Map<string, Val>): string | null {
  const label = readString(ctx, v);
  if (label === null) return null;
  if (label.trim() === '') {
    ctx.error(v, 'must not be empty');
    return null;
  }
  const earlier = labels.get(label);
  if (earlier) {
    ctx.error(v, `label \`${label}\` is already used at line ${ctx.pos(earlier).line}`);
    return null;
  }
  labels.set(label, v);
  return label;
}

function readMemslotStep(ctx: Ctx, o: Obj, sc: StepCtx, pos: SourcePos): Step | null {
  const op = readEnum(ctx, o.keys.get('memslot')!, ['add', 'delete'] as const);
  const slot = req(ctx, o, 'slot', (v) => numOrNull(readInt(ctx, v, 0n, 31n)));
  if (op === 'delete') return slot === null ? null : { kind: 'memslot-delete', slot, pos };
  if (op === null) return null;
  const range = readPhysRange(ctx, o, PAGE_4K, sc.maxphyaddr);
  const readonly = opt(o, 'readonly', (v) => readBool(ctx, v), false);
  if (slot === null || !range) return null;
  return { kind: 'memslot-add', slot, gpa: Number(range.gpa), size: Number(range.size), readonly, pos };
}

function readSet(ctx: Ctx, o: Obj, pos: SourcePos): Step | null {
  const inner = readObj(ctx, o.keys.get('set')!, ['mmio_caching']);
  const value = inner ? req(ctx, inner, 'mmio_caching', (v) => readBool(ctx, v)) : null;
  return value === null ? null : { kind: 'set', mmio_caching: value, pos };
}

function readWaitFor(ctx: Ctx, o: Obj, sc: StepCtx, pos: SourcePos): Step | null {
  const inner = readObj(ctx, o.keys.get('wait_for')!, ['vcpu', 'point', 'level']);
  if (!inner) return null;
  const vcpuV = need(ctx, inner, 'vcpu');
  let vcpu = vcpuV ? numOrNull(readInt(ctx, vcpuV, 0n, MAX_SAFE)) : null;
  if (vcpuV && vcpu !== null && vcpu >= sc.vcpuCount) {
    const have = sc.vcpuCount === 1 ? '1 vCPU' : `${sc.vcpuCount} vCPUs`;
    ctx.error(vcpuV, `vCPU ${vcpu} does not exist (the scenario has ${have})`);
    vcpu = null;
  } else if (vcpuV && vcpu === sc.vcpu) {
    ctx.error(vcpuV, `vCPU ${vcpu} cannot wait for itself`);
    vcpu = null;
  }
  const point = req(ctx, inner, 'point', (v) => readEnum(ctx, v, RACE_POINTS));
  const levelV = inner.keys.get('level');
  let level: number | null = null;
  if (levelV && point !== null && point !== 'mmu_spte_get_lockless') {
    ctx.error(levelV, 'is only allowed with point mmu_spte_get_lockless');
  } else if (levelV) {
    level = numOrNull(readInt(ctx, levelV, 1n, 4n));
  }
  if (vcpu === null || point === null) return null;
  return { kind: 'wait-for', vcpu, point, level, pos };
}

// ---------------------------------------------------------------------------------------------
// Expectations

function readExpect(ctx: Ctx, v: Val, labels: Map<string, Val>): ExpectDecl[] {
  if (!isMap(v.node)) {
    ctx.error(v, `expected a mapping of report paths to values, got ${describe(ctx, v)}`);
    return [];
  }
  const out: ExpectDecl[] = [];
  for (const pair of (v.node as YAMLMap<unknown, unknown>).items) {
    const key = val(ctx, pair.key, v.path, v.range);
    const path = readString(ctx, key);
    if (path === null) continue;
    key.path = `${v.path}.${path}`;
    const problem = expectPathProblem(path, labels);
    if (problem) ctx.error(key, problem);
    const valueV = val(ctx, pair.value, key.path, [key.range[1], key.range[1]]);
    const cond = readCondition(ctx, valueV);
    if (!problem && cond) out.push({ path, ...cond, pos: ctx.pos(key) });
  }
  return out;
}

/** Why a dotted report path is not valid, or null if it is. */
function expectPathProblem(path: string, labels: Map<string, Val>): string | null {
  const segs = path.split('.');
  const [root, name] = segs;
  const unknown = (what: string, got: string, options: readonly string[]) =>
    `unknown ${what} \`${got}\`${didYouMean(got, options)}`;
  switch (root) {
    case 'exits':
      if (segs.length !== 2) return 'expected exits.<VMX exit reason>, e.g. exits.EPT_MISCONFIG';
      return EXIT_REASONS.includes(name!) ? null : unknown('VMX exit reason', name!, EXIT_REASONS);
    case 'faults':
      if (segs.length !== 2) return 'expected faults.<kind>, e.g. faults.mmio-slow';
      return FAULT_KINDS.includes(name!) ? null : unknown('fault kind', name!, FAULT_KINDS);
    case 'stats':
      if (segs.length !== 2) return 'expected stats.<name>, e.g. stats.pf_fixed';
      return (STATS as readonly string[]).includes(name!) ? null : unknown('stat', name!, STATS);
    case 'cycles':
      return cyclesPathProblem(segs);
    case 'labels':
      return labelsPathProblem(segs, labels);
    default:
      return unknown('report section', root!, EXPECT_ROOTS) + ` (expected one of: ${EXPECT_ROOTS.join(', ')})`;
  }
}

function cyclesPathProblem(segs: string[]): string | null {
  if (segs.length === 2 && (segs[1] === 'total' || segs[1] === 'elapsed')) return null;
  if (segs.length === 3 && segs[1] === 'by_component') {
    const name = segs[2]!;
    return (COMPONENTS as readonly string[]).includes(name)
      ? null
      : `unknown cost component \`${name}\`${didYouMean(name, COMPONENTS)}`;
  }
  const hint = segs.length === 2 ? didYouMean(segs[1]!, ['total', 'elapsed', 'by_component']) : '';
  return `expected cycles.total, cycles.elapsed or cycles.by_component.<component>${hint}`;
}

function labelsPathProblem(segs: string[], labels: Map<string, Val>): string | null {
  const last = segs[segs.length - 1]!;
  if (segs.length < 3 || (last !== 'count' && last !== 'cycles')) {
    return 'expected labels.<label>.count or labels.<label>.cycles';
  }
  const label = segs.slice(1, -1).join('.');
  if (labels.has(label)) return null;
  return `unknown label \`${label}\` (no repeat step has it)${didYouMean(label, [...labels.keys()])}`;
}

const CONDITION = /^(==|!=|>=|<=|>|<)?\s*(\S+)$/;

/** A number (meaning ==) or a string "<op> <number>". */
function readCondition(ctx: Ctx, v: Val): { op: ExpectOp; value: number; text: string } | null {
  const raw = isScalar(v.node) ? v.node.value : undefined;
  if (typeof raw === 'bigint' && raw >= -MAX_SAFE && raw <= MAX_SAFE) {
    return { op: '==', value: Number(raw), text: `== ${ctx.source(v)}` };
  }
  if (typeof raw === 'number' && Number.isFinite(raw)) {
    return { op: '==', value: raw, text: `== ${ctx.source(v)}` };
  }
  const m = typeof raw === 'string' ? CONDITION.exec(raw.trim()) : null;
  const value = m ? conditionNumber(m[2]!) : null;
  if (!m || value === null) {
    ctx.error(v, `expected a number or a string "<op> <number>" with op one of == != >= <= > <, got ${describe(ctx, v)}`);
    return null;
  }
  const op = (m[1] ?? '==') as ExpectOp;
  return { op, value, text: m[1] ? (raw as string).trim() : `== ${m[2]}` };
}

function conditionNumber(text: string): number | null {
  const n = parseIntText(text);
  if (n !== null) return n <= MAX_SAFE ? Number(n) : null;
  return /^-?[0-9]+(\.[0-9]+)?(e[+-]?[0-9]+)?$/i.test(text) ? Number(text) : null;
}

// ---------------------------------------------------------------------------------------------
// Entry point

const TOP_KEYS = [
  'name', 'kernel', 'host', 'mmu', 'scheduler', 'memslots', 'devices', 'guest', 'workload', 'vcpus', 'expect',
];

function readScenario(ctx: Ctx, root: Val, file: string): Scenario | null {
  if (!isMap(root.node)) {
    ctx.error(root, 'a scenario must be a mapping with at least memslots, guest and workload');
    return null;
  }
  const top = readObj(ctx, root, TOP_KEYS)!;
  const section = (key: string, keys: readonly string[]) => {
    const v = top.keys.get(key);
    return v ? readObj(ctx, v, keys) : null;
  };
  const name = opt(top, 'name', (v) => readString(ctx, v), defaultName(file));
  const kernel = opt(top, 'kernel', (v) => readEnum(ctx, v, KERNELS), 'v3.1');
  const host = readHost(ctx, section('host', ['maxphyaddr', 'profile']));
  const mmu = readMmu(ctx, section('mmu', ['tdp', 'mmio_caching']));
  const scheduler = readScheduler(ctx, section('scheduler', ['seed', 'preempt']));

  const before = ctx.count();
  const memslotsV = need(ctx, top, 'memslots');
  const memslots = memslotsV ? readMemslots(ctx, memslotsV, host.maxphyaddr) : [];
  const devicesV = top.keys.get('devices');
  const devices = devicesV ? readDevices(ctx, devicesV, host.maxphyaddr) : [];
  checkLayout(ctx, [...memslots, ...devices]);
  // Coverage is checked only against a clean layout, so one bad memslot does not flag every mapping.
  const backing = ctx.count() === before ? regions(memslots, devices) : null;

  const guestV = need(ctx, top, 'guest');
  const guestO = guestV ? readObj(ctx, guestV, ['paging', 'cpu', 'page_tables_top', 'code', 'mappings']) : null;
  const guest = guestO ? readGuest(ctx, guestO, host.maxphyaddr, backing) : null;

  const labels = new Map<string, Val>();
  const vcpus = readVcpus(ctx, top, host.maxphyaddr, labels);
  const expectV = top.keys.get('expect');
  const expect = expectV ? readExpect(ctx, expectV, labels) : [];

  if (ctx.count() > 0 || !guest) return null;
  return {
    file, name, kernel, host, mmu, scheduler,
    memslots: memslots.map((m) => m.decl),
    devices: devices.map((d) => d.decl),
    guest, vcpus, expect,
  };
}

function regions(memslots: Placed<MemslotDecl>[], devices: Placed<DeviceDecl>[]): Region[] {
  return [...memslots, ...devices].map(({ decl, v }) => ({ start: decl.gpa, end: decl.gpa + decl.size, what: v.path }));
}

/** Reports a YAML parser error or warning. Duplicate keys are positioned on the first character
 *  only, so the range is widened to the whole (plain) key. */
function reportYaml(ctx: Ctx, e: { code: string; pos: [number, number]; message: string }): void {
  if (e.code === 'DUPLICATE_KEY') {
    const key = /^[^\s:,{}[\]]+/.exec(ctx.text.slice(e.pos[0]))?.[0] ?? ctx.text.slice(e.pos[0], e.pos[1]);
    ctx.report([e.pos[0], e.pos[0] + key.length], `duplicate key \`${key}\``);
  } else {
    ctx.report(e.pos, `YAML: ${e.message.split('\n')[0]}`);
  }
}

/**
 * Parses and validates a scenario file. `file` is used in diagnostics and as the default name.
 * Returns the Scenario, or every problem found (never both, never throws).
 */
export function parseScenario(text: string, file: string): { scenario: Scenario } | { diagnostics: Diagnostic[] } {
  const lc = new LineCounter();
  let ctx: Ctx | null = null;
  try {
    const doc = parseDocument(text, {
      intAsBigInt: true,
      keepSourceTokens: false,
      prettyErrors: false,
      uniqueKeys: true,
      lineCounter: lc,
    });
    ctx = new Ctx(text, file, lc, doc);
    for (const e of [...doc.errors, ...doc.warnings]) reportYaml(ctx, e);
    // A syntax error leaves a partial tree: validating it would only add confusing follow-on errors.
    if (doc.errors.some((e) => e.code !== 'DUPLICATE_KEY')) return { diagnostics: sorted(ctx.diags) };
    const scenario = readScenario(ctx, val(ctx, doc.contents, '', [0, text.length]), file);
    if (scenario && ctx.count() === 0) return { scenario };
    return { diagnostics: sorted(ctx.diags) };
  } catch (e) {
    if (e instanceof TooManyAliases) return { diagnostics: sorted(ctx!.diags) };
    // A bug in the validator must still surface as a diagnostic, not an exception.
    const message = `internal error while reading the scenario: ${e instanceof Error ? e.message : String(e)}`;
    const diags = ctx?.diags ?? [];
    diags.push({ file, line: 1, col: 1, endLine: 1, endCol: 1, message });
    return { diagnostics: sorted(diags) };
  }
}

function sorted(diags: Diagnostic[]): Diagnostic[] {
  return [...diags].sort((a, b) => a.line - b.line || a.col - b.col);
}
