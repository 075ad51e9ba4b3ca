// Runs simulator requests on a worker (a worker thread on dist/worker.js on Node, a Web Worker on
// dist/worker-web.js in VS Code for the Web: the entry passes its WorkerFactory), so that a long
// scenario never blocks the extension host. Re-running replaces the run in flight: its worker is terminated (a
// synchronous simulation cannot be interrupted any other way) and the next run starts on a fresh
// one. Cancelling a run does the same. Table requests go to a second, long-lived worker, so that
// scrubbing through steps in the panel does not kill a run, and a run does not kill them.

import type * as vscode from 'vscode';
import type { SimulatorWorker, WorkerFactory } from './simulator_worker';
import type { ScenarioSource, WorkerRequest, WorkerResponse } from './worker/requests';

/** A response, or `cancelled` when the request was superseded, cancelled or the client disposed. */
export type Outcome = WorkerResponse | { kind: 'cancelled' };

type Body<K extends WorkerRequest['kind']> = Omit<Extract<WorkerRequest, { kind: K }>, 'id'>;
export type RunBody = Body<'run'> | Body<'compare'>;
export type TablesBody = ScenarioSource & { step: number | null };

/** One worker and the requests it has not answered yet. */
class WorkerConnection {
  private readonly worker: SimulatorWorker;
  private readonly pending = new Map<number, (o: Outcome) => void>();
  closed = false;

  constructor(createWorker: WorkerFactory) {
    this.worker = createWorker({
      message: (m: WorkerResponse) => {
        const resolve = this.pending.get(m.id);
        this.pending.delete(m.id);
        resolve?.(m);
      },
      // A crash (an exception outside the request handler, out of memory, a script that does not
      // load) fails what is pending; the worker is not used again.
      error: (message) => {
        this.close({ kind: 'error', message });
        this.worker.terminate();
      },
      exit: (code) => this.close(code === 0 ? { kind: 'cancelled' } : { kind: 'error', message: `the simulator worker stopped (exit code ${code})` }),
    });
  }

  get busy(): boolean {
    return this.pending.size > 0;
  }

  has(id: number): boolean {
    return this.pending.has(id);
  }

  request(req: WorkerRequest): Promise<Outcome> {
    if (this.closed) return Promise.resolve({ kind: 'cancelled' });
    return new Promise((resolve) => {
      this.pending.set(req.id, resolve);
      this.worker.postMessage(req);
    });
  }

  terminate(): void {
    this.close({ kind: 'cancelled' });
    this.worker.terminate();
  }

  private close(outcome: Omit<Extract<Outcome, { kind: 'error' }>, 'id'> | { kind: 'cancelled' }): void {
    this.closed = true;
    const waiting = [...this.pending.entries()];
    this.pending.clear();
    for (const [id, resolve] of waiting) resolve(outcome.kind === 'error' ? { ...outcome, id } : outcome);
  }
}

interface Queued {
  body: TablesBody;
  lane: string | undefined;
  resolve: (o: Outcome) => void;
}

export class SimulatorClient implements vscode.Disposable {
  private nextId = 1;
  private runConn: WorkerConnection | undefined;
  private tablesConn: WorkerConnection | undefined;
  private readonly tablesQueue: Queued[] = [];
  private tablesBusy = false;
  private disposed = false;

  /** `createWorker` starts a fresh worker: at the first request, and after one was terminated. */
  constructor(private readonly createWorker: WorkerFactory) {}

  /** Runs a scenario (or its `compare:` variants). A run still in flight is abandoned: its worker is
   *  terminated and its promise resolves to `cancelled`. */
  run(body: RunBody, token?: vscode.CancellationToken): Promise<Outcome> {
    if (this.disposed) return Promise.resolve({ kind: 'cancelled' });
    if (this.runConn?.busy) this.dropRunWorker();
    if (!this.runConn || this.runConn.closed) this.runConn = new WorkerConnection(this.createWorker);
    const conn = this.runConn;
    const id = this.nextId++;
    const done = conn.request({ ...body, id } as WorkerRequest);
    if (token) {
      const sub = token.onCancellationRequested(() => {
        if (conn.has(id) && this.runConn === conn) this.dropRunWorker();
      });
      void done.then(() => sub.dispose());
    }
    return done;
  }

  /** The shadow tables after a step. Requests are answered in order, one at a time; a request in a
   *  `lane` replaces that lane's request still waiting (the panel wants only the step shown last). */
  tables(body: TablesBody, lane?: string): Promise<Outcome> {
    if (this.disposed) return Promise.resolve({ kind: 'cancelled' });
    return new Promise((resolve) => {
      if (lane !== undefined) {
        for (let i = this.tablesQueue.length - 1; i >= 0; i--) {
          if (this.tablesQueue[i]!.lane === lane) this.tablesQueue.splice(i, 1)[0]!.resolve({ kind: 'cancelled' });
        }
      }
      this.tablesQueue.push({ body, lane, resolve });
      this.pump();
    });
  }

  private pump(): void {
    if (this.tablesBusy || this.disposed) return;
    const next = this.tablesQueue.shift();
    if (!next) return;
    if (!this.tablesConn || this.tablesConn.closed) this.tablesConn = new WorkerConnection(this.createWorker);
    this.tablesBusy = true;
    void this.tablesConn.request({ ...next.body, kind: 'tables', id: this.nextId++ }).then((o) => {
      this.tablesBusy = false;
      next.resolve(o);
      this.pump();
    });
  }

  private dropRunWorker(): void {
    this.runConn?.terminate();
    this.runConn = undefined;
  }

  dispose(): void {
    this.disposed = true;
    this.dropRunWorker();
    this.tablesConn?.terminate();
    this.tablesConn = undefined;
    for (const q of this.tablesQueue.splice(0)) q.resolve({ kind: 'cancelled' });
  }
}
