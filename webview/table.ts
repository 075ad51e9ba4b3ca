// A data table (vscode-elements' vscode-table) with "Copy as CSV" and "Copy as Markdown" actions.
// Cells are text; the same rows feed the clipboard, so what is copied is what is shown.

import { h, icon, setAttrs, type Attrs } from './dom';
import { post } from './host';
import { toCsv, toMarkdown, type Cell } from './table_text';

export interface Column {
  title: string;
  /** Right-aligned, and a right-aligned Markdown column. */
  numeric?: boolean;
}

export interface TableSpec {
  /** Stable id: `data-table` on the wrapper, for tests and for state. */
  id: string;
  caption: string;
  columns: Column[];
  rows: Cell[][];
  /** Called when a row is activated (click or Enter). */
  onRow?: (index: number) => void;
  /** Extra attributes of row `index` (data-* hooks, classes). */
  rowAttrs?: (index: number) => Attrs;
  /** Column widths (vscode-table splits its width evenly otherwise, cutting text columns short). */
  widths?: string[];
  /** A cell's content as a node (a link), or null for its text; the clipboard keeps the text. */
  cellNode?: (row: number, col: number) => Node | null;
}

export function dataTable(spec: TableSpec): HTMLElement {
  const titles = spec.columns.map((c) => c.title);
  const numeric = spec.columns.map((c) => c.numeric === true);
  const copy = (format: 'csv' | 'markdown') => () =>
    post({ type: 'copy', format, text: format === 'csv' ? toCsv(titles, spec.rows) : toMarkdown(titles, spec.rows, numeric) });

  const header = h('vscode-table-header', { slot: 'header' }, ...spec.columns.map((c) => h('vscode-table-header-cell', { class: c.numeric ? 'num' : null }, c.title)));
  const body = h('vscode-table-body', { slot: 'body' });
  spec.rows.forEach((row, i) => {
    // Each cell's text is also its tooltip: a narrow column cuts it short.
    const tr = h('vscode-table-row', { 'data-row': i }, ...row.map((cell, j) => h('vscode-table-cell', { class: numeric[j] ? 'num' : null, title: String(cell) }, spec.cellNode?.(i, j) ?? cell)));
    if (spec.rowAttrs) setAttrs(tr, spec.rowAttrs(i));
    if (spec.onRow) {
      tr.tabIndex = 0;
      tr.addEventListener('click', () => spec.onRow!(i));
      tr.addEventListener('keydown', (e) => {
        if ((e as KeyboardEvent).key === 'Enter') spec.onRow!(i);
      });
    }
    body.appendChild(tr);
  });
  const table = h('vscode-table', { zebra: true, 'bordered-columns': true, 'aria-label': spec.caption }, header, body);
  if (spec.widths) setWidths(table as HTMLElement & { columns: string[] }, spec.widths);

  return h(
    'section',
    { class: 'data-table', 'data-table': spec.id },
    h(
      'div',
      { class: 'table-bar' },
      h('h3', null, spec.caption),
      copyButton('csv', `Copy ${spec.caption} as CSV`, 'CSV', copy('csv')),
      copyButton('markdown', `Copy ${spec.caption} as Markdown`, 'MD', copy('markdown')),
    ),
    spec.rows.length > 0 ? table : h('p', { class: 'empty' }, 'None.'),
  );
}

function copyButton(format: string, label: string, text: string, onClick: () => void): HTMLElement {
  const b = h('vscode-button', { secondary: true, 'data-copy': format, title: label, 'aria-label': label }, icon('copy'), ' ', text);
  b.addEventListener('click', onClick);
  return b;
}

/** vscode-table applies column sizes only while it has a width, so a table built in a hidden tab
 *  gets them again when it is first shown (after its own resize observer has measured it). */
function setWidths(table: HTMLElement & { columns: string[] }, widths: string[]): void {
  table.columns = widths;
  const observer = new ResizeObserver(() => {
    if (table.getBoundingClientRect().width === 0) return;
    observer.disconnect();
    requestAnimationFrame(() => (table.columns = widths));
  });
  observer.observe(table);
}
