// Run a validated scenario and gather its RunResult.

import { GUEST_OS_STATS, type GuestOsStat } from '../guest/os_stats';
import type { ExpectDecl, Scenario } from '../scenario/types';
import { Machine, type RunOptions } from './machine';
import type { ExpectResult, KvmStat, LineStats, RunResult } from './result';
import { MMIO_KEYS } from './mmio_times';
import { statsRecord, S } from '../trace/stats';
import { FAULT_CLASSES, eraReturn } from '../kvm/fault_class';
import { pathEntries } from '../guest/page_tables';
import { hex64, hexNum } from '../arch/x86/u64';
import { snapshotShadowTables } from '../kvm/mmu/inspect';
import { KVM_MEMORY_SLOTS } from '../kvm/memslots';
import { GuestSetupError } from '../guest/page_tables';
import { runFlame } from '../cost/flame';

export { GuestSetupError };
export { OverrideError } from './override_error';

export function runScenario(sc: Scenario, opts: RunOptions = {}): RunResult {
  const m = new Machine(sc, opts);
  m.run();
  return collect(m, opts);
}

/** The report of a machine that has run (also for tests that drive a Machine themselves). */
export function collect(m: Machine, opts: RunOptions): RunResult {
  const kvm = m.kvm;
  kvm.stats[S.host_pages] = kvm.host.allocated;
  const exitStats = m.exitTimes.stats();
  const exits: Record<string, number> = {};
  for (const e of exitStats) exits[e.reason] = e.count;
  const faults: Record<string, number> = {};
  const faultClasses = FAULT_CLASSES.map((c, i) => {
    faults[c] = kvm.faultCounts[i]!;
    return { class: c, count: kvm.faultCounts[i]!, ret: eraReturn(kvm.kernel, kvm.tdp, i) };
  });
  const labels: RunResult['labels'] = {};
  m.labels.forEach((l, i) => (labels[l] = { count: m.labelCount[i]!, cycles: m.labelCycles[i]! }));
  const elapsed = Math.max(0, ...kvm.vcpus.map((v) => v.clock));
  const result: RunResult = {
    file: m.sc.file,
    name: m.sc.name,
    kernel: kvm.kernel,
    tdp: kvm.tdp,
    mmio_caching: kvm.mmioCaching,
    bypass_guest_pf: kvm.bypassGuestPf,
    oos_shadow: kvm.oosShadow,
    enable_vpid: kvm.enableVpid,
    profile: kvm.cost.name,
    ...(Object.keys(m.sc.host.costs).length > 0 ? { cost_overrides: { ...m.sc.host.costs } } : {}),
    maxphyaddr: kvm.host.maxphyaddr,
    vcpus: kvm.vcpus.length,
    memslots: m.userMemslots,
    exits,
    exit_stats: exitStats,
    kvm_stat: kvmStat(m),
    faults,
    fault_classes: faultClasses,
    stats: statsRecord(kvm.stats),
    cycles: { total: kvm.acct.total, elapsed, idle: kvm.vcpus.reduce((n, v) => n + v.idle, 0), ghz: kvm.cost.ghz, by_component: kvm.acct.breakdown() },
    labels,
    steps: m.stepsRun + 1,
    lines: lineStats(m),
    expect: [],
    guest_page_tables: m.sc.guest.mappings.map((mp) => ({
      gva: gvaHex(mp.gva.vpn, mp.gva.offset),
      line: mp.pos.line,
      entries: pathEntries(m.guest.ram, m.guest.cr3s[mp.space ?? 0]!, mp.gva).map((e) => ({ level: e.level, value: hex64(e.lo, e.hi) })),
    })),
    trace: { total: kvm.trace.total, dropped: kvm.trace.dropped, events: kvm.trace.records() },
    shadow_tables: snapshotShadowTables(kvm, opts.stopAfterStep === undefined ? null : m.stepsRun),
    memslot_table: {
      nmemslots: kvm.memslots.nmemslots,
      generation: kvm.memslots.generation,
      slots: kvm.memslots.slots.flatMap((s) => (s ? [{ slot: s.id, gpa: hexNum(s.baseGfn * 4096), npages: s.npages, private: s.id >= KVM_MEMORY_SLOTS }] : [])),
    },
    ...(kvm.cp.on ? { flame: runFlame(kvm.cp) } : {}),
    ...(m.linux ? { guest_os: m.linux.stats() } : {}),
    warnings: [...kvm.warnings],
  };
  if (kvm.cp.unbalanced > 0) result.warnings.push(`simulator: ${kvm.cp.unbalanced} unbalanced call-path enter/leave`);
  if (opts.accesses && m.accessLog) {
    result.accesses = m.accessLog.records();
    result.accesses_truncated = m.accessLog.truncated;
  }
  result.expect = m.sc.expect.map((e) => evaluate(e, result));
  return result;
}

function lineStats(m: Machine): LineStats[] {
  const out: LineStats[] = [];
  const nc = FAULT_CLASSES.length;
  for (let line = 1; line < m.lineCount.length; line++) {
    if (m.lineCount[line] === 0) continue;
    const faults: Record<string, number> = {};
    for (let c = 0; c < nc; c++) {
      const n = m.kvm.lineFaults[line * nc + c]!;
      if (n > 0) faults[FAULT_CLASSES[c]!] = n;
    }
    out.push({ line, count: m.lineCount[line]!, cycles: m.lineCycles[line]!, faults });
  }
  return out;
}

function gvaHex(vpn: number, offset: number): string {
  const full = BigInt(vpn) * 4096n + BigInt(offset);
  return '0x' + (full >= 1n << 47n ? full | 0xffff000000000000n : full).toString(16);
}

/** Look a dotted path up in the result; counts that never happened are 0. */
export function lookupPath(r: RunResult, path: string): number | null {
  const [root, ...rest] = path.split('.');
  const key = rest.join('.');
  switch (root) {
    case 'exits':
      return r.exits[key] ?? 0;
    case 'faults':
      return key in r.faults ? r.faults[key]! : null;
    case 'stats':
      return key in r.stats ? r.stats[key]! : null;
    case 'cycles':
      if (key === 'total') return r.cycles.total;
      if (key === 'elapsed') return r.cycles.elapsed;
      if (key === 'idle') return r.cycles.idle;
      if (rest[0] === 'by_component') return (r.cycles.by_component as Record<string, number>)[rest[1] ?? ''] ?? null;
      return null;
    case 'guest_os': // a scenario without guest.os did nothing there: 0
      return (GUEST_OS_STATS as readonly string[]).includes(key) ? (r.guest_os?.[key as GuestOsStat] ?? 0) : null;
    case 'labels': {
      const l = r.labels[rest[0] ?? ''];
      if (!l) return null;
      return rest[1] === 'count' ? l.count : rest[1] === 'cycles' ? l.cycles : null;
    }
    default:
      return null;
  }
}

function evaluate(e: ExpectDecl, r: RunResult): ExpectResult {
  const actual = lookupPath(r, e.path);
  let ok = false;
  if (actual !== null) {
    switch (e.op) {
      case '==': ok = actual === e.value; break;
      case '!=': ok = actual !== e.value; break;
      case '>=': ok = actual >= e.value; break;
      case '<=': ok = actual <= e.value; break;
      case '>': ok = actual > e.value; break;
      case '<': ok = actual < e.value; break;
    }
  }
  return { path: e.path, expected: e.text, actual, ok, line: e.pos.line, col: e.pos.col };
}

/** perf kvm stat's tables per vCPU; port I/O is not modelled (no IO_INSTRUCTION exit, no kvm_pio). */
function kvmStat(m: Machine): KvmStat {
  const ids = m.kvm.vcpus.map((v) => v.id);
  return {
    vmexit_by_vcpu: ids.map((v) => m.exitTimes.stats(v)),
    mmio: { all: m.mmioTimes.rows(-1), by_vcpu: ids.map((v) => m.mmioTimes.rows(v)), keys: MMIO_KEYS },
    ioport: { all: [], by_vcpu: ids.map(() => []) },
  };
}
