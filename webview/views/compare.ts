// The scenario's `compare:` variants side by side: the figure of merit and its change against the
// first variant (the baseline), then what moved (exits, fault classes, counters, cycles), as
// `mmu-lab compare` prints them (simulator/report/compare_text.ts). Variants often differ by a few
// percent, so the chart draws the change itself, and every table has the change against the
// baseline next to each other variant's value.

import { fmtInt, fmtPct } from '../../shared/format';
import type { PanelRun } from '../../shared/protocol';
import { COMPONENTS } from '../../simulator/cost/profile';
import type { CompareResult, VariantResult } from '../../simulator/run/compare';
import { changeChart } from '../chart';
import { docLink } from '../doc_link';
import { h, replace } from '../dom';
import { dataTable } from '../table';
import type { View, ViewContext } from '../view';

const EXAMPLE = `metric: { label: transaction, unit: tps }   # or metric: elapsed (the default)
compare:
  - { label: "ept, before", kernel: v3.0, mmu: { tdp: true } }
  - { label: "ept, after",  kernel: v3.1, mmu: { tdp: true } }
  - { label: "ept=0, after", kernel: v3.1, mmu: { tdp: false } }`;

/** The counters `mmu-lab compare` prints, in its order. */
const COUNTERS = ['memslot_lookups', 'memslot_compares', 'memslot_misses', 'guest_walks', 'lockless_walks', 'mmio_sptes_created', 'insn_emulation', 'userspace_exits'];

export class CompareView implements View {
  readonly id = 'compare' as const;
  readonly title = 'Compare';
  readonly icon = 'git-compare';
  readonly root = h('div', { class: 'compare-view' });

  constructor(readonly ctx: ViewContext) {}

  isEmpty(run: PanelRun): boolean {
    return !run.compare;
  }

  show(run: PanelRun): void {
    if (!run.compare) {
      replace(
        this.root,
        h(
          'section',
          { class: 'compare-empty', 'data-testid': 'compare-empty' },
          h('p', null, 'This scenario has no ', h('code', null, 'compare:'), ' section. Add one to run the scenario under several settings and see its figure of merit side by side, for example:'),
          h('pre', { class: 'mono' }, EXAMPLE),
          h('p', { class: 'note' }, 'Each variant has a label and overrides some of kernel, mmu, host and memslots (see ', docLink('scenario-format'), ').'),
          h('p', { class: 'note' }, 'Or run MMU Lab: Compare Kernels (command palette or CodeLens) to see this scenario under each modelled kernel, no compare: section needed.'),
        ),
      );
      return;
    }
    const c = run.compare;
    replace(this.root, metricChart(c), variantTable(c), notesSection(c), exitsTable(c), faultsTable(c), countersTable(c), cyclesTable(c));
  }
}

function metricName(c: CompareResult): string {
  return c.metric.kind === 'rate' ? `${c.metric.label} (${c.metric.unit})` : 'elapsed (s)';
}

/** The metric as compare_text.ts prints it, with its unit. */
function metricText(c: CompareResult, v: VariantResult): string {
  return c.metric.kind === 'rate' ? `${v.metric.toFixed(2)} ${c.metric.unit}` : `${v.metric.toFixed(6)} s`;
}

function changeText(v: VariantResult, i: number): string {
  return i === 0 ? '—' : fmtPct(v.change_pct);
}

/** Better or worse than the baseline, by the metric's direction. */
function verdict(c: CompareResult, diff: number): 'better' | 'worse' | 'same' {
  if (diff === 0) return 'same';
  return diff > 0 === c.metric.higher_is_better ? 'better' : 'worse';
}

/** The change column of the variants table: `+62.52 tps (+1.71 %), better`. */
function metricChangeText(c: CompareResult, v: VariantResult, i: number): string {
  if (i === 0) return 'baseline';
  const base = c.variants[0]!;
  const diff = v.metric - base.metric;
  const abs = c.metric.kind === 'rate' ? `${signedFixed(diff, 2)} ${c.metric.unit}` : `${signedFixed(diff, 6)} s`;
  return `${abs} (${base.metric === 0 ? 'from 0' : fmtPct(v.change_pct)}), ${verdict(c, diff)}`;
}

/** A count's change against the baseline's: `+12 (+1.03 %)`, `+999 (from 0)`, `0`. */
function countChangeText(base: number, value: number): string {
  const d = value - base;
  if (d === 0) return '0';
  return `${d > 0 ? '+' : ''}${fmtInt(d)} (${base === 0 ? 'from 0' : fmtPct((d / base) * 100)})`;
}

/** `x` to `digits` places with its sign: `+1.50`, `-0.25`, `0.00` (never `-0.00`). */
function signedFixed(x: number, digits: number): string {
  const t = x.toFixed(digits);
  return Number(t) > 0 ? `+${t}` : Number(t) === 0 ? (0).toFixed(digits) : t;
}

function exitCount(v: VariantResult): number {
  return Object.values(v.report.exits).reduce((n, x) => n + x, 0);
}

const VERDICT_COLOR = {
  better: 'var(--vscode-charts-green, #89d185)',
  worse: 'var(--vscode-charts-red, #f14c4c)',
  same: 'var(--vscode-foreground, #cccccc)',
};

/** The metric's change against the baseline, in percent, as bars from a zero line (changeChart). */
function metricChart(c: CompareResult): HTMLElement {
  const better = c.metric.higher_is_better ? 'higher is better' : 'lower is better';
  const base = c.variants[0]!;
  return h(
    'section',
    { class: 'compare-chart', 'data-testid': 'compare-chart', 'data-higher-is-better': String(c.metric.higher_is_better) },
    h('h3', null, `Change in ${metricName(c)} against ${base.label}, in %: `, h('span', { class: 'note', 'data-testid': 'metric-direction' }, better)),
    h('p', { class: 'note', 'data-testid': 'chart-reading' }, `The bars are each variant's difference from ${base.label} (the zero line), not its value; the values are beside them.`),
    changeChart(
      c.variants.map((v, i) => {
        const diff = v.metric - base.metric;
        return {
          name: v.label,
          change: i === 0 ? 0 : v.change_pct,
          color: VERDICT_COLOR[verdict(c, diff)],
          text: i === 0 ? `${metricText(c, v)} (baseline)` : `${metricText(c, v)} (${changeText(v, i)}, ${verdict(c, diff)})`,
          title: `${v.label}: ${metricText(c, v)}${i === 0 ? ' (baseline)' : `; against ${base.label}: ${metricChangeText(c, v, i)}`}`,
        };
      }),
      { dataKey: 'variant', label: `Change in ${metricName(c)} against ${base.label} per variant, ${better}`, axis: (x) => fmtPct(x), zero: base.label },
    ),
  );
}

function variantTable(c: CompareResult): HTMLElement {
  const table = dataTable({
    id: 'compare',
    caption: `Variants (change against ${c.variants[0]?.label ?? 'the first'})`,
    columns: [
      { title: 'label' },
      { title: 'kernel', priority: 2 },
      { title: 'MMU mode', priority: 2 },
      { title: 'bypass_guest_pf', priority: 3 },
      { title: 'mmio_caching', priority: 3 },
      { title: 'profile', priority: 3 },
      { title: metricName(c), numeric: true },
      { title: `change vs ${c.variants[0]?.label ?? 'the first'}`, numeric: true },
      { title: 'exits', numeric: true, priority: 2 },
      { title: 'total cycles', numeric: true, priority: 3 },
    ],
    rows: c.variants.map((v, i) => [
      v.label,
      v.settings.kernel,
      v.settings.tdp ? 'EPT' : 'shadow',
      v.settings.bypass_guest_pf ? 'yes' : 'no',
      v.settings.mmio_caching ? 'on' : 'off',
      v.settings.profile,
      metricText(c, v),
      metricChangeText(c, v, i),
      fmtInt(exitCount(v)),
      fmtInt(v.report.cycles.total),
    ]),
  });
  return table;
}

/** Compare Kernels: what was changed to run the scenario on each kernel, and the kernel line why.
 *  Text only (h() makes text nodes): a note quotes kernel source, which has `<` and `&`. */
function notesSection(c: CompareResult): HTMLElement | null {
  const noted = c.variants.filter((v) => (v.notes ?? []).length > 0);
  if (noted.length === 0) return null;
  return h(
    'section',
    { class: 'compare-notes', 'data-testid': 'compare-notes' },
    h('h3', null, 'Run as each kernel would'),
    h(
      'ul',
      null,
      ...noted.flatMap((v) => v.notes.map((n) => h('li', { 'data-variant': v.label }, h('strong', null, v.label), ': ', n))),
    ),
  );
}

/** One row per name, one column per variant, each variant after the first followed by its change
 *  against the first (`Δ LABEL`). */
function sideBySide(id: string, caption: string, first: string, c: CompareResult, names: readonly string[], value: (v: VariantResult, name: string) => number): HTMLElement {
  const columns = [{ title: first }, ...c.variants.flatMap((v, i) => (i === 0 ? [{ title: v.label, numeric: true }] : [{ title: v.label, numeric: true }, { title: `Δ ${v.label}`, numeric: true, priority: 2 }]))];
  return dataTable({
    id,
    caption: c.variants.length > 1 ? `${caption} (Δ: change against ${c.variants[0]!.label})` : caption,
    columns,
    rows: names.map((n) => {
      const base = value(c.variants[0]!, n);
      return [n, ...c.variants.flatMap((v, i) => (i === 0 ? [fmtInt(base)] : [fmtInt(value(v, n)), countChangeText(base, value(v, n))]))];
    }),
  });
}

function exitsTable(c: CompareResult): HTMLElement {
  const reasons = [...new Set(c.variants.flatMap((v) => Object.keys(v.report.exits)))].sort();
  return sideBySide('compare-exits', 'Exits by reason', 'exit reason', c, reasons, (v, r) => v.report.exits[r] ?? 0);
}

function faultsTable(c: CompareResult): HTMLElement {
  const classes = [...new Set(c.variants.flatMap((v) => Object.entries(v.report.faults).filter(([, n]) => n > 0).map(([k]) => k)))];
  return sideBySide('compare-faults', 'Fault classes', 'class', c, classes, (v, k) => v.report.faults[k] ?? 0);
}

function countersTable(c: CompareResult): HTMLElement {
  return sideBySide('compare-counters', 'Counters', 'counter', c, COUNTERS, (v, k) => v.report.stats[k] ?? 0);
}

// Per iteration of the metric's label (else the whole run), so variants with different totals compare.
function cyclesTable(c: CompareResult): HTMLElement {
  const m = c.metric;
  const per = (v: VariantResult) => (m.kind === 'rate' ? v.report.labels[m.label!]?.count || 1 : 1);
  const used = COMPONENTS.filter((k) => !c.variants.every((v) => v.report.cycles.by_component[k] === 0));
  return sideBySide('compare-cycles', m.kind === 'rate' ? `Cycles per ${m.label}` : 'Cycles', 'component', c, [...used, 'total'], (v, k) =>
    Math.round((k === 'total' ? v.report.cycles.total : v.report.cycles.by_component[k as (typeof COMPONENTS)[number]]) / per(v)),
  );
}
