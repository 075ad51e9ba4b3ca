// MMU Lab's VS Code extension: wires the pieces together. The simulator runs on worker threads
// (simulator_client.ts); everything else is editor integration, one concept per module.

import * as vscode from 'vscode';
import { SCENARIO_SELECTOR, ScenarioCodeLens } from './codelens';
import { LineDecorations } from './decorations';
import { ScenarioDiagnostics } from './diagnostics';
import { exportTrace } from './export_trace';
import { newScenario } from './new_scenario';
import { ResultsPanel } from './panel';
import { ScenarioRunner } from './run_command';
import { RunStore } from './run_store';
import { isScenarioDocument, settings } from './scenario_files';
import { SimulatorClient } from './simulator_client';
import { RunStatusBar } from './status_bar';
import { TablesDocuments } from './tables_document';
import { ScenarioTests } from './testing';

let clients: SimulatorClient[] = [];

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('MMU Lab', { log: true });
  const workerScript = vscode.Uri.joinPath(context.extensionUri, 'dist', 'worker.js').fsPath;
  // The panel's runs and the Testing view's runs each have their own worker, so neither replaces
  // the other's run in flight.
  const client = new SimulatorClient(workerScript);
  const testClient = new SimulatorClient(workerScript);
  clients = [client, testClient];

  const store = new RunStore();
  const diagnostics = new ScenarioDiagnostics(store);
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
    new LineDecorations(store),
    new ScenarioTests(testClient),
    ...scenarioRunner.register(),
    vscode.commands.registerCommand('mmuLab.newScenario', () => newScenario(context.extensionUri)),
    vscode.commands.registerCommand('mmuLab.exportTrace', () => exportTrace(store)),
    vscode.languages.registerCodeLensProvider(SCENARIO_SELECTOR, new ScenarioCodeLens()),
    vscode.workspace.onDidSaveTextDocument((doc) => {
      if (isScenarioDocument(doc) && settings(doc.uri).runOnSave) void scenarioRunner.run(doc.uri, { quiet: true });
    }),
  );
}

export function deactivate(): void {
  // Terminate the workers now rather than when the subscriptions are disposed: a long run must not
  // keep the extension host busy while it shuts down.
  for (const c of clients) c.dispose();
  clients = [];
}
