// Aggregate counters, kept for the whole run whatever its length. The first group carries the names
// of KVM's own debugfs counters (`kvm_stat`, struct kvm_vcpu_stat / kvm_vm_stat of the 3.x era);
// the second group counts the work those counters do not show, which is what the 2011 series saved.

export const KVM_STATS = [
  'exits',
  'pf_fixed',
  'pf_guest',
  'mmio_exits',
  'insn_emulation',
  'insn_emulation_fail',
  'tlb_flush',
  'remote_tlb_flush',
  'mmu_shadow_zapped',
  'mmu_pte_write',
  'mmu_pte_updated',
  'mmu_pde_zapped',
  'mmu_cache_miss',
  'mmu_flooded',
  'mmu_recycled',
  'mmu_unsync',
  'invlpg',
  // Interrupts and idle (kvm/x86/irq.ts): struct kvm_vcpu_stat's fields, named as the debugfs entries of
  // x86.c's debugfs_entries[] (3.0.1:126-138) name them.
  'irq_exits',
  'irq_window',
  'irq_injections',
  'halt_exits',
  'halt_wakeup',
] as const;

export const SIM_STATS = [
  'memslot_lookups', // every gfn -> memslot search
  'memslot_compares', // every slot compared by those searches
  'memslot_cold_compares', // of those, the ones whose entry was not in the vCPU's cache (kvm/memslot_warmth.ts)
  'memslot_misses', // searches that found no slot (each walks every slot in v3.0/v3.1)
  'guest_walks', // KVM's software walks of the guest page tables
  'guest_pte_reads', // guest paging entries those walks read
  'hw_walks', // the CPU's accesses, each a TLB lookup and, on a miss, a page walk (two-dimensional under EPT)
  'tlb_hits', // of those, the ones the vCPU's TLB translated (no walk)
  'tlb_misses', // the ones that walked (whether the walk then completed, faulted or exited)
  'lockless_walks', // walk_shadow_page_get_mmio_spte calls
  'mmio_sptes_created', // mark_mmio_spte
  'mmio_cache_hits', // per-vCPU MMIO info cache hits, fault path and emulator
  'mmio_cache_fills', // vcpu_cache_mmio_info
  'sptes_written', // every SPTE store through the kernel's setters (__set_spte, mmu_spte_set/update/clear), changed or not; not FNAME(prefetch_page)'s plain fill
  'shadow_pages', // shadow pages in use at the end of the run
  'shadow_pages_max', // most shadow pages in use at once
  'sp_delayed_free', // shadow pages whose free waited for a lockless walker (kvm_mmu_delay_free_pages)
  'host_pages', // host frames allocated (guest RAM touched plus shadow pages)
  'emulator_fetches', // instruction fetches by the emulator
  'userspace_exits', // KVM_EXIT_MMIO round trips to the VMM
  'mmio_reads', // MMIO reads that reached a device
  'mmio_writes', // MMIO writes that reached a device (doorbells)
  'guest_faults', // #PF delivered to the guest, by hardware or by KVM
  'mmio_retries', // RSVD faults / misconfigurations sent back to the guest to fault again
  'memslot_updates', // memslots created or deleted while running
  'srcu_waits', // synchronize_srcu_expedited calls that slept until a vCPU left its exit handler
] as const;

export const STATS = [...KVM_STATS, ...SIM_STATS] as const;
export type StatName = (typeof STATS)[number];

/** Index of each counter in the Float64Array that holds them (so the hot path adds to an array slot). */
export const S = Object.fromEntries(STATS.map((n, i) => [n, i])) as { readonly [K in StatName]: number };

export function newStats(): Float64Array {
  return new Float64Array(STATS.length);
}

export function statsRecord(stats: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < STATS.length; i++) out[STATS[i]!] = stats[i]!;
  return out;
}
