// The guest kernel's hands (guest/linux.ts GuestCpuPort): each of its loads and stores, user
// accesses, INVLPGs and CR3 loads runs on the vCPU as the instruction it is, through the same paths as
// a workload step's (Machine.access, VcpuRunner), so KVM sees the exits and faults Linux causes.

import type { GuestCpuPort } from '../guest/linux';
import type { BuiltGuest } from '../guest/page_tables';
import type { Kvm } from '../kvm/kvm';
import type { Vcpu } from '../kvm/vcpu';
import { INSN_GUEST_FAULT, INSN_STOPPED, type VcpuRunner } from './vcpu_run';
import { APIC_DEFAULT_PHYS_BASE } from '../arch/x86/apic';

/** Machine.kernelAccess's result when no mapping reaches the guest-physical address. */
export const NO_MAPPING = -1;

/** What the port needs of the machine. */
export interface OsMachine {
  readonly kvm: Kvm;
  readonly runner: VcpuRunner;
  readonly guest: BuiltGuest;
  /** One MOV by the instruction in `slot` (Machine.access): an INSN_* result. */
  access(vcpu: Vcpu, write: boolean, vpn: number, offset: number, size: number, lo: number, hi: number, slot: number, cpl: number): number;
  /** The kernel's 8-byte MOV of guest-physical `gpa` through its direct map in `space` (Machine.kernelAccess):
   *  an INSN_* result, or NO_MAPPING. */
  kernelAccess(vcpu: Vcpu, write: boolean, gpa: number, lo: number, hi: number, slot: number, space: number): number;
  /** The kernel's 4-byte MOV to or from its local APIC's register `reg` (Machine.apicAccess): an INSN_*
   *  result, NO_MAPPING, or NO_LOCAL_APIC. */
  apicAccess(vcpu: Vcpu, write: boolean, reg: number, value: number, space: number): number;
  /** vCPU `target` takes the IPI in its IRR now (Machine.takeIpi): null, or why it cannot. */
  takeIpi(from: Vcpu, target: number): string | null;
  /** The target's interrupt is over (Machine.ipiTaken). */
  ipiTaken(target: number): void;
  /** Guest time on `vcpu` (cpu_relax loops). */
  spin(vcpu: Vcpu, cycles: number): void;
}

/** Machine.apicAccess's result when no in-kernel local APIC sits at APIC_DEFAULT_PHYS_BASE. */
export const NO_LOCAL_APIC = -2;


export class OsPort implements GuestCpuPort {
  /** The vCPU and the step's first instruction slot (program.ts OP_TOUCH), set before each step. */
  vcpu!: Vcpu;
  slot = 0;
  lo = 0;
  hi = 0;
  errorCode = 0;

  /** While a target answers an IPI (takeIpi .. resume): the sender, its slot, the target's clock then.
   *  One at a time: no guest OS step runs inside another's (Machine.heldBack), so none sends meanwhile. */
  private sender: Vcpu | null = null;
  private senderSlot = 0;
  private targetStart = 0;

  constructor(private readonly m: OsMachine) {}

  cpu(): number {
    return this.vcpu.id;
  }

  apicAccess(write: boolean, reg: number, value: number): boolean {
    const vcpu = this.vcpu;
    if (vcpu.halted) return false;
    const r = this.m.apicAccess(vcpu, write, reg, value, Math.max(0, this.currentSpace()));
    if (r === NO_LOCAL_APIC) {
      this.warn(`the guest kernel's IPI needs its local APIC: declare the in-kernel one (a \`kernel\` device at 0x${APIC_DEFAULT_PHYS_BASE.toString(16)}): the step stops`);
      return false;
    }
    if (r === NO_MAPPING) {
      this.warn(`no mapping of the local APIC (guest-physical 0x${APIC_DEFAULT_PHYS_BASE.toString(16)}) for the kernel to reach it (map it, as Linux's fixmap FIX_APIC_BASE does): the step stops`);
      return false;
    }
    if (r === INSN_STOPPED) return false;
    if (r === INSN_GUEST_FAULT) {
      this.warn(`the kernel's access to its local APIC faulted: the step stops`);
      return false;
    }
    return true;
  }

  takeIpi(cpu: number): boolean {
    const start = this.m.kvm.vcpus[cpu]!.clock; // the kick's exit is part of the answer
    const why = this.m.takeIpi(this.vcpu, cpu);
    if (why !== null) {
      this.warn(why);
      return false;
    }
    this.sender = this.vcpu;
    this.senderSlot = this.slot;
    this.targetStart = start;
    this.vcpu = this.m.kvm.vcpus[cpu]!;
    return true;
  }

  resume(): number {
    const target = this.vcpu;
    this.m.ipiTaken(target.id);
    this.vcpu = this.sender!;
    this.slot = this.senderSlot;
    this.sender = null;
    return target.clock - this.targetStart;
  }

  spin(cycles: number): void {
    this.m.spin(this.vcpu, cycles);
  }

  userAccess(write: boolean, vpn: number, offset: number, lo: number, hi: number): boolean {
    const r = this.m.access(this.vcpu, write, vpn, offset, 8, lo, hi, this.slot, 3);
    if (r !== INSN_GUEST_FAULT) return false;
    this.errorCode = this.m.runner.errorCode;
    return true;
  }

  kernelAccess(write: boolean, gpa: number, lo: number, hi: number): boolean {
    const vcpu = this.vcpu;
    if (vcpu.halted) return false;
    const r = this.m.kernelAccess(vcpu, write, gpa, lo, hi, this.slot + (write ? 1 : 2), Math.max(0, this.currentSpace()));
    if (r === NO_MAPPING) {
      this.warn(`no mapping of guest-physical 0x${gpa.toString(16)} for the kernel to reach it (map guest RAM, as a kernel's direct map does): the step stops`);
      return false;
    }
    if (r === INSN_STOPPED) return false;
    if (r === INSN_GUEST_FAULT) {
      this.warn(`the kernel's access to guest-physical 0x${gpa.toString(16)} through its direct map faulted: the step stops`);
      return false;
    }
    if (!write) {
      this.lo = this.m.runner.lo;
      this.hi = this.m.runner.hi;
    }
    return true;
  }

  invlpg(vpn: number): void {
    this.m.runner.invlpg(this.vcpu, vpn);
  }

  loadCr3(space: number): void {
    this.m.runner.loadCr3(this.vcpu, this.m.guest.cr3s[space]!);
  }

  currentSpace(): number {
    return this.m.guest.cr3s.indexOf(this.vcpu.cr3);
  }

  cr3Of(space: number): number {
    return this.m.guest.cr3s[space]!;
  }

  warn(message: string): void {
    this.m.kvm.warn(this.vcpu, message);
  }
}
