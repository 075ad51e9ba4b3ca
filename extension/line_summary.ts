// The after-line text of a workload line (decorations.ts), e.g.
// `×1,000 · 999 mmio-cache · 1 mmio-slow · 46.2 Mcycles`. No vscode import: unit-tested directly.

import type { LineStats } from '../simulator/index';
import { fmtCycles, fmtInt } from '../shared/format';

/** Fault classes of the line, most frequent first (ties by name, so the text is stable). */
export function lineFaults(stats: LineStats): [string, number][] {
  return Object.entries(stats.faults)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

export function lineSummary(stats: LineStats): string {
  const parts = [`×${fmtInt(stats.count)}`];
  for (const [cls, n] of lineFaults(stats)) parts.push(`${fmtInt(n)} ${cls}`);
  parts.push(fmtCycles(stats.cycles));
  return parts.join(' · ');
}
