// The results panel: one webview panel (viewType mmuLab.results) beside the editor, reused across
// runs. Its context is not retained while hidden (a run with a large trace would keep its DOM
// alive): the panel keeps its view state with setState, and whenever its script starts it posts
// `ready`, and the host sends the last run again. After a restart VS Code restores the panel
// through the serializer, and the host re-runs the scenario it showed (the simulator is
// deterministic, so it shows the same results).

import * as vscode from 'vscode';
import { isDocId } from '../shared/docs';
import { isAllowedSourceUrl } from '../shared/external_links';
import { makeNonce, panelHtml } from '../shared/panel_html';
import type { HostMessage, PanelMessage, PanelRun, ViewId } from '../shared/protocol';
import type { RunStore, ScenarioRun } from './run_store';
import type { SimulatorClient } from './simulator_client';
import { openDoc } from './docs';
import { restorableUri } from './restore_uri';
import { scenarioColumn } from './scenario_column';
import type { TablesDocuments } from './tables_document';
import { baseName } from './tables_uri';

export const PANEL_VIEW_TYPE = 'mmuLab.results';
const DEFAULT_TITLE = 'MMU Lab';

type Status = Extract<HostMessage, { type: 'status' }>;

function isPanelMessage(v: unknown): v is PanelMessage {
  return typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string';
}

function isStep(v: unknown): v is number | null {
  return v === null || (typeof v === 'number' && Number.isInteger(v));
}

export function panelRun(run: ScenarioRun): PanelRun {
  return { uri: run.uri, file: run.file, result: run.result, compare: run.compare };
}

export class ResultsPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private panelDisposables: vscode.Disposable[] = [];
  /** The panel's script has posted `ready` since it was last (re)loaded. */
  private ready = false;
  /** The status shown now, re-sent when the script reloads (a run may be in flight). */
  private status: Status = { type: 'status', state: 'idle', text: '' };
  /** A view to bring forward once the script is ready. */
  private pendingView: ViewId | undefined;
  private lastHighlight = 0;
  /** The re-run of a restored panel, while it is in flight (the serializer and `ready` both ask). */
  private restoring: Promise<void> | undefined;
  private readonly disposables: vscode.Disposable[];
  private readonly closeListeners = new Set<() => void>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly client: SimulatorClient,
    private readonly store: RunStore,
    private readonly tables: TablesDocuments,
    /** Re-runs a scenario for a panel restored after a restart. */
    private readonly restore: (uri: vscode.Uri) => Promise<void>,
  ) {
    this.disposables = [
      vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
        deserializeWebviewPanel: (panel, state) => this.deserialize(panel, state),
      }),
      store.onDidRecord((run) => this.showRun(run)),
      // The editor's cursor line, for the panel to highlight that line's events.
      vscode.window.onDidChangeTextEditorSelection((e) => this.followCursor(e)),
    ];
  }

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  /** The panel's editor column, or undefined when it is not open. */
  get column(): vscode.ViewColumn | undefined {
    return this.panel?.viewColumn;
  }

  /** Opens the panel beside the editor, or brings it forward; the editor keeps the focus. */
  open(): void {
    if (this.panel) {
      this.panel.reveal(undefined, true);
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      PANEL_VIEW_TYPE,
      this.title(),
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { ...this.webviewOptions(), retainContextWhenHidden: false, enableFindWidget: true },
    );
    this.adopt(panel);
  }

  /** Calls `listener` when the user closes the panel (the runner cancels the run in flight then). */
  onDidClose(listener: () => void): vscode.Disposable {
    this.closeListeners.add(listener);
    return { dispose: () => this.closeListeners.delete(listener) };
  }

  setStatus(state: Status['state'], text: string): void {
    this.status = { type: 'status', state, text };
    this.post(this.status);
  }

  showView(view: ViewId): void {
    if (this.panel && this.ready) void this.panel.webview.postMessage({ type: 'showView', view } satisfies HostMessage);
    else this.pendingView = view;
  }

  // -------------------------------------------------------------------------------------------

  private webviewOptions(): vscode.WebviewOptions {
    return { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview')] };
  }

  private title(): string {
    const run = this.store.latest;
    return run ? `MMU Lab: ${run.result.name}` : DEFAULT_TITLE;
  }

  private adopt(panel: vscode.WebviewPanel): void {
    this.panel = panel;
    this.ready = false;
    panel.webview.options = this.webviewOptions();
    panel.title = this.title();
    const root = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    const asset = (name: string) => panel.webview.asWebviewUri(vscode.Uri.joinPath(root, name)).toString();
    panel.webview.html = panelHtml({
      cspSource: panel.webview.cspSource,
      nonce: makeNonce(),
      scriptUri: asset('panel.js'),
      styleUri: asset('panel.css'),
      codiconUri: asset('codicon.css'),
    });
    this.panelDisposables = [
      panel.webview.onDidReceiveMessage((m: unknown) => {
        if (isPanelMessage(m)) void this.receive(m);
      }),
      // Hidden, the webview is destroyed; shown again, its script starts over and posts `ready`.
      panel.onDidChangeViewState(() => {
        if (!panel.visible) this.ready = false;
      }),
      panel.onDidDispose(() => {
        for (const d of this.panelDisposables) d.dispose();
        this.panelDisposables = [];
        this.panel = undefined;
        this.ready = false;
        this.pendingView = undefined;
        for (const f of [...this.closeListeners]) f();
      }),
    ];
  }

  private deserialize(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    if (this.panel) {
      // One results panel only (a second one cannot come from us; be safe).
      panel.dispose();
      return Promise.resolve();
    }
    this.adopt(panel);
    const uri = this.restorable(state);
    // Not awaited: the panel is restored now; the run's result follows when it is ready.
    if (uri && !this.store.latest) void this.restoreRun(uri);
    return Promise.resolve();
  }

  /** The scenario a panel's saved state names, if this host ran it (restore_uri.ts); else null. */
  private restorable(state: unknown): string | null {
    return restorableUri(state, (uri) => this.store.wasRecorded(uri));
  }

  /** Re-runs the scenario a restored panel showed, if it still exists; else the placeholder stays. */
  private restoreRun(uriText: string): Promise<void> {
    this.restoring ??= this.doRestore(uriText).finally(() => (this.restoring = undefined));
    return this.restoring;
  }

  private async doRestore(uriText: string): Promise<void> {
    const uri = vscode.Uri.parse(uriText);
    const open = vscode.workspace.textDocuments.some((d) => d.uri.toString() === uriText);
    let exists = open;
    if (!exists) {
      try {
        await vscode.workspace.fs.stat(uri);
        exists = true;
      } catch {
        exists = false;
      }
    }
    if (exists) await this.restore(uri);
    else this.setStatus('idle', `${baseName(uriText)} no longer exists`);
  }

  private showRun(run: ScenarioRun): void {
    if (!this.panel) return;
    this.panel.title = `MMU Lab: ${run.result.name}`;
    this.status = { type: 'status', state: 'idle', text: '' };
    this.lastHighlight = 0;
    this.post({ type: 'run', run: panelRun(run) });
  }

  /** Sends a message when the script can receive it. A run is never queued: `ready` sends the latest. */
  private post(msg: HostMessage): void {
    if (this.panel && this.ready) void this.panel.webview.postMessage(msg);
  }

  private async receive(m: PanelMessage): Promise<void> {
    const run = this.store.latest;
    switch (m.type) {
      case 'ready': {
        this.ready = true;
        this.lastHighlight = 0;
        if (run) this.post({ type: 'run', run: panelRun(run) });
        else {
          const uri = this.restorable(m.state);
          if (uri) void this.restoreRun(uri);
        }
        if (this.status.state !== 'idle' || this.status.text) this.post(this.status);
        if (this.pendingView) {
          this.post({ type: 'showView', view: this.pendingView });
          this.pendingView = undefined;
        }
        return;
      }
      case 'revealLine':
        if (run && typeof m.line === 'number') await this.revealLine(run, m.line);
        return;
      case 'requestTables': {
        if (!run || !isStep(m.step)) return;
        const outcome = await this.client.tables({ ...run.source, step: m.step }, 'panel');
        if (this.store.latest !== run) return; // a newer run replaced it meanwhile
        if (outcome.kind === 'tables') this.post({ type: 'tables', step: m.step, tables: outcome.tables });
        else if (outcome.kind === 'error') this.setStatus('error', `Could not compute the shadow tables: ${outcome.message.split('\n')[0]}`);
        else if (outcome.kind === 'diagnostics') this.setStatus('error', `${run.file} cannot run any more`);
        return;
      }
      case 'openTablesAsText':
        if (run && isStep(m.step)) await this.tables.open(run.uri, m.step, this.scenarioColumn(run));
        return;
      case 'diffTables':
        if (run && isStep(m.from) && isStep(m.to)) await this.tables.diff(run.uri, m.from, m.to, this.scenarioColumn(run));
        return;
      case 'copy':
        if (typeof m.text !== 'string') return;
        await vscode.env.clipboard.writeText(m.text);
        vscode.window.setStatusBarMessage(`$(check) MMU Lab: table copied as ${m.format === 'csv' ? 'CSV' : 'Markdown'}`, 2500);
        return;
      case 'exportTrace':
        await vscode.commands.executeCommand('mmuLab.exportTrace');
        return;
      case 'openExternal':
        // Only the kernel source sites, over https: the URL comes from the webview.
        if (isAllowedSourceUrl(m.url)) await vscode.env.openExternal(vscode.Uri.parse(m.url, true));
        return;
      case 'openDoc':
        if (isDocId(m.doc)) await openDoc(this.extensionUri, m.doc);
        return;
    }
  }

  /** The column of the scenario's editor: where it is shown, else the first group without the
   *  panel (scenario_column.ts); never the panel's, where it would cover the panel. */
  private scenarioColumn(run: ScenarioRun): vscode.ViewColumn {
    const shownIn = vscode.window.visibleTextEditors.filter((e) => e.document.uri.toString() === run.uri).flatMap((e) => e.viewColumn ?? []);
    return scenarioColumn(vscode.window.tabGroups.all.map((g) => g.viewColumn), this.column, shownIn);
  }

  /** Shows the scenario in its column with the line's text selected (the cursor at its start); the
   *  panel keeps the focus, so that the user can go on through the timeline with the keyboard. Only
   *  the line's start is revealed: revealing its text scrolled the editor sideways whenever the text
   *  ended near or past the right edge (the editor brings a range's end into view, or for a range
   *  wider than the view its start less 30 px), cutting the start of every line. */
  private async revealLine(run: ScenarioRun, line: number): Promise<void> {
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(run.uri));
    if (line < 1 || line > doc.lineCount) return;
    const editor = await vscode.window.showTextDocument(doc, { viewColumn: this.scenarioColumn(run), preserveFocus: true });
    const text = doc.lineAt(line - 1);
    editor.selection = new vscode.Selection(line - 1, text.range.end.character, line - 1, text.firstNonWhitespaceCharacterIndex);
    editor.revealRange(new vscode.Range(line - 1, 0, line - 1, 0), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  private followCursor(e: vscode.TextEditorSelectionChangeEvent): void {
    const run = this.store.latest;
    if (!this.panel?.visible || !run || e.textEditor.document.uri.toString() !== run.uri || !this.store.isFresh(run.uri)) return;
    const line = e.selections[0]!.active.line + 1;
    if (line === this.lastHighlight) return;
    this.lastHighlight = line;
    this.post({ type: 'highlightLine', line });
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    this.panel?.dispose();
  }
}
