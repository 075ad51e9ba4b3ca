// The extension's entry in VS Code for the Web (package.json `browser`: the web-worker extension
// host). No Node here, nor in anything it imports (the esbuild browser build fails on a Node
// built-in): the simulator runs on Web Workers on dist/worker-web.js. Everything else is
// activate.ts, shared with the Node entry (extension.ts).

import * as vscode from 'vscode';
import { activateWith, deactivateAll, type MmuLabTestApi } from './activate';
import { webWorkerFactory } from './web_worker';

/** dist/worker-web.js as a Blob URL. The extension's files are served from another origin than the
 *  extension host's, so `new Worker` on their URL may be refused; a Blob URL is the host's own. The
 *  script is fetched from its URL; where that scheme cannot be fetched, read through VS Code's file
 *  system. */
async function workerScriptUrl(extensionUri: vscode.Uri): Promise<string> {
  const uri = vscode.Uri.joinPath(extensionUri, 'dist', 'worker-web.js');
  let code: string;
  try {
    const res = await fetch(uri.toString(true));
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    code = await res.text();
  } catch {
    code = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
  }
  return URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
}

/** Returns the test API (activate.ts, MmuLabTestApi) as the extension's exports. */
export function activate(context: vscode.ExtensionContext): MmuLabTestApi {
  return activateWith(context, { createWorker: webWorkerFactory(() => workerScriptUrl(context.extensionUri)) });
}

export function deactivate(): void {
  deactivateAll();
}
