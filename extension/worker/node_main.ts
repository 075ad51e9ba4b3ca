// The simulator worker on Node (worker_threads): the extension host starts it (simulator_client.ts)
// so that a long run never blocks the editor. Requests are handled one at a time, in order.

import { parentPort } from 'node:worker_threads';
import { handleRequest, type WorkerRequest } from './requests';

const port = parentPort;
if (!port) throw new Error('dist/worker.js must run as a worker thread');
port.on('message', (req: WorkerRequest) => port.postMessage(handleRequest(req)));
