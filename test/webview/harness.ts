// The built panel (dist/webview) in real Chromium: Debian's /usr/bin/chromium driven by
// playwright-core. The page is the extension's own HTML (shared/panel_html.ts, same CSP) served on
// localhost, with a stand-in for acquireVsCodeApi that records what the panel posts and keeps its
// state, and the theme variables VS Code injects into webviews.

import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { panelHtml } from '../../shared/panel_html';
import type { HostMessage, PanelMessage, PanelState } from '../../shared/protocol';
import { BODY_CLASS, THEMES, type ThemeKind } from './themes';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const DIST = resolve(__dirname, '../../dist/webview');
export const ARTIFACTS = resolve(__dirname, '../../test-artifacts/webview');

/** Chromium is there, or this is CI (where a missing browser must fail the run, not skip it). */
export function browserTestsEnabled(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;
  if (process.env.CI) throw new Error(`webview tests: no Chromium at ${CHROMIUM_PATH}; .ci/run installs Debian's chromium`);
  console.log(`webview tests skipped: no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)`);
  return false;
}

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.css': 'text/css', '.ttf': 'font/ttf', '.map': 'application/json' };

export class PanelHarness {
  private constructor(
    private readonly server: Server,
    private readonly browser: Browser,
    readonly origin: string,
  ) {}

  static async start(): Promise<PanelHarness> {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname === '/favicon.ico') {
        res.writeHead(204).end();
        return;
      }
      if (url.pathname === '/') {
        const origin = `http://localhost:${(server.address() as AddressInfo).port}`;
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(panelHtml({ cspSource: origin, nonce: 'test-nonce-0123456789abcdef', scriptUri: `${origin}/panel.js`, styleUri: `${origin}/panel.css`, codiconUri: `${origin}/codicon.css` }));
        return;
      }
      const file = join(DIST, url.pathname.replace(/^\/+/, ''));
      if (!file.startsWith(DIST) || !existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream' });
      res.end(readFileSync(file));
    });
    await new Promise<void>((ok) => server.listen(0, 'localhost', ok));
    const browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    });
    return new PanelHarness(server, browser, `http://localhost:${(server.address() as AddressInfo).port}`);
  }

  /** A fresh panel page in `theme`, its getState() returning `state`. */
  async open(theme: ThemeKind = 'dark', state: PanelState | null = null, size = { width: 1280, height: 900 }): Promise<PanelPage> {
    const page = await this.browser.newPage({ viewport: size });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.addInitScript(
      ({ state, vars, bodyClass }) => {
        const w = window as unknown as Record<string, unknown>;
        const posted: unknown[] = [];
        const csp: string[] = [];
        let saved: unknown = state;
        w.__posted = posted;
        w.__csp = csp;
        w.__setStateCalls = 0;
        w.acquireVsCodeApi = () => ({
          postMessage: (m: unknown) => posted.push(JSON.parse(JSON.stringify(m))),
          getState: () => saved,
          setState: (s: unknown) => {
            saved = JSON.parse(JSON.stringify(s));
            w.__state = saved;
            (w.__setStateCalls as number)++;
          },
        });
        document.addEventListener('securitypolicyviolation', (e) => csp.push(`${e.violatedDirective} ${e.blockedURI}`));
        document.addEventListener('DOMContentLoaded', () => {
          for (const [k, v] of Object.entries(vars)) document.documentElement.style.setProperty(k, v);
          document.body.classList.add(bodyClass);
        });
      },
      { state, vars: THEMES[theme], bodyClass: BODY_CLASS[theme] },
    );
    await page.goto(this.origin + '/');
    const p = new PanelPage(page, errors);
    p.ready = await p.waitForMessage('ready');
    return p;
  }

  async close(): Promise<void> {
    await this.browser.close();
    await new Promise((ok) => this.server.close(ok));
  }
}

export class PanelPage {
  /** The panel's first message, with the state it was restored from. */
  ready: Extract<PanelMessage, { type: 'ready' }> | null = null;

  constructor(
    readonly page: Page,
    /** Uncaught exceptions and console errors. */
    readonly errors: string[],
  ) {}

  /** Send a host message the way VS Code delivers it (a window message event). */
  async post(msg: HostMessage): Promise<void> {
    // As a JSON string: Playwright's own serialisation of a large object is slow.
    await this.page.evaluate((json) => window.postMessage(JSON.parse(json), '*'), JSON.stringify(msg));
  }

  async messages(): Promise<PanelMessage[]> {
    return this.page.evaluate(() => (window as unknown as { __posted: PanelMessage[] }).__posted);
  }

  async clearMessages(): Promise<void> {
    await this.page.evaluate(() => ((window as unknown as { __posted: unknown[] }).__posted.length = 0));
  }

  /** The first message of `type` posted (waiting for it), removed from the record. */
  async waitForMessage<T extends PanelMessage['type']>(type: T, timeout = 5000): Promise<Extract<PanelMessage, { type: T }>> {
    const handle = await this.page.waitForFunction(
      (t) => {
        const posted = (window as unknown as { __posted: { type: string }[] }).__posted;
        const i = posted.findIndex((m) => m.type === t);
        return i >= 0 ? posted.splice(i, 1)[0] : null;
      },
      type,
      { timeout },
    );
    return (await handle.jsonValue()) as Extract<PanelMessage, { type: T }>;
  }

  async state(): Promise<PanelState | undefined> {
    return this.page.evaluate(() => (window as unknown as { __state?: PanelState }).__state);
  }

  async cspViolations(): Promise<string[]> {
    return this.page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
  }

  /** Show a view by clicking its tab, as a person would. */
  async showView(view: string): Promise<void> {
    await this.page.click(`vscode-tab-header[data-view-tab="${view}"]`);
    await this.waitForView(view);
  }

  /** Wait until `view`'s tab panel is the one shown. */
  async waitForView(view: string): Promise<void> {
    await this.page.waitForFunction((v) => {
      const panel = document.querySelector(`vscode-tab-panel[data-view="${v}"]`) as (HTMLElement & { hidden: boolean }) | null;
      return panel !== null && !panel.hidden;
    }, view);
  }

  async screenshot(name: string): Promise<string> {
    mkdirSync(ARTIFACTS, { recursive: true });
    const path = join(ARTIFACTS, `${name}.png`);
    await this.page.screenshot({ path, fullPage: false });
    return path;
  }

  async close(): Promise<void> {
    await this.page.close();
  }
}
