// Issue 14 items 9 and 10 on the host's own code, with a fake `vscode`: Problems (diagnostics.ts)
// and the Testing view (testing.ts) get a scenario's problems and expectations from the client's
// check worker, never by parsing on the host thread; an answer for a version of the document that
// is no longer current is dropped; discovery stats a file before reading it and does not read one
// over the size limit; "(and N more)" counts the problems the capped list stands for; closing the
// panel cancels the run in flight (run_command.ts). On main the host parsed itself (no check was
// asked for), read every file whole, counted the cap entry as one problem, and let the run go on.
import { beforeEach, describe, expect, it, vi } from 'vitest';

type Listener = (...args: unknown[]) => void;
const listeners = new Map<string, Listener[]>();
const on = (name: string) => (f: Listener) => {
  listeners.set(name, [...(listeners.get(name) ?? []), f]);
  return { dispose: () => undefined };
};
const published = new Map<string, { message: string; range: { start: { line: number; character: number } } }[]>();
const fsCalls: string[] = [];
const textDocuments: FakeDoc[] = [];
let statSize = 0;
let found: FakeUri[] = [];

interface FakeUri {
  scheme: string;
  path: string;
  toString(): string;
}
interface FakeDoc {
  uri: FakeUri;
  version: number;
  isClosed: boolean;
  isUntitled: boolean;
  lineCount: number;
  getText(): string;
  lineAt(l: number): { text: string };
}

interface FakeItem {
  id: string;
  label: string;
  error: string | undefined;
  range: unknown;
  description?: string;
  children: FakeItems;
}
class FakeItems {
  readonly map = new Map<string, FakeItem>();
  get(id: string) {
    return this.map.get(id);
  }
  add(i: FakeItem) {
    this.map.set(i.id, i);
  }
  delete(id: string) {
    this.map.delete(id);
  }
  replace(items: FakeItem[]) {
    this.map.clear();
    items.forEach((i) => this.add(i));
  }
  forEach(f: (i: FakeItem) => void) {
    this.map.forEach((i) => f(i));
  }
}
const controller = { items: new FakeItems(), resolveHandler: undefined as undefined | ((i?: unknown) => Promise<void>) };

vi.mock('vscode', () => {
  const uri = (s: string): FakeUri => ({ scheme: s.split(':')[0]!, path: s.replace(/^[a-z-]+:\/\/[^/]*/, ''), toString: () => s });
  class Range {
    start: { line: number; character: number };
    end: { line: number; character: number };
    constructor(a: number, b: number, c: number, d: number) {
      this.start = { line: a, character: b };
      this.end = { line: c, character: d };
    }
  }
  class Diagnostic {
    source?: string;
    code?: string;
    constructor(
      public range: Range,
      public message: string,
    ) {}
  }
  class CancellationTokenSource {
    private fs: (() => void)[] = [];
    token = {
      isCancellationRequested: false,
      onCancellationRequested: (f: () => void) => (this.fs.push(f), { dispose: () => undefined }),
    };
    cancel() {
      this.token.isCancellationRequested = true;
      this.fs.forEach((f) => f());
    }
    dispose() {}
  }
  const disposable = { dispose: () => undefined };
  return {
    Uri: { parse: uri },
    Range,
    Diagnostic,
    DiagnosticSeverity: { Error: 0 },
    CancellationTokenSource,
    ProgressLocation: { Window: 10, Notification: 15 },
    TestRunProfileKind: { Run: 1 },
    TestMessage: class {
      constructor(public message: string) {}
    },
    Location: class {},
    languages: {
      createDiagnosticCollection: () => ({
        set: (u: FakeUri, d: never[]) => published.set(u.toString(), d),
        delete: (u: FakeUri) => published.delete(u.toString()),
        dispose: () => undefined,
      }),
    },
    tests: {
      createTestController: () => ({
        ...controller,
        get items() {
          return controller.items;
        },
        set resolveHandler(f: (i?: unknown) => Promise<void>) {
          controller.resolveHandler = f;
        },
        createRunProfile: () => disposable,
        createTestItem: (id: string, label: string): FakeItem => ({ id, label, error: undefined, range: undefined, children: new FakeItems() }),
        dispose: () => undefined,
      }),
    },
    window: {
      withProgress: async (_o: unknown, task: (p: unknown, t: unknown) => Promise<unknown>) =>
        task({ report: () => undefined }, { isCancellationRequested: false, onCancellationRequested: () => disposable }),
    },
    workspace: {
      textDocuments,
      onDidOpenTextDocument: on('open'),
      onDidChangeTextDocument: on('change'),
      onDidCloseTextDocument: on('close'),
      onDidChangeConfiguration: on('config'),
      getConfiguration: () => ({ get: (_k: string, d: unknown) => d }),
      createFileSystemWatcher: () => ({ onDidCreate: on('fcreate'), onDidChange: on('fchange'), onDidDelete: on('fdelete'), dispose: () => undefined }),
      findFiles: async () => found,
      fs: {
        stat: async (u: FakeUri) => (fsCalls.push(`stat ${u.toString()}`), { type: 1, size: statSize }),
        readFile: async (u: FakeUri) => (fsCalls.push(`readFile ${u.toString()}`), new TextEncoder().encode('x'.repeat(statSize))),
      },
      openTextDocument: async (u: FakeUri) => textDocuments.find((d) => d.uri.toString() === u.toString()),
    },
  };
});

const { ScenarioDiagnostics } = await import('../extension/diagnostics');
const { ScenarioTests } = await import('../extension/testing');
const { problemCount } = await import('../simulator/scenario/diagnostic_cap');
const { ScenarioRunner } = await import('../extension/run_command');
const { parseScenario } = await import('../simulator/index');
const { MAX_FILE_BYTES, fileSizeProblem } = await import('../simulator/scenario/file_size');
import type { CheckOutcome } from '../extension/simulator_client';
import type { ScenarioSource } from '../extension/worker/requests';

const URI = 'file:///ws/a.mmio.yaml';

function doc(text: string, uri = URI): FakeDoc {
  const lines = text.split('\n');
  return {
    uri: { scheme: 'file', path: uri.replace('file://', ''), toString: () => uri },
    version: 1,
    isClosed: false,
    isUntitled: false,
    lineCount: lines.length,
    getText: () => text,
    lineAt: (l) => ({ text: lines[l] ?? '' }),
  };
}

/** A client whose checks wait until the test answers them. */
function fakeChecker() {
  const asked: { source: ScenarioSource; lane: string; answer: (o: CheckOutcome) => void }[] = [];
  const client = {
    check: (source: ScenarioSource, lane: string) => new Promise<CheckOutcome>((answer) => asked.push({ source, lane, answer })),
  };
  return { client, asked };
}

const problem = (message: string, line = 2, col = 1) => ({ file: 'a.mmio.yaml', line, col, endLine: line, endCol: col + 3, message });
const settle = () => new Promise((r) => setTimeout(r, 0));
const store = { onDidRecord: () => ({ dispose: () => undefined }), isFresh: () => false };

beforeEach(() => {
  listeners.clear();
  published.clear();
  fsCalls.length = 0;
  textDocuments.length = 0;
  controller.items = new FakeItems();
  found = [];
  statSize = 0;
});

describe('Problems while typing', () => {
  it('come from the client\'s check, not from a parse on the host', async () => {
    const d = doc('memslots: 1\n');
    textDocuments.push(d);
    const { client, asked } = fakeChecker();
    const diags = new ScenarioDiagnostics(store as never, client as never);
    await settle();
    expect(asked.map((a) => a.source.text)).toEqual(['memslots: 1\n']);
    expect(published.get(URI) ?? []).toEqual([]); // nothing until the worker answers
    asked[0]!.answer({ id: 1, kind: 'checked', diagnostics: [problem('from the worker')], expectations: null });
    await settle();
    expect(published.get(URI)?.map((x) => x.message)).toEqual(['from the worker']);
    diags.dispose();
  });

  it('an answer for a version no longer current is dropped', async () => {
    const d = doc('memslots: 1\n');
    textDocuments.push(d);
    const { client, asked } = fakeChecker();
    const diags = new ScenarioDiagnostics(store as never, client as never);
    d.version = 2; // typed while the check ran
    asked[0]!.answer({ id: 1, kind: 'checked', diagnostics: [problem('stale')], expectations: null });
    await settle();
    expect(published.get(URI)).toBeUndefined();
    diags.dispose();
  });
});

describe('the Testing view', () => {
  it('takes an open scenario\'s expectations from the client\'s check', async () => {
    textDocuments.push(doc('name: x\nexpect:\n  exits.EPT_MISCONFIG: 999\n'));
    const { client, asked } = fakeChecker();
    const tests = new ScenarioTests({} as never, client as never);
    await settle();
    expect(asked).toHaveLength(1);
    expect(controller.items.get(URI)).toBeUndefined();
    asked[0]!.answer({ id: 1, kind: 'checked', diagnostics: [], expectations: [{ path: 'exits.EPT_MISCONFIG', text: '999', line: 3, col: 3 }] });
    await settle();
    const item = controller.items.get(URI)!;
    expect(item.error).toBeUndefined();
    expect([...item.children.map.keys()]).toEqual([`${URI}::exits.EPT_MISCONFIG`]);
    tests.dispose();
  });

  it('"(and N more)" counts the problems the capped list stands for', async () => {
    textDocuments.push(doc('expect:\n  x: 1\n'));
    const { client, asked } = fakeChecker();
    const tests = new ScenarioTests({} as never, client as never);
    await settle();
    const capped = [...Array.from({ length: 100 }, (_, i) => problem(`p${i}`, i + 1)), problem('and 50 more problems (only the first 100 are reported)', 101)];
    asked[0]!.answer({ id: 1, kind: 'checked', diagnostics: capped, expectations: null });
    await settle();
    expect(controller.items.get(URI)!.error).toBe('a.mmio.yaml:1:1: p0 (and 149 more)');
    tests.dispose();
  });

  it('problemCount reads the parser\'s own cap entry', () => {
    const keys = (n: number) => Array.from({ length: n }, (_, i) => `bogus_key_${i}: 1`).join('\n') + '\n';
    const few = parseScenario(keys(3), 'a.mmio.yaml'); // one problem per key, and the missing keys'
    const many = parseScenario(keys(150), 'a.mmio.yaml');
    if (!('diagnostics' in few) || !('diagnostics' in many)) throw new Error('expected problems');
    expect(few.diagnostics.length).toBeLessThan(100);
    expect(many.diagnostics.length).toBe(101);
    expect(problemCount(few.diagnostics)).toBe(few.diagnostics.length);
    expect(problemCount(many.diagnostics)).toBe(few.diagnostics.length + 147);
    expect(problemCount([problem('one'), problem('two')])).toBe(2);
  });

  it('an open document over the size limit keeps an item with the size problem, without a text search', async () => {
    const json = 'file:///ws/big.mmio.json';
    textDocuments.push(doc(`[${'1,'.repeat(MAX_FILE_BYTES / 2)}1]`, json));
    const { client, asked } = fakeChecker();
    const tests = new ScenarioTests({} as never, client as never);
    await settle();
    const parse = vi.spyOn(JSON, 'parse');
    asked[0]!.answer({ id: 1, kind: 'checked', diagnostics: [problem(fileSizeProblem(MAX_FILE_BYTES + 3)!, 1)], expectations: null });
    await settle();
    expect(parse).not.toHaveBeenCalled();
    parse.mockRestore();
    expect(controller.items.get(json)!.error).toBe(`big.mmio.json:1:1: ${fileSizeProblem(MAX_FILE_BYTES + 3)}`);
    tests.dispose();
  });

  it('discovery stats a file first and does not read one over the size limit', async () => {
    const big = 'file:///ws/big.mmio.yaml';
    found = [{ scheme: 'file', path: '/ws/big.mmio.yaml', toString: () => big }];
    statSize = MAX_FILE_BYTES + 1;
    const { client, asked } = fakeChecker();
    const tests = new ScenarioTests({} as never, client as never);
    await controller.resolveHandler!(undefined);
    expect(fsCalls).toEqual([`stat ${big}`]);
    expect(asked).toHaveLength(0);
    expect(controller.items.get(big)!.error).toBe(`big.mmio.yaml:1:1: ${fileSizeProblem(MAX_FILE_BYTES + 1)}`);
    tests.dispose();
  });

  it('a file within the limit is read and checked', async () => {
    const small = 'file:///ws/small.mmio.yaml';
    found = [{ scheme: 'file', path: '/ws/small.mmio.yaml', toString: () => small }];
    statSize = 10;
    const { client, asked } = fakeChecker();
    const tests = new ScenarioTests({} as never, client as never);
    const discovering = controller.resolveHandler!(undefined);
    await settle();
    expect(fsCalls).toEqual([`stat ${small}`, `readFile ${small}`]);
    asked[0]!.answer({ id: 1, kind: 'cancelled' } as never);
    await discovering;
    tests.dispose();
  });
});

describe('closing the panel mid-run', () => {
  it('cancels the run: its token fires, the run ends as cancelled, the status bar is reset', async () => {
    textDocuments.push(doc('name: x\n'));
    let closePanel: (() => void) | undefined;
    const panel = { open: () => undefined, setStatus: vi.fn(), onDidClose: (f: () => void) => ((closePanel = f), { dispose: () => undefined }) };
    let cancelled = false;
    const client = {
      run: (_b: unknown, token?: { onCancellationRequested(f: () => void): unknown }) =>
        new Promise((resolve) => token?.onCancellationRequested(() => ((cancelled = true), resolve({ kind: 'cancelled' })))),
    };
    const statusBar = { setRunning: vi.fn() };
    const runner = new ScenarioRunner(client as never, {} as never, panel as never, {} as never, statusBar as never, {} as never);
    const run = runner.run(textDocuments[0]!.uri as never);
    await settle();
    expect(closePanel).toBeDefined();
    closePanel!();
    await run;
    expect(cancelled).toBe(true);
    expect(statusBar.setRunning).toHaveBeenLastCalledWith(undefined);
    expect(panel.setStatus).toHaveBeenLastCalledWith('idle', 'Run of a.mmio.yaml cancelled');
  });
});
