// Unsync shadow pages (oos_shadow = 1, the 3.0.1 / 3.1 default) and the shadow-MMU behaviours around
// them. Expected values come from the release sources (mmu.c and paging_tmpl.h of 3.0.1 and 3.1.10);
// each test names the lines.
import { describe, it, expect } from 'vitest';
import { run, machine } from './helpers/scenario';
import { entryAddress } from '../simulator/guest/page_tables';
import type { RunResult } from '../simulator/run/result';
import { S } from '../simulator/trace/stats';

const PAGE = '0x8000000018';

function vm(kernel: 'v3.0' | 'v3.1', workload: string, opts: { oos?: boolean; bypass?: boolean; leaf?: string } = {}): string {
  const mmu = [`tdp: false`, opts.oos === false ? 'oos_shadow: false' : '', opts.bypass === false ? 'bypass_guest_pf: false' : ''].filter(Boolean).join(', ');
  return `kernel: ${kernel}
mmu: { ${mmu} }
memslots:
  - { slot: 0, gpa: 0x0, size: 64M }
devices:
  - { name: dev, gpa: 0xfebf0000, size: 4K, handler: kernel }
guest:
  cpu: { cr0_wp: true }
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x0, size: 64M, page: 2M, flags: "p w a d" }
    - { gva: 0x8000000000, gpa: 0x2000000, size: 4K, page: 4K, flags: "${opts.leaf ?? 'p w a d'}", pde: "p w a", pdpte: "p w a", pml4e: "p w a" }
    - { gva: 0xc000000000, gpa: 0xfebf0000, size: 4K, page: 4K, flags: "${opts.leaf ?? 'p w a d'}", pde: "p w a", pdpte: "p w a", pml4e: "p w a" }
workload:
${workload}
`;
}

const results = (r: RunResult) => r.accesses!.filter((a) => a.op !== 'write' || !a.gva.startsWith('0xffff88')).map((a) => `${a.op} ${a.result}${a.error_code ? ' ' + a.error_code : ''}`);
const count = (r: RunResult, name: string) => r.trace.events.filter((e) => e.name === name).length;

describe('oos_shadow = 1: a CR3 load syncs the unsync pages below the root', () => {
  it('a PTE cleared without INVLPG is seen after MOV CR3 (same value): kvm_mmu_sync_roots -> mmu_sync_children', () => {
    const w = `  - { read: ${PAGE}, size: 4 }\n  - { pte: ${PAGE}, level: 1, flags: "a d" }\n  - { read: ${PAGE}, size: 4 }\n  - { cr3: 0 }\n  - { read: ${PAGE}, size: 4 }`;
    const r = run(vm('v3.1', w), { accesses: true, traceCapacity: 100_000 });
    // Before the CR3 load the unsync page still maps the page (a stale translation, as a TLB may
    // keep); kvm_set_cr3 with the same CR3 runs kvm_mmu_sync_roots, and the read faults (P = 0).
    expect(results(r)).toEqual(['read ok', 'read ok', 'read guest-fault 0x0']);
    // __kvm_unsync_page: trace_kvm_mmu_unsync_page, ++mmu_unsync; kvm_unlink_unsync_page:
    // trace_kvm_mmu_sync_page, --mmu_unsync.
    expect(count(r, 'kvm_mmu_unsync_page')).toBe(1);
    expect(count(r, 'kvm_mmu_sync_page')).toBe(1);
    expect(r.stats.mmu_unsync).toBe(0);
    // FNAME(sync_page): the page's only SPTE maps a gPTE that is no longer present, so
    // prefetch_invalid_gpte drops it, nr_present stays 0 and `return !nr_present;` makes
    // __kvm_sync_page zap the page (kvm_mmu_prepare_zap_page: ++mmu_shadow_zapped).
    expect(r.stats.mmu_shadow_zapped).toBe(1);
  });

  it('a PTE made read-only is synced with W cleared: set_spte with can_unsync = 0 keeps the page', () => {
    const w = `  - { write: ${PAGE}, size: 4, value: 1 }\n  - { pte: ${PAGE}, level: 1, flags: "p a d" }\n  - { write: ${PAGE}, size: 4, value: 2 }\n  - { cr3: 0 }\n  - { write: ${PAGE}, size: 4, value: 3 }`;
    const r = run(vm('v3.1', w), { accesses: true });
    expect(results(r)).toEqual(['write ok', 'write ok', 'write guest-fault 0x3']);
    // nr_present = 1: no zap; the sync costs one kvm_read_guest_atomic per SPTE in use.
    expect(r.stats.mmu_shadow_zapped).toBe(0);
    expect(r.stats.mmu_unsync).toBe(0);
  });

  it('INVLPG of the page re-reads just that gPTE; the page stays unsync', () => {
    const w = `  - { read: ${PAGE}, size: 4 }\n  - { pte: ${PAGE}, level: 1, flags: "a d" }\n  - { invlpg: ${PAGE} }\n  - { read: ${PAGE}, size: 4 }`;
    const r = run(vm('v3.1', w), { accesses: true });
    expect(results(r)).toEqual(['read ok', 'read guest-fault 0x0']);
    // FNAME(invlpg) -> kvm_mmu_pte_write(vcpu, pte_gpa, NULL, ...): ++mmu_pte_write; the new gPTE
    // is not present (gentry != 0: A and D are set), so mmu_pte_write_new_pte runs
    // (++mmu_pte_updated) and update_pte drops the SPTE. Nothing syncs the page.
    expect(r.stats.mmu_pte_write).toBe(1);
    expect(r.stats.mmu_pte_updated).toBe(1);
    expect(r.stats.mmu_unsync).toBe(1);
    expect(count(r, 'kvm_mmu_sync_page')).toBe(0);
  });

  it('a zap takes the unsync state with it (kvm_mmu_prepare_zap_page -> kvm_unlink_unsync_page)', () => {
    const w = `  - { read: ${PAGE}, size: 4 }\n  - { pte: ${PAGE}, level: 1, flags: "p w a d" }\n  - { memslot: add, slot: 1, gpa: 0x10000000, size: 1M }`;
    const r = run(vm('v3.1', w));
    // v3.1 __kvm_set_memory_region: `if (npages && old.base_gfn != ...) kvm_arch_flush_shadow(kvm);`
    // -> kvm_mmu_zap_all: every page goes, the unsync one with its unsync state.
    expect(count(r, 'kvm_mmu_unsync_page')).toBe(1);
    expect(r.stats.mmu_unsync).toBe(0);
    // The vCPU's root is still in use: kvm_mmu_prepare_zap_page keeps it on active_mmu_pages
    // (`list_move(&sp->link, &kvm->arch.active_mmu_pages); kvm_reload_remote_mmus(kvm);`) until the
    // vCPU's next entry drops it; the run ends before that.
    expect(r.stats.shadow_pages).toBe(1);
  });
});

describe('v3.0 with bypass_guest_pf', () => {
  it('an emulated write of a not-present gPTE leaves notrap, so the next fault is delivered without an exit', () => {
    // oos_shadow = 0, so the PTE write is emulated: kvm_mmu_pte_write -> mmu_pte_write_zap_pte
    // writes shadow_trap_nonpresent_pte, then FNAME(update_pte) -> FNAME(prefetch_invalid_gpte):
    // `if (!is_present_gpte(gpte)) { if (!sp->unsync) nonpresent = shadow_notrap_nonpresent_pte;`
    // A not-present SPTE of 0 faults with P = 0, which PFEC_MASK = PFEC_MATCH = 1 does not match.
    const w = `  - { read: ${PAGE}, size: 4 }\n  - { pte: ${PAGE}, level: 1, flags: "a d" }\n  - { read: ${PAGE}, size: 4 }`;
    const r = run(vm('v3.0', w, { oos: false }), { accesses: true });
    expect(results(r)).toEqual(['read ok', 'read guest-fault 0x0']);
    expect(r.faults['wp-emulate']).toBe(1);
    expect(r.faults['guest-pf-direct']).toBe(1);
    expect(r.faults['guest-pf']).toBe(0);
  });

  it('unsync converts notrap to trap (__kvm_unsync_page -> mmu_convert_notrap)', () => {
    // The page table of PAGE has 511 absent entries: prefetch_page made them notrap. Once unsync,
    // they are trap, so a fault on one of them exits and KVM injects it (guest-pf).
    const w = `  - { read: ${PAGE}, size: 4 }\n  - { pte: ${PAGE}, level: 1, flags: "p w a d" }\n  - { read: 0x8000001018, size: 4 }`;
    const r = run(vm('v3.0', w), { accesses: true });
    expect(r.stats.mmu_unsync).toBe(1);
    expect(r.faults['guest-pf']).toBe(1);
    expect(r.faults['guest-pf-direct']).toBe(0);
  });
});

describe('MMIO under shadow paging (v3.1)', () => {
  it('a clean leaf caches access without W; a later write walks and sets D, as hardware would', () => {
    // walk_addr_generic: pte_access = pt_access & FNAME(gpte_access)(vcpu, pte, true), and
    // gpte_access drops W when `last && !is_dirty_gpte(gpte)`; handle_abnormal_pfn caches that access
    // and mark_mmio_spte stores it. The write then fails check_write_user_access in
    // vcpu_mmio_gva_to_gpa, so kvm_mmu_gva_to_gpa_write walks the guest tables and sets D.
    const w = `  - { read: 0xc000000000, size: 4 }\n  - { write: 0xc000000000, size: 4, value: 7 }`;
    const m = machine(vm('v3.1', w, { leaf: 'p w a' }), { accesses: true });
    m.run();
    const leaf = m.guest.ram.read64(entryAddress(m.guest.ram, m.guest.cr3s[0]!, 0xc000000000 / 4096, 1));
    expect(leaf.lo & 0x40).toBe(0x40);
    // Walks beyond the emulator's instruction fetches: the read's FNAME(walk_addr), and the write's
    // gva_to_gpa (the cached access lacks W). With W cached the write would not walk at all.
    const st = m.kvm.stats;
    expect(st[S.guest_walks]! - st[S.emulator_fetches]!).toBe(2);
  });
});

describe('kvm_mmu_zap_all (3.0.1 and 3.1.10 mmu.c)', () => {
  it('a root still in use moves to the head of active_mmu_pages and is prepare-zapped again at every restart', () => {
    // `restart: list_for_each_entry_safe(sp, node, &kvm->arch.active_mmu_pages, link) if
    // (kvm_mmu_prepare_zap_page(kvm, sp, &invalid_list)) goto restart;` with new pages added at the
    // head (kvm_mmu_alloc_page: list_add), and a page still used as a root `list_move`d back to the
    // head with 0 returned. So the in-use root (space 1's) is zapped once when the newest-first walk
    // reaches it, and again after each of the restarts that every older page's zap causes.
    const yaml = `kernel: v3.1
mmu: { tdp: false }
memslots:
  - { slot: 0, gpa: 0x0, size: 64M }
guest:
  mappings:
    - { gva: 0x8000000000, gpa: 0x2000000, size: 4K, page: 4K, flags: "p w a d", pde: "p w a", pdpte: "p w a", pml4e: "p w a", space: 0 }
    - { gva: 0x8000000000, gpa: 0x2001000, size: 4K, page: 4K, flags: "p w a d", pde: "p w a", pdpte: "p w a", pml4e: "p w a", space: 1 }
workload:
  - { read: 0x8000000018, size: 4 }
  - { cr3: 1 }
  - { read: 0x8000000018, size: 4 }
  - { memslot: add, slot: 1, gpa: 0x10000000, size: 1M }
`;
    const r = run(yaml, { traceCapacity: 100_000 });
    const ev = r.trace.events;
    const created = ev.filter((e) => e.name === 'kvm_mmu_get_page' && e.fields.created === true);
    const zaps = ev.filter((e) => e.name === 'kvm_mmu_prepare_zap_page');
    const root1 = created.find((e) => e.fields.level === 4 && zaps.filter((z) => z.fields.gfn === e.fields.gfn).length > 1)!;
    expect(root1).toBeDefined();
    // Pages older than space 1's root: space 0's root, made at boot (before the trace starts), and
    // the pages the first read created.
    const older = 1 + created.filter((e) => ev.indexOf(e) < ev.indexOf(root1)).length;
    expect(older).toBe(4); // the root, and the L3, L2 and L1 pages of space 0's path
    expect(zaps.filter((z) => z.fields.gfn === root1.fields.gfn).length).toBe(1 + older);
    // Every page once (the boot root, not in the trace, too), plus the in-use root's 4 extra zaps: 12.
    expect(r.stats.mmu_shadow_zapped).toBe(12);
    expect(r.stats.mmu_shadow_zapped).toBe(created.length + 1 + older);
  });
});

describe('the shadow page role (asm/kvm_host.h union kvm_mmu_page_role)', () => {
  it('3.1.10 keys pages by smep_andnot_wp (SMEP with CR0.WP = 0); 3.0.1 has no such bit', () => {
    // kvm_init_shadow_mmu (3.1.10): `base_role.smep_andnot_wp = smep && !is_write_protection(vcpu);`,
    // the bit after cr0_wp (bit 20). 3.0.1's role ends at cr0_wp.
    const w = `  - { read: ${PAGE}, size: 4 }`;
    const roles = (k: 'v3.0' | 'v3.1') => {
      const m = machine(vm(k, w).replace('cpu: { cr0_wp: true }', 'cpu: { cr0_wp: false, cr4_smep: true }'));
      m.run();
      return [...m.kvm.sp.active].map((id) => m.kvm.sp.role[id]! & (1 << 20));
    };
    expect(roles('v3.1').every((r) => r !== 0)).toBe(true);
    expect(roles('v3.0').every((r) => r === 0)).toBe(true);
  });
});

describe('the shadow page budget (kvm_mmu_calculate_mmu_pages, kvm_mmu_free_some_pages)', () => {
  // asm/kvm_host.h: KVM_PERMILLE_MMU_PAGES 20, KVM_MIN_ALLOC_MMU_PAGES 64, KVM_MIN_FREE_MMU_PAGES 5,
  // KVM_REFILL_PAGES 25. n_max_mmu_pages = max(pages in memslots * 20 / 1000, 64).
  const spread = (n: number) => {
    const maps: string[] = [];
    const steps: string[] = [];
    for (let k = 1; k <= n; k++) {
      const gva = '0x' + (BigInt(k) << 39n).toString(16);
      maps.push(`    - { gva: ${gva}, gpa: ${'0x' + (k * 0x1000).toString(16)}, size: 4K, page: 4K, flags: "p w a d", pde: "p w a", pdpte: "p w a", pml4e: "p w a" }`);
      steps.push(`  - { read: ${gva}, size: 4 }`);
    }
    return `kernel: v3.1\nmmu: { tdp: false }\nmemslots:\n  - { slot: 0, gpa: 0x0, size: 1M }\nguest:\n  mappings:\n${maps.join('\n')}\nworkload:\n${steps.join('\n')}\n`;
  };

  it('n_max_mmu_pages: 20 per 1000 memslot pages, at least 64', () => {
    // 64M of RAM plus VMX's TSS slot (3 pages) without EPT: 16387 pages -> 327; with EPT the
    // identity page table adds one: 16388 -> 327.
    const big = machine(vm('v3.1', `  - { read: ${PAGE}, size: 4 }`));
    expect(big.kvm.sp.nMax).toBe(327);
    // 1M: 259 pages -> 5, so the floor of 64.
    expect(machine(spread(1)).kvm.sp.nMax).toBe(64);
  });

  it('faults keep at least KVM_MIN_FREE_MMU_PAGES free by recycling the oldest pages', () => {
    // 30 translations, each in its own PML4 slot: three pages each beside the root, 91 in all, over
    // a budget of 64. Without the budget every page would stay.
    const r = run(spread(30));
    expect(r.stats.mmu_recycled).toBeGreaterThan(0);
    // Before each fault maps (and before a root is allocated) at least 5 pages are free, and a fault
    // adds at most 3 (4-level tables): no more than 64 - 5 + 3 pages are ever in use.
    expect(r.stats.shadow_pages_max).toBeLessThanOrEqual(62);
    expect(run(spread(18)).stats.mmu_recycled).toBe(0); // 1 + 3 * 18 = 55 pages: never short
  });
});

describe('v3.0 mmu_pte_write_zap_pte', () => {
  it('a guest write of 0 over a notrap entry leaves trap, so the next fault exits', () => {
    // 3.0.1 mmu.c mmu_pte_write_zap_pte: `__set_spte(spte, shadow_trap_nonpresent_pte);` for every
    // entry written; gentry 0 means no mmu_pte_write_new_pte, so trap stays. The PTE at 0x8000001018
    // was absent when its table was shadowed (prefetch_page: notrap); the emulated write of 0 (oos_shadow
    // 0) makes it trap, so the read's #PF (P = 0) exits and KVM injects it (guest-pf, not -direct).
    const w = `  - { read: ${PAGE}, size: 4 }\n  - { pte: 0x8000001018, level: 1, flags: "", gpa: 0x0 }\n  - { read: 0x8000001018, size: 4 }`;
    const maps = vm('v3.0', w, { oos: false }).replace('mappings:\n', 'mappings:\n    - { gva: 0x8000001000, gpa: 0x2001000, size: 4K, page: 4K, flags: "", pde: "p w a", pdpte: "p w a", pml4e: "p w a" }\n');
    const r = run(maps, { accesses: true });
    expect(r.faults['wp-emulate']).toBe(1);
    expect(r.faults['guest-pf']).toBe(1);
    expect(r.faults['guest-pf-direct']).toBe(0);
  });
});
