// The machine: a Kvm built from a scenario, and the vCPUs' programs, run step by step. One step of a
// vCPU is one workload step; its instruction runs on the CPU model, with KVM handling the exits
// (run/vcpu_run.ts), until it completes.

import { noteGuestCompute } from '../kvm/memslot_warmth';
import { F } from '../kvm/kernel_functions';
import type { Scenario, ScenarioOverrides, Step } from '../scenario/types';
import { Kvm } from '../kvm/kvm';
import { FAULT_CLASSES } from '../kvm/fault_class';
import type { Vcpu } from '../kvm/vcpu';
import { EFER_NX, X86_CR0_WP, X86_CR4_PKE, X86_CR4_SMAP, X86_CR4_SMEP } from '../kvm/vcpu';
import { Memslot, IDENTITY_PAGETABLE_PRIVATE_MEMSLOT, TSS_PRIVATE_MEMSLOT } from '../kvm/memslots';
import { MmioBus, MmioDevice } from '../devices/mmio_device';
import { profileByName } from '../cost/profiles';
import type { CostOverrides, CostProfile } from '../cost/profile';
import { C } from '../cost/accounting';
import { encodeMov } from '../arch/x86/insn';
import { KvmWalker } from '../kvm/mmu/paging_tmpl';
import { Emulator } from '../kvm/x86/emulate';
import { mmuLoad, tdpPageFault } from '../kvm/mmu/tdp';
import { kvmMmuZapAll, MEMSLOT_DONE, MEMSLOT_STILL_WAITING, MEMSLOT_SYNCED } from '../kvm/memslot_update';
import { RACE_SRCU_SYNCHRONIZED } from '../kvm/races';
import { buildGuest, entryAddress, GuestRam, GuestSetupError, type BuiltGuest } from '../guest/page_tables';
import { ShadowMmu, shadowMmuLoad } from '../kvm/mmu/shadow';
import { VcpuRunner, accessPfec, INSN_DONE, INSN_GUEST_FAULT, INSN_STOPPED } from './vcpu_run';
import { frameHi, frameLo, frameOf } from '../arch/x86/u64';
import { OverBudgetError } from './work_budget';
import { ARG_WIDTH, CODE_SLOT_WRITE, Compiler, INSN_SLOT_BYTES, SLOTS_PER_PAGE, OP_COMPUTE, OP_CR3, OP_END, OP_EXEC, OP_EXIT, OP_FETCH, OP_FORK, OP_INVLPG, OP_LOOP, OP_MUNMAP, OP_PTE, OP_MEMSLOT_ADD, OP_MEMSLOT_DELETE, OP_READ, OP_SET_CACHING, OP_SWITCH_MM, OP_TOUCH, OP_VFORK, OP_WAIT_FOR, OP_WRITE, OP_INTERRUPT, OP_HLT, OP_RAISE, OP_RAISE_END, IRQ_TIMER, type Program } from './program';
import { LinuxGuest } from '../guest/linux';
import { NO_LOCAL_APIC, NO_MAPPING, OsPort } from './os_port';
import { APIC_DEFAULT_PHYS_BASE } from '../arch/x86/apic';
import { Scheduler } from './scheduler';
import { checkOverrides } from './override_error';
import { ExitTimes } from './exit_times';
import { MmioTimes } from './mmio_times';
import { AccessLog } from './access_log';
import { refuseLocklessWaits } from './unreachable_waits';
import { LOCKLESS_POINTS, eraOf } from '../kvm/eras';


export interface RunOptions {
  overrides?: ScenarioOverrides;
  /** Keep the per-access log (the CLI's --accesses). */
  accesses?: boolean;
  /** Stop after this many workload steps (numbered from 0 across the run), to see the tables then. */
  stopAfterStep?: number;
  traceCapacity?: number;
  /** Attribute every charged cycle to its kernel call path (RunResult.flame; cost/call_path.ts). Off,
   *  the kernel paths' enter/leave return at once: the hot paths pay nothing for it. */
  callPaths?: boolean;
  /** Take the fast paths (default true): shortcuts that give byte-identical reports to the step-by-step
   *  model (test/fast-paths-equivalence.test.ts checks it). False runs every access through the full
   *  model, as a reference and to find a fast path that is not exact. */
  fastPaths?: boolean;
}

export class Machine {
  readonly kvm: Kvm;
  readonly emulator: Emulator;
  readonly shadow: ShadowMmu | null;
  readonly runner: VcpuRunner;
  readonly guest: BuiltGuest;
  readonly programs: Program[];
  readonly labels: string[];
  readonly labelCount: Float64Array;
  readonly labelCycles: Float64Array;
  /** Per source line: steps run and the cycles they took (see LineStats). */
  readonly lineCount: Float64Array;
  readonly lineCycles: Float64Array;
  readonly exitTimes: ExitTimes;
  readonly mmioTimes: MmioTimes;
  readonly accessLog: AccessLog | null;
  readonly scheduler: Scheduler;
  readonly sc: Scenario;
  /** The guest kernel behind the guest OS steps (guest.os), or null. */
  readonly linux: LinuxGuest | null;
  private readonly osPort: OsPort;
  /** Guest OS steps on the stack (their vCPUs inside the guest kernel's memory management). */
  private osDepth = 0;
  /** The guest kernel's local-APIC store slot (its load is the next), -1 when it sends no IPIs. */
  readonly apicSlot: number;
  /** Whether the scenario has KVM's in-kernel local APIC: a `kernel` device at APIC_DEFAULT_PHYS_BASE. */
  private readonly inKernelApic: boolean;
  // Per-vCPU execution state.
  readonly pc: Int32Array;
  readonly depth: Int32Array;
  /** Each vCPU's loop-counter stack (loopLeft, iterStart) holds this many levels: the deepest
   *  nesting any program has, so no vCPU's loops can reach another's counters. */
  private readonly loopStride: number;
  readonly loopLeft: Float64Array;
  readonly iterStart: Float64Array;
  readonly done: Uint8Array;
  readonly waiting: Uint8Array;
  /** The number of a step still in progress (a memslot update between its slices), -1 for none. */
  private readonly sliceSeq: Int32Array;
  /** The page a ranged `touch` (OP_TOUCH's g > 1) has reached: each page is a step of its own, as
   *  that many touches would be, so the vCPU stays on the operation until its last page. */
  private readonly touchPage: Int32Array;
  /** User memslots at the start (the scenario's plus fillers). */
  readonly userMemslots: number;
  private codeVpn = 0;
  private accessSeq = 0;
  private stepSeq = 0;
  private readonly stopAfterStep: number;

  constructor(sc: Scenario, opts: RunOptions = {}) {
    const o = opts.overrides ?? {};
    checkOverrides(sc, o);
    this.sc = sc;
    const kernel = o.kernel ?? sc.kernel;
    const tdp = o.tdp ?? sc.mmu.tdp;
    const maxphyaddr = o.maxphyaddr ?? sc.host.maxphyaddr;
    const n = sc.vcpus.length;
    this.kvm = new Kvm({
      kernel,
      tdp,
      mmioCaching: o.mmio_caching ?? sc.mmu.mmio_caching,
      oosShadow: o.oos_shadow ?? sc.mmu.oos_shadow,
      enableVpid: o.enable_vpid ?? sc.mmu.enable_vpid,
      // bypass_guest_pf: a v3.0 module parameter, default 1, forced off with EPT; gone in v3.1.
      bypassGuestPf: o.bypass_guest_pf ?? sc.mmu.bypass_guest_pf ?? kernel === 'v3.0',
      maxphyaddr,
      cost: withCosts(profileByName(o.profile ?? sc.host.profile), sc.host.costs),
      traceCapacity: opts.traceCapacity ?? 10_000,
      vcpus: n,
      callPaths: opts.callPaths ?? false,
      fastPaths: opts.fastPaths ?? true,
    });
    const kvm = this.kvm;
    for (const m of sc.memslots) {
      if (m.readonly) throw new GuestSetupError(`memslot ${m.slot}: read-only memslots (KVM_MEM_READONLY) arrived in v3.8; ${kernel} knows only KVM_MEM_LOG_DIRTY_PAGES and would map the slot writable, so it is not modelled`, m.pos.line, m.pos.col);
      kvm.memslots.install(new Memslot(m.slot, m.gpa / 4096, m.size / 4096));
    }
    this.userMemslots = addFillerSlots(kvm, sc, o.memslot_count ?? sc.memslots.length, maxphyaddr);
    addVmxPrivateSlots(kvm, sc);
    // The VMM's KVM_SET_USER_MEMORY_REGION calls each ended in kvm_arch_commit_memory_region, whose
    // kvm_mmu_change_mmu_pages set the shadow page budget from the slots' pages.
    kvm.sp.changeMmuPages(0);
    kvm.expectHostFrames();
    kvm.bus = new MmioBus(sc.devices.map((d) => new MmioDevice(d)));
    const apic = kvm.bus.find(APIC_DEFAULT_PHYS_BASE);
    this.inKernelApic = apic !== null && apic.handler === 'kernel' && apic.gpa === APIC_DEFAULT_PHYS_BASE;
    const walker = new KvmWalker(kvm);
    this.emulator = new Emulator(kvm, walker);
    this.shadow = tdp ? null : new ShadowMmu(kvm, walker);
    this.emulator.shadow = this.shadow;
    this.exitTimes = new ExitTimes(n);
    this.mmioTimes = new MmioTimes(n);
    this.emulator.mmioTimes = this.mmioTimes;
    this.runner = new VcpuRunner(kvm, this.emulator, this.shadow, this.exitTimes, this.mmioTimes);

    const era = eraOf(kernel);
    if (era.locklessWalk === null && !o.skip_lockless_waits) refuseLocklessWaits(sc, kernel);
    const vmaPages = (sc.guest.os?.vmas ?? []).reduce((n, v) => n + v.size / 4096, 0);
    const compiler = new Compiler(o.skip_lockless_waits ? new Set<string>(LOCKLESS_POINTS) : undefined, vmaPages);
    try {
      this.programs = sc.vcpus.map((v) => compiler.compile(v.workload));
      // Only a guest kernel on several CPUs sends IPIs: other scenarios keep their code pages as they were.
      this.apicSlot = sc.guest.os && n > 1 ? compiler.apicSlots() : -1;
    } catch (e) {
      if (e instanceof OverBudgetError) throw new GuestSetupError(e.message, e.line, e.col);
      throw e;
    }
    this.loopStride = Math.max(1, ...this.programs.map((p) => p.maxDepth));
    this.labels = compiler.labels;
    this.labelCount = new Float64Array(this.labels.length);
    this.labelCycles = new Float64Array(this.labels.length);
    let lineEnd = 1;
    for (const p of this.programs) for (const line of p.lines) lineEnd = Math.max(lineEnd, line + 1);
    this.lineCount = new Float64Array(lineEnd);
    this.lineCycles = new Float64Array(lineEnd);
    kvm.lineFaults = new Float64Array(lineEnd * FAULT_CLASSES.length);
    kvm.cp.setLines(lineEnd);
    this.guest = buildGuest(sc, new GuestRam(kvm.memslots, kvm.host), compiler.codePages);
    this.writeCode(compiler.codeSlots);
    this.linux = sc.guest.os ? new LinuxGuest(sc.guest.os, this.guest.ram, sc.guest.cpu.efer_nx, this.guest.cr3s.length, n, 0) : null;
    this.osPort = new OsPort(this);
    const c = sc.guest.cpu;
    for (const v of kvm.vcpus) {
      v.cr3s = this.guest.cr3s;
      v.cr3 = this.guest.cr3s[0]!;
      if (c.cr0_wp) v.cr0 |= X86_CR0_WP;
      if (c.efer_nx) v.efer |= EFER_NX;
      if (c.cr4_smep && o.cr4_smep !== false) v.cr4 |= X86_CR4_SMEP;
      if (c.cr4_smap && o.cr4_smap !== false) v.cr4 |= X86_CR4_SMAP;
      if (c.cr4_pke && o.cr4_pke !== false) v.cr4 |= X86_CR4_PKE;
      v.pkru = c.pkru >>> 0;
      v.ac = c.eflags_ac;
      v.cpl = v.defaultCpl = c.cpl;
    }
    this.bootedGuest();
    this.pc = new Int32Array(n);
    this.depth = new Int32Array(n);
    this.loopLeft = new Float64Array(n * this.loopStride);
    this.iterStart = new Float64Array(n * this.loopStride);
    this.done = new Uint8Array(n);
    this.kvm.finished = this.done;
    this.waiting = new Uint8Array(n);
    this.sliceSeq = new Int32Array(n).fill(-1);
    this.touchPage = new Int32Array(n);
    this.accessLog = opts.accesses ? new AccessLog() : null;
    this.stopAfterStep = opts.stopAfterStep ?? Infinity;
    this.scheduler = new Scheduler(this, sc.scheduler.seed, sc.scheduler.preempt);
    if (n > 1) kvm.races = this.scheduler;
    for (let i = 0; i < n; i++) this.armWait(i);
  }

  /** Assemble each access's MOV into its slot of the code pages. */
  private writeCode(slots: Uint8Array): void {
    this.codeVpn = this.guest.codeVpn;
    const buf = new Uint8Array(4);
    slots.forEach((s, i) => {
      const len = encodeMov(buf, 0, (s & CODE_SLOT_WRITE) !== 0, s & ~CODE_SLOT_WRITE);
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
    if (this.shadow) {
      // Shadow paging: only the roots; what the workload touches it shadows itself.
      for (const v of kvm.vcpus) shadowMmuLoad(kvm, this.shadow, v);
    } else {
      const vcpu = kvm.vcpus[0]!;
      mmuLoad(kvm, vcpu);
      for (const gpa of [...this.guest.tablePages, ...this.guest.codeGpas]) tdpPageFault(kvm, vcpu, gpa, 0);
      for (const v of kvm.vcpus) mmuLoad(kvm, v);
    }
    kvm.resetCounters();
  }

  /** The last step run (-1 before the first). */
  get stepsRun(): number {
    return this.stepSeq - 1;
  }

  /** Run every vCPU to the end of its workload (or to the step asked for). */
  run(): void {
    const n = this.programs.length;
    for (;;) {
      if (this.stepSeq > this.stopAfterStep) return;
      let progressed = false;
      let live = false;
      for (let i = 0; i < n; i++) {
        if (this.done[i]) continue;
        live = true;
        if (this.waiting[i] || this.scheduler.onStack(i)) continue;
        // A run of TLB hits ends where step() takes over, in the next round (the stop is checked there).
        if (this.kvm.fastPaths && this.hitRun(i) > 0) progressed = true;
        else if (this.step(i)) progressed = true;
      }
      if (!live) return;
      if (!progressed) {
        const stuck = [...this.waiting].map((w, i) => (w ? i : -1)).filter((i) => i >= 0);
        const owner = this.kvm.memslotUpdate.owner;
        const asleep = this.programs.map((_, i) => i).filter((i) => !this.done[i] && !this.waiting[i]);
        const lock = asleep.length > 0 ? `; vCPUs ${asleep.join(', ')} sleep on kvm->slots_lock, which vCPU ${owner} holds` : '';
        this.kvm.warnings.push(`vCPUs ${stuck.join(', ')} wait for race points no other vCPU reaches${lock}: stopped`);
        return;
      }
    }
  }

  /**
   * Execute vCPU `i` until one workload step completes (loop bookkeeping is free), or, for a memslot
   * update, until its next slice ends (kvm/memslot_update.ts). Returns false when nothing happened
   * (the update is still asleep).
   */
  step(i: number): boolean {
    const prog = this.programs[i]!;
    const vcpu = this.kvm.vcpus[i]!;
    let progress = true;
    let synced = -1; // the step number of an update whose synchronize just returned
    this.scheduler.enter(i);
    for (;;) {
      const pc = this.pc[i]!;
      if (pc >= prog.length || vcpu.halted) {
        this.done[i] = 1;
        break;
      }
      const op = prog.ops[pc]!;
      vcpu.line = prog.lines[pc]!;
      if (op === OP_LOOP || op === OP_END) {
        this.loopOp(i, vcpu, prog, pc, op);
        continue;
      }
      this.pc[i] = pc + 1;
      const outer = this.kvm.trace.step; // a step run at another vCPU's race point nests
      const seq = this.sliceSeq[i]! >= 0 ? this.sliceSeq[i]! : this.stepSeq++; // slices keep their step's number
      this.kvm.trace.step = seq;
      const start = vcpu.clock;
      // An IPI another vCPU's ICR write left in IRR (kvm/x86/lapic.ts): kvm_vcpu_kick found this vCPU in
      // guest mode, so its reschedule IPI exits it before this step's first instruction (a guest
      // kernel's TLB shootdown has the target take it at once instead: takeIpi).
      if (vcpu.irr >= 0 && this.sliceSeq[i]! < 0) this.runner.interrupt(vcpu, vcpu.irr, false, -1);
      const r = op === OP_MEMSLOT_ADD || op === OP_MEMSLOT_DELETE ? this.memslot(vcpu, prog, pc, op) : MEMSLOT_DONE;
      if (r === MEMSLOT_DONE) {
        if (op !== OP_MEMSLOT_ADD && op !== OP_MEMSLOT_DELETE) this.execute(vcpu, prog, pc, op);
        this.lineCount[vcpu.line]!++;
        this.sliceSeq[i] = -1;
      } else {
        this.pc[i] = pc; // the update goes on at its next slice
        this.sliceSeq[i] = seq;
        progress = r !== MEMSLOT_STILL_WAITING;
        if (r === MEMSLOT_SYNCED) synced = seq;
      }
      this.lineCycles[vcpu.line]! += vcpu.clock - start;
      this.kvm.trace.step = outer;
      break;
    }
    this.armWait(i);
    this.scheduler.leave(i);
    // The updater stands between its phases, off the stack: the point is offered now.
    if (synced >= 0) {
      const outer = this.kvm.trace.step;
      this.kvm.trace.step = synced;
      this.kvm.races.point(vcpu, RACE_SRCU_SYNCHRONIZED, 0);
      this.kvm.trace.step = outer;
    }
    return progress;
  }

  /** LOOP (push a counter) or END (count the label's iteration; back to the body or pop). */
  private loopOp(i: number, vcpu: Vcpu, prog: Program, pc: number, op: number): void {
    if (op === OP_LOOP) {
      const d = this.depth[i]!++;
      this.loopLeft[i * this.loopStride + d] = prog.arg(pc, 0);
      this.iterStart[i * this.loopStride + d] = vcpu.clock;
      this.pc[i] = pc + 1;
      return;
    }
    const d = this.depth[i]! - 1;
    const loopPc = prog.arg(pc, 0);
    const label = prog.arg(loopPc, 1);
    const slot = i * this.loopStride + d;
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
  }

  /**
   * The compiled loop for accesses that hit the TLB (a fast path: kvm.fastPaths). While vCPU `i` runs
   * alone (every other vCPU has finished, so no other step can come between) and its next reads and
   * writes hit the TLB entry its last access hit (VcpuRunner.hitEntry), run them here, with the loop
   * bookkeeping between them: each step with exactly step()'s effects, but no dispatch, no TLB lookup
   * and its counters added once at the end; no scheduler bookkeeping (a hit reaches no race point) and
   * no trace step number (a hit emits no event). Stops before anything else: another operation or
   * page, an access the entry does not grant, the step the run stops after, a wait. Returns the steps
   * run.
   */
  private hitRun(i: number): number {
    const vcpu = this.kvm.vcpus[i]!;
    const runner = this.runner;
    const entry = runner.hitEntry(vcpu);
    // An access with a pending `raise` must exit to take it: the slow path, then OP_RAISE_END's check;
    // an IPI waiting in IRR is taken first (step()).
    if (entry < 0 || vcpu.halted || vcpu.raiseOnExit >= 0 || vcpu.irr >= 0) return 0;
    const tlb = vcpu.tlb;
    const page = tlb.lastPage;
    const prog = this.programs[i]!;
    const { ops, args, lines } = prog;
    // The common refusal first (an access of another page next), before any preparation.
    const next = this.pc[i]!;
    if (next < prog.length && (ops[next] === OP_READ || ops[next] === OP_WRITE) && args[next * ARG_WIDTH]! !== page) return 0;
    for (let j = 0; j < this.done.length; j++) if (j !== i && this.done[j] === 0) return 0;
    const frame = tlb.hitFrame;
    const cpu = runner.cpu;
    const grants = cpu.hitGrants(vcpu, this.shadow !== null, tlb, entry);
    const cycles = runner.hitCycles;
    const node = vcpu.path.at2(F.guest, F.guest_memory);
    const acct = this.kvm.acct;
    const host = this.kvm.host; // the CPU's memory: Cpu.transfer's reads and writes, done here
    let readLo = cpu.lo;
    let readHi = cpu.hi;
    let readOffset = 0;
    let readSize = 0; // a read not done yet (0: none)
    const log = this.accessLog;
    let componentCycles = acct.byComponent[C.guest_memory]!;
    let totalCycles = acct.total;
    const base = i * this.loopStride;
    let n = 0;
    let last = -1; // the pc of the last access run
    // The program counter and step number in locals, written back at the end.
    let pc = this.pc[i]!;
    let seq = this.stepSeq;
    const stop = this.stopAfterStep;
    let numbered = 0; // accesses numbered (accessSeq) without the log
    const len = prog.length;
    const { depth, loopLeft, iterStart, labelCount, labelCycles, lineCount, lineCycles } = this;
    for (;;) {
      if (seq > stop) break;
      if (pc >= len) break;
      const op = ops[pc]!;
      const line = lines[pc]!;
      vcpu.line = line;
      const a = pc * ARG_WIDTH;
      if (op === OP_END) {
        // loopOp's END, with the operands as the small integers they are.
        const d = depth[i]! - 1;
        const loopPc = args[a]! | 0;
        const label = args[loopPc * ARG_WIDTH + 1]! | 0;
        const slot = base + d;
        if (label >= 0) {
          labelCount[label]!++;
          labelCycles[label]! += vcpu.clock - iterStart[slot]!;
          iterStart[slot] = vcpu.clock;
        }
        if (--loopLeft[slot]! > 0) pc = loopPc + 1;
        else {
          depth[i] = d;
          pc++;
        }
        continue;
      }
      if (op === OP_LOOP) {
        this.pc[i] = pc;
        this.loopOp(i, vcpu, prog, pc, op);
        pc = this.pc[i]!;
        continue;
      }
      if (op !== OP_READ && op !== OP_WRITE) break;
      const c = args[a + 6]!;
      const cpl = c < 0 ? vcpu.defaultCpl : (c as 0 | 3);
      const write = op === OP_WRITE;
      if (args[a]! !== page || ((grants >> ((write ? 2 : 0) | (cpl === 3 ? 1 : 0))) & 1) === 0) break;
      const offset = args[a + 1]!;
      const lo = args[a + 3]!;
      const hi = args[a + 4]!;
      const start = vcpu.clock;
      if (write) {
        if (readSize > 0) {
          host.read(frame, readOffset, readSize);
          readLo = host.lo;
          readHi = host.hi;
          readSize = 0;
        }
        host.write(frame, offset, args[a + 2]!, lo, hi);
      } else if (log === null) {
        // Nothing shows this read's bytes but the last read's, nor can a read change them: read
        // when a write comes, or at the end.
        readOffset = offset;
        readSize = args[a + 2]!;
      } else {
        host.read(frame, offset, args[a + 2]!);
        readLo = host.lo;
        readHi = host.hi;
      }
      // acct.chargeAt, its two sums kept in locals (the same additions in the same order).
      vcpu.path.leaf(node, cycles);
      vcpu.clock += cycles;
      componentCycles += cycles;
      totalCycles += cycles;
      seq++;
      vcpu.cpl = cpl;
      if (log === null) numbered++;
      else this.log(vcpu, write ? 1 : 0, page, offset, INSN_DONE, write ? lo : readLo, write ? hi : readHi);
      lineCount[line]!++;
      lineCycles[line]! += vcpu.clock - start;
      n++;
      last = pc;
      pc++;
      if (pc < len && ops[pc] === OP_WAIT_FOR) {
        this.pc[i] = pc;
        this.armWait(i);
        pc = this.pc[i]!;
        if (this.waiting[i]) break;
      }
    }
    this.pc[i] = pc;
    this.stepSeq = seq;
    this.accessSeq += numbered;
    if (n > 0) {
      if (readSize > 0) {
        host.read(frame, readOffset, readSize);
        readLo = host.lo;
        readHi = host.hi;
      }
      acct.byComponent[C.guest_memory] = componentCycles;
      acct.total = totalCycles;
      cpu.lo = readLo; // as Cpu.transfer leaves them: the last read's bytes
      cpu.hi = readHi;
      runner.hitsDone(vcpu, entry, n);
      // The registers as access() leaves them after the last.
      const slot = prog.arg(last, 5);
      vcpu.rdiVpn = page;
      vcpu.rdiOffset = prog.arg(last, 1);
      vcpu.raxLo = prog.arg(last, 3);
      vcpu.raxHi = prog.arg(last, 4);
      vcpu.ripVpn = (vcpu.cpl === 3 ? this.guest.userCodeVpn : this.codeVpn) + Math.floor(slot / SLOTS_PER_PAGE);
      vcpu.ripOffset = (slot % SLOTS_PER_PAGE) * INSN_SLOT_BYTES;
    }
    return n;
  }

  /** The next slice of a memslot step (KVM_SET_USER_MEMORY_REGION). After the update's first
   *  synchronize, `resume_at` makes its remaining slices wait for that race point. */
  private memslot(vcpu: Vcpu, prog: Program, pc: number, op: number): number {
    const u = this.kvm.memslotUpdate;
    const del = op === OP_MEMSLOT_DELETE;
    const id = prog.arg(pc, 0);
    let gpa = prog.arg(pc, 1);
    if (del && gpa < 0) gpa = (this.kvm.memslots.slots[id]?.baseGfn ?? 0) * 4096; // QEMU passes the slot's own GPA
    vcpu.path.enter(F.__kvm_set_memory_region); // KVM_SET_USER_MEMORY_REGION -> kvm_set_memory_region
    const r = u.run(this.kvm, vcpu, id, gpa, del ? 0 : prog.arg(pc, 2), !del && prog.arg(pc, 3) === 1);
    vcpu.path.leave();
    const resume = prog.arg(pc, 4);
    if (r === MEMSLOT_SYNCED && u.syncs === 1 && resume >= 0) {
      this.waiting[vcpu.id] = 1;
      this.scheduler.waitFor(vcpu.id, resume, prog.arg(pc, 5), prog.arg(pc, 6));
    }
    return r;
  }

  /** Is vCPU `i` asleep in a memslot update (kvm->slots_lock, or synchronize_srcu_expedited with a
   *  reader still inside)? */
  blocked(i: number): boolean {
    const op = this.nextOp(i);
    return (op === OP_MEMSLOT_ADD || op === OP_MEMSLOT_DELETE) && this.kvm.memslotUpdate.blocked(this.kvm, i);
  }

  /** vCPU `i`'s next operation other than loop bookkeeping, found without running it (-1: none left). */
  private nextOp(i: number): number {
    const prog = this.programs[i]!;
    let pc = this.pc[i]!;
    let d = this.depth[i]!;
    for (;;) {
      if (pc >= prog.length) return -1;
      const op = prog.ops[pc]!;
      if (op === OP_LOOP) {
        pc++; // a repeat's count and body are never empty
        d++;
      } else if (op === OP_END) {
        if (this.loopLeft[i * this.loopStride + d - 1]! > 1) pc = prog.arg(pc, 0) + 1;
        else {
          pc++;
          d--;
        }
      } else return op;
    }
  }

  /**
   * May vCPU `i` not run its next step at a race point now? When it holds a TLB-shootdown IPI whose
   * sender stands on the stack (its exit would take the IPI before the sender asks for the answer), and
   * when a guest OS step stands on the stack and `i`'s next step is one too: that step may hold the guest
   * kernel's own locks (mmap_sem, page_table_lock, the PTE lock), on which Linux would make the other
   * spin or sleep until it leaves, which a step run whole at the race point cannot do.
   */
  heldBack(i: number): boolean {
    const v = this.kvm.vcpus[i]!;
    if (v.irr >= 0 && v.ipiFrom >= 0 && this.scheduler.onStack(v.ipiFrom)) return true;
    return this.osDepth > 0 && isOsOp(this.nextOp(i));
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
        this.access(vcpu, op === OP_WRITE, prog.arg(pc, 0), prog.arg(pc, 1), prog.arg(pc, 2), prog.arg(pc, 3), prog.arg(pc, 4), prog.arg(pc, 5), prog.arg(pc, 6));
        return;
      case OP_FETCH:
        this.fetch(vcpu, prog.arg(pc, 0), prog.arg(pc, 1), prog.arg(pc, 6));
        return;
      case OP_PTE:
        this.pteWrite(vcpu, prog, pc);
        return;
      case OP_INVLPG:
        this.runner.invlpg(vcpu, prog.arg(pc, 0));
        return;
      case OP_CR3:
        this.runner.loadCr3(vcpu, this.guest.cr3s[prog.arg(pc, 0)]!);
        return;
      case OP_COMPUTE:
        kvm.acct.chargeAt(vcpu, C.guest_compute, prog.arg(pc, 0), vcpu.path.at(F.guest));
        noteGuestCompute(vcpu, prog.arg(pc, 0));
        return;
      case OP_TOUCH:
      case OP_FORK:
      case OP_MUNMAP:
      case OP_EXIT:
      case OP_EXEC:
      case OP_SWITCH_MM:
      case OP_VFORK:
        this.osStep(vcpu, prog, pc, op);
        return;
      case OP_SET_CACHING: {
        const on = prog.arg(pc, 0) === 1;
        // Turning caching off zaps every shadow page, so no MMIO SPTE outlives the switch.
        if (kvm.mmioCaching && !on && kvm.fmt.hasMmioSpte) kvmMmuZapAll(kvm, vcpu);
        kvm.mmioCaching = on;
        return;
      }
      case OP_INTERRUPT: // kvm/x86/irq.ts
        this.runner.interrupt(vcpu, prog.arg(pc, 0), prog.arg(pc, 1) === IRQ_TIMER, prog.arg(pc, 2));
        return;
      case OP_RAISE: // the next access's exit raises this vector (vcpu_run.ts exit)
        vcpu.raiseOnExit = prog.arg(pc, 0);
        return;
      case OP_RAISE_END: // no exit took it
        if (vcpu.raiseOnExit >= 0) {
          vcpu.raiseOnExit = -1;
          kvm.warn(vcpu, '`raise`: no exit emulated the access as MMIO, so no device emulation ran to raise the interrupt');
        }
        return;
      case OP_HLT:
        this.runner.halt(vcpu, prog.arg(pc, 0), prog.arg(pc, 1) === IRQ_TIMER, prog.arg(pc, 2));
        return;
      case OP_WAIT_FOR: // reached only inside a loop body; armWait handles it otherwise
        this.waiting[vcpu.id] = 1;
        this.scheduler.waitFor(vcpu.id, prog.arg(pc, 0), prog.arg(pc, 1), prog.arg(pc, 2));
        return;
    }
  }

  /** A guest OS step: the guest kernel's work for it (guest/linux.ts), run on this vCPU. A step run at
   *  a race point inside another vCPU's OS step gives the port back as it found it. */
  private osStep(vcpu: Vcpu, prog: Program, pc: number, op: number): void {
    const linux = this.linux!; // the parser refuses OS steps without guest.os
    const port = this.osPort;
    const outerVcpu = port.vcpu;
    const outerSlot = port.slot;
    this.osDepth++;
    port.vcpu = vcpu;
    port.slot = prog.arg(pc, 5);
    const a = prog.arg(pc, 0);
    if (op === OP_TOUCH) this.touch(vcpu, prog, pc);
    else if (op === OP_FORK) linux.fork(port, a);
    else if (op === OP_VFORK) linux.vfork(port, a);
    else if (op === OP_MUNMAP) linux.munmap(port, a, prog.arg(pc, 1));
    else if (op === OP_EXIT) linux.exit(port, a);
    else if (op === OP_EXEC) linux.exec(port, a);
    else linux.switchMm(port, a);
    this.osDepth--;
    port.vcpu = outerVcpu;
    port.slot = outerSlot;
  }

  /** The guest kernel's 4-byte MOV to or from its local APIC's register `reg`, through its mapping of
   *  APIC_DEFAULT_PHYS_BASE in `space` (the fixmap), from the kernel's one APIC store or load slot. */
  apicAccess(vcpu: Vcpu, write: boolean, reg: number, value: number, space: number): number {
    if (!this.inKernelApic) return NO_LOCAL_APIC;
    const alias = this.directMap(APIC_DEFAULT_PHYS_BASE + reg, space);
    return alias === null ? NO_MAPPING : this.access(vcpu, write, alias.vpn, alias.offset, 4, value >>> 0, 0, this.apicSlot + (write ? 0 : 1), 0);
  }

  /**
   * vCPU `t` takes the IPI KVM left in its IRR (kvm/x86/lapic.ts), while `from` spins for its answer.
   * Between its steps a vCPU is in guest mode, so kvm_vcpu_kick's reschedule IPI is an EXTERNAL_INTERRUPT
   * exit and the entry after it injects the vector (VcpuRunner.interrupt). Null, or why it cannot now.
   */
  takeIpi(from: Vcpu, t: number): string | null {
    const target = this.kvm.vcpus[t]!;
    if (target.irr < 0) return `vCPU ${from.id}'s TLB-shootdown IPI to vCPU ${t} was not delivered (no local APIC matched the destination): Linux would spin in flush_tlb_others_ipi for ever: the step stops`;
    if (target.halted) return `vCPU ${from.id}'s TLB-shootdown IPI to vCPU ${t}: vCPU ${t} has stopped and never answers (Linux would spin in flush_tlb_others_ipi for ever): the step stops`;
    if (this.scheduler.onStack(t) || this.blocked(t) || this.sliceSeq[t]! >= 0) return `vCPU ${from.id}'s TLB-shootdown IPI to vCPU ${t}: vCPU ${t} is inside KVM beneath this step (the scheduler ran this step at its race point, or it sleeps in a memslot update) and would take it only after this step; the scheduler runs such a step whole, so the wait is not modelled: the step stops`;
    this.scheduler.enter(t);
    this.runner.interrupt(target, target.irr, false, -1);
    return null;
  }

  ipiTaken(t: number): void {
    this.scheduler.leave(t);
  }

  spin(vcpu: Vcpu, cycles: number): void {
    this.kvm.acct.chargeAt(vcpu, C.guest_compute, cycles, vcpu.path.at(F.guest));
  }

  /** `touch`: one page of its range per step. The vCPU stays on the step (pc back on it) while pages
   *  remain and the page just touched ended cleanly: a warning or a stop ends the range there. */
  private touch(vcpu: Vcpu, prog: Program, pc: number): void {
    const i = vcpu.id;
    const page = this.touchPage[i]!;
    const clean = this.linux!.touch(this.osPort, prog.arg(pc, 2) === 1, prog.arg(pc, 0) + page, prog.arg(pc, 1), prog.arg(pc, 3), prog.arg(pc, 4));
    if (clean && !vcpu.halted && page + 1 < prog.arg(pc, 6)) {
      this.touchPage[i] = page + 1;
      this.pc[i] = pc;
    } else this.touchPage[i] = 0;
  }

  /** One guest MOV to or from [rdi]: RDI, RAX and RIP are set as the instruction would have them. */
  access(vcpu: Vcpu, write: boolean, vpn: number, offset: number, size: number, lo: number, hi: number, slot: number, cpl: number): number {
    vcpu.rdiVpn = vpn;
    vcpu.rdiOffset = offset;
    vcpu.raxLo = lo;
    vcpu.raxHi = hi;
    vcpu.cpl = cpl < 0 ? vcpu.defaultCpl : (cpl as 0 | 3);
    vcpu.ripVpn = (vcpu.cpl === 3 ? this.guest.userCodeVpn : this.codeVpn) + Math.floor(slot / SLOTS_PER_PAGE);
    vcpu.ripOffset = (slot % SLOTS_PER_PAGE) * INSN_SLOT_BYTES;
    const r = this.runner.access(vcpu, vpn, offset, size, accessPfec(write, false, vcpu.cpl), lo, hi);
    this.log(vcpu, write ? 1 : 0, vpn, offset, r, write ? lo : this.runner.lo, write ? hi : this.runner.hi);
    return r;
  }

  /** A jump to (vpn, offset): the CPU fetches the instruction there. */
  private fetch(vcpu: Vcpu, vpn: number, offset: number, cpl: number): void {
    vcpu.ripVpn = vpn;
    vcpu.ripOffset = offset;
    vcpu.cpl = cpl < 0 ? vcpu.defaultCpl : (cpl as 0 | 3);
    const r = this.runner.access(vcpu, vpn, offset, 1, accessPfec(false, true, vcpu.cpl), 0, 0);
    this.log(vcpu, 2, vpn, offset, r, 0, 0);
  }

  /**
   * The guest kernel rewrites one of its paging entries: an 8-byte MOV to the entry, through a
   * mapping of the page-table page (its direct map), at CPL 0. Under shadow paging the page is
   * write-protected, so the store faults and KVM emulates it (wp-emulate).
   */
  private pteWrite(vcpu: Vcpu, prog: Program, pc: number): void {
    const vpn = prog.arg(pc, 0);
    const level = prog.arg(pc, 1);
    const space = prog.arg(pc, 6);
    const ram = this.guest.ram;
    const entryGpa = entryAddress(ram, this.guest.cr3s[space]!, vpn, level);
    if (entryGpa < 0) {
      this.kvm.warn(vcpu, `pte: the guest has no level-${level} entry on the path of that address (an upper level is not present)`);
      return;
    }
    const old = ram.read64(entryGpa);
    const newGpa = prog.arg(pc, 4);
    const frame = newGpa >= 0 ? newGpa / 4096 : frameOf(old.lo, old.hi);
    const lo = (prog.arg(pc, 2) | frameLo(frame)) >>> 0;
    const hi = (prog.arg(pc, 3) | frameHi(frame)) >>> 0;
    if (this.kernelAccess(vcpu, true, entryGpa, lo, hi, prog.arg(pc, 5), space) === NO_MAPPING) {
      this.kvm.warn(vcpu, `pte: no mapping of the page table at gpa 0x${entryGpa.toString(16)} (map guest RAM, as a kernel's direct map does)`);
    }
  }

  /** The guest kernel's 8-byte MOV to or from guest-physical `gpa` through a mapping of it in address
   *  space `space` (its direct map), at CPL 0, by the instruction in `slot`: an INSN_* result, or
   *  NO_MAPPING when no mapping reaches `gpa` (nothing runs then). */
  kernelAccess(vcpu: Vcpu, write: boolean, gpa: number, lo: number, hi: number, slot: number, space: number): number {
    const alias = this.directMap(gpa, space);
    return alias === null ? NO_MAPPING : this.access(vcpu, write, alias.vpn, alias.offset, 8, lo, hi, slot, 0);
  }

  /** A guest-virtual address of guest-physical `gpa` in address space `space` (shared mappings count). */
  private directMap(gpa: number, space: number): { vpn: number; offset: number } | null {
    for (const m of this.sc.guest.mappings) {
      if ((m.space ?? space) !== space || gpa < m.gpa || gpa >= m.gpa + m.size) continue;
      const rel = gpa - m.gpa;
      return { vpn: m.gva.vpn + Math.floor(rel / 4096), offset: rel % 4096 };
    }
    return null;
  }

  /** Record an access (--accesses): op 0 read, 1 write, 2 fetch. */
  private log(vcpu: Vcpu, op: number, vpn: number, offset: number, result: number, lo: number, hi: number): void {
    const seq = this.accessSeq++;
    if (!this.accessLog || result === INSN_STOPPED) return;
    const fault = result === INSN_GUEST_FAULT;
    this.accessLog.add(seq, vcpu.id, op, vpn, offset, vcpu.cpl, fault, fault ? this.runner.errorCode : 0, fault ? 0 : lo, fault ? 0 : hi, vcpu.line);
  }
}

/**
 * `memslot_count` (a compare variant's `memslots: N`): fill free slot ids, lowest first, with 4K RAM
 * slots from 4G up, clear of the scenario's memory, until N user slots exist. Returns the count.
 */
function addFillerSlots(kvm: Kvm, sc: Scenario, count: number, maxphyaddr: number): number {
  let have = sc.memslots.length;
  let gpa = FILLER_BASE;
  const later = new Set<number>(); // ids the workload's `memslot: add` steps use
  const collect = (steps: Step[]): void => {
    for (const st of steps) {
      if (st.kind === 'memslot-add') later.add(st.slot);
      else if (st.kind === 'repeat') collect(st.steps);
    }
  };
  for (const v of sc.vcpus) collect(v.workload);
  // The scenario's RAM and devices; a filler page that would overlap one goes past its end at once
  // (never a walk through it in steps: a slot of 0xeffff00000000 bytes is one jump).
  const regions = [...sc.memslots, ...sc.devices].map((r) => [r.gpa, r.gpa + r.size] as const);
  const limit = 2 ** maxphyaddr;
  for (let id = 0; id < 32 && have < count; id++) {
    if (kvm.memslots.slots[id] || later.has(id)) continue;
    const overlapping = () => regions.find(([lo, hi]) => gpa < hi && lo < gpa + 4096);
    for (let r = overlapping(); r; r = overlapping()) gpa = Math.ceil(r[1] / FILLER_STRIDE) * FILLER_STRIDE;
    if (gpa + 4096 > limit) {
      const at = sc.memslots[0]?.pos ?? { line: 1, col: 1 };
      throw new GuestSetupError(`memslots: ${count}: no room for filler slot ${id} below MAXPHYADDR (${maxphyaddr} bits, 0x${limit.toString(16)}): the scenario's memory and devices leave none above 4G`, at.line, at.col);
    }
    kvm.memslots.install(new Memslot(id, gpa / 4096, 1));
    gpa += FILLER_STRIDE;
    have++;
  }
  return have;
}

/** Filler slots: one page each, from 4G up, 2M apart (as a VMM's extra regions would sit). */
const FILLER_BASE = 0x100000000;
const FILLER_STRIDE = 0x200000;

/**
 * VMX's private memslots (vmx.c and asm/vmx.h, 3.0.1 and 3.1.10): the real-mode TSS, slot 32
 * (TSS_PRIVATE_MEMSLOT), three pages, created by vmx_set_tss_addr when the VMM calls KVM_SET_TSS_ADDR
 * (every VMX VM; qemu-kvm of the time put it at 0xfffbd000), and with EPT the identity page table,
 * slot 34 (IDENTITY_PAGETABLE_PRIVATE_MEMSLOT), one page at VMX_EPT_IDENTITY_PAGETABLE_ADDR 0xfffbc000,
 * created by vmx_create_vcpu `if (enable_ept)`. The APIC-access page, slot 33, needs
 * vm_need_virtualize_apic_accesses() (flexpriority and an in-kernel irqchip): not modelled (flexpriority
 * off, docs/decisions.md). So nmemslots is 35 under EPT and 33 under shadow paging.
 */
function addVmxPrivateSlots(kvm: Kvm, sc: Scenario): void {
  const taken = (gpa: number, size: number) =>
    sc.memslots.some((m) => gpa < m.gpa + m.size && m.gpa < gpa + size) || sc.devices.some((d) => gpa < d.gpa + d.size && d.gpa < gpa + size);
  const add = (id: number, gpa: number, pages: number) => {
    if (taken(gpa, pages * 4096)) kvm.warnings.push(`private memslot ${id} at 0x${gpa.toString(16)} overlaps the scenario's memory: not created`);
    else kvm.memslots.install(new Memslot(id, gpa / 4096, pages));
  };
  add(TSS_PRIVATE_MEMSLOT, 0xfffbd000, 3); // RMODE_TSS_SIZE spans 3 pages: `.memory_size = PAGE_SIZE * 3`
  if (kvm.tdp) add(IDENTITY_PAGETABLE_PRIVATE_MEMSLOT, 0xfffbc000, 1); // `.memory_size = PAGE_SIZE`
}

/** The profile with the scenario's host.costs; the profile object itself when there are none. */
function withCosts(profile: CostProfile, costs: CostOverrides): CostProfile {
  return Object.keys(costs).length === 0 ? profile : { ...profile, ...costs };
}

/** The guest OS steps' operations (program.ts OP_TOUCH .. OP_VFORK). */
function isOsOp(op: number): boolean {
  return op === OP_TOUCH || op === OP_FORK || op === OP_VFORK || op === OP_MUNMAP || op === OP_EXIT || op === OP_EXEC || op === OP_SWITCH_MM;
}
