// Issue 14 item 15: a scenario's file name is the last segment of vscode.Uri's `path`, which is
// already decoded; on main `fileName` decoded it a second time (tables_uri.ts baseName), so a file
// named `%2e%2e%2f%2e%2e%2ftrav.mmio.yaml` showed as `../../trav.mmio.yaml` and Export Trace
// proposed `../../trav.trace.json` beside the scenario (two folders above it), and `a#b.mmio.yaml`
// showed as `a`. The URI strings below are written as vscode.Uri.toString() writes them (`%` as
// `%25`, `#` as `%23`, a space as `%20`).
import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { baseName, parseTablesUriParts, pathBaseName, tablesUriParts } from '../extension/tables_uri';
import { exportFileName } from '../extension/trace_export';

const NAMES = [
  // [the file's name, its path (Uri.path), its URI string (Uri.toString())]
  ['%2e%2e%2f%2e%2e%2ftrav.mmio.yaml', '/ws/lab/%2e%2e%2f%2e%2e%2ftrav.mmio.yaml', 'file:///ws/lab/%252e%252e%252f%252e%252e%252ftrav.mmio.yaml'],
  ['a#b.mmio.yaml', '/ws/lab/a#b.mmio.yaml', 'file:///ws/lab/a%23b.mmio.yaml'],
  ['a?b.mmio.yaml', '/ws/lab/a?b.mmio.yaml', 'file:///ws/lab/a%3Fb.mmio.yaml'],
  ['new one.mmio.yaml', '/ws/lab/new one.mmio.yaml', 'file:///ws/lab/new%20one.mmio.yaml'],
  ['doorbell.mmio.yaml', '/ws/lab/doorbell.mmio.yaml', 'file:///ws/lab/doorbell.mmio.yaml'],
] as const;

describe('scenario file names', () => {
  it('the name shown (fileName: pathBaseName of Uri.path) is the last segment as it is', () => {
    for (const [name, path] of NAMES) expect(pathBaseName(path)).toBe(name);
    expect(pathBaseName('Untitled-1')).toBe('Untitled-1');
  });

  it('a URI string is decoded once, to the same name', () => {
    for (const [name, , uri] of NAMES) expect(baseName(uri)).toBe(name);
  });

  it('the tables URI round-trips the scenario and names the file as it is', () => {
    for (const [name, , uri] of NAMES) {
      const parts = tablesUriParts(uri, 12);
      expect(parts.path).toBe(`/${name}/after-step-12.txt`);
      expect(parts.path.split('/').length).toBe(3);
      expect(parseTablesUriParts(parts)).toEqual({ scenario: uri, step: 12 });
    }
  });

  it('Export Trace proposes a file beside the scenario, never above it', () => {
    expect(exportFileName(pathBaseName(NAMES[0][1]), '.trace.json')).toBe('%2e%2e%2f%2e%2e%2ftrav.trace.json');
    expect(exportFileName(pathBaseName(NAMES[1][1]), '.trace.csv')).toBe('a#b.trace.csv');
    expect(exportFileName(pathBaseName(NAMES[4][1]), '.folded')).toBe('doorbell.folded');
    // vscode.Uri.joinPath(folder, name) joins as posix paths do.
    for (const [, path] of NAMES) {
      const folder = posix.dirname(path);
      const target = posix.join(folder, exportFileName(pathBaseName(path), '.trace.json'));
      expect(posix.dirname(target)).toBe(folder);
    }
    // Even a name with separators (no path segment has them) stays one segment.
    expect(exportFileName('../../x.mmio.yaml', '.csv')).toBe('.._.._x.csv');
    expect(exportFileName('..\\..\\x.mmio.json', '.csv')).toBe('.._.._x.csv');
  });
});
