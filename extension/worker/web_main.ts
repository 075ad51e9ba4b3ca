// The simulator worker in VS Code for the Web (a Web Worker): the browser build of the extension
// starts it (web_worker.ts) so that a long run never blocks the web extension host. Requests are
// handled one at a time, in order, by the same code as on Node (requests.ts).

import { handleRequest, type WorkerRequest } from './requests';

// The worker's global scope (`self`), typed here with the two members used, so that this file
// type-checks with or without the WebWorker lib.
interface WorkerScope {
  onmessage: ((e: { data: WorkerRequest }) => void) | null;
  postMessage(message: unknown): void;
}

const scope = globalThis as unknown as WorkerScope;
scope.onmessage = (e) => scope.postMessage(handleRequest(e.data));
