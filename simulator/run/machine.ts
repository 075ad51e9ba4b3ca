// The machine: a Kvm built from a scenario, the CPU model, and the vCPUs' programs, run step by
// step. One step of a vCPU is one workload step; a memory access is executed by the CPU model and,
// when it exits, handled by the simulated KVM until the instruction completes (the CPU re-executes
// it after a fixed fault, or KVM's emulator completes it), exactly as VM entry / exit alternate.

import { vaLo, vaHi } from '../arch/x86/u64';
import type { Scenario, ScenarioOverrides } from '../scenario/types';
import { Kvm } from '../kvm/kvm';
import type { Vcpu } from '../kvm/vcpu';
import { EFER_NX, X86_CR0_WP } from '../kvm/vcpu';
import { Memslot, IDENTITY_PAGETABLE_PRIVATE_MEMSLOT, TSS_PRIVATE_MEMSLOT } from '../kvm/memslots';
import { MmioBus, MmioDevice } from '../devices/mmio_device';
import { profileByName } from '../cost/profiles';
import { C } from '../cost/accounting';
import { Cpu, ACCESS_DONE, ACCESS_GUEST_PF } from '../arch/x86/cpu';
import { encodeMov } from '../arch/x86/insn';
import { EXIT_REASON_EPT_VIOLATION } from '../arch/x86/vmx';
import { KvmWalker } from '../kvm/mmu/paging_tmpl';
import { Emulator } from '../kvm/x86/emulate';
import { handleEptMisconfig, handleEptViolation } from '../kvm/vmx';
import { mmuLoad, tdpPageFault } from '../kvm/mmu/tdp';
import { kvmDeleteMemoryRegion, kvmMmuZapAll, kvmSetMemoryRegion } from '../kvm/memslot_update';
import { RACE_KVM_EXIT } from '../kvm/races';
import { CLASS_GUEST_PF_DIRECT } from '../kvm/fault_class';
import { E } from '../trace/events';
import { S } from '../trace/stats';
import { buildGuest, GuestRam, GuestSetupError, type BuiltGuest } from '../guest/page_tables';
import { Compiler, TooManyStepsError, INSN_SLOT_BYTES, SLOTS_PER_PAGE, OP_COMPUTE, OP_END, OP_LOOP, OP_MEMSLOT_ADD, OP_MEMSLOT_DELETE, OP_READ, OP_SET_CACHING, OP_WAIT_FOR, OP_WRITE, type Program } from './program';
import { Scheduler } from './scheduler';
import { ExitTimes } from './exit_times';
import { AccessLog } from './access_log';

const MAX_LOOP_DEPTH = 64;
/** An instruction that still has not completed after this many exits is reported and abandoned. */
const MAX_EXITS_PER_ACCESS = 64;

export interface RunOptions {
  overrides?: ScenarioOverrides;
  /** Keep the per-access log (the CLI's --accesses). */
  accesses?: boolean;
  traceCapacity?: number;
}

export class Machine {
  readonly kvm: Kvm;
  readonly cpu: Cpu;
  readonly emulator: Emulator;
  readonly guest: BuiltGuest;
  readonly programs: Program[];
  readonly labels: string[];
  readonly labelCount: Float64Array;
  readonly labelCycles: Float64Array;
  readonly exitTimes = new ExitTimes();
  readonly accessLog: AccessLog | null;
  readonly scheduler: Scheduler;
  readonly sc: Scenario;
  // Per-vCPU execution state.
  readonly pc: Int32Array;
  readonly depth: Int32Array;
  readonly loopLeft: Float64Array;
  readonly iterStart: Float64Array;
  readonly done: Uint8Array;
  readonly waiting: Uint8Array;
  private codeVpn = 0;
  private accessSeq = 0;
  private stepSeq = 0;

  constructor(sc: Scenario, opts: RunOptions = {}) {
    const o = opts.overrides ?? {};
    this.sc = sc;
    const kernel = o.kernel ?? sc.kernel;
    const tdp = o.tdp ?? sc.mmu.tdp;
    const maxphyaddr = o.maxphyaddr ?? sc.host.maxphyaddr;
    const n = sc.vcpus.length;
    if (!tdp) throw new GuestSetupError('mmu.tdp: false (shadow paging) is not supported yet', sc.vcpus[0]?.pos.line ?? 1, 1);
    this.kvm = new Kvm({
      kernel,
      tdp,
      mmioCaching: o.mmio_caching ?? sc.mmu.mmio_caching,
      maxphyaddr,
      cost: profileByName(o.profile ?? sc.host.profile),
      traceCapacity: opts.traceCapacity ?? 10_000,
      vcpus: n,
    });
    const kvm = this.kvm;
    for (const m of sc.memslots) {
      if (m.readonly) throw new GuestSetupError(`memslot ${m.slot}: read-only memslots (KVM_MEM_READONLY) arrived in v3.8; ${kernel} rejects them with -EINVAL`, m.pos.line, m.pos.col);
      kvm.memslots.install(new Memslot(m.slot, m.gpa / 4096, m.size / 4096));
    }
    addVmxPrivateSlots(kvm, sc);
    kvm.bus = new MmioBus(sc.devices.map((d) => new MmioDevice(d)));
    this.cpu = new Cpu(kvm.host);
    const walker = new KvmWalker(kvm);
    this.emulator = new Emulator(kvm, walker);

    const compiler = new Compiler();
    try {
      this.programs = sc.vcpus.map((v) => compiler.compile(v.workload));
    } catch (e) {
      if (e instanceof TooManyStepsError) throw new GuestSetupError(e.message, e.line, e.col);
      throw e;
    }
    this.labels = compiler.labels;
    this.labelCount = new Float64Array(this.labels.length);
    this.labelCycles = new Float64Array(this.labels.length);
    this.guest = buildGuest(sc, new GuestRam(kvm.memslots, kvm.host), compiler.codePages);
    this.writeCode(compiler.codeSlots);
    for (const v of kvm.vcpus) {
      v.cr3 = this.guest.cr3;
      if (sc.guest.cpu.cr0_wp) v.cr0 |= X86_CR0_WP;
      if (sc.guest.cpu.efer_nx) v.efer |= EFER_NX;
      v.cpl = sc.guest.cpu.cpl;
    }
    this.bootedGuest();
    this.pc = new Int32Array(n);
    this.depth = new Int32Array(n);
    this.loopLeft = new Float64Array(n * MAX_LOOP_DEPTH);
    this.iterStart = new Float64Array(n * MAX_LOOP_DEPTH);
    this.done = new Uint8Array(n);
    this.waiting = new Uint8Array(n);
    this.accessLog = opts.accesses ? new AccessLog() : null;
    this.scheduler = new Scheduler(this, sc.scheduler.seed, sc.scheduler.preempt);
    if (n > 1) kvm.races = this.scheduler;
    for (let i = 0; i < n; i++) this.armWait(i);
  }

  /** Assemble each access's MOV into its slot of the code pages. */
  private writeCode(slots: { write: boolean; size: number }[]): void {
    this.codeVpn = this.guest.codeVpn;
    const buf = new Uint8Array(4);
    slots.forEach((s, i) => {
      const len = encodeMov(buf, 0, s.write, s.size);
      const page = this.guest.codeGpas[Math.floor(i / SLOTS_PER_PAGE)]!;
      this.guest.ram.writeBytes(page + (i % SLOTS_PER_PAGE) * INSN_SLOT_BYTES, buf.subarray(0, len));
    });
  }

  /**
   * A scenario starts from a booted guest: it has run its kernel, so EPT already maps its page
   * tables and code. Map them through the ordinary fault path, then forget the counters.
   */
  private bootedGuest(): void {
    const kvm = this.kvm;
    const vcpu = kvm.vcpus[0]!;
    mmuLoad(kvm, vcpu);
    for (const gpa of [...this.guest.tablePages, ...this.guest.codeGpas]) tdpPageFault(kvm, vcpu, gpa, 0);
    for (const v of kvm.vcpus) mmuLoad(kvm, v);
    kvm.resetCounters();
  }

  /** Run every vCPU to the end of its workload. */
  run(): void {
    const n = this.programs.length;
    for (;;) {
      let progressed = false;
      let live = false;
      for (let i = 0; i < n; i++) {
        if (this.done[i]) continue;
        live = true;
        if (this.waiting[i] || this.scheduler.onStack(i)) continue;
        this.step(i);
        progressed = true;
      }
      if (!live) return;
      if (!progressed) {
        const stuck = [...this.waiting].map((w, i) => (w ? i : -1)).filter((i) => i >= 0);
        this.kvm.warnings.push(`vCPUs ${stuck.join(', ')} wait for race points no other vCPU reaches: stopped`);
        return;
      }
    }
  }

  /** Execute vCPU `i` until one workload step completes (loop bookkeeping is free). */
  step(i: number): void {
    const prog = this.programs[i]!;
    const vcpu = this.kvm.vcpus[i]!;
    this.scheduler.enter(i);
    for (;;) {
      const pc = this.pc[i]!;
      if (pc >= prog.length || vcpu.halted) {
        this.done[i] = 1;
        break;
      }
      const op = prog.ops[pc]!;
      vcpu.line = prog.lines[pc]!;
      if (op === OP_LOOP) {
        const d = this.depth[i]!++;
        this.loopLeft[i * MAX_LOOP_DEPTH + d] = prog.arg(pc, 0);
        this.iterStart[i * MAX_LOOP_DEPTH + d] = vcpu.clock;
        this.pc[i] = pc + 1;
        continue;
      }
      if (op === OP_END) {
        const d = this.depth[i]! - 1;
        const loopPc = prog.arg(pc, 0);
        const label = prog.arg(loopPc, 1);
        const slot = i * MAX_LOOP_DEPTH + d;
        if (label >= 0) {
          this.labelCount[label]!++;
          this.labelCycles[label]! += vcpu.clock - this.iterStart[slot]!;
          this.iterStart[slot] = vcpu.clock;
        }
        if (--this.loopLeft[slot]! > 0) this.pc[i] = loopPc + 1;
        else {
          this.depth[i] = d;
          this.pc[i] = pc + 1;
        }
        continue;
      }
      this.pc[i] = pc + 1;
      const outer = this.kvm.trace.step; // a step run at another vCPU's race point nests
      this.kvm.trace.step = this.stepSeq++;
      this.execute(vcpu, prog, pc, op);
      this.kvm.trace.step = outer;
      break;
    }
    this.armWait(i);
    this.scheduler.leave(i);
  }

  /** A vCPU whose next step is `wait_for` waits from now on, not from when it is next scheduled. */
  private armWait(i: number): void {
    const prog = this.programs[i]!;
    const pc = this.pc[i]!;
    if (pc >= prog.length || prog.ops[pc] !== OP_WAIT_FOR || this.waiting[i]) return;
    this.pc[i] = pc + 1;
    this.waiting[i] = 1;
    this.scheduler.waitFor(i, prog.arg(pc, 0), prog.arg(pc, 1), prog.arg(pc, 2));
  }

  private execute(vcpu: Vcpu, prog: Program, pc: number, op: number): void {
    const kvm = this.kvm;
    switch (op) {
      case OP_READ:
      case OP_WRITE:
        this.access(vcpu, op === OP_WRITE, prog.arg(pc, 0), prog.arg(pc, 1), prog.arg(pc, 2), prog.arg(pc, 3), prog.arg(pc, 4), prog.arg(pc, 5));
        return;
      case OP_COMPUTE:
        kvm.acct.charge(vcpu, C.guest_compute, prog.arg(pc, 0));
        return;
      case OP_MEMSLOT_ADD:
        kvmSetMemoryRegion(kvm, vcpu, prog.arg(pc, 0), prog.arg(pc, 1), prog.arg(pc, 2), prog.arg(pc, 3) === 1);
        return;
      case OP_MEMSLOT_DELETE:
        kvmDeleteMemoryRegion(kvm, vcpu, prog.arg(pc, 0));
        return;
      case OP_SET_CACHING: {
        const on = prog.arg(pc, 0) === 1;
        // Turning caching off zaps every shadow page, so no MMIO SPTE outlives the switch.
        if (kvm.mmioCaching && !on && kvm.fmt.hasMmioSpte) kvmMmuZapAll(kvm, vcpu);
        kvm.mmioCaching = on;
        return;
      }
      case OP_WAIT_FOR: // reached only inside a loop body; armWait handles it otherwise
        this.waiting[vcpu.id] = 1;
        this.scheduler.waitFor(vcpu.id, prog.arg(pc, 0), prog.arg(pc, 1), prog.arg(pc, 2));
        return;
    }
  }

  /** One guest MOV: the CPU tries it; every exit is handled by KVM until the instruction completes. */
  private access(vcpu: Vcpu, write: boolean, vpn: number, offset: number, size: number, lo: number, hi: number, slot: number): void {
    const kvm = this.kvm;
    const cost = kvm.cost;
    vcpu.rdiVpn = vpn;
    vcpu.rdiOffset = offset;
    vcpu.raxLo = lo;
    vcpu.raxHi = hi;
    const ripOffset = (slot % SLOTS_PER_PAGE) * INSN_SLOT_BYTES;
    vcpu.ripVpn = this.codeVpn + Math.floor(slot / SLOTS_PER_PAGE);
    vcpu.ripOffset = ripOffset;
    vcpu.guestFault = false;
    for (let exits = 0; exits < MAX_EXITS_PER_ACCESS; exits++) {
      mmuLoad(kvm, vcpu); // kvm_mmu_reload before VM entry
      kvm.stats[S.hw_walks]!++;
      const r = this.cpu.access(vcpu, vcpu.cpl, kvm.sp.pfn[vcpu.root]!, vpn, offset, size, write, lo, hi);
      if (r === ACCESS_DONE) {
        kvm.acct.charge(vcpu, C.guest_memory, cost.guest_ram_access);
        this.logAccess(vcpu, write, vpn, offset, write ? lo : this.cpu.lo, write ? hi : this.cpu.hi);
        return;
      }
      if (r === ACCESS_GUEST_PF) {
        kvm.faultCounts[CLASS_GUEST_PF_DIRECT]!++;
        kvm.stats[S.guest_faults]!++;
        kvm.trace.emit(E.guest_page_fault, vcpu.id, vcpu.line, vcpu.clock, vaLo(vpn, offset), vaHi(vpn), this.cpu.errorCode);
        this.logFault(vcpu, write, vpn, offset, this.cpu.errorCode);
        return;
      }
      this.handleExit(vcpu);
      if (vcpu.halted) return;
      if (vcpu.guestFault) {
        this.logFault(vcpu, write, vpn, offset, vcpu.guestFaultCode);
        return;
      }
      if (vcpu.ripOffset !== ripOffset) {
        this.logAccess(vcpu, write, vpn, offset, write ? lo : vcpu.readLo, write ? hi : vcpu.readHi);
        return;
      }
    }
    kvm.warn(vcpu, `the access at line ${vcpu.line} did not complete after ${MAX_EXITS_PER_ACCESS} exits: abandoned`);
  }

  /** A VM exit: the hardware transition, kvm_exit, the handler, kvm_entry. */
  private handleExit(vcpu: Vcpu): void {
    const kvm = this.kvm;
    const cost = kvm.cost;
    const reason = this.cpu.ept.exitReason;
    const gpa = this.cpu.exitGpa;
    kvm.stats[S.exits]!++;
    kvm.acct.charge(vcpu, C.vm_exit_entry, cost.vmexit_transition);
    const start = vcpu.clock;
    kvm.acct.charge(vcpu, C.vm_exit_entry, cost.exit_handler);
    const info = reason === EXIT_REASON_EPT_VIOLATION ? this.cpu.ept.qualification : 0;
    kvm.trace.emit(E.kvm_exit, vcpu.id, vcpu.line, vcpu.clock, reason, vaLo(vcpu.ripVpn, vcpu.ripOffset), vaHi(vcpu.ripVpn), info);
    vcpu.exitClass = -1;
    kvm.races.point(vcpu, RACE_KVM_EXIT, 0);
    if (reason === EXIT_REASON_EPT_VIOLATION) handleEptViolation(kvm, this.emulator, vcpu, gpa, info);
    else handleEptMisconfig(kvm, this.emulator, vcpu, gpa);
    if (vcpu.exitClass >= 0) kvm.faultCounts[vcpu.exitClass]!++;
    else kvm.warn(vcpu, `exit ${reason} at gpa 0x${gpa.toString(16)} was not classified`);
    this.exitTimes.record(reason, vcpu.clock - start);
    kvm.trace.emit(E.kvm_entry, vcpu.id, vcpu.line, vcpu.clock);
  }

  private logAccess(vcpu: Vcpu, write: boolean, vpn: number, offset: number, lo: number, hi: number): void {
    const seq = this.accessSeq++;
    if (this.accessLog) this.accessLog.add(seq, vcpu.id, write, vpn, offset, vcpu.cpl, false, 0, lo, hi, vcpu.line);
  }

  private logFault(vcpu: Vcpu, write: boolean, vpn: number, offset: number, errorCode: number): void {
    const seq = this.accessSeq++;
    if (this.accessLog) this.accessLog.add(seq, vcpu.id, write, vpn, offset, vcpu.cpl, true, errorCode, 0, 0, vcpu.line);
  }
}

/** VMX's private memslots under EPT (vmx_create_vcpu: the identity page table; KVM_SET_TSS_ADDR from
 *  the VMM: the real-mode TSS), at the 3.x defaults. They make nmemslots 35, so every miss compares
 *  35 entries. The APIC-access page (slot 32) is not created: APIC virtualization is not modelled. */
function addVmxPrivateSlots(kvm: Kvm, sc: Scenario): void {
  if (!kvm.tdp) return;
  const taken = (gpa: number, size: number) =>
    sc.memslots.some((m) => gpa < m.gpa + m.size && m.gpa < gpa + size) || sc.devices.some((d) => gpa < d.gpa + d.size && d.gpa < gpa + size);
  const add = (id: number, gpa: number, pages: number) => {
    if (taken(gpa, pages * 4096)) kvm.warnings.push(`private memslot ${id} at 0x${gpa.toString(16)} overlaps the scenario's memory: not created`);
    else kvm.memslots.install(new Memslot(id, gpa / 4096, pages));
  };
  add(IDENTITY_PAGETABLE_PRIVATE_MEMSLOT, 0xfffbc000, 1); // VMX_EPT_IDENTITY_PAGETABLE_ADDR
  add(TSS_PRIVATE_MEMSLOT, 0xfffbd000, 3); // RMODE_TSS_SIZE spans 3 pages
}

