// The kernel functions the simulator's call paths are made of (docs/kernel-paths.md §18), one table:
// a function id is an index into KERNEL_FUNCTIONS. Per era, the file and the line where the function's
// name starts its definition in the release tree (0: the era has no such function). Every line was
// read in /work/ksrc (3.0.1 and 3.1.10); test/call-path.test.ts checks each one against the trees.
// FNAME(x) in paging_tmpl.h is compiled as paging64_x for the 4-level (and PAE) guests modelled here.
// Non-kernel frames (the guest, the VMM) are the NON_KERNEL_FRAMES below, after the kernel ones.

import type { Kernel } from '../scenario/types';

export interface KernelFunction {
  /** The symbol a profiler shows (FNAME(x) expanded to paging64_x). */
  name: string;
  /** Path in the release tree. */
  file: string;
  /** Definition line in 3.0.1 and in 3.1.10; 0 when the era does not have the function. */
  v30: number;
  v31: number;
}

export const KERNEL_FUNCTIONS: readonly KernelFunction[] = [
  { name: 'vcpu_enter_guest', file: 'arch/x86/kvm/x86.c', v30: 5346, v31: 5556 },
  { name: 'vmx_vcpu_run', file: 'arch/x86/kvm/vmx.c', v30: 4144, v31: 5938 },
  { name: 'vmx_handle_exit', file: 'arch/x86/kvm/vmx.c', v30: 3924, v31: 5693 },
  { name: 'handle_ept_violation', file: 'arch/x86/kvm/vmx.c', v30: 3685, v31: 4590 },
  { name: 'handle_ept_misconfig', file: 'arch/x86/kvm/vmx.c', v30: 3777, v31: 4682 },
  { name: 'handle_exception', file: 'arch/x86/kvm/vmx.c', v30: 3214, v31: 4073 },
  { name: 'handle_cr', file: 'arch/x86/kvm/vmx.c', v30: 3359, v31: 4270 },
  { name: 'handle_invlpg', file: 'arch/x86/kvm/vmx.c', v30: 3588, v31: 4493 },
  { name: 'kvm_mmu_page_fault', file: 'arch/x86/kvm/mmu.c', v30: 3388, v31: 3702 },
  { name: 'tdp_page_fault', file: 'arch/x86/kvm/mmu.c', v30: 2738, v31: 3047 },
  { name: 'mapping_level_dirty_bitmap', file: 'arch/x86/kvm/mmu.c', v30: 566, v31: 782 },
  { name: 'mapping_level', file: 'arch/x86/kvm/mmu.c', v30: 571, v31: 787 },
  { name: 'try_async_pf', file: 'arch/x86/kvm/mmu.c', v30: 2363, v31: 2580 },
  { name: '__direct_map', file: 'arch/x86/kvm/mmu.c', v30: 2251, v31: 2445 },
  { name: 'mmu_set_spte', file: 'arch/x86/kvm/mmu.c', v30: 2094, v31: 2284 },
  { name: 'handle_mmio_page_fault', file: 'arch/x86/kvm/mmu.c', v30: 0, v31: 2965 },
  { name: 'handle_mmio_page_fault_common', file: 'arch/x86/kvm/mmu.c', v30: 0, v31: 2929 },
  { name: 'quickly_check_mmio_pf', file: 'arch/x86/kvm/mmu.c', v30: 0, v31: 2887 },
  { name: 'walk_shadow_page_get_mmio_spte', file: 'arch/x86/kvm/mmu.c', v30: 0, v31: 2910 },
  { name: 'kvm_mmu_get_page', file: 'arch/x86/kvm/mmu.c', v30: 1478, v31: 1643 },
  { name: 'kvm_mmu_prepare_zap_page', file: 'arch/x86/kvm/mmu.c', v30: 1307, v31: 1464 },
  { name: 'kvm_mmu_free_some_pages', file: 'arch/x86/kvm/mmu.h', v30: 60, v31: 62 },
  { name: 'kvm_mmu_load', file: 'arch/x86/kvm/mmu.c', v30: 3118, v31: 3446 },
  { name: 'kvm_mmu_pte_write', file: 'arch/x86/kvm/mmu.c', v30: 3222, v31: 3529 },
  { name: 'kvm_mmu_sync_roots', file: 'arch/x86/kvm/mmu.c', v30: 2646, v31: 2863 },
  { name: 'mmu_sync_children', file: 'arch/x86/kvm/mmu.c', v30: 1449, v31: 1606 },
  { name: 'kvm_mmu_invlpg', file: 'arch/x86/kvm/mmu.c', v30: 3425, v31: 3739 },
  { name: 'kvm_mmu_zap_all', file: 'arch/x86/kvm/mmu.c', v30: 3523, v31: 3837 },
  { name: 'kvm_mmu_slot_remove_write_access', file: 'arch/x86/kvm/mmu.c', v30: 3491, v31: 3805 },
  { name: 'paging64_page_fault', file: 'arch/x86/kvm/paging_tmpl.h', v30: 571, v31: 563 },
  { name: 'paging64_fetch', file: 'arch/x86/kvm/paging_tmpl.h', v30: 467, v31: 462 },
  { name: 'paging64_walk_addr_generic', file: 'arch/x86/kvm/paging_tmpl.h', v30: 119, v31: 141 },
  { name: 'paging64_invlpg', file: 'arch/x86/kvm/paging_tmpl.h', v30: 659, v31: 655 },
  { name: 'paging64_sync_page', file: 'arch/x86/kvm/paging_tmpl.h', v30: 798, v31: 766 },
  { name: 'x86_emulate_instruction', file: 'arch/x86/kvm/x86.c', v30: 4578, v31: 4766 },
  { name: 'x86_decode_insn', file: 'arch/x86/kvm/emulate.c', v30: 3366, v31: 3338 },
  { name: 'x86_emulate_insn', file: 'arch/x86/kvm/emulate.c', v30: 3735, v31: 3702 },
  { name: 'kvm_fetch_guest_virt', file: 'arch/x86/kvm/x86.c', v30: 3808, v31: 3947 },
  { name: 'emulator_read_emulated', file: 'arch/x86/kvm/x86.c', v30: 3872, v31: 4048 },
  { name: 'emulator_write_emulated_onepage', file: 'arch/x86/kvm/x86.c', v30: 3941, v31: 4116 },
  { name: 'vcpu_mmio_gva_to_gpa', file: 'arch/x86/kvm/x86.c', v30: 0, v31: 4013 },
  { name: 'vcpu_mmio_read', file: 'arch/x86/kvm/x86.c', v30: 3695, v31: 3834 },
  { name: 'vcpu_mmio_write', file: 'arch/x86/kvm/x86.c', v30: 3674, v31: 3813 },
  { name: 'vcpu_cache_mmio_info', file: 'arch/x86/kvm/x86.h', v30: 0, v31: 78 },
  { name: 'vcpu_match_mmio_gva', file: 'arch/x86/kvm/x86.h', v30: 0, v31: 98 },
  { name: 'vcpu_match_mmio_gpa', file: 'arch/x86/kvm/x86.h', v30: 0, v31: 106 },
  { name: 'kvm_arch_commit_memory_region', file: 'arch/x86/kvm/x86.c', v30: 6350, v31: 6558 },
  { name: 'kvm_arch_flush_shadow', file: 'arch/x86/kvm/x86.c', v30: 6381, v31: 6589 },
  { name: 'gfn_to_memslot', file: 'virt/kvm/kvm_main.c', v30: 956, v31: 979 },
  { name: '__gfn_to_memslot', file: 'virt/kvm/kvm_main.c', v30: 941, v31: 964 },
  { name: 'kvm_is_visible_gfn', file: 'virt/kvm/kvm_main.c', v30: 962, v31: 985 },
  { name: 'hva_to_pfn', file: 'virt/kvm/kvm_main.c', v30: 1049, v31: 1072 },
  { name: 'kvm_flush_remote_tlbs', file: 'virt/kvm/kvm_main.c', v30: 198, v31: 202 },
  { name: '__kvm_set_memory_region', file: 'virt/kvm/kvm_main.c', v30: 634, v31: 638 },
];

/** Frames that are not kernel functions: the root, the guest's own time, the VMM's (QEMU's) time. */
export const NON_KERNEL_FRAMES = [
  'guest', // guest_compute: the guest running instructions that do not exit
  '[guest memory]', // guest_memory: a guest access the CPU completed (its walk through EPT or the shadow tables)
  '[vmm]', // device_userspace: KVM_EXIT_MMIO to the VMM and back into KVM_RUN
] as const;

/** Every frame name, kernel functions first: a function id indexes this. */
export const FRAME_NAMES: readonly string[] = [...KERNEL_FUNCTIONS.map((f) => f.name), ...NON_KERNEL_FRAMES];

/** Function ids: F.tdp_page_fault, ..., then the non-kernel frames F.guest, F.guest_memory, F.vmm. */
export const F = {
  vcpu_enter_guest: 0,
  vmx_vcpu_run: 1,
  vmx_handle_exit: 2,
  handle_ept_violation: 3,
  handle_ept_misconfig: 4,
  handle_exception: 5,
  handle_cr: 6,
  handle_invlpg: 7,
  kvm_mmu_page_fault: 8,
  tdp_page_fault: 9,
  mapping_level_dirty_bitmap: 10,
  mapping_level: 11,
  try_async_pf: 12,
  __direct_map: 13,
  mmu_set_spte: 14,
  handle_mmio_page_fault: 15,
  handle_mmio_page_fault_common: 16,
  quickly_check_mmio_pf: 17,
  walk_shadow_page_get_mmio_spte: 18,
  kvm_mmu_get_page: 19,
  kvm_mmu_prepare_zap_page: 20,
  kvm_mmu_free_some_pages: 21,
  kvm_mmu_load: 22,
  kvm_mmu_pte_write: 23,
  kvm_mmu_sync_roots: 24,
  mmu_sync_children: 25,
  kvm_mmu_invlpg: 26,
  kvm_mmu_zap_all: 27,
  kvm_mmu_slot_remove_write_access: 28,
  paging64_page_fault: 29,
  paging64_fetch: 30,
  paging64_walk_addr_generic: 31,
  paging64_invlpg: 32,
  paging64_sync_page: 33,
  x86_emulate_instruction: 34,
  x86_decode_insn: 35,
  x86_emulate_insn: 36,
  kvm_fetch_guest_virt: 37,
  emulator_read_emulated: 38,
  emulator_write_emulated_onepage: 39,
  vcpu_mmio_gva_to_gpa: 40,
  vcpu_mmio_read: 41,
  vcpu_mmio_write: 42,
  vcpu_cache_mmio_info: 43,
  vcpu_match_mmio_gva: 44,
  vcpu_match_mmio_gpa: 45,
  kvm_arch_commit_memory_region: 46,
  kvm_arch_flush_shadow: 47,
  gfn_to_memslot: 48,
  __gfn_to_memslot: 49,
  kvm_is_visible_gfn: 50,
  hva_to_pfn: 51,
  kvm_flush_remote_tlbs: 52,
  __kvm_set_memory_region: 53,
  guest: 54,
  guest_memory: 55,
  vmm: 56,
} as const;

/** The release trees the lines refer to: GitHub mirrors pinned at the commits read (docs/kernel-paths.md §0). */
const TREES: Record<Kernel, { base: string; line: (f: KernelFunction) => number }> = {
  'v3.0': { base: 'https://github.com/eastmoutain/Linux-3.0.1/blob/3992f4b1cf29c7dcdb494d9cfcad7ed3175e40a5/linux-3.0.1/', line: (f) => f.v30 },
  'v3.1': { base: 'https://github.com/kangsterizer/linux-3.1.y-rsbac/blob/e82388495b96fa3f5059d4e797c0ebf0e57235bf/', line: (f) => f.v31 },
};

/** An openable URL for the definition of `fnName` in the era's release source; null when the era does
 *  not have it or it is not a kernel function. */
export function kernelSourceUrl(kernel: Kernel, fnName: string): string | null {
  const f = KERNEL_FUNCTIONS.find((k) => k.name === fnName);
  if (f === undefined) return null;
  const t = TREES[kernel];
  const line = t.line(f);
  return line === 0 ? null : `${t.base}${f.file}#L${line}`;
}
