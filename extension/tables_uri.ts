// The URIs of the read-only "shadow tables as text" documents (tables_document.ts), as their parts,
// so that encoding and decoding are unit-tested without vscode:
//
//   mmu-lab-tables:/doorbell.mmio.yaml/after-step-12.txt?<scenario URI>#12
//   mmu-lab-tables:/doorbell.mmio.yaml/end-of-run.txt?<scenario URI>#end
//
// The path is for people (the editor tab shows its last segment, the breadcrumbs the scenario's
// file name); the query is the scenario document's URI string (vscode.Uri percent-encodes it and
// gives it back decoded); the fragment is the step (-1: before the first step), or `end` for the
// tables at the end of the run.

export const TABLES_SCHEME = 'mmu-lab-tables';

export interface TablesUriParts {
  path: string;
  query: string;
  fragment: string;
}

/** The last segment of a decoded path (vscode.Uri's `path`), as it is: the path is already decoded,
 *  so decoding it again would turn a file named `%2e%2e%2fx` into `../x`, and a `#` or `?` in it is
 *  part of the name. */
export function pathBaseName(path: string): string {
  return path.split('/').filter(Boolean).pop() ?? 'scenario';
}

/** The file name of a URI string (vscode.Uri's toString(), percent-encoded): its path ends at the
 *  first `?` or `#` (a `#` or `?` in a name is encoded), and its last segment is decoded once. */
export function baseName(uri: string): string {
  const seg = pathBaseName(uri.replace(/[?#].*$/, ''));
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

export function tablesUriParts(scenarioUri: string, step: number | null): TablesUriParts {
  const file = baseName(scenarioUri).replace(/[/\\]/g, '_');
  return {
    path: `/${file}/${step === null ? 'end-of-run' : step < 0 ? 'before-first-step' : `after-step-${step}`}.txt`,
    query: scenarioUri,
    fragment: step === null ? 'end' : String(step),
  };
}

/** The scenario and the step of a tables document, or null when the parts are not ours. */
export function parseTablesUriParts(p: Pick<TablesUriParts, 'query' | 'fragment'>): { scenario: string; step: number | null } | null {
  if (!p.query) return null;
  if (p.fragment === 'end') return { scenario: p.query, step: null };
  if (!/^(-1|0|[1-9][0-9]*)$/.test(p.fragment)) return null;
  return { scenario: p.query, step: Number(p.fragment) };
}

/** "after step 12" / "at the end of the run". */
export function stepText(step: number | null): string {
  return step === null ? 'at the end of the run' : step < 0 ? 'before the first step' : `after step ${step}`;
}
