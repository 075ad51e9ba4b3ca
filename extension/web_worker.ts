// The simulator's worker in VS Code for the Web: a Web Worker on dist/worker-web.js
// (worker/web_main.ts), started from the web extension host (itself a Web Worker). Only
// extension_web.ts, the browser entry, imports this.
//
// A script from the extension's origin cannot always be given to `new Worker` directly (the
// extension is served from another origin than the extension host's), so the entry fetches the
// script once and hands this a Blob URL of it (`scriptUrl`). Fetching is asynchronous while the
// client starts workers synchronously: requests posted before the worker exists wait here.

import type { SimulatorWorker, WorkerFactory } from './simulator_worker';
import type { WorkerRequest, WorkerResponse } from './worker/requests';

/** `scriptUrl`: a URL `new Worker` accepts for dist/worker-web.js (a Blob URL). Called for the
 *  first worker, and again after a failure; its answer is kept otherwise. */
export function webWorkerFactory(scriptUrl: () => Promise<string>): WorkerFactory {
  let url: Promise<string> | undefined;
  const load = (): Promise<string> => {
    if (!url) {
      const p = scriptUrl();
      url = p;
      p.catch(() => {
        if (url === p) url = undefined; // the next worker tries again
      });
    }
    return url;
  };

  return (events): SimulatorWorker => {
    let worker: Worker | undefined;
    let terminated = false;
    const waiting: WorkerRequest[] = [];
    load().then(
      (u) => {
        if (terminated) return;
        try {
          worker = new Worker(u, { name: 'mmu-lab-simulator' });
        } catch (e) {
          events.error(`cannot start the simulator worker: ${e instanceof Error ? e.message : String(e)}`);
          return;
        }
        worker.onmessage = (e: MessageEvent<WorkerResponse>) => {
          if (!terminated) events.message(e.data);
        };
        worker.onerror = (e: ErrorEvent) => {
          e.preventDefault();
          if (!terminated) events.error(e.message || 'the simulator worker failed');
        };
        worker.onmessageerror = () => {
          if (!terminated) events.error('the simulator worker sent a message that could not be read');
        };
        for (const r of waiting.splice(0)) worker.postMessage(r);
      },
      (e: unknown) => {
        if (!terminated) events.error(`cannot load the simulator worker: ${e instanceof Error ? e.message : String(e)}`);
      },
    );
    return {
      postMessage: (request) => {
        if (terminated) return;
        if (worker) worker.postMessage(request);
        else waiting.push(request);
      },
      terminate: () => {
        terminated = true;
        waiting.length = 0;
        worker?.terminate();
      },
    };
  };
}
