// The Flame graph view in real Chromium, fed hand-built flame graphs (flame_fixtures.ts) on a real
// run of the doorbell. Every expected width, share and change is worked out by hand from the
// fixtures' cycles; nothing is copied from the panel's output.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserTestsEnabled, PanelHarness, type PanelPage } from './harness';
import { examplePanelRun } from './fixtures';
import { flamePanelRun } from './flame_fixtures';
import { isAllowedSourceUrl } from '../../shared/external_links';
import { kernelSourceUrl } from '../../simulator/kvm/kernel_functions';
import type { PanelRun } from '../../shared/protocol';
import type { RunResult } from '../../simulator/run/result';
import type { ThemeKind } from './themes';

const enabled = browserTestsEnabled();
const frameSel = (path: string) => `[data-testid="flame-graph"] .flame-frame[data-path="${path}"]`;
const MISCONFIG = 'all;vmx_handle_exit;handle_ept_misconfig';

interface Box {
  path: string;
  name: string;
  left: number;
  width: number;
  title: string;
  label: string;
  change: string | null;
  color: string;
}

/** Every drawn frame's geometry relative to the graph, its texts and colour. */
async function frames(p: PanelPage): Promise<{ graphWidth: number; frames: Box[] }> {
  return p.page.$eval('[data-testid="flame-graph"]', (g) => {
    const gr = g.getBoundingClientRect();
    return {
      graphWidth: gr.width,
      frames: Array.from(g.querySelectorAll<HTMLElement>('.flame-frame'), (f) => {
        const r = f.getBoundingClientRect();
        return {
          path: f.dataset.path!,
          name: f.textContent ?? '',
          left: r.left - gr.left,
          width: r.width,
          title: f.title,
          label: f.getAttribute('aria-label') ?? '',
          change: f.getAttribute('data-change'),
          color: getComputedStyle(f).backgroundColor,
        };
      }),
    };
  });
}

/** A computed colour as [r, g, b] in 0..255 (Chromium gives color-mix() results as color(srgb ...)). */
function rgb(css: string): [number, number, number] {
  const srgb = /color\(srgb ([\d.e-]+) ([\d.e-]+) ([\d.e-]+)/.exec(css);
  if (srgb) return [Number(srgb[1]) * 255, Number(srgb[2]) * 255, Number(srgb[3]) * 255];
  const m = /rgba?\((\d+), (\d+), (\d+)/.exec(css);
  if (!m) throw new Error(`not a colour: ${css}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

async function select(p: PanelPage, testid: string, value: string): Promise<void> {
  await p.page.$eval(
    `[data-testid="${testid}"]`,
    (el, v) => {
      (el as HTMLElement & { value: string }).value = v;
      el.dispatchEvent(new Event('change', { bubbles: true }));
    },
    value,
  );
}

async function focusedPath(p: PanelPage): Promise<string | null> {
  return p.page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.path ?? null);
}

describe.runIf(enabled)('flame graph view (Chromium)', { timeout: 90_000 }, () => {
  let harness: PanelHarness;
  let single: PanelRun;
  let compared: PanelRun;
  beforeAll(async () => {
    harness = await PanelHarness.start();
    const doorbell = examplePanelRun('examples/doorbell.mmio.yaml', { traceCapacity: 1000 });
    single = flamePanelRun(doorbell, false);
    compared = flamePanelRun(doorbell, true);
  }, 60_000);
  afterAll(async () => {
    await harness?.close();
  });

  async function openFlame(run: PanelRun, theme: ThemeKind = 'dark', size?: { width: number; height: number }): Promise<PanelPage> {
    const p = await harness.open(theme, null, size);
    await p.post({ type: 'run', run });
    await p.page.waitForSelector('[data-testid="scenario-name"]');
    await p.showView('flame');
    await p.page.waitForSelector(frameSel('all'));
    return p;
  }

  async function clean(p: PanelPage): Promise<void> {
    expect(await p.cspViolations()).toEqual([]);
    expect(p.errors).toEqual([]);
  }

  it('draws flame.all as an icicle: widths proportional to total cycles, hover and accessible text with cycles and share', async () => {
    const p = await openFlame(single);
    const { graphWidth, frames: fs } = await frames(p);
    // total / 1000 of the width, left edge = parent's + older siblings' (fixture numbers).
    const expected: Record<string, [number, number]> = {
      all: [0, 1],
      'all;guest': [0, 0.4],
      'all;vmx_handle_exit': [0.4, 0.6],
      [MISCONFIG]: [0.4, 0.45],
      [`${MISCONFIG};handle_mmio_page_fault_common`]: [0.4, 0.15],
      [`${MISCONFIG};x86_emulate_instruction`]: [0.55, 0.2],
      'all;vmx_handle_exit;handle_ept_violation': [0.85, 0.1],
      'all;vmx_handle_exit;handle_ept_violation;kvm_mmu_page_fault': [0.85, 0.08],
      'all;vmx_handle_exit;handle_ept_violation;kvm_mmu_page_fault;tdp_page_fault': [0.85, 0.05],
    };
    expect(fs.map((f) => f.path).sort()).toEqual(Object.keys(expected).sort());
    for (const f of fs) {
      const [x, w] = expected[f.path]!;
      expect(f.left, f.path).toBeCloseTo(x * graphWidth, 0);
      expect(Math.abs(f.width - w * graphWidth), f.path).toBeLessThanOrEqual(1);
      expect(f.name).toBe(f.path.split(';').pop());
    }
    // Hover text and accessible label: the full name, the cycles, the share of the total.
    const m = fs.find((f) => f.path === MISCONFIG)!;
    expect(m.title).toContain('handle_ept_misconfig');
    expect(m.title).toContain('450 cycles');
    expect(m.title).toContain('100 in the function itself');
    expect(m.title).toContain('45.00 % of the total');
    expect(m.label).toContain('450 cycles');
    expect(m.label).toContain('45.00 %');
    expect(fs.find((f) => f.path.endsWith('tdp_page_fault'))!.title).toContain('5.00 % of the total');
    // A narrow frame's label is cut to fit (its text is still the full name).
    const cut = await p.page.$eval(frameSel('all;vmx_handle_exit;handle_ept_violation;kvm_mmu_page_fault;tdp_page_fault'), (e) => ({ scroll: e.scrollWidth, client: e.clientWidth, text: e.textContent }));
    expect(cut.text).toBe('tdp_page_fault');
    expect(cut.scroll).toBeGreaterThan(cut.client);
    expect(await p.page.textContent('[data-testid="flame-summary"]')).toContain('1,000 cycles');
    // The tree is one tab stop (roving tabindex).
    expect(await p.page.$$eval('.flame-frame[tabindex="0"]', (e) => e.length)).toBe(1);
    // Hovering a frame shows its title as the tooltip (checked above); the pointer over it:
    await p.page.hover(frameSel(MISCONFIG));
    await p.screenshot('flame-dark');
    await clean(p);
    await p.close();
  });

  it('click zooms into a frame (its subtree fills the width); the breadcrumb and Escape go back', async () => {
    const p = await openFlame(single, 'light');
    await p.page.click(frameSel(MISCONFIG));
    await p.page.waitForFunction(() => document.querySelectorAll('[data-testid="flame-graph"] .flame-frame').length === 3);
    const { graphWidth, frames: fs } = await frames(p);
    expect(fs.map((f) => f.name)).toEqual(['handle_ept_misconfig', 'handle_mmio_page_fault_common', 'x86_emulate_instruction']);
    expect(Math.abs(fs[0]!.width - graphWidth)).toBeLessThanOrEqual(1);
    expect(Math.abs(fs[1]!.width - (150 / 450) * graphWidth)).toBeLessThanOrEqual(1);
    expect(Math.abs(fs[2]!.left - (150 / 450) * graphWidth)).toBeLessThanOrEqual(1);
    expect(Math.abs(fs[2]!.width - (200 / 450) * graphWidth)).toBeLessThanOrEqual(1);
    // Shares stay shares of the whole graph.
    expect(fs[1]!.title).toContain('15.00 % of the total');
    const crumbs = await p.page.$$eval('[data-testid="flame-crumbs"] .flame-crumb', (bs) => bs.map((b) => b.textContent));
    expect(crumbs).toEqual(['all', 'vmx_handle_exit', 'handle_ept_misconfig']);
    expect(await focusedPath(p)).toBe(MISCONFIG);
    await p.screenshot('flame-zoomed-light');
    // A breadcrumb zooms out to that frame.
    await p.page.click('[data-testid="flame-crumbs"] .flame-crumb >> text=vmx_handle_exit');
    await p.page.waitForFunction(() => document.querySelectorAll('[data-testid="flame-graph"] .flame-frame').length === 7);
    // Escape resets the zoom, keeping the focus on the frame that was zoomed.
    await p.page.keyboard.press('Escape');
    await p.page.waitForFunction(() => document.querySelectorAll('[data-testid="flame-graph"] .flame-frame').length === 9);
    expect(await focusedPath(p)).toBe('all;vmx_handle_exit');
    // The Reset zoom button does the same.
    await p.page.click(frameSel(MISCONFIG));
    await p.page.waitForFunction(() => document.querySelectorAll('[data-testid="flame-graph"] .flame-frame').length === 3);
    await p.page.click('[data-testid="flame-reset"]');
    await p.page.waitForFunction(() => document.querySelectorAll('[data-testid="flame-graph"] .flame-frame').length === 9);
    await clean(p);
    await p.close();
  });

  it('is keyboard navigable: arrows move between frames, Enter zooms, Escape resets', async () => {
    const p = await openFlame(single);
    await p.page.focus(frameSel('all'));
    const steps: [string, string][] = [
      ['ArrowDown', 'all;guest'],
      ['ArrowRight', 'all;vmx_handle_exit'],
      ['ArrowDown', MISCONFIG],
      ['ArrowDown', `${MISCONFIG};handle_mmio_page_fault_common`],
      ['ArrowRight', `${MISCONFIG};x86_emulate_instruction`],
      ['ArrowRight', 'all;vmx_handle_exit;handle_ept_violation;kvm_mmu_page_fault'],
      ['ArrowLeft', `${MISCONFIG};x86_emulate_instruction`],
      ['ArrowUp', MISCONFIG],
      ['ArrowRight', 'all;vmx_handle_exit;handle_ept_violation'],
      ['ArrowLeft', MISCONFIG],
    ];
    for (const [key, path] of steps) {
      await p.page.keyboard.press(key);
      expect(await focusedPath(p), key).toBe(path);
      // The details line follows the focus.
      expect(await p.page.textContent('[data-testid="flame-details"]')).toContain(path.split(';').pop());
    }
    expect(await p.page.$$eval('.flame-frame[tabindex="0"]', (e) => e.map((x) => x.getAttribute('data-path')))).toEqual([MISCONFIG]);
    await p.page.keyboard.press('Enter');
    await p.page.waitForFunction(() => document.querySelectorAll('[data-testid="flame-graph"] .flame-frame').length === 3);
    expect(await focusedPath(p)).toBe(MISCONFIG);
    expect(await p.page.getAttribute(frameSel(MISCONFIG), 'aria-level')).toBe('1');
    await p.page.keyboard.press('ArrowDown');
    expect(await focusedPath(p)).toBe(`${MISCONFIG};handle_mmio_page_fault_common`);
    await p.page.keyboard.press('Escape');
    await p.page.waitForFunction(() => document.querySelectorAll('[data-testid="flame-graph"] .flame-frame').length === 9);
    expect(await focusedPath(p)).toBe(MISCONFIG);
    expect(await p.page.getAttribute(frameSel(MISCONFIG), 'aria-level')).toBe('3');
    await clean(p);
    await p.close();
  });

  it('shows one fault class or one workload line', async () => {
    const p = await openFlame(single);
    const options = await p.page.$$eval('[data-testid="flame-scope"] vscode-option', (os) => os.map((o) => o.getAttribute('value')));
    expect(options).toEqual(['all', 'class:mmio-cache', 'line:24']);
    await select(p, 'flame-scope', 'class:mmio-cache');
    await p.page.waitForFunction(() => document.querySelectorAll('[data-testid="flame-graph"] .flame-frame').length === 4);
    const { graphWidth, frames: fs } = await frames(p);
    const leaf = fs.find((f) => f.name === 'handle_mmio_page_fault_common')!;
    expect(Math.abs(leaf.width - (200 / 300) * graphWidth)).toBeLessThanOrEqual(1);
    expect(leaf.title).toContain('66.67 % of the total');
    await select(p, 'flame-scope', 'line:24');
    await p.page.waitForFunction(() => document.querySelectorAll('[data-testid="flame-graph"] .flame-frame').length === 2);
    expect((await frames(p)).frames.map((f) => f.name)).toEqual(['all', 'guest']);
    expect(await p.page.textContent('[data-testid="flame-summary"]')).toContain('400 cycles');
    await clean(p);
    await p.close();
  });

  it('differential mode: the second variant\'s graph, fallen frames red, risen or new ones blue, the change in the hover text', async () => {
    for (const theme of ['dark', 'light', 'high-contrast'] as const) {
      const p = await openFlame(compared, theme);
      expect(await p.page.isVisible('[data-testid="flame-variants"]')).toBe(false);
      await select(p, 'flame-mode', 'diff');
      await p.page.waitForSelector('[data-testid="flame-graph"] .flame-frame[data-change]');
      expect(await p.page.isVisible('[data-testid="flame-variants"]')).toBe(true);
      // Variant labels are text (the fixture's first label holds markup).
      expect(await p.page.$$eval('[data-testid="flame-variant-a"] vscode-option', (os) => os.map((o) => o.textContent))).toEqual(['v3.0 <b>before</b>', 'v3.1 after']);
      expect(await p.page.$('[data-testid="flame-view"] b, .flame-view vscode-option b')).toBeNull();
      const { graphWidth, frames: fs } = await frames(p);
      const by = Object.fromEntries(fs.map((f) => [f.path, f]));
      // Changes worked out from the fixtures (FLAME_A -> FLAME_B).
      const expected: Record<string, string> = {
        all: 'fell',
        'all;guest': 'same',
        'all;vmx_handle_exit': 'fell',
        [MISCONFIG]: 'fell',
        [`${MISCONFIG};handle_mmio_page_fault_common`]: 'fell',
        [`${MISCONFIG};x86_emulate_instruction`]: 'rose',
        [`${MISCONFIG};vcpu_mmio_gva_to_gpa`]: 'new',
        'all;vmx_handle_exit;handle_ept_violation': 'fell',
        'all;vmx_handle_exit;handle_ept_violation;kvm_mmu_page_fault': 'fell',
        'all;vmx_handle_exit;handle_ept_violation;kvm_mmu_page_fault;tdp_page_fault': 'removed',
      };
      expect(Object.fromEntries(fs.map((f) => [f.path, f.change]))).toEqual(expected);
      for (const f of fs) {
        const [r, , b] = rgb(f.color);
        if (f.change === 'fell' || f.change === 'removed') expect(r, `${theme} ${f.path} ${f.color}`).toBeGreaterThan(b);
        if (f.change === 'rose' || f.change === 'new') expect(b, `${theme} ${f.path} ${f.color}`).toBeGreaterThan(r);
      }
      // The 'same' frame is neither red nor blue: its red and blue are close.
      const [gr, , gb] = rgb(by['all;guest']!.color);
      expect(Math.abs(gr - gb)).toBeLessThan(20);
      // Widths: the second run's cycles plus the removed paths (tdp_page_fault, 50), of 900 + 50.
      expect(Math.abs(by['all;vmx_handle_exit']!.width - (550 / 950) * graphWidth)).toBeLessThanOrEqual(1);
      expect(Math.abs(by['all;vmx_handle_exit;handle_ept_violation;kvm_mmu_page_fault;tdp_page_fault']!.width - (50 / 950) * graphWidth)).toBeLessThanOrEqual(1);
      expect(Math.abs(by[`${MISCONFIG};vcpu_mmio_gva_to_gpa`]!.width - (60 / 950) * graphWidth)).toBeLessThanOrEqual(1);
      // The delta in the hover text.
      const fell = by[`${MISCONFIG};handle_mmio_page_fault_common`]!.title;
      expect(fell).toContain('150 → 60 cycles');
      expect(fell).toContain('−90');
      expect(fell).toContain('−60.00 %');
      expect(by[`${MISCONFIG};x86_emulate_instruction`]!.title).toContain('+30');
      expect(by[`${MISCONFIG};vcpu_mmio_gva_to_gpa`]!.title).toContain('new: 60 cycles');
      expect(by['all;vmx_handle_exit;handle_ept_violation;kvm_mmu_page_fault;tdp_page_fault']!.title).toContain('removed: 50 cycles');
      expect(await p.page.textContent('[data-testid="flame-summary"]')).toContain('900 cycles against 1,000');
      const colours = await p.page.evaluate(() => ({ fg: getComputedStyle(document.body).color, bg: getComputedStyle(document.body).backgroundColor }));
      expect(colours.fg).not.toBe(colours.bg);
      await p.screenshot(`flame-diff-${theme}`);
      // Swapping the variants turns the removed frame into a new one, and the fall into a rise.
      await select(p, 'flame-variant-a', '1');
      await select(p, 'flame-variant-b', '0');
      await p.page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-change') === 'new', frameSel('all;vmx_handle_exit;handle_ept_violation;kvm_mmu_page_fault;tdp_page_fault'));
      expect(await p.page.getAttribute(frameSel(`${MISCONFIG};handle_mmio_page_fault_common`), 'data-change')).toBe('rose');
      expect(await p.page.getAttribute(frameSel(`${MISCONFIG};vcpu_mmio_gva_to_gpa`), 'data-change')).toBe('removed');
      await clean(p);
      await p.close();
    }
  });

  it('kernel function names link to the era\'s source: the flame graph\'s details and the Summary\'s fault-class table post openExternal', async () => {
    const p = await openFlame(compared);
    await p.page.focus(frameSel(MISCONFIG));
    await p.clearMessages();
    await p.page.click('[data-testid="flame-details"] a.kfn-link');
    const open = await p.waitForMessage('openExternal');
    expect(open.url).toBe(kernelSourceUrl('v3.1', 'handle_ept_misconfig'));
    expect(isAllowedSourceUrl(open.url)).toBe(true);
    // The link does not zoom or navigate the panel.
    expect(await p.page.$$eval('[data-testid="flame-graph"] .flame-frame', (e) => e.length)).toBe(9);
    expect(p.page.url()).toMatch(/^http:\/\/localhost:\d+\/$/);
    // The guest is not a kernel function: no link.
    await p.page.focus(frameSel('all;guest'));
    expect(await p.page.$('[data-testid="flame-details"] a')).toBeNull();
    // In the differential mode a removed frame links to the first variant's kernel (v3.0).
    await select(p, 'flame-mode', 'diff');
    const removed = frameSel('all;vmx_handle_exit;handle_ept_violation;kvm_mmu_page_fault;tdp_page_fault');
    await p.page.waitForSelector(`${removed}[data-change="removed"]`);
    await p.page.focus(removed);
    await p.page.click('[data-testid="flame-details"] a.kfn-link');
    expect((await p.waitForMessage('openExternal')).url).toBe(kernelSourceUrl('v3.0', 'tdp_page_fault'));
    // Summary: the fault-class table's function column (the doorbell runs v3.1); Enter on the link works too.
    await p.showView('summary');
    const link = '[data-table="fault-classes"] a.kfn-link[data-kernel-fn="handle_mmio_page_fault_common"] >> nth=0';
    await p.page.click(link);
    const fromTable = await p.waitForMessage('openExternal');
    expect(fromTable.url).toBe(kernelSourceUrl('v3.1', 'handle_mmio_page_fault_common'));
    await p.page.focus(link);
    await p.page.keyboard.press('Enter');
    expect((await p.waitForMessage('openExternal')).url).toBe(fromTable.url);
    expect(await p.page.textContent('[data-table="fault-classes"] vscode-table-row[data-row="0"]')).toContain('handle_mmio_page_fault_common');
    await p.screenshot('summary-fault-links-dark');
    await clean(p);
    await p.close();
  });

  it('fits a 520 px panel: nothing overflows sideways, in either mode', async () => {
    const p = await openFlame(compared, 'dark', { width: 520, height: 800 });
    const overflow = () =>
      p.page.evaluate(() => {
        const v = document.querySelector('.flame-view') as HTMLElement;
        return { view: v.scrollWidth - v.clientWidth, page: document.documentElement.scrollWidth - document.documentElement.clientWidth, width: v.clientWidth };
      });
    const a = await overflow();
    expect(a.width).toBeGreaterThan(0);
    expect(a.view).toBeLessThanOrEqual(0);
    expect(a.page).toBeLessThanOrEqual(0);
    await p.screenshot('flame-narrow-dark');
    await select(p, 'flame-mode', 'diff');
    await p.page.waitForSelector('[data-testid="flame-graph"] .flame-frame[data-change]');
    const b = await overflow();
    expect(b.view).toBeLessThanOrEqual(0);
    expect(b.page).toBeLessThanOrEqual(0);
    await p.screenshot('flame-diff-narrow-dark');
    await clean(p);
    await p.close();
  });

  it('a run without a flame graph says so', async () => {
    const run = examplePanelRun('examples/doorbell.mmio.yaml', { traceCapacity: 0 });
    // A report from before flame graphs existed (RunResult.flame left out).
    const { flame: _flame, ...old } = run.result;
    const p = await harness.open('dark');
    await p.post({ type: 'run', run: { ...run, result: old as RunResult } });
    await p.page.waitForSelector('[data-testid="scenario-name"]');
    await p.showView('flame');
    expect(await p.page.textContent('[data-testid="flame-empty"]')).toContain('no flame graph');
    await clean(p);
    await p.close();
  });
});
