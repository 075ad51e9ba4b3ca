// A status-bar item with the last run: `$(pulse) MMU Lab: 1,001 exits · mmio-cache · 15.2 ms`.
// Clicking it shows the results panel. It shows the active scenario's own run when it has one, and
// it is hidden when no scenario editor is active and nothing has run.

import * as vscode from 'vscode';
import { fmtCycles, fmtInt } from '../shared/format';
import type { RunResult } from '../simulator/index';
import { elapsedSeconds, fmtSeconds, statusText, totalExits } from './run_summary';
import type { RunStore } from './run_store';
import { isScenarioDocument } from './scenario_files';

function tooltip(file: string, r: RunResult): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  const mode = r.tdp ? 'EPT' : r.bypass_guest_pf ? 'shadow paging, bypass_guest_pf' : 'shadow paging';
  md.appendMarkdown(`**MMU Lab** · ${r.name}\n\n${file} · kernel ${r.kernel} · ${mode} · ${r.profile}\n\n`);
  md.appendMarkdown(`${fmtInt(totalExits(r))} exits · ${fmtSeconds(elapsedSeconds(r))} elapsed (${fmtCycles(r.cycles.elapsed)})\n\n`);
  const faults = Object.entries(r.faults).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  if (faults.length > 0) md.appendMarkdown(faults.map(([c, n]) => `\`${c}\` ${fmtInt(n)}`).join(' · ') + '\n\n');
  const failed = r.expect.filter((e) => !e.ok).length;
  if (r.expect.length > 0) md.appendMarkdown(failed === 0 ? `All ${r.expect.length} expectations hold.\n\n` : `$(error) ${failed} of ${r.expect.length} expectations fail.\n\n`);
  md.appendMarkdown('Click to show the results.');
  return md;
}

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
      item.tooltip = tooltip(run.file, run.result);
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
