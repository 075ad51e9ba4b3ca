// A status-bar item with the last run: `$(pulse) MMU Lab: 1,001 exits · mmio-cache · 15.2 ms`.
// Clicking it shows the results panel. It shows the active scenario's own run when it has one, and
// it is hidden when no scenario editor is active and nothing has run.

import * as vscode from 'vscode';
import { runTooltip, statusText } from './run_summary';
import type { RunStore } from './run_store';
import { isScenarioDocument } from './scenario_files';

export class RunStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('mmuLab.lastRun', vscode.StatusBarAlignment.Left, 50);
  private running: string | undefined;
  private readonly disposables: vscode.Disposable[];

  constructor(private readonly store: RunStore) {
    this.item.name = 'MMU Lab';
    this.disposables = [this.item, store.onDidRecord(() => this.update()), vscode.window.onDidChangeActiveTextEditor(() => this.update())];
    this.update();
  }

  /** A run of `file` is in flight (undefined: none). */
  setRunning(file: string | undefined): void {
    this.running = file;
    this.update();
  }

  update(): void {
    const doc = vscode.window.activeTextEditor?.document;
    const active = doc && isScenarioDocument(doc) ? doc : undefined;
    const run = (active && this.store.get(active.uri.toString())) ?? this.store.latest;
    const item = this.item;
    if (this.running) {
      item.text = `$(sync~spin) MMU Lab: running ${this.running}`;
      item.tooltip = 'MMU Lab: a scenario is running';
      item.command = 'mmuLab.showResults';
    } else if (run) {
      item.text = `$(pulse) MMU Lab: ${statusText(run.result)}`;
      // Theme icons on, trust off: the text from the scenario is escaped (runTooltip).
      item.tooltip = new vscode.MarkdownString(runTooltip(run.file, run.result), true);
      item.command = 'mmuLab.showResults';
    } else if (active) {
      item.text = '$(pulse) MMU Lab';
      item.tooltip = 'MMU Lab: run this scenario';
      item.command = { title: 'Run MMIO Scenario', command: 'mmuLab.runScenario', arguments: [active.uri] };
    } else {
      item.hide();
      return;
    }
    item.show();
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
