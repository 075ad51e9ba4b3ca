// A shadow page's entries for reading: consecutive entries holding the same non-present value (v3.0's
// trap and notrap values fill whole pages under bypass_guest_pf) make one run, so a page reads as
// its few mapped entries and the ranges around them instead of 512 lines. Present entries stay single.

import type { SpteRecord } from '../kvm/mmu/inspect';

export interface SpteRun {
  /** The run's first and last index (equal for a single entry). */
  first: number;
  last: number;
  /** The first entry of the run; every entry of a run has its kind and value. */
  entry: SpteRecord;
}

const RUNS = new Set(['trap', 'notrap', 'nonpresent']);

export function spteRuns(entries: readonly SpteRecord[]): SpteRun[] {
  const out: SpteRun[] = [];
  for (const e of entries) {
    const prev = out[out.length - 1];
    if (prev && RUNS.has(e.kind) && prev.last + 1 === e.index && prev.entry.kind === e.kind && prev.entry.value === e.value) prev.last = e.index;
    else out.push({ first: e.index, last: e.index, entry: e });
  }
  return out;
}

/** `12` or `12-511`. */
export function runIndexText(r: SpteRun): string {
  return r.first === r.last ? String(r.first) : `${r.first}-${r.last}`;
}
