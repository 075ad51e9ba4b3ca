// The worker's request handling (extension/worker/requests.ts), which the extension runs on a
// worker thread: run -> result, bad text -> positioned diagnostics, tables after a step.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compareScenario, parseScenario, runScenario, type Scenario } from '../simulator/index';
import { handleRequest, type ScenarioSource, type WorkerResponse } from '../extension/worker/requests';

const DOORBELL = readFileSync('examples/doorbell.mmio.yaml', 'utf8');
const source = (text = DOORBELL, over: Partial<ScenarioSource> = {}): ScenarioSource => ({
  uri: 'file:///w/doorbell.mmio.yaml',
  file: 'doorbell.mmio.yaml',
  text,
  defaultKernel: 'v3.1',
  profile: 'scenario',
  ...over,
});

function scenario(text = DOORBELL): Scenario {
  const p = parseScenario(text, 'doorbell.mmio.yaml');
  if ('diagnostics' in p) throw new Error(p.diagnostics[0]!.message);
  return p.scenario;
}

function as<K extends WorkerResponse['kind']>(r: WorkerResponse, kind: K): Extract<WorkerResponse, { kind: K }> {
  expect(r.kind, JSON.stringify(r).slice(0, 500)).toBe(kind);
  return r as Extract<WorkerResponse, { kind: K }>;
}

describe('worker requests', () => {
  it('run -> the result the simulator gives, with its id, structured-clone safe', () => {
    const res = as(handleRequest({ ...source(), id: 7, kind: 'run', traceCapacity: 500 }), 'result');
    expect(res.id).toBe(7);
    expect(res.result.exits).toEqual({ EPT_VIOLATION: 2, EPT_MISCONFIG: 999 });
    expect(res.result.trace.events).toHaveLength(500);
    expect(res.result.expect.every((e) => e.ok)).toBe(true);
    // The panel's runs attribute call paths (the Flame view): RunOptions.callPaths.
    expect(res.result.flame).toBeDefined();
    expect(res.result).toEqual(runScenario(scenario(), { traceCapacity: 500, callPaths: true }));
    expect(structuredClone(res)).toEqual(res);
  });

  it('the cost profile setting overrides host.profile; the default kernel applies without `kernel:`', () => {
    const modern = as(handleRequest({ ...source(DOORBELL, { profile: 'modern' }), id: 1, kind: 'run', traceCapacity: 0 }), 'result');
    expect(modern.result.profile).toBe('modern');
    expect(modern.result.cycles.ghz).toBe(2.7);
    const noKernel = DOORBELL.replace('kernel: v3.1\n', '');
    const v30 = as(handleRequest({ ...source(noKernel, { defaultKernel: 'v3.0' }), id: 2, kind: 'run', traceCapacity: 0 }), 'result');
    expect(v30.result.kernel).toBe('v3.0');
    expect(v30.result.faults['mmio-slow']).toBe(1000);
  });

  it('bad text -> diagnostics with file, line and column, and no result', () => {
    const bad = DOORBELL.replace('kernel: v3.1', 'kernel: v3.2').replace('handler: userspace', 'handler: qemu');
    const res = as(handleRequest({ ...source(bad), id: 3, kind: 'run', traceCapacity: 0 }), 'diagnostics');
    expect(res.id).toBe(3);
    expect(res.diagnostics).toHaveLength(2);
    expect(res.diagnostics[0]).toMatchObject({ file: 'doorbell.mmio.yaml', line: 6, col: 9, endLine: 6, endCol: 13 });
    expect(res.diagnostics[0]!.message).toMatch(/v3\.0, v3\.1/);
    expect(res.diagnostics[1]!.line).toBe(12);
  });

  it('YAML syntax errors are positioned diagnostics too', () => {
    const res = as(handleRequest({ ...source('name: [unclosed\n'), id: 4, kind: 'run', traceCapacity: 0 }), 'diagnostics');
    expect(res.diagnostics[0]!.line).toBeGreaterThanOrEqual(1);
    expect(res.diagnostics[0]!.message).toMatch(/^YAML:/);
  });

  it('a VM that cannot be built (GuestSetupError) -> one diagnostic at its position', () => {
    const text = DOORBELL.replace('  - { slot: 0, gpa: 0x0, size: 256M }', '  - { slot: 0, gpa: 0x0, size: 256M, readonly: true }');
    const res = as(handleRequest({ ...source(text), id: 5, kind: 'run', traceCapacity: 0 }), 'diagnostics');
    expect(res.diagnostics).toHaveLength(1);
    expect(res.diagnostics[0]).toMatchObject({ line: 10, col: 5, endLine: 10, endCol: 5 });
    expect(res.diagnostics[0]!.message).toMatch(/read-only memslots/);
  });

  it('tables at step N are runScenario(stopAfterStep N)\'s; null is the end of the run', () => {
    const sc = scenario();
    for (const step of [-1, 0, 1, 5, 2999]) {
      const res = as(handleRequest({ ...source(), id: 10, kind: 'tables', step }), 'tables');
      expect(res.step).toBe(step);
      expect(res.tables).toEqual(runScenario(sc, { stopAfterStep: step, traceCapacity: 0 }).shadow_tables);
    }
    const end = as(handleRequest({ ...source(), id: 11, kind: 'tables', step: null }), 'tables');
    expect(end.tables.afterStep).toBeNull();
    expect(end.tables).toEqual(runScenario(sc, { traceCapacity: 0 }).shadow_tables);
    // The tables change along the run: no MMIO SPTE before the first doorbell, one after it.
    const mmio = (step: number) => as(handleRequest({ ...source(), id: 12, kind: 'tables', step }), 'tables').tables.pages.flatMap((p) => p.entries).filter((e) => e.kind === 'mmio').length;
    expect(mmio(-1)).toBe(0);
    expect(mmio(0)).toBe(1);
  });

  it('compare -> the variants, the profile setting as the base, a variant\'s own profile winning', () => {
    const text = `${DOORBELL}compare:\n  - { label: before, kernel: v3.0 }\n  - { label: after }\n  - { label: modern, host: { profile: modern } }\n`;
    const res = as(handleRequest({ ...source(text), id: 20, kind: 'compare' }), 'compare');
    expect(res.result).toEqual(compareScenario(scenario(text), undefined, true)); // (flame graphs for the differential view)
    expect(res.result.variants.map((v) => v.label)).toEqual(['before', 'after', 'modern']);
    const set = as(handleRequest({ ...source(text, { profile: 'modern' }), id: 21, kind: 'compare' }), 'compare');
    expect(set.result.variants.map((v) => v.settings.profile)).toEqual(['modern', 'modern', 'modern']);
  });

  it('compare: a variant whose VM cannot be built is a diagnostic under its label', () => {
    const text = `${DOORBELL.replace('size: 256M }', 'size: 256M, readonly: true }')}compare:\n  - { label: first }\n`;
    const res = as(handleRequest({ ...source(text), id: 22, kind: 'compare' }), 'diagnostics');
    expect(res.diagnostics[0]!.message).toMatch(/^first: memslot 0: read-only/);
  });
});
