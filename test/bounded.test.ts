// Memory stays bounded however long the run: counters aggregate, events live in a ring.
import { describe, it, expect } from 'vitest';
import { run, vm, NIC, RAM } from './helpers/scenario';
import { GuestSetupError } from '../simulator/run/run';

describe('long runs', () => {
  it('keep the last trace events only, and allocate no host frames per access', () => {
    const body = (n: number) => `  - repeat: ${n}\n    steps:\n      - { write: ${NIC}, size: 4, value: 1 }\n      - { read: ${RAM}, size: 8 }`;
    const small = run(vm('v3.1', body(100)), { traceCapacity: 500 });
    const large = run(vm('v3.1', body(50_000)), { traceCapacity: 500 });
    expect(large.trace.events).toHaveLength(500);
    expect(large.trace.total).toBeGreaterThan(500_000);
    expect(large.trace.dropped).toBe(large.trace.total - 500);
    expect(large.trace.events.at(-1)!.seq).toBe(large.trace.total - 1);
    expect(large.stats.host_pages).toBe(small.stats.host_pages);
    expect(large.stats.shadow_pages_max).toBe(small.stats.shadow_pages_max);
  });

  it('a workload too long to finish is refused before it starts, at its line', () => {
    expect(() => run(vm('v3.1', `  - repeat: 1000000\n    steps:\n      - repeat: 1000\n        steps:\n          - { read: ${RAM}, size: 8 }`))).toThrowError(GuestSetupError);
    try {
      run(vm('v3.1', `  - repeat: 1000000\n    steps:\n      - repeat: 1000\n        steps:\n          - { read: ${RAM}, size: 8 }`));
    } catch (e) {
      expect((e as GuestSetupError).message).toContain('1.00e+9 steps');
      expect((e as GuestSetupError).line).toBeGreaterThan(1);
    }
  });

  it('every event carries the workload step it belongs to', () => {
    const r = run(vm('v3.1', `  - { write: ${NIC}, size: 4, value: 1 }\n  - { compute: 10 }\n  - { write: ${NIC}, size: 4, value: 2 }`));
    const steps = new Set(r.trace.events.map((e) => e.step));
    expect(steps).toEqual(new Set([0, 2]));
    expect(r.trace.events.filter((e) => e.name === 'kvm_exit').map((e) => e.step)).toEqual([0, 2]);
  });
});
