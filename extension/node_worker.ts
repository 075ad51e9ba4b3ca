// The simulator's worker on Node (the desktop's extension host, code-server): a worker_threads
// Worker on dist/worker.js (worker/node_main.ts). Only extension.ts, the Node entry, imports this.

import { Worker } from 'node:worker_threads';
import type { WorkerFactory } from './simulator_worker';
import type { WorkerResponse } from './worker/requests';

/** `script`: the absolute path of dist/worker.js. */
export function nodeWorkerFactory(script: string): WorkerFactory {
  return (events) => {
    const worker = new Worker(script);
    let terminated = false;
    worker.on('message', (m: WorkerResponse) => events.message(m));
    worker.on('error', (e: Error) => {
      if (!terminated) events.error(e.stack ?? e.message);
    });
    worker.on('exit', (code: number) => {
      if (!terminated) events.exit(code);
    });
    return {
      postMessage: (request) => worker.postMessage(request),
      terminate: () => {
        terminated = true;
        void worker.terminate();
      },
    };
  };
}
