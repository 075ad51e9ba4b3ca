// What the editor shows beside each workload line (RunResult.lines) and the fault class stamped on
// each trace event (the Timeline's class filter): both must agree with the run's own totals and
// with the kernel paths of docs/fault-classes.md.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { run, scenario } from './helpers/scenario';
import { runScenario } from '../simulator/run/run';

const DOORBELL = readFileSync('examples/doorbell.mmio.yaml', 'utf8');
const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('per-line statistics', () => {
  it('v3.1 doorbell: the write line has 1 mmio-slow then 999 mmio-cache; the RAM read maps its page once', () => {
    const r = run(DOORBELL);
    const write = r.lines.find((l) => l.line === lineOf(DOORBELL, '{ write: 0xffffc90000000050'))!;
    const read = r.lines.find((l) => l.line === lineOf(DOORBELL, '{ read: 0xffff880000100000'))!;
    const compute = r.lines.find((l) => l.line === lineOf(DOORBELL, '{ compute: 20000 }'))!;
    expect(write).toMatchObject({ count: 1000, faults: { 'mmio-slow': 1, 'mmio-cache': 999 } });
    expect(read).toMatchObject({ count: 1000, faults: { map: 1 } });
    expect(compute).toMatchObject({ count: 1000, cycles: 1000 * 20000, faults: {} });
  });

  it('v3.0 doorbell: every write is mmio-slow (no MMIO SPTE before the series)', () => {
    const r = run(DOORBELL.replace('kernel: v3.1', 'kernel: v3.0'));
    const write = r.lines.find((l) => l.line === lineOf(DOORBELL, '{ write: 0xffffc90000000050'))!;
    expect(write.faults).toEqual({ 'mmio-slow': 1000 });
  });

  it('lines add up to the run: faults per class and the cycles of every step', () => {
    for (const kernel of ['v3.0', 'v3.1']) {
      const r = run(DOORBELL.replace('kernel: v3.1', `kernel: ${kernel}`));
      const sum: Record<string, number> = {};
      for (const l of r.lines) for (const [c, n] of Object.entries(l.faults)) sum[c] = (sum[c] ?? 0) + n;
      for (const [c, n] of Object.entries(r.faults)) expect(sum[c] ?? 0).toBe(n);
      expect(r.lines.reduce((a, l) => a + l.cycles, 0)).toBe(r.cycles.elapsed); // one vCPU: its clock
    }
  });

  it('steps counts every workload step, and a run stopped after step n reports n+1', () => {
    const sc = scenario(DOORBELL);
    expect(runScenario(sc).steps).toBe(3000);
    expect(runScenario(sc, { stopAfterStep: 4 }).steps).toBe(5);
  });
});

describe('fault class on trace events', () => {
  it('every event of an exit carries that exit\'s class, and classes add up to the fault counts', () => {
    const r = runScenario(scenario(DOORBELL), { traceCapacity: 100_000 });
    const exits = r.trace.events.filter((e) => e.name === 'kvm_exit');
    const byClass: Record<string, number> = {};
    for (const e of exits) if (e.class) byClass[e.class] = (byClass[e.class] ?? 0) + 1;
    expect(byClass).toEqual({ 'mmio-slow': 1, 'mmio-cache': 999, map: 1 });
    // The events between an EPT misconfiguration's kvm_exit and its kvm_entry share its class.
    const i = r.trace.events.findIndex((e) => e.name === 'kvm_exit' && e.fields.reason === 'EPT_MISCONFIG');
    const j = r.trace.events.findIndex((e, k) => k > i && e.name === 'kvm_entry');
    expect(r.trace.events.slice(i, j + 1).every((e) => e.class === 'mmio-cache')).toBe(true);
    expect(r.trace.events.slice(i, j + 1).map((e) => e.name)).toContain('vcpu_match_mmio');
  });

  it('a #PF delivered without an exit (bypass_guest_pf) is guest-pf-direct', () => {
    const text = readFileSync('examples/bypass-guest-pf.mmio.yaml', 'utf8');
    const r = runScenario(scenario(text), { traceCapacity: 100_000 });
    const direct = r.trace.events.filter((e) => e.name === 'guest_page_fault');
    expect(direct.length).toBe(r.faults['guest-pf-direct']);
    expect(direct.every((e) => e.class === 'guest-pf-direct')).toBe(true);
  });
});
