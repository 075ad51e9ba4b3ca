// After a run, each workload line that ran gets an after-text with what it did, e.g.
// `×1,000 · 999 mmio-cache · 1 mmio-slow · 46.2 Mcycles` (line_summary.ts), and a hover with the
// details. Edited, the document loses them: the lines no longer match the run.

import * as vscode from 'vscode';
import type { LineStats } from '../simulator/index';
import { lineHover, lineSummary } from './line_summary';
import type { RunStore } from './run_store';

export class LineDecorations implements vscode.Disposable {
  private readonly type = vscode.window.createTextEditorDecorationType({
    after: { color: new vscode.ThemeColor('editorCodeLens.foreground'), margin: '0 0 0 2.5em', fontStyle: 'italic' },
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  /** Per scenario URI: the decorations of its last run, while its text is unchanged. */
  private readonly byUri = new Map<string, { file: string; lines: LineStats[] }>();
  private readonly disposables: vscode.Disposable[];

  constructor(store: RunStore) {
    this.disposables = [
      this.type,
      store.onDidRecord((run) => {
        if (store.isFresh(run.uri)) this.byUri.set(run.uri, { file: run.file, lines: run.result.lines });
        else this.byUri.delete(run.uri);
        this.refresh(run.uri);
      }),
      store.onDidGoStale((uri) => {
        this.byUri.delete(uri);
        this.refresh(uri);
      }),
      vscode.window.onDidChangeVisibleTextEditors((editors) => editors.forEach((e) => this.apply(e))),
    ];
  }

  private refresh(uri: string): void {
    for (const e of vscode.window.visibleTextEditors) if (e.document.uri.toString() === uri) this.apply(e);
  }

  private apply(editor: vscode.TextEditor): void {
    const doc = editor.document;
    const entry = this.byUri.get(doc.uri.toString());
    if (!entry) {
      editor.setDecorations(this.type, []);
      return;
    }
    const options: vscode.DecorationOptions[] = [];
    for (const stats of entry.lines) {
      if (stats.line < 1 || stats.line > doc.lineCount) continue;
      const end = doc.lineAt(stats.line - 1).range.end;
      options.push({
        range: new vscode.Range(end, end),
        hoverMessage: new vscode.MarkdownString(lineHover(stats, entry.file)),
        renderOptions: { after: { contentText: lineSummary(stats) } },
      });
    }
    editor.setDecorations(this.type, options);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
