// The two host profiles: the cycle cost of each action the simulated kernel performs. Pure data.
// Every value, the place in the kernel path where it is charged, its anchor and the arithmetic
// behind it are in docs/cost-model.md; the anchors themselves are in
// /work/shared/reference/cost-anchors.md (anchor tags: [V] stated in a public source, [M] measured by
// us, [D] derived, [U] unverified). Each value's comment starts with the constant's own tag, as in the
// "Tags" table of docs/cost-model.md (test/cost-tags.test.ts keeps the two equal): verified, derived,
// estimate (no source prices it) or unsupported (rests on unverified sources or nothing checkable).

import type { CostProfile } from './profile';
import type { ProfileName } from '../scenario/types';

/** Westmere/Nehalem-class 2011 host; TSC rate of the SplitX Xeon X5570 (Nehalem-EP, 2.93 GHz). */
const WESTMERE_2011: CostProfile = {
  name: 'westmere-2011',
  ghz: 2.93, // verified: Xeon X5570 nominal (= TSC) frequency, the host of the SplitX 2,000-cycle figure (cost-anchors §2.1)
  vmexit_transition: 2000, // verified: SplitX [V]: 2,000 cyc direct exit cost, Xeon X5570, KVM 2.6.34, EPT+VPID (cost-anchors §2.1)
  exit_handler: 800, // estimate: modern 650 (SKX vmcall [V] minus transition) scaled ~1.25x for 2011 code and Nehalem VMREADs (cost-model.md)
  guest_walk_setup: 100, // estimate: 4-level walk "a few hundred cycles" [U] (cost-anchors §2.5); 100 + 4x60 + 4 lookups = 460
  guest_pte_read: 60, // estimate: one __copy_from_user of a gPTE + A-bit/permission bookkeeping; same [U] anchor (§2.5)
  memslot_lookup: 23, // derived: from Mammedov 2014 [V] linear search: 30 cyc at 1 compare, 460 at ~59 compares -> F = 30 - 7 (§2.6)
  memslot_compare: 7, // derived: from Mammedov 2014 [V]: (460 - 30) / (59 - 1) = 7.4 cyc per slot compared, rounded (§2.6)
  memslot_compare_cold: 111, // derived: Mammedov 2014 [V] maxima, linear in the slot count: (13,000 - 1,450) / (117 - 13) = 111.1 (§2.6)
  lockless_walk_setup: 80, // estimate: rcu_read_lock + 2 locked ops on kvm->arch.reader_counter (~25-35 cyc each, [M] §2.8) + barriers
  lockless_spte_read: 15, // estimate: one cached 64-bit SPTE load + loop step; walk+decode of an MMIO SPTE "≈100–300 cyc" [U] (§1)
  mmio_cache_op: 5, // estimate: two loads and a compare (or three stores) on vcpu->arch; no anchor
  mmu_lock: 30, // estimate: [M] 24-32 TSC per uncontended lock+unlock pair (EPYC VM, §2.8), upper end for a 2011 ticket lock
  spte_write: 150, // estimate: set_spte + rmap_add (pte_list_add); no anchor
  shadow_page_alloc: 1500, // estimate: kvm_mmu_get_page miss + init of 512 SPTEs (trap values in 2011); no anchor
  shadow_page_zap: 2500, // estimate: prepare_zap (scan of 512 SPTEs, rmap/parent removal) + free; no anchor
  remote_tlb_flush: 8800, // unsupported: from [U] shootdown IPI ≈1–3 µs (§2.7): upper end 3 µs x 2.93 GHz for a 2011 xAPIC host
  emulate_decode: 1300, // estimate: a split of a total bounded by Bonzini 2014 [V]: 2,300–3,200 cyc/insn on Sandy Bridge before the speedups (§2.4); 54% of 2,400 to decode
  emulate_execute: 1100, // estimate: the rest of that total, Bonzini 2014 [V] (§2.4): remaining 46% of 2,400 (execute + writeback + register copy-out)
  device_kernel: 600, // estimate: nested inl_from_kernel-cpuid / outl_to_kernel-vmcall = 247–376 cyc (§2.1) x ~1.6 for APIC MMIO on 2011 code
  vmm_round_trip: 11600, // derived: kvm-unit-tests 00bfecaa [V]: inl_from_qemu - inl_from_kernel = 13,337 cyc, x 6,290 / 7,237 (this profile's inl_from_kernel path / that host's)
  host_page_fault: 8000, // estimate: perf kvm stat EPT_VIOLATION avg 3–9 µs [V] (§2.2): 3 µs x 2.93 GHz minus the rest of the fault path
  guest_ram_access: 5, // estimate: an L1-hit load with a TLB hit (Nehalem L1D load-to-use 4 cyc, not in the anchors)
  tlb_walk_ref: 10, // estimate: one paging-structure read hitting L2 (Nehalem L2 ~10 cyc, not in the anchors); a cached 4-level walk "20-50 cyc" [U] (cost-model.md)
  irq_inject: 600, // estimate: IRR/ISR/PPR scans + ~6 VMREAD/VMWRITE in inject_pending_event and vmx_inject_irq; no anchor (cost-model.md)
  vcpu_wakeup: 5900, // estimate: "a trip through the scheduler ... a few micro-seconds" (kernel.org halt-polling.html): 2 µs x 2.93 GHz
  exit_pollution: 0, // unsupported: SplitX [V] bounds indirect + handler costs at "up to an order of magnitude" above 2,000 cyc (§2.1); no per-exit mean: off
};

/** Skylake-SP host; TSC rate of the Xeon Platinum 8168 (2.7 GHz nominal) behind the SKX exit figures. */
const MODERN: CostProfile = {
  name: 'modern',
  ghz: 2.7, // estimate: Xeon Platinum 8168 (Skylake-SP) nominal = TSC rate; the SKX host of the kvm-unit-tests exit figures (§2.1)
  vmexit_transition: 800, // estimate: SKX vmcall round trip 1,529 cyc [V] (§2.1) leaves 500–1,000 for the transition (§1); 800 chosen
  exit_handler: 650, // estimate: SKX vmcall 1,529 [V] - transition 800 - ~80 for handle_vmcall itself (estimate) ≈ 650
  guest_walk_setup: 50, // estimate: 4-level walk "a few hundred cycles" [U] (§2.5); 50 + 4x40 + 4 lookups = 330
  guest_pte_read: 40, // estimate: __copy_from_user (STAC/CLAC) of a gPTE + bookkeeping; same [U] anchor (§2.5)
  memslot_lookup: 23, // derived: Mammedov 2014 [V] (§2.6), host unnamed: fixed part, not rescaled (same derivation as 2011)
  memslot_compare: 7, // derived: Mammedov 2014 [V] (§2.6): 7.4 cyc per slot compared, not rescaled
  memslot_compare_cold: 111, // derived: Mammedov 2014 [V] maxima (§2.6), host unnamed: not rescaled (same derivation as 2011)
  lockless_walk_setup: 50, // estimate: same 2011 protocol (RCU + reader_counter atomics), ~24-32 cyc per locked op [M] (§2.8)
  lockless_spte_read: 15, // estimate: one cached SPTE load + loop step; "≈100–300 cyc" MMIO SPTE hit [U] (§1)
  mmio_cache_op: 5, // estimate: two loads and a compare (or three stores); no anchor
  mmu_lock: 28, // estimate: [M] 23.7–31.9 TSC per uncontended lock+unlock pair, 2.1 GHz EPYC VM (§2.8): midpoint
  spte_write: 120, // estimate: set_spte + rmap_add; no anchor
  shadow_page_alloc: 1200, // estimate: bounded above by Bonzini 2022 [V] ≈42k cyc for a TDP root teardown + rebuild (§2.1)
  shadow_page_zap: 2000, // estimate: the same ≈42k cyc upper bound (§2.1)
  remote_tlb_flush: 5400, // unsupported: from [U] shootdown IPI ≈1–3 µs on modern Xeons (§2.7): 2 µs x 2.7 GHz
  emulate_decode: 400, // estimate: a split of a total bounded by Bonzini 2014 [V]: 720–1,100 cyc/insn after the speedups, Sandy Bridge Xeon (§2.4); 55% of 730
  emulate_execute: 330, // estimate: the rest of that total, Bonzini 2014 [V] (§2.4): remaining 45% of 730; 730 + fetch walk 360 = 1,090 <= 1,100
  device_kernel: 400, // estimate: nested inl_from_kernel - cpuid = 332/376, outl_to_kernel - vmcall = 266/247 cyc (§2.1), rounded up
  vmm_round_trip: 5400, // derived: kvm-unit-tests 00bfecaa [V]: 13,337 cyc x 2,940 / 7,237 (this profile's inl_from_kernel path / that host's), cost-model.md
  host_page_fault: 7500, // estimate: perf kvm stat EPT_VIOLATION avg 3–9 µs [V] (§2.2): 3 µs x 2.7 GHz minus the rest of the fault path
  guest_ram_access: 5, // estimate: an L1-hit load with a TLB hit (Skylake L1D load-to-use 4–5 cyc, not in the anchors)
  tlb_walk_ref: 14, // estimate: one paging-structure read hitting L2 (Skylake-SP L2 ~14 cyc, not in the anchors); "20-50 cyc" per cached 4-level walk [U]
  irq_inject: 400, // estimate: as 2011, faster VMREAD/VMWRITE; no anchor (cost-model.md)
  vcpu_wakeup: 5400, // estimate: "a few micro-seconds" for the scheduler trip (kernel.org halt-polling.html): 2 µs x 2.7 GHz
  exit_pollution: 0, // unsupported: no source gives a per-exit indirect cost for a modern host: off
};

export const PROFILES_BY_NAME: Record<ProfileName, CostProfile> = {
  'westmere-2011': Object.freeze(WESTMERE_2011),
  modern: Object.freeze(MODERN),
};

/** The cost profile of a named host. Throws on a name that is not a profile (input from plain JS). */
export function profileByName(name: ProfileName): CostProfile {
  const p = Object.prototype.hasOwnProperty.call(PROFILES_BY_NAME, name) ? PROFILES_BY_NAME[name] : undefined;
  if (!p) throw new Error(`unknown cost profile: ${String(name)} (known: ${Object.keys(PROFILES_BY_NAME).join(', ')})`);
  return p;
}
