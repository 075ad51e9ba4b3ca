// Issue 14 item 12: the status-bar tooltip (run_summary.ts runTooltip) and the line hover
// (line_summary.ts lineHover) are Markdown; the scenario's name and the file name in them are plain
// text. On main both went to appendMarkdown raw: `![b](https://evil.example/x.png)` in a name made
// the hover fetch the image, and a link in it worked.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseScenario, runScenario, type RunResult } from '../simulator/index';
import { lineHover } from '../extension/line_summary';
import { mdText } from '../extension/markdown_text';
import { runTooltip } from '../extension/run_summary';

const HOSTILE = [
  '![b](https://evil.example/x.png)',
  '[click](https://evil.example/?a=1 "t")',
  '<img src=x onerror=alert(1)> <a href="https://evil.example">a</a>',
  '`code` ``two``',
  '$(error) $(sync~spin)',
  'cell | forged | row',
  '**bold** _em_ ~~del~~ &amp; &#60;',
  'line\n# heading\r\n- item\u2028> quote',
  'https://evil.example www.evil.example me@evil.example',
  'back\\slash\\![x](y)',
];

/** The Markdown with every backslash escape taken out: what could still act as syntax. */
const bare = (md: string) => md.replace(/\\[!-/:-@[-`{-~]/g, '');
/** What the reader sees of escaped text. */
const unescape = (md: string) => md.replace(/\\([!-/:-@[-`{-~])/g, '$1');

function expectInert(md: string, ours: RegExp): void {
  const rest = bare(md.replace(ours, ''));
  for (const token of ['![', '](', '[', '<', '`', '$(', '|', '&', '://', 'www.', '@']) expect(rest, `${token} in ${JSON.stringify(md)}`).not.toContain(token);
}

function doorbell(): RunResult {
  const parsed = parseScenario(readFileSync('examples/doorbell.mmio.yaml', 'utf8'), 'doorbell.mmio.yaml');
  if ('diagnostics' in parsed) throw new Error(parsed.diagnostics[0]!.message);
  return runScenario(parsed.scenario, { overrides: { kernel: 'v3.1' }, traceCapacity: 0 });
}

describe('mdText', () => {
  it('escapes every Markdown-significant character and keeps the text readable', () => {
    for (const s of HOSTILE) {
      const md = mdText(s);
      expectInert(md, /$^/);
      expect(md).not.toMatch(/[\r\n\u2028\u2029]/);
      expect(unescape(md)).toBe(s.replace(/[\r\n\u2028\u2029]+/g, ' '));
    }
    expect(mdText('doorbell.mmio.yaml')).toBe('doorbell\\.mmio\\.yaml');
    expect(mdText('plain words 123')).toBe('plain words 123');
  });
});

describe('hovers with hostile scenario and file names', () => {
  const r = doorbell();
  const line = r.lines.find((l) => Object.keys(l.faults).length > 0)!;

  it('the status-bar tooltip keeps the name and the file name as text', () => {
    for (const s of HOSTILE) {
      const md = runTooltip(`${s}.mmio.yaml`, { ...r, name: s });
      // Our own syntax: the bold title, and the failed-expectations icon (none fail here).
      expectInert(md, /^\*\*MMU Lab\*\* · /);
      expect(md.startsWith('**MMU Lab** · ')).toBe(true);
      expect(unescape(md)).toContain(s.replace(/[\r\n\u2028\u2029]+/g, ' '));
      // The name cannot open a paragraph of its own: the blocks are ours only.
      expect(md.split('\n\n')[0]).toBe(`**MMU Lab** · ${mdText(s)}`);
    }
  });

  it('the line hover keeps the file name as text, and its table has only the fault rows', () => {
    for (const s of HOSTILE) {
      const md = lineHover(line, s);
      const rows = md.split('\n').filter((l) => l.startsWith('|'));
      expect(rows.length).toBe(2 + Object.values(line.faults).filter((n) => n > 0).length);
      // Take out our own syntax (the bold title, the table's pipes), then nothing may act.
      expectInert(md.replace(/^\| | \| | \|$/gm, ' ').replace(/^\|---\|---:\|$/m, ''), /^\*\*MMU Lab\*\* · /);
      expect(unescape(md.split('\n\n')[0]!)).toBe(`**MMU Lab** · ${s.replace(/[\r\n\u2028\u2029]+/g, ' ')}, line ${line.line}`);
    }
  });
});
