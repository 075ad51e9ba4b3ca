// The timeline: the run's trace events as one swimlane per vCPU on the common clock (exits as
// slices, their handler's events inside, race points and SRCU waits marked), a details pane with
// every field of the selected event, and below them every event in a virtualized list (a run keeps
// up to the trace buffer's size, 100,000 events or more), the accessible secondary view. Filtered by
// fault class, vCPU, address and event name; the simulator's probes are marked and can be hidden.
// Selecting an event reveals its scenario line; the editor's cursor line highlights its events.

import type { PanelRun } from '../../shared/protocol';
import type { TraceEventRecord } from '../../simulator/index';
import { h, replace } from '../dom';
import { EventDetails } from '../event_details';
import { post } from '../host';
import { buildLanes, isProbe, K_ENTRY, lowerBound, sliceAt, type LaneModel } from '../lanes';
import { Swimlanes } from '../swimlanes';
import type { View, ViewContext } from '../view';
import { VirtualList } from '../virtual_list';

/** Pixels; the same as `.tl-row` in panel.css (via --row-height). */
const ROW_HEIGHT = 22;

/** The fields that hold an address (guest virtual, guest physical or a frame number). */
const ADDRESS_FIELDS: ReadonlySet<string> = new Set(['addr', 'address', 'gpa', 'gva', 'gfn', 'rip']);

/** One formatter for every row (toLocaleString would build one per call). */
const INT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

const COLUMNS = ['seq', 'step', 'vCPU', 'cycles', 'event', 'fault class', 'line', 'fields'] as const;
const NUMERIC = [true, true, true, true, false, false, true, false];

export class TimelineView implements View {
  readonly id = 'timeline' as const;
  readonly title = 'Timeline';
  readonly icon = 'history';
  readonly root = h('div', { class: 'timeline-view' });

  private events: readonly TraceEventRecord[] = [];
  /** Each event's seq, ascending: the index of a seq is a binary search. */
  private seqs = new Float64Array(0);
  private lines = new Int32Array(0);
  private vcpus: number[] = [];
  private model: LaneModel = { lanes: [], start: 0, end: 0 };
  /** The trace buffer lost the run's first events. */
  private lostStart = false;
  private uri: string | null = null;
  /** Indices into `events` that pass the filters, in seq order. */
  private shown = new Int32Array(0);
  /** The scenario line whose events are highlighted (0: none). */
  private highlight = 0;

  private readonly classSelect = h('vscode-single-select', { 'data-testid': 'filter-class', 'aria-label': 'Fault class' });
  private readonly vcpuSelect = h('vscode-single-select', { 'data-testid': 'filter-vcpu', 'aria-label': 'vCPU' });
  private readonly addressBox = h('vscode-textfield', { 'data-testid': 'filter-address', placeholder: 'address (hex)', 'aria-label': 'Address contains (hex)' });
  private readonly nameBox = h('vscode-textfield', { 'data-testid': 'filter-name', placeholder: 'names, e.g. kvm_exit mmio', 'aria-label': 'Event name contains (words separated by spaces or commas)' });
  private readonly probesBox = h('vscode-checkbox', { 'data-testid': 'filter-probes', label: 'Probes', title: 'Show the simulator\'s probes (events with no kernel tracepoint)' }, 'Probes');
  private readonly details = new EventDetails();
  private readonly lanes: Swimlanes;
  private readonly count = h('span', { class: 'tl-count', 'data-testid': 'timeline-count', role: 'status' });
  private readonly dropped = h('p', { class: 'tl-dropped', 'data-testid': 'timeline-dropped' });
  private readonly empty = h('p', { class: 'empty tl-empty', 'data-testid': 'timeline-empty' });
  private readonly list: VirtualList;

  constructor(readonly ctx: ViewContext) {
    this.lanes = new Swimlanes({ onSelect: (i) => this.selectEvent(i, 'lanes') });
    this.list = new VirtualList({
      rowHeight: ROW_HEIGHT,
      attrs: { 'data-testid': 'timeline-list', class: 'vlist timeline-list', 'aria-label': 'Trace events' },
      createRow: () => {
        const row = h('div', { class: 'tl-row' });
        for (let c = 0; c < COLUMNS.length; c++) row.appendChild(h('span', { class: NUMERIC[c] ? 'tl-cell num' : 'tl-cell' }, ''));
        return row;
      },
      renderRow: (row, index, selected) => this.renderRow(row, index, selected),
      onSelect: (index) => {
        const i = this.shown[index];
        if (i !== undefined) this.selectEvent(i, 'list');
      },
    });

    this.classSelect.addEventListener('change', () => {
      this.ctx.state.timeline.cls = this.classSelect.value;
      this.applyFilters();
    });
    this.vcpuSelect.addEventListener('change', () => {
      this.ctx.state.timeline.vcpu = Number(this.vcpuSelect.value);
      this.applyFilters();
    });
    this.onTyped(this.addressBox, (v) => (this.ctx.state.timeline.address = v));
    this.onTyped(this.nameBox, (v) => (this.ctx.state.timeline.name = v));
    this.probesBox.addEventListener('change', () => {
      this.ctx.state.timeline.probes = (this.probesBox as HTMLElement & { checked: boolean }).checked;
      this.applyFilters();
    });

    const header = h('div', { class: 'tl-row tl-header', 'aria-hidden': 'true' }, ...COLUMNS.map((c, i) => h('span', { class: NUMERIC[i] ? 'tl-cell num' : 'tl-cell' }, c)));
    replace(
      this.root,
      h(
        'div',
        { class: 'tl-filters' },
        h('label', { class: 'tl-filter' }, 'Class ', this.classSelect),
        h('label', { class: 'tl-filter' }, 'vCPU ', this.vcpuSelect),
        h('label', { class: 'tl-filter' }, 'Address ', this.addressBox),
        h('label', { class: 'tl-filter' }, 'Name ', this.nameBox),
        this.probesBox,
        this.count,
      ),
      this.dropped,
      legend(),
      h('div', { class: 'tl-main' }, this.lanes.element, this.details.element),
      this.empty,
      h('h3', { class: 'tl-list-title' }, 'Events'),
      h('div', { class: 'tl-table' }, header, this.list.element),
    );
  }

  isEmpty(run: PanelRun): boolean {
    return run.result.trace.events.length === 0;
  }

  show(run: PanelRun): void {
    const trace = run.result.trace;
    this.details.kernel = run.result.kernel;
    const sameScenario = this.uri === run.uri;
    this.uri = run.uri;
    this.events = trace.events;
    this.lostStart = trace.dropped > 0;
    this.seqs = Float64Array.from(this.events, (e) => e.seq);
    this.lines = Int32Array.from(this.events, (e) => e.line);
    const f = this.ctx.state.timeline;

    const classes = [...new Set(this.events.map((e) => e.class).filter((c): c is string => !!c))].sort();
    if (f.cls && !classes.includes(f.cls)) f.cls = '';
    setOptions(this.classSelect, [['', 'All classes'], ...classes.map((c): [string, string] => [c, c])], f.cls);

    const vcpus = new Set<number>();
    for (let v = 0; v < run.result.vcpus; v++) vcpus.add(v);
    for (const e of this.events) vcpus.add(e.vcpu);
    if (f.vcpu >= 0 && !vcpus.has(f.vcpu)) f.vcpu = -1;
    this.vcpus = [...vcpus].sort((a, b) => a - b);
    setOptions(this.vcpuSelect, [['-1', 'All vCPUs'], ...this.vcpus.map((v): [string, string] => [String(v), `vCPU ${v}`])], String(f.vcpu));

    this.addressBox.value = f.address;
    this.nameBox.value = f.name;
    (this.probesBox as HTMLElement & { checked: boolean }).checked = f.probes;

    replace(
      this.dropped,
      trace.dropped > 0
        ? `${INT.format(trace.dropped)} earlier events were dropped: the run recorded ${INT.format(trace.total)} and the trace keeps the last ${INT.format(this.events.length)}. The trace buffer size is a setting (MMU Lab: trace buffer size).`
        : `All ${INT.format(trace.total)} events of the run were recorded. The trace buffer size is a setting (MMU Lab: trace buffer size).`,
    );
    replace(this.empty, this.events.length === 0 ? (trace.total > 0 ? 'The trace events were not sent with this run.' : 'This run recorded no trace events.') : null);

    this.applyFilters(sameScenario);
    const sel = this.list.selected;
    if (sel >= 0) this.list.scrollToIndex(sel, true);
    else this.list.element.scrollTop = 0;
    this.ctx.save();
  }

  onHighlightLine(line: number): void {
    this.highlight = line;
    this.lanes.setHighlight(line);
    this.list.element.setAttribute('data-highlight-line', String(line));
    this.list.refresh();
    if (line <= 0) return;
    const [first, end] = this.list.visibleRange();
    for (let i = first; i < end; i++) if (this.events[this.shown[i]!]!.line === line) return;
    for (let i = 0; i < this.shown.length; i++) {
      if (this.events[this.shown[i]!]!.line === line) {
        this.list.scrollToIndex(i, true);
        return;
      }
    }
  }

  /** Recompute the shown events from the filters in ctx.state.timeline. */
  /** Filter as `box` is typed in, after a short pause: each pass reads every event. */
  private onTyped(box: HTMLElement & { value: string }, set: (value: string) => void): void {
    let timer = 0;
    box.addEventListener('input', () => {
      clearTimeout(timer);
      timer = window.setTimeout(() => {
        set(box.value.trim());
        this.applyFilters();
      }, 120);
    });
  }

  private applyFilters(keepWindow = true): void {
    const { cls, vcpu, address, name, probes } = this.ctx.state.timeline;
    const needle = address.toLowerCase().replace(/^0x/, '');
    const names = name.toLowerCase().split(/[\s,]+/).filter((w) => w.length > 0);
    const out = new Int32Array(this.events.length);
    let n = 0;
    for (let i = 0; i < this.events.length; i++) {
      const e = this.events[i]!;
      if (cls && e.class !== cls) continue;
      if (vcpu >= 0 && e.vcpu !== vcpu) continue;
      if (needle && !hasAddress(e, needle)) continue;
      if (!probes && isProbe(e.name)) continue;
      if (names.length > 0 && !matchesName(e.name, names)) continue;
      out[n++] = i;
    }
    this.shown = out.subarray(0, n);
    this.count.dataset.shown = String(n);
    this.count.dataset.total = String(this.events.length);
    this.count.textContent = `${INT.format(n)} of ${INT.format(this.events.length)} events`;
    this.list.setCount(n, this.indexOfSeq(this.ctx.state.timeline.selectedSeq));
    this.model = buildLanes(this.events, this.shown, vcpu >= 0 ? [vcpu] : this.vcpus, this.lostStart);
    this.lanes.setModel(this.model, this.lines, keepWindow);
    const sel = this.eventOfSeq(this.ctx.state.timeline.selectedSeq);
    this.lanes.selectIndex(sel);
    this.showDetails(sel);
    this.ctx.save();
  }

  /** The index (in the run's events) of the event `seq`, or -1. */
  private eventOfSeq(seq: number | null): number {
    if (seq === null) return -1;
    const i = lowerBound(this.seqs, seq);
    return i < this.seqs.length && this.seqs[i] === seq ? i : -1;
  }

  /** An event was selected in the lanes or the list: keep the other in step, show it, reveal its line. */
  private selectEvent(i: number, from: 'lanes' | 'list'): void {
    const e = this.events[i];
    if (!e) return;
    this.ctx.state.timeline.selectedSeq = e.seq;
    this.ctx.save();
    if (from === 'lanes') {
      const at = this.indexOfSeq(e.seq);
      this.list.selected = at;
      this.list.refresh();
      if (at >= 0) this.list.scrollToIndex(at, true);
    } else this.lanes.selectIndex(i);
    this.showDetails(i);
    if (e.line > 0) post({ type: 'revealLine', line: e.line });
  }

  private showDetails(i: number): void {
    const e = this.events[i];
    if (!e) {
      this.details.show(null, null);
      return;
    }
    let exit = null;
    const l = this.model.lanes.findIndex((la) => la.vcpu === e.vcpu);
    const lane = this.model.lanes[l];
    if (lane) {
      const p = lowerBound(lane.idx, i);
      const s = p < lane.idx.length && lane.idx[p] === i ? sliceAt(lane, p) : -1;
      if (s >= 0) exit = { start: lane.sliceStart[s]!, end: lane.sliceEnd[s]!, closed: lane.kind[lane.sliceLast[s]!] === K_ENTRY };
    }
    this.details.show(e, exit);
  }

  /** The position of the event `seq` among the shown ones, or -1 (seqs ascend: binary search). */
  private indexOfSeq(seq: number | null): number {
    if (seq === null) return -1;
    let lo = 0;
    let hi = this.shown.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.events[this.shown[mid]!]!.seq < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.shown.length && this.events[this.shown[lo]!]!.seq === seq ? lo : -1;
  }

  /** Fill a pooled row: text nodes are updated in place, nothing is allocated but the strings. */
  private renderRow(row: HTMLElement, index: number, selected: boolean): void {
    const e = this.events[this.shown[index]!]!;
    row.dataset.seq = String(e.seq);
    row.setAttribute('aria-selected', selected ? 'true' : 'false');
    row.classList.toggle('selected', selected);
    row.classList.toggle('highlighted', this.highlight > 0 && e.line === this.highlight);
    const cells = row.children;
    setText(cells[0]!, String(e.seq));
    setText(cells[1]!, e.step < 0 ? 'setup' : String(e.step));
    setText(cells[2]!, String(e.vcpu));
    setText(cells[3]!, INT.format(e.cycles));
    setText(cells[4]!, e.name);
    cells[4]!.classList.toggle('probe', isProbe(e.name));
    // The name and class may be cut short in a narrow list: their tooltips hold them.
    (cells[4] as HTMLElement).title = e.name;
    setText(cells[5]!, e.class ?? '');
    (cells[5] as HTMLElement).title = e.class ?? '';
    setText(cells[6]!, e.line > 0 ? String(e.line) : '');
    let fields = '';
    for (const k in e.fields) fields += `${fields ? ' ' : ''}${k}=${String(e.fields[k])}`;
    setText(cells[7]!, fields);
    (cells[7] as HTMLElement).title = fields;
  }
}

function setText(cell: Element, text: string): void {
  const t = cell.firstChild;
  if (t instanceof Text) {
    if (t.data !== text) t.data = text;
  } else cell.textContent = text;
}

function matchesName(name: string, words: readonly string[]): boolean {
  const n = name.toLowerCase();
  for (const w of words) if (n.includes(w)) return true;
  return false;
}

/** What the lanes' marks and colours mean (the canvas draws with the same theme colours). */
function legend(): HTMLElement {
  const item = (cls: string, text: string, title: string) => h('span', { class: 'tl-legend-item', title }, h('span', { class: `tl-swatch ${cls}`, 'aria-hidden': 'true' }), text);
  return h(
    'div',
    { class: 'tl-legend', 'data-testid': 'timeline-legend' },
    item('exit', 'exit: kvm_exit → kvm_entry', 'An exit, from its kvm_exit to the next kvm_entry of the same vCPU'),
    item('tick', 'tracepoint', "An event of one of the kernel's tracepoints"),
    item('probe', 'probe (simulator only)', 'The kernel has no tracepoint here: the simulator names the function doing the work (__direct_map, mmu_spte_get_lockless, vcpu_switch, ...)'),
    item('race', 'race point', 'vcpu_switch: the scheduler ran another vCPU while this one stood at a race point'),
    item('lock', 'mmu_lock race point', 'vcpu_switch at "about to take mmu_lock": the simulator charges mmu_lock uncontended, this is where another vCPU can get it first'),
    item('srcu', 'SRCU wait', 'srcu_synchronize_wait: a memslot update sleeps in synchronize_srcu_expedited while a vCPU is in its exit handler'),
  );
}

function hasAddress(e: TraceEventRecord, needle: string): boolean {
  for (const k in e.fields) {
    if (!ADDRESS_FIELDS.has(k)) continue;
    const v = e.fields[k];
    if (typeof v === 'string' && v.toLowerCase().replace(/^0x/, '').includes(needle)) return true;
    if (typeof v === 'number' && v.toString(16).includes(needle)) return true;
  }
  return false;
}

/** Replace a single-select's options and select `value`. */
function setOptions(select: HTMLElement & { value: string }, options: [string, string][], value: string): void {
  replace(select, ...options.map(([v, label]) => h('vscode-option', { value: v, selected: v === value }, label)));
  select.value = value;
}
