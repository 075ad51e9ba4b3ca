// The compiled loop for accesses that hit the TLB (Machine.hitRun, a fast path): runs of reads and
// writes of one page, in nested and labelled loops, broken by other pages, MMIO exits, computes, an
// access the TLB entry does not grant (a write without D, a user access to a supervisor page), a
// second vCPU, and a run stopped after any step: every report identical with the fast paths on and
// off (helpers/fast_paths.ts), and the loop really runs most of the steps.
import { describe, it, expect, vi, afterEach } from 'vitest';
import { scenario, vm, vmVcpus, RAM, NIC } from './helpers/scenario';
import { runBothWays } from './helpers/fast_paths';
import { Machine } from '../simulator/run/machine';
import { MODES } from './helpers/modes';

const OTHER = '0xffff880000200010';
/** A page mapped 4K, without D, user-accessible, so a write after reads misses (D) and a CPL-3 read
 *  hits; and a supervisor page, so a CPL-3 access after CPL-0 hits faults. */
const EXTRA_MAPS = `    - { gva: 0x8000000000, gpa: 0x3000000, size: 4K, page: 4K, flags: "p w u a", pde: "p w u a", pdpte: "p w u a", pml4e: "p w u a" }`;

const BODY = `  - repeat: 40
    label: outer
    steps:
      - { read: ${RAM}, size: 8 }
      - repeat: 7
        label: inner
        steps:
          - { read: ${RAM}, size: 4 }
          - { write: 0xffff880000100008, size: 8, value: 0x1122334455667788 }
          - { read: 0xffff880000100009, size: 2 }
      - { read: ${OTHER}, size: 8 }
      - { read: ${OTHER}, size: 1, cpl: 3 }
      - { write: ${NIC}, size: 4, value: 1 }
      - { read: ${RAM}, size: 8 }
      - { compute: 7 }
      - { read: 0x8000000010, size: 4 }
      - { read: 0x8000000010, size: 4, cpl: 3 }
      - { write: 0x8000000010, size: 4, value: 5 }
      - { read: 0x8000000010, size: 4, cpl: 3 }`;

function withExtra(text: string): string {
  return text.replace(/(flags: "p w a d pcd nx" \}\n)(?!    - \{ gva: 0xffffc9)/, `$1${EXTRA_MAPS}\n`);
}

type HitRun = { hitRun(i: number): number };
let fastSteps = 0;
function countFastSteps(): void {
  fastSteps = 0;
  const proto = Machine.prototype as unknown as HitRun;
  const original = proto.hitRun;
  vi.spyOn(proto, 'hitRun').mockImplementation(function (this: HitRun, i: number) {
    const n = original.call(this, i);
    fastSteps += n;
    return n;
  });
}
afterEach(() => vi.restoreAllMocks());

describe('the compiled loop for TLB hits gives the reports of the step-by-step model', () => {
  const text = withExtra(vm('v3.1', BODY));

  it('the scenario has the mapping the cases need', () => {
    expect(scenario(text).guest.mappings.some((m) => m.gva.vpn === 0x8000000)).toBe(true);
  });

  for (const [name, o] of MODES) {
    it(`${name}: whole runs, with and without the access log and call paths`, () => {
      countFastSteps();
      const sc = scenario(text);
      runBothWays(sc, { overrides: o, accesses: true, traceCapacity: 100_000 }, name);
      runBothWays(sc, { overrides: o, callPaths: false }, `${name}, no call paths`);
      // 40 x (1 + 7 x 3 + ...): most of the 40 x 21 inner accesses are hits the loop runs.
      expect(fastSteps).toBeGreaterThan(2 * 40 * 15);
    });
  }

  it('runs stopped after any step of a hit run', () => {
    const sc = scenario(text);
    for (const stop of [0, 1, 2, 3, 4, 5, 8, 13, 21, 22, 23, 24, 25, 26, 30, 31, 32, 33, 34, 35, 36, 37, 100, 377]) {
      for (const o of [MODES[1]![1], MODES[5]![1]]) runBothWays(sc, { overrides: o, accesses: true, stopAfterStep: stop }, `stop after ${stop}, ${JSON.stringify(o)}`);
    }
  });

  it('a second vCPU: the loop runs only once the other has finished, and both orders agree', () => {
    countFastSteps();
    const short = `      - { read: ${RAM}, size: 8 }\n      - { write: ${RAM}, size: 8, value: 3 }\n      - { write: ${NIC}, size: 4, value: 1 }`;
    const long = `      - repeat: 200\n        steps:\n          - { read: ${RAM}, size: 8 }\n          - { write: 0xffff880000100010, size: 4, value: 9 }`;
    for (const [name, o] of [MODES[1]!, MODES[5]!]) {
      runBothWays(scenario(vmVcpus('v3.1', [short, long])), { overrides: o, accesses: true }, `${name}, short then long`);
      runBothWays(scenario(vmVcpus('v3.1', [long, short])), { overrides: o, accesses: true }, `${name}, long then short`);
    }
    expect(fastSteps).toBeGreaterThan(4 * 300);
  });
});
