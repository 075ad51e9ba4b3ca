// Bounded output for unbounded input: at most MAX_DIAGNOSTICS problems then "and M more", and no
// file over MAX_FILE_BYTES is parsed (the CLI does not even read it).
import { describe, it, expect, vi, afterEach } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseScenario } from '../simulator/scenario/parse';
import { MAX_DIAGNOSTICS } from '../simulator/scenario/diagnostic_cap';
import { MAX_FILE_BYTES } from '../simulator/scenario/file_size';
import { readScenarioFile } from '../simulator/cli/scenario_file';
import { RAM, vm } from './helpers/scenario';

/** A file with `n` memslots that are not mappings: one problem each. */
const badSlots = (n: number) => `memslots:\n${'  - 1\n'.repeat(n)}guest: { mappings: [] }\nworkload:\n  - { compute: 1 }\n`;

function stderrOf(f: () => void): string {
  let out = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  try {
    f();
  } finally {
    spy.mockRestore();
  }
  return out;
}

afterEach(() => vi.restoreAllMocks());

describe('diagnostics cap', () => {
  it('is 100', () => expect(MAX_DIAGNOSTICS).toBe(100));

  it('100 problems are all reported', () => {
    const r = parseScenario(badSlots(100), 'a.mmio.yaml');
    const ds = 'diagnostics' in r ? r.diagnostics : [];
    expect(ds).toHaveLength(100);
    expect(ds.every((d) => /expected a mapping/.test(d.message))).toBe(true);
  });

  it('past 100: the first 100 by position, then one "and M more" at the first left out', () => {
    for (const n of [101, 5000]) {
      const r = parseScenario(badSlots(n), 'a.mmio.yaml');
      const ds = 'diagnostics' in r ? r.diagnostics : [];
      expect(ds).toHaveLength(101);
      expect(ds.slice(0, 100).map((d) => d.line)).toEqual(Array.from({ length: 100 }, (_, i) => i + 2));
      expect(ds[100]).toMatchObject({ line: 102, message: `and ${n - 100} more problem${n === 101 ? '' : 's'} (only the first 100 are reported)` });
    }
  });

  it('the CLI prints 100 lines then "and M more"', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'limits-')), 'bad.mmio.yaml');
    writeFileSync(file, badSlots(3000));
    const err = stderrOf(() => expect(readScenarioFile(file)).toBeNull());
    const lines = err.trimEnd().split('\n');
    expect(lines).toHaveLength(101);
    expect(lines[100]).toBe(`${file}:102:5: error: and 2900 more problems (only the first 100 are reported)`);
  });
});

describe('file size cap', () => {
  it('is 1 MiB', () => expect(MAX_FILE_BYTES).toBe(1048576));

  // A valid scenario padded with a comment to exactly `bytes` UTF-8 bytes (`ch` is 1 or 3 bytes).
  const padded = (bytes: number, ch = 'x') => {
    const base = vm('v3.1', `  - { read: ${RAM}, size: 8 }`) + '# ';
    const left = bytes - Buffer.byteLength(base) - 1;
    const w = Buffer.byteLength(ch);
    return base + ch.repeat(Math.floor(left / w)) + 'x'.repeat(left % w) + '\n';
  };

  it('a file of exactly 1 MiB parses; one byte more is one problem, also counted in UTF-8 bytes', () => {
    expect(Buffer.byteLength(padded(MAX_FILE_BYTES))).toBe(MAX_FILE_BYTES);
    expect('scenario' in parseScenario(padded(MAX_FILE_BYTES), 'a.mmio.yaml')).toBe(true);
    for (const text of [padded(MAX_FILE_BYTES + 1), padded(MAX_FILE_BYTES + 1, '€')]) {
      expect(Buffer.byteLength(text)).toBe(MAX_FILE_BYTES + 1);
      expect(parseScenario(text, 'a.mmio.yaml')).toEqual({
        diagnostics: [{ file: 'a.mmio.yaml', line: 1, col: 1, endLine: 1, endCol: 1, message: 'the file is 1048577 bytes; scenario files are limited to 1048576 bytes (1 MiB)' }],
      });
    }
  });

  it('the CLI refuses a larger file with the same message', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'limits-')), 'big.mmio.yaml');
    writeFileSync(file, padded(3 * MAX_FILE_BYTES));
    const err = stderrOf(() => expect(readScenarioFile(file)).toBeNull());
    expect(err).toBe(`${file}:1:1: error: the file is 3145728 bytes; scenario files are limited to 1048576 bytes (1 MiB)\n`);
  });
});
