// A data table (vscode-elements' vscode-table) with "Copy as CSV" and "Copy as Markdown" actions.
// Cells are text; the same rows feed the clipboard, so what is copied is what is shown. The table
// fits the width it gets (webview/table_fit.ts): its text wraps, and the columns of lower priority
// drop out of a narrow panel.

import { h, icon, setAttrs, wrappable, type Attrs } from './dom';
import { post } from './host';
import { fitTable } from './table_fit';
import { toCsv, toMarkdown, type Cell } from './table_text';

export interface Column {
  title: string;
  /** Right-aligned, and a right-aligned Markdown column. */
  numeric?: boolean;
  /** 1 (the default): always shown. 2 and 3: dropped when the panel is too narrow for every column,
   *  3 first; a row's first cell then names their values in its tooltip. The first column is 1. */
  priority?: number;
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
  /** A cell's content as a node (a link), or null for its text; the clipboard keeps the text. */
  cellNode?: (row: number, col: number) => Node | null;
}

export function dataTable(spec: TableSpec): HTMLElement {
  const titles = spec.columns.map((c) => c.title);
  const numeric = spec.columns.map((c) => c.numeric === true);
  const copy = (format: 'csv' | 'markdown') => () =>
    post({ type: 'copy', format, text: format === 'csv' ? toCsv(titles, spec.rows) : toMarkdown(titles, spec.rows, numeric) });

  // Titles and text cells may wrap after an underscore (bypass_guest_pf, kernel function names).
  const header = h('vscode-table-header', { slot: 'header' }, ...spec.columns.map((c) => h('vscode-table-header-cell', { class: c.numeric ? 'num' : null, title: c.title }, wrappable(c.title))));
  const body = h('vscode-table-body', { slot: 'body' });
  spec.rows.forEach((row, i) => {
    // Each cell's text is also its tooltip.
    const tr = h('vscode-table-row', { 'data-row': i }, ...row.map((cell, j) => h('vscode-table-cell', { class: numeric[j] ? 'num' : null, title: String(cell) }, spec.cellNode?.(i, j) ?? wrappable(String(cell)))));
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
  const table = h('vscode-table', { zebra: true, 'aria-label': spec.caption }, header, body);
  const section = h(
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
  if (spec.rows.length > 0) {
    fitTable(section, table, spec.columns.map((c, j) => ({ title: c.title, numeric: c.numeric === true, priority: j === 0 ? 1 : (c.priority ?? 1) })));
  }
  return section;
}

function copyButton(format: string, label: string, text: string, onClick: () => void): HTMLElement {
  const b = h('vscode-button', { secondary: true, 'data-copy': format, title: label, 'aria-label': label }, icon('copy'), ' ', text);
  b.addEventListener('click', onClick);
  return b;
}
