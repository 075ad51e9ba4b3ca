// Swimlanes on a canvas: one lane per vCPU, x = cycles on the common clock. Exits are slices, the
// events inside them ticks, race points and SRCU waits marks above. Only what falls in the visible
// window is visited (binary search on each lane's clock), and at most one primitive of a kind is
// drawn per pixel column, so a frame costs the same for 10,000 events as for 1,000,000.
//
// Wheel zooms around the pointer (shift+wheel or a sideways wheel pans), dragging pans, a click
// selects the nearest event. Keyboard, on the focused canvas: Left/Right the previous/next event of
// the lane, Up/Down the nearest event of the lane above/below, Home/End the lane's first/last, + and -
// zoom, 0 fits the whole run. Lane labels are buttons that select their lane's first visible event.

import { h, icon, replace } from './dom';
import { K_ENTRY, K_EXIT, K_MMU_LOCK, K_RACE, K_SRCU, lowerBound, type Lane, type LaneModel } from './lanes';

/** CSS pixels. */
export const AXIS_H = 20;
export const LANE_H = 40;
const SLICE_TOP = 10;
const SLICE_H = 22;
const MARK_H = 8;
/** A click selects an event this close (px); none closer selects the exit slice under the pointer. */
const HIT_PX = 5;
const MIN_SPAN = 8; // cycles: the deepest zoom

export interface SwimlanesOptions {
  /** An event was selected (index into the run's events), by click or keyboard. */
  onSelect(index: number): void;
}

interface Colors {
  fg: string;
  muted: string;
  grid: string;
  slice: string;
  probe: string;
  race: string;
  lock: string;
  srcu: string;
  highlight: string;
  focus: string;
  font: string;
}

const INT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export class Swimlanes {
  readonly element: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  private readonly labels = h('div', { class: 'tl-lane-labels' });
  private readonly windowLabel = h('span', { class: 'tl-window', 'data-testid': 'timeline-window' });
  private model: LaneModel = { lanes: [], start: 0, end: 0 };
  private lines: Int32Array = new Int32Array(0);
  /** The visible window, in cycles. */
  private t0 = 0;
  private t1 = 1;
  private width = 0;
  private frame = 0;
  /** Selected: lane and position in it, or -1. */
  private selLane = -1;
  private selPos = -1;
  private highlight = 0;
  private drag: { x: number; t0: number; moved: boolean } | null = null;

  constructor(private readonly o: SwimlanesOptions) {
    this.canvas = h('canvas', {
      class: 'tl-canvas',
      'data-testid': 'timeline-lanes',
      tabindex: 0,
      role: 'application',
      'aria-roledescription': 'swimlanes',
      'aria-label': 'Events per vCPU over time. Left and Right: previous and next event of the lane; Up and Down: the lane above or below; plus and minus: zoom; 0: the whole run.',
    });
    const button = (name: string, title: string, testid: string, run: () => void) => {
      const b = h('vscode-button', { secondary: true, 'icon-only': true, title, 'aria-label': title, 'data-testid': testid }, icon(name));
      b.addEventListener('click', run);
      return b;
    };
    const bar = h(
      'div',
      { class: 'tl-lanes-bar' },
      button('zoom-in', 'Zoom in (+)', 'zoom-in', () => this.zoom(1 / 2, 0.5)),
      button('zoom-out', 'Zoom out (-)', 'zoom-out', () => this.zoom(2, 0.5)),
      button('screen-normal', 'Whole run (0)', 'zoom-fit', () => this.fit()),
      this.windowLabel,
    );
    this.element = h('div', { class: 'tl-swimlanes' }, bar, h('div', { class: 'tl-lanes' }, this.labels, h('div', { class: 'tl-canvas-box' }, this.canvas)));

    new ResizeObserver(() => {
      const w = Math.floor(this.canvas.parentElement!.clientWidth);
      if (w !== this.width) {
        this.width = w;
        this.schedule();
      }
    }).observe(this.canvas.parentElement!);
    this.canvas.addEventListener('wheel', (e) => this.onWheel(e), { passive: false });
    this.canvas.addEventListener('pointerdown', (e) => {
      this.drag = { x: e.offsetX, t0: this.t0, moved: false };
      this.canvas.setPointerCapture(e.pointerId);
    });
    this.canvas.addEventListener('pointermove', (e) => {
      const d = this.drag;
      if (!d) return;
      const dx = e.offsetX - d.x;
      if (!d.moved && Math.abs(dx) < 4) return;
      d.moved = true;
      const span = this.t1 - this.t0;
      this.setWindow(d.t0 - (dx / this.width) * span, span);
    });
    this.canvas.addEventListener('pointerup', (e) => {
      const d = this.drag;
      this.drag = null;
      if (d && !d.moved) this.click(e.offsetX, e.offsetY);
    });
    this.canvas.addEventListener('keydown', (e) => this.onKey(e));
  }

  /** New lanes (the run or the filters changed); `lines` holds each event's scenario line. */
  setModel(model: LaneModel, lines: Int32Array, keepWindow: boolean): void {
    this.model = model;
    this.lines = lines;
    this.selLane = -1;
    this.selPos = -1;
    this.canvas.style.height = `${AXIS_H + model.lanes.length * LANE_H}px`;
    replace(
      this.labels,
      h('div', { class: 'tl-lane-axis' }),
      ...model.lanes.map((lane, l) => {
        const b = h(
          'button',
          { class: 'tl-lane', type: 'button', 'data-vcpu': lane.vcpu, 'data-testid': `lane-${lane.vcpu}`, title: `vCPU ${lane.vcpu}: ${lane.idx.length} events, ${lane.exits} exits, ${lane.races} race points, ${lane.waits} SRCU waits` },
          h('span', { class: 'tl-lane-name' }, `vCPU ${lane.vcpu}`),
          h('span', { class: 'tl-lane-meta', 'data-races': lane.races, 'data-exits': lane.exits, 'data-waits': lane.waits }, `${INT.format(lane.exits)} exits, ${INT.format(lane.races)} races`),
        );
        b.addEventListener('click', () => this.selectLane(l));
        return b;
      }),
    );
    if (!keepWindow || this.t1 - this.t0 < MIN_SPAN) this.fit(false);
    this.schedule();
  }

  /** Select the event at `index` (into the run's events) if a lane shows it; -1 clears. */
  selectIndex(index: number): void {
    this.selLane = -1;
    this.selPos = -1;
    if (index >= 0) {
      for (let l = 0; l < this.model.lanes.length; l++) {
        const lane = this.model.lanes[l]!;
        const p = lowerBound(lane.idx, index);
        if (p < lane.idx.length && lane.idx[p] === index) {
          this.selLane = l;
          this.selPos = p;
          this.reveal();
          break;
        }
      }
    }
    this.schedule();
  }

  /** Light the events of scenario line `line` (0: none); when none is in view, pan to the first. */
  setHighlight(line: number): void {
    this.highlight = line;
    if (line > 0) {
      let first = Infinity;
      for (const lane of this.model.lanes) {
        for (let p = 0; p < lane.idx.length; p++) {
          if (this.lines[lane.idx[p]!] !== line) continue;
          const t = lane.t[p]!;
          if (t >= this.t0 && t <= this.t1) {
            first = NaN; // one is in view: stay
            break;
          }
          if (t < first) first = t;
        }
        if (Number.isNaN(first)) break;
      }
      if (Number.isFinite(first)) {
        const span = this.t1 - this.t0;
        this.setWindow(first - span / 2, span);
      }
    }
    this.schedule();
  }

  /** The whole run in view. */
  fit(draw = true): void {
    this.t0 = this.model.start;
    this.t1 = Math.max(this.model.end, this.model.start + MIN_SPAN);
    if (draw) this.schedule();
  }

  /** Multiply the visible span by `factor` around the point `at` (0..1 across the canvas). */
  zoom(factor: number, at: number): void {
    const span = this.t1 - this.t0;
    const next = Math.min(Math.max(span * factor, MIN_SPAN), Math.max(this.model.end - this.model.start, MIN_SPAN) * 4);
    this.setWindow(this.t0 + (span - next) * at, next);
  }

  /** Draw now (tests and the view call it after a change that must be on screen at once). */
  drawNow(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.draw();
  }

  private setWindow(t0: number, span: number): void {
    const { start, end } = this.model;
    // Keep some of the run in view: the window may reach past either end of the run by half its width.
    this.t0 = Math.min(Math.max(t0, start - span * 0.5), Math.max(end, start + MIN_SPAN) - span * 0.5);
    this.t1 = this.t0 + span;
    this.schedule();
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  private x(t: number): number {
    return ((t - this.t0) / (this.t1 - this.t0)) * this.width;
  }

  private colors(): Colors {
    const s = getComputedStyle(this.canvas);
    const v = (name: string, fallback: string) => s.getPropertyValue(name).trim() || fallback;
    const fg = v('--vscode-foreground', '#cccccc');
    return {
      fg,
      muted: v('--vscode-descriptionForeground', fg),
      grid: v('--vscode-panel-border', v('--vscode-contrastBorder', '#80808040')),
      slice: v('--vscode-charts-blue', '#3794ff'),
      probe: v('--vscode-charts-purple', '#b180d7'),
      race: v('--vscode-charts-orange', '#d18616'),
      lock: v('--vscode-charts-red', '#f14c4c'),
      srcu: v('--vscode-charts-yellow', '#cca700'),
      highlight: v('--vscode-editor-findMatchHighlightBackground', '#ea5c0055'),
      focus: v('--vscode-focusBorder', fg),
      font: `11px ${v('--vscode-font-family', 'sans-serif')}`,
    };
  }

  private draw(): void {
    const w = this.width;
    const lanes = this.model.lanes;
    const hgt = AXIS_H + lanes.length * LANE_H;
    if (w <= 0) return; // hidden tab: drawn when it gets a size
    const started = performance.now();
    const dpr = window.devicePixelRatio || 1;
    const c = this.canvas;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(hgt * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(hgt * dpr);
    }
    const g = c.getContext('2d')!;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    const col = this.colors();
    let drawn = 0;
    drawn += this.drawAxis(g, col, w, hgt);

    for (let l = 0; l < lanes.length; l++) {
      const lane = lanes[l]!;
      const y0 = AXIS_H + l * LANE_H;
      g.fillStyle = col.grid;
      g.fillRect(0, y0 + LANE_H - 1, w, 1);
      drawn += this.drawSlices(g, col, lane, y0, w);
      drawn += this.drawEvents(g, col, lane, y0, w);
    }
    if (this.selLane >= 0) {
      const lane = lanes[this.selLane]!;
      const x = Math.round(this.x(lane.t[this.selPos]!));
      const y0 = AXIS_H + this.selLane * LANE_H;
      g.fillStyle = col.focus;
      g.fillRect(x - 1, y0 + 1, 2, LANE_H - 2);
      g.strokeStyle = col.focus;
      g.lineWidth = 2;
      g.strokeRect(x - 4, y0 + 2, 8, LANE_H - 4);
      drawn++;
    }
    const d = c.dataset;
    d.t0 = String(this.t0);
    d.t1 = String(this.t1);
    d.width = String(w);
    d.drawn = String(drawn);
    d.lanes = lanes.map((la) => la.vcpu).join(',');
    d.drawMs = (performance.now() - started).toFixed(2);
    d.frames = String(Number(d.frames ?? 0) + 1);
    this.windowLabel.textContent = `${INT.format(Math.max(0, this.t0))} – ${INT.format(this.t1)} cycles`;
    this.windowLabel.title = `${INT.format(this.t1 - this.t0)} cycles in view`;
  }

  /** Time grid: 1, 2 or 5 times a power of ten cycles, about every 100 px. */
  private drawAxis(g: CanvasRenderingContext2D, col: Colors, w: number, hgt: number): number {
    const span = this.t1 - this.t0;
    const raw = (span / w) * 100;
    const pow = 10 ** Math.floor(Math.log10(raw));
    const step = raw / pow < 2 ? pow : raw / pow < 5 ? 2 * pow : 5 * pow;
    g.font = col.font;
    g.textBaseline = 'middle';
    let n = 0;
    for (let t = Math.ceil(this.t0 / step) * step; t <= this.t1; t += step) {
      const x = Math.round(this.x(t));
      g.fillStyle = col.grid;
      g.fillRect(x, AXIS_H - 4, 1, hgt - AXIS_H + 4);
      g.fillStyle = col.muted;
      g.fillText(INT.format(t), x + 3, AXIS_H / 2);
      n++;
    }
    return n;
  }

  /** Exit slices overlapping the window; slices closer than a pixel merge into one rectangle. */
  private drawSlices(g: CanvasRenderingContext2D, col: Colors, lane: Lane, y0: number, w: number): number {
    const n = lane.sliceStart.length;
    if (n === 0) return 0;
    // Slices do not overlap in a lane, so their ends ascend too.
    let s = lowerBound(lane.sliceEnd, this.t0);
    let drawn = 0;
    let rx0 = 0;
    let rx1 = -Infinity;
    const flush = () => {
      if (rx1 === -Infinity) return;
      const x0 = Math.max(rx0, -1);
      const x1 = Math.min(rx1, w + 1);
      g.globalAlpha = 0.35;
      g.fillStyle = col.slice;
      g.fillRect(x0, y0 + SLICE_TOP, Math.max(1, x1 - x0), SLICE_H);
      g.globalAlpha = 1;
      g.strokeStyle = col.slice;
      g.lineWidth = 1;
      g.strokeRect(x0 + 0.5, y0 + SLICE_TOP + 0.5, Math.max(0, x1 - x0 - 1), SLICE_H - 1);
      drawn++;
    };
    for (; s < n && lane.sliceStart[s]! <= this.t1; s++) {
      const x0 = this.x(lane.sliceStart[s]!);
      const x1 = this.x(lane.sliceEnd[s]!);
      if (x0 <= rx1 + 1) rx1 = Math.max(rx1, x1);
      else {
        flush();
        rx0 = x0;
        rx1 = x1;
      }
    }
    flush();
    return drawn;
  }

  /** Ticks and marks in the window, one per pixel column and kind. */
  private drawEvents(g: CanvasRenderingContext2D, col: Colors, lane: Lane, y0: number, w: number): number {
    const t = lane.t;
    let p = lowerBound(t, this.t0);
    const end = lowerBound(t, this.t1 + 1e-9, p);
    let lastTick = -1;
    let lastProbe = -1;
    let lastMark = -1;
    let lastLit = -1;
    let drawn = 0;
    const lines = this.lines;
    const hl = this.highlight;
    for (; p < end; p++) {
      const px = Math.floor(this.x(t[p]!));
      if (px < 0 || px >= w) continue;
      const k = lane.kind[p]!;
      if (hl > 0 && lastLit !== px && lines[lane.idx[p]!] === hl) {
        lastLit = px;
        g.fillStyle = col.highlight;
        g.fillRect(px - 1, y0 + SLICE_TOP - 2, 3, SLICE_H + 4);
        drawn++;
      }
      if (k === K_EXIT || k === K_ENTRY) continue; // the slice's edges
      if (k === K_RACE || k === K_MMU_LOCK || k === K_SRCU) {
        if (px === lastMark) continue;
        lastMark = px;
        g.fillStyle = k === K_RACE ? col.race : k === K_MMU_LOCK ? col.lock : col.srcu;
        g.beginPath();
        if (k === K_SRCU) {
          // A square: the updater sleeps.
          g.rect(px - 3, y0 + 1, 7, MARK_H - 1);
        } else {
          // A down-pointing triangle: the scheduler switched vCPUs here.
          g.moveTo(px - 4, y0 + 1);
          g.lineTo(px + 5, y0 + 1);
          g.lineTo(px + 0.5, y0 + MARK_H + 1);
          g.closePath();
        }
        g.fill();
        g.fillRect(px, y0 + MARK_H, 1, LANE_H - MARK_H - 4);
        drawn++;
      } else if (lane.probe[p]) {
        // A probe: a short dashed tick in the lower half, in its own colour.
        if (px === lastProbe) continue;
        lastProbe = px;
        g.fillStyle = col.probe;
        g.fillRect(px, y0 + SLICE_TOP + SLICE_H / 2, 1, 3);
        g.fillRect(px, y0 + SLICE_TOP + SLICE_H / 2 + 5, 1, 3);
        drawn++;
      } else {
        if (px === lastTick) continue;
        lastTick = px;
        g.fillStyle = col.fg;
        g.fillRect(px, y0 + SLICE_TOP + 3, 1, SLICE_H - 6);
        drawn++;
      }
    }
    return drawn;
  }

  private onWheel(e: WheelEvent): void {
    e.preventDefault();
    if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
      const d = e.shiftKey ? e.deltaY || e.deltaX : e.deltaX;
      const span = this.t1 - this.t0;
      this.setWindow(this.t0 + (d / this.width) * span, span);
      return;
    }
    const at = this.width > 0 ? e.offsetX / this.width : 0.5;
    this.zoom(Math.exp(Math.max(-1, Math.min(1, e.deltaY * 0.002))), at);
  }

  private click(x: number, y: number): void {
    const l = Math.floor((y - AXIS_H) / LANE_H);
    const lane = this.model.lanes[l];
    if (!lane || lane.idx.length === 0) return;
    const at = this.t0 + (x / this.width) * (this.t1 - this.t0);
    // The nearest event within HIT_PX; the first of several at one time.
    const p = lowerBound(lane.t, at);
    let best = -1;
    let bestD = HIT_PX + 1;
    for (const q of [p - 1, p]) {
      if (q < 0 || q >= lane.t.length) continue;
      let r = q;
      while (r > 0 && lane.t[r - 1] === lane.t[q]) r--;
      const d = Math.abs(this.x(lane.t[r]!) - x);
      if (d < bestD) {
        bestD = d;
        best = r;
      }
    }
    if (best < 0) {
      // Inside an exit slice: its kvm_exit.
      const s = lowerBound(lane.sliceEnd, at);
      if (s < lane.sliceStart.length && lane.sliceStart[s]! <= at) best = lane.sliceFirst[s]!;
    }
    if (best < 0) return;
    this.choose(l, best);
  }

  private selectLane(l: number): void {
    const lane = this.model.lanes[l];
    if (!lane || lane.idx.length === 0) return;
    const p = Math.min(lowerBound(lane.t, this.t0), lane.idx.length - 1);
    this.choose(l, p);
  }

  private choose(l: number, p: number): void {
    this.selLane = l;
    this.selPos = p;
    this.reveal();
    this.schedule();
    this.o.onSelect(this.model.lanes[l]!.idx[p]!);
  }

  /** Pan so that the selected event is in view. */
  private reveal(): void {
    if (this.selLane < 0) return;
    const t = this.model.lanes[this.selLane]!.t[this.selPos]!;
    const span = this.t1 - this.t0;
    if (t < this.t0 || t > this.t1) this.setWindow(t - span / 2, span);
  }

  private onKey(e: KeyboardEvent): void {
    const lanes = this.model.lanes;
    if (lanes.length === 0) return;
    let l = this.selLane;
    let p = this.selPos;
    switch (e.key) {
      case '+':
      case '=':
        this.zoom(1 / 2, this.selLane >= 0 ? (this.x(lanes[l]!.t[p]!) / this.width) : 0.5);
        break;
      case '-':
        this.zoom(2, 0.5);
        break;
      case '0':
        this.fit();
        break;
      case 'ArrowRight':
      case 'ArrowLeft': {
        if (l < 0) {
          l = firstNonEmpty(lanes);
          if (l < 0) return;
          p = Math.min(lowerBound(lanes[l]!.t, this.t0), lanes[l]!.idx.length - 1);
        } else p = Math.max(0, Math.min(lanes[l]!.idx.length - 1, p + (e.key === 'ArrowRight' ? 1 : -1)));
        this.choose(l, p);
        break;
      }
      case 'ArrowDown':
      case 'ArrowUp': {
        const dir = e.key === 'ArrowDown' ? 1 : -1;
        const t = l >= 0 ? lanes[l]!.t[p]! : this.t0;
        let m = l < 0 ? (dir > 0 ? -1 : lanes.length) : l;
        do m += dir;
        while (m >= 0 && m < lanes.length && lanes[m]!.idx.length === 0);
        if (m < 0 || m >= lanes.length) break;
        this.choose(m, nearest(lanes[m]!, t));
        break;
      }
      case 'Home':
      case 'End': {
        if (l < 0) l = firstNonEmpty(lanes);
        if (l < 0) return;
        this.choose(l, e.key === 'Home' ? 0 : lanes[l]!.idx.length - 1);
        break;
      }
      case 'Enter':
        if (l >= 0) this.choose(l, p);
        break;
      default:
        return;
    }
    e.preventDefault();
  }
}

function firstNonEmpty(lanes: Lane[]): number {
  return lanes.findIndex((la) => la.idx.length > 0);
}

/** The position of the lane's event nearest in time to `t` (the first of equals). */
function nearest(lane: Lane, t: number): number {
  const p = lowerBound(lane.t, t);
  if (p >= lane.t.length) return lane.t.length - 1;
  if (p === 0) return 0;
  return t - lane.t[p - 1]! <= lane.t[p]! - t ? lowerBound(lane.t, lane.t[p - 1]!) : p;
}
