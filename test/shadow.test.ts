// Shadow paging (ept=0): MMIO per era, bypass_guest_pf, write protection of guest page tables,
// INVLPG and CR3 switches. Counts follow kvm-mmio-reference §4.10 (S1-S3), which excludes the
// emulator's instruction fetch (one guest walk and one memslot hit in every era); so do these.
import { describe, it, expect } from 'vitest';
import { run, NIC, EXTRA, RAM } from './helpers/scenario';

/** The helper VM with shadow paging (and v3.0's bypass_guest_pf as given). */
function svm(kernel: 'v3.0' | 'v3.1', workload: string, opts: { bypass?: boolean; maxphyaddr?: number; oos?: boolean } = {}): string {
  const mmu = `mmu: { tdp: false${opts.bypass === false ? ', bypass_guest_pf: false' : ''}${opts.oos === false ? ', oos_shadow: false' : ''} }`;
  const host = opts.maxphyaddr ? `host: { maxphyaddr: ${opts.maxphyaddr} }\n` : '';
  return `kernel: ${kernel}
${host}${mmu}
memslots:
  - { slot: 0, gpa: 0x0, size: 64M }
devices:
  - { name: nic, gpa: 0xfebf0000, size: 4K, handler: userspace, registers: { 0x8: 0x1234 } }
  - { name: extra, gpa: 0xfebf1000, size: 4K, handler: kernel }
guest:
  cpu: { cr0_wp: true, efer_nx: true }
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x0, size: 64M, page: 2M, flags: "p w a d nx" }
    - { gva: 0xffffc90000000000, gpa: 0xfebf0000, size: 8K, flags: "p w a d pcd nx" }
workload:
${workload}
`;
}
const writes = (n: number, gva = NIC) => `  - repeat: ${n}\n    steps:\n      - { write: ${gva}, size: 4, value: 1 }`;
const reads = (n: number, gva = NIC) => `  - repeat: ${n}\n    steps:\n      - { read: ${gva}, size: 4 }`;

function perAccess(yaml: (n: number) => string, n = 10) {
  const a = run(yaml(n));
  const b = run(yaml(n + 1));
  const d = (k: string) => b.stats[k]! - a.stats[k]!;
  // Minus the instruction fetch: one walk and one lookup (a hit) per emulated instruction.
  const fetches = d('emulator_fetches');
  return { exits: d('exits'), walks: d('guest_walks') - fetches, misses: d('memslot_misses'), lookless: d('lockless_walks'), sptes: d('mmio_sptes_created') };
}

describe('shadow-mode MMIO', () => {
  it('v3.1: N accesses to one MMIO page give one slow fault and N-1 reserved-bit faults with no walk or search', () => {
    const n = 40;
    const r = run(svm('v3.1', writes(n)));
    expect(r.exits.EXCEPTION_NMI).toBe(n);
    expect(r.faults['mmio-slow']).toBe(1);
    expect(r.faults['mmio-cache']).toBe(n - 1);
    expect(r.stats.mmio_sptes_created).toBe(1);
    // S2: warm, same page: no guest walk, no memslot search, no lockless walk (the GVA cache hits)
    expect(perAccess((k) => svm('v3.1', writes(k)))).toEqual({ exits: 1, walks: 0, misses: 0, lookless: 0, sptes: 0 });
  });

  it('v3.1 cold (S1): one walk, one search miss, one MMIO SPTE; the emulator then hits the GVA cache', () => {
    const r = run(svm('v3.1', writes(1)));
    expect(r.stats.guest_walks - r.stats.emulator_fetches).toBe(1);
    // try_async_pf misses, then FNAME(fetch) calls FNAME(pte_prefetch) after the MMIO SPTE too (3.1
    // paging_tmpl.h: `mmu_set_spte(...); FNAME(pte_prefetch)(vcpu, gw, it.sptep);`): the next gPTE
    // of the 8K mapping (EXTRA) asks pte_prefetch_gfn_to_pfn -> gfn_to_memslot_dirty_bitmap, a
    // second miss, and `if (mmu_invalid_pfn(pfn)) { ...; break; }` ends the loop.
    expect(r.stats.memslot_misses).toBe(2);
    expect(r.stats.mmio_sptes_created).toBe(1);
    expect(r.trace.events.some((e) => e.name === 'vcpu_match_mmio' && e.fields.gpa_match === false)).toBe(true);
  });

  it('v3.1 alternating pages (S3): the lockless walk of the shadow table by GVA', () => {
    const body = (k: number) => `  - repeat: ${k}\n    steps:\n      - { write: ${NIC}, size: 4, value: 1 }\n      - { write: ${EXTRA}, size: 4, value: 1 }`;
    const r = run(svm('v3.1', body(20)));
    expect(r.faults['mmio-fast']).toBe(38);
    expect(r.stats.lockless_walks).toBe(38);
    // Two cold faults, each a try_async_pf miss plus a pte_prefetch miss on the other page (an MMIO
    // SPTE is not shadow-present, so pte_prefetch considers it: `if (is_shadow_present_pte(*spte))
    // continue;`), which breaks the loop.
    expect(r.stats.memslot_misses).toBe(4);
  });

  it('v3.0: every access walks the guest tables at least twice and misses in the memslots', () => {
    const w = perAccess((k) => svm('v3.0', writes(k)));
    expect(w.exits).toBe(1);
    expect(w.walks).toBe(2); // FNAME(walk_addr) in the fault, gva_to_gpa in the emulator
    expect(w.misses).toBe(2); // gfn_to_pfn, kvm_write_guest
    expect(w.sptes).toBe(0);
    const rd = perAccess((k) => svm('v3.0', reads(k)));
    expect(rd.walks).toBe(3); // plus kvm_read_guest_virt
    expect(rd.misses).toBe(2);
  });

  it('maxphyaddr 52: no reserved bit, so the "MMIO SPTE" is not present and every access takes the slow path', () => {
    const r = run(svm('v3.1', writes(10), { maxphyaddr: 52 }));
    expect(r.faults['mmio-slow']).toBe(10);
    expect(r.faults['mmio-cache'] + r.faults['mmio-fast']).toBe(0);
    expect(r.stats.mmio_sptes_created).toBe(10); // rewritten on every fault
  });
});

describe('bypass_guest_pf (v3.0)', () => {
  const unmapped = '0xffff888000000000'; // no guest mapping: the guest's PML4 entry is not present
  const body = `  - { read: ${RAM}, size: 8 }\n  - repeat: 10\n    steps:\n      - { read: ${unmapped}, size: 8 }`;

  it('on: a fault on a not-present guest entry is delivered without an exit once the shadow page exists', () => {
    const on = run(svm('v3.0', body), { accesses: true });
    expect(on.faults['guest-pf-direct']).toBe(10);
    expect(on.faults['guest-pf']).toBe(0);
    expect(on.accesses!.slice(1).every((a) => a.result === 'guest-fault' && a.error_code === '0x0')).toBe(true);
  });

  it('off: every guest fault exits and KVM injects it', () => {
    const off = run(svm('v3.0', body, { bypass: false }), { accesses: true });
    expect(off.faults['guest-pf']).toBe(10);
    expect(off.stats.pf_guest).toBe(10);
    expect(off.exits.EXCEPTION_NMI).toBeGreaterThanOrEqual(11);
    expect(off.accesses!.slice(1).every((a) => a.result === 'guest-fault' && a.error_code === '0x0')).toBe(true);
  });

  it('on: MMIO costs the same full path, plus the trap value on every first touch', () => {
    const on = run(svm('v3.0', writes(10)));
    const off = run(svm('v3.0', writes(10), { bypass: false }));
    expect(on.faults['mmio-slow']).toBe(10);
    expect(off.faults['mmio-slow']).toBe(10);
    expect(on.exits.EXCEPTION_NMI).toBe(off.exits.EXCEPTION_NMI);
  });
});

describe('write protection of guest page tables', () => {
  // Touch the NIC first, so that KVM shadows (and write-protects) the guest table that maps it; then
  // make its PTE read-only, INVLPG it and write again.
  const ptePlusInvlpg = `  - { write: ${NIC}, size: 4, value: 1 }
  - { pte: ${NIC}, level: 1, flags: "p a d nx" }
  - { invlpg: ${NIC} }
  - { write: ${NIC}, size: 4, value: 1 }`;

  it('oos_shadow = 0: a guest write to its own page table faults, is emulated (wp-emulate) and updates the shadow', () => {
    const r = run(svm('v3.1', ptePlusInvlpg, { oos: false }), { accesses: true });
    // set_spte: `if (mmu_need_write_protect(vcpu, gfn, can_unsync))` -> `if (!oos_shadow) return 1;`
    // -> ret = 1 -> `if (write_fault) *emulate = 1;`: the emulator writes the gPTE, and
    // emulator_write_phys -> kvm_mmu_pte_write zaps the SPTE and mmu_pte_write_new_pte ->
    // FNAME(update_pte) maps the new gPTE: its gfn has no slot, gfn_to_pfn_atomic gives bad_pfn,
    // which mmu_invalid_pfn (hwpoison or fault pfn) lets through, so set_mmio_spte installs an MMIO
    // SPTE (the second one of the run).
    expect(r.faults['wp-emulate']).toBe(1);
    expect(r.stats.mmu_pte_write).toBe(1);
    expect(r.stats.mmu_pte_updated).toBe(1);
    expect(r.stats.mmio_sptes_created).toBe(2);
    expect(r.stats.mmu_unsync).toBe(0);
    // FNAME(invlpg): the leaf page is not unsync (`if (!sp->unsync) break;`): nothing is dropped and
    // no guest PTE re-read, so mmu_pte_write stays at 1.
    expect(r.stats.invlpg).toBe(1);
    // The MMIO SPTE carries gw->pte_access without W; the cached access fails
    // check_write_user_access, the emulator walks and the guest gets #PF with P|W.
    expect(r.accesses!.at(-1)).toMatchObject({ op: 'write', result: 'guest-fault', error_code: '0x3' });
  });

  it('oos_shadow = 1 (the default): the guest writes its table directly; INVLPG re-reads the unsync PTE', () => {
    const r = run(svm('v3.1', ptePlusInvlpg), { accesses: true });
    // set_spte -> mmu_need_write_protect: a last-level page, not unsync, oos_shadow -> need_unsync
    // -> kvm_unsync_pages -> __kvm_unsync_page (++mmu_unsync); returns 0, so the alias is mapped
    // writable and the guest's MOV completes without emulation.
    expect(r.faults['wp-emulate']).toBe(0);
    expect(r.stats.mmu_unsync).toBe(1);
    // FNAME(invlpg) walks down while `sp->unsync_children` (mark_unsync set it on every ancestor),
    // finds the unsync leaf page, clears its MMIO SPTE (mmu_spte_clear_no_track) and calls
    // kvm_mmu_pte_write(vcpu, pte_gpa, NULL, ...): one pte write, one update (the MMIO SPTE again).
    expect(r.stats.mmu_pte_write).toBe(1);
    expect(r.stats.mmu_pte_updated).toBe(1);
    expect(r.stats.mmio_sptes_created).toBe(2);
    expect(r.stats.invlpg).toBe(1);
    // The NIC access and the first write through the page table's alias exit; nothing else does.
    expect(r.exits.EXCEPTION_NMI).toBe(3);
    expect(r.accesses!.at(-1)).toMatchObject({ op: 'write', result: 'guest-fault', error_code: '0x3' });
  });

  it('an untouched guest table is not shadowed, so writing it is plain RAM', () => {
    const r = run(svm('v3.1', `  - { read: ${RAM}, size: 8 }\n  - { pte: ${NIC}, level: 1, flags: "p a d nx" }`));
    expect(r.faults['wp-emulate']).toBe(0);
    expect(r.stats.mmu_pte_write).toBe(0);
  });

  it('a CR3 switch loads another root and clears the MMIO info', () => {
    const r = run(svm('v3.1', `${writes(3)}\n  - { cr3: 0 }\n${writes(3)}`));
    expect(r.exits.CR_ACCESS).toBe(1);
    // The same CR3 again: the roots are synced, the cache is cleared, so the next access walks.
    expect(r.faults['mmio-cache']).toBe(4);
    expect(r.faults['mmio-fast']).toBe(1);
  });
});

describe('what shadow paging cannot offer', () => {
  it('protection keys are refused with a position', async () => {
    const { parseScenario } = await import('../simulator/scenario/parse');
    const text = svm('v3.1', '  - { compute: 1 }').replace('cpu: { cr0_wp: true, efer_nx: true }', 'cpu: { cr0_wp: true, efer_nx: true, cr4_pke: true }');
    const r = parseScenario(text, 'pke.mmio.yaml');
    expect('diagnostics' in r && r.diagnostics.map((d) => [d.line, d.message])).toEqual([[9, 'guest.cpu.cr4_pke: true needs mmu.tdp: true: KVM does not offer protection keys with shadow paging']]);
  });
});

describe('classification of emulated page-table writes', () => {
  const body = `  - { write: ${NIC}, size: 4, value: 1 }
  - repeat: 5
    steps:
      - { pte: ${NIC}, level: 1, flags: "p w a d pcd nx" }`;

  it('oos_shadow = 0: writes to a write-protected guest table are wp-emulate until the fork detector floods it', () => {
    const r = run(svm('v3.1', body, { oos: false }));
    // kvm_mmu_pte_write (guest_initiated): write 1 sets last_pt_write_gfn, count 1; FNAME(update_pte)
    // maps the new gPTE speculatively (an MMIO SPTE), so mmu_set_spte sets last_pte_updated. Nothing
    // uses that SPTE (last_updated_pte_accessed is false), so writes 2 and 3 count on, and the third
    // `if (vcpu->arch.last_pt_write_count >= 3) flooded = 1;` zaps the table's shadow page
    // (++mmu_flooded). Writes 4 and 5 fault on the still read-only alias, but set_spte finds no
    // shadow page of the gfn any more (mmu_need_write_protect returns 0): mapped writable, no emulation.
    expect(r.faults['wp-emulate']).toBe(3);
    expect(r.stats.mmu_pte_write).toBe(3);
    expect(r.stats.mmu_flooded).toBe(1);
    expect(r.faults.spurious).toBe(0);
  });

  it('oos_shadow = 1: the first write makes the table unsync, the other four go straight to RAM', () => {
    const r = run(svm('v3.1', body));
    expect(r.faults['wp-emulate']).toBe(0);
    expect(r.stats.mmu_pte_write).toBe(0);
    expect(r.stats.mmu_unsync).toBe(1);
    // One exit for the NIC access (cold MMIO), one for the first write through the alias.
    expect(r.exits.EXCEPTION_NMI).toBe(2);
  });
});
