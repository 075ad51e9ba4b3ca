// Issue 14 item 7: scenario text (the name, labels, variant labels, device names, the metric's unit,
// expectation paths, the file name) never reaches a text output raw. Every control character (LF,
// CR and TAB too) and every bidi control in it is shown as an escape, so no output can drive a
// terminal or forge a line; the outputs of a hostile scenario have exactly the lines of a plain one.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  compareScenario,
  foldedStacks,
  formatCompareText,
  formatRunText,
  formatShadowTablesText,
  formatTraceCmd,
  lineSafe,
  jsonSafe,
  parseScenario,
  runScenario,
  type CompareResult,
  type Scenario,
} from '../simulator/index';
import { formatKvmStat } from '../simulator/report/kvm_stat_text';
import { terminalSafe } from '../simulator/util/control_chars';
import { csvField } from '../shared/csv';
import { flameToFolded, traceToCsv, traceToTraceCmd } from '../extension/trace_export';
import { tablesDocumentText, unreadableText } from '../extension/tables_text';

/** What no output may hold, written independently of the implementation: C0 but LF, DEL, C1, the
 *  line and paragraph separators, the bidi controls. (LF only ever ends an output's own lines.) */
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/** ESC (a CSI sequence that clears the screen), CR, LF with a forged report line, TAB, NUL, C1 CSI,
 *  RLO: as YAML double-quoted escapes. */
const HOSTILE = String.raw`x\e[2J\ry\nexits.EPT_MISCONFIG: 0\tz\0\x9b\u202eq`;
const HOSTILE_FILE = 'evil\u001b]0;title\u0007\r\nforged\u202e.mmio.yaml';

/** doorbell.mmio.yaml with `s` as its name, repeat label, device name, metric label and unit, a
 *  variant label and an expectation path. */
function yaml(s: string): string {
  return (
    readFileSync('examples/doorbell.mmio.yaml', 'utf8')
      .replace('name: Doorbell writes to an emulated NIC', `name: "${s}"`)
      .replace('label: transaction', `label: "${s}"`)
      .replace('{ name: nic,', `{ name: "${s}",`)
      .replace('faults.mmio-slow: 1', `faults.mmio-slow: 1\n  "labels.${s}.count": 3`) +
    `metric: { label: "${s}", unit: "${s}" }\ncompare:\n  - { label: "${s}", kernel: v3.0 }\n  - { label: b, kernel: v3.1 }\n`
  );
}

function parse(s: string, file: string): Scenario {
  const p = parseScenario(yaml(s), file);
  if ('diagnostics' in p) throw new Error(p.diagnostics.map((d) => d.message).join('\n'));
  return p.scenario;
}

interface Outputs {
  [name: string]: string;
}

/** Every text output MMU Lab makes of one scenario. */
function outputs(sc: Scenario): Outputs {
  const r = runScenario(sc, { callPaths: true, accesses: true });
  const c = compareScenario(sc);
  const diagnostics = parseScenario(`name: x\n"${HOSTILE}": 1\n`, sc.file);
  if (!('diagnostics' in diagnostics)) throw new Error('expected diagnostics');
  const source = { defaultKernel: 'v3.1', profile: 'scenario' } as const;
  const uri = `file:///w/${sc.file}`;
  return {
    report: formatRunText(r, { accesses: true }),
    compare: formatCompareText(c),
    traceCmd: formatTraceCmd(r),
    folded: foldedStacks(r.flame!.all).join('\n'),
    kvmStatExits: formatKvmStat(r, { event: 'vmexit', vcpu: -1, key: 'sample' }),
    kvmStatMmio: formatKvmStat(r, { event: 'mmio', vcpu: 0, key: 'time' }),
    shadow: formatShadowTablesText(r.shadow_tables),
    exportTraceCmd: traceToTraceCmd(r),
    exportFolded: flameToFolded(r),
    exportCsv: traceToCsv(r).replace(/\r\n/g, '\n'),
    tablesDocument: tablesDocumentText(sc.file, uri, 3, source, { id: 1, kind: 'tables', step: 3, tables: r.shadow_tables }),
    tablesDiagnostics: tablesDocumentText(sc.file, uri, null, source, { id: 1, kind: 'diagnostics', diagnostics: diagnostics.diagnostics }),
    tablesError: tablesDocumentText(sc.file, uri, null, source, { id: 1, kind: 'error', message: `bad ${sc.name}` }),
    tablesUnreadable: unreadableText(sc.file, `ENOENT ${sc.name}`),
  };
}

const lines = (s: string): number => s.split('\n').length;

describe('lineSafe: scenario text for one field of one line', () => {
  it('escapes every control character, LF, CR and TAB included, as \\xNN or \\uNNNN', () => {
    expect(lineSafe('a\u001b[2J\r\n\t\u0000\u007f\u009b\u0085\u202e\u2066\u2028\u061cb')).toBe(
      'a\\x1b[2J\\x0d\\x0a\\x09\\x00\\x7f\\x9b\\x85\\u202e\\u2066\\u2028\\u061cb',
    );
  });

  it('leaves ordinary text, Unicode and backslashes as they are', () => {
    const s = 'Doorbell writes · ept=0, before (µs/iter) → 漢字 😀 C:\\x1b';
    expect(lineSafe(s)).toBe(s);
  });

  it('terminalSafe uses the same notation and keeps only LF and TAB', () => {
    expect(terminalSafe('a\nb\tc\r\u001b\u2028')).toBe('a\nb\tc\\x0d\\x1b\\u2028');
  });
});

describe('jsonSafe: JSON output keeps the strings exact', () => {
  it('writes what JSON.stringify leaves raw as \\u escapes, and parses back to the same value', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        const json = jsonSafe(JSON.stringify({ name: s, labels: { [s]: 1 } }));
        expect(json.match(UNSAFE)).toBeNull();
        expect(JSON.parse(json)).toEqual({ name: s, labels: { [s]: 1 } });
      }),
      { seed: 14, numRuns: 300 },
    );
    expect(jsonSafe(JSON.stringify('a\u009b\u202e'))).toBe('"a\\u009b\\u202e"');
  });
});

describe('every text output of a hostile scenario', () => {
  const hostile = outputs(parse(HOSTILE, HOSTILE_FILE));
  const plain = outputs(parse('plain', 'plain.mmio.yaml'));

  it('holds the hostile strings, escaped (the report shows what the file says)', () => {
    const shown = 'x\\x1b[2J\\x0dy\\x0aexits.EPT_MISCONFIG: 0\\x09z\\x00\\x9b\\u202eq';
    expect(hostile.report).toContain(`Scenario ${shown} (evil\\x1b]0;title\\x07\\x0d\\x0aforged\\u202e.mmio.yaml)`);
    expect(hostile.report).toContain(`  ${shown} `); // the label row
    expect(hostile.report).toContain(`labels.${shown}.count`);
    expect(hostile.compare).toContain(`Compare: ${shown} (`);
    expect(hostile.compare).toContain(`${shown} (${shown})`); // metric label and unit
    expect(hostile.tablesDocument).toContain('MMU Lab · evil\\x1b]0;title\\x07\\x0d\\x0aforged\\u202e.mmio.yaml · shadow tables after step 3');
    expect(hostile.tablesDiagnostics).toContain(shown);
  });

  for (const name of Object.keys(plain)) {
    it(`${name}: no raw control character, and the lines of a plain scenario`, () => {
      const text = hostile[name]!;
      expect(text.length).toBeGreaterThan(0);
      expect(text.match(UNSAFE)).toBeNull();
      expect(lines(text)).toBe(lines(plain[name]!));
    });
  }
});

describe('random scenario strings (fast-check, fixed seed)', () => {
  const sc = parse('plain', 'plain.mmio.yaml');
  const r = runScenario(sc, { accesses: true });
  const c = compareScenario(sc);
  const baseReport = lines(formatRunText(r));
  const baseCompare = lines(formatCompareText(c));
  // Any code point, and strings dense in the characters that matter.
  const nasty = fc.constantFrom('\u0000', '\u0007', '\t', '\n', '\r', '\u000b', '\u000c', '\u001b', '\u007f', '\u0085', '\u009b', '\u061c', '\u200e', '\u2028', '\u2029', '\u202e', '\u2067', 'a', ' ', '\\', '%', ':');
  const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 24 }), fc.string({ unit: nasty, maxLength: 24 }));

  it('the text report: no unsafe character, no extra line, whatever the name, file, label and expectation path', () => {
    fc.assert(
      fc.property(text, text, text, (name, label, file) => {
        const labels = { [label]: r.labels.plain! };
        const expect_ = r.expect.map((e) => ({ ...e, path: `labels.${label}.count`, ok: false }));
        const out = formatRunText({ ...r, name, file, labels, expect: expect_ });
        expect(out.match(UNSAFE)).toBeNull();
        expect(lines(out)).toBe(baseReport);
      }),
      { seed: 14, numRuns: 300 },
    );
  });

  it('the compare text: no unsafe character, no extra line, whatever the name, variant labels, metric label and unit', () => {
    fc.assert(
      fc.property(text, text, text, (name, label, unit) => {
        const variants = c.variants.map((v, i) => ({ ...v, label: i === 0 ? label : `${label}${i}` }));
        const metric = { ...c.metric, label, unit };
        const out = formatCompareText({ ...c, name, file: name, variants, metric } as CompareResult);
        expect(out.match(UNSAFE)).toBeNull();
        expect(lines(out)).toBe(baseCompare);
      }),
      { seed: 14, numRuns: 300 },
    );
  });
});

describe('CSV keeps scenario text as it is (RFC 4180), quoted', () => {
  it('a cell with CR, LF or CRLF is one quoted field; a cell starting with CR is also neutralised', () => {
    expect(csvField('a\nb')).toBe('"a\nb"');
    expect(csvField('a\r\nb "c"')).toBe('"a\r\nb ""c"""');
    expect(csvField('a\rb')).toBe('"a\rb"');
    expect(csvField('\r=1+1')).toBe(`"'\r=1+1"`);
  });
});
