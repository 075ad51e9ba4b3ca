// The results panel's editor group is the panel's: a scenario opened there (Quick Open, the explorer
// or New MMIO Scenario while the panel has the focus open files in the active group) would hide the
// panel while the scenario's own group still shows the old file. Such a scenario moves to the
// scenario's group (scenario_column.ts) and the panel is shown again in its own.

import * as vscode from 'vscode';
import { scenarioColumn } from './scenario_column';
import { isScenarioUri } from './scenario_files';

/** What this needs of the results panel. */
export interface PanelPlace {
  /** The panel's editor column, or undefined when it is not open. */
  readonly column: vscode.ViewColumn | undefined;
  /** Shows the panel in its column without taking the focus. */
  open(): void;
}

function scenarioTab(tab: vscode.Tab): vscode.Uri | undefined {
  return tab.input instanceof vscode.TabInputText && isScenarioUri(tab.input.uri) ? tab.input.uri : undefined;
}

export class PanelGroupKeeper implements vscode.Disposable {
  private readonly subscription: vscode.Disposable;

  constructor(private readonly panel: PanelPlace) {
    this.subscription = vscode.window.tabGroups.onDidChangeTabs((e) => {
      for (const tab of e.opened) {
        const uri = scenarioTab(tab);
        if (uri && this.panel.column !== undefined && tab.group.viewColumn === this.panel.column) void this.moveOut(tab, uri);
      }
    });
  }

  private async moveOut(tab: vscode.Tab, uri: vscode.Uri): Promise<void> {
    const from = tab.group.viewColumn;
    const key = uri.toString();
    // Keep where the opener put the cursor (Quick Open's `file:line`, a search result).
    const selection = vscode.window.visibleTextEditors.find((e) => e.viewColumn === from && e.document.uri.toString() === key)?.selection;
    const columns = vscode.window.tabGroups.all.map((g) => g.viewColumn);
    const shownIn = vscode.window.tabGroups.all.filter((g) => g.tabs.some((t) => scenarioTab(t)?.toString() === key)).map((g) => g.viewColumn);
    const doc = await vscode.workspace.openTextDocument(uri);
    // Shown in its group before it leaves the panel's, so an unsaved one (New MMIO Scenario) is
    // never closed in its last editor.
    await vscode.window.showTextDocument(doc, { viewColumn: scenarioColumn(columns, from, shownIn), preview: tab.isPreview, selection });
    const left = vscode.window.tabGroups.all.find((g) => g.viewColumn === from)?.tabs.find((t) => scenarioTab(t)?.toString() === key);
    if (left) await vscode.window.tabGroups.close(left, true);
    this.panel.open();
  }

  dispose(): void {
    this.subscription.dispose();
  }
}
