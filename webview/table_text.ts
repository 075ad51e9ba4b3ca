// A table as text for the clipboard: CSV (RFC 4180 quoting) and Markdown (pipes and newlines escaped).

export type Cell = string | number;

export function toCsv(columns: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const field = (c: Cell) => {
    const s = String(c);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns, ...rows].map((r) => r.map(field).join(',')).join('\r\n') + '\r\n';
}

export function toMarkdown(columns: readonly string[], rows: readonly (readonly Cell[])[], numeric: readonly boolean[] = []): string {
  const cell = (c: Cell) => String(c).replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
  const line = (r: readonly Cell[]) => `| ${r.map(cell).join(' | ')} |`;
  const rule = `|${columns.map((_, i) => (numeric[i] ? '---:' : '---')).join('|')}|`;
  return [line(columns), rule, ...rows.map(line)].join('\n') + '\n';
}
