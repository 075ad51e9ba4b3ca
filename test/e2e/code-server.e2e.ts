// The packaged extension in code-server 4.100.3 (VS Code 1.100 with the Node extension host, the
// same host as the desktop), driven as a person would: install the .vsix, open a copy of examples/,
// open the doorbell with quick open, run "MMU Lab: Run MMIO Scenario" from the command palette,
// then read the panel's own DOM: the exit table, the decoded MMIO SPTE in the shadow tables, and a
// timeline click that selects its workload line in the editor; then Open as Text (a read-only
// document), the Test Explorer (the file's expectations pass), a problem reported while typing, and
// "MMU Lab: Compare Kernels" (v3.0 and v3.1 side by side in the Compare view, with the note); last,
// every view's layout at the default split (no table text cut short, nothing scrolling sideways).
// Screenshots: test-artifacts/e2e/.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Frame, Page } from 'playwright-core';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Laps, REPO, clickTimelineEventOfLine, VERSION, VSIX, WORKBENCH, e2eEnabled, exitRow, fixtureWorkspace, frameWith, freePort, launchChromium, scratch, screenshot,
} from './support';
import { layoutProblems } from '../helpers/panel_layout';

const ENTRY = join(WORKBENCH, 'node_modules/code-server/out/node/entry.js');
const enabled = e2eEnabled('code-server', { 'code-server 4.100.3 (test/e2e/workbench)': ENTRY });
const SCENARIO = 'doorbell.mmio.yaml';
const READ_LINE = 24; // `- { read: 0xffff880000100000, size: 8 }` in examples/doorbell.mmio.yaml

describe.runIf(enabled)('code-server 4.100.3: the packaged extension, from the command palette', { timeout: 300_000 }, () => {
  const laps = new Laps();
  let dir: string;
  let ws: string;
  let server: ChildProcess | undefined;
  let serverLog = '';
  let context: BrowserContext | undefined;
  let page: Page;
  let panel: Frame;

  beforeAll(async () => {
    if (!existsSync(VSIX)) throw new Error(`no ${VSIX}: run \`npm run package\` first (npm test and npm run test:e2e do)`);
    dir = scratch('code-server');
    ws = fixtureWorkspace(dir);
    const userData = join(dir, 'user-data');
    const extensions = join(dir, 'extensions');
    const config = join(dir, 'config.yaml');
    mkdirSync(join(userData, 'User'), { recursive: true });
    mkdirSync(extensions, { recursive: true });
    writeFileSync(config, 'auth: none\ncert: false\n');
    writeFileSync(join(userData, 'User', 'settings.json'), JSON.stringify({
      'workbench.startupEditor': 'none',
      'security.workspace.trust.enabled': false,
      'telemetry.telemetryLevel': 'off',
      'extensions.autoCheckUpdates': false,
      'extensions.autoUpdate': false,
      'update.mode': 'none',
      'workbench.enableExperiments': false,
      'workbench.tips.enabled': false,
      'chat.disableAIFeatures': true,
      'workbench.secondarySideBar.defaultVisibility': 'hidden',
      // The fixture workspace sits inside the checkout's git repository: no "open the repository?" toast.
      'git.enabled': false,
      'git.openRepositoryInParentFolders': 'never',
    }, null, 2));
    // code-server writes coder-logs and a heartbeat under XDG_DATA_HOME, @vscode/deviceid under
    // XDG_CACHE_HOME, and IPC sockets in TMPDIR: all of them go in the scratch folder.
    const xdg = join(dir, 'xdg');
    const env = {
      ...process.env, VSCODE_IPC_HOOK_CLI: '',
      XDG_DATA_HOME: join(xdg, 'data'), XDG_CONFIG_HOME: join(xdg, 'config'), XDG_CACHE_HOME: join(xdg, 'cache'), XDG_STATE_HOME: join(xdg, 'state'),
      TMPDIR: join(dir, 'tmp'),
    };
    mkdirSync(env.TMPDIR, { recursive: true });
    const base = ['--config', config, '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--extensions-dir', extensions, '--user-data-dir', userData];

    await new Promise<void>((ok, fail) =>
      execFile(process.execPath, [ENTRY, ...base, '--install-extension', VSIX], { env, timeout: 120_000 }, (err, stdout, stderr) =>
        err ? fail(new Error(`code-server --install-extension failed: ${err.message}\n${stdout}\n${stderr}`)) : ok(),
      ),
    );
    if (!existsSync(join(extensions, `mmu-lab.mmu-lab-${VERSION}`))) throw new Error(`the .vsix did not install into ${extensions}`);
    laps.lap('install the .vsix');

    const port = await freePort('127.0.0.1');
    server = spawn(process.execPath, [ENTRY, ...base, '--bind-addr', `127.0.0.1:${port}`, ws], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout!.on('data', (d) => (serverLog += d));
    server.stderr!.on('data', (d) => (serverLog += d));
    // The workbench must be opened on localhost, not 127.0.0.1: webviews live on *.localhost.
    const origin = `http://localhost:${port}`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (server.exitCode !== null) throw new Error(`code-server exited early:\n${serverLog}`);
      const up = await fetch(`${origin}/healthz`).then((r) => r.ok, () => false);
      if (up) break;
      if (Date.now() > deadline) throw new Error(`code-server not up in 60 s:\n${serverLog}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    laps.lap('start code-server');

    context = await launchChromium(join(dir, 'chromium'));
    page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${origin}/?folder=${encodeURIComponent(ws)}`);
    await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    // The explorer lists the scenario once the folder is loaded and the remote connection is up.
    await page.waitForSelector(`.explorer-folders-view .monaco-list-row[aria-label^="${SCENARIO}"]`, { timeout: 60_000 });
    laps.lap('open the workbench');
  }, 240_000);

  afterAll(async () => {
    await context?.close().catch(() => {});
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      const t = setTimeout(() => server!.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    console.log(`code-server e2e: ${laps}`);
  });

  it('runs the doorbell from the command palette; the panel beside it shows 999 EPT misconfigurations', async () => {
    const quickInput = page.locator('.quick-input-widget');
    // Quick open (Ctrl+P) the scenario.
    await page.locator('.monaco-workbench').click({ position: { x: 800, y: 450 } }).catch(() => {});
    await page.keyboard.press('Control+P');
    await quickInput.locator('input').waitFor({ state: 'visible', timeout: 15_000 });
    await page.keyboard.type(SCENARIO);
    await quickInput.locator(`.monaco-list-row[aria-label*="${SCENARIO}"]`).first().waitFor({ timeout: 30_000 });
    await page.keyboard.press('Enter');
    await page.locator(`.tabs-container .tab[aria-label*="${SCENARIO}"]`).first().waitFor({ timeout: 15_000 });
    await page.locator('.monaco-editor .view-lines').first().waitFor({ timeout: 15_000 });
    laps.lap('quick open');

    // The command palette: F1, the command's title, Enter once its row is there.
    const title = 'MMU Lab: Run MMIO Scenario';
    await page.keyboard.press('F1');
    await quickInput.locator('input').waitFor({ state: 'visible', timeout: 15_000 });
    await page.keyboard.type(title);
    await quickInput.locator('.monaco-list-row', { hasText: title }).first().waitFor({ timeout: 30_000 });
    await page.keyboard.press('Enter');

    panel = await frameWith(page, '[data-testid="scenario-name"]');
    const misconfig = await exitRow(panel, 'EPT_MISCONFIG');
    expect(misconfig[1]).toBe('999');
    expect(await panel.textContent('[data-testid="scenario-name"]')).toContain('Doorbell writes to an emulated NIC');
    // Beside the scenario: two editor groups, the scenario's tab in one, the panel in the other.
    expect(await page.locator('.editor-group-container').count()).toBe(2);
    laps.lap('run from the palette');
    const shot = await screenshot(page, 'code-server-panel-beside-scenario');
    if (process.env.UPDATE_README_SCREENSHOT === '1') {
      mkdirSync(join(REPO, 'docs/images'), { recursive: true });
      copyFileSync(shot, join(REPO, 'docs/images/panel-beside-scenario.png'));
    }
  });

  it('Shadow tables: the decoded MMIO SPTE at index 496, gfn 0xfebf0 in the bit ruler', async () => {
    await panel.click('vscode-tab-header[data-view-tab="shadow"]');
    await panel.waitForSelector('[data-testid="shadow-tree"] [data-page-id] .page-label', { timeout: 30_000 });
    const ids = await panel.$$eval('[data-testid="shadow-tree"] [data-page-id]', (els) => [...new Set(els.map((e) => e.getAttribute('data-page-id')))]);
    let found = false;
    for (const id of ids) {
      await panel.click(`[data-page-id="${id}"] .page-label >> nth=0`);
      // The entries table is rendered on the click: wait for its caption to name this page.
      await panel.waitForFunction((pid) => document.body.textContent?.includes(`Entries of page ${pid} (`), id, { timeout: 10_000 });
      if (await panel.$('[data-table="sptes"] vscode-table-row[data-kind="mmio"]')) {
        found = true;
        break;
      }
    }
    expect(found, 'a shadow page holding an MMIO SPTE').toBe(true);
    const row = panel.locator('[data-table="sptes"] vscode-table-row[data-kind="mmio"]').first();
    expect(await row.getAttribute('data-index')).toBe('496');
    expect(((await row.textContent()) ?? '').toLowerCase()).toContain('0x1fe0000febf0006');
    await row.click();
    const gfn = await panel.waitForSelector('[data-testid="bit-ruler"] [data-field="gfn"] .bit-value', { timeout: 10_000 });
    expect(((await gfn.textContent()) ?? '').toLowerCase()).toBe('0xfebf0');
    laps.lap('shadow tables');
    await screenshot(page, 'code-server-shadow-tables');
  });

  it('Timeline: clicking an event of the RAM read selects line 24 in the editor', async () => {
    await clickTimelineEventOfLine(panel, READ_LINE);

    // The editor shows the scenario with that line selected: its active line number is 24, and the
    // selection is the line's text.
    const editor = page.locator(`.editor-instance[aria-label*="${SCENARIO}"], .editor-group-container`).filter({ has: page.locator(`.tab.active[aria-label*="${SCENARIO}"]`) }).first();
    await expect
      .poll(async () => (await editor.locator('.line-numbers.active-line-number').first().textContent().catch(() => null))?.trim(), { timeout: 15_000 })
      .toBe(String(READ_LINE));
    await expect.poll(async () => editor.locator('.view-overlays .selected-text').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    laps.lap('timeline click');
    await screenshot(page, 'code-server-timeline-reveal-line');
  });

  it('Open as Text: the shadow tables at the end of the run open as a read-only document holding the MMIO SPTE', async () => {
    await panel.click('vscode-tab-header[data-view-tab="shadow"]');
    await panel.click('[data-testid="open-as-text"]');
    const tab = page.locator('.tabs-container .tab[aria-label*="end-of-run.txt"]').first();
    await tab.waitFor({ timeout: 15_000 });
    // Find the MMIO SPTE in the document with the editor's own find widget (the document may be
    // longer than the viewport).
    const editor = page.locator('.editor-group-container').filter({ has: page.locator('.tab.active[aria-label*="end-of-run.txt"]') }).first();
    await editor.locator('.monaco-editor .view-lines').first().click();
    await page.keyboard.press('Control+F');
    await page.keyboard.type('0x1fe0000febf0006');
    await expect.poll(async () => (await editor.locator('.find-widget .matchesCount').first().textContent().catch(() => ''))?.trim(), { timeout: 10_000 }).toBe('1 of 1');
    await page.keyboard.press('Escape');
    // Read-only: typing changes nothing (the tab never becomes dirty).
    await page.keyboard.type('x');
    expect(await tab.getAttribute('class')).not.toContain('dirty');
    laps.lap('open as text');
    await screenshot(page, 'code-server-tables-as-text');
  });

  /** Bring the scenario's editor to the front (its tab in the first group). */
  async function focusScenario(): Promise<void> {
    await page.locator(`.tabs-container .tab[aria-label*="${SCENARIO}"]`).first().click();
    // Clicking the tab gives its editor the keyboard focus.
    await page.locator('.editor-group-container .monaco-editor.focused').first().waitFor({ timeout: 10_000 });
  }

  async function palette(title: string): Promise<void> {
    const quickInput = page.locator('.quick-input-widget');
    await page.keyboard.press('F1');
    await quickInput.locator('input').waitFor({ state: 'visible', timeout: 15_000 });
    await page.keyboard.type(title);
    await quickInput.locator('.monaco-list-row', { hasText: title }).first().waitFor({ timeout: 30_000 });
    await page.keyboard.press('Enter');
  }

  it('Timeline: moving the editor\'s cursor to the doorbell write highlights that line\'s events', async () => {
    const WRITE_LINE = 23; // `- { write: 0xffffc90000000050, size: 4, value: 1 }`
    await panel.click('vscode-tab-header[data-view-tab="timeline"]', { timeout: 10_000 });
    await focusScenario();
    await page.keyboard.press('Control+G');
    await page.keyboard.type(String(WRITE_LINE));
    await page.keyboard.press('Enter');
    await expect.poll(() => panel.getAttribute('[data-testid="timeline-list"]', 'data-highlight-line'), { timeout: 10_000 }).toBe(String(WRITE_LINE));
    const lit = await panel.$$eval('[data-testid="timeline-list"] .tl-row.highlighted', (rs) => rs.map((r) => r.children[6]?.textContent));
    expect(lit.length).toBeGreaterThan(0);
    expect(new Set(lit)).toEqual(new Set([String(WRITE_LINE)]));
    laps.lap('cursor -> timeline');
    await screenshot(page, 'code-server-cursor-highlights-events');
  });

  it('Test Explorer: running the file\'s tests checks each expectation and marks it passed at its line', async () => {
    await focusScenario();
    await palette('Test: Run Tests in Current File');
    // The doorbell's four expectations (lines 27-30) get the passed icon in the gutter.
    // The results tree lists the file and its four expectations, each passed; none failed.
    const tree = page.locator('.testing-stdtree-container');
    await expect.poll(() => tree.locator('.codicon-testing-passed-icon').count(), { timeout: 60_000 }).toBeGreaterThanOrEqual(5);
    expect(await tree.locator('.codicon-testing-failed-icon').count()).toBe(0);
    for (const path of ['exits.EPT_MISCONFIG', 'exits.EPT_VIOLATION', 'faults.mmio-slow', 'stats.mmio_sptes_created']) {
      expect(await page.locator('.testing-stdtree-container', { hasText: path }).count(), path).toBeGreaterThan(0);
    }
    // And the file's own glyph in the editor's gutter says passed.
    // (The glyph is drawn after the results tree, once the editor's decorations catch up: poll it too.)
    await expect.poll(() => page.locator('.monaco-editor .testing-run-glyph.codicon-testing-passed-icon').count(), { timeout: 20_000 }).toBeGreaterThan(0);
    laps.lap('test explorer');
    await screenshot(page, 'code-server-tests-passed');
  });

  it('Problems while typing: an invalid access size is reported at its line, and goes when undone', async () => {
    await focusScenario();
    const problems = page.locator('.statusbar-item[id="status.problems"]');
    // Its label is "No Problems", or counts such as "1 Error, 0 Warnings" / "Errors: 1, Warnings: 0".
    const errors = async () => {
      const label = (await problems.getAttribute('aria-label')) ?? '';
      if (/no problems/i.test(label)) return 0;
      const m = /(\d+)\s*errors?/i.exec(label) ?? /errors?:?\s*(\d+)/i.exec(label);
      return m ? Number(m[1]) : Number.NaN;
    };
    await expect.poll(errors, { timeout: 10_000 }).toBe(0);
    // Line 24 ends with `size: 8 }`: make the size 3, a size no MOV has.
    await page.keyboard.press('Control+G');
    await page.keyboard.type(String(READ_LINE));
    await page.keyboard.press('Enter');
    await page.keyboard.press('End');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('Backspace');
    await page.keyboard.type('3');
    await expect.poll(errors, { timeout: 15_000 }).toBe(1);
    // The squiggle is on that line.
    await expect.poll(() => page.locator('.monaco-editor .squiggly-error').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await screenshot(page, 'code-server-problem-while-typing');
    await page.keyboard.press('Control+Z');
    await page.keyboard.press('Control+Z');
    await expect.poll(errors, { timeout: 15_000 }).toBe(0);
    laps.lap('problems while typing');
  });

  it('Compare Kernels from the palette: the doorbell under v3.0 and v3.1 side by side in the Compare view, with the note', async () => {
    await focusScenario();
    // The CodeLens is on every scenario, `compare:` or not.
    await expect.poll(() => page.locator('.monaco-editor .codelens-decoration', { hasText: 'Compare Kernels' }).count(), { timeout: 15_000 }).toBeGreaterThan(0);
    await palette('MMU Lab: Compare Kernels');
    const notes = await frameWith(page, '[data-testid="compare-notes"]');
    // Both kernels' columns, in the order of simulator/kvm/eras.ts, each in the doorbell's own MMU mode (EPT).
    const variants = await notes.$$eval('[data-table="compare"] vscode-table-body vscode-table-row', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('vscode-table-cell'), (td) => (td.textContent ?? '').trim())));
    expect(variants.map((r) => r.slice(0, 3))).toEqual([['v3.0 EPT', 'v3.0', 'EPT'], ['v3.1 EPT', 'v3.1', 'EPT']]);
    const heads = await notes.$$eval('[data-table="compare-exits"] vscode-table-header-cell', (cs) => cs.map((c) => (c.textContent ?? '').trim()));
    expect(heads).toEqual(['exit reason', 'v3.0 EPT', 'v3.1 EPT']);
    // The Compare view is in front, and says why v3.0 runs without the MMIO cache (3.0.1 has no MMIO SPTE).
    expect(await notes.isVisible('[data-testid="compare-notes"]')).toBe(true);
    expect(await notes.textContent('[data-testid="compare-notes"] li[data-variant="v3.0 EPT"]')).toContain('has no MMIO SPTEs');
    laps.lap('compare kernels');
    await screenshot(page, 'code-server-compare-kernels');
  });

  it('the panel at the default split: no table text cut short and nothing scrolling sideways, in every view', async () => {
    const frame = await frameWith(page, '[data-testid="scenario-name"]');
    const width = await frame.evaluate(() => document.documentElement.clientWidth);
    const problems: string[] = [];
    for (const view of ['summary', 'shadow', 'timeline', 'memslots', 'compare', 'flame']) {
      await frame.click(`vscode-tab-header[data-view-tab="${view}"]`);
      await frame.waitForFunction((v) => (document.querySelector(`vscode-tab-panel[data-view="${v}"]`) as HTMLElement | null)?.hidden === false, view);
      // Two frames: the tables' resize observers have fitted them.
      await frame.evaluate(() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok))));
      problems.push(...(await frame.evaluate(layoutProblems, { view, sidewaysAllowedInside: width < 520 })).map((p) => `${width} px, ${view}: ${p}`));
    }
    console.log(`code-server e2e: the panel is ${width} px wide`);
    expect(problems).toEqual([]);
    await frame.click('vscode-tab-header[data-view-tab="summary"]');
    await screenshot(page, 'code-server-panel-layout');
  });
});
