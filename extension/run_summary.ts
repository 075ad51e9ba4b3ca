// One line about a run, for the status bar: `<exits> exits · <top fault class> · <elapsed>`, and
// the Markdown of its tooltip. No vscode import: unit-tested directly.

import type { RunResult } from '../simulator/index';
import { fmtCycles, fmtInt } from '../shared/format';
import { mdText } from './markdown_text';

/** Seconds as people read them: 850 ns, 15.2 µs, 3.4 ms, 1.25 s. */
export function fmtSeconds(s: number): string {
  const a = Math.abs(s);
  if (a >= 1) return `${s.toFixed(2)} s`;
  if (a >= 1e-3) return `${(s * 1e3).toFixed(1)} ms`;
  if (a >= 1e-6) return `${(s * 1e6).toFixed(1)} µs`;
  return `${Math.round(s * 1e9)} ns`;
}

export function totalExits(r: RunResult): number {
  return Object.values(r.exits).reduce((a, b) => a + b, 0);
}

/** The most frequent fault class, or null when nothing faulted. */
export function topFaultClass(r: RunResult): { cls: string; count: number } | null {
  let best: { cls: string; count: number } | null = null;
  for (const [cls, count] of Object.entries(r.faults)) if (count > 0 && (!best || count > best.count)) best = { cls, count };
  return best;
}

/** The vCPUs' elapsed time in seconds of the profile's clock. */
export function elapsedSeconds(r: RunResult): number {
  return r.cycles.elapsed / (r.cycles.ghz * 1e9);
}

export function statusText(r: RunResult): string {
  const top = topFaultClass(r);
  return `${fmtInt(totalExits(r))} exits · ${top ? top.cls : 'no faults'} · ${fmtSeconds(elapsedSeconds(r))}`;
}

/** The status-bar tooltip (Markdown with theme icons). The scenario's name, the file name and
 *  everything else the run carries from the scenario are plain text (mdText). */
export function runTooltip(file: string, r: RunResult): string {
  const mode = r.tdp ? 'EPT' : r.bypass_guest_pf ? 'shadow paging, bypass_guest_pf' : 'shadow paging';
  let md = `**MMU Lab** · ${mdText(r.name)}\n\n${mdText(`${file} · kernel ${r.kernel} · ${mode} · ${r.profile}`)}\n\n`;
  md += `${mdText(`${fmtInt(totalExits(r))} exits · ${fmtSeconds(elapsedSeconds(r))} elapsed (${fmtCycles(r.cycles.elapsed)})`)}\n\n`;
  const faults = Object.entries(r.faults).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  if (faults.length > 0) md += faults.map(([c, n]) => `${mdText(c)} ${fmtInt(n)}`).join(' · ') + '\n\n';
  const failed = r.expect.filter((e) => !e.ok).length;
  if (r.expect.length > 0) md += failed === 0 ? `All ${r.expect.length} expectations hold.\n\n` : `$(error) ${failed} of ${r.expect.length} expectations fail.\n\n`;
  return md + 'Click to show the results.';
}
