// A table as text for the clipboard: CSV (shared/csv.ts: RFC 4180 quoting, formulas neutralised)
// and Markdown (pipes, line breaks and HTML escaped).

import { csvField } from '../shared/csv';

export type Cell = string | number;

export function toCsv(columns: readonly string[], rows: readonly (readonly Cell[])[]): string {
  return [columns, ...rows].map((r) => r.map((c) => csvField(String(c))).join(',')).join('\r\n') + '\r\n';
}

export function toMarkdown(columns: readonly string[], rows: readonly (readonly Cell[])[], numeric: readonly boolean[] = []): string {
  const cell = (c: Cell) => markdownCell(String(c));
  const line = (r: readonly Cell[]) => `| ${r.map(cell).join(' | ')} |`;
  const rule = `|${columns.map((_, i) => (numeric[i] ? '---:' : '---')).join('|')}|`;
  return [line(columns), rule, ...rows.map(line)].join('\n') + '\n';
}

/** A cell's text as one GFM table cell that shows those characters: a backslash and `|` escaped,
 *  every line break (CRLF, a bare CR or LF: Markdown ends a line at each) a space, and `&`, `<`, `>`
 *  as entities, so raw HTML in a label stays text wherever the Markdown is rendered. */
export function markdownCell(s: string): string {
  return s
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/\r\n|\r|\n/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}
