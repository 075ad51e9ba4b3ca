// What the end-to-end tests share: where things are, the prerequisite check (one line and no tests
// when something is missing on a developer's machine, a failure under CI=true), the fixture
// workspace, Chromium with the persistent profile that webviews need, and finding an element in a
// webview's frame.
//
// The workbenches (code-server, VS Code for the Web) live in test/e2e/workbench/node_modules,
// installed by scripts/install-e2e-workbenches.sh; see docs/shared reference vscode-e2e-offline.md
// for why each setting below is what it is.

import { chromium, type BrowserContext, type Frame, type Page } from 'playwright-core';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

export const REPO = resolve(__dirname, '../..');
export const WORKBENCH = join(REPO, 'test/e2e/workbench');
export const RUN_ROOT = join(REPO, 'test/e2e/.run');
export const ARTIFACTS = join(REPO, 'test-artifacts/e2e');
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
/** The packaged extension (`npm run package`); E2E_VSIX may name another. */
export const VSIX = process.env.E2E_VSIX ?? join(REPO, `mmu-lab-${VERSION}.vsix`);

const INSTALL_HINT = 'bash scripts/install-e2e-workbenches.sh';

/** The prerequisites of one e2e file are there; else says so in one line (and throws under CI). */
export function e2eEnabled(what: string, needs: Record<string, string>): boolean {
  const missing: string[] = [];
  if (!existsSync(CHROMIUM_PATH)) missing.push(`Chromium at ${CHROMIUM_PATH}`);
  for (const [label, file] of Object.entries(needs)) if (!existsSync(file)) missing.push(label);
  if (missing.length === 0) return true;
  const msg = `${what} end-to-end: skipped (missing ${missing.join(', ')}; run ${INSTALL_HINT})`;
  if (process.env.CI) throw new Error(`${msg.replace('skipped', 'cannot run')} (under CI=true nothing may skip)`);
  console.log(msg);
  return false;
}

/** A fresh scratch folder under test/e2e/.run/. */
export function scratch(name: string): string {
  const dir = join(RUN_ROOT, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A copy of examples/ as the workspace folder, so the tests never touch examples/ itself. */
export function fixtureWorkspace(dir: string): string {
  const ws = join(dir, 'workspace');
  cpSync(join(REPO, 'examples'), ws, { recursive: true });
  return ws;
}

export function freePort(host = 'localhost'): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.unref();
    s.on('error', fail);
    s.listen(0, host, () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? ok(addr.port) : fail(new Error('no port'))));
    });
  });
}

/** Chromium with a persistent profile that allows third-party storage: webviews live on
 *  {{uuid}}.localhost sub-domains and register a service worker, which an incognito context or the
 *  default cookie controls refuse. */
export async function launchChromium(profile: string): Promise<BrowserContext> {
  mkdirSync(join(profile, 'Default'), { recursive: true });
  writeFileSync(join(profile, 'Default', 'Preferences'), JSON.stringify({ profile: { cookie_controls_mode: 0, block_third_party_cookies: false } }));
  return chromium.launchPersistentContext(join(profile), {
    executablePath: CHROMIUM_PATH,
    // Keep Chromium's crashpad, dconf and cache files inside the scratch folder.
    env: { ...process.env, XDG_CONFIG_HOME: join(profile, 'xdg-config'), XDG_CACHE_HOME: join(profile, 'xdg-cache'), TMPDIR: profile } as Record<string, string>,
    headless: !process.env.HEADED,
    viewport: { width: 1600, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** The frame (a webview's inner document, two iframes deep) that holds `selector`; several webviews
 *  may exist, so every frame is tried, until `timeout`. */
export async function frameWith(page: Page, selector: string, timeout = 60_000): Promise<Frame> {
  const deadline = Date.now() + timeout;
  for (;;) {
    for (const f of page.frames()) {
      if (f.isDetached()) continue;
      const el = await f.$(selector).catch(() => null);
      if (el) return f;
    }
    if (Date.now() > deadline) throw new Error(`no frame shows ${selector} within ${timeout} ms`);
    await page.waitForTimeout(200);
  }
}

/** The cell texts of a panel table's body rows. */
export function tableRows(frame: Frame, table: string): Promise<string[][]> {
  return frame.$$eval(`[data-table="${table}"] vscode-table-body vscode-table-row`, (trs) =>
    trs.map((tr) => Array.from(tr.querySelectorAll('vscode-table-cell'), (td) => (td.textContent ?? '').trim())),
  );
}

/** Waits until the exit table has a row for `reason` and returns its cells. */
export async function exitRow(frame: Frame, reason: string, timeout = 60_000): Promise<string[]> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const row = (await tableRows(frame, 'exits').catch(() => [] as string[][])).find((r) => r[0] === reason);
    if (row) return row;
    if (Date.now() > deadline) throw new Error(`the panel's exit table shows no ${reason} row within ${timeout} ms`);
    await frame.page().waitForTimeout(200);
  }
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** Times each phase of a test, printed at the end. */
export class Laps {
  private readonly t0 = Date.now();
  private prev = this.t0;
  readonly lines: string[] = [];
  lap(label: string): void {
    const now = Date.now();
    this.lines.push(`${label}: ${((now - this.prev) / 1000).toFixed(1)} s`);
    this.prev = now;
  }
  toString(): string {
    return `${this.lines.join(' · ')} (total ${((Date.now() - this.t0) / 1000).toFixed(1)} s)`;
  }
}

/** Shows the panel's Timeline and clicks an event of workload line `line` (scrolling the
 *  virtualized list until one is rendered); returns the event's sequence number. */
export async function clickTimelineEventOfLine(panel: Frame, line: number): Promise<string> {
  await panel.click('vscode-tab-header[data-view-tab="timeline"]');
  const rows = '[data-testid="timeline-list"] .tl-row[data-seq]';
  await panel.waitForSelector(rows, { timeout: 30_000 });
  let seq: string | null = null;
  for (let i = 0; i < 200 && seq === null; i++) {
    seq = await panel.$$eval(rows, (rs, l) => rs.find((r) => r.children[6]?.textContent?.trim() === l)?.getAttribute('data-seq') ?? null, String(line));
    if (seq === null) {
      const atEnd = await panel.$eval('[data-testid="timeline-list"]', (el) => {
        const end = el.scrollTop + el.clientHeight >= el.scrollHeight - 1;
        el.scrollBy(0, el.clientHeight);
        return end;
      });
      if (atEnd) break;
      await panel.page().waitForTimeout(50);
    }
  }
  if (seq === null) throw new Error(`no Timeline event of line ${line}`);
  // Click near the row's start: the row is wider than the panel, and a click in its middle would
  // scroll the list sideways.
  await panel.click(`[data-testid="timeline-list"] .tl-row[data-seq="${seq}"]`, { position: { x: 12, y: 6 } });
  return seq;
}
