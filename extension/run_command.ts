// "Run MMIO Scenario", "Compare Variants", "Compare Kernels", "Inspect Shadow Tables" and "Show Results": which
// scenario (the argument from a CodeLens or the explorer, else the active editor's, else a pick of
// the workspace's), the run on the worker with a cancellable progress notification, and where the
// outcome goes (the run store, hence the panel, decorations and status bar; or the problems).

import * as vscode from 'vscode';
import type { ViewId } from '../shared/protocol';
import { lineSafe } from '../simulator/index';
import type { ScenarioDiagnostics } from './diagnostics';
import type { ResultsPanel } from './panel';
import type { RunSource, RunStore } from './run_store';
import { SCENARIO_EXCLUDE, SCENARIO_GLOB, fileName, hasTopLevelKey, isScenarioDocument, isScenarioUri, scenarioSource, settings } from './scenario_files';
import type { Outcome, SimulatorClient } from './simulator_client';
import type { RunStatusBar } from './status_bar';

export interface RunOptions {
  /** Also run the `compare:` variants (true), or the scenario under every modelled kernel ('kernels'). */
  compare?: boolean | 'kernels';
  /** Bring this panel view to the front when the run is shown. */
  view?: ViewId;
  /** A background run (on save, a restored panel): no notification, no error pop-up, and the panel
   *  is updated only if it is open. */
  quiet?: boolean;
}

function sameSource(a: RunSource, b: RunSource): boolean {
  return a.text === b.text && a.defaultKernel === b.defaultKernel && a.profile === b.profile && a.traceCapacity === b.traceCapacity;
}

export class ScenarioRunner {
  /** Incremented by each run: a run that finds it changed was replaced by a newer one. */
  private generation = 0;

  constructor(
    private readonly client: SimulatorClient,
    private readonly store: RunStore,
    private readonly panel: ResultsPanel,
    private readonly diagnostics: ScenarioDiagnostics,
    private readonly statusBar: RunStatusBar,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  register(): vscode.Disposable[] {
    return [
      vscode.commands.registerCommand('mmuLab.runScenario', async (arg?: unknown) => {
        const uri = await this.pick(arg);
        if (uri) await this.run(uri);
      }),
      vscode.commands.registerCommand('mmuLab.compareVariants', async (arg?: unknown) => {
        const uri = await this.pick(arg);
        if (!uri) return;
        const doc = await vscode.workspace.openTextDocument(uri).then((d) => d, () => undefined);
        if (doc && !hasTopLevelKey(doc.getText(), 'compare', doc.languageId)) {
          // Still run: the Compare view then shows the scenario alone, with the metric.
          void vscode.window.showInformationMessage(`MMU Lab: ${fileName(uri)} has no \`compare:\` variants yet: add some (snippet mmio-compare) to see them side by side, or run MMU Lab: Compare Kernels to see it under each kernel.`);
        }
        await this.run(uri, { compare: true, view: 'compare' });
      }),
      // Every scenario, `compare:` or not: the simulator builds the kernels' variants (kernelVariants).
      vscode.commands.registerCommand('mmuLab.compareKernels', async (arg?: unknown) => {
        const uri = await this.pick(arg);
        if (uri) await this.run(uri, { compare: 'kernels', view: 'compare' });
      }),
      vscode.commands.registerCommand('mmuLab.inspectShadowTables', async (arg?: unknown) => {
        const uri = await this.pick(arg);
        if (uri) await this.inspect(uri);
      }),
      vscode.commands.registerCommand('mmuLab.showResults', () => this.panel.open()),
    ];
  }

  /** The scenario a command is about. */
  async pick(arg: unknown): Promise<vscode.Uri | undefined> {
    if (arg instanceof vscode.Uri) return arg;
    const active = vscode.window.activeTextEditor?.document;
    if (active && isScenarioDocument(active)) return active.uri;
    // The results panel has the focus (no text editor is active): its scenario.
    const latest = this.store.latest;
    if (!active && latest) return vscode.Uri.parse(latest.uri);

    const found = await vscode.workspace.findFiles(SCENARIO_GLOB, SCENARIO_EXCLUDE, 500);
    const untitled = vscode.workspace.textDocuments.filter((d) => d.isUntitled && isScenarioUri(d.uri)).map((d) => d.uri);
    const uris = [...untitled, ...found.sort((a, b) => a.path.localeCompare(b.path))];
    if (uris.length === 0) {
      const create = 'New MMIO Scenario';
      const choice = await vscode.window.showInformationMessage('MMU Lab: this workspace has no scenarios (*.mmio.yaml, *.mmio.json).', create);
      if (choice === create) await vscode.commands.executeCommand('mmuLab.newScenario');
      return undefined;
    }
    const items = uris.map((uri) => {
      const rel = vscode.workspace.asRelativePath(uri, true);
      const dir = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
      return { label: fileName(uri), description: uri.scheme === 'untitled' ? 'unsaved' : dir, uri };
    });
    const picked = await vscode.window.showQuickPick(items, { title: 'MMU Lab: Run MMIO Scenario', placeHolder: 'Scenario to run', matchOnDescription: true });
    return picked?.uri;
  }

  /** Shows the shadow tables of the scenario's run, running it first unless the panel already shows
   *  a run of this very text and settings. */
  async inspect(uri: vscode.Uri): Promise<void> {
    const latest = this.store.latest;
    if (latest && latest.uri === uri.toString() && this.store.isFresh(latest.uri) && this.panel.isOpen) {
      const doc = await vscode.workspace.openTextDocument(uri);
      const source = { ...scenarioSource(doc), traceCapacity: settings(uri).traceBufferSize };
      if (sameSource(source, latest.source)) {
        this.panel.open();
        this.panel.showView('shadow');
        return;
      }
    }
    await this.run(uri, { view: 'shadow' });
  }

  async run(uri: vscode.Uri, opts: RunOptions = {}): Promise<void> {
    let doc: vscode.TextDocument;
    try {
      doc = await vscode.workspace.openTextDocument(uri);
    } catch (e) {
      if (!opts.quiet) void vscode.window.showErrorMessage(`MMU Lab: cannot open ${fileName(uri)}: ${(e as Error).message}`);
      return;
    }
    const generation = ++this.generation;
    const file = fileName(uri);
    const source: RunSource = { ...scenarioSource(doc), traceCapacity: settings(uri).traceBufferSize };
    if (!opts.quiet) this.panel.open();
    this.panel.setStatus('running', `Running ${file}…`);
    this.statusBar.setRunning(file);

    // Cancelled from the notification, or by closing the panel: the results have nowhere to go, and
    // the worker should not go on simulating (the client terminates it).
    const cancel = new vscode.CancellationTokenSource();
    const closed = this.panel.onDidClose(() => cancel.cancel());
    const work = async (progress: vscode.Progress<{ message?: string }>, token?: vscode.CancellationToken) => {
      const byUser = token?.onCancellationRequested(() => cancel.cancel());
      try {
        const ran = await this.client.run({ ...source, kind: 'run' }, cancel.token);
        if (ran.kind !== 'result' || !opts.compare) return { ran, compared: undefined };
        const kernels = opts.compare === 'kernels';
        progress.report({ message: kernels ? 'under each kernel' : 'the compare: variants' });
        return { ran, compared: await this.client.run({ ...source, kind: 'compare', kernels }, cancel.token) };
      } finally {
        byUser?.dispose();
      }
    };
    let outcomes: Awaited<ReturnType<typeof work>>;
    try {
      outcomes = opts.quiet
        ? await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `MMU Lab: running ${file}` }, (p) => work(p))
        : await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `MMU Lab: running ${file}`, cancellable: true }, (p, token) => work(p, token));
    } finally {
      closed.dispose();
      cancel.dispose();
    }
    const { ran, compared } = outcomes;

    // A newer run replaced this one: it owns the panel's status and the status bar now.
    if (generation !== this.generation) return;
    this.statusBar.setRunning(undefined);
    const outcome: Outcome = compared && ran.kind === 'result' ? compared : ran;
    switch (outcome.kind) {
      case 'cancelled':
        this.panel.setStatus('idle', `Run of ${file} cancelled`);
        return;
      case 'error':
        this.log.error(`${lineSafe(file)}: ${lineSafe(outcome.message)}`); // one log line, whatever the name
        this.panel.setStatus('error', `The simulator failed on ${file}`);
        if (!opts.quiet) {
          const show = 'Show Log';
          const choice = await vscode.window.showErrorMessage(`MMU Lab: the simulator failed on ${file}: ${outcome.message.split('\n')[0]}`, show);
          if (choice === show) this.log.show();
        }
        return;
      case 'diagnostics': {
        const n = outcome.diagnostics.length;
        const text = `${n} problem${n === 1 ? '' : 's'} in ${file}`;
        this.diagnostics.setRunProblems(uri, outcome.diagnostics);
        this.panel.setStatus('error', text);
        if (!opts.quiet) {
          const show = 'Show Problems';
          const choice = await vscode.window.showErrorMessage(`MMU Lab: ${text}`, show);
          if (choice === show) await vscode.commands.executeCommand('workbench.actions.view.problems');
        }
        return;
      }
    }
    if (ran.kind !== 'result') return;
    const compare = compared?.kind === 'compare' ? compared.result : null;
    this.store.record({ uri: uri.toString(), file, source, result: ran.result, compare });
    if (opts.view) this.panel.showView(opts.view);
  }
}
