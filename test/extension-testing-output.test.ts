// Issue 14 item 7, on the host's own code: the Test Results output is a terminal (xterm), and the
// line the Testing integration writes there names the scenario's file. A file name with ESC, CR or
// LF (legal on Linux) is written escaped, as one line. ScenarioTests runs with a fake `vscode`
// and a fake simulator client that runs the real simulator. On main the name went out raw.
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { parseScenario, runScenario } from '../simulator/index';
import { handleRequest, type ScenarioSource } from '../extension/worker/requests';

const FILE = 'evil\u001b]0;title\u0007\r\nforged\u202e.mmio.yaml';
const TEXT = readFileSync('examples/doorbell.mmio.yaml', 'utf8');
const output: string[] = [];
let runHandler: ((request: unknown, token: unknown) => Promise<void>) | undefined;
const disposable = { dispose: () => undefined };

interface Item {
  id: string;
  label: string;
  uri: unknown;
  parent?: Item;
  children: Collection;
}

class Collection {
  private readonly items = new Map<string, Item>();
  constructor(private readonly parent?: Item) {}
  get(id: string): Item | undefined {
    return this.items.get(id);
  }
  add(item: Item): void {
    item.parent = this.parent;
    this.items.set(item.id, item);
  }
  delete(id: string): void {
    this.items.delete(id);
  }
  replace(items: Item[]): void {
    this.items.clear();
    for (const i of items) this.add(i);
  }
  forEach(f: (i: Item) => void): void {
    [...this.items.values()].forEach(f);
  }
}

vi.mock('vscode', () => {
  const uri = { scheme: 'file', path: `/ws/${FILE}`, toString: () => `file:///ws/${encodeURIComponent(FILE)}` };
  const doc = { uri, isUntitled: false, languageId: 'yaml', getText: () => TEXT };
  const run = {
    enqueued: () => undefined,
    started: () => undefined,
    passed: () => undefined,
    failed: () => undefined,
    errored: () => undefined,
    skipped: () => undefined,
    end: () => undefined,
    appendOutput: (s: string) => void output.push(s),
  };
  const ctrl = {
    items: new Collection(),
    createTestItem: (id: string, label: string, u: unknown): Item => {
      const item = { id, label, uri: u } as Item;
      item.children = new Collection(item);
      return item;
    },
    createRunProfile: (_l: string, _k: number, h: typeof runHandler) => void (runHandler = h),
    createTestRun: () => run,
    dispose: () => undefined,
  };
  class TestMessage {
    location: unknown;
    constructor(readonly message: string) {}
    static diff(message: string): TestMessage {
      return new TestMessage(message);
    }
  }
  return {
    tests: { createTestController: () => ctrl },
    TestRunProfileKind: { Run: 1 },
    Range: class {},
    Location: class {},
    TestMessage,
    workspace: {
      textDocuments: [doc],
      createFileSystemWatcher: () => ({ onDidCreate: () => disposable, onDidChange: () => disposable, onDidDelete: () => disposable, dispose: () => undefined }),
      onDidOpenTextDocument: () => disposable,
      onDidChangeTextDocument: () => disposable,
      getConfiguration: () => ({ get: (_k: string, d: unknown) => d }),
      findFiles: async () => [uri],
    },
  };
});

const { ScenarioTests } = await import('../extension/testing');

describe('the Test Results output of a scenario whose file name holds control characters', () => {
  it('is one line, the name escaped, no raw ESC, BEL, CR, LF or U+202E', async () => {
    const client = {
      run: async (req: { text: string; file: string }) => {
        const p = parseScenario(req.text, req.file);
        if ('diagnostics' in p) throw new Error(p.diagnostics[0]!.message);
        return { kind: 'result', result: runScenario(p.scenario) };
      },
      // The Testing view's parse runs on the client's check worker: the worker's own handler here.
      check: async (source: Omit<ScenarioSource, 'kind'>) => handleRequest({ ...source, kind: 'check', id: 1 }),
    };
    const tests = new ScenarioTests(client as never);
    await runHandler!({ exclude: [] }, { isCancellationRequested: false });
    tests.dispose();
    expect(output).toHaveLength(1);
    expect(output[0]).toMatch(/^evil\\x1b\]0;title\\x07\\x0d\\x0aforged\\u202e\.mmio\.yaml: 4 of 4 expectations hold \(\d+ ms\)\r\n$/);
  });
});
