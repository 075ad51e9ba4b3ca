// Filler memslots (a `compare:` variant's `memslots: N`): one page each from 4G up, past the scenario's
// memory and devices in one step each (a huge slot is jumped over, not walked in 2M steps), and never
// above MAXPHYADDR: when there is no room, one located error before the run.
import { describe, it, expect } from 'vitest';
import { scenario } from './helpers/scenario';
import { runScenario, GuestSetupError } from '../simulator/run/run';

const huge = (size: string, maxphyaddr: number) => `
kernel: v3.1
host: { maxphyaddr: ${maxphyaddr} }
memslots:
  - { slot: 0, gpa: 0x0, size: 64M }
  - { slot: 1, gpa: 0x100000000, size: ${size} }
devices:
  - { name: nic, gpa: 0xfebf0000, size: 4K, handler: kernel }
guest:
  mappings:
    - { gva: 0xffffc90000000000, gpa: 0xfebf0000, size: 4K, flags: "p w a d pcd nx" }
workload:
  - { write: 0xffffc90000000000, size: 4, value: 1 }
`;

describe('filler memslots', () => {
  it('jump a slot of 0xeffff00000000 bytes at once and land above it, below MAXPHYADDR', () => {
    const r = runScenario(scenario(huge('0xeffff00000000', 52)), { overrides: { memslot_count: 32 }, traceCapacity: 0 });
    expect(r.memslots).toBe(32);
    const fillers = r.memslot_table.slots.filter((s) => !s.private && s.slot >= 2);
    expect(fillers).toHaveLength(30);
    const end = 0x100000000 + 0xeffff00000000;
    for (const f of fillers) {
      const gpa = Number(f.gpa);
      expect(gpa).toBeGreaterThanOrEqual(end);
      expect(gpa + 4096).toBeLessThanOrEqual(2 ** 52);
    }
  });

  it('no room below MAXPHYADDR: one error at the memslots, nothing run', () => {
    // 40 bits: the slot ends 2M below 2^40, room for one filler page, not for 30.
    let err: unknown = null;
    try {
      runScenario(scenario(huge('0xfeffe00000', 40)), { overrides: { memslot_count: 32 }, traceCapacity: 0 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GuestSetupError);
    expect((err as GuestSetupError).message).toMatch(/^memslots: 32: no room for filler slot \d+ below MAXPHYADDR \(40 bits, 0x10000000000\)/);
    expect((err as GuestSetupError).line).toBe(5);
  });
});
