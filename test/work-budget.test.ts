// The run's budget is simulation time, not a step count (simulator/run/work_budget.ts): each step kind
// costs what it takes to simulate, so a workload of dear steps is refused where as many cheap ones
// run, before anything runs, at the step that goes past the budget.
import { describe, it, expect } from 'vitest';
import { scenario } from './helpers/scenario';
import { Machine } from '../simulator/run/machine';
import { GuestSetupError } from '../simulator/run/run';
import { MAX_WORK_US, STEP_COST_US, workOf } from '../simulator/run/work_budget';

const vm = (workload: string, vcpus = false) => `
kernel: v3.1
memslots:
  - { slot: 0, gpa: 0x0, size: 64M }
devices:
  - { name: nic, gpa: 0xfebf0000, size: 4K, handler: kernel }
guest:
  mappings:
    - { gva: 0xffffc90000000000, gpa: 0xfebf0000, size: 4K, flags: "p w a d pcd nx" }
${vcpus ? 'vcpus:\n' + workload : 'workload:\n' + workload}
`;

function refusal(yaml: string): GuestSetupError | null {
  try {
    new Machine(scenario(yaml));
    return null;
  } catch (e) {
    if (e instanceof GuestSetupError) return e;
    throw e;
  }
}

describe('the work budget', () => {
  it('refuses 1.4e8 memslot add/delete pairs (about 13 minutes once) at the repeat, before running', () => {
    const yaml = vm(`  - { compute: 10 }
  - repeat: 140000000
    steps:
      - { memslot: add, slot: 5, gpa: 0x10000000, size: 4K }
      - { memslot: delete, slot: 5 }
`);
    const e = refusal(yaml);
    expect(e?.message).toMatch(/^the workload would take about 2,241 s to simulate \(this vCPU's 2\.80e\+8 steps and any before it\); the limit is 300 s per run/);
    const repeatLine = yaml.split('\n').findIndex((l) => l.includes('repeat: 140000000')) + 1;
    expect([e?.line, e?.col]).toEqual([repeatLine, 5]); // the repeat, not the first step
  });

  it('runs as many cheap steps as fit: 2.8e8 compute steps are under the budget where the memslot steps were not', () => {
    const steps = scenario(vm('  - repeat: 280000000\n    steps:\n      - { compute: 10 }\n')).vcpus[0]!.workload;
    expect(workOf(steps)).toBe(2.8e8 * STEP_COST_US.compute);
    expect(workOf(steps)).toBeLessThanOrEqual(MAX_WORK_US);
  });

  it('adds up the vCPUs: two workloads each under the budget, together over it', () => {
    const half = Math.ceil(MAX_WORK_US / STEP_COST_US.write / 2) + 1;
    const one = `  - workload:\n      - repeat: ${half}\n        steps:\n          - { write: 0xffffc90000000000, size: 4, value: 1 }\n`;
    expect(refusal(vm(one, true))).toBeNull();
    const yaml = vm(one + one, true);
    const e = refusal(yaml);
    expect(e?.message).toMatch(/^the workload would take about 301 s to simulate/);
    const repeats = yaml.split('\n').flatMap((l, i) => (l.includes(`repeat: ${half}`) ? [i + 1] : []));
    expect(e?.line).toBe(repeats[1]); // the second vCPU's repeat
  });
});
