// The decoded snapshot of KVM's shadow tables (for the panel's inspector and "Open as Text"): each
// era's and mode's entries decoded as kvm-mmio-reference §2 defines them; tables after any step.
import { describe, it, expect } from 'vitest';
import { run, vm, NIC } from './helpers/scenario';
import { formatShadowTablesText } from '../simulator/report/shadow_text';
import { SpteFormat, spteFields } from '../simulator/kvm/mmu/spte';

const shadow = (yaml: string, extra = '') => yaml.replace(/^kernel: (v3\.\d)$/m, `kernel: $1\nmmu: { tdp: false${extra} }`);
const entries = (r: ReturnType<typeof run>) => r.shadow_tables.pages.flatMap((p) => p.entries.map((e) => ({ ...e, page: p })));

describe('shadow-table snapshot', () => {
  it('EPT v3.1: the MMIO SPTE decodes to its gfn; the root and the path are there', () => {
    const r = run(vm('v3.1', `  - { write: ${NIC}, size: 4, value: 1 }`));
    expect(r.shadow_tables.mode).toBe('ept');
    const mmio = entries(r).filter((e) => e.kind === 'mmio');
    expect(mmio).toHaveLength(1);
    expect(mmio[0]).toMatchObject({ value: '0x1fe0000febf0006', target: '0xfebf0', gfn: '0xfebf0', flags: '---' });
    expect(mmio[0]!.page.level).toBe(1);
    const root = r.shadow_tables.pages.find((p) => p.rootOf.includes(0))!;
    expect(root).toMatchObject({ level: 4, direct: true, invalid: false, access: 'wux' });
    expect(root.entries.every((e) => e.kind === 'nonleaf' && e.flags === 'R W X')).toBe(true);
  });

  it('EPT v3.0: no MMIO SPTE ever; RAM leaves are R W X, write-back with IPAT, host-writable', () => {
    const r = run(vm('v3.0', `  - { write: ${NIC}, size: 4, value: 1 }\n  - { read: 0xffff880000100000, size: 8 }`));
    expect(entries(r).filter((e) => e.kind === 'mmio')).toHaveLength(0);
    const leaf = entries(r).find((e) => e.kind === 'leaf' && e.gfn === '0x100')!;
    expect(leaf.flags).toBe('R W X mt=WB+IPAT H');
    expect(BigInt(leaf.value) & 0xfffn).toBe(0x277n);
  });

  it('shadow v3.1: the MMIO SPTE carries reserved bits 40-62, P, the gfn and the guest access', () => {
    const r = run(shadow(vm('v3.1', `  - { write: ${NIC}, size: 4, value: 1 }`)));
    expect(r.shadow_tables.mode).toBe('shadow');
    const mmio = entries(r).find((e) => e.kind === 'mmio')!;
    // mask 0x7FFFFF0000000001 | W (the mapping is "p w a d pcd nx": no U) | gfn << 12
    expect(mmio.value).toBe('0x7fffff00febf0003');
    expect(mmio.flags).toBe('w--');
    const root = r.shadow_tables.pages.find((p) => p.rootOf.includes(0))!;
    expect(root).toMatchObject({ level: 4, direct: false, context: 'cr0_wp nxe' });
  });

  it('shadow v3.0 with bypass_guest_pf: trap values where the guest entry is present, notrap (0) where not, all listed', () => {
    // 3.0.1 vmx.c:4680-4681 `if (bypass_guest_pf) kvm_mmu_set_nonpresent_ptes(~0xffeull, 0ull);`, and
    // paging_tmpl.h:777-781 FNAME(prefetch_page) fills a new indirect page:
    //   `if (r || is_present_gpte(pt[j])) sp->spt[i+j] = shadow_trap_nonpresent_pte;
    //    else sp->spt[i+j] = shadow_notrap_nonpresent_pte;`
    // (a direct page gets trap everywhere: nonpaging_prefetch_page). So every entry of every page is
    // trap, notrap or present, and each is listed.
    const r = run(shadow(vm('v3.0', `  - { read: 0xffff880000100000, size: 8 }`)));
    const traps = entries(r).filter((e) => e.kind === 'trap');
    expect(traps.length).toBeGreaterThan(0);
    expect(new Set(traps.map((e) => e.value))).toEqual(new Set(['0xfffffffffffff001']));
    const notraps = entries(r).filter((e) => e.kind === 'notrap');
    expect(notraps.length).toBeGreaterThan(0);
    expect(new Set(notraps.map((e) => e.value))).toEqual(new Set(['0x0']));
    // The root mirrors the guest's PML4: vm() maps 0xffff88..., 0xffffc9... and 0xffffffffff5fb000
    // (with the kernel code at 0xffffffff81000000), PML4 indexes 272, 402 and 511, and the guest's
    // user alias of its code at 0x7ff000000000 (guest/page_tables.ts USER_CODE_VPN), index 255: those
    // are present in the guest (trap until built, or a non-leaf); the other 508 are notrap.
    const root = r.shadow_tables.pages.find((p) => p.rootOf.includes(0))!;
    expect(root.entries.filter((e) => e.kind !== 'notrap').map((e) => e.index)).toEqual([255, 272, 402, 511]);
    for (const p of r.shadow_tables.pages) expect(p.entries.map((e) => e.index), `page ${p.id}`).toEqual([...Array(512).keys()]);
    // The text document: runs of one value on one line; the role decoded.
    const text = formatShadowTablesText(r.shadow_tables);
    expect(text).toContain('[0-254]                0x0  notrap (#PF goes to the guest, no exit)  (255 entries)');
    expect(text).toMatch(/role level=4 cr4_pae=1 quadrant=0 direct=0 access=wux invalid=0 nxe=1 cr0_wp=1 \(0x[0-9a-f]+\)/);
    const off = run(shadow(vm('v3.0', `  - { read: 0xffff880000100000, size: 8 }`), ', bypass_guest_pf: false'));
    expect(entries(off).filter((e) => e.kind === 'trap' || e.kind === 'notrap')).toHaveLength(0);
    expect(entries(off).filter((e) => e.value === '0x0')).toHaveLength(0);
  });

  it('the tables after any step: by running up to it, deterministically', () => {
    const yaml = vm('v3.1', `  - { read: 0xffff880000100000, size: 8 }\n  - { write: ${NIC}, size: 4, value: 1 }\n  - { compute: 10 }`);
    const before = run(yaml, { stopAfterStep: -1 });
    const afterRead = run(yaml, { stopAfterStep: 0 });
    const afterWrite = run(yaml, { stopAfterStep: 1 });
    expect(before.shadow_tables.afterStep).toBe(-1);
    expect(afterRead.shadow_tables.afterStep).toBe(0);
    expect(entries(afterRead).filter((e) => e.kind === 'mmio')).toHaveLength(0);
    expect(entries(afterWrite).filter((e) => e.kind === 'mmio')).toHaveLength(1);
    expect(entries(before).filter((e) => e.kind === 'leaf' && e.gfn === '0x100')).toHaveLength(0);
    expect(entries(afterRead).filter((e) => e.kind === 'leaf' && e.gfn === '0x100')).toHaveLength(1);
    expect(run(yaml, { stopAfterStep: 1 }).shadow_tables).toEqual(afterWrite.shadow_tables);
    expect(run(yaml).shadow_tables.afterStep).toBeNull();
  });

  it('the memslot array: 35 entries with VMX\'s private slots flagged (33 without EPT)', () => {
    // asm/vmx.h (3.0.1 373-375, 3.1.10 377-379): TSS_PRIVATE_MEMSLOT = KVM_MEMORY_SLOTS + 0, three
    // pages (vmx_set_tss_addr: `.memory_size = PAGE_SIZE * 3`); IDENTITY_PAGETABLE_PRIVATE_MEMSLOT =
    // KVM_MEMORY_SLOTS + 2, one page at VMX_EPT_IDENTITY_PAGETABLE_ADDR 0xfffbc000, only `if
    // (enable_ept)` (vmx_create_vcpu). The APIC-access page (+ 1) needs flexpriority: off here.
    const r = run(vm('v3.1', '  - { compute: 1 }'));
    expect(r.memslot_table.nmemslots).toBe(35);
    expect(r.memslot_table.slots).toEqual([
      { slot: 0, gpa: '0x0', npages: 16384, private: false },
      { slot: 32, gpa: '0xfffbd000', npages: 3, private: true },
      { slot: 34, gpa: '0xfffbc000', npages: 1, private: true },
    ]);
    const shadow = run(vm('v3.1', '  - { compute: 1 }').replace('kernel: v3.1', 'kernel: v3.1\nmmu: { tdp: false }'));
    expect(shadow.memslot_table.nmemslots).toBe(33);
    expect(shadow.memslot_table.slots.map((s) => s.slot)).toEqual([0, 32]);
  });

  it('a memslot miss compares nmemslots entries (33 without EPT), a hit in slot 0 one', () => {
    // __gfn_to_memslot (kvm_main.c, 3.0.1 941 / 3.1.10 964): `for (i = 0; i < slots->nmemslots; ++i)`,
    // returning at the first slot that holds the gfn.
    for (const [tdp, nmemslots] of [[false, 33], [true, 35]] as const) {
      const yaml = (n: number) => vm('v3.0', `  - repeat: ${n}\n    steps:\n      - { write: ${NIC}, size: 4, value: 1 }`).replace('kernel: v3.0', `kernel: v3.0\nmmu: { tdp: ${tdp} }`);
      const a = run(yaml(10)).stats;
      const b = run(yaml(11)).stats;
      const misses = b.memslot_misses! - a.memslot_misses!;
      const hits = b.memslot_lookups! - a.memslot_lookups! - misses;
      expect(misses).toBeGreaterThan(0);
      expect(b.memslot_compares! - a.memslot_compares!).toBe(misses * nmemslots + hits);
    }
  });

  it('reads as text, one entry per line', () => {
    const r = run(vm('v3.1', `  - { write: ${NIC}, size: 4, value: 1 }`), { stopAfterStep: 0 });
    const text = formatShadowTablesText(r.shadow_tables);
    expect(text).toContain('after step 0');
    expect(text).toMatch(/\[496\] +0x1fe0000febf0006  MMIO gfn 0xfebf0/); // index 0x1f0 = gfn 0xfebf0 & 0x1ff
  });
});

describe('bit rulers', () => {
  it('name the fields of each kind of SPTE, as the layouts define them', () => {
    const ept = new SpteFormat('v3.1', true, 40);
    expect(spteFields(ept, 'mmio')).toEqual([
      { name: 'MMIO marker 0xff', hi: 56, lo: 49 },
      { name: 'gfn', hi: 48, lo: 12 },
      { name: 'RWX = 110b (misconfig)', hi: 2, lo: 0 },
    ]);
    const sh = new SpteFormat('v3.1', false, 40);
    expect(spteFields(sh, 'mmio')[0]).toEqual({ name: 'reserved PA bits (mask)', hi: 62, lo: 40 });
    expect(spteFields(sh, 'leaf').map((f) => f.name)).toEqual(['NX', 'pfn', 'host-writable', 'D', 'A', 'U', 'W', 'P']);
    expect(spteFields(ept, 'leaf').find((f) => f.name === 'memory type')).toEqual({ name: 'memory type', hi: 5, lo: 3 });
  });
});
