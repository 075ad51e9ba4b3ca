// webview/column_fit.ts: how a data table's columns share the width they get. Widths worked out by
// hand from the rules in the module's header.

import { describe, expect, it } from 'vitest';
import { fitColumns, type ColumnSize } from '../webview/column_fit';

const col = (min: number, max: number, priority = 1, floor = min): ColumnSize => ({ min, max, floor, priority });
const total = (ws: number[]) => ws.reduce((n, w) => n + w, 0);

describe('fitColumns', () => {
  it('room for every line unwrapped: each column gets its width and a share of the rest in proportion to it', () => {
    const fit = fitColumns([col(40, 100), col(20, 50), col(30, 50)], 400);
    expect(fit.shown).toEqual([true, true, true]);
    // 200 px used, 200 px left: 100, 50 and 50 more.
    expect(fit.widths).toEqual([200, 100, 100]);
    expect(fit.width).toBe(400);
  });

  it('short of the unwrapped widths: each column gets its longest word and a share of the rest in proportion to what wrapping costs it', () => {
    // min 100, max 300; 160 px: 60 px to share, column 0 would lose 160 of the 200, column 1 40.
    const fit = fitColumns([col(40, 200), col(60, 100)], 160);
    expect(fit.widths[0]).toBeCloseTo(40 + (60 * 160) / 200);
    expect(fit.widths[1]).toBeCloseTo(60 + (60 * 40) / 200);
    expect(total(fit.widths)).toBeCloseTo(160);
  });

  it('columns drop out by priority, a whole level at a time, the least important first, until the rest fit at their longest word', () => {
    const columns = [col(100, 150), col(60, 80, 3), col(60, 80, 2), col(60, 80, 3), col(80, 120)];
    // All: min 360. Without level 3: 240. Without 2 and 3: 180.
    expect(fitColumns(columns, 360).shown).toEqual([true, true, true, true, true]);
    expect(fitColumns(columns, 359).shown).toEqual([true, false, true, false, true]);
    expect(fitColumns(columns, 239).shown).toEqual([true, false, false, false, true]);
    const narrow = fitColumns(columns, 200);
    expect(narrow.widths[1]).toBe(0);
    expect(narrow.widths[2]).toBe(0);
    expect(total(narrow.widths)).toBeCloseTo(200);
  });

  it('never drops an essential column: their words break down to each column\'s floor, in proportion to what each can give', () => {
    // min 300 in 240 px: column 0 can give 100 (200 -> 100), column 1 nothing (a number at its floor), column 2 50.
    const fit = fitColumns([col(200, 260, 1, 100), col(50, 50, 1, 50), col(50, 80, 1, 0)], 240);
    expect(fit.shown).toEqual([true, true, true]);
    expect(fit.widths[0]).toBeCloseTo(200 - (60 * 100) / 150);
    expect(fit.widths[1]).toBe(50);
    expect(fit.widths[2]).toBeCloseTo(50 - (60 * 50) / 150);
    expect(fit.width).toBe(240);
  });

  it('wider than its box only when even the floors do not fit: the table then scrolls', () => {
    const fit = fitColumns([col(200, 260, 1, 100), col(100, 100, 1, 100), col(40, 40, 2)], 150);
    expect(fit.shown).toEqual([true, true, false]);
    expect(fit.widths).toEqual([100, 100, 0]);
    expect(fit.width).toBe(200);
  });
});
