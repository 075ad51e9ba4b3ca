// The text table of `mmu-lab compare`: one column per variant; the figure of merit and its change
// against the first variant, then exits by reason, fault classes, and cycles per component (as
// fractions of the first variant's total would hide what moved, they are printed per iteration of
// the metric's label when there is one, else for the whole run).

import type { CompareResult } from '../run/compare';
import { COMPONENTS } from '../cost/profile';
import { lineSafe } from '../util/control_chars';

export function formatCompareText(c: CompareResult): string {
  const v = c.variants;
  const rows: string[][] = [];
  const head = ['', ...v.map((x) => lineSafe(x.label))];
  const m = c.metric;
  const label = lineSafe(m.label ?? '');
  const per = m.kind === 'rate' ? (x: (typeof v)[number]) => x.report.labels[m.label!]?.count || 1 : () => 1;
  rows.push([m.kind === 'rate' ? `${label} (${lineSafe(m.unit)})` : 'elapsed (s)', ...v.map((x) => (m.kind === 'rate' ? x.metric.toFixed(2) : x.metric.toFixed(6)))]);
  rows.push(['change vs first', ...v.map((x, i) => (i === 0 ? '-' : `${x.change_pct >= 0 ? '+' : ''}${x.change_pct.toFixed(2)}%`))]);
  rows.push(['settings', ...v.map((x) => `${x.settings.kernel} ${x.settings.tdp ? 'ept' : 'ept=0'}${!x.settings.tdp && x.settings.kernel === 'v3.0' ? (x.settings.bypass_guest_pf ? ' bypass' : ' no-bypass') : ''}`)]);
  rows.push([]);
  rows.push(['exits', ...v.map(() => '')]);
  const reasons = [...new Set(v.flatMap((x) => Object.keys(x.report.exits)))].sort();
  for (const r of reasons) rows.push([`  ${r}`, ...v.map((x) => String(x.report.exits[r] ?? 0))]);
  rows.push(['fault classes', ...v.map(() => '')]);
  const classes = [...new Set(v.flatMap((x) => Object.entries(x.report.faults).filter(([, n]) => n > 0).map(([k]) => k)))];
  for (const k of classes) rows.push([`  ${k}`, ...v.map((x) => String(x.report.faults[k] ?? 0))]);
  rows.push(['counters', ...v.map(() => '')]);
  for (const k of ['memslot_lookups', 'memslot_compares', 'memslot_misses', 'guest_walks', 'lockless_walks', 'mmio_sptes_created', 'insn_emulation', 'userspace_exits']) {
    rows.push([`  ${k}`, ...v.map((x) => String(x.report.stats[k] ?? 0))]);
  }
  rows.push([m.kind === 'rate' ? `cycles per ${label}` : 'cycles', ...v.map(() => '')]);
  for (const comp of COMPONENTS) {
    if (v.every((x) => x.report.cycles.by_component[comp] === 0)) continue;
    rows.push([`  ${comp}`, ...v.map((x) => Math.round(x.report.cycles.by_component[comp] / per(x)).toString())]);
  }
  rows.push(['  total', ...v.map((x) => Math.round(x.report.cycles.total / per(x)).toString())]);
  const widths = head.map((_, col) => Math.max(head[col]!.length, ...rows.map((r) => (r[col] ?? '').length)));
  const line = (r: string[]) => r.map((cell, col) => (col === 0 ? cell.padEnd(widths[0]!) : cell.padStart(widths[col]!))).join('  ').trimEnd();
  const out = [`Compare: ${lineSafe(c.name)} (${lineSafe(c.file)})`, '', line(head), ...rows.map((r) => (r.length === 0 ? '' : line(r)))];
  // Compare Kernels: what was changed to run the scenario on each kernel, and the kernel line why.
  for (const x of v) for (const n of x.notes ?? []) out.push(`note (${lineSafe(x.label)}): ${lineSafe(n)}`);
  for (const x of v) for (const w of x.report.warnings) out.push(`warning (${lineSafe(x.label)}): ${lineSafe(w)}`);
  return out.join('\n') + '\n';
}
