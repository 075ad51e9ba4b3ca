// Shadow tables under v3.0 with bypass_guest_pf (Chromium): the notrap entries, which are 0, are
// shown and marked, and the selected page's role is decoded field by field. Expected values come
// from the kernel text and the example's guest page tables:
//
// * 3.0.1 vmx.c:4680-4681 `if (bypass_guest_pf) kvm_mmu_set_nonpresent_ptes(~0xffeull, 0ull);`
//   (mmu.c:205-208 sets shadow_trap_nonpresent_pte and shadow_notrap_nonpresent_pte): notrap is 0.
// * paging_tmpl.h:777-781 FNAME(prefetch_page), for each entry of a new indirect shadow page:
//   `if (r || is_present_gpte(pt[j])) sp->spt[i+j] = shadow_trap_nonpresent_pte;
//    else sp->spt[i+j] = shadow_notrap_nonpresent_pte;`
//   so the root's notrap entries are exactly the guest PML4's absent entries.
// * asm/kvm_host.h:196-209 (3.0.1) union kvm_mmu_page_role: level:4 cr4_pae:1 quadrant:2
//   pad_for_nice_hex_output:6 direct:1 access:3 invalid:1 nxe:1 cr0_wp:1 (no smep_andnot_wp);
//   mmu.c:2534-2535 the root is `kvm_mmu_get_page(vcpu, root_gfn, 0, PT64_ROOT_LEVEL, 0, ACC_ALL, NULL)`;
//   mmu.c:3038-3039 `base_role.cr4_pae = !!is_pae(vcpu); base_role.cr0_wp = is_write_protection(vcpu);`.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserTestsEnabled, PanelHarness, type PanelPage } from './harness';
import { examplePanelRun, exampleText } from './fixtures';
import type { PanelRun } from '../../shared/protocol';

const enabled = browserTestsEnabled();
const BYPASS = 'examples/bypass-guest-pf.mmio.yaml';

/** PML4 index of a canonical 48-bit address: bits 39-47. */
const pml4 = (gva: bigint) => Number((gva >> 39n) & 511n);

/** Runs of consecutive indexes 0..511 not in `present`: [first, last]. */
function absentRuns(present: ReadonlySet<number>): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < 512; i++) {
    if (present.has(i)) continue;
    const last = out[out.length - 1];
    if (last && last[1] === i - 1) last[1] = i;
    else out.push([i, i]);
  }
  return out;
}

describe.runIf(enabled)('Shadow tables: notrap entries and decoded roles under v3.0 bypass_guest_pf (Chromium)', { timeout: 90_000 }, () => {
  let harness: PanelHarness;
  let run: PanelRun;
  beforeAll(async () => {
    harness = await PanelHarness.start();
    run = examplePanelRun(BYPASS);
  }, 60_000);
  afterAll(async () => {
    await harness?.close();
  });

  async function openShadow(width: number): Promise<PanelPage> {
    const p = await harness.open(width < 800 ? 'dark' : 'light', null, { width, height: 1000 });
    await p.post({ type: 'run', run });
    await p.page.waitForSelector('[data-testid="scenario-name"]');
    await p.showView('shadow');
    await p.page.waitForSelector('[data-table="sptes"]');
    return p;
  }

  it('the run is v3.0 shadow paging with bypass_guest_pf', () => {
    expect([run.result.kernel, run.result.tdp, run.result.bypass_guest_pf]).toEqual(['v3.0', false, true]);
  });

  for (const width of [400, 1400]) {
    it(`the root's notrap entries are the guest PML4's absent ones, shown and marked (${width} px)`, async () => {
      const p = await openShadow(width);
      // The root is selected first. Present in the example's guest PML4: its mappings (0xffff88...,
      // 0xffffc9..., 0x400000 and 0x401000), the kernel code at 0xffffffff81000000 and its user alias
      // at 0x7ff000000000 (guest/page_tables.ts DEFAULT_CODE_VPN, USER_CODE_VPN).
      const text = exampleText(BYPASS);
      const gvas = [...text.matchAll(/gva: (0x[0-9a-f]+)/g)].map((m) => BigInt(m[1]!));
      expect(gvas).toHaveLength(4);
      const present = new Set([...gvas, 0xffffffff81000000n, 0x7ff000000000n].map(pml4));
      expect([...present].sort((a, b) => a - b)).toEqual([0, 255, 272, 402, 511]);
      const root = run.result.shadow_tables.pages.find((pg) => pg.rootOf.includes(0))!;
      expect(await p.page.textContent('[data-table="sptes"] h3')).toContain(`Entries of page ${root.id} (level 4`);
      const notrap = await p.page.$$eval('[data-table="sptes"] vscode-table-row[data-kind="notrap"]', (trs) =>
        trs.map((tr) => ({ first: Number(tr.getAttribute('data-index')), last: Number(tr.getAttribute('data-last')), cells: Array.from(tr.querySelectorAll('vscode-table-cell'), (td) => (td.textContent ?? '').trim()) })),
      );
      expect(notrap.map((r) => [r.first, r.last])).toEqual(absentRuns(present));
      for (const r of notrap) {
        expect(r.cells[0]).toBe(r.first === r.last ? String(r.first) : `${r.first}-${r.last}`);
        expect(r.cells[1]).toBe('0x0');
        expect(r.cells[2]).toBe('notrap');
        expect(r.cells[3]).toContain('#PF goes to the guest, no exit');
      }
      // Marked apart from the other rows (its own colour), and explained.
      const colours = await p.page.evaluate(() => {
        const c = (k: string) => {
          const el = document.querySelector(`[data-table="sptes"] vscode-table-row[data-kind="${k}"]`);
          return el ? getComputedStyle(el).color : null;
        };
        return { notrap: c('notrap'), other: c('nonleaf') ?? c('trap') };
      });
      expect(colours.notrap).not.toBe(colours.other);
      expect(await p.page.textContent('[data-testid="sptes-note"]')).toContain("'notrap' entries (0, P clear)");
      // The ruler of a notrap entry: P is 0.
      await p.page.click('[data-table="sptes"] vscode-table-row[data-kind="notrap"] >> nth=0');
      await p.page.waitForFunction(() => document.querySelector('[data-testid="bit-ruler"]')?.getAttribute('data-kind') === 'notrap');
      expect(await p.page.$eval('[data-testid="bit-ruler"] [data-field="P"] .bit-value', (e) => e.textContent)).toBe('0x0');
      await p.page.locator('[data-table="sptes"]').scrollIntoViewIfNeeded();
      await p.screenshot(`shadow-notrap-${width}`);
      expect(await p.cspViolations()).toEqual([]);
      expect(p.errors).toEqual([]);
      await p.close();
    });
  }

  it('the root\'s role decoded in 3.0.1\'s layout, not as a hex word', async () => {
    const p = await openShadow(1400);
    const fields = await p.page.$$eval('[data-testid="page-role"] li[data-role-field]', (lis) =>
      lis.map((li) => [li.getAttribute('data-role-field'), (li.querySelector('.role-value')?.textContent ?? '').trim(), li.getAttribute('title')]),
    );
    // The example's guest: cr0_wp: true, efer_nx: true, 4-level paging (PAE on).
    expect(fields.map(([n, v]) => [n, v])).toEqual([
      ['level', '4'],
      ['cr4_pae', '1'],
      ['quadrant', '0'],
      ['direct', '0'],
      ['access', 'wux'],
      ['invalid', '0'],
      ['nxe', '1'],
      ['cr0_wp', '1'],
    ]);
    // Bit positions from the quoted layout: access is bits 14-16 (4 + 1 + 2 + 6 + 1 = 14).
    expect(fields.find(([n]) => n === 'access')![2]).toBe('access: bits 14-16, value 7');
    expect(fields.find(([n]) => n === 'cr0_wp')![2]).toBe('cr0_wp: bit 19, value 1');
    // The word these fields make is the one the run reports.
    const root = run.result.shadow_tables.pages.find((pg) => pg.rootOf.includes(0))!;
    expect(root.role).toBe(`0x${(4 | (1 << 4) | (7 << 14) | (1 << 18) | (1 << 19)).toString(16)}`);
    // The tree shows the page's role decoded (in its tooltip), never "role 0x…" as its only form.
    const item = p.page.locator(`[data-testid="shadow-tree"] vscode-tree-item[data-page-id="${root.id}"]`).first();
    expect(await item.getAttribute('title')).toContain('role level=4 cr4_pae=1 quadrant=0 direct=0 access=wux invalid=0 nxe=1 cr0_wp=1');
    expect(await item.locator('.page-meta').first().textContent()).not.toMatch(/role 0x/);
    await p.page.locator('[data-testid="page-role"]').scrollIntoViewIfNeeded();
    await p.screenshot('shadow-role-1400');
    await p.close();
  });

  it('the timeline\'s kvm_mmu_get_page events show their role decoded too', async () => {
    const p = await openShadow(1400);
    const ev = run.result.trace.events.find((e) => e.name === 'kvm_mmu_get_page')!;
    const word = Number(ev.fields.role);
    // Offsets from the quoted 3.0.1 layout: level 0-3, cr4_pae 4, quadrant 5-6, (pad 7-12), direct 13,
    // access 14-16, invalid 17, nxe 18, cr0_wp 19.
    const bits = (lo: number, w: number) => (word >>> lo) & ((1 << w) - 1);
    const access = ['---', '--x', 'w--', 'w-x', '-u-', '-ux', 'wu-', 'wux'][bits(14, 3)];
    const expected = `level=${bits(0, 4)} cr4_pae=${bits(4, 1)} quadrant=${bits(5, 2)} direct=${bits(13, 1)} access=${access} invalid=${bits(17, 1)} nxe=${bits(18, 1)} cr0_wp=${bits(19, 1)}`;
    await p.showView('timeline');
    await p.page.fill('[data-testid="filter-name"] >> input', 'kvm_mmu_get_page');
    await p.page.waitForFunction((seq) => document.querySelector(`[data-testid="timeline-list"] .tl-row[data-seq="${seq}"]`) !== null && document.querySelector('[data-testid="timeline-count"]')?.getAttribute('data-shown') !== document.querySelector('[data-testid="timeline-count"]')?.getAttribute('data-total'), ev.seq);
    await p.page.click(`[data-testid="timeline-list"] .tl-row[data-seq="${ev.seq}"]`);
    await p.page.waitForFunction((seq) => document.querySelector('[data-testid="event-details"]')?.getAttribute('data-seq') === String(seq), ev.seq);
    expect(await p.page.textContent('[data-testid="event-details"] dd[data-field="role"]')).toBe(`${ev.fields.role} (${expected})`);
    await p.close();
  });
});
