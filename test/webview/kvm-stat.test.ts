// The Summary view's "MMIO accesses" table (perf kvm stat --event=mmio) in Chromium, at 520 px.
// Expected values: the doorbell's 1000 writes to gpa 0xfebf0050 (its device at 0xfebf0000 + 0x50),
// each timed kvm_mmio(WRITE) -> kvm_entry = vmm_round_trip (the doorbell NIC declares no cost), 11,600 cycles at 2.93 GHz = 3.96 µs
// (westmere-2011, docs/cost-model.md); an in-kernel write is device_kernel, 600 cycles = 0.20 µs.
// Row order and key format from perf (docs/kernel-paths.md §15.3).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserTestsEnabled, PanelHarness, type PanelPage } from './harness';
import { examplePanelRun, panelRun } from './fixtures';
import { vmVcpus, NIC, APIC } from '../helpers/scenario';
import type { PanelRun } from '../../shared/protocol';

const enabled = browserTestsEnabled();
const at = (base: string, off: number) => '0x' + (BigInt(base) + BigInt(off)).toString(16);
const step = (s: string) => `      - ${s}`;
const TWO_VCPUS = vmVcpus('v3.1', [
  [step(`{ write: ${at(NIC, 0x50)}, size: 4, value: 1 }`), step(`{ write: ${at(NIC, 0x50)}, size: 4, value: 1 }`), step(`{ read: ${at(APIC, 0x30)}, size: 4 }`)].join('\n'),
  [step(`{ read: ${at(NIC, 0x8)}, size: 4 }`), step(`{ read: ${at(NIC, 0x8)}, size: 4 }`), step(`{ write: ${at(APIC, 0xb0)}, size: 4, value: 0 }`), step(`{ write: ${at(APIC, 0xb0)}, size: 4, value: 0 }`)].join('\n'),
]);

/** Cells (header and body) of the MMIO table whose text is cut short. */
async function cutCells(p: PanelPage): Promise<string[]> {
  return p.page.$$eval('[data-table="mmio"] vscode-table-cell, [data-table="mmio"] vscode-table-header-cell', (cells) =>
    cells
      .filter((c) => {
        // The text sits in the cell's shadow wrapper, which clips with an ellipsis.
        const w = c.shadowRoot?.querySelector('.wrapper') as HTMLElement | null;
        return w !== null && w.scrollWidth > w.clientWidth;
      })
      .map((c) => (c.textContent ?? '').trim()),
  );
}

async function rows(p: PanelPage): Promise<string[][]> {
  return p.page.$$eval('[data-table="mmio"] vscode-table-body vscode-table-row', (trs) =>
    trs.map((tr) => Array.from(tr.querySelectorAll('vscode-table-cell'), (td) => (td.textContent ?? '').trim())),
  );
}

describe.runIf(enabled)('Summary: MMIO accesses (Chromium)', { timeout: 90_000 }, () => {
  let harness: PanelHarness;
  let doorbell: PanelRun;
  let two: PanelRun;
  beforeAll(async () => {
    harness = await PanelHarness.start();
    doorbell = examplePanelRun('examples/doorbell.mmio.yaml');
    two = panelRun(TWO_VCPUS, 'two-vcpus.mmio.yaml');
  }, 60_000);
  afterAll(async () => {
    await harness?.close();
  });

  async function open(run: PanelRun): Promise<PanelPage> {
    const p = await harness.open('dark', null, { width: 520, height: 800 });
    await p.post({ type: 'run', run });
    await p.page.waitForSelector('[data-table="mmio"]');
    return p;
  }

  it('the doorbell: one row, 0xfebf0050:W, 1000 samples of 3.96 µs; fits 520 px; copies as CSV and Markdown', async () => {
    const p = await open(doorbell);
    expect(await rows(p)).toEqual([['0xfebf0050:W', '1,000', '100.00%', '100.00%', '3.96', '3.96', '3.96 ± 0.00%']]);
    expect(await p.page.textContent('[data-testid="mmio-totals"]')).toBe('Total Samples: 1,000, Total events handled time: 3959.04 µs.');
    // Nothing scrolls sideways, and the table's right edge is inside the panel.
    expect(await p.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
    const box = await p.page.$eval('[data-table="mmio"] vscode-table', (t) => t.getBoundingClientRect().right);
    expect(box).toBeLessThanOrEqual(520);
    expect(await cutCells(p)).toEqual([]);
    await p.page.click('[data-table="mmio"] [data-copy="csv"]');
    const csv = await p.waitForMessage('copy');
    expect(csv.text.split(/\r?\n/)[1]).toBe('0xfebf0050:W,"1,000",100.00%,100.00%,3.96,3.96,3.96 ± 0.00%');
    await p.page.click('[data-table="mmio"] [data-copy="markdown"]');
    const md = await p.waitForMessage('copy');
    expect(md.format).toBe('markdown');
    expect(md.text).toContain('| 0xfebf0050:W |');
    await p.page.$eval('[data-testid="mmio-stats"]', (el) => el.scrollIntoView());
    await p.screenshot('summary-mmio-doorbell-520');
    expect(await p.cspViolations()).toEqual([]);
    expect(p.errors).toEqual([]);
    await p.close();
  });

  it('two vCPUs: all, then vCPU 1 only, chosen with the selector', async () => {
    const p = await open(two);
    expect(await p.page.textContent('[data-table="mmio"] h3')).toBe('MMIO accesses (all vCPUs), times in µs');
    const all = await rows(p);
    expect(all.map((r) => r[0]).sort()).toEqual(['0xfebf0008:R', '0xfebf0050:W', '0xfee00030:R', '0xfee000b0:W']);
    // Choose "vCPU 1" with the keyboard, as a person would: open the list, two down, Enter.
    await p.page.$eval('[data-testid="mmio-stats"]', (el) => el.scrollIntoView());
    await p.page.click('[data-testid="mmio-vcpu"]');
    await p.page.keyboard.press('ArrowDown');
    await p.page.keyboard.press('ArrowDown');
    await p.page.keyboard.press('Enter');
    await p.page.waitForFunction(() => document.querySelector('[data-table="mmio"] h3')?.textContent === 'MMIO accesses (vCPU 1), times in µs');
    const v1 = await rows(p);
    // Equal samples (2 and 2): perf's order, bucket gpa & 4095: 0x008 before 0x0b0.
    expect(v1.map((r) => r[0])).toEqual(['0xfebf0008:R', '0xfee000b0:W']);
    expect(v1[1]!.slice(1)).toEqual(['2', '50.00%', v1[1]![3], '0.20', '0.20', '0.20 ± 0.00%']);
    expect(await p.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
    expect(await cutCells(p)).toEqual([]);
    await p.screenshot('summary-mmio-vcpu1-520');
    expect(p.errors).toEqual([]);
    await p.close();
  });
});
