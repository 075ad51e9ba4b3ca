// The simulator's worker in VS Code for the Web (extension/web_worker.ts, extension/worker/web_main.ts).
// First with a stand-in for the Web Worker API in Node: requests wait for the script, termination,
// errors, the script loaded once. Then for real in Chromium: the extension's client
// (simulator_client.ts) on Web Workers started from a Blob URL of the bundled worker-web entry, as
// the browser build does: a run, a run replacing the one in flight, cancellation, tables, and the
// page staying responsive while the simulator runs.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SimulatorClient } from '../extension/simulator_client';
import type { WorkerEvents } from '../extension/simulator_worker';
import { webWorkerFactory } from '../extension/web_worker';
import type { WorkerRequest, WorkerResponse } from '../extension/worker/requests';
import { CHROMIUM_PATH, browserTestsEnabled } from './webview/harness';

const DOORBELL = readFileSync('examples/doorbell.mmio.yaml', 'utf8');
const LONG = DOORBELL.replace('repeat: 1000', 'repeat: 3000000');
const source = (text: string) => ({ uri: 'file:///w/d.mmio.yaml', file: 'd.mmio.yaml', text, defaultKernel: 'v3.1' as const, profile: 'scenario' as const });

/** A stand-in for the Web Worker API: records what it is given, and lets the test answer. */
class FakeWorker {
  static all: FakeWorker[] = [];
  readonly posted: WorkerRequest[] = [];
  terminated = false;
  onmessage: ((e: { data: WorkerResponse }) => void) | null = null;
  onerror: ((e: { message: string; preventDefault(): void }) => void) | null = null;
  onmessageerror: (() => void) | null = null;
  constructor(
    readonly url: string,
    readonly options: { name?: string },
  ) {
    FakeWorker.all.push(this);
  }
  postMessage(m: WorkerRequest): void {
    this.posted.push(m);
  }
  terminate(): void {
    this.terminated = true;
  }
  answer(r: WorkerResponse): void {
    this.onmessage?.({ data: r });
  }
  fail(message: string): boolean {
    let prevented = false;
    this.onerror?.({ message, preventDefault: () => (prevented = true) });
    return prevented;
  }
}

function recorder() {
  const got: { messages: WorkerResponse[]; errors: string[]; exits: number[] } = { messages: [], errors: [], exits: [] };
  const events: WorkerEvents = { message: (m) => got.messages.push(m), error: (e) => got.errors.push(e), exit: (c) => got.exits.push(c) };
  return { got, events };
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const run = (id: number): WorkerRequest => ({ ...source(DOORBELL), id, kind: 'run', traceCapacity: 0 });

describe('webWorkerFactory (a stand-in Worker)', () => {
  const g = globalThis as unknown as { Worker?: unknown };
  beforeEach(() => {
    FakeWorker.all = [];
    g.Worker = FakeWorker;
  });
  afterEach(() => {
    delete g.Worker;
  });

  it('requests posted before the script is loaded reach the worker in order; answers come back', async () => {
    let release!: (u: string) => void;
    const factory = webWorkerFactory(() => new Promise<string>((r) => (release = r)));
    const { got, events } = recorder();
    const w = factory(events);
    w.postMessage(run(1));
    w.postMessage(run(2));
    expect(FakeWorker.all).toHaveLength(0);
    release('blob:worker');
    await tick();
    expect(FakeWorker.all).toHaveLength(1);
    const fake = FakeWorker.all[0]!;
    expect(fake.url).toBe('blob:worker');
    expect(fake.options.name).toBe('mmu-lab-simulator');
    expect(fake.posted.map((r) => r.id)).toEqual([1, 2]);
    w.postMessage(run(3));
    expect(fake.posted.map((r) => r.id)).toEqual([1, 2, 3]);
    fake.answer({ id: 1, kind: 'diagnostics', diagnostics: [] });
    expect(got.messages).toEqual([{ id: 1, kind: 'diagnostics', diagnostics: [] }]);
    expect(got.errors).toEqual([]);
  });

  it('loads the script once for every worker; terminated before it loads, no worker starts', async () => {
    let loads = 0;
    const factory = webWorkerFactory(async () => `blob:w${++loads}`);
    const early = factory(recorder().events);
    early.postMessage(run(1));
    early.terminate();
    const a = factory(recorder().events);
    await tick();
    const b = factory(recorder().events);
    await tick();
    expect(loads).toBe(1);
    expect(FakeWorker.all.map((w) => w.url)).toEqual(['blob:w1', 'blob:w1']);
    a.terminate();
    expect(FakeWorker.all[0]!.terminated).toBe(true);
    expect(FakeWorker.all[1]!.terminated).toBe(false);
    b.terminate();
  });

  it('a script that cannot be loaded is an error, and the next worker tries again', async () => {
    let loads = 0;
    const factory = webWorkerFactory(async () => {
      if (++loads === 1) throw new Error('HTTP 404');
      return 'blob:ok';
    });
    const first = recorder();
    factory(first.events);
    await tick();
    expect(first.got.errors).toEqual(['cannot load the simulator worker: HTTP 404']);
    const second = recorder();
    factory(second.events);
    await tick();
    expect(loads).toBe(2);
    expect(second.got.errors).toEqual([]);
    expect(FakeWorker.all).toHaveLength(1);
  });

  it('a worker error is reported (and kept from the console); nothing is reported after terminate', async () => {
    const factory = webWorkerFactory(async () => 'blob:w');
    const { got, events } = recorder();
    const w = factory(events);
    await tick();
    const fake = FakeWorker.all[0]!;
    expect(fake.fail('Uncaught RangeError: out of memory')).toBe(true);
    expect(got.errors).toEqual(['Uncaught RangeError: out of memory']);
    w.terminate();
    fake.answer({ id: 1, kind: 'diagnostics', diagnostics: [] });
    fake.fail('late');
    expect(got.messages).toEqual([]);
    expect(got.errors).toHaveLength(1);
    expect(got.exits).toEqual([]);
  });

  it('through the client: a worker error fails the run in flight, and the next run gets a fresh worker', async () => {
    const client = new SimulatorClient(webWorkerFactory(async () => 'blob:w'));
    const pending = client.run({ ...source(DOORBELL), kind: 'run', traceCapacity: 0 });
    await tick();
    FakeWorker.all[0]!.fail('boom');
    expect(await pending).toMatchObject({ kind: 'error', message: 'boom' });
    expect(FakeWorker.all[0]!.terminated).toBe(true);
    const next = client.run({ ...source(DOORBELL), kind: 'run', traceCapacity: 0 });
    await tick();
    expect(FakeWorker.all).toHaveLength(2);
    const req = FakeWorker.all[1]!.posted[0]!;
    FakeWorker.all[1]!.answer({ id: req.id, kind: 'diagnostics', diagnostics: [] });
    expect((await next).kind).toBe('diagnostics');
    client.dispose();
    expect(FakeWorker.all[1]!.terminated).toBe(true);
  });
});

const enabled = browserTestsEnabled();

describe.runIf(enabled)('the simulator client on Web Workers (Chromium)', { timeout: 60_000 }, () => {
  let server: Server;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    const root = resolve(__dirname, '..');
    const bundle = async (options: Parameters<typeof build>[0]) => {
      const out = await build({ ...options, bundle: true, platform: 'browser', format: 'iife', target: 'es2022', write: false, logLevel: 'error' });
      return out.outputFiles![0]!.text;
    };
    const files: Record<string, string> = {
      '/': '<!doctype html><meta charset="utf-8"><title>worker</title><script src="/client.js"></script>',
      '/client.js': await bundle({
        stdin: {
          contents: "import { SimulatorClient } from './extension/simulator_client';\nimport { webWorkerFactory } from './extension/web_worker';\n(globalThis as any).mmu = { SimulatorClient, webWorkerFactory };\n",
          resolveDir: root,
          loader: 'ts',
        },
      }),
      '/worker-web.js': await bundle({ entryPoints: [resolve(root, 'extension/worker/web_main.ts')] }),
    };
    server = createServer((req, res) => {
      const body = files[new URL(req.url ?? '/', 'http://localhost').pathname];
      if (body === undefined) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': req.url === '/' ? 'text/html' : 'text/javascript' }).end(body);
    });
    await new Promise<void>((ok) => server.listen(0, 'localhost', ok));
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`http://localhost:${(server.address() as AddressInfo).port}/`);
    // As extension_web.ts does: fetch the script, start workers on a Blob URL of it.
    await page.evaluate(() => {
      const w = window as unknown as Record<string, any>;
      w.workersStarted = 0;
      const factory = w.mmu.webWorkerFactory(async () => {
        const res = await fetch('/worker-web.js');
        return URL.createObjectURL(new Blob([await res.text()], { type: 'text/javascript' }));
      });
      w.client = new w.mmu.SimulatorClient((events: unknown) => {
        w.workersStarted++;
        return factory(events);
      });
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((ok) => server?.close(ok));
  });

  it('runs a scenario on a Web Worker', async () => {
    const o = await page.evaluate(async (src) => {
      const w = window as unknown as Record<string, any>;
      const o = await w.client.run({ ...src, kind: 'run', traceCapacity: 10 });
      return { kind: o.kind, misconfig: o.result?.exits.EPT_MISCONFIG, events: o.result?.trace.events.length, workers: w.workersStarted };
    }, source(DOORBELL));
    expect(o).toEqual({ kind: 'result', misconfig: 999, events: 10, workers: 1 });
    expect(errors).toEqual([]);
  });

  it('a second run replaces the one in flight; the page stays responsive while it runs', async () => {
    const o = await page.evaluate(
      async ({ long, short }) => {
        const w = window as unknown as Record<string, any>;
        const before = w.workersStarted;
        let ticks = 0;
        const timer = setInterval(() => ticks++, 20);
        const first = w.client.run({ ...long, kind: 'run', traceCapacity: 0 });
        await new Promise((r) => setTimeout(r, 500));
        const started = Date.now();
        const second = w.client.run({ ...short, kind: 'run', traceCapacity: 0 });
        const [a, b] = await Promise.all([first, second]);
        clearInterval(timer);
        return { first: a.kind, second: b.kind, ms: Date.now() - started, ticks, workers: w.workersStarted - before };
      },
      { long: source(LONG), short: source(DOORBELL) },
    );
    expect(o.first).toBe('cancelled');
    expect(o.second).toBe('result');
    expect(o.ms).toBeLessThan(2500); // it did not wait for the long run
    expect(o.ticks).toBeGreaterThan(10); // the simulation did not block the page's thread
    expect(o.workers).toBe(1); // the replacement run's fresh worker (the first reused the idle one)
  });

  it('cancellation terminates the run; the next run gets a fresh worker', async () => {
    const o = await page.evaluate(
      async ({ long, short }) => {
        const w = window as unknown as Record<string, any>;
        const listeners: (() => void)[] = [];
        const token = { isCancellationRequested: false, onCancellationRequested: (f: () => void) => (listeners.push(f), { dispose() {} }) };
        const before = w.workersStarted;
        const run = w.client.run({ ...long, kind: 'run', traceCapacity: 0 }, token);
        setTimeout(() => listeners.forEach((f) => f()), 300);
        const started = Date.now();
        const a = await run;
        const ms = Date.now() - started;
        const b = await w.client.run({ ...short, kind: 'run', traceCapacity: 0 });
        return { a: a.kind, ms, b: b.kind, workers: w.workersStarted - before };
      },
      { long: source(LONG), short: source(DOORBELL) },
    );
    expect(o).toMatchObject({ a: 'cancelled', b: 'result', workers: 1 });
    expect(o.ms).toBeLessThan(2000);
  });

  it('checks (the parse behind Problems and the Testing view) have their own worker and bound', async () => {
    const o = await page.evaluate(
      async ({ long, doorbell }) => {
        const w = window as unknown as Record<string, any>;
        const listeners: (() => void)[] = [];
        const token = { isCancellationRequested: false, onCancellationRequested: (f: () => void) => (listeners.push(f), { dispose() {} }) };
        let runDone = false;
        const run = w.client.run({ ...long, kind: 'run', traceCapacity: 0 }, token).then((r: { kind: string }) => ((runDone = true), r));
        const checked = await w.client.check(doorbell, 'doc');
        const during = runDone;
        listeners.forEach((f) => f());
        const ran = await run;
        // The same factory (read from the client) with a 1 ms bound: the worker cannot even start in time.
        const bounded = new w.mmu.SimulatorClient(w.client.createWorker, 1);
        const late = await bounded.check(doorbell, 'doc');
        bounded.dispose();
        return { kind: checked.kind, paths: checked.expectations?.length, during, ran: ran.kind, late: late.diagnostics.map((d: { line: number; col: number; message: string }) => `${d.line}:${d.col} ${d.message.slice(0, 34)}`) };
      },
      { long: source(LONG), doorbell: source(DOORBELL) },
    );
    expect(o).toEqual({ kind: 'checked', paths: 4, during: false, ran: 'cancelled', late: ['1:1 MMU Lab stopped checking this file'] });
    expect(errors).toEqual([]);
  });

  it('tables come from their own worker, in lanes; bad text is diagnostics', async () => {
    const o = await page.evaluate(
      async ({ doorbell, bad }) => {
        const w = window as unknown as Record<string, any>;
        const a = w.client.tables({ ...doorbell, step: 0 }, 'panel');
        const b = w.client.tables({ ...doorbell, step: 1 }, 'panel');
        const c = w.client.tables({ ...doorbell, step: 2 }, 'panel');
        const end = w.client.tables({ ...doorbell, step: null });
        const d = w.client.run({ ...bad, kind: 'run', traceCapacity: 0 });
        const [ra, rb, rc, re, rd] = await Promise.all([a, b, c, end, d]);
        return { a: ra.step, b: rb.kind, c: rc.step, end: re.tables?.afterStep, d: rd.kind };
      },
      { doorbell: source(DOORBELL), bad: source('memslots: 1\n') },
    );
    expect(o).toEqual({ a: 0, b: 'cancelled', c: 2, end: null, d: 'diagnostics' });
    expect(errors).toEqual([]);
  });
});
