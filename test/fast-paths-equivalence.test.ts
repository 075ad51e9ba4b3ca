// The fast paths change nothing observable (issue 15 item 2): every example, under each of the 9
// modes of helpers/modes.ts and under each of its `compare:` variants, gives the same report with
// RunOptions.fastPaths on and off, byte for byte: JSON text of the whole RunResult with the access
// log, call paths (flame) and a trace ring of TRACE_CAPACITY events. The access-rule and transparency
// properties check the same for their random workloads (helpers/fast_paths.ts).
//
// The ring holds every event of every run but those of LONG_TRACES (measured event counts below);
// there the last TRACE_CAPACITY events are compared, with the totals, and since every event carries
// its vCPU's clock, a cycle that differs earlier still shows. This file takes about 63 s of CPU (100 s
// on the shared 2-core machine at load 5-6); with every trace held whole (1,000,000 events) it took
// 102 s of CPU.
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { scenario } from './helpers/scenario';
import { MODES } from './helpers/modes';
import { firstDifference } from './helpers/fast_paths';
import { runScenario, GuestSetupError } from '../simulator/run/run';
import { variantsOf } from '../simulator/run/compare';
import type { ScenarioOverrides } from '../simulator/scenario/types';

/** examples/**\/*.mmio.yaml */
function examples(dir = 'examples'): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? examples(join(dir, d.name)) : d.name.endsWith('.mmio.yaml') ? [join(dir, d.name)] : [],
  );
}

const TRACE_CAPACITY = 120_000;
/** Runs with more events than the ring holds: netperf-tcp-rr 458,029-736,019 in every mode and
 *  variant, apic-eoi 220,009-400,000 in every mode, kernbench 412,317 and 454,973 under shadow
 *  paging with oos_shadow 0 (the others 63,588-111,681). */
const LONG_TRACES = ['examples/seed/netperf-tcp-rr.mmio.yaml', 'examples/apic-eoi.mmio.yaml', 'examples/seed/kernbench.mmio.yaml'];

/** The report as JSON text, or the error that refused the run. */
function report(file: string, overrides: ScenarioOverrides, fastPaths: boolean): { text: string; dropped: number } {
  const sc = scenario(readFileSync(file, 'utf8'), file);
  try {
    const r = runScenario(sc, { overrides, accesses: true, callPaths: true, traceCapacity: TRACE_CAPACITY, fastPaths });
    return { text: JSON.stringify(r), dropped: r.trace.dropped };
  } catch (e) {
    if (!(e instanceof GuestSetupError)) throw e;
    return { text: `refused: ${e.message}`, dropped: 0 };
  }
}

describe('fast paths on and off give byte-identical reports', () => {
  for (const file of examples()) {
    const sc = scenario(readFileSync(file, 'utf8'), file);
    const runs: [string, ScenarioOverrides][] = [...MODES, ...(sc.compare.length > 0 ? variantsOf(sc).map((v): [string, ScenarioOverrides] => [`variant "${v.label}"`, v.overrides]) : [])];
    describe(file, () => {
      for (const [name, overrides] of runs) {
        it(name, () => {
          const fast = report(file, overrides, true);
          const slow = report(file, overrides, false);
          if (!LONG_TRACES.includes(file)) expect(slow.dropped, 'trace events dropped: raise TRACE_CAPACITY or list the file').toBe(0);
          expect(firstDifference(fast.text, slow.text)).toBeNull();
        }, 120_000);
      }
    });
  }
});
