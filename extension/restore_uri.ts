// Which scenario a restored panel may run again. The panel's saved state (what VS Code restores
// after a restart, and what its script posts with `ready`) comes from the webview: it names a URI,
// but the host stats, opens and runs only a URI it recorded itself (a run it made: run_store.ts).
// Anything else is ignored before any file-system call, so the webview cannot make the host load
// a file outside the workspace or learn whether a path exists. No vscode import: unit-tested.

/** The scenario URI of a panel's saved state when `recorded` says the host ran it; else null. */
export function restorableUri(state: unknown, recorded: (uri: string) => boolean): string | null {
  if (typeof state !== 'object' || state === null) return null;
  const uri = (state as { uri?: unknown }).uri;
  return typeof uri === 'string' && uri !== '' && recorded(uri) ? uri : null;
}
