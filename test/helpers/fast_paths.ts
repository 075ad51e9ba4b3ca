// The fast paths' contract (RunOptions.fastPaths): a run with them and a run without give the same
// report, byte for byte. Shared by the equivalence test over the examples and by the property tests
// (access rules, transparency), which check it for their random workloads too.
import { expect } from 'vitest';
import { Machine, type RunOptions } from '../../simulator/run/machine';
import { collect } from '../../simulator/run/run';
import type { Scenario } from '../../simulator/scenario/types';

/** Where two report texts first differ, with some context on each side (the first report's and the
 *  second's), or null when they are identical. */
export function firstDifference(a: string, b: string, context = 160): string | null {
  if (a === b) return null;
  let i = 0;
  while (i < a.length && i < b.length && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  const from = Math.max(0, i - context);
  return `at character ${i} of ${a.length} / ${b.length}:\n  fast: ...${a.slice(from, i + context)}\n  slow: ...${b.slice(from, i + context)}`;
}

/** Run `sc` with the fast paths and without, expect identical reports (JSON text: every field, the
 *  call paths included unless `options` turns them off), and return the machine that took them. */
export function runBothWays(sc: Scenario, options: RunOptions, what: string): Machine {
  const opts: RunOptions = { callPaths: true, ...options };
  const fast = new Machine(sc, { ...opts, fastPaths: true });
  fast.run();
  const slow = new Machine(sc, { ...opts, fastPaths: false });
  slow.run();
  expect(firstDifference(JSON.stringify(collect(fast, opts)), JSON.stringify(collect(slow, opts))), `${what}: fast paths on vs off`).toBeNull();
  return fast;
}
