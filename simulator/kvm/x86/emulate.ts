// KVM's instruction emulation for a faulting MMIO access, per era (arch/x86/kvm/x86.c):
//
//   x86_emulate_instruction(vcpu, cr2, emulation_type):
//     decode (unless EMULTYPE_NO_DECODE): fetch the bytes at RIP (kvm_fetch_guest_virt: a guest walk
//       plus kvm_read_guest, i.e. a memslot lookup), x86_decode_insn, ++insn_emulation, trace
//       kvm_emulate_insn;
//     x86_emulate_insn: the memory operand goes through
//       v3.0  emulator_read_emulated / emulator_write_emulated_onepage:
//               gpa = kvm_mmu_gva_to_gpa_{read,write}(addr)            (a guest walk)
//               APIC page -> MMIO
//               write: emulator_write_phys(gpa) -> kvm_write_guest       (memslot lookup; miss = MMIO)
//               read:  kvm_read_guest_virt(addr)                         (another walk + lookup; miss = MMIO)
//       v3.1  emulator_read_emulated / emulator_write_emulated_onepage -> vcpu_mmio_gva_to_gpa:
//               GVA match in the MMIO cache (and access allowed) -> MMIO, no walk
//               else gpa = gva_to_gpa(addr) (a walk); APIC page or GPA match -> MMIO
//               else RAM as in v3.0 (write: emulator_write_phys; read: kvm_read_guest_virt, a
//               second walk), MMIO on failure
//     MMIO: vcpu_mmio_read/write -> in-kernel device (the local APIC, then KVM_MMIO_BUS), else
//       KVM_EXIT_MMIO to userspace; a read completes on the next KVM_RUN by emulating again with
//       EMULTYPE_NO_DECODE.
// The exact calls and their counts are in docs/kernel-paths.md.

import { F } from '../kernel_functions';
import { vaLo, vaHi } from '../../arch/x86/u64';
import type { Kvm } from '../kvm';
import type { Vcpu } from '../vcpu';
import type { MmioDevice } from '../../devices/mmio_device';
import { coolMemslots } from '../memslot_warmth';
import { raisedByDevice } from './irq';
import { apicRegWrite } from './lapic';
import { APIC_DEFAULT_PHYS_BASE } from '../../arch/x86/apic'; // the emulator sends this page to MMIO without a memslot lookup
import type { KvmWalker } from '../mmu/paging_tmpl';
import { C } from '../../cost/accounting';
import { E, KVM_TRACE_MMIO_READ, KVM_TRACE_MMIO_READ_UNSATISFIED, KVM_TRACE_MMIO_WRITE } from '../../trace/events';
import { S } from '../../trace/stats';
import { DecodedInsn, decodeMov } from '../../arch/x86/insn';
import { PFERR_FETCH_MASK, PFERR_USER_MASK, PFERR_WRITE_MASK, ACC_USER_MASK, ACC_WRITE_MASK } from '../../arch/x86/paging';
import { vcpuMatchMmioGpa, vcpuMatchMmioGva } from './mmio_cache';
import { noteFault, CLASS_GUEST_PF } from '../fault_class';
import { kvmMmuPteWrite } from '../mmu/pte_write';
import type { ShadowMmu } from '../mmu/shadow';
import { MmioTimes } from '../../run/mmio_times';

export const EMULATE_DONE = 0;
export const EMULATE_DO_MMIO = 1;
export const EMULATE_FAIL = 2;

const KVM_EXIT_MMIO = 6;
const PF_VECTOR = 14;

export class Emulator {
  private readonly insn = new DecodedInsn();
  private gpa = 0;
  /** The shadow MMU, whose write-protected guest tables an emulated RAM write may hit (null under EPT). */
  shadow: ShadowMmu | null = null;
  /** perf kvm stat's MMIO intervals, fed at each kvm_mmio (the machine gives its own). */
  mmioTimes = new MmioTimes(0);

  constructor(
    private readonly kvm: Kvm,
    private readonly walker: KvmWalker,
  ) {}

  /** x86_emulate_instruction for the MOV at the vCPU's RIP. The userspace round trip, if any, is
   *  completed here (the VMM answers at once), as the next KVM_RUN would. */
  emulate(vcpu: Vcpu): number {
    vcpu.path.enter(F.x86_emulate_instruction);
    const r = this.emulateInner(vcpu);
    vcpu.path.leave();
    return r;
  }

  private emulateInner(vcpu: Vcpu): number {
    const kvm = this.kvm;
    vcpu.path.enter(F.x86_decode_insn);
    const ok = this.decode(vcpu);
    vcpu.path.leave();
    if (!ok) return EMULATE_FAIL;
    vcpu.path.enter(F.x86_emulate_insn);
    kvm.acct.charge(vcpu, C.emulation, kvm.cost.emulate_execute);
    const insn = this.insn;
    let r: number;
    if (insn.write) {
      vcpu.path.enter(F.emulator_write_emulated_onepage);
      r = this.writeEmulated(vcpu, insn.size);
    } else {
      vcpu.path.enter(F.emulator_read_emulated);
      r = this.readEmulated(vcpu, insn.size);
    }
    vcpu.path.leave();
    vcpu.path.leave();
    // writeback: kvm_rip_write(vcpu, ctxt->eip). A #PF injected for an operand leaves RIP on the MOV
    // (x86_emulate_insn's fault path `goto done` skips `ctxt->eip = ctxt->_eip;`).
    if (r === EMULATE_DONE && !vcpu.guestFault) vcpu.ripOffset += insn.len;
    return r;
  }

  /** Fetch and decode: kvm_fetch_guest_virt over the instruction window, then x86_decode_insn. */
  private decode(vcpu: Vcpu): boolean {
    const kvm = this.kvm;
    kvm.stats[S.emulator_fetches]!++;
    const pfec = PFERR_FETCH_MASK | (vcpu.cpl === 3 ? PFERR_USER_MASK : 0);
    let lo = 0;
    let hi = 0;
    vcpu.path.enter(F.kvm_fetch_guest_virt);
    if (this.walker.gvaToGpa(vcpu, vcpu.ripVpn, vcpu.ripOffset, pfec)) {
      const gfn = this.walker.walker.gfn;
      const slot = kvm.gfnToMemslot(vcpu, gfn); // kvm_read_guest -> gfn_to_hva
      if (slot !== null) {
        const pfn = kvm.slotPfn(vcpu, slot, gfn);
        kvm.host.read(pfn, vcpu.ripOffset, 8); // the window never crosses the page: see guest/code.ts
        lo = kvm.host.lo;
        hi = kvm.host.hi;
      }
    }
    vcpu.path.leave();
    kvm.acct.charge(vcpu, C.emulation, kvm.cost.emulate_decode);
    decodeMov(lo, this.insn);
    kvm.stats[S.insn_emulation]!++;
    const tr = kvm.trace, args = tr.args, at = tr.at;
    args[at] = vaLo(vcpu.ripVpn, vcpu.ripOffset);
    args[at + 1] = vaHi(vcpu.ripVpn);
    args[at + 2] = this.insn.len;
    args[at + 3] = lo;
    args[at + 4] = hi;
    args[at + 5] = this.insn.ok ? 0 : 1;
    tr.emit(E.kvm_emulate_insn, vcpu, vcpu.line);
    if (!this.insn.ok) {
      // handle_emulation_failure: KVM_EXIT_INTERNAL_ERROR to userspace, which stops the VM.
      kvm.stats[S.insn_emulation_fail]!++;
      kvm.warn(vcpu, 'emulation failed: the instruction at RIP could not be fetched or decoded (KVM_EXIT_INTERNAL_ERROR); the vCPU stops');
      vcpu.halted = true;
    }
    return this.insn.ok;
  }

  private writeEmulated(vcpu: Vcpu, size: number): number {
    const kvm = this.kvm;
    const mmio = kvm.kernel === 'v3.0' ? this.gvaToGpaV30(vcpu, true) : this.mmioGvaToGpa(vcpu, true);
    if (mmio < 0) return this.injectPageFault(vcpu);
    if (mmio === 0) {
      // emulator_write_phys -> kvm_write_guest -> kvm_write_guest_page: gfn_to_hva (a lookup), the
      // copy, then `mark_page_dirty(kvm, gfn);` (another lookup).
      const gfn = Math.floor(this.gpa / 4096);
      const slot = kvm.gfnToMemslot(vcpu, gfn);
      if (slot !== null) {
        kvm.host.write(kvm.slotPfn(vcpu, slot, gfn), this.gpa % 4096, size, vcpu.raxLo, vcpu.raxHi);
        kvm.gfnToMemslot(vcpu, gfn); // mark_page_dirty
        kvmMmuPteWrite(kvm, this.shadow, vcpu, this.gpa, size, true); // emulator_write_phys
        return EMULATE_DONE;
      }
    }
    const tr = kvm.trace, args = tr.args, at = tr.at;
    args[at] = KVM_TRACE_MMIO_WRITE;
    args[at + 1] = size;
    args[at + 2] = this.gpa;
    args[at + 3] = vcpu.raxLo;
    args[at + 4] = vcpu.raxHi;
    tr.emit(E.kvm_mmio, vcpu, vcpu.line);
    this.mmioTimes.mmioWrite(vcpu.id, this.gpa, vcpu.clock);
    const dev = kvm.bus.find(this.gpa);
    if (dev !== null && dev.handler === 'kernel') {
      kvm.acct.chargeAt(vcpu, C.device_kernel, kvm.cost.device_kernel, vcpu.path.at(F.vcpu_mmio_write)); // handled in kernel
      dev.write(this.gpa, size, vcpu.raxLo, vcpu.raxHi);
      kvm.stats[S.mmio_writes]!++;
      if (dev.gpa === APIC_DEFAULT_PHYS_BASE) apicRegWrite(kvm, vcpu, this.gpa - APIC_DEFAULT_PHYS_BASE, vcpu.raxLo); // the local APIC
      raisedByDevice(vcpu);
      return EMULATE_DONE;
    }
    // KVM_EXIT_MMIO: the VMM performs the write (or drops it, if no device claims the address).
    this.userspaceExit(vcpu, dev);
    if (dev !== null) {
      dev.write(this.gpa, size, vcpu.raxLo, vcpu.raxHi);
      kvm.stats[S.mmio_writes]!++;
      raisedByDevice(vcpu);
    }
    vcpu.ripOffset += this.insn.len; // the write was emulated before the exit; RIP was written back
    return EMULATE_DO_MMIO;
  }

  private readEmulated(vcpu: Vcpu, size: number): number {
    const kvm = this.kvm;
    const mmio = kvm.kernel === 'v3.0' ? this.gvaToGpaV30(vcpu, false) : this.mmioGvaToGpa(vcpu, false);
    if (mmio < 0) return this.injectPageFault(vcpu);
    if (mmio === 0) {
      // emulator_read_emulated (3.0.1 and 3.1.10): `if (kvm_read_guest_virt(ctxt, addr, val, bytes,
      // exception) == X86EMUL_CONTINUE) return X86EMUL_CONTINUE;`: a second guest walk, then
      // kvm_read_guest (a lookup). (3.2 reads the gpa it has with kvm_read_guest.)
      const pfec = vcpu.cpl === 3 ? PFERR_USER_MASK : 0;
      if (!this.walker.gvaToGpa(vcpu, vcpu.rdiVpn, vcpu.rdiOffset, pfec)) return this.injectPageFault(vcpu);
      const gfn = Math.floor(this.gpa / 4096);
      const slot = kvm.gfnToMemslot(vcpu, gfn);
      if (slot !== null) {
        kvm.host.read(kvm.slotPfn(vcpu, slot, gfn), this.gpa % 4096, size);
        this.setRax(vcpu, kvm.host.lo, kvm.host.hi, size);
        return EMULATE_DONE;
      }
    }
    const dev = kvm.bus.find(this.gpa);
    if (dev !== null && dev.handler === 'kernel') {
      kvm.acct.chargeAt(vcpu, C.device_kernel, kvm.cost.device_kernel, vcpu.path.at(F.vcpu_mmio_read)); // handled in kernel
      dev.read(this.gpa, size);
      kvm.stats[S.mmio_reads]!++;
      raisedByDevice(vcpu);
      const tr = kvm.trace, args = tr.args, at = tr.at;
      args[at] = KVM_TRACE_MMIO_READ;
      args[at + 1] = size;
      args[at + 2] = this.gpa;
      args[at + 3] = dev.lo;
      args[at + 4] = dev.hi;
      tr.emit(E.kvm_mmio, vcpu, vcpu.line);
      this.mmioTimes.mmioRead(vcpu.id, this.gpa, vcpu.clock);
      this.setRax(vcpu, dev.lo, dev.hi, size);
      return EMULATE_DONE;
    }
    const tr = kvm.trace, args = tr.args, at = tr.at;
    args[at] = KVM_TRACE_MMIO_READ_UNSATISFIED;
    args[at + 1] = size;
    args[at + 2] = this.gpa;
    args[at + 3] = 0;
    args[at + 4] = 0;
    tr.emit(E.kvm_mmio, vcpu, vcpu.line);
    this.userspaceExit(vcpu, dev);
    let lo = 0xffffffff; // an unclaimed address reads as all ones from the VMM
    let hi = 0xffffffff;
    if (dev !== null) {
      dev.read(this.gpa, size);
      kvm.stats[S.mmio_reads]!++;
      raisedByDevice(vcpu);
      lo = dev.lo;
      hi = dev.hi;
    }
    // Next KVM_RUN: complete_mmio sets mmio_read_completed and runs emulate_instruction(vcpu,
    // EMULTYPE_NO_DECODE): no fetch, no walk, no lookup; its cost is part of vmm_round_trip.
    const done = tr.at;
    args[done] = KVM_TRACE_MMIO_READ;
    args[done + 1] = size;
    args[done + 2] = this.gpa;
    args[done + 3] = lo;
    args[done + 4] = hi;
    tr.emit(E.kvm_mmio, vcpu, vcpu.line);
    this.mmioTimes.mmioRead(vcpu.id, this.gpa, vcpu.clock);
    this.setRax(vcpu, lo, hi, size);
    vcpu.ripOffset += this.insn.len;
    return EMULATE_DO_MMIO;
  }

  /** v3.0: kvm_mmu_gva_to_gpa_{read,write} (a walk); the APIC page goes to MMIO. 1 = MMIO, 0 = try RAM, -1 = fault. */
  private gvaToGpaV30(vcpu: Vcpu, write: boolean): number {
    const pfec = (vcpu.cpl === 3 ? PFERR_USER_MASK : 0) | (write ? PFERR_WRITE_MASK : 0);
    if (!this.walker.gvaToGpa(vcpu, vcpu.rdiVpn, vcpu.rdiOffset, pfec)) return -1;
    this.gpa = this.walker.walker.gfn * 4096 + vcpu.rdiOffset;
    return Math.floor(this.gpa / 4096) * 4096 === APIC_DEFAULT_PHYS_BASE ? 1 : 0;
  }

  /** v3.1 vcpu_mmio_gva_to_gpa: 1 = MMIO, 0 = RAM (try memslots), -1 = fault. */
  private mmioGvaToGpa(vcpu: Vcpu, write: boolean): number {
    vcpu.path.enter(F.vcpu_mmio_gva_to_gpa);
    const r = this.mmioGvaToGpaInner(vcpu, write);
    vcpu.path.leave();
    return r;
  }

  private mmioGvaToGpaInner(vcpu: Vcpu, write: boolean): number {
    const kvm = this.kvm;
    const user = vcpu.cpl === 3;
    if (vcpuMatchMmioGva(kvm, vcpu, vcpu.rdiVpn) && checkWriteUserAccess(vcpu, write, user, vcpu.mmioAccess)) {
      this.gpa = vcpu.mmioGfn * 4096 + vcpu.rdiOffset;
      const tr = kvm.trace, args = tr.args, at = tr.at;
      args[at] = vaLo(vcpu.rdiVpn, vcpu.rdiOffset);
      args[at + 1] = vaHi(vcpu.rdiVpn);
      args[at + 2] = this.gpa;
      args[at + 3] = write ? 1 : 0;
      args[at + 4] = 0;
      tr.emit(E.vcpu_match_mmio, vcpu, vcpu.line);
      return 1;
    }
    const pfec = (user ? PFERR_USER_MASK : 0) | (write ? PFERR_WRITE_MASK : 0);
    if (!this.walker.gvaToGpa(vcpu, vcpu.rdiVpn, vcpu.rdiOffset, pfec)) return -1;
    this.gpa = this.walker.walker.gfn * 4096 + vcpu.rdiOffset;
    if (Math.floor(this.gpa / 4096) * 4096 === APIC_DEFAULT_PHYS_BASE) return 1;
    if (vcpuMatchMmioGpa(kvm, vcpu, Math.floor(this.gpa / 4096))) {
      const tr = kvm.trace, args = tr.args, at = tr.at;
      args[at] = vaLo(vcpu.rdiVpn, vcpu.rdiOffset);
      args[at + 1] = vaHi(vcpu.rdiVpn);
      args[at + 2] = this.gpa;
      args[at + 3] = write ? 1 : 0;
      args[at + 4] = 1;
      tr.emit(E.vcpu_match_mmio, vcpu, vcpu.line);
      return 1;
    }
    return 0;
  }

  /** KVM_EXIT_MMIO to the VMM and back into KVM_RUN: the round trip (a trivial device) plus the
   *  device model's own cycles, as the scenario declares them (none for an unclaimed address). */
  private userspaceExit(vcpu: Vcpu, dev: MmioDevice | null): void {
    const kvm = this.kvm;
    kvm.stats[S.userspace_exits]!++;
    // The VMM's time is not under a kernel function: a root frame of its own.
    const cycles = kvm.cost.vmm_round_trip + (dev !== null ? dev.cost : 0);
    kvm.acct.chargeAt(vcpu, C.device_userspace, cycles, kvm.cp.rootFrame(F.vmm));
    // QEMU (and the host kernel's return and re-entry) ran on this CPU: the memslot array is cold.
    coolMemslots(vcpu);
    const tr = kvm.trace, args = tr.args, at = tr.at;
    args[at] = KVM_EXIT_MMIO;
    tr.emit(E.kvm_userspace_exit, vcpu, vcpu.line);
  }

  /** The emulator's walk faulted: inject_emulated_exception -> #PF into the guest (EMULATE_DONE). */
  private injectPageFault(vcpu: Vcpu): number {
    const kvm = this.kvm;
    kvm.stats[S.pf_guest]!++;
    kvm.stats[S.guest_faults]!++;
    noteFault(kvm, vcpu, CLASS_GUEST_PF);
    vcpu.guestFault = true;
    vcpu.guestFaultCode = this.walker.walker.errorCode;
    const tr = kvm.trace, args = tr.args, at = tr.at;
    args[at] = PF_VECTOR;
    args[at + 1] = this.walker.walker.errorCode;
    args[at + 2] = vaLo(vcpu.rdiVpn, vcpu.rdiOffset);
    args[at + 3] = vaHi(vcpu.rdiVpn);
    tr.emit(E.kvm_inj_exception, vcpu, vcpu.line);
    return EMULATE_DONE;
  }

  private setRax(vcpu: Vcpu, lo: number, hi: number, size: number): void {
    // A MOV load of 1 or 2 bytes merges into RAX; 4 zero-extends; 8 replaces. The access record
    // reports only the bytes read, so keep just those.
    vcpu.readLo = size >= 4 ? lo : lo & (size === 1 ? 0xff : 0xffff);
    vcpu.readHi = size === 8 ? hi : 0;
  }
}

/** check_write_user_access (3.1.10 mmu.h): the cached access must allow this write / user access. */
function checkWriteUserAccess(vcpu: Vcpu, write: boolean, user: boolean, access: number): boolean {
  if (write && (access & ACC_WRITE_MASK) === 0 && (user || vcpu.cr0Wp)) return false;
  if (user && (access & ACC_USER_MASK) === 0) return false;
  return true;
}
