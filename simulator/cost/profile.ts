// The cost model: what each action the simulator performs costs, in host TSC cycles, per named host
// profile. Time is never a fudge factor added at the end: every charge is made where the action
// happens, so totals and breakdowns follow from what the simulated kernel actually did.
// Every constant, its source and the hardware it was measured on are in docs/cost-model.md.

import type { ProfileName } from '../scenario/types';

/** Where charged cycles are accounted (the report's `cycles.by_component`). */
export const COMPONENTS = [
  'vm_exit_entry', // hardware VM exit + VM entry, and KVM's fixed exit-handling path
  'guest_walk', // KVM's software walks of the guest page tables (excluding their memslot lookups)
  'memslot_search', // gfn -> memslot lookups: a fixed part plus one charge per slot compared
  'lockless_walk', // the lockless shadow walk that checks for an MMIO SPTE
  'mmio_cache', // the per-vCPU MMIO info cache checks and fills
  'mmu_lock', // taking and releasing mmu_lock
  'spte_write', // writing SPTEs (leaf, non-leaf, MMIO)
  'shadow_page', // allocating, zapping and freeing shadow pages; remote TLB flushes
  'host_page_fault', // faulting in a fresh host page behind a memslot (get_user_pages)
  'emulation', // instruction decode and execution in KVM's x86 emulator
  'device_kernel', // an in-kernel device (local APIC, ioeventfd)
  'device_userspace', // exit to the VMM (KVM_EXIT_MMIO), its device model, and re-entry: vmm_round_trip + the device's cost
  'guest_compute', // work the guest does between accesses
  'guest_memory', // the guest's own RAM accesses that need no exit
  'interrupt', // the local APIC accepting an interrupt and KVM injecting it at the next entry
  'halt_wakeup', // waking a vCPU thread blocked in kvm_vcpu_block (host scheduler wake-up, context switch)
] as const;
export type Component = (typeof COMPONENTS)[number];

/** Cycle costs of one host profile. Each field is the cost of one occurrence of the action. */
export interface CostProfile {
  name: ProfileName;
  /** TSC frequency, to convert cycles into microseconds in reports. */
  ghz: number;
  /** Hardware VM exit plus VM entry (the transition only). */
  vmexit_transition: number;
  /** KVM's fixed software path per exit: vmx_handle_exit, reading the VMCS exit fields, kvm_exit/kvm_entry. */
  exit_handler: number;
  /** Setting up one software guest walk (FNAME(walk_addr_generic) entry and exit). */
  guest_walk_setup: number;
  /** Reading one guest paging-structure entry in a software walk (copy from guest memory via its hva). */
  guest_pte_read: number;
  /** Fixed part of one memslot lookup (gfn_to_memslot call, SRCU dereference). */
  memslot_lookup: number;
  /** One slot comparison in the linear memslot search, the slot's entry in the vCPU's cache (warm). */
  memslot_compare: number;
  /** One slot comparison whose entry is not in the vCPU's cache: the first scan past it after the
   *  host ran something else (kvm/memslot_warmth.ts says when). */
  memslot_compare_cold: number;
  /** Beginning and ending one lockless shadow walk (2011: RCU read lock and reader_counter atomics). */
  lockless_walk_setup: number;
  /** Reading one SPTE in the lockless walk. */
  lockless_spte_read: number;
  /** One vcpu_match_mmio_gva/gpa check or vcpu_cache_mmio_info fill. */
  mmio_cache_op: number;
  /** Acquiring and releasing mmu_lock, uncontended. */
  mmu_lock: number;
  /** Writing one SPTE (including rmap bookkeeping for a leaf). */
  spte_write: number;
  /** Allocating and initialising one shadow page (kvm_mmu_get_page miss). */
  shadow_page_alloc: number;
  /** Prepare-zapping and freeing one shadow page. */
  shadow_page_zap: number;
  /** kvm_flush_remote_tlbs that IPIs another vCPU in guest mode: requests plus IPIs (the TLB refill they cause is charged as TLB misses). */
  remote_tlb_flush: number;
  /** One memory reference of the CPU's page walk after a TLB miss (a 2D walk makes up to 24). */
  tlb_walk_ref: number;
  /** Decoding one instruction in the emulator (the instruction fetch's walk and lookup are charged apart). */
  emulate_decode: number;
  /** Executing one decoded instruction in the emulator, including writeback. */
  emulate_execute: number;
  /** Dispatching an MMIO access to an in-kernel device (local APIC, ioeventfd) and its handler. */
  device_kernel: number;
  /** KVM_EXIT_MMIO to userspace, the VMM's dispatch to a trivial device, and the next KVM_RUN. The
   *  device model's own work is the device's `cost` (scenario), charged with it. */
  vmm_round_trip: number;
  /** Faulting in one fresh host page behind a memslot (get_user_pages on an untouched page). */
  host_page_fault: number;
  /** One guest access to RAM that completes without an exit (TLB-hit assumption). */
  guest_ram_access: number;
  /** Delivering one interrupt: __apic_accept_irq (IRR, KVM_REQ_EVENT) plus inject_pending_event and
   *  vmx_inject_irq (or enable_irq_window) at the next entry. */
  irq_inject: number;
  /** Waking a vCPU thread that kvm_vcpu_block put to sleep: wake_up_interruptible, the host scheduler's
   *  wake-up and the context switch back to the thread. */
  vcpu_wakeup: number;
  /** The guest's time after each VM entry refilling what the exit's handling evicted from its caches
   *  and TLB (the exit's indirect cost). 0 in both profiles: no source gives a per-exit value. */
  exit_pollution: number;
}

/** The profile's cycle costs by name (every field but `name` and `ghz`): what a scenario's `host.costs`
 *  may set. */
export const COST_FIELDS = [
  'vmexit_transition', 'exit_handler', 'guest_walk_setup', 'guest_pte_read', 'memslot_lookup', 'memslot_compare',
  'memslot_compare_cold', 'lockless_walk_setup', 'lockless_spte_read', 'mmio_cache_op', 'mmu_lock', 'spte_write',
  'shadow_page_alloc', 'shadow_page_zap', 'remote_tlb_flush', 'tlb_walk_ref', 'emulate_decode', 'emulate_execute',
  'device_kernel', 'vmm_round_trip', 'host_page_fault', 'guest_ram_access', 'irq_inject', 'vcpu_wakeup',
  'exit_pollution',
] as const satisfies readonly Exclude<keyof CostProfile, 'name' | 'ghz'>[];
export type CostField = (typeof COST_FIELDS)[number];
/** A scenario's changes to its profile's cycle costs (host.costs). */
export type CostOverrides = Partial<Record<CostField, number>>;
// Every cycle field is listed: a field added to CostProfile and not here fails to compile.
type Unlisted = Exclude<Exclude<keyof CostProfile, 'name' | 'ghz'>, CostField>;
const everyFieldListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyFieldListed;
