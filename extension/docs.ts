// Opening a reference document shipped in the package (shared/docs.ts) in VS Code's Markdown
// preview, from its command or a link in the panel. `markdown.showPreview` opens it in the active
// text editor's group, or the first one when the panel has the focus: beside the panel, not over
// it. The preview belongs to the built-in Markdown extension; where that is disabled the document
// opens as text instead.

import * as vscode from 'vscode';
import { DOCS, type DocId } from '../shared/docs';

export async function openDoc(extensionUri: vscode.Uri, id: DocId): Promise<void> {
  const uri = vscode.Uri.joinPath(extensionUri, DOCS[id].file);
  try {
    await vscode.commands.executeCommand('markdown.showPreview', uri);
  } catch {
    await vscode.window.showTextDocument(uri, { preview: true });
  }
}
