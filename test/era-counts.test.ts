// Per-era counts for MMIO accesses under EPT, against docs/kernel-paths.md §5.6 and §16 (read from
// the 3.0.1 and 3.1.10 release sources): exits, memslot lookups (hits and misses), guest walks, counters.
// The VM has nmemslots = 35 (slot 0 plus VMX's private slots: the TSS at 32, TSS_PRIVATE_MEMSLOT, and
// the EPT identity page table at 34, IDENTITY_PAGETABLE_PRIVATE_MEMSLOT; asm/vmx.h 3.0.1 lines
// 373-375), so a miss compares 35 slots.
//
// v3.0.1, one MMIO access through handle_ept_violation (vmx.c 3713: kvm_mmu_page_fault(vcpu, gpa,
// exit_qualification & 0x3, NULL, 0)) -> tdp_page_fault (mmu.c 2738):
//   2757 force_pt_level = mapping_level_dirty_bitmap(vcpu, gfn): 566-569 `return
//        !gfn_to_memslot_dirty_bitmap(vcpu, large_gfn, true);` -> gfn_to_memslot          1 MISS
//        (so force_pt_level is true and 2759 mapping_level is skipped: no kvm_host_page_size)
//   2767 try_async_pf -> gfn_to_pfn_async -> __gfn_to_pfn -> gfn_to_hva (kvm_main.c 1144) 1 MISS
//   2772 return kvm_handle_bad_page(...) = 1: no SPTE; kvm_mmu_page_fault (mmu.c 3407) emulates.
// x86_emulate_instruction -> x86_decode_insn (x86.c 4599) -> do_fetch_insn_byte (emulate.c 690)
//   -> kvm_fetch_guest_virt -> kvm_read_guest_virt_helper: a walk (x86.c 3785; paging_tmpl.h 179
//   gfn_to_hva per level: 4 HIT) and kvm_read_guest (x86.c 3793: 1 HIT)                    5 HIT
// write: emulator_write_emulated_onepage: 3950 kvm_mmu_gva_to_gpa_write (a walk: 4 HIT);
//   3959 emulator_write_phys -> 3934 kvm_write_guest -> gfn_to_hva (kvm_main.c 1345)       1 MISS
//   = 12 lookups, 3 misses, 2 walks.
// read: emulator_read_emulated: 3890 kvm_mmu_gva_to_gpa_read (a walk: 4 HIT); 3899
//   kvm_read_guest_virt -> the helper again (a walk: 4 HIT, kvm_read_guest 1 MISS)
//   = 16 lookups, 3 misses, 3 walks.
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
  it('N writes: N EPT violations, no misconfiguration, 2 walks and 12 lookups (3 misses) each', () => {
    const n = 50;
    const r = run(vm('v3.0', writes(n)));
    expect(r.exits.EPT_VIOLATION).toBe(n);
    expect(r.exits.EPT_MISCONFIG ?? 0).toBe(0);
    expect(r.faults['mmio-slow']).toBe(n);
    expect(r.stats.mmio_sptes_created).toBe(0);
    const p = perAccess('v3.0', writes);
    expect([p.walks, p.lookups, p.misses]).toEqual([2, 12, 3]); // see the tally at the top
    // Each miss walks every slot of the array, empty ones included (kvm_main.c __gfn_to_memslot: `for (i
    // = 0; i < slots->nmemslots; ++i)`); each hit is in slot 0 (the guest's tables and code), 1 compare.
    expect(p.compares).toBe(3 * NMEMSLOTS + 9);
    expect(r.stats.memslot_misses).toBeGreaterThanOrEqual(n);
  });

  it('a read costs one more walk: kvm_read_guest_virt before falling back to MMIO (3 walks, 16 lookups)', () => {
    const p = perAccess('v3.0', reads);
    expect([p.walks, p.lookups, p.misses]).toEqual([3, 16, 3]); // see the tally at the top
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

describe('RAM first touch (docs/kernel-paths.md §2.7)', () => {
  const touch = (k: 'v3.0' | 'v3.1'): RunResult => run(vm(k, `  - { read: ${RAM}, size: 8 }`));
  // Both eras, tdp_page_fault (3.0.1 mmu.c 2738; 3.1.10 mmu.c 3047), host pages 4K:
  //   mapping_level_dirty_bitmap (3.0.1 566, `!gfn_to_memslot_dirty_bitmap`: a HIT, so not forced)  1
  //   mapping_level -> host_mapping_level (575) -> kvm_host_page_size (539; kvm_main.c 988 gfn_to_hva) 2
  //   try_async_pf -> gfn_to_hva (kvm_main.c 1144)                                                  3
  //   __direct_map -> mmu_set_spte -> set_spte: mark_page_dirty (mmu.c 2078)                         4
  //   page_header_update_slot -> memslot_id (2148)                                                  5
  //   rmap_add -> gfn_to_rmap (2150)                                                                6
  // (transparent_hugepage_adjust, 2334, looks nothing up for a 4K host page.)
  it('both eras look the slot up 6 times (v3.0.1 has the same `!` in mapping_level_dirty_bitmap)', () => {
    expect(touch('v3.0').stats.memslot_lookups).toBe(6);
    expect(touch('v3.1').stats.memslot_lookups).toBe(6);
    for (const k of ['v3.0', 'v3.1'] as const) {
      const r = touch(k);
      expect(r.faults.map).toBe(1);
      expect(r.stats.pf_fixed).toBe(1);
      expect(r.stats.guest_walks).toBe(0);
    }
  });
});
