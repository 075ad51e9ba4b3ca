// A vCPU's workload compiled into a flat program of numbered operations with typed-array operands,
// so that running a million steps allocates nothing. `repeat` becomes LOOP/END pairs with a counter
// stack per vCPU; each memory access gets its own instruction slot in the guest's code pages (16
// bytes apart), so the emulator fetches a real instruction and every trace event maps to a line.

import type { IrqDecl, Step, WaitPoint } from '../scenario/types';
import { RACE_POINTS } from '../scenario/types';
import { addWork } from './work_budget';

export const OP_READ = 0;
export const OP_WRITE = 1;
export const OP_COMPUTE = 2;
export const OP_LOOP = 3; // a: count, b: label id (-1 none), c: pc of the matching END
export const OP_END = 4; // a: pc of the matching LOOP
export const OP_MEMSLOT_ADD = 5; // a: slot, b: gpa, c: size, d: readonly, e-g: resume_at (vcpu -1: none, point, level)
export const OP_MEMSLOT_DELETE = 6; // a: slot, b: gpa (-1: the slot's own), e-g: resume_at
export const OP_SET_CACHING = 7; // a: 0/1
export const OP_WAIT_FOR = 8; // a: vcpu, b: race point, c: level (0 = any)
export const OP_FETCH = 9; // a: vpn, b: offset, g: cpl
export const OP_PTE = 10; // a: vpn, b: level, c: bits lo, d: bits hi, e: new gpa (-1 keep), f: instruction slot, g: space
export const OP_INVLPG = 11; // a: vpn
export const OP_CR3 = 12; // a: address space
// Guest OS steps (simulator/guest/linux.ts). f: the first of three instruction slots: the user
// access, the kernel's 8-byte store, the kernel's 8-byte load.
export const OP_TOUCH = 13; // a: vpn, b: offset, c: write (0/1), d: value lo, e: value hi, f: slots, g: pages (one step each)
export const OP_FORK = 14; // a: child space, f: slots
export const OP_MUNMAP = 15; // a: vpn, b: pages, f: slots
export const OP_EXIT = 16; // a: space, f: slots
export const OP_EXEC = 17; // a: new space, f: slots
export const OP_SWITCH_MM = 18; // a: space
export const OP_VFORK = 19; // a: space
// Interrupts and idle (numbered apart from the rest, so that other new operations need not move).
export const OP_INTERRUPT = 32; // a: vector, b: source (IRQ_TIMER, IRQ_DEVICE), c: cycles the guest keeps IF = 0 (-1: IF = 1)
export const OP_HLT = 33; // a: vector, b: source, c: wake_after cycles
/** Around a read or write with `raise`: before it, the vector its device's emulation raises during the
 *  exit; after it, the check that an exit took it (kept off every other access). */
export const OP_RAISE = 34; // a: vector
export const OP_RAISE_END = 35;
export const IRQ_TIMER = 0;
export const IRQ_DEVICE = 1;

/** Access operands: a: vpn, b: offset, c: size, d: value lo, e: value hi, f: instruction slot,
 *  g: CPL (-1: the guest's default). */
export const ARG_WIDTH = 7;
export const INSN_SLOT_BYTES = 16;
export const SLOTS_PER_PAGE = 4096 / INSN_SLOT_BYTES;

/** A code slot's MOV, one byte: the access size (1, 2, 4 or 8), plus CODE_SLOT_WRITE for a store. */
export const CODE_SLOT_WRITE = 0x80;

/** Typed arrays that double as they fill: a compiled workload costs bytes per step, not objects or
 *  boxed numbers (a 1 MiB file holds about 100,000 steps). */
class Growing<T extends Uint8Array | Int32Array | Float64Array> {
  length = 0;
  constructor(public data: T, private readonly make: (n: number) => T) {}

  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = this.make(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }

  /** The filled part, in an array of its own size. */
  trimmed(): T {
    return this.data.slice(0, this.length) as T;
  }
}

const bytes = (n: number) => new Uint8Array(n);
const int32s = (n: number) => new Int32Array(n);
const doubles = (n: number) => new Float64Array(n);

export class Program {
  readonly length: number;

  constructor(
    readonly ops: Uint8Array,
    readonly args: Float64Array,
    readonly lines: Int32Array,
    /** The deepest LOOP nesting: the loop-counter stack this program needs, never more at run time. */
    readonly maxDepth: number,
  ) {
    this.length = ops.length;
  }

  arg(pc: number, k: number): number {
    return this.args[pc * ARG_WIDTH + k]!;
  }
}

/** Compiles all vCPUs' workloads; instruction slots are numbered across the whole VM. */
export class Compiler {
  readonly labels: string[] = [];
  private readonly slots = new Growing(bytes(64), bytes);
  /** Microseconds of simulation the workloads compiled so far ask for (run/work_budget.ts). */
  private work = 0;

  /** `skipped`: race points whose waits (wait_for steps, resume_at) are left out. `vmaPages`: the
   *  pages of guest.os's vmas, what fork, exit and exec may walk (run/work_budget.ts). */
  constructor(
    private readonly skipped: ReadonlySet<string> = new Set(),
    private readonly vmaPages = 0,
  ) {}

  compile(steps: Step[]): Program {
    const ops = new Growing(bytes(64), bytes);
    const args = new Growing(doubles(64 * ARG_WIDTH), doubles);
    const lines = new Growing(int32s(64), int32s);
    const emit = (op: number, line: number, a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0): number => {
      ops.push(op);
      args.push(a);
      args.push(b);
      args.push(c);
      args.push(d);
      args.push(e);
      args.push(f);
      args.push(g);
      lines.push(line);
      return ops.length - 1;
    };
    let maxDepth = 0;
    const walk = (list: Step[], depth: number): void => {
      maxDepth = Math.max(maxDepth, depth);
      for (const s of list) {
        const line = s.pos.line;
        switch (s.kind) {
          case 'read':
            if (s.raise !== null) emit(OP_RAISE, line, s.raise);
            emit(OP_READ, line, s.gva.vpn, s.gva.offset, s.size, 0, 0, this.slot(false, s.size), s.cpl ?? -1);
            if (s.raise !== null) emit(OP_RAISE_END, line);
            break;
          case 'write':
            if (s.raise !== null) emit(OP_RAISE, line, s.raise);
            emit(OP_WRITE, line, s.gva.vpn, s.gva.offset, s.size, s.lo, s.hi, this.slot(true, s.size), s.cpl ?? -1);
            if (s.raise !== null) emit(OP_RAISE_END, line);
            break;
          case 'fetch':
            emit(OP_FETCH, line, s.gva.vpn, s.gva.offset, 0, 0, 0, 0, s.cpl ?? -1);
            break;
          case 'pte':
            // The guest kernel's 8-byte MOV store into its page table: an instruction slot of its own.
            emit(OP_PTE, line, s.gva.vpn, s.level, s.bits.lo, s.bits.hi, s.gpa ?? -1, this.slot(true, 8), s.space);
            break;
          case 'invlpg':
            emit(OP_INVLPG, line, s.gva.vpn);
            break;
          case 'cr3':
            emit(OP_CR3, line, s.space);
            break;
          case 'compute':
            emit(OP_COMPUTE, line, s.cycles);
            break;
          case 'touch':
            emit(OP_TOUCH, line, s.gva.vpn, s.gva.offset, s.write ? 1 : 0, s.lo, s.hi, this.osSlots(s.write), s.pages);
            break;
          case 'fork':
            emit(OP_FORK, line, s.child, 0, 0, 0, 0, this.osSlots(false));
            break;
          case 'munmap':
            emit(OP_MUNMAP, line, s.gva.vpn, s.size / 4096, 0, 0, 0, this.osSlots(false));
            break;
          case 'exit':
            emit(OP_EXIT, line, s.space, 0, 0, 0, 0, this.osSlots(false));
            break;
          case 'exec':
            emit(OP_EXEC, line, s.space, 0, 0, 0, 0, this.osSlots(false));
            break;
          case 'switch-mm':
            emit(OP_SWITCH_MM, line, s.space);
            break;
          case 'vfork':
            emit(OP_VFORK, line, s.space);
            break;
          case 'repeat': {
            const label = s.label === null ? -1 : this.labels.push(s.label) - 1;
            const loop = emit(OP_LOOP, line, s.count, label);
            walk(s.steps, depth + 1);
            const end = emit(OP_END, line, loop);
            args.data[loop * ARG_WIDTH + 2] = end;
            break;
          }
          case 'memslot-add':
            emit(OP_MEMSLOT_ADD, line, s.slot, s.gpa, s.size, s.readonly ? 1 : 0, ...resumeAt(this.kept(s.resume_at)));
            break;
          case 'memslot-delete':
            emit(OP_MEMSLOT_DELETE, line, s.slot, s.gpa ?? -1, 0, 0, ...resumeAt(this.kept(s.resume_at)));
            break;
          case 'set':
            emit(OP_SET_CACHING, line, s.mmio_caching ? 1 : 0);
            break;
          case 'wait-for':
            if (!this.skipped.has(s.point)) emit(OP_WAIT_FOR, line, s.vcpu, RACE_POINTS.indexOf(s.point), s.level ?? 0);
            break;
          case 'interrupt':
            emit(OP_INTERRUPT, line, s.vector, s.source === 'timer' ? IRQ_TIMER : IRQ_DEVICE, s.irqs_disabled ?? -1);
            this.handlerWrites(s, line, emit);
            break;
          case 'hlt':
            emit(OP_HLT, line, s.vector, s.source === 'timer' ? IRQ_TIMER : IRQ_DEVICE, s.wake_after);
            this.handlerWrites(s, line, emit);
            break;
        }
      }
    };
    walk(steps, 0);
    this.work = addWork(this.work, steps, this.vmaPages); // (throws OverBudgetError at the step that is too much)
    return new Program(ops.trimmed(), args.trimmed(), lines.trimmed(), maxDepth);
  }

  /** The guest handler's APIC writes after an interrupt step: the EOI (ack_APIC_irq: `apic_write(APIC_EOI,
   *  0)`), then for the timer TMICT (lapic_next_event), each a 4-byte MOV at CPL 0 with its own slot. */
  private handlerWrites(s: IrqDecl, line: number, emit: (op: number, line: number, a?: number, b?: number, c?: number, d?: number, e?: number, f?: number, g?: number) => number): void {
    if (s.eoi) emit(OP_WRITE, line, s.eoi.vpn, s.eoi.offset, 4, 0, 0, this.slot(true, 4), 0);
    if (s.tmict) emit(OP_WRITE, line, s.tmict.gva.vpn, s.tmict.gva.offset, 4, s.tmict.count, 0, this.slot(true, 4), 0);
  }

  private kept(w: WaitPoint | null): WaitPoint | null {
    return w !== null && this.skipped.has(w.point) ? null : w;
  }

  /** A guest OS step's three slots (OP_TOUCH): the user access, the kernel's store, its load. */
  private osSlots(userWrite: boolean): number {
    const first = this.slot(userWrite, 8);
    this.slot(true, 8);
    this.slot(false, 8);
    return first;
  }

  /** The guest kernel's two local-APIC MOVs (native_apic_mem_write, native_apic_mem_read: 4 bytes at
   *  CPL 0), one kernel text every CPU runs: the first slot is the store, the next the load. */
  apicSlots(): number {
    const first = this.slot(true, 4);
    this.slot(false, 4);
    return first;
  }

  private slot(write: boolean, size: number): number {
    this.slots.push(write ? size | CODE_SLOT_WRITE : size);
    return this.slots.length - 1;
  }

  /** Each instruction slot's MOV, in slot order (see CODE_SLOT_WRITE). */
  get codeSlots(): Uint8Array {
    return this.slots.data.subarray(0, this.slots.length);
  }

  get codePages(): number {
    return Math.max(1, Math.ceil(this.slots.length / SLOTS_PER_PAGE));
  }
}

/** A memslot step's `resume_at` as operands e, f, g: vCPU (-1: none), race point, level (0: any). */
function resumeAt(w: WaitPoint | null): [number, number, number] {
  return w === null ? [-1, 0, 0] : [w.vcpu, RACE_POINTS.indexOf(w.point), w.level ?? 0];
}

