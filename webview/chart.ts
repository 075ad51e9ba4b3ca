// The panel's two charts, drawn as SVG: a stacked bar (parts of a whole) and a bar chart (one bar per
// item). Geometry is set in percent of the chart's width so the charts follow the panel's width
// without a viewBox stretching their strokes; colours come from the VS Code theme, set through the
// CSSOM because the panel's CSP forbids style attributes and SVG presentation attributes ignore var().

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

export interface Bar {
  /** Set as the bar's data attribute (e.g. data-variant="LABEL"). */
  name: string;
  value: number;
  color: string;
  /** Text after the bar (value, change). */
  text: string;
  /** Tooltip text (the bar's `<title>`). */
  title: string;
}

/**
 * Horizontal bars, one row each: the name, the bar (length proportional to its value, the largest
 * filling the row), then its text. Rows are HTML so long names wrap with the theme's font.
 */
export function barChart(bars: readonly Bar[], opts: { dataKey: string; label: string }): HTMLElement {
  const max = Math.max(0, ...bars.map((b) => b.value));
  const rows = bars.map((b) => {
    const frac = max <= 0 ? 0 : Math.max(0, b.value) / max;
    const rect = svg('rect', { class: 'chart-bar', x: 0, y: 2, width: pct(frac), height: 16, [`data-${opts.dataKey}`]: b.name }, svg('title', null, b.title));
    return h(
      'div',
      { class: 'bar-row', role: 'listitem' },
      h('span', { class: 'bar-name' }, b.name),
      svg('svg', { class: 'bar-track', width: '100%', height: 20, 'aria-hidden': 'true' }, paint(rect, b.color)),
      h('span', { class: 'bar-text' }, b.text),
    );
  });
  return h('div', { class: 'bar-chart', role: 'list', 'aria-label': opts.label }, ...rows);
}
