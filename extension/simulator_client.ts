// Runs simulator requests on a worker (a worker thread on dist/worker.js on Node, a Web Worker on
// dist/worker-web.js in VS Code for the Web: the entry passes its WorkerFactory), so that a long
// scenario never blocks the extension host. Re-running replaces the run in flight: its worker is terminated (a
// synchronous simulation cannot be interrupted any other way) and the next run starts on a fresh
// one. Cancelling a run does the same. Table requests go to a second, long-lived worker, so that
// scrubbing through steps in the panel does not kill a run, and a run does not kill them; checks
// (the parse behind Problems and the Testing view) to a third, so that typing never waits behind a
// run or a table and the host thread never parses.

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

type QueuedBody = Omit<Extract<WorkerRequest, { kind: 'tables' | 'check' }>, 'id'>;

interface Queued {
  body: QueuedBody;
  lane: string | undefined;
  resolve: (o: Outcome | { kind: 'timeout' }) => void;
}

/** A long-lived worker answering queued requests one at a time, in order; a request in a `lane`
 *  replaces that lane's request still waiting (only the latest one matters). With `timeoutMs`, a
 *  request not answered in time ends the worker (the next request starts a fresh one). */
class SerialWorker {
  private conn: WorkerConnection | undefined;
  private readonly queue: Queued[] = [];
  private busy = false;
  private disposed = false;

  constructor(
    private readonly createWorker: WorkerFactory,
    private readonly nextId: () => number,
    private readonly timeoutMs?: number,
  ) {}

  request(body: QueuedBody, lane: string | undefined): Promise<Outcome | { kind: 'timeout' }> {
    if (this.disposed) return Promise.resolve({ kind: 'cancelled' });
    return new Promise((resolve) => {
      if (lane !== undefined) {
        for (let i = this.queue.length - 1; i >= 0; i--) {
          if (this.queue[i]!.lane === lane) this.queue.splice(i, 1)[0]!.resolve({ kind: 'cancelled' });
        }
      }
      this.queue.push({ body, lane, resolve });
      this.pump();
    });
  }

  private pump(): void {
    if (this.busy || this.disposed) return;
    const next = this.queue.shift();
    if (!next) return;
    if (!this.conn || this.conn.closed) this.conn = new WorkerConnection(this.createWorker);
    const conn = this.conn;
    this.busy = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answered = conn.request({ ...next.body, id: this.nextId() } as WorkerRequest);
    const timedOut = new Promise<{ kind: 'timeout' }>((resolve) => {
      if (this.timeoutMs !== undefined) timer = setTimeout(() => resolve({ kind: 'timeout' }), this.timeoutMs);
    });
    void Promise.race([answered, timedOut]).then((o) => {
      clearTimeout(timer);
      if (o.kind === 'timeout') conn.terminate(); // a synchronous parse cannot be stopped otherwise
      this.busy = false;
      next.resolve(o);
      this.pump();
    });
  }

  dispose(): void {
    this.disposed = true;
    this.conn?.terminate();
    this.conn = undefined;
    for (const q of this.queue.splice(0)) q.resolve({ kind: 'cancelled' });
  }
}

/** What a check answers: the text's problems and expectations, or `cancelled` when a newer text
 *  of the same lane replaced it (or the client was disposed). */
export type CheckOutcome = Extract<WorkerResponse, { kind: 'checked' }> | { kind: 'cancelled' };

/** How long a check may take before its worker is ended. The parse is linear and bounded (1 MiB,
 *  100,000 alias nodes: docs/limits.md); a 1 MiB file takes a few seconds on a loaded machine. */
export const CHECK_TIMEOUT_MS = 30_000;

/** A check that did not finish: one problem at 1:1 that says why. */
function checkProblem(file: string, message: string): CheckOutcome {
  return { id: 0, kind: 'checked', diagnostics: [{ file, line: 1, col: 1, endLine: 1, endCol: 1, message }], expectations: null };
}

export class SimulatorClient implements vscode.Disposable {
  private nextId = 1;
  private runConn: WorkerConnection | undefined;
  private readonly tablesWorker: SerialWorker;
  private readonly checkWorker: SerialWorker;
  private disposed = false;

  /** `createWorker` starts a fresh worker: at the first request, and after one was terminated.
   *  `checkTimeoutMs` bounds a check (tests make it tiny). */
  constructor(
    private readonly createWorker: WorkerFactory,
    private readonly checkTimeoutMs = CHECK_TIMEOUT_MS,
  ) {
    const nextId = () => this.nextId++;
    this.tablesWorker = new SerialWorker(createWorker, nextId);
    this.checkWorker = new SerialWorker(createWorker, nextId, checkTimeoutMs);
  }

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
  async tables(body: TablesBody, lane?: string): Promise<Outcome> {
    const o = await this.tablesWorker.request({ ...body, kind: 'tables' }, lane);
    return o.kind === 'timeout' ? { kind: 'cancelled' } : o; // (tables have no time bound)
  }

  /** Parses a scenario on the checks' own worker (neither runs nor tables wait for it, nor it for
   *  them): its problems and expectations. A newer text in the same `lane` (one per document and
   *  user) replaces one still waiting. A check over the time bound ends its worker and answers one
   *  problem saying so; a worker that fails answers its message the same way. */
  async check(source: ScenarioSource, lane: string): Promise<CheckOutcome> {
    const o = await this.checkWorker.request({ ...source, kind: 'check' }, lane);
    switch (o.kind) {
      case 'checked':
      case 'cancelled':
        return o;
      case 'timeout':
        return checkProblem(source.file, `MMU Lab stopped checking this file after ${this.checkTimeoutMs / 1000} s (the limit for checking a scenario while you type); run it to see its problems`);
      case 'error':
        return checkProblem(source.file, `MMU Lab could not check this file: ${o.message.split('\n')[0]}`);
      default:
        return checkProblem(source.file, `MMU Lab could not check this file: unexpected answer ${o.kind}`);
    }
  }

  private dropRunWorker(): void {
    this.runConn?.terminate();
    this.runConn = undefined;
  }

  dispose(): void {
    this.disposed = true;
    this.dropRunWorker();
    this.tablesWorker.dispose();
    this.checkWorker.dispose();
  }
}
