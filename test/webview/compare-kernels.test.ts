// Compare Kernels in the panel (Chromium): the doorbell under v3.0 and v3.1 side by side in a 520 px
// panel, with the note that says what was changed for v3.0 (3.0.1 has no MMIO SPTE: 3.1.10 mmu.c:199
// `static u64 __read_mostly shadow_mmio_mask;` has no counterpart), rendered as text.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserTestsEnabled, PanelHarness } from './harness';
import { exampleText } from './fixtures';
import { handleRequest } from '../../extension/worker/requests';
import type { PanelRun } from '../../shared/protocol';

const enabled = browserTestsEnabled();
const DOORBELL = 'examples/doorbell.mmio.yaml';

/** What the extension sends the panel after "Compare Kernels": the run and the kernels' compare. */
function kernelsRun(text: string, file: string): PanelRun {
  const source = { uri: `file:///workspace/${file}`, file, text, defaultKernel: 'v3.1' as const, profile: 'scenario' as const };
  const ran = handleRequest({ id: 1, kind: 'run', traceCapacity: 10_000, ...source });
  const compared = handleRequest({ id: 2, kind: 'compare', kernels: true, ...source });
  if (ran.kind !== 'result' || compared.kind !== 'compare') throw new Error(`the doorbell did not run: ${ran.kind}, ${compared.kind}`);
  // The panel's runs carry call paths (RunOptions.callPaths): the Flame view and its differential mode.
  if (!ran.result.flame || !compared.result.variants.every((v) => v.report.flame)) throw new Error('the worker ran without call paths');
  return { uri: source.uri, file, result: ran.result, compare: compared.result };
}

describe.runIf(enabled)('Compare Kernels in the panel (Chromium)', { timeout: 90_000 }, () => {
  let harness: PanelHarness;
  let run: PanelRun;
  beforeAll(async () => {
    harness = await PanelHarness.start();
    run = kernelsRun(exampleText(DOORBELL), DOORBELL);
  }, 60_000);
  afterAll(async () => {
    await harness?.close();
  });

  for (const theme of ['dark', 'light', 'high-contrast'] as const) {
    it(`the doorbell: both kernels' columns and the v3.0 note, in a 520 px panel (${theme})`, async () => {
      const p = await harness.open(theme, null, { width: 520, height: 900 });
      await p.post({ type: 'run', run });
      await p.page.waitForSelector('[data-testid="scenario-name"]');
      await p.post({ type: 'showView', view: 'compare' });
      await p.waitForView('compare');
      // The variants table: one row per kernel, in the table's order (kernels/eras.ts: v3.0, v3.1).
      const labels = await p.page.$$eval('[data-table="compare"] vscode-table-body vscode-table-row', (trs) => trs.map((tr) => (tr.querySelector('vscode-table-cell')?.textContent ?? '').trim()));
      expect(labels).toEqual(['v3.0 EPT', 'v3.1 EPT']);
      // The side-by-side tables: one column per kernel, the second followed by its change against the first.
      const heads = await p.page.$$eval('[data-table="compare-exits"] vscode-table-header-cell', (cs) => cs.map((c) => (c.textContent ?? '').trim()));
      expect(heads).toEqual(['exit reason', 'v3.0 EPT', 'v3.1 EPT', 'Δ v3.1 EPT']);
      // The doorbell's 999 EPT misconfigurations exist only with 3.1's MMIO SPTE (kvm-mmio-reference §4).
      const misconfig = await p.page.$$eval('[data-table="compare-exits"] vscode-table-body vscode-table-row', (trs) =>
        trs.map((tr) => Array.from(tr.querySelectorAll('vscode-table-cell'), (td) => (td.textContent ?? '').trim())).find((r) => r[0] === 'EPT_MISCONFIG'),
      );
      expect(misconfig).toEqual(['EPT_MISCONFIG', '0', '999', '+999 (from 0)']);
      // The note, next to its variant, as text (backticks and all), visible without scrolling sideways.
      expect(await p.page.isVisible('[data-testid="compare-notes"]')).toBe(true);
      const notes = await p.page.$$eval('[data-testid="compare-notes"] li', (lis) => lis.map((li) => ({ variant: li.getAttribute('data-variant'), text: li.textContent ?? '' })));
      expect(notes).toHaveLength(1);
      expect(notes[0]!.variant).toBe('v3.0 EPT');
      expect(notes[0]!.text).toContain('v3.0 EPT: mmu.mmio_caching: true off: v3.0 (3.0.1) has no MMIO SPTEs (3.1.10 mmu.c:199 `static u64 __read_mostly shadow_mmio_mask;`');
      const overflow = await p.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      const box = await p.page.locator('[data-testid="compare-notes"] li').first().boundingBox();
      expect(box!.x + box!.width).toBeLessThanOrEqual(520);
      await p.page.locator('[data-testid="compare-notes"]').scrollIntoViewIfNeeded();
      await p.screenshot(`compare-kernels-doorbell-520-${theme}`);
      expect(await p.cspViolations()).toEqual([]);
      await p.close();
    });
  }

  it('a note is text, never markup', async () => {
    const hostile: PanelRun = structuredClone(run);
    hostile.compare!.variants[1]!.notes = ['<img src=x onerror="window.__pwned=1"><b>bold</b>'];
    const p = await harness.open('dark', null, { width: 520, height: 900 });
    await p.post({ type: 'run', run: hostile });
    await p.page.waitForSelector('[data-testid="scenario-name"]');
    await p.showView('compare');
    const li = p.page.locator('[data-testid="compare-notes"] li[data-variant="v3.1 EPT"]');
    expect(await li.textContent()).toBe('v3.1 EPT: <img src=x onerror="window.__pwned=1"><b>bold</b>');
    expect(await p.page.$$eval('[data-testid="compare-notes"] img, [data-testid="compare-notes"] b', (e) => e.length)).toBe(0);
    expect(await p.page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await p.close();
  });
});
