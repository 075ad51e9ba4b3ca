// The runs the user started, by scenario: what the panel, the after-line text, the status bar, the
// diagnostics of failed expectations and the tables documents show. A run goes stale when its
// document is edited (its line numbers no longer match the text). Only the latest run keeps its
// trace events (up to mmuLab.traceBufferSize of them, tens of megabytes): older runs keep the rest
// of their result, which is small. The last run's URI is also kept in the workspace's state: after
// a restart it is the one scenario a restored panel may run again (restore_uri.ts).

import * as vscode from 'vscode';
import type { CompareResult, RunResult } from '../simulator/index';
import type { ScenarioSource } from './worker/requests';

export type RunSource = ScenarioSource & { traceCapacity: number };

export interface ScenarioRun {
  /** The scenario document's URI string. */
  uri: string;
  file: string;
  /** What the run was made from: the tables of any step are computed from the same text and settings. */
  source: RunSource;
  result: RunResult;
  compare: CompareResult | null;
}

/** The workspaceState key of the last run's scenario URI. */
const LAST_RUN_KEY = 'mmuLab.lastRunUri';

export class RunStore implements vscode.Disposable {
  private readonly runs = new Map<string, ScenarioRun>();
  private last: ScenarioRun | undefined;
  /** Scenarios edited since their run. */
  private readonly stale = new Set<string>();
  private readonly didRecord = new vscode.EventEmitter<ScenarioRun>();
  private readonly didGoStale = new vscode.EventEmitter<string>();
  private readonly subscription: vscode.Disposable;
  /** A run finished (fired after `latest` is updated). */
  readonly onDidRecord = this.didRecord.event;
  /** A scenario with a run was edited: its line-based results no longer apply. */
  readonly onDidGoStale = this.didGoStale.event;

  constructor(private readonly workspaceState: vscode.Memento) {
    this.subscription = vscode.workspace.onDidChangeTextDocument((e) => {
      const uri = e.document.uri.toString();
      if (e.contentChanges.length === 0 || !this.runs.has(uri) || this.stale.has(uri)) return;
      this.stale.add(uri);
      this.didGoStale.fire(uri);
    });
  }

  get latest(): ScenarioRun | undefined {
    return this.last;
  }

  get(uri: string): ScenarioRun | undefined {
    return this.runs.get(uri);
  }

  /** This host ran the scenario: in this session, or it was the last run before a restart. */
  wasRecorded(uri: string): boolean {
    return this.runs.has(uri) || this.workspaceState.get<string>(LAST_RUN_KEY) === uri;
  }

  /** The scenario's text is still the one its last run was made from. */
  isFresh(uri: string): boolean {
    return this.runs.has(uri) && !this.stale.has(uri);
  }

  record(run: ScenarioRun): void {
    const prev = this.last;
    if (prev && prev.uri !== run.uri) {
      const kept = this.runs.get(prev.uri);
      if (kept) this.runs.set(prev.uri, { ...kept, result: { ...kept.result, trace: { ...kept.result.trace, events: [] } } });
    }
    this.runs.set(run.uri, run);
    this.last = run;
    void this.workspaceState.update(LAST_RUN_KEY, run.uri);
    // The user may have typed while it ran: then it is stale from the start.
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === run.uri);
    if (doc && doc.getText() !== run.source.text) this.stale.add(run.uri);
    else this.stale.delete(run.uri);
    void vscode.commands.executeCommand('setContext', 'mmuLab.hasRun', true);
    this.didRecord.fire(run);
  }

  dispose(): void {
    this.subscription.dispose();
    this.didRecord.dispose();
    this.didGoStale.dispose();
  }
}
