// "MMU Lab: New MMIO Scenario": pick one of the bundled examples (examples/**/*.mmio.yaml in the
// extension), and get a copy to edit. The copy is an untitled document that already carries the
// example's file name in the workspace folder (untitled:<folder>/doorbell.mmio.yaml): nothing is
// written until the user saves it (Save proposes that path), yet it is a scenario from the start,
// because its name ends in .mmio.yaml: CodeLens, diagnostics and Run all work on it unsaved.

import * as vscode from 'vscode';
import { fileName } from './scenario_files';

export interface Example {
  uri: vscode.Uri;
  /** Path below examples/, e.g. seed/kernbench.mmio.yaml. */
  path: string;
  name: string;
  /** The first line of the file's leading comment. */
  summary: string;
}

/** The scenario's `name:` (quotes and a trailing comment removed), or the file name. */
export function exampleName(text: string, fallback: string): string {
  const m = /^name:[ \t]*(.*)$/m.exec(text);
  if (!m) return fallback;
  const v = m[1]!.trim();
  const quoted = /^(["'])(.*?)\1/.exec(v);
  return (quoted ? quoted[2]! : v.replace(/\s+#.*$/, '')).trim() || fallback;
}

export function firstCommentLine(text: string): string {
  const m = /^#[ \t]?(.*\S.*)$/m.exec(text);
  return m ? m[1]!.trim() : '';
}

async function listExamples(dir: vscode.Uri, prefix = ''): Promise<Example[]> {
  const out: Example[] = [];
  for (const [name, type] of await vscode.workspace.fs.readDirectory(dir)) {
    const uri = vscode.Uri.joinPath(dir, name);
    if (type === vscode.FileType.Directory) out.push(...(await listExamples(uri, `${prefix}${name}/`)));
    else if (/\.mmio\.yaml$/.test(name)) {
      const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
      out.push({ uri, path: prefix + name, name: exampleName(text, name), summary: firstCommentLine(text) });
    }
  }
  return out;
}

/** The bundled examples' paths below examples/, written into the bundle by scripts/build.mjs (esbuild
 *  `define`); undefined where the module runs unbundled (the unit tests). */
declare const MMU_LAB_EXAMPLES: readonly string[] | undefined;

/** The bundled examples. The extension's folder is listed where its file system can list it (the
 *  desktop, code-server); VS Code for the Web serves the extension over HTTP, whose file system reads
 *  files but cannot list a folder: there the list written into the bundle at build time is used. */
async function bundledExamples(extensionUri: vscode.Uri): Promise<Example[]> {
  const dir = vscode.Uri.joinPath(extensionUri, 'examples');
  try {
    return await listExamples(dir);
  } catch (e) {
    if (typeof MMU_LAB_EXAMPLES === 'undefined') throw e;
    return Promise.all(
      MMU_LAB_EXAMPLES.map(async (path) => {
        const uri = vscode.Uri.joinPath(dir, ...path.split('/'));
        const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
        const name = path.slice(path.lastIndexOf('/') + 1);
        return { uri, path, name: exampleName(text, name), summary: firstCommentLine(text) };
      }),
    );
  }
}

async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}

/** An untitled URI named after the example in the active (or first) workspace folder, not taken by
 *  a file or by another open document: doorbell.mmio.yaml, doorbell-2.mmio.yaml, ... */
async function untitledTarget(base: string): Promise<vscode.Uri> {
  const active = vscode.window.activeTextEditor?.document.uri;
  const folder = (active && vscode.workspace.getWorkspaceFolder(active)) ?? vscode.workspace.workspaceFolders?.[0];
  const stem = base.replace(/\.mmio\.yaml$/, '');
  for (let i = 1; ; i++) {
    const name = i === 1 ? base : `${stem}-${i}.mmio.yaml`;
    const onDisk = folder ? vscode.Uri.joinPath(folder.uri, name) : undefined;
    const target = onDisk ? onDisk.with({ scheme: 'untitled' }) : vscode.Uri.from({ scheme: 'untitled', path: name });
    const open = vscode.workspace.textDocuments.some((d) => d.uri.toString() === target.toString());
    if (!open && !(onDisk && (await exists(onDisk)))) return target;
  }
}

export async function newScenario(extensionUri: vscode.Uri): Promise<void> {
  let examples: Example[];
  try {
    examples = await bundledExamples(extensionUri);
  } catch (e) {
    void vscode.window.showErrorMessage(`MMU Lab: cannot read the bundled examples: ${(e as Error).message}`);
    return;
  }
  examples.sort((a, b) => a.path.localeCompare(b.path));
  const picked = await vscode.window.showQuickPick(
    examples.map((ex) => ({ label: ex.name, description: ex.summary, detail: ex.path, example: ex })),
    { title: 'MMU Lab: New MMIO Scenario', placeHolder: 'Start from an example', matchOnDescription: true, matchOnDetail: true },
  );
  if (!picked) return;
  const content = new TextDecoder().decode(await vscode.workspace.fs.readFile(picked.example.uri));
  const target = await untitledTarget(fileName(picked.example.uri));
  const doc = await vscode.workspace.openTextDocument(target);
  const edit = new vscode.WorkspaceEdit();
  edit.insert(target, new vscode.Position(0, 0), content);
  await vscode.workspace.applyEdit(edit);
  const shown = doc.languageId === 'yaml' ? doc : await vscode.languages.setTextDocumentLanguage(doc, 'yaml');
  await vscode.window.showTextDocument(shown, { preview: false });
}
