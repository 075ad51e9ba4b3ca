// The extension's entry on Node (package.json `main`: desktop VS Code, code-server): the simulator
// runs on worker_threads workers on dist/worker.js. Everything else is activate.ts, shared with the
// browser entry (extension_web.ts).

import * as vscode from 'vscode';
import { activateWith, deactivateAll, type MmuLabTestApi } from './activate';
import { nodeWorkerFactory } from './node_worker';

/** Returns the test API (activate.ts, MmuLabTestApi) as the extension's exports. */
export function activate(context: vscode.ExtensionContext): MmuLabTestApi {
  const script = vscode.Uri.joinPath(context.extensionUri, 'dist', 'worker.js').fsPath;
  return activateWith(context, { createWorker: nodeWorkerFactory(script) });
}

export function deactivate(): void {
  deactivateAll();
}
