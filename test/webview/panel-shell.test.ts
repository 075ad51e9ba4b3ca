// The panel's shell in real Chromium: it says it is ready, names the run as text, keeps its state,
// obeys its CSP and reports no errors.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PanelHarness } from './harness';
import { browserTestsEnabled } from './harness';
import { examplePanelRun, exampleText, panelRun } from './fixtures';
import { INITIAL_STATE, type PanelState, type ViewId } from '../../shared/protocol';

const enabled = browserTestsEnabled();

describe.runIf(enabled)('panel shell (Chromium)', { timeout: 60_000 }, () => {
  let harness: PanelHarness;
  beforeAll(async () => {
    harness = await PanelHarness.start();
  }, 60_000);
  afterAll(async () => {
    await harness?.close();
  });

  it('posts ready with no saved state, then renders a run with its name and settings', async () => {
    const p = await harness.open('dark');
    const run = panelRun(exampleText('examples/doorbell.mmio.yaml'), 'examples/doorbell.mmio.yaml');
    await p.post({ type: 'run', run });
    await p.page.waitForSelector('[data-testid="scenario-name"]');
    expect(await p.page.textContent('[data-testid="scenario-name"]')).toBe('Doorbell writes to an emulated NIC');
    expect(await p.page.textContent('[data-testid="run-meta"]')).toContain('kernel v3.1 · EPT · westmere-2011 · 1 vCPU');
    expect(await p.page.isVisible('[data-testid="placeholder"]')).toBe(false);
    expect(await p.cspViolations()).toEqual([]);
    expect(p.errors).toEqual([]);
    await p.close();
  });

  it('shows markup in a scenario name and labels as text, never as elements', async () => {
    const evil = '<img src=x onerror="window.__xss=1"><b>bold</b>';
    const text = exampleText('examples/doorbell.mmio.yaml')
      .replace('name: Doorbell writes to an emulated NIC', `name: '${evil}'`)
      .replace('label: transaction', `label: '<script>window.__xss=2</script>'`);
    const p = await harness.open('light');
    await p.post({ type: 'run', run: panelRun(text, 'evil.mmio.yaml') });
    await p.page.waitForSelector('[data-testid="scenario-name"]');
    expect(await p.page.textContent('[data-testid="scenario-name"]')).toBe(evil);
    for (const view of ['summary', 'shadow', 'timeline', 'memslots', 'compare', 'flame']) await p.showView(view);
    expect(await p.page.evaluate(() => document.querySelectorAll('#app img, #app b, #app script').length)).toBe(0);
    expect(await p.page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await p.page.evaluate(() => document.body.textContent ?? '')).toContain('<script>window.__xss=2</script>');
    await p.close();
  });

  it('saves its state and comes back to the same view after a reload', async () => {
    const p = await harness.open('dark');
    await p.post({ type: 'run', run: panelRun(exampleText('examples/doorbell.mmio.yaml'), 'examples/doorbell.mmio.yaml') });
    await p.showView('memslots');
    const state = await p.state();
    expect(state?.view).toBe('memslots');
    expect(state?.uri).toBe('file:///workspace/examples/doorbell.mmio.yaml');
    await p.close();

    // A hidden webview is destroyed; VS Code gives the new one the saved state.
    const again = await harness.open('dark', state ?? null);
    expect(again.ready?.state?.view).toBe('memslots');
    expect(again.ready?.state?.uri).toBe('file:///workspace/examples/doorbell.mmio.yaml');
    // Until the host re-sends the run, the restored panel shows that view's tab.
    await again.waitForView('memslots');
    await again.close();
  });

  it('brings a view to the front when the host asks (Inspect Shadow Tables)', async () => {
    const p = await harness.open('dark');
    await p.post({ type: 'run', run: panelRun(exampleText('examples/doorbell.mmio.yaml'), 'examples/doorbell.mmio.yaml') });
    await p.post({ type: 'showView', view: 'shadow' });
    await p.waitForView('shadow');
    expect((await p.state())?.view).toBe('shadow');
    await p.close();
  });

  it('reopens on Summary when the remembered view has nothing for the new run; keeps a remembered view that has', async () => {
    const doorbell = panelRun(exampleText('examples/doorbell.mmio.yaml'), 'examples/doorbell.mmio.yaml');
    const noTrace = panelRun(exampleText('examples/doorbell.mmio.yaml'), 'examples/doorbell.mmio.yaml', { traceCapacity: 0, callPaths: false });
    const withVariants = examplePanelRun('examples/memslot-sweep.mmio.yaml', { traceCapacity: 1000 }, true);
    const remembered = (view: ViewId): PanelState => ({ ...INITIAL_STATE, uri: doorbell.uri, view });
    const shownAfterRun = async (view: ViewId, run: typeof doorbell) => {
      // A restored panel (VS Code gives it the saved state), then the host's run.
      const p = await harness.open('dark', remembered(view));
      await p.waitForView(view);
      await p.post({ type: 'run', run });
      await p.page.waitForSelector('[data-testid="scenario-name"]');
      const shown = await p.page.$eval('vscode-tab-panel:not([hidden])', (el) => el.getAttribute('data-view'));
      const saved = (await p.state())?.view;
      await p.close();
      return { shown, saved };
    };
    // Remembered: Compare; the doorbell run has no compare: variants.
    expect(doorbell.compare).toBeNull();
    expect(await shownAfterRun('compare', doorbell)).toEqual({ shown: 'summary', saved: 'summary' });
    // Remembered: Timeline and Flame graph; a run that kept no trace events and no call paths.
    expect(noTrace.result.trace.events).toHaveLength(0);
    expect(noTrace.result.flame).toBeUndefined();
    expect(await shownAfterRun('timeline', noTrace)).toEqual({ shown: 'summary', saved: 'summary' });
    expect(await shownAfterRun('flame', noTrace)).toEqual({ shown: 'summary', saved: 'summary' });
    // Remembered views that have something for the run stay.
    expect(await shownAfterRun('compare', withVariants)).toEqual({ shown: 'compare', saved: 'compare' });
    expect(await shownAfterRun('memslots', noTrace)).toEqual({ shown: 'memslots', saved: 'memslots' });
    // A view the host asks for after the run (Compare Variants on a file without compare:) is shown,
    // with its help.
    const p = await harness.open('dark');
    await p.post({ type: 'run', run: doorbell });
    await p.post({ type: 'showView', view: 'compare' });
    await p.waitForView('compare');
    expect(await p.page.isVisible('[data-testid="compare-empty"]')).toBe(true);
    await p.close();
  });
});
