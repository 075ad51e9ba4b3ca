// Workloads: the vCPUs and their lists of steps (accesses, instruction fetches, guest page-table
// writes, INVLPG and CR3 switches, compute, repeats, memslot changes, settings and waits on other
// vCPUs).

import { isMap, isScalar, type YAMLMap } from 'yaml';
import { readAligned, readGva, readPhysRange } from './address';
import { checkPhys } from './checks';
import { readEntryBits } from './entry';
import { readCpl, readSpace } from './guest';
import { PAGE_4K, hex, splitGva, splitU64 } from './numbers';
import {
  MAX_SAFE,
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
  val,
  type Ctx,
  type Obj,
  type Val,
} from './reader';
import { closestName } from './suggest';
import { OS_STEP_KINDS, readOsStep } from './os_steps';
import { eraOf } from '../kvm/eras';
import { IRQ_SOURCES, RACE_POINTS, type Gva, type IrqDecl, type Kernel, type SourcePos, type Step, type VcpuDecl, type WaitPoint } from './types';

const STEP_KINDS = [
  'read', 'write', 'fetch', 'pte', 'invlpg', 'cr3', 'compute', 'repeat', 'memslot', 'set', 'wait_for',
  'interrupt', 'hlt',
  ...OS_STEP_KINDS,
] as const;
type StepKind = (typeof STEP_KINDS)[number];
const STEP_KEYS: Record<StepKind, readonly string[]> = {
  read: ['read', 'size', 'cpl', 'raise'],
  write: ['write', 'size', 'value', 'cpl', 'raise'],
  fetch: ['fetch', 'cpl'],
  pte: ['pte', 'level', 'flags', 'gpa', 'space'],
  invlpg: ['invlpg'],
  cr3: ['cr3'],
  compute: ['compute'],
  repeat: ['repeat', 'label', 'steps'],
  memslot: ['memslot', 'slot', 'gpa', 'size', 'readonly', 'resume_at'],
  set: ['set'],
  wait_for: ['wait_for'],
  touch: ['touch', 'access', 'value', 'size'],
  fork: ['fork'],
  vfork: ['vfork'],
  munmap: ['munmap', 'size'],
  exit: ['exit'],
  exec: ['exec'],
  switch_mm: ['switch_mm'],
  interrupt: ['interrupt'],
  hlt: ['hlt'],
};

// ---------------------------------------------------------------------------------------------
// Workloads

/** How deep `repeat`s may nest. Each level is a loop counter the simulator keeps per vCPU; 64 is
 *  far beyond any workload written by hand, and deeper nesting only multiplies counts of 1. */
export const MAX_REPEAT_DEPTH = 64;

interface StepCtx {
  vcpu: number;
  vcpuCount: number;
  maxphyaddr: number;
  labels: Map<string, Val>;
  /** `repeat`s enclosing the steps being read. */
  depth: number;
  /** One Gva per address, shared by the steps that name it (read-only data): a file of 100,000
   *  accesses to a few addresses keeps a few address objects, not 100,000. */
  gvas: Map<bigint, Gva>;
  /** Whether the guest declares `os` (the guest OS steps need its kernel). */
  os: boolean;
}

function stepGva(sc: StepCtx, gva: bigint): Gva {
  let g = sc.gvas.get(gva);
  if (g === undefined) sc.gvas.set(gva, (g = splitGva(gva)));
  return g;
}

export function readVcpus(ctx: Ctx, top: Obj, maxphyaddr: number, labels: Map<string, Val>, kernel: Kernel, os: boolean): VcpuDecl[] {
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
  const items = vcpusV && !workloadV ? (readNonEmptyList(ctx, vcpusV, 'vCPU') ?? []) : [];
  const era = eraOf(kernel);
  const max = era.maxVcpus.count;
  if (items.length > max) {
    // Those past the limit are not read: a VM that KVM would refuse is not worth their diagnostics.
    ctx.error(items[max]!, `${items.length} vCPUs: KVM_MAX_VCPUS is ${max} in ${era.release} (${era.maxVcpus.line.file}:${era.maxVcpus.line.line})`);
    items.length = max;
  }
  for (const item of items) {
    const o = readObj(ctx, item, ['workload']);
    lists.push({ list: o ? need(ctx, o, 'workload') : null, decl: item });
  }
  const gvas = new Map<bigint, Gva>();
  return lists.map(({ list, decl }, id) => {
    const sc: StepCtx = { vcpu: id, vcpuCount: lists.length, maxphyaddr, labels, depth: 0, gvas, os };
    return { id, workload: list ? readSteps(ctx, list, sc) : [], pos: ctx.pos(decl) };
  });
}

/** The highest address space that `pte` and `cr3` steps name (nested ones included), or -1. */
export function highestSpace(steps: Step[]): number {
  let high = -1;
  for (const s of steps) {
    if (s.kind === 'pte' || s.kind === 'cr3' || s.kind === 'exit' || s.kind === 'exec' || s.kind === 'switch-mm' || s.kind === 'vfork') high = Math.max(high, s.space);
    else if (s.kind === 'fork') high = Math.max(high, s.child);
    else if (s.kind === 'repeat') high = Math.max(high, highestSpace(s.steps));
  }
  return high;
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
  // The constant, not the key's text: one string per step kind, not per step (a 1 MiB file holds
  // about 100,000 steps).
  const kinds = names.flatMap((n) => STEP_KINDS.filter((k) => k === n));
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
  const o = readObj(ctx, v, STEP_KEYS[kind]);
  if (!o) return null;
  const pos = ctx.pos(v);
  switch (kind) {
    case 'read':
    case 'write':
      return readAccess(ctx, o, sc, kind, pos);
    case 'fetch': {
      const gva = readGva(ctx, o.keys.get('fetch')!);
      const cpl = readStepCpl(ctx, o);
      return gva === null || cpl === undefined ? null : { kind, gva: stepGva(sc, gva), cpl, pos };
    }
    case 'pte':
      return readPteStep(ctx, o, sc, pos);
    case 'invlpg': {
      const gva = readGva(ctx, o.keys.get('invlpg')!);
      return gva === null ? null : { kind, gva: stepGva(sc, gva), pos };
    }
    case 'cr3': {
      const space = readSpace(ctx, o.keys.get('cr3')!);
      return space === null ? null : { kind, space, pos };
    }
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
    case 'touch':
    case 'fork':
    case 'vfork':
    case 'munmap':
    case 'exit':
    case 'exec':
    case 'switch_mm':
      if (!sc.os) {
        ctx.error(o.keys.get(kind)!, `\`${kind}\` is a guest OS step: it needs the guest kernel's \`guest.os\` (its page_pool and vmas)`);
        return null;
      }
      return readOsStep(ctx, o, kind, pos, (gva) => stepGva(sc, gva));
    case 'interrupt':
      return readInterrupt(ctx, o.keys.get('interrupt')!, sc, pos);
    case 'hlt':
      return readHlt(ctx, o.keys.get('hlt')!, sc, pos);
  }
}

function readAccess(ctx: Ctx, o: Obj, sc: StepCtx, kind: 'read' | 'write', pos: SourcePos): Step | null {
  const gvaV = o.keys.get(kind)!;
  const gva = readGva(ctx, gvaV);
  const sizeV = o.keys.get('size');
  const size = sizeV ? readAccessSize(ctx, sizeV) : 8;
  // Check the value even when something else is wrong, so every problem is reported at once.
  const value = kind === 'write' ? opt(o, 'value', (v) => readValue(ctx, v, size ?? 8), 0n) : 0n;
  const cpl = readStepCpl(ctx, o);
  const raiseV = o.keys.get('raise');
  const raise = raiseV ? readInt(ctx, raiseV, 32n, 255n) : null; // a vector, as readIrq's
  if (gva === null || size === null || cpl === undefined || (raiseV && raise === null)) return null;
  const offset = Number(gva & 0xfffn);
  if (offset + size > 4096) {
    ctx.error(gvaV, `an access of ${size} bytes at page offset ${hex(offset)} crosses a 4K page boundary`);
    return null;
  }
  const vector = raise === null ? null : Number(raise);
  if (kind === 'read') return { kind, gva: stepGva(sc, gva), size, cpl, raise: vector, pos };
  return { kind, gva: stepGva(sc, gva), size, ...splitU64(value), cpl, raise: vector, pos };
}

/** A step's optional `cpl`: null when absent (the guest's default), undefined when invalid. */
function readStepCpl(ctx: Ctx, o: Obj): 0 | 3 | null | undefined {
  const v = o.keys.get('cpl');
  return v ? (readCpl(ctx, v) ?? undefined) : null;
}

function readPteStep(ctx: Ctx, o: Obj, sc: StepCtx, pos: SourcePos): Step | null {
  const before = ctx.count();
  const gva = readGva(ctx, o.keys.get('pte')!);
  const level = opt(o, 'level', (v) => numOrNull(readInt(ctx, v, 1n, 4n)), 1) as 1 | 2 | 3 | 4;
  const bits = req(ctx, o, 'flags', (v) => readEntryBits(ctx, v));
  const gpaV = o.keys.get('gpa');
  let gpa = gpaV ? readAligned(ctx, gpaV, PAGE_4K) : null;
  if (gpaV && gpa !== null && !checkPhys(ctx, gpaV, gpaV, gpa, PAGE_4K, sc.maxphyaddr)) gpa = null;
  const space = opt(o, 'space', (v) => readSpace(ctx, v), 0);
  if (ctx.count() !== before || gva === null || bits === null) return null;
  return { kind: 'pte', gva: stepGva(sc, gva), level, bits, gpa: gpa === null ? null : Number(gpa), space, pos };
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
  if (sc.depth >= MAX_REPEAT_DEPTH) {
    // The first level too deep is the one named; what it holds is not read (one mistake, one message).
    ctx.error(o.v, `\`repeat\` nested ${sc.depth + 1} deep; the limit is ${MAX_REPEAT_DEPTH} levels`);
    return null;
  }
  const count = numOrNull(readInt(ctx, o.keys.get('repeat')!, 1n, MAX_SAFE));
  const label = opt(o, 'label', (v) => readLabel(ctx, v, sc.labels), null);
  const stepsV = need(ctx, o, 'steps');
  const steps = stepsV ? readSteps(ctx, stepsV, { ...sc, depth: sc.depth + 1 }) : [];
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
  const resumeV = o.keys.get('resume_at');
  const resume_at = resumeV ? readResumeAt(ctx, resumeV, sc) : null;
  const badResume = resumeV !== undefined && resume_at === null;
  if (op === 'delete') {
    // Judged on the resolved operation (an alias included): a deletion takes no size.
    for (const k of ['size', 'readonly']) {
      const extra = o.keys.get(k);
      if (extra) ctx.error(extra, `\`${k}\` does not apply to \`memslot: delete\` (it takes \`slot\`, \`gpa\` and \`resume_at\`)`);
    }
    // The guest_phys_addr passed with memory_size 0; the deleted entry keeps it (default: the slot's own).
    const gpaV = o.keys.get('gpa');
    let gpa = gpaV ? readAligned(ctx, gpaV, PAGE_4K) : null;
    if (gpaV && gpa !== null && !checkPhys(ctx, gpaV, gpaV, gpa, PAGE_4K, sc.maxphyaddr)) gpa = null;
    if (slot === null || (gpaV && gpa === null) || badResume) return null;
    return { kind: 'memslot-delete', slot, gpa: gpa === null ? null : Number(gpa), resume_at, pos };
  }
  // With an unknown operation, still check the range if one is given, but do not demand it.
  const range = op !== null || o.keys.has('gpa') || o.keys.has('size') ? readPhysRange(ctx, o, PAGE_4K, sc.maxphyaddr) : null;
  const readonly = opt(o, 'readonly', (v) => readBool(ctx, v), false);
  if (op === null || slot === null || !range || badResume) return null;
  return { kind: 'memslot-add', slot, gpa: Number(range.gpa), size: Number(range.size), readonly, resume_at, pos };
}

/** A memslot step's `resume_at`: a race point of another vCPU, as `wait_for` names one. While the
 *  update waits there it holds kvm->slots_lock, so no other vCPU can reach synchronize_srcu_expedited. */
function readResumeAt(ctx: Ctx, v: Val, sc: StepCtx): WaitPoint | null {
  const inner = readObj(ctx, v, ['vcpu', 'point', 'level']);
  const w = inner ? readWaitPoint(ctx, inner, sc) : null;
  if (w !== null && w.point === 'synchronize_srcu_expedited') {
    ctx.error(inner!.keys.get('point')!, `vCPU ${w.vcpu} cannot reach synchronize_srcu_expedited while this update holds kvm->slots_lock`);
    return null;
  }
  return w;
}

function readSet(ctx: Ctx, o: Obj, pos: SourcePos): Step | null {
  const inner = readObj(ctx, o.keys.get('set')!, ['mmio_caching']);
  const value = inner ? req(ctx, inner, 'mmio_caching', (v) => readBool(ctx, v)) : null;
  return value === null ? null : { kind: 'set', mmio_caching: value, pos };
}

function readWaitFor(ctx: Ctx, o: Obj, sc: StepCtx, pos: SourcePos): Step | null {
  const inner = readObj(ctx, o.keys.get('wait_for')!, ['vcpu', 'point', 'level']);
  const w = inner ? readWaitPoint(ctx, inner, sc) : null;
  return w === null ? null : { kind: 'wait-for', ...w, pos };
}

/** `{ vcpu, point, level? }`: another vCPU's race point. */
function readWaitPoint(ctx: Ctx, inner: Obj, sc: StepCtx): WaitPoint | null {
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
  return { vcpu, point, level };
}

// ---------------------------------------------------------------------------------------------
// Interrupts and idle (docs/kernel-paths.md §23)

const IRQ_KEYS = ['vector', 'source', 'eoi', 'tmict'] as const;

/** `interrupt: { vector, source, irqs_disabled?, eoi?, tmict? }`. */
function readInterrupt(ctx: Ctx, v: Val, sc: StepCtx, pos: SourcePos): Step | null {
  const inner = readObj(ctx, v, [...IRQ_KEYS, 'irqs_disabled']);
  if (!inner) return null;
  const before = ctx.count();
  const irq = readIrq(ctx, inner, sc);
  const irqs_disabled = opt(inner, 'irqs_disabled', (x) => numOrNull(readInt(ctx, x, 0n, MAX_SAFE)), null);
  if (ctx.count() !== before || irq === null) return null;
  return { kind: 'interrupt', ...irq, irqs_disabled, pos };
}

/** `hlt: { wake_after, vector, source, eoi?, tmict? }`: the interrupt that wakes the guest. */
function readHlt(ctx: Ctx, v: Val, sc: StepCtx, pos: SourcePos): Step | null {
  const inner = readObj(ctx, v, ['wake_after', ...IRQ_KEYS]);
  if (!inner) return null;
  const before = ctx.count();
  const wake_after = req(ctx, inner, 'wake_after', (x) => numOrNull(readInt(ctx, x, 0n, MAX_SAFE)));
  const irq = readIrq(ctx, inner, sc);
  if (ctx.count() !== before || irq === null || wake_after === null) return null;
  return { kind: 'hlt', ...irq, wake_after, pos };
}

/** The interrupt's vector (32..255: 0..31 are exceptions, which the local APIC refuses as fixed
 *  interrupts: apic_reg_write's LVT checks and __apic_accept_irq never see them), its source, and the
 *  handler's writes. Returns null when any part is wrong (each error reported). */
function readIrq(ctx: Ctx, o: Obj, sc: StepCtx): IrqDecl | null {
  const vector = req(ctx, o, 'vector', (x) => numOrNull(readInt(ctx, x, 32n, 255n)));
  const source = req(ctx, o, 'source', (x) => readEnum(ctx, x, IRQ_SOURCES));
  const eoiV = o.keys.get('eoi');
  const eoi = eoiV ? readRegisterGva(ctx, eoiV) : null;
  const tmictV = o.keys.get('tmict');
  let tmict: IrqDecl['tmict'] = null;
  if (tmictV) {
    const t = readObj(ctx, tmictV, ['gva', 'count']);
    const gva = t ? req(ctx, t, 'gva', (x) => readRegisterGva(ctx, x)) : null;
    const count = t ? req(ctx, t, 'count', (x) => numOrNull(readInt(ctx, x, 0n, 0xffffffffn))) : null;
    if (source === 'device') ctx.error(tmictV, "`tmict` is the timer handler's write (lapic_next_event); a device interrupt does not reprogram the APIC timer");
    else if (gva !== null && count !== null) tmict = { gva: stepGva(sc, gva), count };
  }
  if (vector === null || source === null) return null;
  return { vector, source, eoi: eoi === null ? null : stepGva(sc, eoi), tmict };
}

/** The GVA of a 4-byte APIC register write: within one 4K page. */
function readRegisterGva(ctx: Ctx, v: Val): bigint | null {
  const gva = readGva(ctx, v);
  if (gva !== null && (gva & 0xfffn) > 4092n) {
    ctx.error(v, `a 4-byte register write at page offset ${hex(gva & 0xfffn)} crosses a 4K page boundary`);
    return null;
  }
  return gva;
}
