// The scenario's `compare:` variants side by side: the figure of merit and its change against the
// first variant, then what moved (exits, fault classes, counters, cycles), as `mmu-lab compare`
// prints them (simulator/report/compare_text.ts).

import { fmtInt, fmtPct } from '../../shared/format';
import type { PanelRun } from '../../shared/protocol';
import { COMPONENTS } from '../../simulator/cost/profile';
import type { CompareResult, VariantResult } from '../../simulator/run/compare';
import { barChart, chartColor } from '../chart';
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
          h('p', { class: 'note' }, 'Each variant has a label and overrides some of kernel, mmu, host and memslots (docs/scenario-format.md).'),
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

function exitCount(v: VariantResult): number {
  return Object.values(v.report.exits).reduce((n, x) => n + x, 0);
}

function metricChart(c: CompareResult): HTMLElement {
  const better = c.metric.higher_is_better ? 'higher is better' : 'lower is better';
  return h(
    'section',
    { class: 'compare-chart', 'data-testid': 'compare-chart', 'data-higher-is-better': String(c.metric.higher_is_better) },
    h('h3', null, `${metricName(c)}: `, h('span', { class: 'note', 'data-testid': 'metric-direction' }, better)),
    barChart(
      c.variants.map((v, i) => ({
        name: v.label,
        value: v.metric,
        color: chartColor(i),
        text: i === 0 ? metricText(c, v) : `${metricText(c, v)} (${changeText(v, i)})`,
        title: `${v.label}: ${metricText(c, v)}${i === 0 ? ' (baseline)' : `, ${changeText(v, i)} vs ${c.variants[0]!.label}`}`,
      })),
      { dataKey: 'variant', label: `${metricName(c)} per variant, ${better}` },
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
      { title: 'change %', numeric: true },
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
      changeText(v, i),
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

/** One row per name, one column per variant. */
function sideBySide(id: string, caption: string, first: string, c: CompareResult, names: readonly string[], value: (v: VariantResult, name: string) => number): HTMLElement {
  return dataTable({
    id,
    caption,
    columns: [{ title: first }, ...c.variants.map((v) => ({ title: v.label, numeric: true }))],
    rows: names.map((n) => [n, ...c.variants.map((v) => fmtInt(value(v, n)))]),
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
