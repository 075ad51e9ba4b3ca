// Shadow tables: KVM's shadow pages after any step of the run, as a tree from each vCPU's root, the
// selected page's role and entries decoded (runs of one non-present value on one row), and a bit
// ruler for one entry. Tables other than the end of the run's are asked of the host
// (requestTables), which re-runs the scenario up to that step.

import type { PanelRun } from '../../shared/protocol';
import type { ShadowPageRecord, ShadowTables, SpteField, SpteRecord } from '../../simulator/index';
import { roleText, type RoleField } from '../../simulator/kvm/mmu/page_role';
import { runIndexText, spteRuns } from '../../simulator/report/spte_runs';
import { h, icon, replace } from '../dom';
import { post } from '../host';
import { dataTable } from '../table';
import type { View, ViewContext } from '../view';

/** Scrubbing the slider asks for tables once it rests this long (each request re-runs the scenario). */
const REQUEST_DELAY_MS = 150;
/** Tree items at most: a shadow page shared by many parents appears under each, which can multiply. */
const MAX_TREE_ITEMS = 3000;

type TreeItem = HTMLElement & { selected: boolean; active: boolean; open: boolean };

export class ShadowView implements View {
  readonly id = 'shadow' as const;
  readonly title = 'Shadow tables';
  readonly icon = 'type-hierarchy';
  readonly root = h('div', { class: 'shadow-view' });

  private run: PanelRun | null = null;
  /** Step -> scenario line, from the trace and the access log (what the run recorded). */
  private stepLines = new Map<number, number>();
  /** The step whose tables are wanted (null: end of run); what the controls show. */
  private wanted: number | null = null;
  /** The step of the tables rendered now, undefined before any. */
  private rendered: number | null | undefined = undefined;
  private tables: ShadowTables | null = null;
  private page: ShadowPageRecord | null = null;
  /** The SPTE index (0..511) whose bits the ruler shows. */
  private entryIndex: number | null = null;
  private requestTimer = 0;

  private readonly slider = h('input', { type: 'range', min: -1, max: 0, step: 1, 'data-testid': 'step-slider', 'aria-label': 'Step whose shadow tables are shown', class: 'step-slider' });
  private readonly stepBox = h('vscode-textfield', { type: 'number', min: -1, 'data-testid': 'step-box', 'aria-label': 'Step number (empty: end of run)', placeholder: 'end', class: 'step-box' });
  private readonly stepLabel = h('span', { class: 'step-label', 'data-testid': 'step-label', role: 'status' });
  private readonly diffFrom = h('vscode-textfield', { type: 'number', min: -1, value: '-1', 'data-testid': 'diff-from', 'aria-label': 'Diff against step (-1: before the workload, empty: end of run)', class: 'step-box' });
  private readonly summary = h('p', { class: 'shadow-summary', 'data-testid': 'shadow-summary' });
  private readonly treePane = h('div', { class: 'shadow-tree-pane' });
  private readonly entriesPane = h('div', { class: 'shadow-entries-pane' });
  private readonly ruler = h('section', { class: 'bit-ruler', 'data-testid': 'bit-ruler', 'aria-label': 'Bits of the selected entry' });
  private readonly content = h('div', { class: 'shadow-content' }, this.treePane, this.entriesPane);

  constructor(readonly ctx: ViewContext) {
    this.slider.addEventListener('input', () => {
      const v = Number(this.slider.value);
      this.want(v >= this.steps ? null : v, 'slider');
    });
    this.stepBox.addEventListener('input', () => {
      const step = this.parseStep(this.stepBox.value);
      if (step !== undefined) this.want(step, 'box');
    });

    const openText = h('vscode-button', { secondary: true, 'data-testid': 'open-as-text', title: 'Open these tables as a read-only text document' }, icon('go-to-file'), ' Open as Text');
    openText.addEventListener('click', () => post({ type: 'openTablesAsText', step: this.wanted }));
    const diff = h('vscode-button', { secondary: true, 'data-testid': 'diff-steps', title: 'Diff the tables shown with those after another step' }, icon('diff'), ' Diff with…');
    diff.addEventListener('click', () => {
      const from = this.parseStep(this.diffFrom.value);
      post({ type: 'diffTables', from: from === undefined ? -1 : from, to: this.wanted });
    });

    replace(
      this.root,
      h(
        'div',
        { class: 'step-control' },
        h('label', { class: 'step-control-label' }, 'Step'),
        this.slider,
        this.stepBox,
        this.stepLabel,
        h('span', { class: 'step-actions' }, openText, diff, h('label', { class: 'diff-from-label' }, 'against step ', this.diffFrom)),
      ),
      this.summary,
      this.content,
    );
  }

  private get steps(): number {
    return this.run?.result.steps ?? 0;
  }

  show(run: PanelRun): void {
    this.run = run;
    this.stepLines = stepLines(run);
    this.slider.max = String(this.steps);
    this.stepBox.setAttribute('max', String(Math.max(-1, this.steps - 1)));
    this.diffFrom.setAttribute('max', String(Math.max(-1, this.steps - 1)));
    this.rendered = undefined;
    clearTimeout(this.requestTimer);
    const saved = this.ctx.state.step;
    const step = saved === null || saved < -1 || saved >= this.steps ? null : saved;
    this.ctx.state.step = step;
    this.wanted = step;
    this.syncControls(null);
    if (step === null) this.render(null, run.result.shadow_tables);
    else {
      this.loading();
      post({ type: 'requestTables', step });
    }
  }

  onTables(step: number | null, tables: ShadowTables): void {
    if (!this.run || step !== this.wanted) return; // an answer for a step the user has moved past
    this.render(step, tables);
  }

  /** The user picked a step: show it in the controls now, ask for its tables after a pause. */
  private want(step: number | null, from: 'slider' | 'box'): void {
    if (step === this.wanted && this.rendered === step) return;
    this.wanted = step;
    this.ctx.state.step = step;
    this.ctx.save();
    this.syncControls(from);
    clearTimeout(this.requestTimer);
    // The end of the run's tables came with the run: show them at once (the host is still asked, so
    // it knows which step the panel shows).
    if (step === null && this.run) this.render(null, this.run.result.shadow_tables);
    else this.loading();
    this.requestTimer = window.setTimeout(() => post({ type: 'requestTables', step }), REQUEST_DELAY_MS);
  }

  /** '' is the end of the run; numbers are clamped to -1..steps (steps and beyond: the end). */
  private parseStep(text: string): number | null | undefined {
    const t = text.trim();
    if (t === '') return null;
    const n = Math.trunc(Number(t));
    if (!Number.isFinite(n)) return undefined;
    return n >= this.steps ? null : Math.max(-1, n);
  }

  private syncControls(from: 'slider' | 'box' | null): void {
    if (from !== 'slider') this.slider.value = String(this.wanted ?? this.steps);
    if (from !== 'box') this.stepBox.value = this.wanted === null ? '' : String(this.wanted);
    const label = this.describeStep(this.wanted);
    this.slider.setAttribute('aria-valuetext', label);
    this.stepLabel.textContent = this.rendered === this.wanted ? label : `${label} (loading…)`;
  }

  private describeStep(step: number | null): string {
    if (step === null) return 'end of run';
    if (step < 0) return 'before the workload (step -1)';
    const line = this.stepLines.get(step);
    return line ? `after step ${step} (line ${line})` : `after step ${step}`;
  }

  private loading(): void {
    this.content.setAttribute('aria-busy', 'true');
    this.content.classList.add('loading');
    this.stepLabel.textContent = `${this.describeStep(this.wanted)} (loading…)`;
  }

  private render(step: number | null, tables: ShadowTables): void {
    this.rendered = step;
    this.tables = tables;
    this.content.removeAttribute('aria-busy');
    this.content.classList.remove('loading');
    this.syncControls('box');
    const roots = tables.pages.filter((p) => p.rootOf.length > 0).length;
    replace(
      this.summary,
      `${tables.mode === 'ept' ? 'EPT' : 'Shadow paging (ept=0)'}, kernel ${tables.kernel}: ${tables.pages.length} shadow page${tables.pages.length === 1 ? '' : 's'}, ${roots} root${roots === 1 ? '' : 's'}. `,
      h('span', { class: 'note' }, 'Unsync is always "no": the model runs with oos_shadow=0, so no shadow page goes out of sync.'),
    );
    this.renderTree(tables);
    const byId = new Map(tables.pages.map((p) => [p.id, p]));
    const saved = this.ctx.state.page;
    const page = (saved !== null ? byId.get(saved) : undefined) ?? tables.pages.find((p) => p.rootOf.length > 0) ?? tables.pages[0] ?? null;
    this.selectPage(page, false);
  }

  // ---- the tree of shadow pages ----

  private tree: HTMLElement | null = null;

  /** A click or Enter on a tree item (vsc-tree-select does not bubble: listened on the tree). */
  private onTreeSelect(e: Event): void {
    // 2.5 sends the selected items as the detail; its typings say { selectedItems }: accept both.
    const d = (e as CustomEvent<unknown>).detail;
    const items = (Array.isArray(d) ? d : ((d as { selectedItems?: unknown[] } | null)?.selectedItems ?? [])) as HTMLElement[];
    const id = items.map((i) => i.dataset.pageId).find((v) => v !== undefined);
    if (id === undefined || !this.tables) return;
    const page = this.tables.pages.find((p) => p.id === Number(id));
    if (page) this.selectPage(page, true);
  }

  private renderTree(tables: ShadowTables): void {
    const byId = new Map(tables.pages.map((p) => [p.id, p]));
    const reached = new Set<number>();
    let budget = MAX_TREE_ITEMS;
    const item = (p: ShadowPageRecord, path: ReadonlySet<number>): HTMLElement => {
      budget--;
      reached.add(p.id);
      const el = pageItem(p);
      const inPath = new Set(path).add(p.id);
      for (const e of p.entries) {
        const child = e.kind === 'nonleaf' ? childPageId(e) : null;
        if (child === null || inPath.has(child)) continue; // levels descend, but never loop on a bad snapshot
        const c = byId.get(child);
        if (!c) continue;
        if (budget <= 0) {
          el.appendChild(h('vscode-tree-item', { slot: 'children', class: 'tree-more' }, '… (tree truncated)'));
          break;
        }
        el.appendChild(Object.assign(item(c, inPath), { slot: 'children' }));
      }
      return el;
    };
    // A double click (or the arrow keys) opens and closes a page: a click only selects it.
    const tree = h('vscode-tree', { 'data-testid': 'shadow-tree', 'aria-label': 'Shadow pages, from the roots', 'indent-guides': 'always', 'expand-mode': 'doubleClick' });
    tree.addEventListener('vsc-tree-select', (e) => this.onTreeSelect(e));
    const roots = tables.pages.filter((p) => p.rootOf.length > 0);
    for (const r of roots) tree.appendChild(item(r, new Set()));
    // Pages no root reaches (a zapped root's children, another CR3's tables): listed, not lost.
    const orphans = tables.pages.filter((p) => !reached.has(p.id));
    if (orphans.length > 0) {
      const group = h('vscode-tree-item', { class: 'tree-group', open: true }, `Not reachable from a root`, h('span', { slot: 'description' }, `${orphans.length} page${orphans.length === 1 ? '' : 's'}`));
      for (const o of orphans) if (!reached.has(o.id)) group.appendChild(Object.assign(item(o, new Set()), { slot: 'children' }));
      tree.appendChild(group);
    }
    this.tree = tree;
    replace(this.treePane, h('h3', null, 'Shadow pages'), tables.pages.length > 0 ? tree : h('p', { class: 'empty' }, 'No shadow pages at this point.'));
  }

  private selectPage(page: ShadowPageRecord | null, byUser: boolean): void {
    if (page?.id !== this.page?.id) this.entryIndex = null;
    this.page = page;
    if (byUser) {
      this.ctx.state.page = page?.id ?? null;
      this.ctx.save();
    } else if (this.tree && page) {
      // Mark the page selected in the tree (first occurrence), as a click would.
      const it = this.tree.querySelector<TreeItem>(`vscode-tree-item[data-page-id="${page.id}"]`);
      if (it) {
        it.selected = true;
        it.active = true;
      }
    }
    this.renderEntries();
  }

  // ---- the selected page's entries and the bit ruler ----

  private renderEntries(): void {
    const page = this.page;
    const tables = this.tables;
    if (!page || !tables) {
      replace(this.entriesPane, h('p', { class: 'empty' }, tables ? 'Select a shadow page to see its entries.' : ''));
      return;
    }
    const byId = new Map(tables.pages.map((p) => [p.id, p]));
    const entries = page.entries;
    const runs = spteRuns(entries);
    if (this.entryIndex === null || !entries.some((e) => e.index === this.entryIndex)) this.entryIndex = entries[0]?.index ?? null;
    const table = dataTable({
      id: 'sptes',
      caption: `Entries of page ${page.id} (level ${page.level}, gfn ${page.gfn}${page.rootOf.length ? `, root of vCPU ${page.rootOf.join(', ')}` : ''})`,
      columns: [{ title: 'index', numeric: true }, { title: 'raw value', priority: 2 }, { title: 'kind' }, { title: 'what it maps' }, { title: 'flags', priority: 2 }],
      rows: runs.map((r) => [runIndexText(r), r.entry.value, r.entry.kind, describeEntry(r.entry, byId, r.last - r.first + 1), r.entry.flags]),
      onRow: (i) => {
        this.entryIndex = runs[i]?.first ?? null;
        this.markSelectedRow(table);
        this.renderRuler();
      },
      rowAttrs: (i) => ({ 'data-kind': runs[i]!.entry.kind, 'data-index': runs[i]!.first, 'data-last': runs[i]!.last, class: `kind-${runs[i]!.entry.kind}` }),
    });
    this.markSelectedRow(table);
    // With bypass_guest_pf (v3.0, shadow paging) 0 is the notrap value and listed; otherwise 0 is empty.
    const bypass = this.run?.result.bypass_guest_pf === true;
    const notes = [
      bypass
        ? "bypass_guest_pf: 'notrap' entries (0, P clear) let the guest take its #PF without an exit (PFEC_MASK = PFEC_MATCH = 1 exits only on P = 1); 'trap' entries (reserved bits and P set) exit to KVM. Consecutive entries with the same value are one row."
        : 'Entries equal to 0 are empty and not listed.',
      entries.some((e) => e.kind === 'mmio') ? ' MMIO generation: — (MMIO SPTEs carry none before v3.11).' : '',
    ].join('');
    replace(this.entriesPane, roleSection(page, tables.kernel), table, h('p', { class: 'note', 'data-testid': 'sptes-note' }, notes), this.ruler);
    this.renderRuler();
  }

  private markSelectedRow(table: HTMLElement): void {
    table.querySelectorAll<HTMLElement>('vscode-table-row[data-row]').forEach((row) => {
      const on = this.entryIndex !== null && Number(row.dataset.index) <= this.entryIndex && this.entryIndex <= Number(row.dataset.last);
      row.classList.toggle('selected', on);
      row.setAttribute('aria-selected', on ? 'true' : 'false');
    });
  }

  private renderRuler(): void {
    const ruler = this.ruler;
    const e = this.page?.entries.find((x) => x.index === this.entryIndex);
    const tables = this.tables;
    if (!e || !tables) {
      replace(ruler, h('p', { class: 'empty' }, 'No entry selected.'));
      return;
    }
    ruler.dataset.kind = e.kind;
    ruler.dataset.value = e.value;
    const value = BigInt(e.value);
    const notes: string[] = [];
    if (e.kind === 'mmio') notes.push(`No generation field: MMIO SPTEs carry a memslot generation from v3.11 on; kernel ${tables.kernel} has none.`);
    if (e.kind === 'trap') notes.push("v3.0's trap value (bypass_guest_pf): reserved bits and P set, so the guest's access faults with RSVD and exits to KVM.");
    if (e.kind === 'notrap') notes.push("v3.0's notrap value (bypass_guest_pf): 0, P clear, so the guest's #PF has P = 0 in its error code and VMX delivers it to the guest without an exit.");
    replace(
      ruler,
      h('h3', null, `Bits of entry ${e.index} of page ${this.page!.id}: `, h('span', { class: 'mono' }, hex64(value)), ` (${e.kind})`),
      h('div', { class: 'bit-fields', role: 'list' }, ...segments(tables.fields[e.kind] ?? []).map((s) => segment(s, value))),
      ...notes.map((n) => h('p', { class: 'note' }, n)),
    );
  }
}

/** One tree item for a shadow page (children are added by the caller). The main slot is one span:
 *  the item truncates each slotted element separately, so the label is kept in one. */
function pageItem(p: ShadowPageRecord): HTMLElement {
  const n = p.entries.length;
  const root = p.rootOf.length > 0 ? `root of vCPU ${p.rootOf.join(', ')}` : '';
  const meta = [p.direct ? 'direct' : 'indirect', p.invalid ? 'invalid' : '', 'unsync no', `access ${p.access}`, p.context].filter(Boolean).join(' · ');
  const title = [`page ${p.id}`, `level ${p.level}`, `gfn ${p.gfn}`, root, `role ${roleText(p.roleFields)} (${p.role})`, 'unsync no', `${n} listed entr${n === 1 ? 'y' : 'ies'}`].filter(Boolean).join(' · ');
  return h(
    'vscode-tree-item',
    { 'data-page-id': p.id, open: true, class: p.invalid ? 'page-invalid' : null, title },
    h(
      'span',
      { class: 'page-label' },
      h('span', { class: 'page-name' }, `L${p.level} page ${p.id}`),
      ' gfn ',
      h('span', { class: 'mono' }, p.gfn),
      root ? h('span', { class: 'page-root' }, ` ${root}`) : null,
      h('span', { class: 'page-meta' }, ` ${meta}`),
    ),
    h('span', { slot: 'description' }, `${n} entr${n === 1 ? 'y' : 'ies'}`),
  );
}

function childPageId(e: SpteRecord): number | null {
  const m = /^page (\d+)$/.exec(e.target);
  return m ? Number(m[1]) : null;
}

/** The selected page's role word, field by field in its era's layout (union kvm_mmu_page_role). */
function roleSection(page: ShadowPageRecord, kernel: string): HTMLElement {
  return h(
    'section',
    { class: 'page-role', 'data-testid': 'page-role', 'aria-label': `Role of page ${page.id}` },
    h('h3', null, `Role of page ${page.id}: `, h('span', { class: 'note' }, `union kvm_mmu_page_role, ${kernel} layout; word ${page.role}`)),
    h('ul', { class: 'role-fields' }, ...page.roleFields.map((f) => roleItem(f))),
  );
}

function roleItem(f: RoleField): HTMLElement {
  const bits = f.width === 1 ? `bit ${f.lo}` : `bits ${f.lo}-${f.lo + f.width - 1}`;
  return h('li', { 'data-role-field': f.name, 'data-value': f.value, title: `${f.name}: ${bits}, value ${f.value}` }, h('span', { class: 'role-name' }, f.name), ' ', h('span', { class: 'role-value mono' }, f.text));
}

/** The "what it maps" cell: by kind, as the kernel reads the entry (`count` entries alike in a run). */
function describeEntry(e: SpteRecord, byId: ReadonlyMap<number, ShadowPageRecord>, count = 1): string {
  const run = count > 1 ? ` (${count} entries)` : '';
  switch (e.kind) {
    case 'leaf':
      return `pfn ${e.target} ← gfn ${e.gfn ?? '?'}`;
    case 'nonleaf': {
      const id = childPageId(e);
      const c = id === null ? undefined : byId.get(id);
      return c ? `page ${c.id} (level ${c.level}, gfn ${c.gfn})` : `table at pfn ${e.target}`;
    }
    case 'mmio':
      return `MMIO gfn ${e.gfn ?? e.target}, access ${e.flags || '---'}, generation —`;
    case 'trap':
      return `trap: #PF exits to KVM (bypass_guest_pf)${run}`;
    case 'notrap':
      return `notrap: #PF goes to the guest, no exit (bypass_guest_pf)${run}`;
    case 'nonpresent':
      return `not present${run}`;
  }
}

interface Segment {
  name: string | null;
  hi: number;
  lo: number;
}

/** The ruler's segments, bit 63 first: the named fields, and the gaps between them as unnamed. */
function segments(fields: readonly SpteField[]): Segment[] {
  const out: Segment[] = [];
  let next = 63;
  for (const f of [...fields].sort((a, b) => b.hi - a.hi)) {
    const hi = Math.min(f.hi, next);
    if (hi < f.lo) continue; // overlaps a field already placed
    if (hi < next) out.push({ name: null, hi: next, lo: hi + 1 });
    out.push({ name: f.name, hi, lo: f.lo });
    next = f.lo - 1;
  }
  if (next >= 0) out.push({ name: null, hi: next, lo: 0 });
  return out;
}

function segment(s: Segment, value: bigint): HTMLElement {
  const width = s.hi - s.lo + 1;
  const v = (value >> BigInt(s.lo)) & ((1n << BigInt(width)) - 1n);
  const bits = h('div', { class: 'bit-cells mono', 'aria-hidden': 'true' });
  for (let b = s.hi; b >= s.lo; b--) {
    const one = ((value >> BigInt(b)) & 1n) === 1n;
    bits.appendChild(h('span', { class: one ? 'bit one' : 'bit', title: `bit ${b}` }, one ? '1' : '0'));
  }
  const range = width === 1 ? `${s.hi}` : `${s.hi}:${s.lo}`;
  const name = s.name ?? 'unnamed';
  return h(
    'div',
    { class: s.name ? 'bit-field' : 'bit-field unnamed', role: 'listitem', 'data-field': s.name ?? null, 'data-unnamed': s.name ? null : true, 'aria-label': `${name}, bits ${range}, value 0x${v.toString(16)}` },
    h('div', { class: 'bit-name' }, name),
    bits,
    h('div', { class: 'bit-range' }, range),
    h('div', { class: 'bit-value mono' }, `0x${v.toString(16)}`),
  );
}

function hex64(v: bigint): string {
  return `0x${v.toString(16).padStart(16, '0')}`;
}

/** Step -> the scenario line it ran, from what the run recorded (the trace, the access log). */
function stepLines(run: PanelRun): Map<number, number> {
  const m = new Map<number, number>();
  for (const a of run.result.accesses ?? []) if (a.line > 0 && !m.has(a.step)) m.set(a.step, a.line);
  for (const e of run.result.trace.events) if (e.line > 0 && e.step >= 0 && !m.has(e.step)) m.set(e.step, e.line);
  return m;
}
