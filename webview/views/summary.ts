// The run at a glance: the same sections as the CLI's text report (simulator/report/text.ts), with
// the same formulas, sort orders and rounding, so a number read here equals the one `mmu-lab run`
// prints.

import { fmtInt } from '../../shared/format';
import type { PanelRun } from '../../shared/protocol';
import { COMPONENTS, type Component } from '../../simulator/cost/profile';
import { fixed, relStddev, share, us } from '../../simulator/report/text';
import { kvmStatLines } from '../../simulator/report/kvm_stat_text';
import type { ExitStats, RunResult } from '../../simulator/run/result';
import { KVM_STATS, SIM_STATS } from '../../simulator/trace/stats';
import { GUEST_OS_STATS } from '../../simulator/guest/os_stats';
import { chartColor, stackedBar, swatch } from '../chart';
import { docLink } from '../doc_link';
import { h, icon, replace } from '../dom';
import { post } from '../host';
import { kernelFnLinks } from '../kernel_link';
import { dataTable, type Column } from '../table';
import type { View, ViewContext } from '../view';

export class SummaryView implements View {
  readonly id = 'summary' as const;
  readonly title = 'Summary';
  readonly icon = 'graph';
  readonly root = h('div', { class: 'summary-view' });

  constructor(readonly ctx: ViewContext) {}

  show(run: PanelRun): void {
    const r = run.result;
    replace(this.root, warningList(r), figureOfMerit(r), exitTable(r), faultTable(r), cycleBreakdown(r), expectTable(r), counterTables(r), mmioSection(r));
  }
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function warningList(r: RunResult): HTMLElement | null {
  if (r.warnings.length === 0) return null;
  return h(
    'section',
    { class: 'warnings', 'data-testid': 'warnings', role: 'alert' },
    h('h3', null, icon('warning'), ' Warnings from the simulated kernel'),
    h('ul', null, ...r.warnings.map((w) => h('li', null, w))),
  );
}

// The figure of merit, as `compare` computes it (run/compare.ts metricValue): a label's iterations
// per simulated second, or the elapsed time.
function figureOfMerit(r: RunResult): HTMLElement {
  const names = Object.keys(r.labels);
  const rows = names.map((name) => {
    const l = r.labels[name]!;
    const per = l.count === 0 ? null : l.cycles / l.count;
    const rate = l.cycles === 0 ? null : l.count / (l.cycles / (r.cycles.ghz * 1e9));
    return [name, fmtInt(l.count), fmtInt(l.cycles), per === null ? '-' : fixed(per, 2), per === null ? '-' : fixed(us(r, per), 3), rate === null ? '-' : `${fixed(rate, 2)} /s`];
  });
  const elapsed = us(r, r.cycles.elapsed);
  return h(
    'section',
    { class: 'figure-of-merit', 'data-testid': 'figure-of-merit' },
    names.length > 0
      ? dataTable({
          id: 'labels',
          caption: 'Figure of merit (labelled repeats)',
          columns: [
            { title: 'label' },
            { title: 'iterations', numeric: true, priority: 3 },
            { title: 'cycles', numeric: true, priority: 3 },
            { title: 'cycles/iter', numeric: true, priority: 2 },
            { title: 'µs/iter', numeric: true },
            { title: 'rate', numeric: true },
          ],
          rows,
        })
      : h('p', { class: 'note' }, 'No labelled repeat: the figure of merit is the elapsed time.'),
    h(
      'p',
      { class: 'run-time', 'data-testid': 'run-time' },
      `total ${fmtInt(r.cycles.total)} cycles · elapsed ${fmtInt(r.cycles.elapsed)} cycles = ${fixed(elapsed, 2)} µs = ${fixed(elapsed / 1000, 3)} ms at ${r.cycles.ghz} GHz` +
        // Halted time (hlt steps) is in elapsed but is no CPU work: said apart, as the text report does.
        (r.cycles.idle > 0 ? ` · idle ${fmtInt(r.cycles.idle)} cycles halted (HLT): in elapsed, not in total` : ''),
    ),
  );
}

// `perf kvm stat report`: exits sorted by count, then by name; times from kvm_exit to kvm_entry.
function exitTable(r: RunResult): HTMLElement {
  const exits = r.exit_stats.filter((e) => e.count > 0).sort((a, b) => b.count - a.count || byName(a.reason, b.reason));
  const totalCount = exits.reduce((n, e) => n + e.count, 0);
  const totalCycles = exits.reduce((n, e) => n + e.total_cycles, 0);
  const time = (c: number) => `${fixed(us(r, c), 2)} µs`;
  const row = (e: ExitStats) => [
    e.reason,
    fmtInt(e.count),
    `${share(e.count, totalCount)}%`,
    `${share(e.total_cycles, totalCycles)}%`,
    time(e.min_cycles),
    time(e.max_cycles),
    `${time(e.total_cycles / e.count)} (± ${fixed(relStddev(e), 2)}%)`,
  ];
  return h(
    'div',
    { class: 'exit-stats' },
    dataTable({
      id: 'exits',
      caption: 'VM exits (perf kvm stat)',
      columns: perfColumns('VM-EXIT'),
      rows: exits.map(row),
    }),
    h('p', { class: 'note', 'data-testid': 'exit-totals' }, `Total Samples: ${fmtInt(totalCount)}, Total events handled time: ${fixed(us(r, totalCycles), 2)} µs.`),
  );
}

// Fault classes that happened, by count then name; the percentage is of all faults, as in the CLI.
function faultTable(r: RunResult): HTMLElement {
  const all = r.fault_classes.reduce((n, f) => n + f.count, 0);
  const seen = r.fault_classes.filter((f) => f.count > 0).sort((a, b) => b.count - a.count || byName(a.class, b.class));
  const caption = `Fault classes (kernel ${r.kernel} return codes)`;
  if (seen.length === 0) {
    // Same hook as a table, with a note in place of an empty one.
    return h('section', { class: 'data-table', 'data-table': 'fault-classes' }, h('div', { class: 'table-bar' }, h('h3', null, caption)), h('p', { class: 'empty', 'data-testid': 'no-faults' }, 'No faults in this run.'));
  }
  const table = dataTable({
    id: 'fault-classes',
    caption,
    columns: [{ title: 'class' }, { title: 'count', numeric: true }, { title: 'percent', numeric: true, priority: 2 }, { title: 'function' }, { title: 'value', numeric: true, priority: 3 }, { title: 'meaning', priority: 2 }],
    rows: seen.map((f) => [f.class, fmtInt(f.count), `${share(f.count, all)}%`, f.ret.fn, String(f.ret.value), f.ret.meaning]),
    // The deciding function links to its definition in the run's kernel.
    cellNode: (i, j) => (j === 3 ? kernelFnLinks(r.kernel, seen[i]!.ret.fn) : null),
  });
  table.append(h('p', { class: 'note', 'data-testid': 'fault-class-doc' }, 'What each class means, and the return codes behind it: ', docLink('fault-classes'), '.'));
  return table;
}

// A fixed colour per component, so it keeps its colour from run to run; the components that are
// usually large come first and get the theme's plain chart colours.
const COLOR_ORDER: readonly Component[] = [
  'device_userspace',
  'guest_compute',
  'vm_exit_entry',
  'emulation',
  'guest_walk',
  'memslot_search',
  ...COMPONENTS.filter((c) => !['device_userspace', 'guest_compute', 'vm_exit_entry', 'emulation', 'guest_walk', 'memslot_search'].includes(c)),
];

// Components with cycles, largest first; percentages of cycles.total (of their sum when total is 0).
function cycleBreakdown(r: RunResult): HTMLElement {
  const by = r.cycles.by_component;
  const sum = COMPONENTS.reduce((n, c) => n + (by[c] ?? 0), 0);
  const total = r.cycles.total > 0 ? r.cycles.total : sum;
  const used = COMPONENTS.filter((c) => (by[c] ?? 0) > 0).sort((a, b) => by[b] - by[a]);
  const color = (c: Component) => chartColor(COLOR_ORDER.indexOf(c));
  const segments = used.map((c) => ({ name: c, value: by[c], color: color(c), title: `${c}: ${fmtInt(by[c])} cycles (${share(by[c], total)} %)` }));
  const legend = h(
    'ul',
    { class: 'chart-legend' },
    ...used.map((c) => h('li', { 'data-component': c }, swatch(color(c)), h('span', { class: 'legend-name' }, c), h('span', { class: 'legend-value' }, `${share(by[c], total)} %`))),
  );
  return h(
    'section',
    { class: 'cycle-breakdown' },
    h('h3', null, 'Cycle breakdown'),
    used.length === 0
      ? h('p', { class: 'empty', 'data-testid': 'cycle-chart' }, 'No cycles charged.')
      : h('div', { class: 'cycle-chart', 'data-testid': 'cycle-chart' }, stackedBar(segments, { dataKey: 'component', label: 'Cycles by component' }), legend),
    dataTable({
      id: 'cycles',
      caption: 'Cycles by component',
      columns: [{ title: 'component' }, { title: 'cycles', numeric: true }, { title: 'percent', numeric: true }],
      rows: used.map((c) => [c, fmtInt(by[c]), `${share(by[c], total)}%`]),
    }),
  );
}

function expectTable(r: RunResult): HTMLElement | null {
  if (r.expect.length === 0) return null;
  const failed = r.expect.filter((e) => !e.ok).length;
  const table = dataTable({
    id: 'expect',
    caption: `Expectations (${r.expect.length - failed} passed, ${failed} failed)`,
    columns: [{ title: 'path' }, { title: 'expected' }, { title: 'actual', numeric: true }, { title: 'ok' }, { title: 'line', numeric: true, priority: 2 }],
    rows: r.expect.map((e) => [e.path, e.expected, e.actual === null ? 'no such value' : fmtInt(e.actual), e.ok ? '✓' : '✗', String(e.line)]),
    onRow: (i) => post({ type: 'revealLine', line: r.expect[i]!.line }),
    // Failures are marked so the stylesheet can colour them; the ✓/✗ text says the same for screen readers.
    rowAttrs: (i) => ({ 'data-ok': String(r.expect[i]!.ok) }),
  });
  return table;
}

// KVM's own debugfs counters and the simulator's apart, as the CLI prints them (unknown names last).
function counterTables(r: RunResult): HTMLElement {
  const known = new Set<string>([...KVM_STATS, ...SIM_STATS]);
  const extra = Object.keys(r.stats).filter((k) => !known.has(k)).sort();
  const rows = (names: readonly string[]) => names.map((k) => [k, fmtInt(r.stats[k] ?? 0)]);
  const columns = [{ title: 'counter' }, { title: 'value', numeric: true }];
  return h(
    'div',
    { class: 'counter-tables' },
    dataTable({ id: 'counters', caption: 'kvm_stat counters (KVM debugfs)', columns, rows: rows(KVM_STATS) }),
    dataTable({ id: 'sim-counters', caption: "Simulator counters (MMU Lab's own, not KVM debugfs counters)", columns, rows: rows([...SIM_STATS, ...extra]) }),
    guestOsTable(r),
  );
}

/** What the guest kernel did for the guest OS steps, in the text report's order (only with guest.os). */
function guestOsTable(r: RunResult): HTMLElement | null {
  const os = r.guest_os;
  if (!os) return null;
  return dataTable({ id: 'guest-os', caption: 'Guest OS (Linux 3.0.1)', columns: [{ title: 'count' }, { title: 'value', numeric: true }], rows: GUEST_OS_STATS.map((k) => [k, fmtInt(os[k])]) });
}

// `perf kvm stat report --event=mmio [--vcpu=N]`: the rows, order and formulas of `mmu-lab stat`
// (simulator/report/kvm_stat_text.ts), for all vCPUs or the one selected. Times in µs.
function mmioSection(r: RunResult): HTMLElement {
  const select = h('vscode-single-select', { 'data-testid': 'mmio-vcpu', 'aria-label': 'MMIO accesses of vCPU' }) as HTMLElement & { value: string };
  const options: [string, string][] = [['-1', 'All vCPUs'], ...Array.from({ length: r.vcpus }, (_, v): [string, string] => [String(v), `vCPU ${v}`])];
  replace(select, ...options.map(([v, label]) => h('vscode-option', { value: v, selected: v === '-1' }, label)));
  // The select knows its options only after its slot settles, so the first table is drawn for "all"
  // without asking it; later ones follow its value.
  const body = h('div', { class: 'mmio-table' });
  select.addEventListener('change', () => replace(body, mmioTable(r, Number(select.value))));
  replace(body, mmioTable(r, -1));
  return h('section', { class: 'mmio-stats', 'data-testid': 'mmio-stats' }, h('label', { class: 'mmio-filter' }, 'vCPU ', select), body);
}

/** perf kvm stat's columns; in a narrow panel Min and Max Time drop out first, then Samples%. */
function perfColumns(key: string): Column[] {
  const priority = [1, 1, 2, 1, 3, 3, 1];
  return [key, 'Samples', 'Samples%', 'Time%', 'Min Time', 'Max Time', 'Avg time'].map((title, i) => ({ title, numeric: i > 0, priority: priority[i] }));
}

function mmioTable(r: RunResult, vcpu: number): HTMLElement {
  const lines = kvmStatLines(r, { event: 'mmio', vcpu, key: 'sample' });
  const totalCount = lines.reduce((n, l) => n + l.stats.count, 0);
  const totalCycles = lines.reduce((n, l) => n + l.stats.total_cycles, 0);
  const time = (c: number) => fixed(us(r, c), 2);
  const rows = lines.map(({ name, stats: e }) => [
    name,
    fmtInt(e.count),
    `${share(e.count, totalCount)}%`,
    `${share(e.total_cycles, totalCycles)}%`,
    time(e.min_cycles),
    time(e.max_cycles),
    `${time(e.total_cycles / e.count)} ± ${fixed(relStddev(e), 2)}%`,
  ]);
  const who = vcpu === -1 ? 'all vCPUs' : `vCPU ${vcpu}`;
  return h(
    'div',
    null,
    dataTable({
      id: 'mmio',
      caption: `MMIO accesses (${who}), times in µs`,
      columns: perfColumns('address:R/W'),
      rows,
    }),
    h('p', { class: 'note', 'data-testid': 'mmio-totals' }, `Total Samples: ${fmtInt(totalCount)}, Total events handled time: ${time(totalCycles)} µs.`),
  );
}
