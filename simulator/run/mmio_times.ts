// MMIO accesses as `perf kvm stat report --event=mmio` counts them, accumulated online while the run
// goes (never from the trace ring, which drops events). perf's rules (tools/perf/arch/x86/util/
// kvm-stat.c, mmio_event_begin/end; builtin-kvm.c, handle_begin_event/handle_end_event):
//   * kvm_exit begins an interval with no key; kvm_mmio(WRITE) begins one keyed (gpa, W);
//   * kvm_mmio(READ) ends the open interval keyed (gpa, R); kvm_entry ends a keyed interval (a write);
//     an interval with no key at kvm_entry is dropped and, as in perf, its start is kept;
//   * kvm_mmio(READ_UNSATISFIED) is neither.
// Per key and per view (all vCPUs, then each vCPU): count, total, min, max and Welford mean/M2.
// Fixed memory: MMIO_KEYS distinct keys; later keys are counted together in one overflow row.

import { IntervalStats } from './interval_stats';
import type { KvmStatRow } from './result';

/** Distinct (gpa, direction) keys kept apart; the rest share the overflow row. */
export const MMIO_KEYS = 128;
const SLOTS = MMIO_KEYS + 1; // + the overflow row
const OVERFLOW = MMIO_KEYS;
const HASH = 256; // open addressing, at least 2 × MMIO_KEYS
const NONE = -1;

export class MmioTimes {
  private readonly views: number; // 1 (all) + vCPUs
  private readonly gpa = new Float64Array(MMIO_KEYS);
  private readonly write = new Uint8Array(MMIO_KEYS);
  private readonly hash = new Int16Array(HASH).fill(NONE);
  private keys = 0;
  // [view * SLOTS + slot]
  private readonly t: IntervalStats;
  /** When perf's find_create_kvm_event would have created the row in this view (its tie order). */
  private readonly created: Float64Array;
  private seq = 0;
  // Per vCPU: perf's vcpu_event_record (start_time, last_event).
  private readonly start: Float64Array;
  private readonly pending: Int16Array;

  constructor(vcpus: number) {
    this.views = vcpus + 1;
    const n = this.views * SLOTS;
    this.t = new IntervalStats(n);
    this.created = new Float64Array(n).fill(NONE);
    this.start = new Float64Array(vcpus).fill(NONE);
    this.pending = new Int16Array(vcpus).fill(NONE);
  }

  /** kvm_exit: an MMIO read's interval begins here, its key still unknown. */
  exit(vcpu: number, clock: number): void {
    this.start[vcpu] = clock;
    this.pending[vcpu] = NONE;
  }

  /** kvm_mmio(KVM_TRACE_MMIO_WRITE): a write's interval begins, keyed (gpa, W). */
  mmioWrite(vcpu: number, gpa: number, clock: number): void {
    const slot = this.slot(gpa, 1);
    this.create(vcpu, slot);
    this.start[vcpu] = clock;
    this.pending[vcpu] = slot;
  }

  /** kvm_mmio(KVM_TRACE_MMIO_READ): the open interval ends, keyed (gpa, R). */
  mmioRead(vcpu: number, gpa: number, clock: number): void {
    if (this.start[vcpu]! < 0) return; // the begin event was not caught
    const slot = this.pending[vcpu]! >= 0 ? this.pending[vcpu]! : this.slot(gpa, 0);
    this.create(vcpu, slot);
    this.end(vcpu, slot, clock);
  }

  /** kvm_entry: ends a write's interval; an interval without a key is ignored (start kept). */
  entry(vcpu: number, clock: number): void {
    if (this.start[vcpu]! < 0) return;
    const slot = this.pending[vcpu]!;
    if (slot < 0) return;
    this.end(vcpu, slot, clock);
  }

  private end(vcpu: number, slot: number, clock: number): void {
    const d = clock - this.start[vcpu]!;
    this.start[vcpu] = NONE;
    this.pending[vcpu] = NONE;
    this.t.add(slot, d); // all vCPUs
    this.t.add((vcpu + 1) * SLOTS + slot, d);
  }

  private create(vcpu: number, slot: number): void {
    if (this.created[slot]! < 0) this.created[slot] = this.seq++;
    const i = (vcpu + 1) * SLOTS + slot;
    if (this.created[i]! < 0) this.created[i] = this.seq++;
  }

  /** The row of (gpa, write), allocating it on first sight; the overflow row once the table is full. */
  private slot(gpa: number, write: number): number {
    const lo = gpa % 0x1_0000_0000;
    const hi = (gpa - lo) / 0x1_0000_0000;
    let h = (Math.imul(lo ^ (hi * 31), 0x9e3779b1) >>> 24) ^ write;
    for (let probes = 0; probes < HASH; probes++, h = (h + 1) & (HASH - 1)) {
      const s = this.hash[h]!;
      if (s === NONE) {
        if (this.keys === MMIO_KEYS) return OVERFLOW;
        const k = this.keys++;
        this.gpa[k] = gpa;
        this.write[k] = write;
        this.hash[h] = k;
        return k;
      }
      if (this.gpa[s] === gpa && this.write[s] === write) return s;
    }
    return OVERFLOW;
  }

  /** The rows of one view (-1: all vCPUs), those with samples, in table order. */
  rows(vcpu: number): KvmStatRow[] {
    const base = (vcpu + 1) * SLOTS;
    const out: KvmStatRow[] = [];
    for (let s = 0; s < SLOTS; s++) {
      const i = base + s;
      const t = this.t;
      const n = t.count[i]!;
      if (n === 0) continue;
      const overflow = s === OVERFLOW;
      const gpa = overflow ? null : this.gpa[s]!;
      out.push({
        key: overflow ? OVERFLOW_KEY : mmioKey(gpa!, this.write[s] === 1),
        addr: gpa === null ? null : '0x' + gpa.toString(16),
        write: overflow ? null : this.write[s] === 1,
        count: n,
        total_cycles: t.total[i]!,
        min_cycles: t.min[i]!,
        max_cycles: t.max[i]!,
        mean_cycles: t.mean[i]!,
        stddev_cycles: t.stddev(i),
        created: this.created[i]!,
      });
    }
    return out;
  }
}

/** The overflow row's name: every key past the first MMIO_KEYS. */
export const OVERFLOW_KEY = 'other keys';

/** perf's mmio_event_decode_key: `"%#lx:%s"`, gpa then W or R (`%#lx` prints 0 as plain "0"). */
export function mmioKey(gpa: number, write: boolean): string {
  return `${gpa === 0 ? '0' : '0x' + gpa.toString(16)}:${write ? 'W' : 'R'}`;
}
