// v3.1 invalidation on memslot creation (kvm_arch_flush_shadow) and the runtime caching switch.
import { describe, it, expect } from 'vitest';
import { run, vm, NIC } from './helpers/scenario';

const overNic = (kernel: 'v3.0' | 'v3.1') =>
  vm(
    kernel,
    `  - repeat: 5
    steps:
      - { write: ${NIC}, size: 4, value: 7 }
  - { memslot: add, slot: 1, gpa: 0xfebf0000, size: 4K }
  - { write: ${NIC}, size: 8, value: 0x1122334455667788 }
  - { read: ${NIC}, size: 8 }`,
  );

describe('creating a memslot over a cached MMIO gfn', () => {
  it('v3.1 zaps every shadow page, and the gfn becomes RAM: what is written is read back', () => {
    const r = run(overNic('v3.1'), { accesses: true });
    expect(r.stats.mmu_shadow_zapped).toBeGreaterThanOrEqual(4); // root, and the L3, L2, L1 tables
    expect(r.stats.memslot_updates).toBe(1);
    const last = r.accesses!.at(-1)!;
    expect(last).toMatchObject({ op: 'read', result: 'ok', value: '0x1122334455667788' });
    expect(r.stats.mmio_writes).toBe(5); // the two later accesses reached RAM, not the device
    expect(r.exits.EPT_MISCONFIG).toBe(4); // only the 4 warm accesses before the slot existed
  });

  it('v3.0 never flushes on creation, yet has nothing to invalidate', () => {
    const r = run(overNic('v3.0'), { accesses: true });
    expect(r.stats.mmu_shadow_zapped).toBe(0);
    expect(r.accesses!.at(-1)!.value).toBe('0x1122334455667788');
  });

  it('deleting the slot again sends the gfn back to MMIO, with a fresh MMIO SPTE', () => {
    const r = run(vm('v3.1', `  - { memslot: add, slot: 1, gpa: 0xfebf0000, size: 4K }\n  - { write: ${NIC}, size: 4, value: 1 }\n  - { memslot: delete, slot: 1 }\n  - { write: ${NIC}, size: 4, value: 2 }\n  - { write: ${NIC}, size: 4, value: 3 }`));
    expect(r.stats.mmio_writes).toBe(2);
    expect(r.stats.mmio_sptes_created).toBe(1);
    expect(r.faults.map).toBeGreaterThanOrEqual(1);
  });

  it('the vCPU MMIO cache has no generation in v3.1: it survives the zap', () => {
    // Fill the cache with the NIC gfn, create a RAM slot elsewhere (zap all), then touch the NIC:
    // the EPT violation of the rebuilt tables still finds the stale cache by GPA in the emulator.
    const r = run(vm('v3.1', `  - { write: ${NIC}, size: 4, value: 1 }\n  - { memslot: add, slot: 2, gpa: 0x8000000, size: 1M }\n  - { write: ${NIC}, size: 4, value: 2 }`));
    expect(r.stats.mmu_shadow_zapped).toBeGreaterThan(0);
    expect(r.trace.events.filter((e) => e.name === 'vcpu_match_mmio' && e.fields.gpa_match === true).length).toBe(2);
  });
});

describe('the runtime switch mmio_caching', () => {
  it('off: no MMIO SPTE, every access is an EPT violation (as v3.0, but the cache still fills)', () => {
    const r = run(vm('v3.1', `  - { set: { mmio_caching: false } }\n  - repeat: 10\n    steps:\n      - { write: ${NIC}, size: 4, value: 1 }`));
    expect(r.faults['mmio-slow']).toBe(10); // (the switch's zap also re-faults the guest's table pages)
    expect(r.exits.EPT_MISCONFIG ?? 0).toBe(0);
    expect(r.stats.mmio_sptes_created).toBe(0);
    expect(r.stats.mmio_cache_fills).toBe(10);
  });

  it('switching it off zaps the MMIO SPTEs already installed', () => {
    const r = run(vm('v3.1', `  - { write: ${NIC}, size: 4, value: 1 }\n  - { set: { mmio_caching: false } }\n  - repeat: 3\n    steps:\n      - { write: ${NIC}, size: 4, value: 1 }`));
    expect(r.stats.mmu_shadow_zapped).toBeGreaterThan(0);
    expect(r.exits.EPT_MISCONFIG ?? 0).toBe(0);
    expect(r.exits.EPT_VIOLATION).toBeGreaterThanOrEqual(4);
  });
});
