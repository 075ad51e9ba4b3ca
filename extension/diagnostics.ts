// Problems in scenario documents, in the 'mmu-lab' diagnostic collection: parse errors while typing
// (debounced, parsed on the client's check worker, never on the host thread: a 1 MiB file takes
// seconds to parse, and this thread handles typing), and after a run the
// problems of the run itself: a VM that cannot be built, and failed `expect` entries at their keys.
// Run problems are dropped as soon as the document is edited (their lines no longer match).

import * as vscode from 'vscode';
import { DocumentDebouncer } from './debounce';
import type { Diagnostic as SimDiagnostic, ExpectResult } from '../simulator/index';
import { diagnosticRange, expectMessage, expectRange, type Range0 } from './diagnostic_ranges';
import type { RunStore } from './run_store';
import { isScenarioDocument, scenarioSource } from './scenario_files';
import type { SimulatorClient } from './simulator_client';

const DEBOUNCE_MS = 300;
const SOURCE = 'mmu-lab';

function toRange(r: Range0): vscode.Range {
  return new vscode.Range(r.startLine, r.startCol, r.endLine, r.endCol);
}

function lineTextOf(uri: vscode.Uri): (line0: number) => string | undefined {
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  return (l) => (doc && l >= 0 && l < doc.lineCount ? doc.lineAt(l).text : undefined);
}

export function toVscodeDiagnostic(d: SimDiagnostic, lineText: (line0: number) => string | undefined): vscode.Diagnostic {
  const out = new vscode.Diagnostic(toRange(diagnosticRange(d, lineText)), d.message, vscode.DiagnosticSeverity.Error);
  out.source = SOURCE;
  return out;
}

export class ScenarioDiagnostics implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection(SOURCE);
  private readonly parse = new Map<string, vscode.Diagnostic[]>();
  private readonly run = new Map<string, vscode.Diagnostic[]>();
  private readonly debouncer = new DocumentDebouncer(DEBOUNCE_MS);
  private readonly disposables: vscode.Disposable[];

  constructor(
    store: RunStore,
    private readonly client: SimulatorClient,
  ) {
    this.disposables = [
      this.collection,
      vscode.workspace.onDidOpenTextDocument((doc) => void this.check(doc)),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (!isScenarioDocument(e.document) || e.contentChanges.length === 0) return;
        this.clearRun(e.document.uri);
        this.schedule(e.document);
      }),
      vscode.workspace.onDidCloseTextDocument((doc) => this.forget(doc.uri)),
      // The default kernel changes what a scenario without `kernel:` means.
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('mmuLab.defaultKernel')) for (const doc of vscode.workspace.textDocuments) void this.check(doc);
      }),
      store.onDidRecord((run) => {
        const uri = vscode.Uri.parse(run.uri);
        // Expectations apply to the text that ran only (which has no parse errors); the user may
        // have typed since, and then the parse errors of the new text stand.
        if (store.isFresh(run.uri)) {
          this.parse.set(run.uri, []);
          this.setExpectations(uri, run.result.expect);
        } else this.run.delete(run.uri);
        this.publish(uri);
      }),
    ];
    for (const doc of vscode.workspace.textDocuments) void this.check(doc);
  }

  /** Checks a scenario document now (on the worker) and shows its parse errors, unless the
   *  document changed or closed meanwhile (the newer text's check shows its own). */
  async check(doc: vscode.TextDocument): Promise<void> {
    if (!isScenarioDocument(doc)) return;
    const key = doc.uri.toString();
    this.debouncer.cancel(doc.uri);
    const version = doc.version;
    const checked = await this.client.check(scenarioSource(doc), `problems ${key}`);
    if (checked.kind === 'cancelled' || doc.isClosed || doc.version !== version) return;
    const lineText = (l: number) => (l < doc.lineCount ? doc.lineAt(l).text : undefined);
    this.parse.set(key, checked.diagnostics.map((d) => toVscodeDiagnostic(d, lineText)));
    this.publish(doc.uri);
  }

  /** The problems a run reported instead of a result (parse errors, or a VM that cannot be built). */
  setRunProblems(uri: vscode.Uri, diagnostics: SimDiagnostic[]): void {
    const lineText = lineTextOf(uri);
    this.run.set(uri.toString(), diagnostics.map((d) => toVscodeDiagnostic(d, lineText)));
    this.publish(uri);
  }

  private setExpectations(uri: vscode.Uri, expect: ExpectResult[]): void {
    const lineText = lineTextOf(uri);
    this.run.set(
      uri.toString(),
      expect
        .filter((e) => !e.ok)
        .map((e) => {
          const d = new vscode.Diagnostic(toRange(expectRange(e, lineText)), expectMessage(e), vscode.DiagnosticSeverity.Error);
          d.source = SOURCE;
          d.code = 'expect';
          return d;
        }),
    );
  }

  private schedule(doc: vscode.TextDocument): void {
    this.debouncer.schedule(doc, (d) => void this.check(d));
  }


  private clearRun(uri: vscode.Uri): void {
    if (this.run.delete(uri.toString())) this.publish(uri);
  }

  private forget(uri: vscode.Uri): void {
    const key = uri.toString();
    this.debouncer.cancel(uri);
    this.parse.delete(key);
    this.run.delete(key);
    this.collection.delete(uri);
  }

  /** Parse and run problems together; a run's parse errors are the ones the host found too. */
  private publish(uri: vscode.Uri): void {
    const key = uri.toString();
    const seen = new Set<string>();
    const all: vscode.Diagnostic[] = [];
    for (const d of [...(this.parse.get(key) ?? []), ...(this.run.get(key) ?? [])]) {
      const id = `${d.range.start.line}:${d.range.start.character}:${d.message}`;
      if (seen.has(id)) continue;
      seen.add(id);
      all.push(d);
    }
    this.collection.set(uri, all);
  }

  dispose(): void {
    this.debouncer.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
