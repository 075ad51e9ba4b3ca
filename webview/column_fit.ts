// How a data table's columns share the width it gets (pure: no DOM, unit-tested). Each column has
// the width of its longest unbreakable word (min) and of its longest line unwrapped (max), measured
// by webview/table_fit.ts. Columns drop out by priority until the rest fit at their min; then each
// gets its min plus a share of the room left in proportion to what it would use unwrapped, as a
// browser's automatic table layout shares it. Only when even the essential columns do not fit do
// words break (text anywhere, numbers between digit groups), down to each column's floor; only when
// that is not enough either is the table wider than its box (it scrolls sideways).

export interface ColumnSize {
  /** Pixels: the longest word (with the cell's padding). */
  min: number;
  /** Pixels: the longest line unwrapped (with the cell's padding). */
  max: number;
  /** Pixels, at most min: the narrowest the column gets with its words broken. */
  floor: number;
  /** 1: always shown; higher numbers drop out first when the width is short. */
  priority: number;
}

export interface ColumnFit {
  /** Per column: shown at this width. */
  shown: boolean[];
  /** Per column, pixels (0 when hidden); they add up to `width`. */
  widths: number[];
  /** The table's width: `available`, or more when even the essential columns do not fit. */
  width: number;
}

export function fitColumns(columns: readonly ColumnSize[], available: number): ColumnFit {
  const shown = columns.map(() => true);
  const sum = (f: (c: ColumnSize) => number) => columns.reduce((n, c, i) => n + (shown[i] ? f(c) : 0), 0);
  // Drop the least important level of columns at a time, so columns of one level come and go together.
  while (sum((c) => c.min) > available) {
    const level = Math.max(...columns.map((c, i) => (shown[i] ? c.priority : 1)));
    if (level <= 1) break;
    columns.forEach((c, i) => {
      if (c.priority === level) shown[i] = false;
    });
  }
  const min = sum((c) => c.min);
  const max = sum((c) => c.max);
  let widths: number[];
  if (max <= available) {
    // Room for every line unwrapped: the rest of the width in proportion to each column's width.
    widths = columns.map((c, i) => (shown[i] ? c.max + ((available - max) * c.max) / max : 0));
  } else if (min <= available) {
    const flex = max - min;
    widths = columns.map((c, i) => (shown[i] ? c.min + (flex === 0 ? 0 : ((available - min) * (c.max - c.min)) / flex) : 0));
  } else {
    // Even the essential columns' words do not fit: each gives up width in proportion to what it can
    // give, down to its floor.
    const give = columns.map((c, i) => (shown[i] ? Math.max(0, c.min - Math.min(c.min, c.floor)) : 0));
    const room = give.reduce((n, g) => n + g, 0);
    const cut = Math.min(room, min - available);
    widths = columns.map((c, i) => (shown[i] ? c.min - (room === 0 ? 0 : (cut * give[i]!) / room) : 0));
  }
  return { shown, widths, width: Math.max(available, widths.reduce((n, w) => n + w, 0)) };
}
