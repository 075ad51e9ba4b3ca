// The extension's worker client (extension/simulator_client.ts) on Node, against the real worker
// entry on worker threads (extension/node_worker.ts), bundled here with esbuild: re-running
// replaces the run in flight, cancelling terminates it, and table requests have their own worker
// and lanes. test/extension-web-worker.test.ts runs the same client on Web Workers.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
