// "MMU Lab: Export Trace": the last run's trace events (the last mmuLab.traceBufferSize of them) as
// JSON, CSV, a Chrome trace for Perfetto or trace-cmd report text, or the run's cycles per call path
// as folded stacks, written where the user says (trace_export.ts has the formats).

import * as vscode from 'vscode';
import { fmtInt } from '../shared/format';
import type { RunStore } from './run_store';
import { exportFileName, flameToFolded, traceToChromeTrace, traceToCsv, traceToJson, traceToTraceCmd } from './trace_export';

type Format = 'json' | 'csv' | 'chrome' | 'trace-cmd' | 'folded';

const FORMATS: { format: Format; label: string; description: string; suffix: string; filters: Record<string, string[]> }[] = [
  { format: 'json', label: 'JSON', description: 'The events as the simulator reports them', suffix: '.trace.json', filters: { JSON: ['json'] } },
  { format: 'csv', label: 'CSV', description: 'One row per event, for spreadsheets', suffix: '.trace.csv', filters: { CSV: ['csv'] } },
  {
    format: 'chrome',
    label: 'Chrome trace (Perfetto)',
    description: 'One track per vCPU, each VM exit a slice: open it in ui.perfetto.dev',
    suffix: '.chrome-trace.json',
    filters: { 'Chrome trace': ['json'] },
  },
  {
    format: 'trace-cmd',
    label: 'trace-cmd report (text)',
    description: "The kernel's tracepoints in the era's print formats, to diff against trace-cmd report",
    suffix: '.trace-cmd.txt',
    filters: { Text: ['txt'] },
  },
  {
    format: 'folded',
    label: 'Folded stacks',
    description: 'Cycles per kernel call path, for flamegraph.pl, speedscope or inferno',
    suffix: '.folded',
    filters: { 'Folded stacks': ['folded', 'txt'] },
  },
];

export async function exportTrace(store: RunStore): Promise<void> {
  const run = store.latest;
  if (!run) {
    const runIt = 'Run MMIO Scenario';
    const choice = await vscode.window.showInformationMessage('MMU Lab: nothing to export yet: run a scenario first.', runIt);
    if (choice === runIt) await vscode.commands.executeCommand('mmuLab.runScenario');
    return;
  }
  const r = run.result;
  const picked = await vscode.window.showQuickPick(FORMATS, { title: `MMU Lab: Export Trace of ${run.file}`, placeHolder: 'Format' });
  if (!picked) return;
  // The folded stacks come from the whole run's cycles, not from the trace buffer.
  if (picked.format !== 'folded' && r.trace.events.length === 0) {
    const open = 'Open Settings';
    const choice = await vscode.window.showWarningMessage(
      `MMU Lab: the run of ${run.file} kept no trace events (mmuLab.traceBufferSize is ${run.source.traceCapacity}).`,
      open,
    );
    if (choice === open) await vscode.commands.executeCommand('workbench.action.openSettings', 'mmuLab.traceBufferSize');
    return;
  }

  const name = exportFileName(run.file, picked.suffix);
  const scenario = vscode.Uri.parse(run.uri);
  const folder = scenario.scheme === 'untitled' ? vscode.workspace.workspaceFolders?.[0]?.uri : vscode.Uri.joinPath(scenario, '..');
  const target = await vscode.window.showSaveDialog({
    title: 'MMU Lab: Export Trace',
    saveLabel: 'Export',
    defaultUri: folder ? vscode.Uri.joinPath(folder, name) : undefined,
    filters: picked.filters,
  });
  if (!target) return;

  const text =
    picked.format === 'json'
      ? traceToJson(r)
      : picked.format === 'csv'
        ? traceToCsv(r)
        : picked.format === 'trace-cmd'
          ? traceToTraceCmd(r)
          : picked.format === 'folded'
            ? flameToFolded(r)
            : JSON.stringify(traceToChromeTrace(r));
  try {
    await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(text));
  } catch (e) {
    void vscode.window.showErrorMessage(`MMU Lab: cannot write ${target.fsPath || target.toString()}: ${(e as Error).message}`);
    return;
  }
  const dropped = r.trace.dropped > 0 ? ` The run's first ${fmtInt(r.trace.dropped)} events were not kept (raise mmuLab.traceBufferSize to keep more).` : '';
  const actions = picked.format === 'chrome' ? ['Open Perfetto', 'Open File'] : ['Open File'];
  const what = picked.format === 'folded' ? `${fmtInt(r.cycles.total)} cycles as folded stacks` : `${fmtInt(r.trace.events.length)} events`;
  const choice = await vscode.window.showInformationMessage(`MMU Lab: exported ${what} to ${target.path.split('/').pop()}.${picked.format === 'folded' ? '' : dropped}`, ...actions);
  if (choice === 'Open File') await vscode.window.showTextDocument(target);
  else if (choice === 'Open Perfetto') await vscode.env.openExternal(vscode.Uri.parse('https://ui.perfetto.dev'));
}
