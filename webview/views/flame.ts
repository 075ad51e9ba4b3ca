// Where the cycles went, per call path: an icicle of the run's flame graph (root at the top, each
// frame as wide as its cycles), for the whole run, one fault class or one workload line. Click or
// Enter zooms into a frame, Escape or the breadcrumb goes back. With compare variants, the
// differential mode draws one variant's graph coloured by its change against another
// (webview/flame_diff.ts). The geometry is webview/flame_layout.ts; this file only draws it.

import { fmtInt } from '../../shared/format';
import type { PanelRun } from '../../shared/protocol';
import { share } from '../../simulator/report/text';
import type { FlameGraph, RunResult } from '../../simulator/run/result';
import { chartColor, swatch } from '../chart';
import { h, replace } from '../dom';
import { diffFlame, type Change, type FlameDiff } from '../flame_diff';
import { ancestry, layoutFlame, treeOf, type FlameLayout, type SizedTree } from '../flame_layout';
import { kernelFnLink } from '../kernel_link';
import { kernelFnUrl } from '../kernel_url';
import type { View, ViewContext } from '../view';

/** Row height in px. */
const ROW = 22;
/** Frames narrower than this share of the zoomed frame are not drawn (a note counts them). */
const MIN_FRACTION = 0.002;

type Flame = NonNullable<RunResult['flame']>;
type Mode = 'run' | 'diff';

/** What the drawing shows, per node of the tree drawn. */
interface Drawn {
  tree: SizedTree;
  names: string[];
  /** Hover and accessible text, per node. */
  text: string[];
  /** Background colour, per node. */
  color: string[];
  /** The kernel whose source a node's name links to. */
  kernel: string[];
  /** The diff's change per node (differential mode only). */
  change: Change[] | null;
}

const RED = 'var(--vscode-charts-red, #f14c4c)';
const BLUE = 'var(--vscode-charts-blue, #3794ff)';
const NEUTRAL = 'var(--vscode-descriptionForeground, #9d9d9d)';
const BACKGROUND = 'var(--vscode-editor-background, #1f1f1f)';

function mix(color: string, percent: number): string {
  return `color-mix(in srgb, ${color} ${percent.toFixed(0)}%, ${BACKGROUND})`;
}

/** A stable palette index per function name, so a function keeps its colour across graphs. */
function hashName(s: string): number {
  let x = 0;
  for (let i = 0; i < s.length; i++) x = (x * 31 + s.charCodeAt(i)) >>> 0;
  return x;
}

function nameOf(g: FlameGraph, node: number): string {
  const fn = g.nodes[node]!.fn;
  return fn < 0 ? 'all' : (g.functions[fn] ?? `#${fn}`);
}

/** The graph of a scope: 'all', 'class:NAME' or 'line:N'. */
function graphOf(f: Flame | undefined, scope: string): FlameGraph | null {
  if (!f) return null;
  if (scope === 'all') return f.all;
  const i = scope.indexOf(':');
  const kind = scope.slice(0, i);
  const key = scope.slice(i + 1);
  return (kind === 'class' ? f.by_class[key] : kind === 'line' ? f.by_line[key] : undefined) ?? null;
}

function scopesOf(flames: (Flame | undefined)[]): [string, string][] {
  const classes = new Set<string>();
  const lines = new Set<string>();
  for (const f of flames) {
    for (const k of Object.keys(f?.by_class ?? {})) classes.add(k);
    for (const k of Object.keys(f?.by_line ?? {})) lines.add(k);
  }
  return [
    ['all', 'all cycles'],
    ...[...classes].sort().map((k): [string, string] => [`class:${k}`, `fault class ${k}`]),
    ...[...lines].sort((a, b) => Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0)).map((k): [string, string] => [`line:${k}`, `workload line ${k}`]),
  ];
}

function signed(n: number): string {
  return n > 0 ? `+${fmtInt(n)}` : n < 0 ? `−${fmtInt(-n)}` : '±0';
}

/** The compare variants that carry a flame graph (the differential mode needs two). */
function diffableVariants(run: PanelRun) {
  const c = run.compare;
  return c && c.variants.length >= 2 && c.variants.every((v) => v.report.flame) ? c.variants : [];
}

export class FlameView implements View {
  readonly id = 'flame' as const;
  readonly title = 'Flame graph';
  readonly icon = 'flame';
  readonly root = h('div', { class: 'flame-view' });

  private readonly modeSelect = h('vscode-single-select', { 'data-testid': 'flame-mode', 'aria-label': 'Graph' });
  private readonly scopeSelect = h('vscode-single-select', { 'data-testid': 'flame-scope', 'aria-label': 'Cycles of' });
  private readonly aSelect = h('vscode-single-select', { 'data-testid': 'flame-variant-a', 'aria-label': 'Baseline variant' });
  private readonly bSelect = h('vscode-single-select', { 'data-testid': 'flame-variant-b', 'aria-label': 'Variant compared' });
  private readonly controls = h('div', { class: 'flame-controls' });
  private readonly summary = h('p', { class: 'flame-summary', 'data-testid': 'flame-summary' });
  private readonly crumbs = h('nav', { class: 'flame-crumbs', 'data-testid': 'flame-crumbs', 'aria-label': 'Zoom path' });
  private readonly graph = h('div', { class: 'flame-graph', role: 'tree', 'data-testid': 'flame-graph' });
  private readonly details = h('p', { class: 'flame-details', 'data-testid': 'flame-details', role: 'status', 'aria-live': 'polite' });
  private readonly legend = h('div', { class: 'flame-legend', 'data-testid': 'flame-legend' });
  private readonly note = h('p', { class: 'note flame-note', 'data-testid': 'flame-note' });

  private run: PanelRun | null = null;
  private mode: Mode = 'run';
  private scope = 'all';
  private a = 0;
  private b = 1;
  private zoom = 0;
  /** The frame (index in layout.frames) that has the roving tabindex. */
  private current = 0;
  private drawn: Drawn | null = null;
  private layout: FlameLayout = { frames: [], rows: 0, hidden: 0 };
  private frameEls: HTMLElement[] = [];

  constructor(readonly ctx: ViewContext) {
    const field = (label: string, el: HTMLElement) => h('label', { class: 'flame-field' }, label, el);
    const bind = (el: HTMLElement, set: (v: string) => void) =>
      el.addEventListener('change', () => {
        set((el as HTMLElement & { value: string }).value);
        this.zoom = 0;
        this.current = 0;
        this.render();
      });
    bind(this.modeSelect, (v) => (this.mode = v === 'diff' ? 'diff' : 'run'));
    bind(this.scopeSelect, (v) => (this.scope = v));
    bind(this.aSelect, (v) => (this.a = Number(v)));
    bind(this.bSelect, (v) => (this.b = Number(v)));
    this.controls.append(
      field('Graph ', this.modeSelect),
      field('Cycles of ', this.scopeSelect),
      h('span', { class: 'flame-variants', 'data-testid': 'flame-variants' }, field('Baseline ', this.aSelect), field(' against ', this.bSelect)),
    );
    this.graph.addEventListener('click', (e) => {
      const el = (e.target as Element).closest<HTMLElement>('.flame-frame');
      if (el) this.zoomTo(this.layout.frames[Number(el.dataset.frame)]!.node);
    });
    this.graph.addEventListener('keydown', (e) => this.onKey(e));
    this.graph.addEventListener('focusin', (e) => {
      const el = (e.target as Element).closest<HTMLElement>('.flame-frame');
      if (el) this.setCurrent(Number(el.dataset.frame), false);
    });
  }

  isEmpty(run: PanelRun): boolean {
    return !run.result.flame && diffableVariants(run).length < 2;
  }

  show(run: PanelRun): void {
    this.run = run;
    this.zoom = 0;
    this.current = 0;
    const variants = this.variants();
    if (variants.length < 2) this.mode = 'run';
    if (this.a >= variants.length || this.b >= variants.length || this.a === this.b) {
      this.a = 0;
      this.b = Math.min(1, variants.length - 1);
    }
    this.render();
  }

  private variants() {
    return this.run ? diffableVariants(this.run) : [];
  }

  private render(): void {
    const run = this.run;
    if (!run) return;
    const variants = this.variants();
    const diffable = variants.length >= 2;
    const flames = this.mode === 'diff' ? [variants[this.a]?.report.flame, variants[this.b]?.report.flame] : [run.result.flame];
    if (!run.result.flame && !diffable) {
      replace(this.root, h('p', { class: 'empty', 'data-testid': 'flame-empty' }, 'This run has no flame graph.'));
      return;
    }
    const scopes = scopesOf(flames);
    if (!scopes.some(([v]) => v === this.scope)) this.scope = 'all';
    setOptions(this.modeSelect, diffable ? [['run', 'this run'], ['diff', 'differential (two variants)']] : [['run', 'this run']], this.mode);
    this.modeSelect.toggleAttribute('disabled', !diffable);
    this.modeSelect.title = diffable ? '' : 'The differential mode needs two compare variants with flame graphs';
    setOptions(this.scopeSelect, scopes, this.scope);
    const labels = variants.map((v, i): [string, string] => [String(i), v.label]);
    setOptions(this.aSelect, labels, String(this.a));
    setOptions(this.bSelect, labels, String(this.b));
    (this.controls.querySelector('.flame-variants') as HTMLElement).hidden = this.mode !== 'diff';

    if (this.mode === 'diff') {
      const va = variants[this.a]!;
      const vb = variants[this.b]!;
      const ga = graphOf(va.report.flame, this.scope) ?? emptyGraph();
      const gb = graphOf(vb.report.flame, this.scope) ?? emptyGraph();
      this.drawn = drawDiff(diffFlame(ga, gb), va.settings.kernel, vb.settings.kernel);
      const ta = ga.nodes[0]?.total ?? 0;
      const tb = gb.nodes[0]?.total ?? 0;
      replace(this.summary, `${vb.label} against ${va.label}: ${fmtInt(tb)} cycles against ${fmtInt(ta)} (${signed(tb - ta)}${ta > 0 ? `, ${fmtPctSigned(tb - ta, ta)}` : ''}).`);
      replace(
        this.legend,
        h('span', { class: 'flame-key' }, swatch(RED), ' fewer cycles in ', h('b', null, vb.label), ' (or removed)'),
        h('span', { class: 'flame-key' }, swatch(BLUE), ' more cycles (or new)'),
        h('span', { class: 'flame-key' }, swatch(mix(NEUTRAL, 35)), ' unchanged'),
      );
    } else {
      const g = graphOf(run.result.flame, this.scope) ?? emptyGraph();
      this.drawn = drawRun(g, run.result.kernel);
      replace(this.summary, `${fmtInt(g.nodes[0]?.total ?? 0)} cycles on ${fmtInt(Math.max(0, g.nodes.length - 1))} call-path frames.`);
      replace(this.legend);
    }
    this.draw();
    replace(this.root, this.controls, this.summary, this.crumbs, this.graph, this.details, this.legend, this.note);
  }

  private draw(): void {
    const d = this.drawn!;
    if (this.zoom >= d.tree.size.length) this.zoom = 0;
    this.layout = layoutFlame(d.tree, this.zoom, MIN_FRACTION);
    const frames = this.layout.frames;
    if (this.current >= frames.length) this.current = 0;
    this.graph.setAttribute('aria-label', `Flame graph, ${d.names[this.zoom]} at the top; arrow keys move, Enter zooms, Escape resets the zoom`);
    this.graph.style.setProperty('height', `${this.layout.rows * ROW}px`);
    // Position within its siblings, for the tree's accessible structure.
    const siblings = new Map<number, number[]>();
    frames.forEach((f, i) => {
      const list = siblings.get(f.parentFrame) ?? [];
      list.push(i);
      siblings.set(f.parentFrame, list);
    });
    this.frameEls = frames.map((f, i) => {
      const node = f.node;
      const set = siblings.get(f.parentFrame)!;
      const el = h(
        'div',
        {
          class: 'flame-frame',
          role: 'treeitem',
          tabindex: i === this.current ? 0 : -1,
          title: d.text[node]!,
          'aria-label': d.text[node]!.replace(/\n/g, ', '),
          'aria-level': f.depth + 1,
          'aria-posinset': set.indexOf(i) + 1,
          'aria-setsize': set.length,
          'data-frame': i,
          'data-node': node,
          'data-name': d.names[node]!,
          'data-path': ancestry(d.tree, node).map((n) => d.names[n]).join(';'),
          'data-change': d.change?.[node] ?? null,
        },
        h('span', { class: 'flame-label' }, d.names[node]!),
      );
      el.style.setProperty('left', `${(f.x * 100).toFixed(4)}%`);
      el.style.setProperty('width', `${(f.w * 100).toFixed(4)}%`);
      el.style.setProperty('top', `${f.depth * ROW}px`);
      el.style.setProperty('background-color', d.color[node]!);
      return el;
    });
    replace(this.graph, ...this.frameEls);
    this.renderCrumbs();
    replace(this.note, this.layout.hidden > 0 ? `${fmtInt(this.layout.hidden)} frame${this.layout.hidden === 1 ? '' : 's'} narrower than ${MIN_FRACTION * 100} % of the width not drawn; zoom in to see them.` : '');
    this.setCurrent(this.current, false);
  }

  private renderCrumbs(): void {
    const d = this.drawn!;
    const path = ancestry(d.tree, this.zoom);
    const reset = h('vscode-button', { secondary: true, 'data-testid': 'flame-reset', disabled: this.zoom === 0, title: 'Reset zoom (Escape)' }, 'Reset zoom');
    reset.addEventListener('click', () => this.resetZoom());
    replace(
      this.crumbs,
      reset,
      ...path.flatMap((n, i) => {
        const b = h('button', { class: 'flame-crumb', type: 'button', 'data-node': n, 'aria-current': i === path.length - 1 ? 'location' : null }, d.names[n]!);
        b.addEventListener('click', () => this.zoomTo(n));
        return i === 0 ? [b] : [h('span', { class: 'flame-sep', 'aria-hidden': 'true' }, ' › '), b];
      }),
    );
  }

  private setCurrent(i: number, focus: boolean): void {
    const els = this.frameEls;
    if (els.length === 0) return;
    const prev = els[this.current];
    if (prev) prev.tabIndex = -1;
    this.current = Math.max(0, Math.min(i, els.length - 1));
    const el = els[this.current]!;
    el.tabIndex = 0;
    if (focus) el.focus();
    const d = this.drawn!;
    const node = this.layout.frames[this.current]!.node;
    const name = d.names[node]!;
    replace(this.details, kernelFnLink(d.kernel[node]!, name), ': ', d.text[node]!.split('\n').slice(1).join(', '));
  }

  private zoomTo(node: number): void {
    this.zoom = node;
    this.current = 0;
    this.draw();
    this.setCurrent(0, true);
  }

  private resetZoom(): void {
    const was = this.zoom;
    this.zoom = 0;
    this.current = 0;
    this.draw();
    // Keep the place: the frame that was zoomed, if it is drawn.
    const i = this.layout.frames.findIndex((f) => f.node === was);
    this.setCurrent(Math.max(0, i), true);
  }

  private onKey(e: KeyboardEvent): void {
    const frames = this.layout.frames;
    const cur = frames[this.current];
    if (!cur) return;
    let next = -1;
    switch (e.key) {
      case 'ArrowUp':
        next = cur.parentFrame;
        break;
      case 'ArrowDown':
        next = frames.findIndex((f) => f.parentFrame === this.current);
        break;
      case 'ArrowLeft':
      case 'ArrowRight': {
        // The frame beside it on the same row (frames are in pre-order: a row's frames left to right).
        const row = frames.map((f, i) => (f.depth === cur.depth ? i : -1)).filter((i) => i >= 0);
        const at = row.indexOf(this.current);
        next = row[e.key === 'ArrowLeft' ? at - 1 : at + 1] ?? -1;
        break;
      }
      case 'Home':
        next = 0;
        break;
      case 'Enter':
      case ' ':
        e.preventDefault();
        this.zoomTo(cur.node);
        return;
      case 'Escape':
        e.preventDefault();
        this.resetZoom();
        return;
      default:
        return;
    }
    e.preventDefault();
    if (next >= 0) this.setCurrent(next, true);
  }
}

function emptyGraph(): FlameGraph {
  return { functions: [], nodes: [{ fn: -1, parent: -1, self: 0, total: 0 }] };
}

function fmtPctSigned(delta: number, base: number): string {
  const s = share(Math.abs(delta), base);
  return `${delta < 0 ? '−' : delta > 0 ? '+' : '±'}${s} %`;
}

function drawRun(g: FlameGraph, kernel: string): Drawn {
  const total = g.nodes[0]?.total ?? 0;
  const names = g.nodes.map((_, i) => nameOf(g, i));
  return {
    tree: treeOf(g),
    names,
    text: g.nodes.map((n, i) => `${names[i]}\n${fmtInt(n.total)} cycles (${fmtInt(n.self)} in the function itself)\n${share(n.total, total)} % of the total`),
    // Kernel functions in the theme's chart colours, softened so the text stays readable; the root
    // and frames outside the kernel (the guest) in a neutral tone.
    color: names.map((name, i) => (i === 0 || kernelFnUrl(kernel, name) === null ? mix(NEUTRAL, 30) : mix(chartColor(hashName(name)), 45))),
    kernel: names.map(() => kernel),
    change: null,
  };
}

function drawDiff(d: FlameDiff, kernelA: string, kernelB: string): Drawn {
  const total = d.nodes[0]?.after ?? 0;
  const names = d.nodes.map((n) => n.name);
  const text = d.nodes.map((n) => {
    const delta = n.after - n.before;
    const change =
      n.change === 'new'
        ? `new: ${fmtInt(n.after)} cycles (${signed(delta)})`
        : n.change === 'removed'
          ? `removed: ${fmtInt(n.before)} cycles before (${signed(delta)})`
          : `${fmtInt(n.before)} → ${fmtInt(n.after)} cycles (${signed(delta)}${n.before > 0 ? `, ${fmtPctSigned(delta, n.before)}` : ''})`;
    return `${n.name}\n${change}\n${share(n.after, total)} % of the total after`;
  });
  const color = d.nodes.map((n) => {
    const delta = Math.abs(n.after - n.before);
    // Stronger as the change is larger: from 25 % of the hue to 85 % (the label stays readable).
    const strength = 25 + (d.maxDelta > 0 ? (60 * delta) / d.maxDelta : 0);
    if (n.change === 'fell' || n.change === 'removed') return mix(RED, strength);
    if (n.change === 'rose' || n.change === 'new') return mix(BLUE, strength);
    return mix(NEUTRAL, 30);
  });
  return { tree: d, names, text, color, kernel: d.nodes.map((n) => (n.change === 'removed' ? kernelA : kernelB)), change: d.nodes.map((n) => n.change) };
}

/** Replace a single-select's options and select `value`. */
function setOptions(select: HTMLElement, options: [string, string][], value: string): void {
  replace(select, ...options.map(([v, label]) => h('vscode-option', { value: v, selected: v === value }, label)));
  (select as HTMLElement & { value: string }).value = value;
}
