// A bounded ring of trace events: the last `capacity` events of the run, whatever its length.
// Emitting writes numbers into preallocated typed arrays; records are built only when reported.

import { ARG_SLOTS, E, EVENT_LIST, KVM_TRACE_MMIO_READ, KVM_TRACE_MMIO_WRITE, type FieldKind } from './events';
import { hex64, hexNum } from '../arch/x86/u64';
import { exitReasonName } from '../arch/x86/vmx';
import type { TraceEventRecord } from '../run/result';
import { CLASS_GUEST_PF_DIRECT, FAULT_CLASSES } from '../kvm/fault_class';

const ARGS = 6;
const NUMS = 3 + ARGS;

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
  private readonly nums: Float64Array; // per event: seq, step, cycles, args[6]
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
  }

  // Small and branch-free so that V8 inlines it into its callers: a call it does not inline boxes
  // every argument that is not a small integer (cycles, addresses, 64-bit halves) on the heap.
  emit(id: number, vcpu: number, line: number, cycles: number, a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0): void {
    const slot = this.head;
    this.head = slot + 1 === this.slots ? 0 : slot + 1;
    const m = slot * 3;
    const meta = this.meta;
    meta[m] = id;
    meta[m + 1] = vcpu;
    meta[m + 2] = line;
    const n = slot * NUMS;
    const nums = this.nums;
    nums[n] = this.total++;
    nums[n + 1] = this.step;
    nums[n + 2] = cycles;
    nums[n + 3] = a0;
    nums[n + 4] = a1;
    nums[n + 5] = a2;
    nums[n + 6] = a3;
    nums[n + 7] = a4;
    nums[n + 8] = a5;
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
    const n = slot * NUMS;
    const id = this.meta[m]!;
    const e: ObservedEvent = { id, vcpu: this.meta[m + 1]!, line: this.meta[m + 2]!, cycles: this.nums[n + 2]!, args: Array.from(this.nums.subarray(n + 3, n + 3 + ARG_SLOTS[id]!)) };
    for (const fn of this.observers!) fn(e);
  }

  reset(): void {
    this.total = 0;
    this.head = 0;
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
    for (let k = 0; k < count; k++) {
      const slot = (this.total - count + k) % this.capacity;
      const m = slot * 3;
      const n = slot * NUMS;
      const schema = EVENT_LIST[this.meta[m]!]!;
      const fields: Record<string, string | number | boolean> = {};
      let a = n + 3;
      for (const [fname, kind] of schema.fields) a = decodeField(fields, fname, kind, this.nums, a);
      const id = this.meta[m]!;
      const vcpu = this.meta[m + 1]!;
      out.push({ seq: this.nums[n]!, step: this.nums[n + 1]!, vcpu, cycles: this.nums[n + 2]!, name: schema.name, line: this.meta[m + 2]!, fields });
      if (id === E.kvm_exit) exitStart.set(vcpu, out.length - 1);
      else if (id === E.guest_page_fault) out[out.length - 1]!.class = FAULT_CLASSES[CLASS_GUEST_PF_DIRECT];
      else if (id === E.kvm_entry) {
        const cls = this.nums[n + 3]!;
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
