// Per-era counts for MMIO accesses under EPT, against docs/kernel-paths.md §4.6 and §11 (read from
// the v3.0 and v3.1/3.2 sources): exits, memslot lookups (hits and misses), guest walks, counters.
// The VM has nmemslots = 35 (slot 0 plus VMX's private slots 33 and 34), so a miss compares 35 slots.
import { describe, it, expect } from 'vitest';
import { run, vm, NIC, RAM, EXTRA } from './helpers/scenario';
import type { RunResult } from '../simulator/run/result';

const NMEMSLOTS = 35;
const writes = (n: number, gva = NIC) => `  - repeat: ${n}\n    steps:\n      - { write: ${gva}, size: 4, value: 1 }`;
const reads = (n: number, gva = NIC) => `  - repeat: ${n}\n    steps:\n      - { read: ${gva}, size: 4 }`;

/** What N accesses cost beyond N - 1 of them: the steady-state cost of one access. */
function perAccess(kernel: 'v3.0' | 'v3.1', body: (n: number) => string, n = 10) {
  const a = run(vm(kernel, body(n)));
  const b = run(vm(kernel, body(n + 1)));
  const d = (k: string) => b.stats[k]! - a.stats[k]!;
  return { a, b, lookups: d('memslot_lookups'), misses: d('memslot_misses'), compares: d('memslot_compares'), walks: d('guest_walks'), exits: d('exits'), mmioExits: d('mmio_exits'), insn: d('insn_emulation') };
}

describe('v3.0: every MMIO access takes the full path', () => {
  it('N writes: N EPT violations, no misconfiguration, 2 walks and 13 lookups (4 misses) each', () => {
    const n = 50;
    const r = run(vm('v3.0', writes(n)));
    expect(r.exits.EPT_VIOLATION).toBe(n);
    expect(r.exits.EPT_MISCONFIG ?? 0).toBe(0);
    expect(r.faults['mmio-slow']).toBe(n);
    expect(r.stats.mmio_sptes_created).toBe(0);
    const p = perAccess('v3.0', writes);
    expect([p.walks, p.lookups, p.misses]).toEqual([2, 13, 4]);
    // Each miss walks every slot of the array, empty ones included.
    expect(p.compares).toBeGreaterThanOrEqual(p.misses * NMEMSLOTS);
    expect(r.stats.memslot_misses).toBeGreaterThanOrEqual(n);
  });

  it('a read costs one more walk: kvm_read_guest_virt before falling back to MMIO (3 walks, 17 lookups)', () => {
    const p = perAccess('v3.0', reads);
    expect([p.walks, p.lookups, p.misses]).toEqual([3, 17, 4]);
    expect(p.mmioExits).toBe(1); // kvm_mmu_page_fault counts EMULATE_DO_MMIO
  });

  it('handle_ept_misconfig never sees MMIO', () => {
    const r = run(vm('v3.0', writes(20)));
    expect(r.faults['mmio-cache'] + r.faults['mmio-fast'] + r.faults['mmio-retry'] + r.faults['mmio-bug']).toBe(0);
  });
});

describe('v3.1: the MMIO SPTE', () => {
  it('N writes to one unbacked gfn: 1 violation, N-1 misconfigurations, 1 MMIO SPTE', () => {
    const n = 50;
    const r = run(vm('v3.1', writes(n)));
    expect(r.exits.EPT_VIOLATION).toBe(1);
    expect(r.exits.EPT_MISCONFIG).toBe(n - 1);
    expect(r.faults['mmio-cache'] + r.faults['mmio-fast']).toBe(n - 1);
    expect(r.faults['mmio-slow']).toBe(1);
    expect(r.stats.mmio_sptes_created).toBe(1);
  });

  it('no memslot search misses after the first access', () => {
    const one = run(vm('v3.1', writes(1)));
    const many = run(vm('v3.1', writes(200)));
    expect(one.stats.memslot_misses).toBe(2); // tdp_page_fault: dirty_bitmap and gfn_to_pfn
    expect(many.stats.memslot_misses).toBe(one.stats.memslot_misses);
  });

  it('a warm access: 0 lookups in the handler, 2 walks and 9 hits in the emulator; no mmio_exits', () => {
    const p = perAccess('v3.1', writes);
    expect([p.exits, p.walks, p.lookups, p.misses, p.mmioExits, p.insn]).toEqual([1, 2, 9, 0, 0, 1]);
    const q = perAccess('v3.1', reads);
    expect([q.walks, q.lookups, q.misses]).toEqual([2, 9, 0]);
  });

  it('the cold access: 2 misses in tdp_page_fault, 11 lookups, mmio_exits bumped', () => {
    const r = run(vm('v3.1', writes(1)));
    expect(r.stats.memslot_lookups).toBe(11);
    expect(r.stats.guest_walks).toBe(2);
    expect(r.stats.mmio_exits).toBe(1);
    expect(r.stats.pf_fixed).toBe(1); // __direct_map counts the MMIO SPTE too
  });

  it('alternating between two MMIO pages: the one-entry cache misses, the lockless walk hits', () => {
    const body = (n: number) => `  - repeat: ${n}\n    steps:\n      - { write: ${NIC}, size: 4, value: 1 }\n      - { write: ${EXTRA}, size: 4, value: 2 }`;
    const r = run(vm('v3.1', body(100)));
    expect(r.faults['mmio-slow']).toBe(2);
    expect(r.faults['mmio-fast']).toBe(198);
    expect(r.faults['mmio-cache']).toBe(0);
    expect(r.stats.lockless_walks).toBe(198);
  });

  it('the same page again hits the cache: no lockless walk at all', () => {
    const r = run(vm('v3.1', writes(100)));
    expect(r.faults['mmio-cache']).toBe(99);
    expect(r.stats.lockless_walks).toBe(0);
  });
});

describe('RAM first touch (docs/kernel-paths.md §1.7)', () => {
  const touch = (k: 'v3.0' | 'v3.1'): RunResult => run(vm(k, `  - { read: ${RAM}, size: 8 }`));
  it('v3.0 looks the slot up 5 times (its dirty-bitmap bug forces 4K), v3.1 6 times', () => {
    expect(touch('v3.0').stats.memslot_lookups).toBe(5);
    expect(touch('v3.1').stats.memslot_lookups).toBe(6);
    for (const k of ['v3.0', 'v3.1'] as const) {
      const r = touch(k);
      expect(r.faults.map).toBe(1);
      expect(r.stats.pf_fixed).toBe(1);
      expect(r.stats.guest_walks).toBe(0);
    }
  });
});
