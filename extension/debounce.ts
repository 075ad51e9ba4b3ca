// Work per document that waits until typing pauses: each new change restarts that document's timer.

import type * as vscode from 'vscode';

export class DocumentDebouncer implements vscode.Disposable {
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(private readonly delayMs: number) {}

  /** Run `work` for `doc` after the delay, unless it is scheduled again first or gets closed. */
  schedule(doc: vscode.TextDocument, work: (doc: vscode.TextDocument) => void): void {
    const key = doc.uri.toString();
    this.cancel(doc.uri);
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        if (!doc.isClosed) work(doc);
      }, this.delayMs),
    );
  }

  cancel(uri: vscode.Uri): void {
    const key = uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
