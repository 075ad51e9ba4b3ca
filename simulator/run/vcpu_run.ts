// Running one guest instruction on a vCPU, as VM entries and exits alternate (the role of KVM's
// vcpu_enter_guest loop): the CPU model tries the instruction; an exit goes to KVM's handler for its
// reason; the guest re-executes the instruction unless KVM's emulator completed it or a fault was
// delivered to the guest. Under EPT the CPU walks the guest's tables through EPT; under shadow
// paging it walks KVM's shadow tables, and a #PF exits or not by the exception bitmap and
// PFEC_MASK/PFEC_MATCH (v3.0's bypass_guest_pf).

import { F } from '../kvm/kernel_functions';
import type { Kvm } from '../kvm/kvm';
import type { Vcpu } from '../kvm/vcpu';
import type { Emulator } from '../kvm/x86/emulate';
import type { ShadowMmu } from '../kvm/mmu/shadow';
import { C } from '../cost/accounting';
import { Cpu, ACCESS_DONE, ACCESS_GUEST_PF } from '../arch/x86/cpu';
import { EXIT_REASON_CR_ACCESS, EXIT_REASON_EPT_VIOLATION, EXIT_REASON_EXCEPTION_NMI, EXIT_REASON_EXTERNAL_INTERRUPT, EXIT_REASON_HLT, EXIT_REASON_INVLPG, EXIT_REASON_PENDING_INTERRUPT, pageFaultExits } from '../arch/x86/vmx';
import { handleExternalInterrupt, handleHalt, handleInterruptWindow, injectPendingEvent } from '../kvm/x86/irq';
import { PFERR_FETCH_MASK, PFERR_USER_MASK, PFERR_WRITE_MASK } from '../arch/x86/paging';
import { NO_EPTP } from '../arch/x86/tlb';
import { vaHi, vaLo } from '../arch/x86/u64';
import { handleCr3Load, handleEptMisconfig, handleEptViolation, handleInvlpg, handlePageFaultException } from '../kvm/vmx';
import { mmuLoad } from '../kvm/mmu/tdp';
import { shadowMmuLoad } from '../kvm/mmu/shadow';
import { RACE_KVM_EXIT } from '../kvm/races';
import { CLASS_GUEST_PF_DIRECT } from '../kvm/fault_class';
import { E } from '../trace/events';
import { S } from '../trace/stats';
import type { ExitTimes } from './exit_times';
import type { MmioTimes } from './mmio_times';

/** An instruction that still has not completed after this many exits is reported and abandoned. */
const MAX_EXITS_PER_INSN = 64;

/** What became of an instruction. */
export const INSN_DONE = 0; // completed (by the CPU, or by KVM's emulator)
export const INSN_GUEST_FAULT = 1; // a #PF was delivered to the guest; errorCode says which
export const INSN_STOPPED = 2; // the vCPU stopped (KVM_EXIT_UNKNOWN), or the instruction was abandoned

export class VcpuRunner {
  readonly cpu: Cpu;
  /** The fault delivered by the last instruction, and the bytes a read returned. */
  errorCode = 0;
  lo = 0;
  hi = 0;
  private readonly pfecMask: number;

  constructor(
    private readonly kvm: Kvm,
    private readonly emulator: Emulator,
    private readonly shadow: ShadowMmu | null,
    private readonly exitTimes: ExitTimes,
    private readonly mmioTimes: MmioTimes,
  ) {
    this.cpu = new Cpu(kvm.host, kvm.fastPaths);
    // PAGE_FAULT_ERROR_CODE_MASK = PAGE_FAULT_ERROR_CODE_MATCH = !!bypass_guest_pf (v3.0); 0 otherwise.
    this.pfecMask = kvm.bypassGuestPf ? 1 : 0;
  }

  /** kvm_mmu_reload before VM entry. */
  private load(vcpu: Vcpu): void {
    if (vcpu.root >= 0 && !vcpu.reloadRequested && !vcpu.syncRequested) return; // nothing to do (the common case)
    vcpu.path.enter(F.vcpu_enter_guest);
    if (this.shadow) shadowMmuLoad(this.kvm, this.shadow, vcpu);
    else mmuLoad(this.kvm, vcpu);
    vcpu.path.leave();
  }

  /**
   * A memory access by the instruction at RIP: a MOV to or from [rdi] (the vCPU's registers hold the
   * operands), or an instruction fetch at (vpn, offset) when `pfec` has FETCH. `ripOffset` tells
   * whether the emulator completed it (it advances RIP).
   */
  access(vcpu: Vcpu, vpn: number, offset: number, size: number, pfec: number, lo: number, hi: number): number {
    const kvm = this.kvm;
    const ripOffset = vcpu.ripOffset;
    vcpu.guestFault = false;
    for (let exits = 0; exits < MAX_EXITS_PER_INSN; exits++) {
      // vcpu_enter_guest: `if (kvm_check_request(KVM_REQ_TLB_FLUSH, vcpu)) kvm_x86_ops->tlb_flush(vcpu);`
      // before kvm_mmu_reload (§19.5). A request another vCPU made while this one ran the guest came
      // with an IPI that made it exit and enter again: served before its next access all the same.
      if (vcpu.tlbFlushRequested) {
        vcpu.tlbFlushRequested = false;
        kvm.vmxFlushTlb(vcpu);
      }
      this.load(vcpu);
      kvm.stats[S.hw_walks]!++;
      const r = this.shadow
        ? this.cpu.accessShadow(vcpu, kvm.sp.pfn[vcpu.root]!, vpn, offset, size, pfec, lo, hi, vcpu.tlb, vcpu.vpid)
        : this.cpu.access(vcpu, kvm.sp.pfn[vcpu.root]!, vpn, offset, size, pfec, lo, hi, vcpu.tlb, vcpu.vpid);
      const cpu = this.cpu;
      kvm.stats[cpu.tlbHit ? S.tlb_hits : S.tlb_misses]!++;
      if (r === ACCESS_DONE) {
        // A hit costs the access; a miss adds its walk, each memory reference at tlb_walk_ref. The walk
        // of an access that exits or faults is left in the exit's and fault's measured costs.
        kvm.acct.chargeAt(vcpu, C.guest_memory, kvm.cost.guest_ram_access + cpu.walkRefs * kvm.cost.tlb_walk_ref, vcpu.path.at2(F.guest, F.guest_memory));
        this.lo = this.cpu.lo;
        this.hi = this.cpu.hi;
        return INSN_DONE;
      }
      if (r === ACCESS_GUEST_PF) {
        const ec = this.cpu.errorCode;
        // Under EPT the exception bitmap has no #PF; without EPT it does, filtered by PFEC mask/match.
        if (!this.shadow || !pageFaultExits(ec, true, this.pfecMask, this.pfecMask)) return this.directFault(vcpu, vpn, offset, ec);
        this.exit(vcpu, EXIT_REASON_EXCEPTION_NMI, vpn, offset, ec);
      } else {
        this.exit(vcpu, this.cpu.ept.exitReason, 0, 0, 0);
      }
      if (vcpu.halted) return INSN_STOPPED;
      if (vcpu.guestFault) {
        this.errorCode = vcpu.guestFaultCode;
        return INSN_GUEST_FAULT;
      }
      if (vcpu.ripOffset !== ripOffset) {
        this.lo = vcpu.readLo;
        this.hi = vcpu.readHi;
        return INSN_DONE;
      }
    }
    kvm.warn(vcpu, `the instruction at line ${vcpu.line} did not complete after ${MAX_EXITS_PER_INSN} exits: abandoned`);
    return INSN_STOPPED;
  }

  /**
   * The TLB entry a run of hits uses (Machine.hitRun, a fast path): the one the vCPU's last lookup hit at
   * level 1, for its page (Tlb.lastPage), when no flush or MMU reload is pending (access() would serve
   * it first) and nothing was stored in or dropped from the TLB since; -1 otherwise. While it is so,
   * access() of that page, if the entry grants it (Cpu.hitGrants), is a hit on that entry.
   */
  hitEntry(vcpu: Vcpu): number {
    if (vcpu.tlbFlushRequested || vcpu.root < 0 || vcpu.reloadRequested || vcpu.syncRequested) return -1;
    return vcpu.tlb.lastHit(vcpu.vpid, this.shadow ? NO_EPTP : this.kvm.sp.pfn[vcpu.root]!);
  }

  /** What access() charges a hit: the access, with no walk references to add. */
  get hitCycles(): number {
    return this.kvm.cost.guest_ram_access;
  }

  /** What `n` hits through entry `i` leave besides their transfers and charges, as n access() calls. */
  hitsDone(vcpu: Vcpu, i: number, n: number): void {
    const kvm = this.kvm;
    vcpu.guestFault = false;
    kvm.stats[S.hw_walks]! += n;
    kvm.stats[S.tlb_hits]! += n;
    vcpu.tlb.hitsAgain(i, n);
    this.cpu.hitState();
    this.lo = this.cpu.lo;
    this.hi = this.cpu.hi;
  }

  /** A #PF the CPU delivers through the guest's IDT without an exit. */
  private directFault(vcpu: Vcpu, vpn: number, offset: number, errorCode: number): number {
    const kvm = this.kvm;
    kvm.countFault(vcpu, CLASS_GUEST_PF_DIRECT);
    kvm.stats[S.guest_faults]!++;
    const tr = kvm.trace, args = tr.args, at = tr.at;
    args[at] = vaLo(vpn, offset);
    args[at + 1] = vaHi(vpn);
    args[at + 2] = errorCode;
    tr.emit(E.guest_page_fault, vcpu, vcpu.line);
    this.errorCode = errorCode;
    return INSN_GUEST_FAULT;
  }

  /** MOV to CR3: an exit under shadow paging (CR3-load exiting); under EPT the CPU loads it and
   *  invalidates the current VPID's mappings (no PCIDs, no global pages: all of them; §19.7). */
  loadCr3(vcpu: Vcpu, cr3: number): void {
    if (!this.shadow) {
      vcpu.cr3 = cr3;
      vcpu.tlb.flushTag(vcpu.vpid);
      return;
    }
    this.exit(vcpu, EXIT_REASON_CR_ACCESS, 0, 0, cr3);
  }

  /** INVLPG: an exit under shadow paging (KVM's flush request does the rest); under EPT the CPU
   *  invalidates the page's mappings for the current VPID, any EPTP (§19.7). */
  invlpg(vcpu: Vcpu, vpn: number): void {
    if (this.shadow) this.exit(vcpu, EXIT_REASON_INVLPG, vpn, 0, 0);
    else vcpu.tlb.flushTagAddr(vcpu.vpid, vpn);
  }

  /**
   * An interrupt for the vCPU in guest mode (kvm/x86/irq.ts): the host interrupt that carries it (the
   * hrtimer's, or the reschedule IPI of kvm_vcpu_kick) exits with EXTERNAL_INTERRUPT, and the entry
   * after it injects the vector. With the guest's IF clear (`irqsOffFor` >= 0) KVM opens an interrupt
   * window instead; the guest runs `irqsOffFor` more cycles, sets IF, and the CPU exits with
   * PENDING_INTERRUPT, after which the vector is injected.
   */
  interrupt(vcpu: Vcpu, vector: number, timer: boolean, irqsOffFor: number): void {
    if (!timer) vcpu.irr = vector; // __apic_accept_irq on the device's thread, then the kick
    vcpu.irqsEnabled = irqsOffFor < 0;
    this.exit(vcpu, EXIT_REASON_EXTERNAL_INTERRUPT, 0, 0, timer ? vector : -1);
    if (!vcpu.irqWindowRequested) return;
    this.kvm.acct.chargeAt(vcpu, C.guest_compute, irqsOffFor, vcpu.path.at(F.guest)); // the rest of the section with IF = 0
    vcpu.irqsEnabled = true; // STI (or POPF): the window opens
    this.exit(vcpu, EXIT_REASON_PENDING_INTERRUPT, 0, 0, 0);
  }

  /** HLT: the exit, kvm_vcpu_block until the interrupt `wakeAfter` cycles later, its injection. */
  halt(vcpu: Vcpu, vector: number, timer: boolean, wakeAfter: number): void {
    this.haltWake = wakeAfter;
    this.haltTimer = timer;
    this.exit(vcpu, EXIT_REASON_HLT, 0, 0, vector);
  }

  /** The HLT being handled: when its interrupt comes and from where. */
  private haltWake = 0;
  private haltTimer = false;

  /** A VM exit: the hardware transition, kvm_exit, the handler for `reason`, kvm_entry. */
  private exit(vcpu: Vcpu, reason: number, vpn: number, offset: number, arg: number): void {
    const kvm = this.kvm;
    const cost = kvm.cost;
    kvm.stats[S.exits]!++;
    // With VPID 0 every VM exit and entry invalidates VPID 0's mappings (§19.2).
    if (vcpu.vpid === 0) vcpu.tlb.flushTag(0);
    // Frames: vcpu_enter_guest -> vmx_vcpu_run (the VM exit and entry transition), then
    // vcpu_enter_guest -> vmx_handle_exit -> the handler. The exit's class is known at its end.
    vcpu.path.exitBegin();
    vcpu.path.enter(F.vcpu_enter_guest);
    kvm.acct.chargeAt(vcpu, C.vm_exit_entry, cost.vmexit_transition, vcpu.path.at(F.vmx_vcpu_run));
    const start = vcpu.clock;
    // perf kvm stat's intervals start at kvm_exit, taken as the start of the handling time (the
    // exit_handler charge is inside it; docs/cost-model.md).
    this.mmioTimes.exit(vcpu.id, start);
    vcpu.path.enter(F.vmx_handle_exit);
    kvm.acct.charge(vcpu, C.vm_exit_entry, cost.exit_handler);
    // The qualification kvm_exit prints (info1): the EPT one, CR3's value, or 0 (interrupts and HLT
    // have none; their `arg` is the vector the handler needs).
    const qual = reason === EXIT_REASON_EPT_VIOLATION ? this.cpu.ept.qualification : isIrqExit(reason) ? 0 : arg;
    const tr = kvm.trace, args = tr.args, at = tr.at;
    args[at] = reason;
    args[at + 1] = vaLo(vcpu.ripVpn, vcpu.ripOffset);
    args[at + 2] = vaHi(vcpu.ripVpn);
    args[at + 3] = qual;
    tr.emit(E.kvm_exit, vcpu, vcpu.line);
    vcpu.exitClass = -1;
    // vcpu_enter_guest: `preempt_enable(); vcpu->srcu_idx = srcu_read_lock(&vcpu->kvm->srcu);` then
    // handle_exit: the race point is the preempt_enable(), before the vCPU holds kvm->srcu.
    kvm.races.point(vcpu, RACE_KVM_EXIT, 0);
    kvm.srcu.readLock(vcpu);
    const shadow = this.shadow!;
    switch (reason) {
      case EXIT_REASON_EPT_VIOLATION:
        handleEptViolation(kvm, this.emulator, vcpu, this.cpu.exitGpa, qual);
        break;
      case EXIT_REASON_EXCEPTION_NMI:
        handlePageFaultException(kvm, this.emulator, shadow, vcpu, vpn, offset, arg);
        break;
      case EXIT_REASON_CR_ACCESS:
        handleCr3Load(kvm, shadow, vcpu, arg);
        break;
      case EXIT_REASON_INVLPG:
        handleInvlpg(kvm, shadow, vcpu, vpn);
        break;
      case EXIT_REASON_EXTERNAL_INTERRUPT:
        handleExternalInterrupt(kvm, vcpu, arg);
        break;
      case EXIT_REASON_PENDING_INTERRUPT:
        handleInterruptWindow(kvm, vcpu);
        break;
      case EXIT_REASON_HLT:
        handleHalt(kvm, vcpu, arg, this.haltTimer, this.haltWake);
        break;
      default:
        handleEptMisconfig(kvm, this.emulator, vcpu, this.cpu.exitGpa);
    }
    vcpu.path.leave(); // vmx_handle_exit
    // The next vcpu_enter_guest: KVM_REQ_EVENT with a vector in IRR (kvm/x86/irq.ts), a device's
    // raised during this exit's emulation included (raisedByDevice).
    if (vcpu.irr >= 0) injectPendingEvent(kvm, vcpu);
    vcpu.path.leave(); // vcpu_enter_guest
    vcpu.path.exitEnd(vcpu.exitClass, vcpu.line);
    // Memory-fault exits get a fault class; CR3 loads, INVLPG, interrupts and HLT are not faults.
    if (vcpu.exitClass >= 0) kvm.countFault(vcpu, vcpu.exitClass);
    else if (reason !== EXIT_REASON_CR_ACCESS && reason !== EXIT_REASON_INVLPG && !isIrqExit(reason)) kvm.warn(vcpu, `exit ${reason} was not classified`);
    this.exitTimes.record(vcpu.id, reason, vcpu.clock - start);
    // srcu_read_unlock just before kvm_guest_enter (the reload at the next entry, which the kernel
    // also does inside the section, has no race point in between).
    kvm.srcu.readUnlock(vcpu);
    this.mmioTimes.entry(vcpu.id, vcpu.clock);
    if (vcpu.vpid === 0) vcpu.tlb.flushTag(0); // the entry (§19.2)
    args[tr.at] = vcpu.exitClass;
    tr.emit(E.kvm_entry, vcpu, vcpu.line);
    // Back in the guest, which refills what the handling evicted (the exit's indirect cost): after
    // kvm_entry, so outside perf kvm stat's handling time.
    if (cost.exit_pollution > 0) kvm.acct.chargeAt(vcpu, C.vm_exit_entry, cost.exit_pollution, vcpu.path.at(F.guest));
  }
}

function isIrqExit(reason: number): boolean {
  return reason === EXIT_REASON_EXTERNAL_INTERRUPT || reason === EXIT_REASON_PENDING_INTERRUPT || reason === EXIT_REASON_HLT;
}

/** The #PF error-code bits of an access (PFERR_USER for CPL 3). */
export function accessPfec(write: boolean, fetch: boolean, cpl: number): number {
  return (write ? PFERR_WRITE_MASK : 0) | (fetch ? PFERR_FETCH_MASK : 0) | (cpl === 3 ? PFERR_USER_MASK : 0);
}
