// The extension's worker client (extension/simulator_client.ts) on Node, against the real worker
// entry on worker threads (extension/node_worker.ts), bundled here with esbuild: re-running
// replaces the run in flight, cancelling terminates it, and table requests have their own worker
// and lanes. test/extension-web-worker.test.ts runs the same client on Web Workers.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// Every worker thread the client starts, with a promise of its exit (issue 14 item 9: a cancelled
// run's thread has ended, not merely been abandoned).
const threads: { exited: Promise<number> }[] = [];
vi.mock('node:worker_threads', async (importOriginal) => {
  const m = await importOriginal<typeof import('node:worker_threads')>();
  class Watched extends m.Worker {
    constructor(...args: ConstructorParameters<typeof m.Worker>) {
      super(...args);
      threads.push({ exited: new Promise((resolve) => this.once('exit', resolve)) });
    }
  }
  return { ...m, Worker: Watched };
});
import { nodeWorkerFactory } from '../extension/node_worker';
import { SimulatorClient } from '../extension/simulator_client';
import type { ScenarioSource } from '../extension/worker/requests';

const DOORBELL = readFileSync('examples/doorbell.mmio.yaml', 'utf8');
// The same doorbell loop, long enough (a few seconds) to be replaced or cancelled mid-run.
const LONG = DOORBELL.replace('repeat: 1000', 'repeat: 3000000');
const source = (text: string): ScenarioSource => ({ uri: 'file:///w/d.mmio.yaml', file: 'd.mmio.yaml', text, defaultKernel: 'v3.1', profile: 'scenario' });

/** A stand-in for vscode.CancellationToken. */
function tokenSource() {
  const listeners: (() => void)[] = [];
  const token = {
    isCancellationRequested: false,
    onCancellationRequested: (f: () => void) => {
      listeners.push(f);
      return { dispose: () => undefined };
    },
  };
  return { token, cancel: () => ((token.isCancellationRequested = true), listeners.forEach((f) => f())) };
}

let dir: string;
let script: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mmu-lab-worker-'));
  script = join(dir, 'worker.js');
  await build({ entryPoints: ['extension/worker/node_main.ts'], outfile: script, bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'error' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SimulatorClient', () => {
  it('runs a scenario on a worker thread', async () => {
    const client = new SimulatorClient(nodeWorkerFactory(script));
    const o = await client.run({ ...source(DOORBELL), kind: 'run', traceCapacity: 10 });
    expect(o.kind).toBe('result');
    if (o.kind === 'result') expect(o.result.exits.EPT_MISCONFIG).toBe(999);
    client.dispose();
  });

  it('a second run replaces the one in flight, whose promise resolves to cancelled', async () => {
    const client = new SimulatorClient(nodeWorkerFactory(script));
    const first = client.run({ ...source(LONG), kind: 'run', traceCapacity: 0 });
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    const second = client.run({ ...source(DOORBELL), kind: 'run', traceCapacity: 0 });
    expect((await first).kind).toBe('cancelled');
    expect((await second).kind).toBe('result');
    expect(Date.now() - started).toBeLessThan(2500); // it did not wait for the long run
    client.dispose();
  }, 20_000);

  it('cancellation terminates the run; the next run gets a fresh worker', async () => {
    const client = new SimulatorClient(nodeWorkerFactory(script));
    const { token, cancel } = tokenSource();
    const run = client.run({ ...source(LONG), kind: 'run', traceCapacity: 0 }, token as never);
    setTimeout(cancel, 200);
    expect((await run).kind).toBe('cancelled');
    expect((await client.run({ ...source(DOORBELL), kind: 'run', traceCapacity: 0 })).kind).toBe('result');
    client.dispose();
  }, 20_000);

  it('cancelling a long run ends its worker thread (terminate: no waiting for the simulation)', async () => {
    const client = new SimulatorClient(nodeWorkerFactory(script));
    const before = threads.length;
    const { token, cancel } = tokenSource();
    const run = client.run({ ...source(LONG), kind: 'run', traceCapacity: 0 }, token as never);
    setTimeout(cancel, 200);
    expect((await run).kind).toBe('cancelled');
    expect(threads.length).toBe(before + 1);
    // The thread's 'exit' fires: it was terminated mid-run (the run takes seconds more). Its exit
    // code is 1, what worker.terminate() gives a thread it stops.
    expect(await threads[before]!.exited).toBe(1);
    client.dispose();
  }, 20_000);

  it('check: problems and expectations, never the scenario', async () => {
    const client = new SimulatorClient(nodeWorkerFactory(script));
    const ok = await client.check(source(DOORBELL), 'a');
    expect(ok.kind).toBe('checked');
    if (ok.kind === 'checked') {
      expect(ok.diagnostics).toEqual([]);
      expect(ok.expectations?.map((e) => e.path)).toContain('exits.EPT_MISCONFIG');
      expect(Object.keys(ok).sort()).toEqual(['diagnostics', 'expectations', 'id', 'kind']);
    }
    const bad = await client.check(source('memslots: 1\n'), 'a');
    expect(bad.kind === 'checked' && bad.expectations).toBeNull();
    expect(bad.kind === 'checked' && bad.diagnostics.length).toBeGreaterThan(0);
    client.dispose();
  });

  it('check: latest wins per lane; other lanes are kept', async () => {
    const client = new SimulatorClient(nodeWorkerFactory(script));
    const a = client.check(source(DOORBELL), 'doc'); // sent at once
    const b = client.check(source('memslots: 1\n'), 'doc'); // waiting behind a: replaced by c
    const other = client.check(source('memslots: 2\n'), 'other');
    const c = client.check(source(DOORBELL.replace('exits.EPT_MISCONFIG: 999', 'exits.EPT_MISCONFIG: 998')), 'doc');
    const [ra, rb, rc, ro] = await Promise.all([a, b, c, other]);
    expect(ra.kind).toBe('checked');
    expect(rb.kind).toBe('cancelled');
    expect(rc.kind === 'checked' && rc.expectations?.find((e) => e.path === 'exits.EPT_MISCONFIG')?.text).toContain('998');
    expect(ro.kind === 'checked' && ro.diagnostics.length).toBeGreaterThan(0);
    client.dispose();
  }, 20_000);

  it('a check does not wait behind a run, and does not end it', async () => {
    const client = new SimulatorClient(nodeWorkerFactory(script));
    let runDone = false;
    const run = client.run({ ...source(LONG), kind: 'run', traceCapacity: 0 }).then((o) => ((runDone = true), o));
    const checked = await client.check(source(DOORBELL), 'doc');
    expect(checked.kind).toBe('checked');
    expect(runDone).toBe(false); // the long run is still going: the check had its own worker
    client.dispose();
    expect((await run).kind).toBe('cancelled');
  }, 20_000);

  it('a check over the time bound ends its worker and answers one problem at 1:1', async () => {
    const client = new SimulatorClient(nodeWorkerFactory(script), 1); // 1 ms: not even the worker starts in time
    const before = threads.length;
    const o = await client.check(source(DOORBELL), 'doc');
    expect(o.kind).toBe('checked');
    if (o.kind === 'checked') {
      expect(o.expectations).toBeNull();
      expect(o.diagnostics).toHaveLength(1);
      expect(o.diagnostics[0]).toMatchObject({ line: 1, col: 1, file: 'd.mmio.yaml' });
      expect(o.diagnostics[0]!.message).toContain('stopped checking this file after 0.001 s');
    }
    expect(threads.length).toBe(before + 1);
    await threads[before]!.exited; // the worker was ended, not left parsing
    client.dispose();
  }, 20_000);

  it('tables: answered in order; a newer request in the same lane replaces a waiting one; runs do not cancel them', async () => {
    const client = new SimulatorClient(nodeWorkerFactory(script));
    const a = client.tables({ ...source(DOORBELL), step: 0 }, 'panel');
    const b = client.tables({ ...source(DOORBELL), step: 1 }, 'panel'); // waiting behind a: replaced by c
    const c = client.tables({ ...source(DOORBELL), step: 2 }, 'panel');
    const other = client.tables({ ...source(DOORBELL), step: null });
    void client.run({ ...source(DOORBELL), kind: 'run', traceCapacity: 0 });
    const [ra, rb, rc, ro] = await Promise.all([a, b, c, other]);
    expect(ra.kind === 'tables' && ra.step).toBe(0);
    expect(rb.kind).toBe('cancelled');
    expect(rc.kind === 'tables' && rc.step).toBe(2);
    expect(ro.kind === 'tables' && ro.tables.afterStep).toBeNull();
    client.dispose();
  }, 20_000);

  it('bad text comes back as diagnostics; after dispose everything is cancelled', async () => {
    const client = new SimulatorClient(nodeWorkerFactory(script));
    const o = await client.run({ ...source('memslots: 1\n'), kind: 'run', traceCapacity: 0 });
    expect(o.kind).toBe('diagnostics');
    client.dispose();
    expect((await client.run({ ...source(DOORBELL), kind: 'run', traceCapacity: 0 })).kind).toBe('cancelled');
    expect((await client.tables({ ...source(DOORBELL), step: 0 })).kind).toBe('cancelled');
  });
});
