// The text report of one run, as the CLI prints it. Pure string building: no Node, DOM or vscode.
//
// The VM-exit table copies `perf kvm stat report` byte for byte (tools/perf/builtin-kvm.c; layout in
// the shared reference cost-anchors.md §4.2), so people can put a simulated run next to a real one. The
// counter section follows the legacy debugfs `kvm_stat` view (cost-anchors §6). The other sections
// are MMU Lab's own.

import { GUEST_OS_STATS } from '../guest/os_stats';
import { COMPONENTS } from '../cost/profile';
import type { Component } from '../cost/profile';
import type { AccessRecord, RunResult } from '../run/result';
import { KVM_STATS, SIM_STATS } from '../trace/stats';
import { eraOf } from '../kvm/eras';
import { lineSafe } from '../util/control_chars';

export interface TextOptions {
  /** Print the access table (needs `r.accesses`, which the run records with --accesses). */
  accesses?: boolean;
}

/** The whole report: sections separated by one blank line, ending in a newline. */
export function formatRunText(r: RunResult, opts: TextOptions = {}): string {
  const sections = [
    headerSection(r),
    exitSection(r),
    faultSection(r),
    statsSection(r),
    cycleSection(r),
    labelSection(r),
    guestOsSection(r),
    expectSection(r),
    opts.accesses ? accessSection(r) : null,
    warningSection(r),
  ];
  return sections.filter((s): s is string => s !== null).join('\n');
}

/** What the guest kernel did for the guest OS steps (only with `guest.os`). */
function guestOsSection(r: RunResult): string | null {
  if (!r.guest_os) return null;
  const os = r.guest_os;
  const rows = GUEST_OS_STATS.map((k) => ` ${k.padEnd(44)} ${String(os[k]).padStart(6)}\n`);
  return 'Guest OS (Linux 3.0.1)\n' + rows.join('');
}

// ---------------------------------------------------------------------------------------------
// printf, as much of it as perf's report needs

/**
 * A small printf: `%s`, `%f` (`%.2f` style precision, default 6) and `%llu`/`%lu`/`%u`/`%d`, each
 * with an optional `-` flag and width, plus `%%`. Fields wider than their width widen the output;
 * nothing is truncated, as in C.
 */
export function sprintf(fmt: string, ...args: (string | number)[]): string {
  let i = 0;
  return fmt.replace(/%(-?)(\d*)(?:\.(\d+))?(llu|lu|u|d|s|f|%)/g, (_m, minus: string, width: string, prec: string, conv: string) => {
    if (conv === '%') return '%';
    const arg = args[i++];
    let s: string;
    if (conv === 's') s = String(arg);
    else if (conv === 'f') s = fixed(Number(arg), prec === undefined ? 6 : Number(prec));
    else s = Math.trunc(Number(arg)).toFixed(0);
    const w = width === '' ? 0 : Number(width);
    return minus ? s.padEnd(w) : s.padStart(w);
  });
}

/**
 * `x.toFixed(d)`, except that an exact tie rounds to even as glibc's printf does (JavaScript rounds
 * it up: 0.125 gives "0.13" there and "0.12" in C). A double is an exact tie at d decimals exactly
 * when x * 2^(d+1) is an odd integer.
 */
export function fixed(x: number, d: number): string {
  const s = x.toFixed(d);
  const twice = Math.abs(x) * 2 ** (d + 1);
  if (!Number.isInteger(twice) || twice % 2 === 0 || twice > 2 ** 52) return s;
  let n = Math.floor(Math.abs(x) * 10 ** d); // x * 10^d is n + 0.5 exactly here
  if (n % 2 === 1) n += 1;
  const digits = n.toFixed(0).padStart(d + 1, '0');
  const body = d === 0 ? digits : `${digits.slice(0, -d)}.${digits.slice(-d)}`;
  return (x < 0 ? '-' : '') + body;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** Cycles as microseconds at the run's TSC rate. */
export function us(r: RunResult, cycles: number): number {
  return cycles / (r.cycles.ghz * 1000);
}

function int(n: number): string {
  return Number.isInteger(n) ? n.toFixed(0) : String(n);
}

/** part/whole as a percentage with two decimals (0 when whole is 0), without the sign. */
export function share(part: number, whole: number): string {
  return fixed(whole === 0 ? 0 : (part / whole) * 100, 2);
}

function pct(part: number, whole: number): string {
  return `${share(part, whole)}%`;
}

/** Rows of cells as aligned columns, indented by two spaces; `right[i]` right-aligns column i. */
function table(rows: string[][], right: boolean[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: string[]): string =>
    '  ' + row.map((cell, c) => (right[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd();
  return rows.map(line).join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// a. Header

/** Every setting the run used, each as the era has it (simulator/kvm/eras.ts): a setting the kernel
 *  lacks or overrides says so rather than being left out. */
function headerSection(r: RunResult): string {
  const era = eraOf(r.kernel);
  const onOff = (b: boolean) => (b ? 'on' : 'off');
  const mmioCaching = era.mmioSpte ? onOff(r.mmio_caching) : `${onOff(r.mmio_caching)} (no MMIO SPTEs in ${r.kernel})`;
  const bypass = !era.params.bypass_guest_pf ? `none in ${r.kernel}` : r.tdp ? 'off (EPT forces it off)' : onOff(r.bypass_guest_pf);
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  return (
    `Scenario ${lineSafe(r.name)} (${lineSafe(r.file)})\n` +
    `kernel ${r.kernel} · ${r.tdp ? 'EPT (tdp)' : 'shadow paging'} · mmio_caching ${mmioCaching} · ` +
    `oos_shadow ${onOff(r.oos_shadow)} · bypass_guest_pf ${bypass} · vpid ${onOff(r.enable_vpid)}\n` +
    `profile ${r.profile} (${r.cycles.ghz} GHz)${r.cost_overrides ? ` with ${Object.entries(r.cost_overrides).map(([k, v]) => `${k}=${v}`).join(', ')}` : ''} · maxphyaddr ${r.maxphyaddr} · ${plural(r.vcpus, 'vCPU')} · ${plural(r.memslots, 'memslot')}\n`
  );
}

// ---------------------------------------------------------------------------------------------
// b. VM-exit table, as `perf kvm stat report` prints it

/** perf's `decode_str_len`: width of the event-name column. */
const DECODE_STR_LEN = 20;

/** The statistics of one row of a perf kvm stat table (an exit reason, an MMIO or port key). */
export interface PerfStats {
  count: number;
  total_cycles: number;
  min_cycles: number;
  max_cycles: number;
  /** Sample standard deviation, 0 when count < 2. */
  stddev_cycles: number;
}

/** Relative standard error of the mean, in percent (perf's rel_stddev_stats of stddev_stats). */
export function relStddev(e: PerfStats): number {
  if (e.count < 2) return 0;
  const mean = e.total_cycles / e.count;
  if (mean === 0) return 0;
  return (100 * (e.stddev_cycles / Math.sqrt(e.count))) / mean;
}

/** print_result's row: `"%*s "` name, `"%10llu "`, `"%8.2f%% "` ×2, `"%9.2fus "` ×2, then avg. */
function perfRow(r: RunResult, name: string, e: PerfStats, totalCount: number, totalCycles: number): string {
  const samplesPct = totalCount === 0 ? 0 : (e.count / totalCount) * 100;
  const timePct = totalCycles === 0 ? 0 : (e.total_cycles / totalCycles) * 100;
  return (
    sprintf(`%${DECODE_STR_LEN}s `, name) +
    sprintf('%10llu ', e.count) +
    sprintf('%8.2f%% ', samplesPct) +
    sprintf('%8.2f%% ', timePct) +
    sprintf('%9.2fus ', us(r, e.min_cycles)) +
    sprintf('%9.2fus ', us(r, e.max_cycles)) +
    sprintf('%9.2fus ( +-%7.2f%% )', us(r, e.total_cycles / e.count), relStddev(e)) +
    '\n'
  );
}

/**
 * A `perf kvm stat report` table (builtin-kvm.c print_vcpu_info and print_result), rows already in
 * order: title, header, rows, footer, ending after the footer's first newline. `vcpu` -1 is
 * "all VCPUs"; `eventName` is the events_ops name (VM-EXIT, MMIO Access, IO Port Access).
 */
export function perfKvmStatTable(r: RunResult, eventName: string, vcpu: number, rows: { name: string; stats: PerfStats }[]): string {
  const totalCount = rows.reduce((n, e) => n + e.stats.count, 0);
  const totalCycles = rows.reduce((n, e) => n + e.stats.total_cycles, 0);
  const header =
    sprintf(`%${DECODE_STR_LEN}s `, eventName) +
    sprintf('%10s ', 'Samples') +
    sprintf('%9s ', 'Samples%') +
    sprintf('%9s ', 'Time%') +
    sprintf('%11s ', 'Min Time') +
    sprintf('%11s ', 'Max Time') +
    sprintf('%16s ', 'Avg time');
  return (
    'Analyze events for all VMs, ' +
    (vcpu === -1 ? 'all VCPUs:\n\n' : sprintf('VCPU %d:\n\n', vcpu)) +
    header +
    '\n\n' +
    rows.map((e) => perfRow(r, e.name, e.stats, totalCount, totalCycles)).join('') +
    sprintf('\nTotal Samples:%llu, Total events handled time:%.2fus.\n', totalCount, us(r, totalCycles))
  );
}

function exitSection(r: RunResult): string {
  const rows = r.exit_stats
    .filter((e) => e.count > 0)
    .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0));
  return perfKvmStatTable(r, 'VM-EXIT', -1, rows.map((e) => ({ name: e.reason, stats: e })));
}

// ---------------------------------------------------------------------------------------------
// c. Fault classes

function faultSection(r: RunResult): string {
  const all = r.fault_classes.reduce((n, f) => n + f.count, 0);
  const seen = r.fault_classes
    .filter((f) => f.count > 0)
    .sort((a, b) => b.count - a.count || (a.class < b.class ? -1 : a.class > b.class ? 1 : 0));
  if (seen.length === 0) return 'Fault classes\n  (no faults)\n';
  const rows = [['class', 'count', 'percent', 'return code']];
  for (const f of seen) {
    rows.push([f.class, int(f.count), pct(f.count, all), `${f.ret.fn} → ${f.ret.value} (${f.ret.meaning})`]);
  }
  return 'Fault classes\n' + table(rows, [false, true, true, false]);
}

// ---------------------------------------------------------------------------------------------
// d. Counters, in the legacy debugfs kvm_stat view (label column 40 wide, then %10d)

function statLine(name: string, value: string): string {
  return ` ${name.padEnd(40)}${value.padStart(10)}\n`;
}

function statsSection(r: RunResult): string {
  const known = new Set<string>([...KVM_STATS, ...SIM_STATS]);
  const extra = Object.keys(r.stats).filter((k) => !known.has(k)).sort();
  const value = (k: string): string => int(r.stats[k] ?? 0);
  return (
    'kvm statistics - summary\n' +
    statLine('Event', 'Total') +
    KVM_STATS.map((k) => statLine(k, value(k))).join('') +
    '\n' +
    " Simulator counters (MMU Lab's own, not KVM debugfs counters)\n" +
    [...SIM_STATS, ...extra].map((k) => statLine(k, value(k))).join('')
  );
}

// ---------------------------------------------------------------------------------------------
// e. Cycle breakdown

const BAR_WIDTH = 40;

function bar(cycles: number, total: number): string {
  const n = total === 0 ? 0 : Math.max(1, Math.round((cycles / total) * BAR_WIDTH));
  return '█'.repeat(Math.min(BAR_WIDTH, n));
}

function cycleSection(r: RunResult): string {
  const by = r.cycles.by_component;
  const sum = COMPONENTS.reduce((n, c) => n + (by[c] ?? 0), 0);
  const total = r.cycles.total > 0 ? r.cycles.total : sum;
  const used: Component[] = COMPONENTS.filter((c) => (by[c] ?? 0) > 0).sort((a, b) => by[b] - by[a]);
  const rows = [['component', 'cycles', 'percent', '']];
  for (const c of used) rows.push([c, int(by[c]), pct(by[c], total), bar(by[c], total)]);
  const elapsed = us(r, r.cycles.elapsed);
  return (
    'Cycle breakdown\n' +
    (used.length === 0 ? '  (no cycles charged)\n' : table(rows, [false, true, true, false])) +
    `  total    ${int(r.cycles.total)} cycles\n` +
    `  elapsed  ${int(r.cycles.elapsed)} cycles = ${fixed(elapsed, 2)} µs = ${fixed(elapsed / 1000, 3)} ms\n` +
    // Halted time is in elapsed, not in total: the vCPU slept (HLT), it did no work.
    (r.cycles.idle > 0 ? `  idle     ${int(r.cycles.idle)} cycles halted (HLT): in elapsed, not in total\n` : '')
  );
}

// ---------------------------------------------------------------------------------------------
// f. Labels

function labelSection(r: RunResult): string | null {
  const names = Object.keys(r.labels);
  if (names.length === 0) return null;
  const rows = [['label', 'iterations', 'cycles', 'cycles/iter', 'µs/iter']];
  for (const name of names) {
    const l = r.labels[name]!;
    const per = l.count === 0 ? null : l.cycles / l.count;
    rows.push([
      lineSafe(name),
      int(l.count),
      int(l.cycles),
      per === null ? '-' : fixed(per, 2),
      per === null ? '-' : fixed(us(r, per), 3),
    ]);
  }
  return 'Labels\n' + table(rows, [false, true, true, true, true]);
}

// ---------------------------------------------------------------------------------------------
// g. Expectations

function expectSection(r: RunResult): string | null {
  if (r.expect.length === 0) return null;
  const failed = r.expect.filter((e) => !e.ok).length;
  const rows = r.expect.map((e) => [
    `${e.ok ? '✓' : '✗'} ${lineSafe(e.path)}`,
    lineSafe(e.expected),
    e.actual === null ? 'no such value' : `actual ${int(e.actual)}`,
    e.ok ? '' : `${lineSafe(r.file)}:${e.line}:${e.col}`,
  ]);
  const title = `Expectations (${r.expect.length - failed} passed, ${failed} failed)\n`;
  return title + table(rows, [false, false, false, false]);
}

// ---------------------------------------------------------------------------------------------
// h. Accesses

function accessRow(a: AccessRecord): string[] {
  return [
    int(a.step),
    int(a.vcpu),
    a.op,
    a.gva,
    int(a.cpl),
    a.result,
    a.error_code ?? '-',
    a.value ?? '-',
    int(a.line),
  ];
}

function accessSection(r: RunResult): string | null {
  if (!r.accesses) return null;
  const rows = [['step', 'vcpu', 'op', 'gva', 'cpl', 'result', 'error_code', 'value', 'line'], ...r.accesses.map(accessRow)];
  const note = r.accesses_truncated ? '  (access log full: later accesses were not recorded)\n' : '';
  return 'Accesses\n' + table(rows, [true, true, false, false, true, false, false, false, true]) + note;
}

// ---------------------------------------------------------------------------------------------
// i. Warnings

function warningSection(r: RunResult): string | null {
  if (r.warnings.length === 0) return null;
  return 'Warnings\n' + r.warnings.map((w) => `  ${lineSafe(w)}\n`).join('');
}
