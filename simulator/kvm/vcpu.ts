// A vCPU: the architectural state the MMU looks at (CR0, CR3, CR4, EFER, CPL, RIP), KVM's per-vCPU
// MMU state (the root, pending requests, the MMIO info cache of the 2011 series), and its clock.

import { CallPath, type CallCursor } from '../cost/call_path';
import { Tlb, TLB_NEHALEM } from '../arch/x86/tlb';

export const X86_CR0_PE = 1 << 0;
export const X86_CR0_WP = 1 << 16;
export const X86_CR0_PG = 1 << 31;
export const X86_CR4_PAE = 1 << 5;
export const X86_CR4_PKE = 1 << 22;
export const X86_CR4_SMEP = 1 << 20;
export const X86_CR4_SMAP = 1 << 21;
export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
export const EFER_NX = 1 << 11;


export class Vcpu {
  clock = 0;
  cr0 = X86_CR0_PE | X86_CR0_PG;
  cr3 = 0; // guest-physical address of the PML4
  cr4 = X86_CR4_PAE;
  efer = EFER_LME | EFER_LMA;
  cpl: 0 | 3 = 0;
  pkru = 0;
  /** EFLAGS.AC (SMAP override for explicit supervisor accesses). */
  ac = false;
  /** The CPL the vCPU's accesses default to (a step may give its own). */
  defaultCpl: 0 | 3 = 0;
  /** Guest-physical address of each address space's PML4 (CR3 values the guest switches between). */
  cr3s: number[] = [];
  /** RIP of the instruction being executed, as a virtual page number and offset. */
  ripVpn = 0;
  ripOffset = 0;

  /** The registers the guest's MOV instructions use: RDI holds the address, RAX the data. */
  rdiVpn = 0;
  rdiOffset = 0;
  raxLo = 0;
  raxHi = 0;
  /** The bytes the last read returned. */
  readLo = 0;
  readHi = 0;
  /** The current instruction ended in a #PF delivered to the guest, and its error code. */
  guestFault = false;
  guestFaultCode = 0;

  /** vmx->vpid: 1, 2, ... in creation order (allocate_vpid), 0 with enable_vpid off (docs/kernel-paths.md §19.1). */
  vpid = 0;
  /** KVM_REQ_TLB_FLUSH pending: served by vmx_flush_tlb at the next entry (docs/kernel-paths.md §19.5). */
  tlbFlushRequested = false;

  /** vcpu->arch.mmu.root_hpa as a shadow-page id, -1 for INVALID_PAGE. */
  root = -1;
  /** KVM_REQ_MMU_RELOAD pending (kvm_reload_remote_mmus). */
  reloadRequested = false;
  /** KVM_REQ_MMU_SYNC pending (kvm_mmu_get_page met a page with unsync children). */
  syncRequested = false;
  /** kvm_mmu_pte_write's fork detector: the SPTE the last speculative mmu_set_spte wrote (a word
   *  index, -1 for NULL) and its gfn; the guest table written last and how many times in a row. */
  lastPteUpdated = -1;
  lastPteGfn = 0;
  lastPtWriteGfn = -1;
  lastPtWriteCount = 0;

  /** The MMIO info cache (struct kvm_vcpu_arch, v3.1): mmio_gva as a page number (0 = empty), mmio_gfn, access. */
  mmioGvaVpn = 0;
  mmioGfn = 0;
  mmioAccess = 0;

  /** The memslot array in this vCPU's cache (kvm/memslot_warmth.ts): the generation of the array it
   *  last scanned (-1: none yet) and how many of its leading entries that scan and later ones touched. */
  memslotsGen = -1;
  memslotsWarm = 0;
  /** Interrupts (kvm/x86/irq.ts): the vector the local APIC holds in IRR for the guest (-1: none),
   *  whether the guest can take it (vmx_interrupt_allowed: RFLAGS.IF), and whether KVM has asked for an
   *  interrupt-window exit (CPU_BASED_VIRTUAL_INTR_PENDING). */
  irr = -1;
  /** A step's `raise`: the vector its access's device emulation raises during the exit (-1: none). */
  raiseOnExit = -1;
  irqsEnabled = true;
  irqWindowRequested = false;
  /** The local APIC's ICR2 (kvm/x86/lapic.ts): the destination field of the next ICR write. */
  apicIcr2 = 0;
  /** The vCPU whose IPI is the vector in IRR, until it is injected (-1: none, or another source). */
  ipiFrom = -1;
  /** Cycles this vCPU spent blocked in kvm_vcpu_block (HLT): on its clock, charged to nothing. */
  idle = 0;

  /** Class of the exit being handled (-1: none yet). */
  exitClass = -1;

  /** Source line of the workload step being executed (for trace events and per-line results). */
  line = 0;
  /** The step's source line while it runs, and whether the vCPU has stopped (KVM_EXIT_UNKNOWN). */
  halted = false;

  /** Where its charges land in the call-path tree (cost/call_path.ts). */
  readonly path: CallCursor;

  constructor(
    readonly id: number,
    paths: CallPath = new CallPath(),
    /** The hardware TLB of the logical CPU it runs on (vCPUs never migrate: §19.6). */
    readonly tlb: Tlb = new Tlb(TLB_NEHALEM),
  ) {
    this.path = paths.cursor(this);
  }

  get cr0Wp(): boolean {
    return (this.cr0 & X86_CR0_WP) !== 0;
  }
  get nx(): boolean {
    return (this.efer & EFER_NX) !== 0;
  }
  get smep(): boolean {
    return (this.cr4 & X86_CR4_SMEP) !== 0;
  }
  get smap(): boolean {
    return (this.cr4 & X86_CR4_SMAP) !== 0;
  }
  get pke(): boolean {
    return (this.cr4 & X86_CR4_PKE) !== 0;
  }
}
