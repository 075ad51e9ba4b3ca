// A bounded ring of trace events: the last `capacity` events of the run, whatever its length.
// Emitting writes numbers into preallocated typed arrays; records are built only when reported.

import { ARG_SLOTS, E, EVENT_LIST, KVM_TRACE_MMIO_READ, KVM_TRACE_MMIO_WRITE, type FieldKind } from './events';
import { hex64, hexNum } from '../arch/x86/u64';
import { exitReasonName } from '../arch/x86/vmx';
import type { TraceEventRecord } from '../run/result';
import { CLASS_GUEST_PF_DIRECT, FAULT_CLASSES } from '../kvm/fault_class';

const ARGS = 6;
/** Per event in `nums`: step, cycles. Its sequence number is not stored: records() derives it. */
const NUMS = 2;

/** Who an event is on: the vCPU, whose clock stamps it. */
export interface EventSource {
  readonly id: number;
  readonly clock: number;
}

/** An event as an observer sees it: its raw arguments, as many as the event uses (a 64-bit field
 *  takes two, lo then hi). */
export interface ObservedEvent {
  id: number;
  vcpu: number;
  line: number;
  cycles: number;
  args: number[];
}
export type TraceObserver = (e: ObservedEvent) => void;

export class TraceBuffer {
  private readonly meta: Int32Array; // per event: id, vcpu, line
  private readonly nums: Float64Array; // per event: step, cycles
  /** Per event: its ARGS argument slots, of which it uses ARG_SLOTS[id]. An emitter writes the
   *  next event's arguments at `at` and then calls emit(): a number passed to a call V8 does not
   *  inline is boxed when it is not a small integer (addresses, 64-bit halves), a typed-array
   *  store never is. */
  readonly args: Float64Array;
  /** Where the next event's first argument goes in `args`. */
  at = 0;
  total = 0;
  /** The workload step being executed (numbered across the run, from 0), stamped on each event. */
  step = -1;

  /** The ring's slots: `capacity`, or one scratch slot that every event overwrites when it is 0. */
  private readonly slots: number;
  /** The slot the next event goes to (total % slots, kept as a small integer). */
  private head = 0;
  /** Who watches events as they are emitted (tests); null when nobody does, so emit pays one branch. */
  private observers: TraceObserver[] | null = null;

  constructor(readonly capacity: number) {
    this.slots = Math.max(1, capacity);
    this.meta = new Int32Array(this.slots * 3);
    this.nums = new Float64Array(this.slots * NUMS);
    this.args = new Float64Array(this.slots * ARGS);
  }

  /** Records event `id` of `vcpu` at its clock, on workload line `line`, with the arguments
   *  written at `at`. Its arguments are small integers and an object: nothing to box. */
  emit(id: number, vcpu: EventSource, line: number): void {
    const slot = this.head;
    const next = slot + 1 === this.slots ? 0 : slot + 1;
    this.head = next;
    this.at = next * ARGS;
    this.total++;
    const m = slot * 3;
    const meta = this.meta;
    meta[m] = id;
    meta[m + 1] = vcpu.id;
    meta[m + 2] = line;
    const n = slot * NUMS;
    const nums = this.nums;
    nums[n] = this.step;
    nums[n + 1] = vcpu.clock;
    if (this.observers !== null) this.notify(slot);
  }

  /** Calls `fn` with each event emitted from now on, once it is in the ring; returns what stops it. */
  observe(fn: TraceObserver): () => void {
    this.observers = [...(this.observers ?? []), fn];
    return () => {
      const rest = (this.observers ?? []).filter((o) => o !== fn);
      this.observers = rest.length > 0 ? rest : null;
    };
  }

  private notify(slot: number): void {
    const m = slot * 3;
    const id = this.meta[m]!;
    const a = slot * ARGS;
    const e: ObservedEvent = { id, vcpu: this.meta[m + 1]!, line: this.meta[m + 2]!, cycles: this.nums[slot * NUMS + 1]!, args: Array.from(this.args.subarray(a, a + ARG_SLOTS[id]!)) };
    for (const fn of this.observers!) fn(e);
  }

  reset(): void {
    this.total = 0;
    this.head = 0;
    this.at = 0;
    this.step = -1;
  }

  get dropped(): number {
    return Math.max(0, this.total - this.capacity);
  }

  /** The events in the buffer, oldest first; each event inside a classified exit (kvm_exit to
   *  kvm_entry, same vCPU) carries that exit's fault class. */
  records(): TraceEventRecord[] {
    const out: TraceEventRecord[] = [];
    const exitStart = new Map<number, number>(); // vCPU -> index in `out` of its open kvm_exit
    const count = Math.min(this.total, this.capacity);
    const first = this.total - count;
    for (let k = 0; k < count; k++) {
      const slot = (first + k) % this.capacity;
      const m = slot * 3;
      const n = slot * NUMS;
      const schema = EVENT_LIST[this.meta[m]!]!;
      const fields: Record<string, string | number | boolean> = {};
      let a = slot * ARGS;
      for (const [fname, kind] of schema.fields) a = decodeField(fields, fname, kind, this.args, a);
      const id = this.meta[m]!;
      const vcpu = this.meta[m + 1]!;
      out.push({ seq: first + k, step: this.nums[n]!, vcpu, cycles: this.nums[n + 1]!, name: schema.name, line: this.meta[m + 2]!, fields });
      if (id === E.kvm_exit) exitStart.set(vcpu, out.length - 1);
      else if (id === E.guest_page_fault) out[out.length - 1]!.class = FAULT_CLASSES[CLASS_GUEST_PF_DIRECT];
      else if (id === E.kvm_entry) {
        const cls = this.args[slot * ARGS]!;
        const from = exitStart.get(vcpu);
        exitStart.delete(vcpu);
        if (cls < 0 || from === undefined) continue;
        for (let j = from; j < out.length; j++) if (out[j]!.vcpu === vcpu) out[j]!.class = FAULT_CLASSES[cls];
      }
    }
    return out;
  }
}

function decodeField(out: Record<string, string | number | boolean>, name: string, kind: FieldKind, nums: Float64Array, at: number): number {
  const v = nums[at]!;
  switch (kind) {
    case 'num':
      out[name] = v;
      return at + 1;
    case 'hex':
      out[name] = hexNum(v);
      return at + 1;
    case 'hex64':
      out[name] = hex64(v, nums[at + 1]!);
      return at + 2;
    case 'bool':
      out[name] = v !== 0;
      return at + 1;
    case 'exit':
      out[name] = exitReasonName(v);
      return at + 1;
    case 'mmio_type':
      out[name] = v === KVM_TRACE_MMIO_WRITE ? 'write' : v === KVM_TRACE_MMIO_READ ? 'read' : 'unsatisfied-read';
      return at + 1;
  }
}
