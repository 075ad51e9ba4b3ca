// "Open as Text" and "Diff" for the shadow tables: read-only documents of the scheme
// `mmu-lab-tables` (URI format in tables_uri.ts), searchable and diffable with VS Code's own editors.
// The content is computed on the worker from the same text and settings as the scenario's last run
// (the simulator is deterministic), or from the document as it is now when there was no run.

import * as vscode from 'vscode';
import { lineSafe } from '../simulator/index';
import type { RunStore } from './run_store';
import { readScenarioText, sourceOf } from './scenario_files';
import type { SimulatorClient } from './simulator_client';
import type { ScenarioSource } from './worker/requests';
import { TABLES_SCHEME, baseName, parseTablesUriParts, stepText, tablesUriParts } from './tables_uri';
import { tablesDocumentText, unreadableText } from './tables_text';

export function tablesUri(scenario: string, step: number | null): vscode.Uri {
  return vscode.Uri.from({ scheme: TABLES_SCHEME, ...tablesUriParts(scenario, step) });
}

export class TablesDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly disposables: vscode.Disposable[];

  constructor(
    private readonly client: SimulatorClient,
    private readonly store: RunStore,
  ) {
    this.disposables = [
      vscode.workspace.registerTextDocumentContentProvider(TABLES_SCHEME, this),
      // A new run of the scenario may have changed its text or settings: refresh its open tables.
      store.onDidRecord((run) => {
        for (const doc of vscode.workspace.textDocuments) {
          if (doc.uri.scheme === TABLES_SCHEME && parseTablesUriParts(doc.uri)?.scenario === run.uri) this.changed.fire(doc.uri);
        }
      }),
    ];
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const where = parseTablesUriParts(uri);
    if (!where) return `Not an MMU Lab tables document: ${lineSafe(uri.toString())}\n`;
    const file = baseName(where.scenario);
    const scenarioUri = vscode.Uri.parse(where.scenario);
    let source: ScenarioSource;
    try {
      source = this.store.get(where.scenario)?.source ?? sourceOf(scenarioUri, await readScenarioText(scenarioUri));
    } catch (e) {
      return unreadableText(file, (e as Error).message);
    }
    return tablesDocumentText(file, where.scenario, where.step, source, await this.client.tables({ ...source, step: where.step }));
  }

  /** Opens the tables after `step` as a read-only text document in `column` (a preview tab). */
  async open(scenario: string, step: number | null, column: vscode.ViewColumn | undefined): Promise<void> {
    const doc = await vscode.workspace.openTextDocument(tablesUri(scenario, step));
    await vscode.window.showTextDocument(doc, { viewColumn: column, preview: true });
  }

  /** VS Code's diff editor on the tables after two steps. */
  async diff(scenario: string, from: number | null, to: number | null, column: vscode.ViewColumn | undefined): Promise<void> {
    const title = `${baseName(scenario)}: shadow tables ${stepText(from)} ↔ ${stepText(to)}`;
    const options: vscode.TextDocumentShowOptions = { viewColumn: column, preview: true };
    await vscode.commands.executeCommand('vscode.diff', tablesUri(scenario, from), tablesUri(scenario, to), title, options);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    this.changed.dispose();
  }
}
