// The editor's after-line text (extension/line_summary.ts), the status-bar text (run_summary.ts),
// the 1-based -> 0-based ranges of diagnostics (diagnostic_ranges.ts) and the tables documents'
// URIs (tables_uri.ts): the vscode-free parts of the extension, on real runs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseScenario, runScenario, type RunResult } from '../simulator/index';
import { lineFaults, lineSummary } from '../extension/line_summary';
import { fmtSeconds, statusText, topFaultClass, totalExits } from '../extension/run_summary';
import { diagnosticRange, expectMessage, expectRange } from '../extension/diagnostic_ranges';
import { baseName, parseTablesUriParts, stepText, tablesUriParts } from '../extension/tables_uri';

const TEXT = readFileSync('examples/doorbell.mmio.yaml', 'utf8');
const LINES = TEXT.split('\n');

function doorbell(kernel: 'v3.0' | 'v3.1'): RunResult {
  const parsed = parseScenario(TEXT, 'doorbell.mmio.yaml');
  if ('diagnostics' in parsed) throw new Error(parsed.diagnostics[0]!.message);
  return runScenario(parsed.scenario, { overrides: { kernel }, traceCapacity: 0 });
}

/** The 1-based line of the first line of the doorbell example that contains `text`. */
const lineOf = (text: string) => LINES.findIndex((l) => l.includes(text)) + 1;

describe('lineSummary', () => {
  const r = doorbell('v3.1');
  const write = r.lines.find((l) => l.line === lineOf('{ write: 0xffffc90000000050'))!;

  it('the doorbell write line in v3.1: 999 mmio-cache and 1 mmio-slow, the example\'s expect block', () => {
    expect(write.count).toBe(1000);
    expect(write.faults).toEqual({ 'mmio-cache': 999, 'mmio-slow': 1 });
    expect(lineSummary(write)).toMatch(/^×1,000 · 999 mmio-cache · 1 mmio-slow · [0-9.]+ Mcycles$/);
    expect(lineSummary(write)).toBe(`×1,000 · 999 mmio-cache · 1 mmio-slow · ${(write.cycles / 1e6).toFixed(1)} Mcycles`);
  });

  it('counts per line add up to the run\'s own fault totals', () => {
    const sum: Record<string, number> = {};
    for (const l of r.lines) for (const [c, n] of Object.entries(l.faults)) sum[c] = (sum[c] ?? 0) + n;
    const nonzero = Object.fromEntries(Object.entries(r.faults).filter(([, n]) => n > 0));
    expect(sum).toEqual(nonzero);
    // The text names exactly the classes of the line with their counts.
    for (const l of r.lines) {
      const named = [...lineSummary(l).matchAll(/· ([0-9,]+) ([a-z-]+)/g)].map((m) => [m[2], Number(m[1]!.replace(/,/g, ''))]);
      expect(Object.fromEntries(named)).toEqual(l.faults);
    }
  });

  it('a line without faults: its count and cycles only', () => {
    const compute = r.lines.find((l) => l.line === lineOf('{ compute: 20000 }'))!;
    expect(lineSummary(compute)).toBe('×1,000 · 20.0 Mcycles');
  });

  it('v3.0: every doorbell is an EPT violation the slow way', () => {
    const v30 = doorbell('v3.0');
    const w = v30.lines.find((l) => l.line === write.line)!;
    expect(lineFaults(w)).toEqual([['mmio-slow', 1000]]);
    expect(lineSummary(w)).toMatch(/^×1,000 · 1,000 mmio-slow · /);
  });

  it('orders classes by count, then by name', () => {
    expect(lineFaults({ line: 1, count: 3, cycles: 10, faults: { b: 1, a: 1, c: 5, z: 0 } })).toEqual([['c', 5], ['a', 1], ['b', 1]]);
  });
});

describe('status-bar text', () => {
  it('exits, the top fault class and the elapsed time', () => {
    const r = doorbell('v3.1');
    expect(totalExits(r)).toBe(1001);
    expect(topFaultClass(r)).toEqual({ cls: 'mmio-cache', count: 999 });
    expect(statusText(r)).toMatch(/^1,001 exits · mmio-cache · [0-9.]+ ms$/);
  });

  it('formats seconds from ns to s', () => {
    expect(fmtSeconds(850e-9)).toBe('850 ns');
    expect(fmtSeconds(15.24e-6)).toBe('15.2 µs');
    expect(fmtSeconds(3.44e-3)).toBe('3.4 ms');
    expect(fmtSeconds(1.254)).toBe('1.25 s');
  });
});

describe('diagnostic ranges', () => {
  const lines = ['name: x', '  - { slot: 0, gpa: 0x0, size: 256M, readonly: true }   ', '  "exits.EPT_MISCONFIG": 3'];
  const lineText = (l: number) => lines[l];

  it('1-based inclusive-start, exclusive-end columns become 0-based', () => {
    const parsed = parseScenario('kernel: v3.2\n', 'bad.mmio.yaml');
    expect('diagnostics' in parsed).toBe(true);
    const d = ('diagnostics' in parsed ? parsed.diagnostics : []).find((x) => x.message.includes('v3.2'))!;
    expect(d).toMatchObject({ line: 1, col: 9, endLine: 1, endCol: 13 });
    expect(diagnosticRange(d, () => 'kernel: v3.2')).toEqual({ startLine: 0, startCol: 8, endLine: 0, endCol: 12 });
  });

  it('widens an empty range (a GuestSetupError position) to the rest of its line', () => {
    expect(diagnosticRange({ line: 2, col: 5, endLine: 2, endCol: 5 }, lineText)).toEqual({ startLine: 1, startCol: 4, endLine: 1, endCol: 53 });
    expect(diagnosticRange({ line: 9, col: 1, endLine: 9, endCol: 1 }, lineText)).toEqual({ startLine: 8, startCol: 0, endLine: 8, endCol: 0 });
  });

  it('an expectation covers its key, quoted or not; its message says expected and got', () => {
    expect(expectRange({ line: 3, col: 3, path: 'exits.EPT_MISCONFIG' }, lineText)).toEqual({ startLine: 2, startCol: 2, endLine: 2, endCol: 23 });
    expect(expectRange({ line: 1, col: 1, path: 'name' }, lineText)).toEqual({ startLine: 0, startCol: 0, endLine: 0, endCol: 4 });
    expect(expectMessage({ path: 'exits.EPT_MISCONFIG', expected: '== 999', actual: 1000 })).toBe('exits.EPT_MISCONFIG: expected == 999, got 1000');
  });

  it('a failed expectation of a real run', () => {
    const parsed = parseScenario(TEXT.replace('exits.EPT_MISCONFIG: 999', 'exits.EPT_MISCONFIG: 998'), 'doorbell.mmio.yaml');
    if ('diagnostics' in parsed) throw new Error(parsed.diagnostics[0]!.message);
    const failed = runScenario(parsed.scenario, { traceCapacity: 0 }).expect.filter((e) => !e.ok);
    expect(failed).toHaveLength(1);
    expect(expectMessage(failed[0]!)).toBe('exits.EPT_MISCONFIG: expected == 998, got 999');
    const line = lineOf('exits.EPT_MISCONFIG');
    expect(expectRange(failed[0]!, (l) => LINES[l])).toEqual({ startLine: line - 1, startCol: 2, endLine: line - 1, endCol: 2 + 'exits.EPT_MISCONFIG'.length });
  });
});

describe('tables document URIs', () => {
  const scenario = 'file:///home/me/My%20Lab/doorbell.mmio.yaml';

  it('round-trip the scenario URI and the step', () => {
    for (const step of [null, -1, 0, 12]) {
      const parts = tablesUriParts(scenario, step);
      expect(parseTablesUriParts(parts)).toEqual({ scenario, step });
    }
    expect(tablesUriParts(scenario, 12)).toEqual({ path: '/doorbell.mmio.yaml/after-step-12.txt', query: scenario, fragment: '12' });
    expect(tablesUriParts(scenario, null).path).toBe('/doorbell.mmio.yaml/end-of-run.txt');
    expect(parseTablesUriParts({ query: scenario, fragment: 'x' })).toBeNull();
    expect(parseTablesUriParts({ query: '', fragment: '1' })).toBeNull();
  });

  it('name the file and the step for people', () => {
    expect(baseName('untitled:/ws/new%20one.mmio.yaml')).toBe('new one.mmio.yaml');
    expect(stepText(null)).toBe('at the end of the run');
    expect(stepText(-1)).toBe('before the first step');
    expect(stepText(3)).toBe('after step 3');
  });
});
