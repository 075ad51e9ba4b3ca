// The Timeline's lane model (webview/lanes.ts), without a browser: exits paired kvm_exit ->
// kvm_entry per vCPU, the marks, the probes. The kernel brackets an exit between trace_kvm_exit
// (vmx.c vmx_handle_exit, 3.0.1:3930, 3.1.10:5699) and the next trace_kvm_entry (x86.c
// vcpu_enter_guest, 3.0.1:5455, 3.1.10:5668); docs/kernel-paths.md §15.2.

import { describe, expect, it } from 'vitest';
import { buildLanes, K_EXIT, K_MMU_LOCK, K_RACE, K_SRCU, K_TICK, PROBE_NAMES, sliceAt } from '../webview/lanes';
import { RACE_POINTS } from '../simulator/scenario/types';
import type { TraceEventRecord } from '../simulator/index';

const ev = (seq: number, vcpu: number, cycles: number, name: string, fields: TraceEventRecord['fields'] = {}): TraceEventRecord => ({ seq, step: 0, vcpu, cycles, name, line: 1, fields });
const all = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

describe('timeline lanes', () => {
  const events = [
    ev(0, 0, 100, 'kvm_exit'),
    ev(1, 1, 150, 'kvm_exit'),
    ev(2, 0, 120, 'kvm_page_fault'),
    ev(3, 1, 160, 'vcpu_switch', { to: 0, point: RACE_POINTS.indexOf('mmu_lock') }),
    ev(4, 0, 300, 'kvm_entry'),
    ev(5, 0, 400, 'kvm_mmu_get_page'),
    ev(6, 1, 170, 'vcpu_switch', { to: 0, point: RACE_POINTS.indexOf('kvm_exit') }),
    ev(7, 1, 900, 'srcu_synchronize_wait', { readers: 1, first: 0 }),
  ];

  it('pairs each kvm_exit with the next kvm_entry of its vCPU; an exit without one ends at its last event', () => {
    const m = buildLanes(events, all(events.length), [0, 1]);
    const [l0, l1] = m.lanes;
    expect([...l0!.sliceStart]).toEqual([100]);
    expect([...l0!.sliceEnd]).toEqual([300]);
    // kvm_mmu_get_page after the entry is outside the slice.
    expect(sliceAt(l0!, 3)).toBe(-1);
    expect(sliceAt(l0!, 1)).toBe(0);
    // vCPU 1's exit has no kvm_entry in the trace: it runs to its last event (the SRCU wait).
    expect([...l1!.sliceStart]).toEqual([150]);
    expect([...l1!.sliceEnd]).toEqual([900]);
    expect(m.start).toBe(0);
    expect(m.end).toBe(900);
  });

  it('classifies marks: race points, the mmu_lock race point, SRCU waits; counts them per lane', () => {
    const m = buildLanes(events, all(events.length), [0, 1]);
    const l1 = m.lanes[1]!;
    expect([...l1.kind]).toEqual([K_EXIT, K_MMU_LOCK, K_RACE, K_SRCU]);
    expect(l1.races).toBe(2);
    expect(l1.waits).toBe(1);
    expect(m.lanes[0]!.kind[1]).toBe(K_TICK);
  });

  it('keeps each lane in seq order, so its clock never goes backwards; filtered events are left out', () => {
    const shown = Int32Array.from([0, 2, 4]);
    const m = buildLanes(events, shown, [0, 1]);
    expect([...m.lanes[0]!.t]).toEqual([100, 120, 300]);
    expect(m.lanes[1]!.idx.length).toBe(0);
  });

  it('a trace that dropped the run\'s start fits from its first kept event', () => {
    expect(buildLanes(events, all(events.length), [0, 1], true).start).toBe(100);
  });

  it('the probes are the events trace/events.ts marks `fn` (no kernel tracepoint), and no tracepoint', () => {
    for (const p of ['__direct_map', 'mmu_spte_get_lockless', 'vcpu_switch', 'srcu_synchronize_wait']) expect(PROBE_NAMES.has(p), p).toBe(true);
    for (const t of ['kvm_exit', 'kvm_entry', 'kvm_mmu_get_page', 'mark_mmio_spte', 'handle_mmio_page_fault', 'kvm_mmio']) expect(PROBE_NAMES.has(t), t).toBe(false);
  });
});
