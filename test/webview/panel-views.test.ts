// Each view of the panel in real Chromium, fed real runs of the bundled examples. Expected values
// come from the reference (kvm-mmio-reference.md §4: the EPT MMIO SPTE 0x01FE0000FEBF0006 for gfn
// 0xFEBF0; the doorbell's 999 EPT misconfigurations caught by the MMIO cache after one slow fault),
// not from the panel's own output.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserTestsEnabled, PanelHarness, type PanelPage } from './harness';
import { examplePanelRun, exampleText, panelRun, scenarioOf } from './fixtures';
import { runScenario } from '../../simulator/index';
import type { PanelRun } from '../../shared/protocol';

const enabled = browserTestsEnabled();
const DOORBELL = 'examples/doorbell.mmio.yaml';
const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

/** The cell texts of a data table's body rows. */
async function rows(p: PanelPage, table: string): Promise<string[][]> {
  return p.page.$$eval(`[data-table="${table}"] vscode-table-body vscode-table-row`, (trs) =>
    trs.map((tr) => Array.from(tr.querySelectorAll('vscode-table-cell'), (td) => (td.textContent ?? '').trim())),
  );
}

/** Select each shadow page in turn until one shows an entry of `kind`; that entry's row, or null. */
async function selectPageWithEntry(p: PanelPage, kind: string) {
  const ids = await p.page.$$eval('[data-testid="shadow-tree"] [data-page-id]', (els) => [...new Set(els.map((e) => e.getAttribute('data-page-id')))]);
  for (const id of ids) {
    await p.page.click(`[data-page-id="${id}"] .page-label >> nth=0`);
    // The entries table is rendered on the click: wait for its caption to name this page.
    await p.page.waitForFunction((n) => (document.querySelector('[data-table="sptes"] h3')?.textContent ?? '').startsWith(`Entries of page ${n} (`), id);
    const row = await p.page.$(`[data-table="sptes"] vscode-table-row[data-kind="${kind}"]`);
    if (row) return row;
  }
  return null;
}

describe.runIf(enabled)('panel views (Chromium)', { timeout: 90_000 }, () => {
  let harness: PanelHarness;
  let doorbell: PanelRun;
  beforeAll(async () => {
    harness = await PanelHarness.start();
    doorbell = examplePanelRun(DOORBELL);
  }, 60_000);
  afterAll(async () => {
    await harness?.close();
  });

  async function openWith(run: PanelRun, theme: 'dark' | 'light' | 'high-contrast' = 'dark'): Promise<PanelPage> {
    const p = await harness.open(theme);
    await p.post({ type: 'run', run });
    await p.page.waitForSelector('[data-testid="scenario-name"]');
    return p;
  }

  it('Summary: the perf kvm stat exit table, fault classes with return codes, the cycle chart', async () => {
    const p = await openWith(doorbell);
    const exits = await rows(p, 'exits');
    expect(exits[0]![0]).toBe('EPT_MISCONFIG'); // sorted by samples, as perf kvm stat
    expect(exits[0]![1]).toBe('999');
    expect(exits.find((r) => r[0] === 'EPT_VIOLATION')?.[1]).toBe('2');
    const classes = await rows(p, 'fault-classes');
    const cache = classes.find((r) => r[0] === 'mmio-cache')!;
    expect(cache).toContain('999');
    expect(cache).toContain('handle_mmio_page_fault_common');
    expect(classes.find((r) => r[0] === 'mmio-slow')).toContain('1');
    // The chart's segments are the run's cost components and their shares add up to 100 %.
    const shares = await p.page.$$eval('[data-testid="cycle-chart"] rect[data-component] title', (ts) => ts.map((t) => Number(/\(([\d.]+) %\)/.exec(t.textContent ?? '')?.[1])));
    expect(shares.length).toBeGreaterThan(2);
    expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(100, 0);
    expect(await p.page.textContent('[data-testid="figure-of-merit"]')).toContain('transaction');
    await p.screenshot('summary-dark');
    expect(await p.cspViolations()).toEqual([]);
    expect(p.errors).toEqual([]);
    await p.close();
  });

  it('Summary: a scenario with guest OS steps shows what the guest kernel did; one without has no such table', async () => {
    // examples/fork-cow.mmio.yaml: 20 forks, each child copies 4 pages and the parent reuses 16
    // (do_wp_page: page_mapcount 2 copies, 1 reuses), one INVLPG per copy and per reuse.
    const p = await openWith(examplePanelRun('examples/fork-cow.mmio.yaml'));
    const os = await rows(p, 'guest-os');
    expect(os.find((r) => r[0] === 'forks')?.[1]).toBe('20');
    expect(os.find((r) => r[0] === 'cow_copies')?.[1]).toBe('80');
    expect(os.find((r) => r[0] === 'cow_reuses')?.[1]).toBe('320');
    expect(os.find((r) => r[0] === 'invlpgs')?.[1]).toBe('400');
    expect(p.errors).toEqual([]);
    await p.close();
    const q = await openWith(doorbell);
    expect(await q.page.$('[data-table="guest-os"]')).toBeNull();
    await q.close();
  });

  it('Summary: a run with HLT states its idle cycles apart from total (in elapsed, no CPU work); a run without says nothing', async () => {
    const idle = examplePanelRun('examples/request-response-idle.mmio.yaml');
    const p = await openWith(idle);
    // 198 HLTs of 58,600 cycles each (the example's wake_after).
    expect(await p.page.textContent('[data-testid="run-time"]')).toContain(' · idle 11,602,800 cycles halted (HLT): in elapsed, not in total');
    expect(p.errors).toEqual([]);
    await p.close();
    const q = await openWith(doorbell);
    expect(await q.page.textContent('[data-testid="run-time"]')).not.toContain('idle');
    await q.close();
  });

  it('Summary: copy buttons put the table on the clipboard as CSV and Markdown; an expectation reveals its line', async () => {
    const p = await openWith(doorbell, 'light');
    await p.page.click('[data-table="exits"] [data-copy="csv"]');
    const csv = await p.waitForMessage('copy');
    expect(csv.format).toBe('csv');
    expect(csv.text.split('\r\n')[0]).toMatch(/^VM-EXIT,Samples/);
    expect(csv.text).toMatch(/\r\nEPT_MISCONFIG,999,/);
    await p.page.click('[data-table="exits"] [data-copy="markdown"]');
    const md = await p.waitForMessage('copy');
    expect(md.text.split('\n')[0]).toMatch(/^\| VM-EXIT \| Samples \|/);
    expect(md.text).toContain('| EPT_MISCONFIG | 999 |');
    await p.page.click('[data-table="expect"] vscode-table-row[data-row="0"]');
    const reveal = await p.waitForMessage('revealLine');
    expect(reveal.line).toBe(lineOf(exampleText(DOORBELL), 'exits.EPT_MISCONFIG: 999'));
    await p.screenshot('summary-light');
    await p.close();
  });

  it('Shadow tables: the MMIO SPTE decoded, with a bit ruler naming its fields', async () => {
    const p = await openWith(doorbell);
    await p.showView('shadow');
    expect(await selectPageWithEntry(p, 'mmio')).not.toBeNull();
    const mmio = await p.page.$eval('[data-table="sptes"] vscode-table-row[data-kind="mmio"]', (tr) => ({ index: tr.getAttribute('data-index'), text: tr.textContent ?? '' }));
    expect(mmio.index).toBe('496'); // gfn 0xfebf0 & 0x1ff
    expect(mmio.text.toLowerCase()).toContain('0x1fe0000febf0006');
    expect(mmio.text.toLowerCase()).toContain('0xfebf0');
    await p.page.click('[data-table="sptes"] vscode-table-row[data-kind="mmio"]');
    const field = (name: string) => p.page.$eval(`[data-testid="bit-ruler"] [data-field="${name}"] .bit-value`, (e) => (e.textContent ?? '').toLowerCase());
    expect(await field('gfn')).toBe('0xfebf0');
    expect(await field('MMIO marker 0xff')).toBe('0xff');
    expect(await field('RWX = 110b (misconfig)')).toBe('0x6');
    await p.screenshot('shadow-dark');
    expect(p.errors).toEqual([]);
    await p.close();
  });

  it('Shadow tables: the step control asks for the tables after a step and shows them; Open as Text and diff ask the host', async () => {
    const p = await openWith(doorbell, 'light');
    await p.showView('shadow');
    await p.clearMessages();
    await p.page.fill('[data-testid="step-box"] >> input', '-1');
    await p.page.press('[data-testid="step-box"] >> input', 'Enter');
    const req = await p.waitForMessage('requestTables');
    expect(req.step).toBe(-1);
    // Before the workload no MMIO SPTE exists (only the booted guest's RAM mappings).
    const before = runScenario(scenarioOf(exampleText(DOORBELL), DOORBELL), { stopAfterStep: -1, traceCapacity: 0 }).shadow_tables;
    expect(before.pages.flatMap((pg) => pg.entries).some((e) => e.kind === 'mmio')).toBe(false);
    await p.post({ type: 'tables', step: -1, tables: before });
    await p.page.waitForFunction(() => /before the workload/.test(document.querySelector('[data-testid="step-label"]')?.textContent ?? ''));
    expect(await p.page.$('[data-table="sptes"] vscode-table-row[data-kind="mmio"]')).toBeNull();
    expect((await p.state())?.step).toBe(-1);
    await p.page.click('[data-testid="open-as-text"]');
    expect((await p.waitForMessage('openTablesAsText')).step).toBe(-1);
    await p.page.click('[data-testid="diff-steps"]');
    const diff = await p.waitForMessage('diffTables');
    expect(diff.to).toBe(-1);
    await p.close();
  });

  it('Timeline: 100,000 events in a virtualized list; the class filter; selecting an event reveals its line', async () => {
    // Enough doorbells that the trace buffer (100,000 events) wraps.
    const text = exampleText(DOORBELL).replace('repeat: 1000', 'repeat: 8000');
    const big = panelRun(text, 'big.mmio.yaml', { traceCapacity: 100_000 });
    expect(big.result.trace.events).toHaveLength(100_000);
    const p = await openWith(big);
    await p.showView('timeline');
    const count = await p.page.$eval('[data-testid="timeline-count"]', (e) => ({ shown: e.getAttribute('data-shown'), total: e.getAttribute('data-total') }));
    expect(count).toEqual({ shown: '100000', total: '100000' });
    expect(await p.page.$$eval('[data-testid="timeline-list"] .tl-row[data-seq]', (r) => r.length)).toBeLessThan(200);
    expect(await p.page.textContent('[data-testid="timeline-dropped"]')).toMatch(/\d/);

    // Filter by class, as the select's change would.
    await p.page.$eval('[data-testid="filter-class"]', (el) => {
      (el as HTMLElement & { value: string }).value = 'mmio-cache';
      el.dispatchEvent(new Event('change', { bubbles: true }));
    });
    const expected = big.result.trace.events.filter((e) => e.class === 'mmio-cache').length;
    await p.page.waitForFunction((n) => document.querySelector('[data-testid="timeline-count"]')?.getAttribute('data-shown') === String(n), expected);
    const classes = await p.page.$$eval('[data-testid="timeline-list"] .tl-row[data-seq]', (rs) => rs.map((r) => r.children[5]?.textContent));
    expect(new Set(classes)).toEqual(new Set(['mmio-cache']));

    // Selecting an event reveals its workload line in the editor.
    await p.clearMessages();
    await p.page.click('[data-testid="timeline-list"] .tl-row[data-seq] >> nth=2');
    const reveal = await p.waitForMessage('revealLine');
    expect(reveal.line).toBe(lineOf(text, '{ write: 0xffffc90000000050'));

    await p.screenshot('timeline-dark');
    expect(p.errors).toEqual([]);
    await p.close();
  });

  it('Timeline: the editor\'s cursor line highlights its events, scrolling to them when none is in view', async () => {
    const p = await openWith(doorbell, 'light');
    await p.showView('timeline');
    // Scroll to the end: the RAM read's only events (its first-touch EPT violation) are near the top.
    await p.page.$eval('[data-testid="timeline-list"]', (el) => el.scrollTo(0, el.scrollHeight));
    await p.page.waitForFunction(() => document.querySelector('[data-testid="timeline-list"] .tl-row[data-seq="0"]') === null);
    const readLine = lineOf(exampleText(DOORBELL), '{ read: 0xffff880000100000');
    await p.post({ type: 'highlightLine', line: readLine });
    await p.page.waitForSelector('[data-testid="timeline-list"] .tl-row.highlighted');
    const lit = await p.page.$$eval('[data-testid="timeline-list"] .tl-row.highlighted', (rs) => rs.map((r) => r.children[6]?.textContent));
    expect(new Set(lit)).toEqual(new Set([String(readLine)]));
    expect(lit.length).toBe(doorbell.result.trace.events.filter((e) => e.line === readLine).length);
    expect(await p.page.getAttribute('[data-testid="timeline-list"]', 'data-highlight-line')).toBe(String(readLine));
    await p.screenshot('timeline-light');
    expect(p.errors).toEqual([]);
    await p.close();
  });

  it('Memslots: the user slot and VMX\'s private slots; every miss compares nmemslots entries', async () => {
    const p = await openWith(doorbell, 'light');
    await p.showView('memslots');
    const slots = await rows(p, 'memslots');
    // asm/vmx.h (3.0.1, 3.1.10): TSS_PRIVATE_MEMSLOT = KVM_MEMORY_SLOTS + 0 (32),
    // IDENTITY_PAGETABLE_PRIVATE_MEMSLOT = KVM_MEMORY_SLOTS + 2 (34); user slot 0.
    expect(slots.map((r) => r[0])).toEqual(['0', '32', '34']);
    expect(await p.page.textContent('[data-testid="memslot-summary"] [data-stat="nmemslots"]')).toContain('35');
    await p.screenshot('memslots-light');
    await p.close();
  });

  it('Compare: the cover letter\'s four variants side by side with their change and a bar chart', async () => {
    const run = examplePanelRun('examples/seed/netperf-tcp-rr.mmio.yaml', { traceCapacity: 0 }, true);
    const p = await openWith(run);
    await p.post({ type: 'showView', view: 'compare' });
    await p.waitForView('compare');
    const variants = await rows(p, 'compare');
    expect(variants).toHaveLength(run.compare!.variants.length);
    expect(variants.length).toBe(4);
    expect(await p.page.$$eval('[data-testid="compare-chart"] rect[data-variant]', (r) => r.length)).toBe(4);
    expect(await p.page.getAttribute('[data-testid="compare-chart"]', 'data-higher-is-better')).toBe('true');
    await p.screenshot('compare-dark');
    const q = await openWith(doorbell);
    await q.showView('compare');
    expect(await q.page.isVisible('[data-testid="compare-empty"]')).toBe(true);
    await q.close();
    await p.close();
  });

  it('is readable in every theme kind: screenshots of the summary in dark, light and high contrast', async () => {
    for (const theme of ['dark', 'light', 'high-contrast'] as const) {
      const p = await openWith(doorbell, theme);
      const colours = await p.page.evaluate(() => ({ fg: getComputedStyle(document.body).color, bg: getComputedStyle(document.body).backgroundColor }));
      expect(colours.fg).not.toBe(colours.bg);
      await p.screenshot(`theme-${theme}`);
      await p.close();
    }
  });

  it('fits a narrow panel: the page does not scroll sideways', async () => {
    const p = await harness.open('dark', null, { width: 520, height: 800 });
    await p.post({ type: 'run', run: doorbell });
    await p.page.waitForSelector('[data-testid="scenario-name"]');
    for (const view of ['summary', 'shadow', 'timeline', 'memslots', 'compare', 'flame']) {
      await p.showView(view);
      const overflow = await p.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, view).toBeLessThanOrEqual(0);
    }
    await p.showView('summary');
    await p.screenshot('narrow-summary-dark');
    await p.close();
  });

  it('is keyboard navigable: tabs with the arrow keys, the timeline with arrows, End and Home', async () => {
    const p = await openWith(doorbell);
    // The tab strip: focus the Summary tab, then ArrowRight twice reaches the Timeline.
    await p.page.focus('vscode-tab-header[data-view-tab="summary"]');
    await p.page.keyboard.press('ArrowRight');
    await p.page.keyboard.press('ArrowRight');
    await p.page.keyboard.press('Enter');
    await p.waitForView('timeline');
    // The event list: End selects the last event, Home the first, ArrowDown moves one; each reveals its line.
    await p.page.focus('[data-testid="timeline-list"]');
    await p.clearMessages();
    await p.page.keyboard.press('End');
    const events = doorbell.result.trace.events;
    const selectedSeq = () => p.page.$eval('[data-testid="timeline-list"] .tl-row[aria-selected="true"]', (r) => Number(r.getAttribute('data-seq')));
    await p.page.waitForSelector('[data-testid="timeline-list"] .tl-row[aria-selected="true"]');
    expect(await selectedSeq()).toBe(events[events.length - 1]!.seq);
    await p.page.keyboard.press('Home');
    await p.page.keyboard.press('ArrowDown');
    await p.page.waitForFunction(() => document.querySelector('[data-testid="timeline-list"] .tl-row[aria-selected="true"]')?.getAttribute('data-seq') === '1');
    expect(await selectedSeq()).toBe(events[1]!.seq);
    await p.page.keyboard.press('Enter');
    const reveal = await p.waitForMessage('revealLine');
    expect(reveal.line).toBe(events[1]!.line);
    expect((await p.state())?.timeline.selectedSeq).toBe(events[1]!.seq);
    await p.close();
  });

  it('Shadow tables under v3.0 bypass_guest_pf: trap entries (0xFFFFFFFFFFFFF001) decoded, with the trap ruler', async () => {
    const run = examplePanelRun('examples/bypass-guest-pf.mmio.yaml');
    expect(run.result.tdp).toBe(false);
    expect(run.result.bypass_guest_pf).toBe(true);
    const p = await openWith(run, 'light');
    await p.showView('shadow');
    const trap = await selectPageWithEntry(p, 'trap');
    expect(trap).not.toBeNull();
    expect(((await trap!.textContent()) ?? '').toLowerCase()).toContain('0xfffffffffffff001');
    await trap!.click();
    expect(await p.page.getAttribute('[data-testid="bit-ruler"]', 'data-kind')).toBe('trap');
    expect(await p.page.$eval('[data-testid="bit-ruler"] [data-field="P"] .bit-value', (e) => e.textContent)).toBe('0x1');
    await p.screenshot('shadow-trap-light');
    expect(p.errors).toEqual([]);
    await p.close();
  });
});
