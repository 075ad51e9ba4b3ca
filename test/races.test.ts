// The lockless walk under concurrent zapping (the 2011 RCU scheme), and scheduler determinism.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { run, vmVcpus, scenario, NIC, EXTRA } from './helpers/scenario';
import { runScenario } from '../simulator/run/run';

describe('zap while a lockless walker is inside the shadow tables', () => {
  const example = readFileSync('examples/race-zap-during-walk.mmio.yaml', 'utf8');

  it('the walker finds no MMIO SPTE and the fault is retried; pages wait for it to leave', () => {
    const r = runScenario(scenario(example));
    expect(r.faults['mmio-retry']).toBe(1);
    expect(r.stats.sp_delayed_free).toBeGreaterThan(0);
    expect(r.trace.events.some((e) => e.name === 'kvm_mmu_delay_free_pages')).toBe(true);
    expect(r.warnings).toEqual([]); // in particular, no read of a freed shadow page
    expect(r.stats.mmio_writes).toBe(8); // and every access still completed
  });

  it('without a walker inside, zapped pages are freed at once', () => {
    const r = run(vmVcpus('v3.1', [`      - { write: ${NIC}, size: 4, value: 1 }\n      - { write: ${NIC}, size: 4, value: 1 }`, `      - { memslot: add, slot: 3, gpa: 0x8000000, size: 1M }`]));
    expect(r.stats.mmu_shadow_zapped).toBeGreaterThan(0);
    expect(r.stats.sp_delayed_free).toBe(0);
  });

  it('the freeing side waits: the frames of zapped pages are not reused while the walker reads them', () => {
    // Zap after each level of the walk in turn; each run must complete without a freed-page read.
    // Once the walker has read the leaf it holds the MMIO SPTE: a zap after that is harmless and
    // the access is emulated (mmio-fast); a zap after an upper level leaves it zeroes: a retry.
    for (const level of [4, 3, 2, 1]) {
      const pair = `      - { write: ${NIC}, size: 4, value: 1 }\n      - { write: ${EXTRA}, size: 4, value: 1 }`;
      const r = run(vmVcpus('v3.1', [`${pair}\n${pair}`, `      - { wait_for: { vcpu: 0, point: mmu_spte_get_lockless, level: ${level} } }\n      - { memslot: add, slot: 3, gpa: 0x8000000, size: 1M }`]));
      expect(r.warnings).toEqual([]);
      expect(r.faults['mmio-retry']).toBe(level === 1 ? 0 : 1);
      expect(r.stats.sp_delayed_free).toBeGreaterThan(0);
      expect(r.stats.mmio_writes).toBe(4);
    }
  });
});

describe('deterministic scheduling', () => {
  const yaml = vmVcpus('v3.1', [
    `      - repeat: 50\n        steps:\n          - { write: ${NIC}, size: 4, value: 1 }\n          - { write: ${EXTRA}, size: 4, value: 2 }`,
    `      - repeat: 5\n        steps:\n          - { memslot: add, slot: 3, gpa: 0x8000000, size: 1M }\n          - { memslot: delete, slot: 3 }`,
  ]).replace('kernel: v3.1', 'kernel: v3.1\nscheduler: { seed: 7, preempt: 0.3 }');

  it('the same seed gives the same run, event for event', () => {
    const a = run(yaml);
    const b = run(yaml);
    expect(a.trace).toEqual(b.trace);
    expect(a.faults).toEqual(b.faults);
  });

  it('random preemption interleaves the memslot updates with the walks, and nothing breaks', () => {
    const r = run(yaml);
    expect(r.stats.memslot_updates).toBe(10);
    expect(r.stats.mmio_writes).toBe(100);
    expect(r.warnings).toEqual([]);
    expect(r.trace.events.some((e) => e.name === 'vcpu_switch')).toBe(true);
  });
});
