// The trace ring (simulator/trace/buffer.ts) keeps the last `capacity` events in order, numbered
// across the run, whatever the run's length; with capacity 0 it only counts. emit() wraps a slot
// index instead of taking total % capacity, and writes a scratch slot when the capacity is 0.
import { describe, it, expect } from 'vitest';
import { TraceBuffer } from '../simulator/trace/buffer';
import { E } from '../simulator/trace/events';

/** An emitter's way: the arguments written at `at`, then emit with the vCPU (its id and clock). */
const emit = (t: TraceBuffer, id: number, vcpu: number, line: number, clock: number, ...args: number[]) => {
  args.forEach((v, k) => (t.args[t.at + k] = v));
  t.emit(id, { id: vcpu, clock }, line);
};

const fill = (t: TraceBuffer, n: number, from = 0) => {
  for (let i = from; i < from + n; i++) {
    t.step = i;
    emit(t, E.vcpu_switch, 0, 10 + i, 2 ** 40 + i, i, 0xfffffff0 + (i % 16));
  }
};

describe('trace ring', () => {
  it('keeps the last `capacity` events, oldest first, across several wraps', () => {
    const t = new TraceBuffer(3);
    fill(t, 8);
    expect(t.total).toBe(8);
    expect(t.dropped).toBe(5);
    const r = t.records();
    expect(r.map((e) => [e.seq, e.step, e.line, e.cycles, e.fields.to, e.fields.point])).toEqual([
      [5, 5, 15, 2 ** 40 + 5, 5, 0xfffffff5],
      [6, 6, 16, 2 ** 40 + 6, 6, 0xfffffff6],
      [7, 7, 17, 2 ** 40 + 7, 7, 0xfffffff7],
    ]);
  });

  it('restarts at the first slot after reset, and only counts with capacity 0', () => {
    const t = new TraceBuffer(4);
    fill(t, 6);
    t.reset();
    fill(t, 2, 100);
    expect(t.records().map((e) => [e.seq, e.step])).toEqual([
      [0, 100],
      [1, 101],
    ]);
    const none = new TraceBuffer(0);
    fill(none, 5);
    expect(none.total).toBe(5);
    expect(none.dropped).toBe(5);
    expect(none.records()).toEqual([]);
  });

  it('shows observers each event as it is emitted, with the raw arguments the event uses, until they stop', () => {
    const t = new TraceBuffer(2);
    const seen: string[] = [];
    const stop = t.observe((e) => seen.push(`a ${e.id} ${e.vcpu} ${e.line} ${e.cycles} ${e.args.join(',')}`));
    t.observe((e) => seen.push(`b ${e.id} ${t.total}`));
    emit(t, E.vcpu_switch, 1, 7, 2 ** 40, 3, 0xfffffff0);
    // kvm_mmu_paging_element: a 64-bit pte (lo, hi) and the level; kvm_entry: the exit's class only.
    emit(t, E.kvm_mmu_paging_element, 0, 8, 9, 0x80000063, 0x80000000, 1, 5, 5, 5);
    stop();
    emit(t, E.kvm_entry, 0, 9, 10, 4);
    expect(seen).toEqual([
      `a ${E.vcpu_switch} 1 7 ${2 ** 40} 3,${0xfffffff0}`,
      `b ${E.vcpu_switch} 1`,
      `a ${E.kvm_mmu_paging_element} 0 8 9 ${0x80000063},${0x80000000},1`,
      `b ${E.kvm_mmu_paging_element} 2`,
      `b ${E.kvm_entry} 3`,
    ]);
    expect(t.records().map((e) => e.name)).toEqual(['kvm_mmu_paging_element', 'kvm_entry']);
  });
});
