// The panel's links to the reference documents the package ships (shared/docs.ts): each posts
// `openDoc` with its document (the host opens it in the Markdown preview; the end-to-end test in
// code-server checks that part), by click and by keyboard, and the page itself does not move.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserTestsEnabled, PanelHarness } from './harness';
import { examplePanelRun } from './fixtures';
import { DOCS } from '../../shared/docs';

const enabled = browserTestsEnabled();

describe.runIf(enabled)('links to the shipped reference documents (Chromium)', { timeout: 90_000 }, () => {
  let harness: PanelHarness;
  beforeAll(async () => {
    harness = await PanelHarness.start();
  }, 60_000);
  afterAll(async () => {
    await harness?.close();
  });

  it('Summary: the fault-class note opens the fault class reference; Compare without variants, the scenario format', async () => {
    const p = await harness.open('dark');
    await p.post({ type: 'run', run: examplePanelRun('examples/doorbell.mmio.yaml') });
    const faults = '[data-testid="fault-class-doc"] a[data-doc="fault-classes"]';
    await p.page.waitForSelector(faults);
    expect(await p.page.getAttribute(faults, 'title')).toContain(DOCS['fault-classes'].file);
    await p.page.click(faults);
    expect(await p.waitForMessage('openDoc')).toEqual({ type: 'openDoc', doc: 'fault-classes' });
    await p.page.focus(faults);
    await p.page.keyboard.press('Enter');
    expect(await p.waitForMessage('openDoc')).toEqual({ type: 'openDoc', doc: 'fault-classes' });
    expect(p.page.url()).toMatch(/^http:\/\/localhost:\d+\/$/);

    await p.showView('compare');
    const format = '[data-testid="compare-empty"] a[data-doc="scenario-format"]';
    await p.page.click(format);
    expect(await p.waitForMessage('openDoc')).toEqual({ type: 'openDoc', doc: 'scenario-format' });
    // The panel names no file the user cannot open: the document paths only in the links' tooltips.
    expect(await p.page.textContent('[data-testid="compare-empty"]')).not.toContain('docs/');
    // Drawn in the theme's link colour, as every link of the panel.
    const colours = await p.page.$eval(format, (a) => {
      const probe = document.createElement('span');
      probe.style.color = 'var(--vscode-textLink-foreground)';
      document.body.append(probe);
      const link = getComputedStyle(probe).color;
      probe.remove();
      return { link, shown: getComputedStyle(a).color };
    });
    expect(colours.shown).toBe(colours.link);
    await p.screenshot('doc-links-compare-empty-dark');
    await p.close();
  });
});
