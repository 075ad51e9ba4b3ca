// The Timeline's swimlanes, details pane and filters in real Chromium. Positions are checked on the
// canvas's pixels against the cycles of the fixture's events (x = (cycles - t0) / (t1 - t0) * width,
// with the window the canvas reports), never against the view's own idea of where it drew.
// An exit slice is the kernel's span from trace_kvm_exit (vmx.c vmx_handle_exit, 3.0.1:3930,
// 3.1.10:5699) to the next trace_kvm_entry (x86.c vcpu_enter_guest, 3.0.1:5455, 3.1.10:5668);
// docs/kernel-paths.md §15.2.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserTestsEnabled, PanelHarness, type PanelPage } from './harness';
import { examplePanelRun, exampleText, panelRun } from './fixtures';
import { INITIAL_STATE, type PanelRun } from '../../shared/protocol';
import type { TraceEventRecord } from '../../simulator/index';
import { EVENT_LIST } from '../../simulator/trace/events';
import { RACE_POINTS } from '../../simulator/scenario/types';
import { THEMES } from './themes';

const enabled = browserTestsEnabled();
const RACE = 'examples/race-zap-during-walk.mmio.yaml';
const DOORBELL = 'examples/doorbell.mmio.yaml';
/** swimlanes.ts geometry (CSS px): the time axis, then one lane per vCPU. */
const AXIS_H = 20;
const LANE_H = 40;
const PROBES = new Set(EVENT_LIST.filter((e) => 'fn' in e && e.fn).map((e) => e.name));

type Fields = TraceEventRecord['fields'];
/** A hand-made trace on two vCPUs, times interleaved across them as the simulator records them. */
function syntheticEvents(line: number): TraceEventRecord[] {
  const ev: [number, number, string, Fields, string?][] = [
    [0, 1000, 'kvm_exit', { reason: 'EPT_VIOLATION', rip: '0xfffff81000000', info1: '0x182' }, 'mmio-slow'],
    [0, 1000, 'kvm_page_fault', { address: '0xfebf0000', error_code: '0x182' }, 'mmio-slow'],
    [0, 1500, 'mark_mmio_spte', { sptep: '0x112f80', gfn: '0xfebf0', access: '0x6' }, 'mmio-slow'],
    [0, 1800, '__direct_map', { gfn: '0x3fff', spte: '0x100277', level: 1 }, 'mmio-slow'],
    [0, 3000, 'kvm_entry', {}, 'mmio-slow'],
    [1, 2000, 'kvm_exit', { reason: 'EPT_MISCONFIG', rip: '0xfffff81000010', info1: '0x0' }, 'mmio-fast'],
    [1, 2200, 'mmu_spte_get_lockless', { spte: '0x10e007', level: 4 }, 'mmio-fast'],
    [1, 2500, 'vcpu_switch', { to: 0, point: RACE_POINTS.indexOf('mmu_lock') }, 'mmio-fast'],
    [0, 6000, 'kvm_exit', { reason: 'EPT_MISCONFIG', rip: '0xfffff81000000', info1: '0x0' }, 'mmio-fast'],
    [0, 6200, 'handle_mmio_page_fault', { addr: '0x0', gfn: '0xfebf0', access: '0x0' }, 'mmio-fast'],
    [0, 7000, 'kvm_entry', {}, 'mmio-fast'],
    [1, 4000, 'kvm_entry', {}, 'mmio-fast'],
    [1, 8000, '__kvm_set_memory_region', { slot: 2, gpa: '0x10000000', npages: 256, generation: 4 }],
    [1, 8000, 'srcu_synchronize_wait', { readers: 1, first: 0 }],
    [1, 10000, 'vcpu_switch', { to: 0, point: RACE_POINTS.indexOf('synchronize_srcu_expedited') }],
  ];
  return ev.map(([vcpu, cycles, name, fields, cls], seq) => ({ seq, step: 0, vcpu, cycles, name, line, fields, ...(cls ? { class: cls } : {}) }));
}

describe.runIf(enabled)('timeline swimlanes (Chromium)', { timeout: 120_000 }, () => {
  let harness: PanelHarness;
  let race: PanelRun;
  beforeAll(async () => {
    harness = await PanelHarness.start();
    race = examplePanelRun(RACE);
  }, 60_000);
  afterAll(async () => {
    await harness?.close();
  });

  async function openTimeline(run: PanelRun, theme: 'dark' | 'light' | 'high-contrast' = 'dark', size?: { width: number; height: number }, selectedSeq: number | null = null): Promise<PanelPage> {
    const state = selectedSeq === null ? null : { ...INITIAL_STATE, uri: run.uri, view: 'timeline' as const, timeline: { ...INITIAL_STATE.timeline, selectedSeq } };
    const p = await harness.open(theme, state, size);
    await p.post({ type: 'run', run });
    await p.page.waitForSelector('[data-testid="scenario-name"]');
    if (selectedSeq === null) await p.showView('timeline');
    else await p.waitForView('timeline');
    await p.page.waitForFunction(() => document.querySelector('[data-testid="timeline-lanes"]')?.getAttribute('data-drawn') !== null);
    return p;
  }

  /** The canvas's mapping of cycles to CSS px, as it last drew. */
  async function window_(p: PanelPage) {
    return p.page.$eval('[data-testid="timeline-lanes"]', (c) => ({ t0: Number(c.getAttribute('data-t0')), t1: Number(c.getAttribute('data-t1')), width: Number(c.getAttribute('data-width')), drawn: Number(c.getAttribute('data-drawn')) }));
  }
  const xOf = (w: { t0: number; t1: number; width: number }, cycles: number) => ((cycles - w.t0) / (w.t1 - w.t0)) * w.width;

  /** RGBA of the canvas at CSS px (x, y). */
  async function pixel(p: PanelPage, x: number, y: number): Promise<number[]> {
    return p.page.$eval(
      '[data-testid="timeline-lanes"]',
      (c, [x, y]) => {
        const dpr = window.devicePixelRatio || 1;
        return Array.from((c as HTMLCanvasElement).getContext('2d')!.getImageData(Math.floor(x! * dpr), Math.floor(y! * dpr), 1, 1).data);
      },
      [x, y],
    );
  }
  const hex = (s: string) => [1, 3, 5].map((i) => parseInt(s.slice(i, i + 2), 16));

  /** Wait until the details pane shows the event `seq`. */
  async function detailsSeq(p: PanelPage, seq: number): Promise<void> {
    await p.page.waitForFunction((s) => document.querySelector('[data-testid="event-details"]')?.getAttribute('data-seq') === String(s), seq);
  }

  it('an exit slice spans its kvm_exit..kvm_entry cycles; race and SRCU marks sit at their cycles; a click in a slice selects its kvm_exit', async () => {
    const base = examplePanelRun(RACE, { traceCapacity: 0 });
    const line = 41;
    const events = syntheticEvents(line);
    const run: PanelRun = { ...base, result: { ...base.result, trace: { total: events.length, dropped: 0, events } } };
    const p = await openTimeline(run);
    await p.page.click('[data-testid="zoom-fit"]');
    await p.page.waitForFunction(() => Number(document.querySelector('[data-testid="timeline-lanes"]')?.getAttribute('data-t1')) === 10000);
    const w = await window_(p);
    expect(w.t0).toBe(0); // the whole run: every vCPU's clock starts at 0
    expect(await p.page.$eval('[data-testid="timeline-lanes"]', (c) => c.getAttribute('data-lanes'))).toBe('0,1');
    // The slice row of a lane, below the marks and above the ticks: only the slice is drawn there.
    const sliceY = (lane: number) => AXIS_H + lane * LANE_H + 12;
    const alpha = async (x: number, y: number) => (await pixel(p, x, y))[3]!;
    for (const [lane, from, to] of [
      [0, 1000, 3000],
      [0, 6000, 7000],
      [1, 2000, 4000],
    ] as const) {
      const x0 = xOf(w, from);
      const x1 = xOf(w, to);
      expect(await alpha(x0 + 3, sliceY(lane)), `lane ${lane} ${from}`).toBeGreaterThan(0);
      expect(await alpha(x1 - 3, sliceY(lane)), `lane ${lane} ${to}`).toBeGreaterThan(0);
      expect(await alpha(x0 - 3, sliceY(lane)), `before ${from}`).toBe(0);
      expect(await alpha(x1 + 3, sliceY(lane)), `after ${to}`).toBe(0);
    }
    // vCPU 1's mark at the mmu_lock race point (2,500) in the theme's red, its SRCU wait (8,000)
    // in yellow; nothing at the top of the lane between them.
    const markY = AXIS_H + LANE_H + 3;
    expect((await pixel(p, Math.floor(xOf(w, 2500)), markY)).slice(0, 3)).toEqual(hex(THEMES.dark['--vscode-charts-red']!));
    expect((await pixel(p, Math.floor(xOf(w, 8000)), markY)).slice(0, 3)).toEqual(hex(THEMES.dark['--vscode-charts-yellow']!));
    expect(await alpha(xOf(w, 5300), markY)).toBe(0);

    // A click inside vCPU 0's first slice, far from its events, selects its kvm_exit and reveals its line.
    await p.clearMessages();
    const box = (await p.page.$('[data-testid="timeline-lanes"]'))!;
    await box.click({ position: { x: xOf(w, 2600), y: sliceY(0) + 6 } });
    await detailsSeq(p, 0);
    expect((await p.waitForMessage('revealLine')).line).toBe(line);
    expect(await p.page.textContent('[data-testid="details-name"]')).toBe('kvm_exit');
    expect(await p.page.textContent('[data-testid="event-details"] dd[data-key="exit"]')).toBe('1,000 → 3,000 (2,000 cycles)');
    // The list follows the selection.
    expect(await p.page.$eval('[data-testid="timeline-list"] .tl-row[aria-selected="true"]', (r) => r.getAttribute('data-seq'))).toBe('0');
    await p.screenshot('timeline-lanes-synthetic-dark');
    expect(await p.cspViolations()).toEqual([]);
    expect(p.errors).toEqual([]);
    await p.close();
  });

  it('a two-vCPU example: two lanes with its race points; times in a lane never go backwards (every event of it visited by keyboard)', async () => {
    const events = race.result.trace.events;
    const p = await openTimeline(race, 'light');
    const lanes = await p.page.$$eval('.tl-lane', (bs) => bs.map((b) => ({ vcpu: b.getAttribute('data-vcpu'), races: b.querySelector('[data-races]')?.getAttribute('data-races') })));
    const racesOf = (v: number) => String(events.filter((e) => e.vcpu === v && e.name === 'vcpu_switch').length);
    expect(lanes).toEqual([
      { vcpu: '0', races: racesOf(0) },
      { vcpu: '1', races: racesOf(1) },
    ]);
    // The example's race: vCPU 1's update resumes while vCPU 0 stands at mmu_spte_get_lockless
    // (level 3) inside its lockless walk; the mark is drawn at that vcpu_switch's cycles in lane 0.
    const walkSwitch = events.find((e) => e.vcpu === 0 && e.name === 'vcpu_switch' && e.fields.point === RACE_POINTS.indexOf('mmu_spte_get_lockless'))!;
    expect(walkSwitch).toBeDefined();
    const w = await window_(p);
    const px = await pixel(p, Math.floor(xOf(w, walkSwitch.cycles)), AXIS_H + 3);
    expect(px.slice(0, 3)).toEqual(hex(THEMES.light['--vscode-charts-orange']!));

    // Keyboard: the lane 0 button selects its first event; Right walks the lane to its end.
    await p.page.focus('[data-testid="lane-0"]');
    await p.page.keyboard.press('Enter');
    const lane0 = events.filter((e) => e.vcpu === 0);
    await detailsSeq(p, lane0[0]!.seq);
    await p.page.focus('[data-testid="timeline-lanes"]');
    const visited: number[] = [lane0[0]!.seq];
    for (let k = 1; k < lane0.length; k++) {
      await p.page.keyboard.press('ArrowRight');
      visited.push(Number(await p.page.getAttribute('[data-testid="event-details"]', 'data-seq')));
    }
    expect(visited).toEqual(lane0.map((e) => e.seq));
    const bySeq = new Map(events.map((e) => [e.seq, e]));
    const times = visited.map((s) => bySeq.get(s)!.cycles);
    for (let k = 1; k < times.length; k++) expect(times[k]!, `event ${visited[k]}`).toBeGreaterThanOrEqual(times[k - 1]!);
    expect(await p.page.textContent('[data-testid="event-details"] dd[data-key="vCPU"]')).toBe('0');
    // Down: the nearest event in time of vCPU 1's lane.
    await p.page.keyboard.press('ArrowDown');
    await p.page.waitForFunction(() => document.querySelector('[data-testid="event-details"] dd[data-key="vCPU"]')?.textContent === '1');
    // + zooms in around the selection; 0 shows the whole run again.
    const before = await window_(p);
    await p.page.keyboard.press('+');
    await p.page.waitForFunction((t1) => Number(document.querySelector('[data-testid="timeline-lanes"]')?.getAttribute('data-t1')) !== t1, before.t1);
    const zoomed = await window_(p);
    expect(zoomed.t1 - zoomed.t0).toBeCloseTo((before.t1 - before.t0) / 2, 6);
    await p.page.keyboard.press('0');
    await p.page.waitForFunction((t1) => Number(document.querySelector('[data-testid="timeline-lanes"]')?.getAttribute('data-t1')) === t1, before.t1);
    await p.screenshot('timeline-lanes-race-light');

    // The editor's cursor line lights its events in the lanes: a bar above the slice row, where
    // nothing else is drawn. vCPU 1's first MMIO write is the scenario's line of `value: 0x80`.
    const writeLine = exampleText(RACE).split('\n').findIndex((l) => l.includes('value: 0x80')) + 1;
    const lit = events.find((e) => e.vcpu === 1 && e.line === writeLine && e.name === 'kvm_mmu_get_page')!;
    const fitW = await window_(p);
    const litY = AXIS_H + LANE_H + 8;
    expect((await pixel(p, xOf(fitW, lit.cycles), litY))[3]).toBe(0);
    const frames = await p.page.getAttribute('[data-testid="timeline-lanes"]', 'data-frames');
    await p.post({ type: 'highlightLine', line: writeLine });
    await p.page.waitForFunction((f) => document.querySelector('[data-testid="timeline-lanes"]')?.getAttribute('data-frames') !== f, frames);
    expect((await pixel(p, xOf(fitW, lit.cycles), litY))[3]).toBeGreaterThan(0);
    expect(p.errors).toEqual([]);
    await p.close();
  });

  it('the editor\'s cursor line pans the zoomed-in lanes to its first event when none is in view', async () => {
    const events = race.result.trace.events;
    const p = await openTimeline(race);
    for (let k = 0; k < 5; k++) {
      const frames = await p.page.getAttribute('[data-testid="timeline-lanes"]', 'data-frames');
      await p.page.click('[data-testid="zoom-in"]');
      await p.page.waitForFunction((f) => document.querySelector('[data-testid="timeline-lanes"]')?.getAttribute('data-frames') !== f, frames);
    }
    // vCPU 1's first MMIO write (`value: 0x80`): its events end at its kvm_entry.
    const writeLine = exampleText(RACE).split('\n').findIndex((l) => l.includes('value: 0x80')) + 1;
    const ofLine = events.filter((e) => e.line === writeLine);
    const first = Math.min(...ofLine.map((e) => e.cycles));
    const w = await window_(p);
    expect(ofLine.some((e) => e.cycles >= w.t0 && e.cycles <= w.t1)).toBe(false);
    await p.post({ type: 'highlightLine', line: writeLine });
    await p.page.waitForFunction((t) => {
      const c = document.querySelector('[data-testid="timeline-lanes"]')!;
      return Number(c.getAttribute('data-t0')) <= t && Number(c.getAttribute('data-t1')) >= t;
    }, first);
    const after = await window_(p);
    expect(after.t1 - after.t0).toBeCloseTo(w.t1 - w.t0, 6); // panned, not zoomed
    expect(p.errors).toEqual([]);
    await p.close();
  });

  it('the details pane shows every field of the selected event in a 520 px panel, in view, without scrolling sideways', async () => {
    const events = race.result.trace.events;
    // The event with the most fields (kvm_emulate_insn, vcpu_match_mmio, kvm_mmio: four).
    const ev = events.reduce((a, b) => (Object.keys(b.fields).length > Object.keys(a.fields).length ? b : a));
    const p = await openTimeline(race, 'dark', { width: 520, height: 800 }, ev.seq);
    await detailsSeq(p, ev.seq);
    const pane = await p.page.$eval('[data-testid="event-details"]', (el) => ({
      scroll: el.scrollWidth,
      client: el.clientWidth,
      bottom: el.getBoundingClientRect().bottom,
      right: el.getBoundingClientRect().right,
      fields: Object.fromEntries(Array.from(el.querySelectorAll('dd[data-field]'), (d) => [d.getAttribute('data-field'), d.textContent])),
      keys: Object.fromEntries(Array.from(el.querySelectorAll('dd[data-key]'), (d) => [d.getAttribute('data-key'), d.textContent])),
    }));
    expect(pane.scroll).toBeLessThanOrEqual(pane.client);
    expect(pane.bottom).toBeLessThanOrEqual(800);
    expect(pane.right).toBeLessThanOrEqual(520);
    // A page event's role word is followed by its decoding (checked in shadow-notrap.test.ts).
    if (typeof pane.fields.role === 'string') pane.fields.role = pane.fields.role.replace(/ \(level=.*\)$/, '');
    expect(pane.fields).toEqual(Object.fromEntries(Object.entries(ev.fields).map(([k, v]) => [k, String(v)])));
    expect(pane.keys.vCPU).toBe(String(ev.vcpu));
    expect(pane.keys.time).toBe(`${ev.cycles.toLocaleString('en-US')} cycles`);
    expect(pane.keys.line).toBe(String(ev.line));
    expect(pane.keys.class).toBe(ev.class);
    expect(await p.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
    await p.screenshot('timeline-details-narrow-dark');
    expect(p.errors).toEqual([]);
    await p.close();
  });

  it('filters by event name; probes are marked apart from tracepoints and can be hidden', async () => {
    const events = race.result.trace.events;
    const p = await openTimeline(race);
    const shown = () => p.page.getAttribute('[data-testid="timeline-count"]', 'data-shown');
    // Probes: the list marks their names, the legend explains the mark.
    const probeRow = events.find((e) => e.name === 'mmu_spte_get_lockless')!;
    const tpRow = events.find((e) => e.name === 'kvm_exit')!;
    expect(await p.page.textContent('[data-testid="timeline-legend"]')).toContain('probe (simulator only)');
    await p.page.click(`[data-testid="timeline-list"] .tl-row[data-seq="${tpRow.seq}"]`);
    await detailsSeq(p, tpRow.seq);
    expect(await p.page.textContent('[data-testid="details-kind"]')).toBe('tracepoint');
    await p.page.$eval('[data-testid="timeline-list"]', (el, y) => (el.scrollTop = y), probeRow.seq * 22);
    await p.page.click(`[data-testid="timeline-list"] .tl-row[data-seq="${probeRow.seq}"]`);
    await detailsSeq(p, probeRow.seq);
    expect(await p.page.textContent('[data-testid="details-kind"]')).toBe('probe');
    expect(await p.page.$eval(`[data-testid="timeline-list"] .tl-row[data-seq="${probeRow.seq}"]`, (r) => r.children[4]!.classList.contains('probe'))).toBe(true);

    // The name filter: words, any of which the name contains.
    await p.page.fill('[data-testid="filter-name"] >> input', 'kvm_exit, kvm_entry');
    const exitsEntries = events.filter((e) => e.name === 'kvm_exit' || e.name === 'kvm_entry').length;
    await p.page.waitForFunction((n) => document.querySelector('[data-testid="timeline-count"]')?.getAttribute('data-shown') === String(n), exitsEntries);
    const names = await p.page.$$eval('[data-testid="timeline-list"] .tl-row[data-seq]', (rs) => rs.map((r) => r.children[4]?.textContent));
    expect(new Set(names)).toEqual(new Set(['kvm_exit', 'kvm_entry']));
    expect((await p.state())?.timeline.name).toBe('kvm_exit, kvm_entry');
    // Without their race points the lanes show none.
    expect(await p.page.$$eval('.tl-lane [data-races]', (ms) => ms.map((m) => m.getAttribute('data-races')))).toEqual(['0', '0']);
    await p.page.fill('[data-testid="filter-name"] >> input', '');
    await p.page.waitForFunction((n) => document.querySelector('[data-testid="timeline-count"]')?.getAttribute('data-shown') === String(n), events.length);

    // Hide the probes: only the kernel's tracepoints stay.
    await p.page.click('[data-testid="filter-probes"]');
    const tracepoints = events.filter((e) => !PROBES.has(e.name)).length;
    expect(tracepoints).toBeLessThan(events.length);
    await p.page.waitForFunction((n) => document.querySelector('[data-testid="timeline-count"]')?.getAttribute('data-shown') === String(n), tracepoints);
    expect((await p.state())?.timeline.probes).toBe(false);
    expect(await shown()).toBe(String(tracepoints));
    expect(await p.page.$$eval('.tl-lane [data-races]', (ms) => ms.map((m) => m.getAttribute('data-races')))).toEqual(['0', '0']);
    expect(p.errors).toEqual([]);
    await p.close();
  });

  it('10,000 events: renders and zooms without errors, drawing a bounded number of primitives', async () => {
    const text = exampleText(DOORBELL);
    const run = panelRun(text, 'ten-thousand.mmio.yaml', { traceCapacity: 10_000 });
    expect(run.result.trace.events).toHaveLength(10_000);
    const p = await openTimeline(run);
    const fit = await window_(p);
    // At most one primitive per pixel column and kind (ticks, probe ticks, marks, highlight) plus slices and grid.
    const bound = 6 * fit.width + 100;
    expect(fit.drawn).toBeGreaterThan(0);
    expect(fit.drawn).toBeLessThan(bound);
    expect(fit.drawn).toBeLessThan(10_000);
    const ms: number[] = [Number(await p.page.getAttribute('[data-testid="timeline-lanes"]', 'data-draw-ms'))];
    for (let k = 0; k < 6; k++) {
      const frames = await p.page.getAttribute('[data-testid="timeline-lanes"]', 'data-frames');
      await p.page.click('[data-testid="zoom-in"]');
      await p.page.waitForFunction((f) => document.querySelector('[data-testid="timeline-lanes"]')?.getAttribute('data-frames') !== f, frames);
      const w = await window_(p);
      expect(w.drawn).toBeLessThan(bound);
      ms.push(Number(await p.page.getAttribute('[data-testid="timeline-lanes"]', 'data-draw-ms')));
    }
    const zoomed = await window_(p);
    expect(zoomed.t1 - zoomed.t0).toBeCloseTo((fit.t1 - fit.t0) / 64, 3);
    // The wheel zooms out around the pointer.
    const box = (await p.page.$('[data-testid="timeline-lanes"]'))!;
    await box.hover({ position: { x: 200, y: AXIS_H + 20 } });
    await p.page.mouse.wheel(0, 400);
    await p.page.waitForFunction((span) => {
      const c = document.querySelector('[data-testid="timeline-lanes"]')!;
      return Number(c.getAttribute('data-t1')) - Number(c.getAttribute('data-t0')) > span;
    }, zoomed.t1 - zoomed.t0);
    console.log(`timeline draw of 10,000 events: ${ms.map((m) => m.toFixed(1)).join(', ')} ms (fit, then 6 zoom steps)`);
    expect(Math.max(...ms)).toBeLessThan(100);
    await p.screenshot('timeline-lanes-10k-dark');
    expect(p.errors).toEqual([]);
    await p.close();
  });

  it('every theme: the lanes and the legend are drawn in the theme\'s colours; no CSP violation', async () => {
    for (const theme of ['dark', 'light', 'high-contrast'] as const) {
      const events = race.result.trace.events;
      const p = await openTimeline(race, theme, undefined, events.find((e) => e.name === 'kvm_exit')!.seq);
      const w = await window_(p);
      const exit = events.find((e) => e.vcpu === 1 && e.name === 'kvm_exit')!;
      const entry = events.find((e) => e.vcpu === 1 && e.name === 'kvm_entry' && e.seq > exit.seq)!;
      // A slice wider than a few pixels: its inside is drawn over the page's background.
      expect(xOf(w, entry.cycles) - xOf(w, exit.cycles)).toBeGreaterThan(6);
      expect((await pixel(p, (xOf(w, exit.cycles) + xOf(w, entry.cycles)) / 2, AXIS_H + LANE_H + 12))[3]).toBeGreaterThan(0);
      const swatch = await p.page.$eval('.tl-swatch.srcu', (s) => getComputedStyle(s).backgroundColor);
      const rgb = hex(THEMES[theme]['--vscode-charts-yellow']!);
      expect(swatch).toBe(`rgb(${rgb.join(', ')})`);
      await p.screenshot(`timeline-lanes-${theme}`);
      expect(await p.cspViolations()).toEqual([]);
      expect(p.errors).toEqual([]);
      await p.close();
    }
  });
});
