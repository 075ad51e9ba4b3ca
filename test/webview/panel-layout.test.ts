// The panel's layout from 400 px to a full editor width (issue 13 item 1), in real Chromium, with the
// bundled examples: every view at 400, 520, 800 and 1400 px. No table header or cell is cut short
// (data tables wrap or drop low-priority columns; the timeline's fixed-height rows may cut a cell
// only when its tooltip holds the full text), nothing scrolls sideways at 520 px and wider, and every
// Compare variant has its column in view. Screenshots of every view at 400 and 1400 px go to
// test-artifacts/webview/layout-*.png.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS, browserTestsEnabled, PanelHarness, type PanelPage } from './harness';
import { examplePanelRun, exampleText } from './fixtures';
import { handleRequest } from '../../extension/worker/requests';
import type { PanelRun, ViewId } from '../../shared/protocol';

const enabled = browserTestsEnabled();
const VIEWS: readonly ViewId[] = ['summary', 'shadow', 'timeline', 'memslots', 'compare', 'flame'];
/** The first width is the page's size when the run arrives; the others are the panel resized. */
const WIDTHS = [400, 1400, 800, 520] as const;
/** The examples whose views are photographed at 400 and 1400 px. */
const PHOTOGRAPHED = new Set(['doorbell', 'netperf']);

/** What the extension sends after "Compare Kernels": the run and its kernels' compare. */
function kernelsRun(file: string): PanelRun {
  const source = { uri: `file:///workspace/${file}`, file, text: exampleText(file), defaultKernel: 'v3.1' as const, profile: 'scenario' as const };
  const ran = handleRequest({ id: 1, kind: 'run', traceCapacity: 10_000, ...source });
  const compared = handleRequest({ id: 2, kind: 'compare', kernels: true, ...source });
  if (ran.kind !== 'result' || compared.kind !== 'compare') throw new Error(`${file} did not run: ${ran.kind}, ${compared.kind}`);
  return { uri: source.uri, file, result: ran.result, compare: compared.result };
}

/** Everything in the shown view that breaks the layout at this width, described for the failure message. */
async function layoutProblems(p: PanelPage, view: ViewId, sidewaysAllowedInside: boolean): Promise<string[]> {
  return p.page.evaluate(
    ({ view, sidewaysAllowedInside }) => {
      const out: string[] = [];
      const doc = document.documentElement;
      if (doc.scrollWidth > doc.clientWidth) out.push(`the page scrolls sideways (${doc.scrollWidth} > ${doc.clientWidth})`);
      const panel = document.querySelector(`vscode-tab-panel[data-view="${view}"]`)!;
      const shown = (el: Element) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
      const where = (el: Element) => {
        const table = el.closest('[data-table]')?.getAttribute('data-table');
        const cls = typeof el.className === 'string' && el.className ? `.${el.className.split(' ').join('.')}` : '';
        return `${table ? `[data-table=${table}] ` : ''}${el.tagName.toLowerCase()}${cls} "${(el.textContent ?? '').trim().slice(0, 48)}"`;
      };
      for (const el of panel.querySelectorAll('*')) {
        if (sidewaysAllowedInside || !shown(el)) continue;
        const ox = getComputedStyle(el).overflowX;
        if ((ox === 'auto' || ox === 'scroll') && el.scrollWidth > el.clientWidth + 1) out.push(`scrolls sideways: ${where(el)} (${el.scrollWidth} > ${el.clientWidth})`);
      }
      // Data tables wrap or drop columns: a cell is never cut short.
      for (const cell of panel.querySelectorAll('vscode-table-cell, vscode-table-header-cell')) {
        if (!shown(cell) || (cell.textContent ?? '').trim() === '') continue;
        // The cell's text is slotted into the wrapper of its shadow tree, which clips it.
        for (const box of [cell, cell.shadowRoot?.querySelector('.wrapper')]) {
          if (box && box.scrollWidth > box.clientWidth + 1) out.push(`cut short: ${where(cell)} (${box.scrollWidth} > ${box.clientWidth})`);
        }
        const r = cell.getBoundingClientRect();
        if (r.right > doc.clientWidth + 1 && !sidewaysAllowedInside) out.push(`out of view: ${where(cell)} (right edge ${Math.round(r.right)} > ${doc.clientWidth})`);
      }
      // The timeline's rows have a fixed height: a cell may be cut short if its tooltip has the full text.
      for (const cell of panel.querySelectorAll('.tl-row .tl-cell')) {
        const text = (cell.textContent ?? '').trim();
        if (!shown(cell) || text === '' || cell.scrollWidth <= cell.clientWidth + 1) continue;
        if (cell.getAttribute('title') !== text && cell.getAttribute('aria-label') !== text) out.push(`cut short without its full text: ${where(cell)} (${cell.scrollWidth} > ${cell.clientWidth})`);
      }
      return out;
    },
    { view, sidewaysAllowedInside },
  );
}

/** Every variant's label heads a column of each side-by-side table and names a row of the variants
 *  table, inside the panel's width. */
async function hiddenVariants(p: PanelPage, labels: readonly string[]): Promise<string[]> {
  return p.page.evaluate((labels) => {
    const out: string[] = [];
    const width = document.documentElement.clientWidth;
    const visible = (el: Element) => {
      const r = el.getBoundingClientRect();
      return el.getClientRects().length > 0 && r.width > 0 && r.left >= -0.5 && r.right <= width + 0.5;
    };
    const view = document.querySelector('vscode-tab-panel[data-view="compare"]')!;
    for (const table of view.querySelectorAll('[data-table]')) {
      const id = table.getAttribute('data-table');
      const heads = [...table.querySelectorAll('vscode-table-header-cell')];
      if (id === 'compare') {
        const firsts = [...table.querySelectorAll('vscode-table-body vscode-table-row')].map((tr) => tr.querySelector('vscode-table-cell')!);
        for (const l of labels) if (!firsts.some((c) => (c.textContent ?? '').trim() === l && visible(c))) out.push(`${id}: no visible row for ${l}`);
        continue;
      }
      if (!heads.some((hc) => labels.includes((hc.textContent ?? '').trim()))) continue;
      for (const l of labels) if (!heads.some((hc) => (hc.textContent ?? '').trim() === l && visible(hc))) out.push(`${id}: the column of ${l} is not in view`);
    }
    return out;
  }, labels);
}

describe.runIf(enabled)('the panel from 400 px to a full editor width (Chromium)', { timeout: 240_000 }, () => {
  let harness: PanelHarness;
  const runs: [string, () => PanelRun][] = [
    ['doorbell', () => examplePanelRun('examples/doorbell.mmio.yaml')],
    ['race', () => examplePanelRun('examples/race-zap-during-walk.mmio.yaml')],
    ['doorbell-kernels', () => kernelsRun('examples/doorbell.mmio.yaml')],
    ['memslot-sweep', () => examplePanelRun('examples/memslot-sweep.mmio.yaml', { traceCapacity: 20_000 }, true)],
    ['netperf', () => examplePanelRun('examples/seed/netperf-tcp-rr.mmio.yaml', { traceCapacity: 20_000 }, true)],
    ['kernbench', () => examplePanelRun('examples/seed/kernbench.mmio.yaml', { traceCapacity: 20_000 }, true)],
  ];
  beforeAll(async () => {
    harness = await PanelHarness.start();
    mkdirSync(ARTIFACTS, { recursive: true });
  }, 60_000);
  afterAll(async () => {
    await harness?.close();
  });

  for (const [name, make] of runs) {
    it(`${name}: every view fits 400, 520, 800 and 1400 px`, async () => {
      const run = make();
      const p = await harness.open('dark', null, { width: WIDTHS[0], height: 900 });
      await p.post({ type: 'run', run });
      await p.page.waitForSelector('[data-testid="scenario-name"]');
      const problems: string[] = [];
      for (const width of WIDTHS) {
        await p.page.setViewportSize({ width, height: 900 });
        for (const view of VIEWS) {
          await p.showView(view);
          // Two frames: the resize observers have run and their layout is painted.
          await p.page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok))));
          problems.push(...(await layoutProblems(p, view, width < 520)).map((s) => `${width} px, ${view}: ${s}`));
          if (view === 'compare' && run.compare) {
            problems.push(...(await hiddenVariants(p, run.compare.variants.map((v) => v.label))).map((s) => `${width} px: ${s}`));
          }
          if (PHOTOGRAPHED.has(name) && (width === 400 || width === 1400)) {
            await p.page.screenshot({ path: join(ARTIFACTS, `layout-${name}-${view}-${width}.png`), fullPage: true });
          }
        }
      }
      expect(problems).toEqual([]);
      expect(p.errors).toEqual([]);
      await p.close();
    });
  }
});
