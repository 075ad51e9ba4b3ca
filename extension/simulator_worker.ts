// The simulator's worker as the client (simulator_client.ts) sees it, whatever runs it: a Node
// worker_threads Worker on the desktop (node_worker.ts), a Web Worker in VS Code for the Web
// (web_worker.ts). Platform-neutral: types only.

import type { WorkerRequest, WorkerResponse } from './worker/requests';

/** What a worker reports to its owner. */
export interface WorkerEvents {
  message(response: WorkerResponse): void;
  /** The worker failed (an exception outside the request handler, out of memory, a script that
   *  does not load): what is pending fails with this message. */
  error(message: string): void;
  /** The worker stopped by itself (Node only: a Web Worker never reports its end); 0 is a clean exit. */
  exit(code: number): void;
}

/** One running worker. */
export interface SimulatorWorker {
  postMessage(request: WorkerRequest): void;
  /** Stops it at once: a synchronous simulation in progress is abandoned (there is no other way to
   *  interrupt it). Nothing is reported afterwards. */
  terminate(): void;
}

/** Starts a fresh worker that reports to `events`. */
export type WorkerFactory = (events: WorkerEvents) => SimulatorWorker;
