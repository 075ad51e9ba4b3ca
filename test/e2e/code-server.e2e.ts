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
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
    expect(heads).toEqual(['exit reason', 'v3.0 EPT', 'v3.1 EPT', 'Δ v3.1 EPT']); // v3.1's change against v3.0
    // The Compare view is in front, and says why v3.0 runs without the MMIO cache (3.0.1 has no MMIO SPTE).
    expect(await notes.isVisible('[data-testid="compare-notes"]')).toBe(true);
    expect(await notes.textContent('[data-testid="compare-notes"] li[data-variant="v3.0 EPT"]')).toContain('has no MMIO SPTEs');
    laps.lap('compare kernels');
    await screenshot(page, 'code-server-compare-kernels');
  });

  it('Reference docs: "MMU Lab: Open Scenario Format Reference" and the Summary\'s fault-class link open the shipped docs in the Markdown preview', async () => {
    // The preview is a webview: its tab is "Preview <file>", its frame holds the rendered headings.
    const previewOf = async (file: string, heading: string) => {
      await page.locator(`.tabs-container .tab[aria-label*="Preview ${file}"]`).first().waitFor({ timeout: 30_000 });
      const frame = await frameWith(page, `h1:has-text("${heading}")`, 30_000);
      return frame.textContent('body');
    };
    await focusScenario();
    await palette('MMU Lab: Open Scenario Format Reference');
    expect(await previewOf('scenario-format.md', 'Scenario files')).toContain('compare:');
    await screenshot(page, 'code-server-doc-scenario-format');

    // The panel's link: the Summary's note under the fault-class table.
    const summary = await frameWith(page, 'vscode-tab-header[data-view-tab="summary"]');
    await summary.click('vscode-tab-header[data-view-tab="summary"]');
    await summary.click('[data-testid="fault-class-doc"] a[data-doc="fault-classes"]', { timeout: 15_000 });
    expect(await previewOf('fault-classes.md', 'Fault classes')).toContain('mmio-cache');
    // The preview opened beside the panel, not over it: the panel is still visible in its group.
    expect(await summary.isVisible('[data-testid="fault-class-doc"]')).toBe(true);
    laps.lap('reference docs');
    await screenshot(page, 'code-server-doc-fault-classes');
  });

  it('Details page: the installed extension shows the user README, and its screenshots load', async () => {
    // The Extensions view, its search box focused: the installed extension by name. (The keyboard
    // focus first goes back to the workbench: the last test left it in a webview.)
    await focusScenario();
    await page.keyboard.press('Control+Shift+X');
    await page.locator('.extensions-viewlet .extensions-search-container .monaco-editor.focused').waitFor({ timeout: 15_000 });
    await page.keyboard.type('@installed MMU Lab');
    const item = page.locator('.extensions-viewlet .monaco-list-row', { hasText: 'MMU Lab' }).first();
    await item.waitFor({ timeout: 30_000 });
    await item.click();
    // The README is rendered in a webview whose CSP admits https: and data: images only.
    const readme = await frameWith(page, 'img[alt^="The Summary view"]', 60_000);
    await expect
      .poll(() => readme.$$eval('img', (imgs) => imgs.map((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0)), { timeout: 30_000 })
      .toEqual([true, true]);
    const text = (await readme.textContent('body')) ?? '';
    expect(text).toContain('MMU Lab: Open Scenario Format Reference');
    expect(text).not.toContain('npm test');
    laps.lap('details page');
    await screenshot(page, 'code-server-details-page');
  });

  /** Puts the scenario editor's cursor at `line`:`column` (1-based) with Go to Line. */
  async function cursorAt(line: number, column: number): Promise<void> {
    await focusScenario();
    await page.keyboard.press('Control+G');
    await page.keyboard.type(`${line}:${column}`);
    await page.keyboard.press('Enter');
  }

  it('Hover without the YAML extension: the key under the cursor shows its schema documentation', async () => {
    const KERNEL_LINE = 6; // `kernel: v3.1`
    await cursorAt(KERNEL_LINE, 3);
    // editor.action.showHover, as a keyboard user shows the hover of the cursor's place.
    await page.keyboard.press('Control+K');
    await page.keyboard.press('Control+I');
    const hover = page.locator('.monaco-editor .monaco-hover:not(.hidden)').filter({ hasText: 'The kernel era' }).first();
    await hover.waitFor({ state: 'visible', timeout: 15_000 });
    const text = (await hover.textContent()) ?? '';
    expect(text).toContain('kernel');
    expect(text).toContain('The kernel era: v3.0 | v3.1');
    expect(text).toContain('Values: v3.0 | v3.1');
    laps.lap('hover');
    await screenshot(page, 'code-server-hover-key');
    await page.keyboard.press('Escape');
  });

  it('Completion without the YAML extension: inside mmu: { ... } it lists the mmu keys not yet there', async () => {
    const MMU_LINE = 8; // `mmu: { tdp: true, mmio_caching: true }`
    const line = 'mmu: { tdp: true, mmio_caching: true }';
    await cursorAt(MMU_LINE, line.length - 1); // before ` }`
    await page.keyboard.type(', ');
    await page.keyboard.press('Control+Space');
    const widget = page.locator('.editor-widget.suggest-widget.visible');
    await widget.waitFor({ state: 'visible', timeout: 15_000 });
    // The extension's key completions are the list's property items (snippets may be listed too).
    const keys = async () => (await widget.locator('.monaco-list-row').filter({ has: page.locator('.codicon-symbol-property') }).locator('.label-name').allTextContents()).map((t) => t.trim()).sort();
    await expect.poll(keys, { timeout: 15_000 }).toEqual(['bypass_guest_pf', 'enable_vpid', 'oos_shadow']);
    laps.lap('completion');
    await screenshot(page, 'code-server-completion-mmu-keys');
    await page.keyboard.press('Escape');
    // Undo the typing (one or two undo stops; the file had none left before).
    await page.keyboard.press('Control+Z');
    await page.keyboard.press('Control+Z');
  });

  // Editor groups (issue 13, item 2) and revealing a line without scrolling sideways (item 9).
  // A copy of the doorbell whose write step (line 23) runs far past the editor's right edge.
  const WIDE = 'wide-lines.mmio.yaml';
  const WIDE_LINE = 23;

  /** Every editor group's tabs, in the grid's order (left to right): the label and whether it is the group's active tab. */
  function groupTabs(): Promise<{ label: string; active: boolean }[][]> {
    return page.$$eval('.editor-group-container', (gs) =>
      gs.map((g) => Array.from(g.querySelectorAll('.tabs-container .tab'), (t) => ({ label: t.getAttribute('aria-label') ?? '', active: t.classList.contains('active') }))),
    );
  }

  /** Runs a command from the palette once the list's first row is that command (not merely listed). */
  async function runCommand(title: string): Promise<void> {
    const quickInput = page.locator('.quick-input-widget');
    await page.keyboard.press('F1');
    await quickInput.locator('input').waitFor({ state: 'visible', timeout: 15_000 });
    await page.keyboard.type(title);
    await expect.poll(() => quickInput.locator('.monaco-list-row').first().textContent(), { timeout: 30_000 }).toContain(title);
    await page.keyboard.press('Enter');
  }

  /** The group holding the panel becomes the active group, as after any click in the panel: its
   *  tab first (it shows the panel, were it hidden), then a click inside. */
  async function clickInPanel(): Promise<void> {
    await page.locator('.tabs-container .tab[aria-label^="MMU Lab:"]').first().click();
    const frame = await frameWith(page, 'vscode-tab-header[data-view-tab="summary"]');
    await frame.click('vscode-tab-header[data-view-tab="summary"]');
    await expect.poll(async () => (await groupTabs()).findIndex((g) => g.some((t) => t.label.startsWith('MMU Lab:'))), { timeout: 10_000 }).toBe(1);
    await page.locator('.editor-group-container.active .tab[aria-label^="MMU Lab:"]').waitFor({ timeout: 10_000 });
  }

  /** The scenario is the active tab of the first group, the panel's group does not hold it, and the panel is in front there. */
  async function expectScenarioBesidePanel(file: string): Promise<void> {
    await expect
      .poll(async () => {
        const groups = await groupTabs();
        const [first, second] = groups;
        return {
          groups: groups.length,
          firstActive: first?.find((t) => t.active)?.label.split(',')[0],
          secondHoldsIt: second?.some((t) => t.label.startsWith(file)),
          secondActive: second?.find((t) => t.active)?.label.startsWith('MMU Lab:'),
        };
      }, { timeout: 15_000 })
      .toEqual({ groups: 2, firstActive: file, secondHoldsIt: false, secondActive: true });
  }

  /** Quick Open (Ctrl+P) of a workspace file, into the active group. A file the test has just written
   *  may be missing from a file search the workbench still holds: the picker is then closed and
   *  opened again (a fresh search), for up to a minute. */
  async function quickOpen(file: string): Promise<void> {
    const quickInput = page.locator('.quick-input-widget');
    const row = quickInput.locator(`.monaco-list-row[aria-label*="${file}"]`).first();
    for (let attempt = 0; ; attempt++) {
      await page.keyboard.press('Control+P');
      await quickInput.locator('input').waitFor({ state: 'visible', timeout: 15_000 });
      await page.keyboard.type(file);
      try {
        await row.waitFor({ timeout: 6_000 });
        break;
      } catch (e) {
        if (attempt === 9) throw e;
        await page.keyboard.press('Escape');
      }
    }
    await page.keyboard.press('Enter');
  }

  it('Timeline: clicking an event of a line wider than the editor selects it without scrolling the editor sideways', async () => {
    const text = readFileSync(join(ws, SCENARIO), 'utf8').split('\n');
    text[WIDE_LINE - 1] += `  # ${'a step whose line is wider than the editor, '.repeat(8)}`;
    writeFileSync(join(ws, WIDE), text.join('\n').replace(/^name: .*$/m, 'name: Wide lines'));
    // Opened from the scenario's group (its tab clicked), run beside the panel.
    const first = page.locator('.editor-group-container').first();
    await first.locator(`.tab[aria-label^="${SCENARIO}"]`).click();
    await quickOpen(WIDE);
    await first.locator(`.tab.active[aria-label^="${WIDE}"]`).waitFor({ timeout: 15_000 });
    await palette('MMU Lab: Run MMIO Scenario');
    await page.locator('.tabs-container .tab[aria-label^="MMU Lab: Wide lines"]').waitFor({ timeout: 60_000 });

    const editor = first.locator('.monaco-editor').first();
    const scrollLeft = () => editor.locator('.lines-content').first().evaluate((el) => 0 - parseFloat((el as HTMLElement).style.left || '0'));
    // The line is wider than the editor (else nothing could scroll), and nothing is scrolled yet.
    const widths = await editor.evaluate((el) => ({
      line: Math.max(...Array.from(el.querySelectorAll('.view-line > span'), (s) => (s as HTMLElement).offsetWidth)),
      editor: el.querySelector('.editor-scrollable')!.clientWidth,
    }));
    expect(widths.line).toBeGreaterThan(widths.editor);
    expect(await scrollLeft()).toBe(0);

    const frame = await frameWith(page, 'vscode-tab-header[data-view-tab="timeline"]');
    await clickTimelineEventOfLine(frame, WIDE_LINE);
    await expect.poll(async () => (await editor.locator('.line-numbers.active-line-number').first().textContent().catch(() => null))?.trim(), { timeout: 15_000 }).toBe(String(WIDE_LINE));
    await expect.poll(async () => editor.locator('.view-overlays .selected-text').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    // The editor's horizontal scroll position stays 0: the start of every line is shown.
    expect(await scrollLeft()).toBe(0);
    laps.lap('timeline reveal without sideways scroll');
    await screenshot(page, 'code-server-timeline-reveal-no-sideways-scroll');
  });

  it('Quick Open while the panel has the focus: the scenario opens in the first group, the panel stays in its own; running it shows its results there', async () => {
    const OTHER = 'alternating-pages.mmio.yaml';
    await clickInPanel();
    await quickOpen(OTHER);
    await expectScenarioBesidePanel(OTHER);
    await frameWith(page, '[data-testid="scenario-name"]'); // the panel, shown again
    await screenshot(page, 'code-server-quick-open-beside-panel');

    await palette('MMU Lab: Run MMIO Scenario');
    await expect.poll(async () => (await groupTabs())[1]?.find((t) => t.active)?.label.split(',')[0], { timeout: 60_000 }).toBe('MMU Lab: Alternating between two MMIO pages');
    await expectScenarioBesidePanel(OTHER);
    laps.lap('quick open beside the panel');
  });

  it('New MMIO Scenario while the panel has the focus: the new scenario opens in the first group, the panel stays in its own', async () => {
    await clickInPanel();
    await palette('MMU Lab: New MMIO Scenario');
    const quickInput = page.locator('.quick-input-widget');
    // The examples' pick replaces the palette once it has read them.
    await quickInput.locator('.quick-input-title', { hasText: 'MMU Lab: New MMIO Scenario' }).waitFor({ timeout: 15_000 });
    // apic-eoi.mmio.yaml is in the workspace: the copy is the unsaved apic-eoi-2.mmio.yaml.
    await page.keyboard.type('apic-eoi.mmio.yaml');
    await expect.poll(() => quickInput.locator('.monaco-list-row').first().getAttribute('aria-label'), { timeout: 30_000 }).toContain('apic-eoi.mmio.yaml');
    await page.keyboard.press('Enter');
    await expectScenarioBesidePanel('apic-eoi-2.mmio.yaml');
    laps.lap('new scenario beside the panel');
    await frameWith(page, '[data-testid="scenario-name"]'); // the panel, shown again
    await screenshot(page, 'code-server-new-scenario-beside-panel');
    // Leave no unsaved document behind.
    await runCommand('View: Revert and Close Editor');
    await expect.poll(async () => (await groupTabs()).flat().some((t) => t.label.startsWith('apic-eoi-2.mmio.yaml')), { timeout: 10_000 }).toBe(false);
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

  it('Status-bar tooltip: a scenario whose name is Markdown shows it as text, with no image or link (issue 14 item 12)', async () => {
    const FILE = 'hostile-name.mmio.yaml';
    const NAME = '![b](https://evil.example/x.png) [link](https://evil.example/l) <img src=https://evil.example/h.png> `code`';
    writeFileSync(join(ws, FILE), readFileSync(join(ws, SCENARIO), 'utf8').replace(/^name: .*$/m, `name: '${NAME}'`));
    await focusScenario();
    await quickOpen(FILE);
    await page.locator(`.tabs-container .tab[aria-label*="${FILE}"]`).first().waitFor({ timeout: 15_000 });
    await palette('MMU Lab: Run MMIO Scenario');
    await expect.poll(async () => (await groupTabs()).flat().some((t) => t.label.startsWith(`MMU Lab: ${NAME}`)), { timeout: 60_000 }).toBe(true);

    const item = page.locator('.statusbar-item', { hasText: 'MMU Lab:' }).first();
    await item.hover();
    const hover = page.locator('.workbench-hover, .monaco-hover').filter({ hasText: 'Click to show the results' }).first();
    await hover.waitFor({ state: 'visible', timeout: 15_000 });
    await screenshot(page, 'code-server-hostile-name-tooltip');
    // The name is there as the text it is; nothing of it became an image, a link, HTML or code.
    expect(await hover.textContent()).toContain(NAME);
    expect(await hover.textContent()).toContain('![b](https://evil.example/x.png)');
    expect(await hover.locator('img').count()).toBe(0);
    expect(await hover.locator('a[href*="evil"], a[data-href*="evil"], [title*="evil.example"]').count()).toBe(0);
    expect(await hover.locator('code').count()).toBe(0);
    await page.mouse.move(5, 5);
  });
});
