// Expectations: the `expect` mapping of report paths (exits, faults, stats, cycles, labels, guest_os) to
// conditions on their values.

import { isMap, isScalar, type YAMLMap } from 'yaml';
import { VMX_EXIT_REASONS } from '../arch/x86/vmx';
import { COMPONENTS } from '../cost/profile';
import { STATS } from '../trace/stats';
import { GUEST_OS_STATS } from '../guest/os_stats';
import { parseIntText } from './numbers';
import { MAX_SAFE, describe, readString, val, type Ctx, type Val } from './reader';
import { didYouMean } from './suggest';
import type { ExpectDecl, ExpectOp } from './types';

/** The exit names a report uses: those `trace_kvm_exit` prints (VMX_EXIT_REASONS). */
export const EXIT_REASONS: readonly string[] = VMX_EXIT_REASONS.map(([, name]) => name);

export const FAULT_KINDS: readonly string[] = [
  'map', 'spurious', 'mmio-slow', 'mmio-fast', 'mmio-cache', 'mmio-retry', 'mmio-bug', 'guest-pf',
  'guest-pf-direct', 'wp-emulate',
];

const EXPECT_ROOTS = ['exits', 'faults', 'stats', 'cycles', 'labels', 'guest_os'];

// ---------------------------------------------------------------------------------------------
// Expectations

export function readExpect(ctx: Ctx, v: Val, labels: Map<string, Val>): ExpectDecl[] {
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
    case 'guest_os':
      if (segs.length !== 2) return 'expected guest_os.<name>, e.g. guest_os.cow_copies';
      return (GUEST_OS_STATS as readonly string[]).includes(name!) ? null : unknown('guest OS count', name!, GUEST_OS_STATS);
    default:
      return unknown('report section', root!, EXPECT_ROOTS) + ` (expected one of: ${EXPECT_ROOTS.join(', ')})`;
  }
}

function cyclesPathProblem(segs: string[]): string | null {
  if (segs.length === 2 && (segs[1] === 'total' || segs[1] === 'elapsed' || segs[1] === 'idle')) return null;
  if (segs.length === 3 && segs[1] === 'by_component') {
    const name = segs[2]!;
    return (COMPONENTS as readonly string[]).includes(name)
      ? null
      : `unknown cost component \`${name}\`${didYouMean(name, COMPONENTS)}`;
  }
  const hint = segs.length === 2 ? didYouMean(segs[1]!, ['total', 'elapsed', 'idle', 'by_component']) : '';
  return `expected cycles.total, cycles.elapsed, cycles.idle or cycles.by_component.<component>${hint}`;
}

function labelsPathProblem(segs: string[], labels: Map<string, Val>): string | null {
  const last = segs[segs.length - 1]!;
  if (segs.length < 3 || (last !== 'count' && last !== 'cycles')) {
    return 'expected labels.<label>.count or labels.<label>.cycles';
  }
  return labelProblem(segs.slice(1, -1).join('.'), labels);
}

/** Why `label` names no repeat step, or null if one has it (`expect`'s labels.<label>, `metric`). */
export function labelProblem(label: string, labels: Map<string, Val>): string | null {
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
