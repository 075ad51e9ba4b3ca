// How many problems one file reports: the first MAX_DIAGNOSTICS by position, then one saying how
// many more there are. A file with millions of bad items (a generated list, garbage) would
// otherwise print millions of lines and hold them all in memory.

import type { Diagnostic } from './types';

/** Problems reported in full. One mistake rarely causes more than a handful; a hundred fill a few
 *  screens of a terminal or the Problems view, and past that the rest repeat the same mistake. */
export const MAX_DIAGNOSTICS = 100;

/** Problems kept while reading, to sort and choose the first MAX_DIAGNOSTICS from; the rest are
 *  only counted. The reader goes through the file in order, so these are its first ones. */
export const KEPT_DIAGNOSTICS = 1000;

/** `kept` (sorted by position) cut to MAX_DIAGNOSTICS, then one "and M more" at the first left out;
 *  `total` counts those never kept too. */
export function capDiagnostics(kept: Diagnostic[], total: number): Diagnostic[] {
  if (total <= MAX_DIAGNOSTICS) return kept;
  const next = kept[MAX_DIAGNOSTICS]!;
  const more = total - MAX_DIAGNOSTICS;
  return [...kept.slice(0, MAX_DIAGNOSTICS), { ...next, message: `and ${more} more problem${more === 1 ? '' : 's'} (only the first ${MAX_DIAGNOSTICS} are reported)` }];
}

/** How many problems a capped list stands for: its entries, except that the "and M more" entry
 *  capDiagnostics ends a cut list with counts M. */
export function problemCount(diags: readonly Diagnostic[]): number {
  const more = diags.length > MAX_DIAGNOSTICS ? /^and (\d+) more problem/.exec(diags[diags.length - 1]!.message) : null;
  return more ? diags.length - 1 + Number(more[1]) : diags.length;
}
