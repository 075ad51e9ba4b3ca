// `compare:` variants: the same scenario run under different settings, and the figure of merit of
// each with its change against the first variant. Pure: variants are independent, so a caller may
// run them in parallel (the CLI uses worker threads) and get exactly what running them in turn gives.

import type { MetricDecl, Scenario, ScenarioOverrides } from '../scenario/types';
import type { RunResult } from './result';
import { runScenario } from './run';
import type { Variant } from './kernel_variants';

export interface VariantResult {
  label: string;
  /** The settings the variant ran with (the scenario's, changed by the variant). */
  settings: { kernel: string; tdp: boolean; mmio_caching: boolean; bypass_guest_pf: boolean; oos_shadow: boolean; enable_vpid: boolean; profile: string; maxphyaddr: number; memslots: number };
  /** The figure of merit: iterations per second of the metric's label, or elapsed seconds. */
  metric: number;
  /** Change of the metric against the first variant, in percent (0 for the first). */
  change_pct: number;
  /** What was changed to run the scenario this way, and why (Compare Kernels; empty otherwise). */
  notes: string[];
  report: RunResult;
}

export interface CompareResult {
  file: string;
  name: string;
  metric: { kind: 'rate' | 'elapsed'; label: string | null; unit: string; higher_is_better: boolean };
  variants: VariantResult[];
}

/** The variants to run: the scenario's `compare:` list, or the scenario alone. */
export function variantsOf(sc: Scenario): Variant[] {
  return sc.compare.length > 0 ? sc.compare.map((v) => ({ label: v.label, overrides: v.overrides, notes: [] })) : [{ label: sc.name, overrides: {}, notes: [] }];
}

export function runVariant(sc: Scenario, overrides: ScenarioOverrides, callPaths = false): RunResult {
  const r = runScenario(sc, { overrides, traceCapacity: 0, callPaths });
  r.trace.events = [];
  return r;
}

/** The figure of merit of a run. */
export function metricValue(r: RunResult, m: MetricDecl): number {
  const seconds = (cycles: number) => cycles / (r.cycles.ghz * 1e9);
  if (m.kind === 'elapsed') return seconds(r.cycles.elapsed);
  const l = r.labels[m.label];
  if (!l || l.cycles === 0) return 0;
  return l.count / seconds(l.cycles);
}

/** Put the variants' runs together (in the order of `variants`, by default `variantsOf`). */
export function assemble(sc: Scenario, runs: RunResult[], variants: Variant[] = variantsOf(sc)): CompareResult {
  const m = sc.metric;
  const labels = variants;
  const values = runs.map((r) => metricValue(r, m));
  const base = values[0] ?? 0;
  return {
    file: sc.file,
    name: sc.name,
    metric: m.kind === 'rate' ? { kind: 'rate', label: m.label, unit: m.unit, higher_is_better: true } : { kind: 'elapsed', label: null, unit: 's', higher_is_better: false },
    variants: runs.map((r, i) => ({
      label: labels[i]!.label,
      settings: { kernel: r.kernel, tdp: r.tdp, mmio_caching: r.mmio_caching, bypass_guest_pf: r.bypass_guest_pf, oos_shadow: r.oos_shadow, enable_vpid: r.enable_vpid, profile: r.profile, maxphyaddr: r.maxphyaddr, memslots: r.memslots },
      metric: values[i]!,
      change_pct: base === 0 ? 0 : ((values[i]! - base) / base) * 100,
      notes: labels[i]!.notes,
      report: r,
    })),
  };
}

/** Run every variant in turn. */
export function compareScenario(sc: Scenario, variants: Variant[] = variantsOf(sc), callPaths = false): CompareResult {
  return assemble(sc, variants.map((v) => runVariant(sc, v.overrides, callPaths)), variants);
}
