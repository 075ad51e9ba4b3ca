// Comparisons: `metric` (what a run is judged by: the rate of a labelled repeat, or the elapsed time)
// and `compare` (variants, each a label and the settings it overrides). Each variant's combination
// of settings is checked against the rest of the scenario as the top-level settings are.

import { isMap, isScalar } from 'yaml';
import type { Placed } from './checks';
import { labelProblem } from './expect';
import { hex } from './numbers';
import {
  describe,
  need,
  numOrNull,
  opt,
  readBool,
  readEnum,
  readInt,
  readNonEmptyList,
  readObj,
  readString,
  req,
  type Ctx,
  type Obj,
  type Val,
} from './reader';
import { didYouMean } from './suggest';
import {
  KERNELS,
  PROFILES,
  type DeviceDecl,
  type GuestDecl,
  type Kernel,
  type MemslotDecl,
  type MetricDecl,
  type Scenario,
  type ScenarioOverrides,
  type Step,
  type VariantDecl,
  type VcpuDecl,
} from './types';
import { HOST_KEYS, MMU_KEYS, PKE_NEEDS_EPT, bypassProblems, readMaxphyaddr } from './vm';

const VARIANT_KEYS = ['label', 'kernel', 'mmu', 'host', 'memslots'];

/** User memslots per VM on x86 in the modelled kernels (KVM_MEMORY_SLOTS). */
const USER_MEMSLOTS = 32;

/** The metric when a scenario has no `metric` key. */
export function defaultMetric(): MetricDecl {
  return { kind: 'elapsed', pos: null };
}

export const DEFAULT_UNIT = 'per second';

// ---------------------------------------------------------------------------------------------
// Metric

/** `elapsed`, or `{ label, unit? }`: the rate of the repeat with that label. */
export function readMetric(ctx: Ctx, v: Val, labels: Map<string, Val>): MetricDecl {
  const raw = isScalar(v.node) ? v.node.value : undefined;
  if (raw === 'elapsed') return { kind: 'elapsed', pos: ctx.pos(v) };
  if (!isMap(v.node)) {
    let hint = typeof raw === 'string' ? didYouMean(raw, ['elapsed']) : '';
    if (typeof raw === 'string' && labels.has(raw)) hint = `; for the rate of the repeat labelled \`${raw}\`, write { label: ${raw} }`;
    ctx.error(v, `expected elapsed or { label: <repeat label>, unit: <text> }, got ${describe(ctx, v)}${hint}`);
    return defaultMetric();
  }
  const o = readObj(ctx, v, ['label', 'unit'])!;
  const label = req(ctx, o, 'label', (x) => {
    const name = readText(ctx, x);
    const problem = name === null ? null : labelProblem(name, labels);
    if (problem) ctx.error(x, problem);
    return problem ? null : name;
  });
  const unit = opt(o, 'unit', (x) => readText(ctx, x), DEFAULT_UNIT);
  return label === null ? defaultMetric() : { kind: 'rate', label, unit, pos: ctx.pos(v) };
}

/** A string that is not blank. */
function readText(ctx: Ctx, v: Val): string | null {
  const s = readString(ctx, v);
  if (s !== null && s.trim() === '') {
    ctx.error(v, 'must not be empty');
    return null;
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// What the variants are checked against

/** A guest-physical range the scenario uses, and what uses it (for messages). */
export interface PhysUse {
  start: number;
  end: number;
  what: string;
}

/** The scenario's own settings and what it uses, as far as they were read without error. */
export interface CompareBase {
  /** The scenario's kernel and mmu.tdp; null when invalid (the rules that need them are not judged). */
  kernel: Kernel | null;
  tdp: boolean | null;
  /** The scenario's mmu.bypass_guest_pf is a valid `true`, which a variant inherits unless it says false. */
  bypass: boolean;
  /** guest.cpu.cr4_pke. */
  pke: boolean;
  /** The number of memslots the scenario declares. */
  memslots: number;
  /** Slot ids that `memslot: add` steps use and no declared memslot has, with the line of the first. */
  added: Map<number, number>;
  /** Every guest-physical range the scenario uses: memslots, devices, tables, code, mappings, steps. */
  uses: PhysUse[];
}

function eachStep(steps: Step[], f: (s: Step) => void): void {
  for (const s of steps) {
    f(s);
    if (s.kind === 'repeat') eachStep(s.steps, f);
  }
}

/** The slot ids the workloads add that no declared memslot has, each with the line of its first add. */
export function addedSlots(vcpus: VcpuDecl[], memslots: Placed<MemslotDecl>[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const vcpu of vcpus) {
    eachStep(vcpu.workload, (s) => {
      if (s.kind !== 'memslot-add' || memslots.some((m) => m.decl.slot === s.slot)) return;
      const line = out.get(s.slot);
      if (line === undefined || s.pos.line < line) out.set(s.slot, s.pos.line);
    });
  }
  return out;
}

/** The guest-physical ranges that the valid parts of the scenario use. (Mappings, code and tables
 *  lie inside memslots or devices, so they only matter when the layout has errors of its own.) */
export function physUses(memslots: Placed<MemslotDecl>[], devices: Placed<DeviceDecl>[], guest: GuestDecl | null, vcpus: VcpuDecl[]): PhysUse[] {
  const uses: PhysUse[] = [...memslots, ...devices].map(({ decl, v }) => ({ start: decl.gpa, end: decl.gpa + decl.size, what: v.path }));
  if (guest?.page_tables_top) {
    uses.push({ start: guest.page_tables_top - 4096, end: guest.page_tables_top, what: 'guest.page_tables_top' });
  }
  if (guest?.code) uses.push({ start: guest.code.gpa, end: guest.code.gpa + 4096, what: 'guest.code' });
  for (const m of guest?.mappings ?? []) uses.push({ start: m.gpa, end: m.gpa + m.size, what: `the mapping at line ${m.pos.line}` });
  for (const vcpu of vcpus) {
    eachStep(vcpu.workload, (s) => {
      if (s.kind === 'pte' && s.gpa !== null) {
        uses.push({ start: s.gpa, end: s.gpa + 4096, what: `the \`pte\` step at line ${s.pos.line}` });
      } else if (s.kind === 'memslot-add') {
        uses.push({ start: s.gpa, end: s.gpa + s.size, what: `the \`memslot: add\` step at line ${s.pos.line}` });
      } else if (s.kind === 'memslot-delete' && s.gpa !== null) {
        uses.push({ start: s.gpa, end: s.gpa + 4096, what: `the \`memslot: delete\` step at line ${s.pos.line}` });
      }
    });
  }
  return uses;
}

// ---------------------------------------------------------------------------------------------
// Variants

/** A non-empty list of variants, each with a unique label and the settings it overrides. */
export function readCompare(ctx: Ctx, v: Val, base: CompareBase): VariantDecl[] {
  const out: VariantDecl[] = [];
  const labels = new Map<string, string>();
  for (const item of readNonEmptyList(ctx, v, 'variant') ?? []) {
    const o = readObj(ctx, item, VARIANT_KEYS);
    if (!o) continue;
    const labelV = need(ctx, o, 'label');
    const label = labelV ? readText(ctx, labelV) : null;
    if (labelV && label !== null) {
      if (labels.has(label)) ctx.error(labelV, `variant label \`${label}\` is already used by ${labels.get(label)}`);
      else labels.set(label, item.path);
    }
    const overrides = readOverrides(ctx, o, base);
    if (label !== null) out.push({ label, overrides, pos: ctx.pos(item) });
  }
  return out;
}

function readOverrides(ctx: Ctx, o: Obj, base: CompareBase): ScenarioOverrides {
  const out: ScenarioOverrides = {};
  const kernelV = o.keys.get('kernel');
  const kernel = kernelV ? readEnum(ctx, kernelV, KERNELS) : null;
  if (kernel !== null) out.kernel = kernel;

  const mmuV = o.keys.get('mmu');
  const mmu = mmuV ? readObj(ctx, mmuV, MMU_KEYS) : null;
  const tdpV = mmu?.keys.get('tdp');
  const tdp = tdpV ? readBool(ctx, tdpV) : null;
  if (tdp !== null) out.tdp = tdp;
  const cachingV = mmu?.keys.get('mmio_caching');
  const caching = cachingV ? readBool(ctx, cachingV) : null;
  if (caching !== null) out.mmio_caching = caching;
  const bypassV = mmu?.keys.get('bypass_guest_pf');
  const bypass = bypassV ? readBool(ctx, bypassV) : null;
  if (bypass !== null) out.bypass_guest_pf = bypass;
  const oosV = mmu?.keys.get('oos_shadow');
  const oos = oosV ? readBool(ctx, oosV) : null;
  if (oos !== null) out.oos_shadow = oos;
  const vpidV = mmu?.keys.get('enable_vpid');
  const vpid = vpidV ? readBool(ctx, vpidV) : null;
  if (vpid !== null) out.enable_vpid = vpid;

  const hostV = o.keys.get('host');
  // A variant changes the profile or MAXPHYADDR; `host.costs` is the scenario's own, for every variant.
  const host = hostV ? readObj(ctx, hostV, HOST_KEYS.filter((k) => k !== 'costs')) : null;
  const profileV = host?.keys.get('profile');
  const profile = profileV ? readEnum(ctx, profileV, PROFILES) : null;
  if (profile !== null) out.profile = profile;
  const maxV = host?.keys.get('maxphyaddr');
  const maxphyaddr = maxV ? readMaxphyaddr(ctx, maxV) : null;
  if (maxphyaddr !== null) out.maxphyaddr = maxphyaddr;

  const slotsV = o.keys.get('memslots');
  const count = slotsV ? numOrNull(readInt(ctx, slotsV, 1n, BigInt(USER_MEMSLOTS))) : null;
  if (count !== null) out.memslot_count = count;

  // The variant's own kernel and tdp where it gives them, else the scenario's (null: invalid, not judged).
  const effKernel = kernelV ? kernel : base.kernel;
  const effTdp = tdpV ? tdp : base.tdp;
  if (bypassV && bypass === true) {
    const why = bypassProblems(effKernel, effTdp);
    if (why.length > 0) ctx.error(bypassV, `true is not possible: ${why.join(', and ')}`);
  } else if (!bypassV && base.bypass) {
    checkInheritedBypass(ctx, kernelV && kernel === 'v3.1' ? kernelV : null, tdpV && tdp === true ? tdpV : null);
  }
  // KVM offers protection keys to a guest only with EPT (as for the top-level mmu.tdp).
  if (tdpV && tdp === false && base.pke) {
    ctx.error(tdpV, `false is not possible: guest.cpu.cr4_pke is true, and ${PKE_NEEDS_EPT}`);
  }
  if (maxV && maxphyaddr !== null) checkCovered(ctx, maxV, maxphyaddr, base.uses);
  if (slotsV && count !== null) checkSlotCount(ctx, slotsV, count, base);
  return out;
}

/** The scenario's valid `bypass_guest_pf: true` (v3.0, shadow paging) carries over into a variant
 *  that turns on v3.1 or EPT: blame the variant's kernel (or else its tdp), once. */
function checkInheritedBypass(ctx: Ctx, v31: Val | null, ept: Val | null): void {
  const why: string[] = [];
  if (v31) why.push('kernel v3.1 no longer has it (the 2011 MMIO series removed it)');
  if (ept) why.push('VMX forces it off when EPT is in use');
  const at = v31 ?? ept;
  if (!at) return;
  const value = v31 ? 'v3.1' : 'true';
  ctx.error(at, `${value} is not possible with the scenario's mmu.bypass_guest_pf: true: ${why.join(', and ')}; give this variant mmu: { bypass_guest_pf: false }`);
}

/** Every guest-physical range the scenario uses must stay below the variant's 2^maxphyaddr. */
function checkCovered(ctx: Ctx, v: Val, maxphyaddr: number, uses: PhysUse[]): void {
  const limit = 2 ** maxphyaddr;
  let worst: PhysUse | null = null;
  for (const u of uses) if (u.end > limit && (!worst || u.end > worst.end)) worst = u;
  if (!worst) return;
  let needed = maxphyaddr;
  while (2 ** needed < worst.end) needed++;
  ctx.error(v, `${maxphyaddr} (limit ${hex(limit)}) does not cover ${worst.what} [${hex(worst.start)}, ${hex(worst.end)}): this scenario needs at least ${needed}`);
}

/** The user memslot count covers the declared memslots and leaves ids for the slots the workload adds. */
function checkSlotCount(ctx: Ctx, v: Val, count: number, base: CompareBase): void {
  if (count < base.memslots) {
    const declared = base.memslots === 1 ? '1 memslot' : `${base.memslots} memslots`;
    ctx.error(v, `${count} is fewer than the ${declared} the scenario declares`);
    return;
  }
  const free = USER_MEMSLOTS - base.added.size;
  if (count > free) {
    const ids = [...base.added.keys()].sort((a, b) => a - b);
    const what = ids.length === 1
      ? `slot ${ids[0]}, which the workload adds at line ${base.added.get(ids[0]!)}`
      : `slots ${ids.join(', ')}, which the workload adds`;
    ctx.error(v, `${count} leaves no free slot id for ${what} (KVM has ${USER_MEMSLOTS} user memslots): at most ${free} here`);
  }
}

// ---------------------------------------------------------------------------------------------
// Variants built by a program (Compare Kernels), not read from the file

/**
 * What is wrong with running `sc` with `o`: the rules readOverrides applies to a `compare:` variant
 * that changes kernel, mmu or guest CR4 bits, in the same words. Empty when the variant is valid.
 */
export function variantProblems(sc: Scenario, o: ScenarioOverrides): string[] {
  const out: string[] = [];
  const kernel = o.kernel ?? sc.kernel;
  const tdp = o.tdp ?? sc.mmu.tdp;
  const bypass = o.bypass_guest_pf ?? sc.mmu.bypass_guest_pf;
  if (bypass === true) {
    const why = bypassProblems(kernel, tdp);
    if (why.length > 0) out.push(`mmu.bypass_guest_pf: true is not possible: ${why.join(', and ')}`);
  }
  // KVM offers protection keys to a guest only with EPT (as for the top-level mmu.tdp).
  if (sc.guest.cpu.cr4_pke && o.cr4_pke !== false && !tdp) {
    out.push(`mmu.tdp: false is not possible: guest.cpu.cr4_pke is true, and ${PKE_NEEDS_EPT}`);
  }
  if (o.maxphyaddr !== undefined || o.memslot_count !== undefined) {
    out.push('host.maxphyaddr and memslots are checked only in a `compare:` section of the file');
  }
  return out;
}

/** What an override may hold: the values readOverrides accepts from a `compare:` variant, plus the
 *  bits Compare Kernels sets (guest CR4 bits only turned off, lockless waits only left out). */
const OVERRIDE_VALUES: Record<keyof ScenarioOverrides, { ok: (v: unknown) => boolean; want: string }> = {
  kernel: { ok: (v) => (KERNELS as readonly unknown[]).includes(v), want: `one of ${KERNELS.join(', ')}` },
  tdp: { ok: isBool, want: 'true or false' },
  mmio_caching: { ok: isBool, want: 'true or false' },
  bypass_guest_pf: { ok: isBool, want: 'true or false' },
  oos_shadow: { ok: isBool, want: 'true or false' },
  enable_vpid: { ok: isBool, want: 'true or false' },
  profile: { ok: (v) => (PROFILES as readonly unknown[]).includes(v), want: `one of ${PROFILES.join(', ')}` },
  maxphyaddr: { ok: (v) => Number.isInteger(v) && (v as number) >= 36 && (v as number) <= 52, want: 'an integer from 36 to 52' },
  memslot_count: { ok: (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= USER_MEMSLOTS, want: `an integer from 1 to ${USER_MEMSLOTS}` },
  cr4_smep: { ok: (v) => v === false, want: 'false' },
  cr4_smap: { ok: (v) => v === false, want: 'false' },
  cr4_pke: { ok: (v) => v === false, want: 'false' },
  skip_lockless_waits: { ok: (v) => v === true, want: 'true' },
};

/** A value a program passed, for a message: NaN as NaN (JSON says null), a BigInt or a cyclic object without throwing, at most 60 characters. */
function shown(v: unknown): string {
  let s: string;
  try {
    s = typeof v === 'number' || typeof v === 'bigint' ? String(v) : typeof v === 'function' ? 'a function' : (JSON.stringify(v) ?? String(v));
  } catch {
    s = `an unprintable ${typeof v}`; // cyclic, or a toJSON that throws
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function isBool(v: unknown): boolean {
  return v === true || v === false;
}

/**
 * What is wrong with overrides a program passes (the module API, `runScenario(sc, { overrides })`):
 * each value checked as a `compare:` variant's, then the variant rules (variantProblems), with
 * maxphyaddr covering the memslots and devices and the memslot count covering the declared slots.
 */
export function overrideProblems(sc: Scenario, o: ScenarioOverrides): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(o)) {
    if (value === undefined) continue;
    // An own key only: `constructor` or `__proto__` is an unknown override, not Object's.
    const rule = Object.hasOwn(OVERRIDE_VALUES, key) ? OVERRIDE_VALUES[key as keyof ScenarioOverrides] : undefined;
    if (!rule) out.push(`unknown override \`${key}\`${didYouMean(key, Object.keys(OVERRIDE_VALUES))}`);
    else if (!rule.ok(value)) out.push(`override \`${key}\` must be ${rule.want}, got ${shown(value)}`);
  }
  if (out.length > 0) return out; // the rules below assume valid values
  const { maxphyaddr, memslot_count, ...rest } = o;
  out.push(...variantProblems(sc, rest));
  if (maxphyaddr !== undefined) {
    const limit = 2 ** maxphyaddr;
    const ranges = [...sc.memslots.map((m) => ({ what: `memslot ${m.slot}`, ...m })), ...sc.devices.map((d) => ({ what: `device ${d.name}`, ...d }))];
    const over = ranges.find((r) => r.gpa + r.size > limit);
    if (over) out.push(`host.maxphyaddr: ${maxphyaddr} (limit ${hex(limit)}) does not cover ${over.what} [${hex(over.gpa)}, ${hex(over.gpa + over.size)})`);
  }
  if (memslot_count !== undefined && memslot_count < sc.memslots.length) {
    out.push(`memslots: ${memslot_count} is fewer than the ${sc.memslots.length} the scenario declares`);
  }
  return out;
}
