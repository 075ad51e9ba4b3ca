// The panel's two charts, drawn as SVG: a stacked bar (parts of a whole) and a change chart (one bar
// per item from a zero line: its difference from a baseline). Geometry is set in percent of the
// chart's width so the charts follow the panel's width without a viewBox stretching their strokes;
// colours come from the VS Code theme, set through the CSSOM because the panel's CSP forbids style
// attributes and SVG presentation attributes ignore var().

import { h, svg } from './dom';

/** The theme's chart colours, with VS Code's dark defaults for pages outside VS Code (tests). */
const BASE = [
  'var(--vscode-charts-blue, #3794ff)',
  'var(--vscode-charts-red, #f14c4c)',
  'var(--vscode-charts-green, #89d185)',
  'var(--vscode-charts-yellow, #cca700)',
  'var(--vscode-charts-orange, #d18616)',
  'var(--vscode-charts-purple, #b180d7)',
];

/**
 * The i-th colour of the panel's palette: the six theme chart colours, then halfway mixes of two of
 * them, then each mixed with the foreground colour (distinct and still theme-driven).
 */
export function chartColor(i: number): string {
  const n = BASE.length;
  const k = ((i % (3 * n)) + 3 * n) % (3 * n);
  if (k < n) return BASE[k]!;
  if (k < 2 * n) return `color-mix(in srgb, ${BASE[k - n]!} 50%, ${BASE[(k - n + 2) % n]!})`;
  return `color-mix(in srgb, ${BASE[k - 2 * n]!} 60%, var(--vscode-foreground, #cccccc))`;
}

/** A small colour square for legends. */
export function swatch(color: string): HTMLElement {
  const el = h('span', { class: 'chart-swatch', 'aria-hidden': 'true' });
  el.style.setProperty('background-color', color);
  return el;
}

function paint(el: SVGElement, color: string): SVGElement {
  el.style.setProperty('fill', color);
  return el;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(4)}%`;
}

export interface Segment {
  /** Set as the segment's data attribute (e.g. data-component="NAME"). */
  name: string;
  value: number;
  color: string;
  /** Tooltip text (the segment's `<title>`). */
  title: string;
}

/**
 * One horizontal bar split into segments proportional to their values. `dataKey` names the data
 * attribute each `<rect>` carries (`data-${dataKey}` = the segment's name).
 */
export function stackedBar(segments: readonly Segment[], opts: { dataKey: string; label: string }): SVGElement {
  const sum = segments.reduce((n, s) => n + s.value, 0);
  const chart = svg('svg', { class: 'stacked-bar', role: 'img', 'aria-label': opts.label, width: '100%', height: 28 });
  let at = 0;
  for (const s of segments) {
    const frac = sum === 0 ? 0 : s.value / sum;
    const rect = svg('rect', { class: 'chart-segment', x: pct(at), y: 0, width: pct(frac), height: 28, [`data-${opts.dataKey}`]: s.name }, svg('title', null, s.title));
    chart.appendChild(paint(rect, s.color));
    at += frac;
  }
  return chart;
}

export interface ChangeBar {
  /** Set as the bar's data attribute (e.g. data-variant="LABEL"). */
  name: string;
  /** The signed difference from the baseline, in the axis' unit (0 for the baseline itself). */
  change: number;
  color: string;
  /** Text after the bar (value, change). */
  text: string;
  /** Tooltip text (the bar's `<title>`). */
  title: string;
}

/**
 * Horizontal bars from a zero line, one row each: the name, the bar (right of the line for a
 * positive change, left for a negative one; the axis spans exactly the smallest to the largest
 * change, so small differences fill the row), then its text. A last row labels the axis's ends and
 * its zero with `axis`, so the bars are not read as absolute values.
 */
export function changeChart(bars: readonly ChangeBar[], opts: { dataKey: string; label: string; axis: (x: number) => string; zero: string }): HTMLElement {
  const lo = Math.min(0, ...bars.map((b) => b.change));
  const hi = Math.max(0, ...bars.map((b) => b.change));
  const span = hi - lo;
  const at = (x: number) => (span === 0 ? 0 : (x - lo) / span);
  const zero = at(0);
  const rows = bars.map((b) => {
    const x = Math.min(at(b.change), zero);
    const rect = svg('rect', { class: 'chart-bar', x: pct(x), y: 2, width: pct(Math.abs(at(b.change) - zero)), height: 16, [`data-${opts.dataKey}`]: b.name, 'data-change': b.change }, svg('title', null, b.title));
    return h(
      'div',
      { class: 'bar-row', role: 'listitem' },
      h('span', { class: 'bar-name' }, b.name),
      svg('svg', { class: 'bar-track', width: '100%', height: 20, 'aria-hidden': 'true' }, paint(rect, b.color), zeroLine(zero, 20)),
      h('span', { class: 'bar-text' }, b.text),
    );
  });
  // No change at all: a single label, not the same one at both ends.
  const ticks: SVGElement[] = span === 0 ? [tick(0, 'start', opts.axis(0))] : [tick(0, 'start', opts.axis(lo)), tick(1, 'end', opts.axis(hi))];
  // The zero's own label where it does not run into an end's.
  if (zero > 0.2 && zero < 0.8) ticks.push(tick(zero, 'middle', opts.zero));
  const axis = h(
    'div',
    { class: 'bar-row bar-axis', role: 'presentation' },
    h('span', null),
    svg('svg', { class: 'bar-track', width: '100%', height: 16, 'aria-hidden': 'true', 'data-testid': 'change-axis' }, zeroLine(zero, 4), ...ticks),
    h('span', { class: 'bar-text' }, zero <= 0.2 || zero >= 0.8 ? `0 = ${opts.zero}` : ''),
  );
  return h('div', { class: 'bar-chart change-chart', role: 'list', 'aria-label': opts.label }, ...rows, axis);
}

function zeroLine(zero: number, height: number): SVGElement {
  const line = svg('line', { class: 'chart-zero', x1: pct(zero), x2: pct(zero), y1: 0, y2: height });
  line.style.setProperty('stroke', 'var(--vscode-foreground, #cccccc)');
  line.style.setProperty('stroke-width', '1px');
  return line;
}

function tick(x: number, anchor: 'start' | 'middle' | 'end', text: string): SVGElement {
  const t = svg('text', { x: pct(x), y: 12, 'text-anchor': anchor }, text);
  t.style.setProperty('fill', 'var(--vscode-descriptionForeground, #9d9d9d)');
  t.style.setProperty('font-size', '11px');
  return t;
}
