// The after-line text of a workload line (decorations.ts), e.g.
// `×1,000 · 999 mmio-cache · 1 mmio-slow · 46.2 Mcycles`, and the Markdown of its hover. No vscode
// import: unit-tested directly.

import type { LineStats } from '../simulator/index';
import { fmtCycles, fmtInt } from '../shared/format';
import { mdText } from './markdown_text';

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

/** The line's hover (Markdown); the file name is plain text (mdText). */
export function lineHover(stats: LineStats, file: string): string {
  let md = `**MMU Lab** · ${mdText(`${file}, line ${stats.line}`)}\n\n`;
  md += `Ran ${fmtInt(stats.count)} time${stats.count === 1 ? '' : 's'}, ${mdText(fmtCycles(stats.cycles))} charged to the vCPU.\n\n`;
  const faults = lineFaults(stats);
  if (faults.length === 0) return md + 'No faults: the CPU handled it without KVM.\n';
  md += '| fault class | count |\n|---|---:|\n';
  for (const [cls, n] of faults) md += `| ${mdText(cls)} | ${fmtInt(n)} |\n`;
  return md;
}
