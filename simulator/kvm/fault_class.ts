// Fault classes: every exit and fault gets exactly one. Each class records the function whose
// return value decides it in the era's kernel, and that value (docs/fault-classes.md).

import type { Kvm } from './kvm';
import type { Vcpu } from './vcpu';

export const FAULT_CLASSES = [
  'map', // RAM fault fixed: tdp_page_fault -> __direct_map set a leaf SPTE
  'spurious', // the fault found the SPTE already set (another vCPU fixed it first)
  'mmio-slow', // memslot search missed, then emulation (and, in v3.1, an MMIO SPTE installed)
  'mmio-fast', // the lockless walk found an MMIO SPTE, then emulation
  'mmio-cache', // the per-vCPU MMIO info cache matched: no walk at all, then emulation
  'mmio-retry', // the lockless walk found no MMIO SPTE (zapped meanwhile): the guest faults again
  'mmio-bug', // the lockless walk found an SPTE that is neither MMIO nor zapped: a real misconfiguration
  'guest-pf', // a true guest page fault that KVM injects (the emulator's walk failed)
  'guest-pf-direct', // a guest page fault the CPU delivers without an exit (EPT; or v3.0's bypass_guest_pf)
  'wp-emulate', // a guest write to one of its own page tables, write-protected by KVM: emulated
] as const;
export type FaultClass = (typeof FAULT_CLASSES)[number];

export const CLASS_MAP = 0;
export const CLASS_SPURIOUS = 1;
export const CLASS_MMIO_SLOW = 2;
export const CLASS_MMIO_FAST = 3;
export const CLASS_MMIO_CACHE = 4;
export const CLASS_MMIO_RETRY = 5;
export const CLASS_MMIO_BUG = 6;
export const CLASS_GUEST_PF = 7;
export const CLASS_GUEST_PF_DIRECT = 8;
export const CLASS_WP_EMULATE = 9;

export interface EraReturn {
  fn: string;
  value: number;
  meaning: string;
}

/** The era's own return code for each class. */
export function eraReturn(kernel: string, tdp: boolean, cls: number): EraReturn {
  const v30 = kernel === 'v3.0';
  const pf = tdp ? 'tdp_page_fault' : 'FNAME(page_fault)';
  switch (cls) {
    case CLASS_MAP:
      return { fn: pf, value: 0, meaning: 'fixed: re-enter the guest' };
    case CLASS_SPURIOUS:
      return { fn: pf, value: 0, meaning: 'already mapped: re-enter the guest' };
    case CLASS_MMIO_SLOW:
      return v30
        ? { fn: 'kvm_handle_bad_page', value: 1, meaning: 'emulate (no MMIO SPTE in v3.0)' }
        : { fn: pf, value: 1, meaning: 'emulate (MMIO SPTE installed)' };
    case CLASS_MMIO_FAST:
    case CLASS_MMIO_CACHE:
      return { fn: 'handle_mmio_page_fault_common', value: 1, meaning: 'emulate' };
    case CLASS_MMIO_RETRY:
      return { fn: 'handle_mmio_page_fault_common', value: 0, meaning: 'retry: let the guest fault again' };
    case CLASS_MMIO_BUG:
      return { fn: 'handle_mmio_page_fault_common', value: -1, meaning: 'bug: real EPT misconfiguration, KVM_EXIT_UNKNOWN' };
    case CLASS_GUEST_PF:
      return { fn: 'FNAME(walk_addr) / x86_emulate_instruction', value: 0, meaning: 'the guest walk faulted: #PF injected, re-enter the guest' };
    case CLASS_WP_EMULATE:
      return { fn: 'FNAME(page_fault)', value: 1, meaning: 'write to a shadowed guest page table: emulate (kvm_mmu_pte_write)' };
    default:
      return { fn: '(hardware)', value: 0, meaning: '#PF delivered through the guest IDT, no exit' };
  }
}

/** Classify the exit being handled; the class is counted when the exit ends (a later, more
 *  specific outcome such as an injected #PF replaces it). */
export function noteFault(_kvm: Kvm, vcpu: Vcpu, cls: number): void {
  vcpu.exitClass = cls;
}
