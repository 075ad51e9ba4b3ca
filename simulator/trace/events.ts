// Trace events, named after KVM's tracepoints (arch/x86/kvm/trace.h, mmutrace.h of the 3.x era) and,
// where the kernel has no tracepoint, after the kernel function that does the work (marked `fn`).
// Each event has up to six numeric arguments; a 64-bit field takes two (lo, hi).

export type FieldKind = 'num' | 'hex' | 'hex64' | 'bool' | 'exit' | 'mmio_type';

export interface EventSchema {
  name: string;
  fields: ReadonlyArray<readonly [string, FieldKind]>;
  /** True when the kernel has no tracepoint of this name: it names the function doing the work. */
  fn?: boolean;
  /** Arguments after the fields' that are not tracepoint fields (the simulator's own). */
  extraArgs?: number;
}

export const EVENTS = {
  kvm_exit: { name: 'kvm_exit', fields: [['reason', 'exit'], ['rip', 'hex64'], ['info1', 'hex']] },
  // Its one argument is not a tracepoint field: the simulator's class of the exit it ends (-1: none),
  // which TraceBuffer.records() stamps on every event of that exit.
  kvm_entry: { name: 'kvm_entry', fields: [], extraArgs: 1 },
  kvm_page_fault: { name: 'kvm_page_fault', fields: [['address', 'hex64'], ['error_code', 'hex']] },
  kvm_mmu_pagetable_walk: { name: 'kvm_mmu_pagetable_walk', fields: [['addr', 'hex64'], ['pferr', 'hex']] },
  kvm_mmu_paging_element: { name: 'kvm_mmu_paging_element', fields: [['pte', 'hex64'], ['level', 'num']] },
  kvm_mmu_set_accessed_bit: { name: 'kvm_mmu_set_accessed_bit', fields: [['gpa', 'hex']] },
  kvm_mmu_set_dirty_bit: { name: 'kvm_mmu_set_dirty_bit', fields: [['gpa', 'hex']] },
  kvm_mmu_walker_error: { name: 'kvm_mmu_walker_error', fields: [['pferr', 'hex']] },
  // The shadow-page events end with KVM_MMU_PAGE_FIELDS' root_count and unsync (mmutrace.h), as the
  // page had them when the kernel traced it.
  kvm_mmu_get_page: { name: 'kvm_mmu_get_page', fields: [['gfn', 'hex'], ['role', 'hex'], ['level', 'num'], ['created', 'bool'], ['root_count', 'num'], ['unsync', 'bool']] },
  kvm_mmu_prepare_zap_page: { name: 'kvm_mmu_prepare_zap_page', fields: [['gfn', 'hex'], ['role', 'hex'], ['level', 'num'], ['root_count', 'num'], ['unsync', 'bool']] },
  kvm_mmu_unsync_page: { name: 'kvm_mmu_unsync_page', fields: [['gfn', 'hex'], ['role', 'hex'], ['root_count', 'num'], ['unsync', 'bool']] },
  kvm_mmu_sync_page: { name: 'kvm_mmu_sync_page', fields: [['gfn', 'hex'], ['role', 'hex'], ['root_count', 'num'], ['unsync', 'bool']] },
  kvm_mmu_delay_free_pages: { name: 'kvm_mmu_delay_free_pages', fields: [['gfn', 'hex'], ['role', 'hex'], ['pages', 'num'], ['root_count', 'num'], ['unsync', 'bool']] },
  mark_mmio_spte: { name: 'mark_mmio_spte', fields: [['sptep', 'hex'], ['gfn', 'hex'], ['access', 'hex']] },
  handle_mmio_page_fault: { name: 'handle_mmio_page_fault', fields: [['addr', 'hex64'], ['gfn', 'hex'], ['access', 'hex']] },
  vcpu_match_mmio: { name: 'vcpu_match_mmio', fields: [['gva', 'hex64'], ['gpa', 'hex'], ['write', 'bool'], ['gpa_match', 'bool']] },
  kvm_emulate_insn: { name: 'kvm_emulate_insn', fields: [['rip', 'hex64'], ['len', 'num'], ['insn', 'hex64'], ['failed', 'bool']] },
  kvm_mmio: { name: 'kvm_mmio', fields: [['type', 'mmio_type'], ['len', 'num'], ['gpa', 'hex'], ['val', 'hex64']] },
  kvm_userspace_exit: { name: 'kvm_userspace_exit', fields: [['reason', 'num']] },
  kvm_inj_exception: { name: 'kvm_inj_exception', fields: [['exception', 'num'], ['error_code', 'hex'], ['address', 'hex64']] },
  // Interrupts (kvm/x86/irq.ts, lapic.ts): trace.h 3.0.1:216, :376 and :401, the same in 3.1.10.
  kvm_inj_virq: { name: 'kvm_inj_virq', fields: [['irq', 'num']] },
  kvm_apic_ipi: { name: 'kvm_apic_ipi', fields: [['icr_low', 'hex'], ['dest_id', 'hex']] },
  kvm_apic_accept_irq: { name: 'kvm_apic_accept_irq', fields: [['apicid', 'num'], ['dm', 'num'], ['tm', 'num'], ['vec', 'num'], ['coalesced', 'bool']] },
  guest_page_fault: { name: 'guest_page_fault', fn: true, fields: [['address', 'hex64'], ['error_code', 'hex']] },
  kvm_set_spte: { name: '__direct_map', fn: true, fields: [['gfn', 'hex'], ['spte', 'hex64'], ['level', 'num']] },
  kvm_mmu_zap_all: { name: 'kvm_mmu_zap_all', fn: true, fields: [['pages', 'num']] },
  kvm_flush_remote_tlbs: { name: 'kvm_flush_remote_tlbs', fn: true, fields: [] },
  kvm_set_memory_region: { name: '__kvm_set_memory_region', fn: true, fields: [['slot', 'num'], ['gpa', 'hex'], ['npages', 'num'], ['generation', 'num']] },
  lockless_spte: { name: 'mmu_spte_get_lockless', fn: true, fields: [['spte', 'hex64'], ['level', 'num']] },
  ept_misconfig_real: { name: 'ept_misconfig_inspect_spte', fn: true, fields: [['spte', 'hex64'], ['level', 'num']] },
  vcpu_switch: { name: 'vcpu_switch', fn: true, fields: [['to', 'num'], ['point', 'num']] },
  // A memslot update's synchronize_srcu_expedited must sleep: `readers` vCPUs are inside an exit handler.
  srcu_synchronize_wait: { name: 'srcu_synchronize_wait', fn: true, fields: [['readers', 'num'], ['first', 'num']] },
} as const satisfies Record<string, EventSchema>;

export type EventKey = keyof typeof EVENTS;
export const EVENT_LIST: readonly EventSchema[] = Object.values(EVENTS);
/** The argument slots each event uses, by id: one per field, two for a hex64 (lo, hi). */
export const ARG_SLOTS: readonly number[] = EVENT_LIST.map((s) => s.fields.reduce((n, [, kind]) => n + (kind === 'hex64' ? 2 : 1), s.extraArgs ?? 0));
/** Numeric id of each event (its index in EVENT_LIST). */
export const E = Object.fromEntries(Object.keys(EVENTS).map((k, i) => [k, i])) as { readonly [K in EventKey]: number };

/** kvm_mmio types (include/trace/events/kvm.h). */
export const KVM_TRACE_MMIO_READ_UNSATISFIED = 0;
export const KVM_TRACE_MMIO_READ = 1;
export const KVM_TRACE_MMIO_WRITE = 2;
