// The scenarios' `expect:` blocks in VS Code's Testing view: controller `mmuLab` ("MMU Lab
// scenarios"), one item per workspace scenario that has `expect:`, a child per expectation at its
// line. Running an item runs the scenario on its own worker (the results panel is not involved, and
// a test run never replaces the panel's run) and reports each expectation passed or failed with
// the expected and actual values at its line; a scenario that cannot run errors with each problem
// at its place (errored, not failed: in the Testing API's terms it could not be executed at all).

import * as vscode from 'vscode';
import { DocumentDebouncer } from './debounce';
import { lineSafe, type Diagnostic as SimDiagnostic, type RunResult } from '../simulator/index';
import { problemCount } from '../simulator/scenario/diagnostic_cap';
import { MAX_FILE_BYTES } from '../simulator/scenario/file_size';
import { diagnosticRange, expectMessage } from './diagnostic_ranges';
import { SCENARIO_EXCLUDE, SCENARIO_GLOB, FileTooLargeError, fileName, hasTopLevelKey, isScenarioDocument, isScenarioUri, readScenarioText, sourceOf } from './scenario_files';
import type { SimulatorClient } from './simulator_client';

const DEBOUNCE_MS = 500;

function expectId(file: vscode.TestItem, path: string): string {
  return `${file.id}::${path}`;
}

function lineTextFrom(text: string): (line0: number) => string | undefined {
  const lines = text.split(/\r?\n/);
  return (l) => lines[l];
}

function problemMessages(uri: vscode.Uri, text: string, diags: SimDiagnostic[]): vscode.TestMessage[] {
  const lineText = lineTextFrom(text);
  return diags.map((d) => {
    const r = diagnosticRange(d, lineText);
    const m = new vscode.TestMessage(d.message);
    m.location = new vscode.Location(uri, new vscode.Range(r.startLine, r.startCol, r.endLine, r.endCol));
    return m;
  });
}

export class ScenarioTests implements vscode.Disposable {
  private readonly ctrl = vscode.tests.createTestController('mmuLab', 'MMU Lab scenarios');
  private readonly debouncer = new DocumentDebouncer(DEBOUNCE_MS);
  private readonly disposables: vscode.Disposable[];
  private discovered = false;

  /** The latest update asked for per item id: an older one that answers later is dropped. */
  private readonly updates = new Map<string, number>();
  private nextUpdate = 0;

  /** `client` runs the tests; `checker` parses (on its check worker, never on the host thread). */
  constructor(
    private readonly client: SimulatorClient,
    private readonly checker: SimulatorClient = client,
  ) {
    this.ctrl.resolveHandler = async (item) => {
      if (!item) await this.discover();
    };
    this.ctrl.refreshHandler = () => this.discover();
    this.ctrl.createRunProfile('Run', vscode.TestRunProfileKind.Run, (request, token) => this.runTests(request, token), true);
    const watcher = vscode.workspace.createFileSystemWatcher(SCENARIO_GLOB);
    this.disposables = [
      this.ctrl,
      watcher,
      watcher.onDidCreate((uri) => this.updateFromFile(uri)),
      watcher.onDidChange((uri) => this.updateFromFile(uri)),
      watcher.onDidDelete((uri) => this.ctrl.items.delete(uri.toString())),
      vscode.workspace.onDidOpenTextDocument((doc) => void this.updateFromDocument(doc)),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length > 0) this.schedule(e.document);
      }),
    ];
    // Open scenarios get their items at once (the gutter's run buttons), the rest when the Testing
    // view asks (resolveHandler).
    for (const doc of vscode.workspace.textDocuments) void this.updateFromDocument(doc);
  }

  private async discover(): Promise<void> {
    const uris = await vscode.workspace.findFiles(SCENARIO_GLOB, SCENARIO_EXCLUDE);
    const seen = new Set(uris.map((u) => u.toString()));
    await Promise.all(uris.map((u) => this.updateFromFile(u)));
    // Files gone while nothing watched them (open documents are kept: they may be outside the
    // search, e.g. excluded by files.exclude, and still be scenarios).
    const open = new Set(vscode.workspace.textDocuments.map((d) => d.uri.toString()));
    const gone: string[] = [];
    this.ctrl.items.forEach((item) => {
      if (!seen.has(item.id) && !open.has(item.id)) gone.push(item.id);
    });
    for (const id of gone) this.ctrl.items.delete(id);
    this.discovered = true;
  }

  private async updateFromFile(uri: vscode.Uri): Promise<void> {
    if (!isScenarioUri(uri)) return;
    let text: string;
    try {
      text = await readScenarioText(uri);
    } catch (e) {
      // A file over the size limit is not read: an item says why, as a parse of it would.
      if (e instanceof FileTooLargeError) {
        const file = this.itemOf(uri);
        file.error = `${fileName(uri)}:1:1: ${e.message}`;
        file.children.replace([]);
      } else this.ctrl.items.delete(uri.toString());
      return;
    }
    await this.update(uri, text);
  }

  private async updateFromDocument(doc: vscode.TextDocument): Promise<void> {
    // Untitled scenarios are not workspace files: they stay out of the Testing view.
    if (isScenarioDocument(doc) && !doc.isUntitled) await this.update(doc.uri, doc.getText(), doc);
  }

  private schedule(doc: vscode.TextDocument): void {
    if (!isScenarioDocument(doc) || doc.isUntitled) return;
    this.debouncer.schedule(doc, (d) => void this.updateFromDocument(d));
  }


  /** The file's item and its expectations from the text (parsed on the check worker); no item when
   *  the text has no `expect:`. A text that does not parse keeps an item (with the error) so that
   *  running it reports why. Undefined too when a newer update (or a newer version of `doc`)
   *  superseded this one. */
  private async update(uri: vscode.Uri, text: string, doc?: vscode.TextDocument): Promise<vscode.TestItem | undefined> {
    const id = uri.toString();
    const ticket = ++this.nextUpdate;
    this.updates.set(id, ticket);
    const version = doc?.version;
    const checked = await this.checker.check(sourceOf(uri, text), `tests ${id}`);
    if (checked.kind === 'cancelled' || this.updates.get(id) !== ticket || (doc && (doc.isClosed || doc.version !== version))) return undefined;
    const languageId = uri.path.endsWith('.json') ? 'json' : 'yaml';
    // The text search is cheap up to the size limit; an open document past it keeps an item with
    // the size problem, as a closed file that size does.
    const hasExpect = checked.expectations ? checked.expectations.length > 0 : text.length > MAX_FILE_BYTES || hasTopLevelKey(text, 'expect', languageId);
    if (!hasExpect) {
      this.ctrl.items.delete(id);
      return undefined;
    }
    const file = this.itemOf(uri);
    if (!checked.expectations) {
      const d = checked.diagnostics[0]!;
      const more = problemCount(checked.diagnostics) - 1;
      file.error = `${fileName(uri)}:${d.line}:${d.col}: ${d.message}${more > 0 ? ` (and ${more} more)` : ''}`;
      return file;
    }
    file.error = undefined;
    const children: vscode.TestItem[] = [];
    for (const e of checked.expectations) {
      const child = file.children.get(expectId(file, e.path)) ?? this.ctrl.createTestItem(expectId(file, e.path), e.path, uri);
      child.description = e.text;
      child.range = new vscode.Range(e.line - 1, e.col - 1, e.line - 1, e.col - 1 + e.path.length);
      children.push(child);
    }
    file.children.replace(children);
    return file;
  }

  /** The file's item, created when it has none. */
  private itemOf(uri: vscode.Uri): vscode.TestItem {
    const id = uri.toString();
    let file = this.ctrl.items.get(id);
    if (!file) {
      file = this.ctrl.createTestItem(id, fileName(uri), uri);
      this.ctrl.items.add(file);
    }
    file.range = new vscode.Range(0, 0, 0, 0);
    return file;
  }

  private async runTests(request: vscode.TestRunRequest, token: vscode.CancellationToken): Promise<void> {
    if (!request.include && !this.discovered) await this.discover();
    const excluded = new Set((request.exclude ?? []).map((t) => t.id));
    // The scenarios to run, each with the items of it that were asked for.
    const byFile = new Map<string, { file: vscode.TestItem; items: vscode.TestItem[] }>();
    const add = (item: vscode.TestItem) => {
      if (excluded.has(item.id)) return;
      const file = item.parent ?? item;
      const entry = byFile.get(file.id) ?? { file, items: [] };
      byFile.set(file.id, entry);
      const push = (i: vscode.TestItem) => {
        if (!excluded.has(i.id) && !entry.items.includes(i)) entry.items.push(i);
      };
      push(item);
      if (item === file) file.children.forEach(push);
    };
    if (request.include) request.include.forEach(add);
    else this.ctrl.items.forEach(add);

    const run = this.ctrl.createTestRun(request, undefined, true);
    for (const { items } of byFile.values()) items.forEach((i) => run.enqueued(i));
    try {
      for (const { file, items } of byFile.values()) {
        if (token.isCancellationRequested) {
          items.forEach((i) => run.skipped(i));
          continue;
        }
        await this.runFile(run, file, items, token);
      }
    } finally {
      run.end();
    }
  }

  private async runFile(run: vscode.TestRun, fileItem: vscode.TestItem, asked: vscode.TestItem[], token: vscode.CancellationToken): Promise<void> {
    const uri = fileItem.uri!;
    let text: string;
    try {
      text = await readScenarioText(uri);
    } catch (e) {
      asked.forEach((i) => run.errored(i, new vscode.TestMessage(`cannot read ${fileName(uri)}: ${(e as Error).message}`)));
      return;
    }
    // The expectations of the text being run (it may have changed since discovery).
    const file = (await this.update(uri, text)) ?? fileItem;
    const items = asked.map((i) => (i === fileItem ? file : (file.children.get(i.id) ?? i)));
    items.forEach((i) => run.started(i));
    const started = Date.now();
    const outcome = await this.client.run({ ...sourceOf(uri, text), kind: 'run', traceCapacity: 0 }, token);
    const duration = Date.now() - started;
    switch (outcome.kind) {
      case 'cancelled':
        items.forEach((i) => run.skipped(i));
        return;
      case 'error':
        items.forEach((i) => run.errored(i, new vscode.TestMessage(`The simulator failed: ${outcome.message}`), duration));
        return;
      case 'diagnostics': {
        const messages = problemMessages(uri, text, outcome.diagnostics);
        items.forEach((i) => run.errored(i, messages, duration));
        return;
      }
      case 'result':
        this.report(run, uri, text, file, items, outcome.result, duration);
        return;
    }
  }

  private report(run: vscode.TestRun, uri: vscode.Uri, text: string, file: vscode.TestItem, items: vscode.TestItem[], r: RunResult, duration: number): void {
    const lineText = lineTextFrom(text);
    const failed: vscode.TestMessage[] = [];
    const messageOf = new Map<string, vscode.TestMessage>();
    for (const e of r.expect) {
      if (e.ok) continue;
      const m = vscode.TestMessage.diff(expectMessage(e), e.expected, e.actual === null ? '(nothing)' : `${String(e.actual)}`);
      const line = e.line - 1;
      m.location = new vscode.Location(uri, new vscode.Range(line, e.col - 1, line, Math.max(e.col - 1, (lineText(line) ?? '').trimEnd().length)));
      failed.push(m);
      messageOf.set(expectId(file, e.path), m);
    }
    for (const item of items) {
      if (item === file) {
        if (failed.length === 0) run.passed(item, duration);
        else run.failed(item, failed, duration);
        continue;
      }
      const m = messageOf.get(item.id);
      if (m) run.failed(item, m, duration);
      else if (r.expect.some((e) => expectId(file, e.path) === item.id)) run.passed(item, duration);
      else run.errored(item, new vscode.TestMessage(`${item.label} is no longer an expectation of ${fileName(uri)}`));
    }
    const held = r.expect.filter((e) => e.ok).length;
    // The test output is a terminal: the file name is escaped (no raw ESC, CR or LF reaches it).
    run.appendOutput(`${lineSafe(fileName(uri))}: ${held} of ${r.expect.length} expectations hold (${duration} ms)\r\n`, undefined, file);
  }

  dispose(): void {
    this.debouncer.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
