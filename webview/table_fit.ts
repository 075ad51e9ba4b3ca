// A data table fitted to the width it gets, again whenever that width changes. Each column's
// narrowest (longest word) and widest (unwrapped) width is measured once, from copies of its cells
// laid out off screen; webview/column_fit.ts shares the width. vscode-table lays its header and
// body out as two fixed-layout tables: the widths go on the header cells and the first row's cells
// (as the element itself sets them), in percent of the table. Columns that drop out are hidden, named
// in a note below the table and in the tooltip of each row's first cell.

import { fitColumns, type ColumnFit, type ColumnSize } from './column_fit';
import { h } from './dom';

/** A text column squeezed below its longest word keeps this much (pixels, padding aside). */
const TEXT_FLOOR = 40;

export interface FitColumn {
  title: string;
  numeric: boolean;
  priority: number;
}

export function fitTable(section: HTMLElement, table: HTMLElement, columns: readonly FitColumn[]): void {
  let sizes: ColumnSize[] | null = null;
  let hidden = '';
  const note = h('p', { class: 'note table-hidden', 'data-testid': 'hidden-columns', hidden: true });
  section.appendChild(note);
  // Built in a hidden tab the table has no width: it is measured and fitted when it is first shown.
  const observer = new ResizeObserver((entries) => {
    // A view replaces its tables on each run (Shadow tables on each page): a removed one is let go.
    if (!section.isConnected) return observer.disconnect();
    const width = entries[entries.length - 1]!.contentRect.width;
    if (width === 0) return;
    sizes ??= measure(section, table, columns);
    // The cells' padding is narrower in a narrow panel (panel.css): added at each fit.
    const pad = cellEdges(table);
    const fit = fitColumns(sizes.map((c) => ({ ...c, min: c.min + pad, max: c.max + pad, floor: c.floor + pad })), width);
    applyWidths(table, fit, width);
    const key = fit.shown.join();
    if (key !== hidden) {
      hidden = key;
      showColumns(table, note, columns, fit.shown);
    }
  });
  observer.observe(section);
}

function cellsOf(table: HTMLElement): { head: HTMLElement[]; rows: HTMLElement[][] } {
  const head = [...table.querySelectorAll<HTMLElement>('vscode-table-header-cell')];
  const rows = [...table.querySelectorAll<HTMLElement>('vscode-table-body vscode-table-row')].map((tr) => [...tr.querySelectorAll<HTMLElement>(':scope > vscode-table-cell')]);
  return { head, rows };
}

/** A cell's padding and border, in pixels (a column after the first has a border on its left: it is
 *  counted for all, it is a pixel). */
function cellEdges(table: HTMLElement): number {
  const cell = table.querySelector('vscode-table-header-cell + vscode-table-header-cell') ?? table.querySelector('vscode-table-header-cell');
  if (!cell) return 0;
  const s = getComputedStyle(cell);
  return parseFloat(s.paddingLeft) + parseFloat(s.paddingRight) + parseFloat(s.borderLeftWidth) + parseFloat(s.borderRightWidth);
}

/** Each column's min, max and floor width (pixels, the cells' padding aside). Copies of the
 *  cells' contents are laid out in a box that takes no room, read in one layout pass, and removed. */
function measure(section: HTMLElement, table: HTMLElement, columns: readonly FitColumn[]): ColumnSize[] {
  const { head, rows } = cellsOf(table);
  const box = h('div', { class: 'table-measure', 'aria-hidden': 'true' });
  const probes: HTMLElement[][] = columns.map(() => []);
  const seen = columns.map(() => new Set<string>());
  const probe = (cell: HTMLElement | undefined, j: number, header: boolean) => {
    if (!cell) return;
    const key = `${header}:${cell.textContent}`;
    if (seen[j]!.has(key)) return;
    seen[j]!.add(key);
    for (const kind of ['measure-min', 'measure-max', 'measure-floor']) {
      // The cell's own classes too: `.num` sets tabular figures, wider than proportional ones.
      const span = h('span', { class: `${kind}${header ? ' measure-head' : ''} ${cell.className}`.trim() });
      for (const n of cell.childNodes) span.appendChild(n.cloneNode(true));
      // A number breaks between its digit groups only below the column's min (at its floor).
      if (kind === 'measure-min') span.querySelectorAll('wbr.digits').forEach((w) => w.remove());
      box.appendChild(span);
      probes[j]!.push(span);
    }
  };
  columns.forEach((_, j) => {
    probe(head[j], j, true);
    for (const r of rows) probe(r[j], j, false);
  });
  section.appendChild(box);
  const sizes = columns.map((c, j) => {
    const widest = (kind: string) => probes[j]!.reduce((w, span) => (span.classList.contains(kind) ? Math.max(w, span.getBoundingClientRect().width) : w), 0);
    // A pixel more: the widths are set in percent and land on fractions of a pixel.
    const [min, max, floor] = ['measure-min', 'measure-max', 'measure-floor'].map((kind) => Math.ceil(widest(kind)) + 1) as [number, number, number];
    // Text breaks anywhere (overflow-wrap in panel.css) down to a few characters; numbers only between groups.
    return { min, max, floor: c.numeric ? floor : Math.min(floor, TEXT_FLOOR), priority: c.priority };
  });
  box.remove();
  return sizes;
}

function applyWidths(table: HTMLElement, fit: ColumnFit, available: number): void {
  const { head, rows } = cellsOf(table);
  const pct = fit.widths.map((w) => `${((w / fit.width) * 100).toFixed(4)}%`);
  head.forEach((c, j) => (c.style.width = pct[j]!));
  rows[0]?.forEach((c, j) => (c.style.width = pct[j]!));
  // Only when even the essential columns do not fit: the table is wider than its box, which scrolls.
  table.style.minWidth = fit.width > available + 0.5 ? `${Math.ceil(fit.width)}px` : '';
}

function showColumns(table: HTMLElement, note: HTMLElement, columns: readonly FitColumn[], shown: readonly boolean[]): void {
  const { head, rows } = cellsOf(table);
  head.forEach((c, j) => c.classList.toggle('col-hidden', !shown[j]));
  const gone = shown.flatMap((on, j) => (on ? [] : [j]));
  for (const r of rows) {
    r.forEach((c, j) => c.classList.toggle('col-hidden', !shown[j]));
    const first = r[0];
    if (!first) continue;
    const text = first.textContent ?? '';
    first.title = [text, ...gone.map((j) => `${columns[j]!.title}: ${r[j]?.textContent ?? ''}`)].join('\n');
  }
  note.hidden = gone.length === 0;
  note.textContent = gone.length === 0 ? '' : `Hidden at this width: ${gone.map((j) => columns[j]!.title).join(', ')} (in each row's tooltip; CSV and MD copy them).`;
}
