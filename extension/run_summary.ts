// One line about a run, for the status bar: `<exits> exits · <top fault class> · <elapsed>`. No
// vscode import: unit-tested directly.

import type { RunResult } from '../simulator/index';
import { fmtInt } from '../shared/format';

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
