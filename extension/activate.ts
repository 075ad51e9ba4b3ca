// MMU Lab's VS Code extension: wires the pieces together, the same on every extension host. The
// entries pass what differs: extension.ts (Node: desktop, code-server) and extension_web.ts (VS Code
// for the Web) each say how the simulator's worker starts. The simulator runs on those workers
// (simulator_client.ts); everything else is editor integration, one concept per module.

import * as vscode from 'vscode';
import type { CompareResult, RunResult } from '../simulator/index';
import { SCENARIO_SELECTOR, ScenarioCodeLens } from './codelens';
import { LineDecorations } from './decorations';
import { ScenarioDiagnostics } from './diagnostics';
import { openDoc } from './docs';
import { exportTrace } from './export_trace';
import { newScenario } from './new_scenario';
import { ResultsPanel } from './panel';
import { PanelGroupKeeper } from './panel_group';
import { ScenarioRunner } from './run_command';
import { RunStore } from './run_store';
import { isScenarioDocument, settings } from './scenario_files';
import { registerScenarioLanguage } from './scenario_language';
import { SimulatorClient } from './simulator_client';
import type { WorkerFactory } from './simulator_worker';
import { RunStatusBar } from './status_bar';
import { TablesDocuments } from './tables_document';
import { ScenarioTests } from './testing';

/** What differs between the extension hosts. */
export interface Platform {
  /** Starts a simulator worker (a worker thread on Node, a Web Worker in the browser). */
  createWorker: WorkerFactory;
}

/**
 * The extension's exports (`vscode.extensions.getExtension('mmu-lab.mmu-lab').exports`), for the
 * integration tests that run inside VS Code: they check what a command ran without reading the
 * panel. Not a public API: it may change with any release.
 */
export interface MmuLabTestApi {
  /** The last run that finished (from the panel's commands, CodeLens or run on save; the Testing
   *  view's runs are not recorded), or undefined before the first. */
  latestRun(): { uri: string; result: RunResult; compare: CompareResult | null } | undefined;
}

let clients: SimulatorClient[] = [];

export function activateWith(context: vscode.ExtensionContext, platform: Platform): MmuLabTestApi {
  const log = vscode.window.createOutputChannel('MMU Lab', { log: true });
  // The panel's runs and the Testing view's runs each have their own worker, so neither replaces
  // the other's run in flight. Problems and the Testing view parse on the panel client's check
  // worker (one for both, with a lane per document and user).
  const client = new SimulatorClient(platform.createWorker);
  const testClient = new SimulatorClient(platform.createWorker);
  clients = [client, testClient];

  const store = new RunStore(context.workspaceState);
  const diagnostics = new ScenarioDiagnostics(store, client);
  const tables = new TablesDocuments(client, store);
  const statusBar = new RunStatusBar(store);
  // The serializer (registered by the panel during activation, as VS Code requires) re-runs the
  // scenario of a restored panel through the runner, which is created just below.
  let runner: ScenarioRunner | undefined;
  const panel = new ResultsPanel(context.extensionUri, client, store, tables, (uri) => runner?.run(uri, { quiet: true }) ?? Promise.resolve());
  runner = new ScenarioRunner(client, store, panel, diagnostics, statusBar, log);
  const scenarioRunner = runner;

  context.subscriptions.push(
    log,
    client,
    testClient,
    store,
    diagnostics,
    tables,
    statusBar,
    panel,
    new PanelGroupKeeper(panel),
    new LineDecorations(store),
    new ScenarioTests(testClient, client),
    ...scenarioRunner.register(),
    vscode.commands.registerCommand('mmuLab.newScenario', () => newScenario(context.extensionUri)),
    vscode.commands.registerCommand('mmuLab.exportTrace', () => exportTrace(store)),
    vscode.commands.registerCommand('mmuLab.openScenarioFormat', () => openDoc(context.extensionUri, 'scenario-format')),
    vscode.commands.registerCommand('mmuLab.openFaultClasses', () => openDoc(context.extensionUri, 'fault-classes')),
    vscode.languages.registerCodeLensProvider(SCENARIO_SELECTOR, new ScenarioCodeLens()),
    ...registerScenarioLanguage(),
    vscode.workspace.onDidSaveTextDocument((doc) => {
      if (isScenarioDocument(doc) && settings(doc.uri).runOnSave) void scenarioRunner.run(doc.uri, { quiet: true });
    }),
  );

  return {
    latestRun: () => {
      const run = store.latest;
      return run && { uri: run.uri, result: run.result, compare: run.compare };
    },
  };
}

export function deactivateAll(): void {
  // Terminate the workers now rather than when the subscriptions are disposed: a long run must not
  // keep the extension host busy while it shuts down.
  for (const c of clients) c.dispose();
  clients = [];
}
