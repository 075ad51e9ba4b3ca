// The shadow MMU of simulator/kvm/mmu/shadow.ts (ept=0) driven directly, with every expected value
// worked out from the kernel sources (/work/ksrc/v3.1 = 3.1.10, /work/ksrc/v3.0.1: arch/x86/kvm/
// paging_tmpl.h FNAME(page_fault), FNAME(fetch), FNAME(pte_prefetch), FNAME(prefetch_invalid_gpte),
// FNAME(update_pte), FNAME(sync_page), FNAME(invlpg), FNAME(prefetch_page); mmu.c set_spte,
// mmu_set_spte, validate_direct_spte, kvm_mmu_get_page), not from the simulator's output. Written to
// kill the mutants the scenario tests let live (docs/mutation.md).
//
// The fixture: a 4-level guest (EFER.NX) with 16 4K pages at 0x8000000000 -> gpa 0x2000000 whose PTEs
// are "p w u a d" (0x67), a 4K page at 0x8000010000 (index 16 of the same guest table) -> gpa
// 0xfebf0000 (no memslot: MMIO), a clean 2M page at 0x8000200000 -> gpa 0x2200000, and 8 4K pages
// at 0x8000400000 -> gpa 0x2400000 under a read-only PDE ("p u a": gw->pt_access = U|X). Nothing is
// shadowed below the root until a test calls FNAME(page_fault) (ShadowMmu.pageFault) itself.
import { describe, it, expect } from 'vitest';
import { machine } from './helpers/scenario';
import { S } from '../simulator/trace/stats';
import { ROLE_ACCESS_SHIFT, ROLE_CR0_WP, ROLE_DIRECT, ROLE_NXE, ROLE_SMEP_ANDNOT_WP } from '../simulator/kvm/mmu/shadow_pages';
import { TRAP_HI, TRAP_LO } from '../simulator/kvm/mmu/spte';
import { CLASS_GUEST_PF, CLASS_MAP, CLASS_MMIO_SLOW, CLASS_SPURIOUS, CLASS_WP_EMULATE } from '../simulator/kvm/fault_class';
import { shadowMmuLoad, shadowMmuUnload } from '../simulator/kvm/mmu/shadow';
import { C } from '../simulator/cost/accounting';
import { indexOfVpn } from '../simulator/arch/x86/paging';

type Kernel = 'v3.0' | 'v3.1';

// Guest PTE bits (arch/x86/include/asm/pgtable_types.h): P 0x1, W 0x2, U 0x4, A 0x20, D 0x40, PS 0x80;
// NX is bit 63, i.e. bit 31 of the high word.
const P = 0x1;
const W = 0x2;
const U = 0x4;
const A = 0x20;
const D = 0x40;
const PS = 0x80;
const NX_HI = 0x80000000;
/** SPTE_HOST_WRITEABLE (mmu.c: `#define SPTE_HOST_WRITEABLE (1ULL << PT_FIRST_AVAIL_BITS_SHIFT)`, 9). */
const HOST_W = 0x200;
/** PFERR_* (asm/kvm_host.h): present 1, write 2, user 4, rsvd 8, fetch 16. */
const PF_W = 2;
const PF_U = 4;
const PF_RSVD = 8;
const BASE_VPN = 0x8000000; // 0x8000000000 >> 12
const DATA = 0x2000; // the gfn of page 0
const NIC_GFN = 0xfebf0;
const LARGE_VPN = 0x8000200; // 0x8000200000 >> 12
const LARGE_GFN = 0x2200;

interface Opts {
  kernel?: Kernel;
  oos?: boolean;
  bypass?: boolean;
  cr0wp?: boolean;
  smep?: boolean;
  mmioCaching?: boolean;
  vcpus?: number;
}

function setup(o: Opts = {}) {
  const kernel = o.kernel ?? 'v3.1';
  const mmu = ['tdp: false'];
  if (o.oos === false) mmu.push('oos_shadow: false');
  if (o.bypass !== undefined) mmu.push(`bypass_guest_pf: ${o.bypass}`);
  if (o.mmioCaching === false) mmu.push('mmio_caching: false');
  const cpu = `{ cr0_wp: ${o.cr0wp ?? true}, efer_nx: true${o.smep ? ', cr4_smep: true' : ''} }`;
  const work = o.vcpus && o.vcpus > 1
    ? `vcpus:\n${Array.from({ length: o.vcpus }, () => '  - workload:\n      - { compute: 1 }').join('\n')}\n`
    : 'workload:\n  - { compute: 1 }\n';
  const yaml = `kernel: ${kernel}
mmu: { ${mmu.join(', ')} }
memslots:
  - { slot: 0, gpa: 0x0, size: 64M }
devices:
  - { name: nic, gpa: 0xfebf0000, size: 4K, handler: userspace }
guest:
  cpu: ${cpu}
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x0, size: 64M, page: 2M, flags: "p w a d" }
    - { gva: 0x8000000000, gpa: 0x2000000, size: 64K, page: 4K, flags: "p w u a d", pde: "p w u a", pdpte: "p w u a", pml4e: "p w u a" }
    - { gva: 0x8000010000, gpa: 0xfebf0000, size: 4K, page: 4K, flags: "p w u a d", pde: "p w u a", pdpte: "p w u a", pml4e: "p w u a" }
    - { gva: 0x8000200000, gpa: 0x2200000, size: 2M, page: 2M, flags: "p w u a", pdpte: "p w u a", pml4e: "p w u a" }
    - { gva: 0x8000400000, gpa: 0x2400000, size: 32K, page: 4K, flags: "p w u a d", pde: "p u a", pdpte: "p w u a", pml4e: "p w u a" }
${work}`;
  const m = machine(yaml);
  m.run();
  const kvm = m.kvm;
  const v = kvm.vcpus[0]!;
  const mmu0 = m.shadow!;
  kvm.resetCounters();
  const stat = (name: keyof typeof S) => kvm.stats[S[name]]!;
  const fault = (vpn: number, ec: number, offset = 0) => mmu0.pageFault(v, vpn, offset, ec);
  /** The shadow pages of `level` (indirect unless `direct`). */
  const pages = (level: number, direct = false) => [...kvm.sp.active].filter((id) => kvm.sp.level(id) === level && kvm.sp.isDirect(id) === direct);
  const page = (level: number, direct = false) => pages(level, direct)[0]!;
  const word = (id: number, i: number) => kvm.host.entryWord(kvm.sp.pfn[id]!, i);
  const spte = (id: number, i: number) => [kvm.host.words[word(id, i)]!, kvm.host.words[word(id, i) + 1]!];
  /** The host pfn behind a guest frame (0 if never faulted in). */
  const pfn = (gfn: number) => kvm.memslots.find(gfn)?.pfnOf(gfn) ?? 0;
  /** Fault a guest frame in on the host (hva_to_pfn): a resident page, as a prefetch needs. */
  const resident = (gfn: number) => kvm.slotPfn(v, kvm.memslots.find(gfn)!, gfn);
  /** The guest's last-level table of the 4K mapping (the guest walk's level-1 table gfn). */
  const ptGfn = () => {
    const w = (mmu0 as unknown as { walker: { walker: { pteGpa: number[] } } }).walker.walker;
    return Math.floor(w.pteGpa[1]! / 4096);
  };
  const kw = (mmu0 as unknown as { walker: { walker: { pteGpa: number[]; level: number }; gvaToGpa: (vc: typeof v, vpn: number, off: number, pfec: number) => boolean } }).walker;
  /** The guest table of `level` for `vpn`, by a walk of KVM's own walker (no shadow page made);
   *  the counters are reset afterwards. */
  const guestTable = (vpn: number, level: number) => {
    kw.gvaToGpa(v, vpn, 0, 0);
    const gfn = Math.floor(kw.walker.pteGpa[level]! / 4096);
    kvm.resetCounters();
    return gfn;
  };
  /** Run `hook` right after the guest walk of the next page fault (between FNAME(walk_addr) and
   *  FNAME(fetch)'s gpte_changed re-reads). */
  const afterWalk = (hook: (pteGpa: number[]) => void) => {
    const orig = kw.gvaToGpa.bind(kw);
    kw.gvaToGpa = (vc, vpn, off, pfec) => {
      const r = orig(vc, vpn, off, pfec);
      kw.gvaToGpa = orig;
      hook(kw.walker.pteGpa);
      return r;
    };
  };
  /** Guest RAM: entry `i` of guest frame `gfn`. */
  const gpte = (gfn: number, i: number, lo: number, hi = 0) => m.guest.ram.write64(gfn * 4096 + i * 8, lo, hi);
  const events = (name: string) => kvm.trace.records().filter((e) => e.name === name);
  const flushes = () => events('kvm_flush_remote_tlbs').length;
  const rmapOf = (gfn: number) => ((kvm.rmap as unknown as { heads: Map<number, number[]> }).heads.get(gfn) ?? []).slice();
  /** The gfns of every memslot search (gfn_to_memslot and the helpers that call it) during `fn`,
   *  from the end of the fault's guest walk on when `afterTheWalk`. */
  const lookups = (fn: () => void, afterTheWalk = true) => {
    const gfns: number[] = [];
    const orig = kvm.gfnToMemslot;
    let on = !afterTheWalk;
    if (afterTheWalk) afterWalk(() => { on = true; });
    kvm.gfnToMemslot = (vc, gfn) => {
      if (on) gfns.push(gfn);
      return orig.call(kvm, vc, gfn);
    };
    try {
      fn();
    } finally {
      kvm.gfnToMemslot = orig;
    }
    return gfns;
  };
  return { m, kvm, v, mmu: mmu0, guestTable, afterWalk, lookups, stat, fault, pages, page, word, spte, pfn, resident, ptGfn, gpte, events, flushes, rmapOf };
}

/** set_spte's leaf for a RAM pfn (shadow paging): `spte = PT_PRESENT_MASK; if (!speculative) spte |=
 *  shadow_accessed_mask;` ... `if (pte_access & ACC_USER_MASK) spte |= shadow_user_mask;` `if
 *  (host_writable) spte |= SPTE_HOST_WRITEABLE;` `spte |= (u64)pfn << PAGE_SHIFT;` and PT_WRITABLE_MASK. */
const leaf = (pfn: number, bits: number) => (pfn * 4096 + P + HOST_W + bits) >>> 0;

/** The 3.1 shadow MMIO SPTE mask for maxphyaddr 40 (kvm_set_mmio_spte_mask: `mask = ((1ull << (62 -
 *  maxphyaddr + 1)) - 1) << maxphyaddr; mask |= 1ull;`): bits 40..62 (high word 0x7fffff00) and P. */
const MMIO_HI = 0x7fffff00;

describe('FNAME(page_fault): the guest walk fails', () => {
  for (const kernel of ['v3.0', 'v3.1'] as Kernel[]) {
    it(`${kernel}: inject_page_fault with the walker's error code, pf_guest, the fork detector reset`, () => {
      const f = setup({ kernel });
      // Make page 3 read-only in the guest, then write it: the walk fails with P|W (the entry is
      // present, the access a write): `if (!r) { ... inject_page_fault(vcpu, &walker.fault);
      // vcpu->arch.last_pt_write_count = 0; } return 0;`
      f.fault(BASE_VPN + 3, 0); // map the tables first (the PT gfn is then known)
      const pt = f.ptGfn();
      f.gpte(pt, 3, (DATA + 3) * 4096 + (P | U | A | D));
      f.kvm.resetCounters();
      f.v.lastPtWriteCount = 2;
      expect(f.fault(BASE_VPN + 3, PF_W, 0x10)).toBe(0);
      expect(f.stat('pf_guest')).toBe(1);
      expect(f.stat('guest_faults')).toBe(1);
      expect(f.stat('pf_fixed')).toBe(0);
      expect(f.v.guestFault).toBe(true);
      expect(f.v.guestFaultCode).toBe(P | PF_W);
      expect(f.v.lastPtWriteCount).toBe(0);
      expect(f.v.exitClass).toBe(CLASS_GUEST_PF);
      // trace_kvm_inj_exception(PF_VECTOR = 14, has_error, error_code) with the fault address (cr2).
      const ev = f.events('kvm_inj_exception');
      expect(ev.map((e) => e.fields)).toEqual([{ exception: 14, error_code: '0x3', address: '0x8000003010' }]);
    });
  }
});

describe('FNAME(page_fault) -> FNAME(fetch) -> mmu_set_spte on RAM', () => {
  for (const kernel of ['v3.0', 'v3.1'] as Kernel[]) {
    it(`${kernel}: a read fault maps the leaf with A, links three shadow pages, counts pf_fixed, resets the fork detector`, () => {
      const f = setup({ kernel, bypass: false });
      f.v.lastPtWriteCount = 2;
      expect(f.fault(BASE_VPN + 3, 0)).toBe(0);
      // `if (!emulate) vcpu->arch.last_pt_write_count = 0;` `++vcpu->stat.pf_fixed;`
      expect(f.v.lastPtWriteCount).toBe(0);
      expect(f.stat('pf_fixed')).toBe(1);
      const pt = f.page(1);
      // The gPTE is writable and dirty, and gfn 0x2003 is no shadowed guest table, so set_spte keeps
      // W (mmu_need_write_protect finds no page); not speculative, so A. host_writable.
      expect(f.spte(pt, 3)).toEqual([leaf(f.pfn(DATA + 3), W | U | A), 0]);
      expect(f.kvm.sp.gfns[pt]![3]).toBe(DATA + 3); // kvm_mmu_page_set_gfn
      expect(f.rmapOf(DATA + 3)).toEqual([f.word(pt, 3)]); // rmap_add
      // The role of the indirect pages: gw->pt_access (ACC_ALL: every upper level is P|W|U, no NX).
      for (const l of [3, 2, 1]) expect(f.kvm.sp.roleAccess(f.page(l))).toBe(7);
      // 3 x link_shadow_page and the leaf; the neighbours are not resident (hva_to_pfn_atomic:
      // fault pfn -> `break`), so nothing else is stored.
      expect(f.stat('sptes_written')).toBe(4);
      expect(f.v.exitClass).toBe(CLASS_MAP);
      // `trace_kvm_mmu_set_spte`-like record: gfn, the SPTE, level 1.
      const ev = f.events('__direct_map');
      expect(ev.map((e) => e.fields)).toEqual([{ gfn: '0x2003', spte: '0x' + leaf(f.pfn(DATA + 3), W | U | A).toString(16), level: 1 }]);
    });
  }

  it('the same fault again finds the same SPTE: no new record, no store, class spurious, rmap unchanged', () => {
    const f = setup();
    f.fault(BASE_VPN + 3, 0);
    const pt = f.page(1);
    f.kvm.resetCounters();
    expect(f.fault(BASE_VPN + 3, 0)).toBe(0);
    // mmu_set_spte: `else was_rmapped = 1;` (same pfn): no rmap_add; set_spte builds the same value.
    expect(f.rmapOf(DATA + 3)).toEqual([f.word(pt, 3)]);
    expect(f.spte(pt, 3)).toEqual([leaf(f.pfn(DATA + 3), W | U | A), 0]);
    expect(f.events('__direct_map')).toEqual([]);
    expect(f.v.exitClass).toBe(CLASS_SPURIOUS);
    expect(f.stat('pf_fixed')).toBe(1);
  });

  it('a clean gPTE is mapped read-only (the dirty-bit trick), and the write fault then makes it writable', () => {
    const f = setup();
    f.fault(BASE_VPN + 3, 0);
    const pt = f.page(1);
    const gpt = f.ptGfn();
    f.gpte(gpt, 5, (DATA + 5) * 4096 + (P | W | U | A)); // clean
    f.kvm.resetCounters();
    f.fault(BASE_VPN + 5, 0);
    // 3.1 walk_addr: `pte_access = pt_access & FNAME(gpte_access)(vcpu, pte, true);` drops W for a
    // clean leaf; 3.0 set_spte: `if (!dirty) pte_access &= ~ACC_WRITE_MASK;`.
    expect(f.spte(pt, 5)).toEqual([leaf(f.pfn(DATA + 5), U | A), 0]);
    expect(f.flushes()).toBe(0);
    // The write fault: the walker sets D, set_spte maps it W; no flush (it was not writable).
    f.fault(BASE_VPN + 5, PF_W);
    expect(f.spte(pt, 5)).toEqual([leaf(f.pfn(DATA + 5), W | U | A), 0]);
    expect(f.flushes()).toBe(0);
    expect(f.v.exitClass).toBe(CLASS_MAP);
  });

  it('set_spte: "If we overwrite a writable spte with a read-only one we should flush remote TLBs"', () => {
    const f = setup();
    f.fault(BASE_VPN + 3, 0);
    const pt = f.page(1);
    const gpt = f.ptGfn();
    f.gpte(gpt, 3, (DATA + 3) * 4096 + (P | U | A | D)); // now read-only
    f.kvm.resetCounters();
    f.fault(BASE_VPN + 3, 0);
    // `if (is_writable_pte(entry) && !is_writable_pte(*sptep)) kvm_flush_remote_tlbs(vcpu->kvm);`
    expect(f.spte(pt, 3)).toEqual([leaf(f.pfn(DATA + 3), U | A), 0]);
    expect(f.flushes()).toBe(1);
    expect(f.stat('sptes_written')).toBe(1);
    expect(f.rmapOf(DATA + 3)).toEqual([f.word(pt, 3)]); // same pfn: was_rmapped
    expect(f.events('__direct_map').length).toBe(1);
  });

  it('mmu_set_spte: a present SPTE for another pfn is dropped (rmap_remove) and remote TLBs flushed', () => {
    const f = setup();
    f.fault(BASE_VPN + 3, 0);
    const pt = f.page(1);
    const gpt = f.ptGfn();
    f.gpte(gpt, 3, (DATA + 9) * 4096 + (P | W | U | A | D)); // now maps gfn 0x2009
    f.kvm.resetCounters();
    f.fault(BASE_VPN + 3, 0);
    // `else if (pfn != spte_to_pfn(*sptep)) { drop_spte(vcpu->kvm, sptep); kvm_flush_remote_tlbs(vcpu->kvm); }`
    expect(f.flushes()).toBe(1);
    expect(f.rmapOf(DATA + 3)).toEqual([]);
    expect(f.rmapOf(DATA + 9)).toEqual([f.word(pt, 3)]);
    expect(f.kvm.sp.gfns[pt]![3]).toBe(DATA + 9);
    expect(f.spte(pt, 3)).toEqual([leaf(f.pfn(DATA + 9), W | U | A), 0]);
    // drop_spte (a store of 0) and the new leaf
    expect(f.stat('sptes_written')).toBe(2);
  });
});

describe('set_spte with CR0.WP = 0: a supervisor write to a read-only page', () => {
  for (const [kernel, smep] of [['v3.0', false], ['v3.1', false], ['v3.1', true]] as [Kernel, boolean][]) {
    it(`${kernel}${smep ? ' SMEP' : ''}: writable, not user${smep ? ', not executable' : ''}`, () => {
      const f = setup({ kernel, cr0wp: false, smep, bypass: kernel === 'v3.0' ? false : undefined });
      f.fault(BASE_VPN + 3, 0);
      const pt = f.page(1);
      const gpt = f.ptGfn();
      f.gpte(gpt, 4, (DATA + 4) * 4096 + (P | U | A | D));
      f.fault(BASE_VPN + 4, 0); // a read: not writable, user
      expect(f.spte(pt, 4)).toEqual([leaf(f.pfn(DATA + 4), U | A), 0]);
      f.fault(BASE_VPN + 4, PF_W); // supervisor write
      // `if ((pte_access & ACC_WRITE_MASK) || (!direct_map && write_fault && !is_write_protection(vcpu)
      // && !user_fault)) { ... spte |= PT_WRITABLE_MASK; if (!direct_map && !(pte_access &
      // ACC_WRITE_MASK)) { spte &= ~PT_USER_MASK; if (kvm_read_cr4_bits(vcpu, X86_CR4_SMEP)) spte |=
      // PT64_NX_MASK; }` (3.0.1 has no SMEP lines)
      expect(f.spte(pt, 4)).toEqual([leaf(f.pfn(DATA + 4), W | A), smep ? NX_HI : 0]);
      expect(f.v.exitClass).toBe(CLASS_MAP);
    });
  }

  it('v3.1: SMEP with CR0.WP = 1 leaves a writable user page user and executable', () => {
    const f = setup({ smep: true });
    f.fault(BASE_VPN + 3, PF_W);
    expect(f.spte(f.page(1), 3)).toEqual([leaf(f.pfn(DATA + 3), W | U | A), 0]);
  });
});

/** The guest table frame of the 4K mapping (level 1) and the alias through which the 2M kernel
 *  mapping at 0xffff880000000000 (gpa 0, "p w a d", not user) reaches guest frame `gfn`. */
const KERNEL_VPN = 0xffff880000000; // 0xffff880000000000 >> 12
const ROLE_CR4_PAE = 1 << 4; // union kvm_mmu_page_role: level:4, cr4_pae:1, ...

describe('FNAME(page_fault) on a gfn without a memslot (MMIO)', () => {
  it('v3.1: handle_abnormal_pfn caches the MMIO info, mmu_set_spte -> mark_mmio_spte, emulate = 1', () => {
    const f = setup();
    f.v.lastPtWriteCount = 2;
    expect(f.fault(BASE_VPN + 16, 0)).toBe(1);
    const pt = f.page(1);
    // mark_mmio_spte: `access &= ACC_WRITE_MASK | ACC_USER_MASK; trace_mark_mmio_spte(sptep, gfn,
    // access); mmu_spte_set(sptep, shadow_mmio_mask | access | gfn << PAGE_SHIFT);` with
    // gw->pte_access = 7 (a dirty "p w u" leaf under "p w u" tables).
    expect(f.spte(pt, 16)).toEqual([(NIC_GFN * 4096 + P + W + U) >>> 0, MMIO_HI]);
    expect(f.events('mark_mmio_spte').map((e) => e.fields)).toEqual([{ sptep: '0x' + (f.kvm.sp.pfn[pt]! * 4096 + 16 * 8).toString(16), gfn: '0xfebf0', access: '0x6' }]);
    expect(f.stat('mmio_sptes_created')).toBe(1);
    // vcpu_cache_mmio_info(vcpu, gva, gfn, access): gva's page, the gfn, walker.pte_access.
    expect([f.v.mmioGvaVpn, f.v.mmioGfn, f.v.mmioAccess]).toEqual([BASE_VPN + 16, NIC_GFN, 7]);
    expect(f.stat('mmio_cache_fills')).toBe(1);
    // `if (unlikely(is_mmio_spte(*sptep) && emulate)) *emulate = 1;`, then `++pf_fixed` and no
    // fork-detector reset (emulate is 1).
    expect(f.stat('pf_fixed')).toBe(1);
    expect(f.v.lastPtWriteCount).toBe(2);
    expect(f.v.exitClass).toBe(CLASS_MMIO_SLOW);
    expect(f.rmapOf(NIC_GFN)).toEqual([]); // an MMIO SPTE is not shadow-present: no rmap_add
    expect(f.kvm.sp.gfns[pt]![16]).toBe(0);
    // FNAME(pte_prefetch) runs after the MMIO SPTE too; `if (spte == sptep) continue;` skips entry
    // 16 itself (not shadow-present, it would otherwise be considered and end the loop: no slot),
    // and gPTEs 17..23 are not present: prefetch_invalid_gpte -> drop_spte, 7 stores. With the 3
    // link_shadow_page stores and the MMIO SPTE: 11.
    expect(f.stat('sptes_written')).toBe(11);
    expect(f.events('__direct_map')).toEqual([]);
  });

  it('v3.1: a clean MMIO gPTE: the SPTE and the cache carry the access without W', () => {
    const f = setup();
    const gpt = f.guestTable(BASE_VPN, 1);
    f.gpte(gpt, 16, NIC_GFN * 4096 + (P | W | U | A));
    expect(f.fault(BASE_VPN + 16, 0)).toBe(1);
    // walker.pte_access = pt_access & gpte_access(vcpu, pte, true): `if (last && !is_dirty_gpte(gpte))
    // access &= ~ACC_WRITE_MASK;` -> U|X = 5; mark_mmio_spte keeps W|U of it: U.
    expect(f.spte(f.page(1), 16)).toEqual([(NIC_GFN * 4096 + P + U) >>> 0, MMIO_HI]);
    expect(f.events('mark_mmio_spte')[0]!.fields.access).toBe('0x4');
    expect(f.v.mmioAccess).toBe(5);
  });

  it('v3.1 with mmio_caching off: the info is cached, nothing is shadowed, emulate = 1, no pf_fixed', () => {
    const f = setup({ mmioCaching: false });
    const before = f.kvm.sp.active.size;
    expect(f.fault(BASE_VPN + 16, 0)).toBe(1);
    expect([f.v.mmioGvaVpn, f.v.mmioGfn, f.v.mmioAccess]).toEqual([BASE_VPN + 16, NIC_GFN, 7]);
    expect(f.stat('mmio_cache_fills')).toBe(1);
    expect(f.stat('mmio_sptes_created')).toBe(0);
    expect(f.stat('pf_fixed')).toBe(0);
    expect(f.kvm.sp.active.size).toBe(before);
    expect(f.v.exitClass).toBe(CLASS_MMIO_SLOW);
  });

  it('v3.0: `if (is_error_pfn(pfn)) return kvm_handle_bad_page(...)`: emulate, no SPTE, no cache, no pf_fixed', () => {
    const f = setup({ kernel: 'v3.0' });
    const before = f.kvm.sp.active.size;
    f.v.lastPtWriteCount = 2;
    expect(f.fault(BASE_VPN + 16, 0)).toBe(1);
    expect(f.stat('mmio_cache_fills')).toBe(0);
    expect(f.v.mmioGfn).toBe(0);
    expect(f.stat('mmio_sptes_created')).toBe(0);
    expect(f.stat('pf_fixed')).toBe(0);
    expect(f.stat('sptes_written')).toBe(0);
    expect(f.kvm.sp.active.size).toBe(before);
    expect(f.v.lastPtWriteCount).toBe(2);
    expect(f.v.exitClass).toBe(CLASS_MMIO_SLOW);
  });
});

describe('FNAME(page_fault) with PFERR_RSVD_MASK', () => {
  it('v3.1: `if (unlikely(error_code & PFERR_RSVD_MASK)) return handle_mmio_page_fault(...)`: no guest walk', () => {
    const f = setup();
    f.fault(BASE_VPN + 3, PF_RSVD | P);
    expect(f.stat('guest_walks')).toBe(0);
    expect(f.stat('pf_fixed')).toBe(0);
  });

  it('v3.0 has no such test: the fault is walked and mapped like any other', () => {
    const f = setup({ kernel: 'v3.0', bypass: false });
    expect(f.fault(BASE_VPN + 3, PF_RSVD | P)).toBe(0);
    expect(f.stat('guest_walks')).toBe(1);
    expect(f.stat('pf_fixed')).toBe(1);
    expect(f.spte(f.page(1), 3)).toEqual([leaf(f.pfn(DATA + 3), W | U | A), 0]);
  });
});

describe('set_spte -> mmu_need_write_protect: a fault on a guest page table', () => {
  it('oos_shadow = 0, write: read-only, `if (write_fault) *emulate = 1; kvm_mmu_flush_tlb(vcpu);`', () => {
    const f = setup({ oos: false });
    f.fault(BASE_VPN + 3, 0); // shadows the guest tables
    const gpt = f.kvm.sp.gfn[f.page(1)]!;
    f.kvm.resetCounters();
    f.v.lastPtWriteCount = 2;
    expect(f.fault(KERNEL_VPN + gpt, PF_W)).toBe(1);
    const dp = f.page(1, true);
    // A 2M guest page: a direct page below it; the leaf loses W (`ret = 1; pte_access &=
    // ~ACC_WRITE_MASK; if (is_writable_pte(spte)) spte &= ~PT_WRITABLE_MASK;`), no U (kernel page).
    expect(f.spte(dp, gpt % 512)).toEqual([leaf(f.pfn(gpt), A), 0]);
    expect(f.stat('tlb_flush')).toBe(1);
    expect(f.stat('pf_fixed')).toBe(1);
    expect(f.v.lastPtWriteCount).toBe(2);
    expect(f.v.exitClass).toBe(CLASS_WP_EMULATE);
    expect(f.rmapOf(gpt)).toEqual([f.word(dp, gpt % 512)]);
    // The fault's own record still shows the read-only SPTE it set.
    expect(f.events('__direct_map').map((e) => e.fields.gfn)).toEqual(['0x' + gpt.toString(16)]);
  });

  it('oos_shadow = 0, read: the same read-only SPTE and TLB flush, but no emulation', () => {
    const f = setup({ oos: false });
    f.fault(BASE_VPN + 3, 0);
    const gpt = f.kvm.sp.gfn[f.page(1)]!;
    f.kvm.resetCounters();
    f.v.lastPtWriteCount = 2;
    expect(f.fault(KERNEL_VPN + gpt, 0)).toBe(0);
    expect(f.spte(f.page(1, true), gpt % 512)).toEqual([leaf(f.pfn(gpt), A), 0]);
    expect(f.stat('tlb_flush')).toBe(1);
    expect(f.v.lastPtWriteCount).toBe(0);
    expect(f.v.exitClass).toBe(CLASS_MAP);
  });

  it('oos_shadow = 1: the last-level table is made unsync and the alias mapped writable', () => {
    const f = setup();
    f.fault(BASE_VPN + 3, 0);
    const pt = f.page(1);
    const gpt = f.kvm.sp.gfn[pt]!;
    f.kvm.resetCounters();
    expect(f.fault(KERNEL_VPN + gpt, PF_W)).toBe(0);
    expect(f.spte(f.page(1, true), gpt % 512)).toEqual([leaf(f.pfn(gpt), W | A), 0]);
    expect(f.kvm.sp.unsync[pt]).toBeTruthy();
    expect(f.stat('mmu_unsync')).toBe(1);
    expect(f.stat('tlb_flush')).toBe(0);
    expect(f.v.exitClass).toBe(CLASS_MAP);
  });
});

describe('FNAME(fetch): shadow page roles and validate_direct_spte', () => {
  it('indirect pages: base_role (cr4_pae, nxe, cr0_wp) | level | pt_access; the direct page: no cr4_pae, direct', () => {
    const f = setup();
    f.fault(LARGE_VPN + 5, 0);
    // kvm_mmu_get_page: `role = vcpu->arch.mmu.base_role; role.level = level; role.direct = direct;
    // if (role.direct) role.cr4_pae = 0; role.access = access;`
    const base = ROLE_CR4_PAE | ROLE_NXE | ROLE_CR0_WP;
    expect(f.kvm.sp.role[f.page(3)]).toBe(base | 3 | (7 << ROLE_ACCESS_SHIFT));
    expect(f.kvm.sp.role[f.page(2)]).toBe(base | 2 | (7 << ROLE_ACCESS_SHIFT));
    const dp = f.page(1, true);
    // 3.1: direct_access = gw->pte_access (clean: W dropped) = U|X = 5; 3.0: the same from
    // `if (!dirty) direct_access &= ~ACC_WRITE_MASK;`. direct_gfn = gw->gfn & ~(512 - 1).
    expect(f.kvm.sp.role[dp]).toBe(ROLE_NXE | ROLE_CR0_WP | ROLE_DIRECT | 1 | (5 << ROLE_ACCESS_SHIFT));
    expect(f.kvm.sp.gfn[dp]).toBe(LARGE_GFN);
    expect(f.spte(dp, 5)).toEqual([leaf(f.pfn(LARGE_GFN + 5), U | A), 0]);
    // No FNAME(pte_prefetch) for a direct page (__direct_pte_prefetch is not modelled; nothing else).
    expect(f.spte(dp, 4)).toEqual([0, 0]);
    expect(f.stat('pf_fixed')).toBe(1);
  });

  it('v3.1 SMEP with CR0.WP = 0: smep_andnot_wp is in the role', () => {
    const f = setup({ smep: true, cr0wp: false });
    f.fault(BASE_VPN + 3, 0);
    // `base_role.smep_andnot_wp = smep && !is_write_protection(vcpu);`
    expect(f.kvm.sp.role[f.page(1)]).toBe(ROLE_CR4_PAE | ROLE_NXE | ROLE_SMEP_ANDNOT_WP | 1 | (7 << ROLE_ACCESS_SHIFT));
  });

  it('v3.0 has no smep_andnot_wp', () => {
    const f = setup({ kernel: 'v3.0', smep: false, cr0wp: false });
    f.fault(BASE_VPN + 3, 0);
    expect(f.kvm.sp.role[f.page(1)]).toBe(ROLE_CR4_PAE | ROLE_NXE | 1 | (7 << ROLE_ACCESS_SHIFT));
  });

  for (const kernel of ['v3.0', 'v3.1'] as Kernel[]) {
    it(`${kernel}: the large page written dirty: the direct page of another access is unlinked and remote TLBs flushed`, () => {
      const f = setup({ kernel, bypass: false });
      f.fault(LARGE_VPN + 5, 0);
      const old = f.page(1, true);
      const pd = f.page(2);
      const pdIndex = 1; // 0x8000200000: PD index 1
      f.kvm.resetCounters();
      f.fault(LARGE_VPN + 5, PF_W);
      // validate_direct_spte: `if (child->role.access == direct_access) return; drop_parent_pte(child,
      // sptep); kvm_flush_remote_tlbs(vcpu->kvm);` then a new direct page with access 7.
      expect(f.flushes()).toBe(1);
      // Stores: drop_parent_pte's mmu_spte_clear_no_track (3.0.1: `__set_spte(sptep,
      // shadow_trap_nonpresent_pte);`), link_shadow_page, the leaf.
      expect(f.stat('sptes_written')).toBe(3);
      expect(f.kvm.sp.parents[old]).toEqual([]);
      const now = f.pages(1, true).find((id) => id !== old)!;
      expect(f.kvm.sp.roleAccess(now)).toBe(7);
      expect(f.kvm.sp.parents[now]).toEqual([f.word(pd, pdIndex)]);
      expect(f.spte(pd, pdIndex)).toEqual([f.kvm.fmt.shadowNonLeafLo(f.kvm.sp.pfn[now]!), 0]);
      expect(f.spte(now, 5)).toEqual([leaf(f.pfn(LARGE_GFN + 5), W | U | A), 0]);
      // A read of another 4K piece of the (now dirty) large page: same access, nothing unlinked.
      f.kvm.resetCounters();
      f.fault(LARGE_VPN + 6, 0);
      expect(f.flushes()).toBe(0);
      expect(f.pages(1, true).length).toBe(2);
      // `if (is_shadow_present_pte(*it.sptep)) continue;`: no kvm_mmu_get_page, no new parent, no link store.
      expect(f.kvm.sp.parents[now]).toEqual([f.word(pd, pdIndex)]);
      expect(f.stat('sptes_written')).toBe(1);
      expect(f.spte(now, 6)).toEqual([leaf(f.pfn(LARGE_GFN + 6), W | U | A), 0]);
    });
  }
});

describe('FNAME(gpte_changed): the guest changed an entry between the walk and the fetch', () => {
  it('the top level: `if (FNAME(gpte_changed)(vcpu, gw, top_level)) goto out_gpte_changed;` before any page', () => {
    const f = setup();
    const before = f.kvm.sp.active.size;
    f.afterWalk((g) => f.m.guest.ram.write64(g[4]!, 0, 0));
    f.v.lastPtWriteCount = 2;
    expect(f.fault(BASE_VPN + 3, 0)).toBe(0);
    expect(f.kvm.sp.active.size).toBe(before);
    expect(f.stat('sptes_written')).toBe(0);
    // FNAME(fetch) returns NULL, emulate stays 0: the detector is reset and pf_fixed still counts.
    expect(f.stat('pf_fixed')).toBe(1);
    expect(f.v.lastPtWriteCount).toBe(0);
  });

  for (const level of [2, 1]) {
    it(`level ${level}: the new level-${level} page is made, then put (kvm_mmu_put_page), and not linked`, () => {
      const f = setup();
      f.afterWalk((g) => {
        const gpa = g[level]!;
        f.m.guest.ram.write64(gpa, 0, 0);
      });
      expect(f.fault(BASE_VPN + 3, 0)).toBe(0);
      // `if (!is_shadow_present_pte(*it.sptep)) sp = kvm_mmu_get_page(...);` `if
      // (FNAME(gpte_changed)(vcpu, gw, it.level - 1)) goto out_gpte_changed;` ... `if (sp)
      // kvm_mmu_put_page(sp, it.sptep);`: the page exists, with no parent; its parent SPTE is empty.
      const sp = f.page(level);
      expect(f.kvm.sp.parents[sp]).toEqual([]);
      const parent = f.page(level + 1);
      const idx = level === 2 ? 0 : 0; // 0x8000000000: index 0 at every level below the root
      expect(f.spte(parent, idx)).toEqual([0, 0]);
      // link_shadow_page ran only above: 4 - level - 1 links.
      expect(f.stat('sptes_written')).toBe(3 - level);
      expect(f.events('__direct_map')).toEqual([]);
      expect(f.stat('pf_fixed')).toBe(1);
    });
  }

  it('level 1 with every page present: nothing made, nothing put, nothing mapped', () => {
    const f = setup();
    f.fault(BASE_VPN + 3, 0);
    const pt = f.page(1);
    f.kvm.resetCounters();
    f.afterWalk((g) => f.m.guest.ram.write64(g[1]!, (DATA + 9) * 4096 + (P | W | U | A | D), 0));
    expect(f.fault(BASE_VPN + 3, 0)).toBe(0);
    expect(f.spte(pt, 3)).toEqual([leaf(f.pfn(DATA + 3), W | U | A), 0]);
    expect(f.kvm.sp.parents[pt]!.length).toBe(1);
    expect(f.stat('sptes_written')).toBe(0);
  });
});

const RO_VPN = 0x8000400; // 0x8000400000 >> 12
const RO_GFN = 0x2400;
const NOSLOT_GFN = 0x10000; // 256M: beyond the 64M memslot

describe('FNAME(pte_prefetch): the 8-entry window around the fault', () => {
  function prefetchFixture(kernel: Kernel, bypass?: boolean) {
    const f = setup({ kernel, bypass });
    const gpt = f.guestTable(BASE_VPN, 1);
    for (let i = 0; i < 8; i++) f.resident(DATA + i);
    f.gpte(gpt, 1, (DATA + 1) * 4096 + (P | W | U | D)); // not accessed
    f.gpte(gpt, 2, (DATA + 2) * 4096 + (P | W | U | A | D), 0x100); // bit 40: reserved (MAXPHYADDR 40)
    f.gpte(gpt, 4, (DATA + 4) * 4096 + (W | U | A | D)); // not present
    f.gpte(gpt, 5, (DATA + 5) * 4096 + (P | W | U | A)); // clean
    f.gpte(gpt, 6, (DATA + 6) * 4096 + (P | W | U | A | D), NX_HI); // not executable
    f.kvm.resetCounters();
    expect(f.fault(BASE_VPN + 3, 0)).toBe(0);
    return f;
  }

  it('v3.1: valid neighbours mapped speculatively (no A), invalid ones dropped, the rest skipped', () => {
    const f = prefetchFixture('v3.1');
    const pt = f.page(1);
    // mmu_set_spte(vcpu, spte, sp->role.access, pte_access, 0, 0, NULL, PT_PAGE_TABLE_LEVEL, gfn,
    // pfn, true, true): speculative, so set_spte leaves A out.
    expect(f.spte(pt, 0)).toEqual([leaf(f.pfn(DATA), W | U), 0]);
    // FNAME(prefetch_invalid_gpte): not accessed, reserved bits, not present -> `drop_spte(...)`.
    expect(f.spte(pt, 1)).toEqual([0, 0]);
    expect(f.spte(pt, 2)).toEqual([0, 0]);
    expect(f.spte(pt, 3)).toEqual([leaf(f.pfn(DATA + 3), W | U | A), 0]);
    expect(f.spte(pt, 4)).toEqual([0, 0]);
    expect(f.spte(pt, 5)).toEqual([leaf(f.pfn(DATA + 5), U), 0]); // gpte_access(vcpu, gpte, true): clean
    expect(f.spte(pt, 6)).toEqual([leaf(f.pfn(DATA + 6), W | U), NX_HI]);
    expect(f.spte(pt, 7)).toEqual([leaf(f.pfn(DATA + 7), W | U), 0]);
    expect(f.spte(pt, 8)).toEqual([0, 0]); // outside the window
    // rmap_add and kvm_mmu_page_set_gfn for each mapped neighbour only.
    expect([0, 1, 2, 4, 5, 6, 7].map((i) => f.rmapOf(DATA + i).length)).toEqual([1, 0, 0, 0, 1, 1, 1]);
    expect([0, 1, 5, 7].map((i) => f.kvm.sp.gfns[pt]![i])).toEqual([DATA, 0, DATA + 5, DATA + 7]);
    // mmu_set_spte: `if (speculative) { vcpu->arch.last_pte_updated = sptep; vcpu->arch.last_pte_gfn = gfn; }`
    expect([f.v.lastPteUpdated, f.v.lastPteGfn]).toEqual([f.word(pt, 7), DATA + 7]);
    // 3 links, the leaf, 4 neighbours mapped, 3 dropped.
    expect(f.stat('sptes_written')).toBe(11);
    expect(f.events('__direct_map').length).toBe(1); // the fault's own SPTE only
    expect(f.v.exitClass).toBe(CLASS_MAP);
  });

  it('v3.0 with bypass_guest_pf: only trap entries are considered; not present gets notrap only via prefetch_page', () => {
    const f = prefetchFixture('v3.0');
    const pt = f.page(1);
    // FNAME(prefetch_page) made the page: trap for present gPTEs, notrap (0) for absent ones.
    // pte_prefetch: `if (*spte != shadow_trap_nonpresent_pte) continue;`, so entry 4 (notrap)
    // stays; prefetch_invalid_gpte drops 1 and 2 (present: `nonpresent` stays trap).
    expect(f.spte(pt, 0)).toEqual([leaf(f.pfn(DATA), W | U), 0]);
    expect(f.spte(pt, 1)).toEqual([TRAP_LO, TRAP_HI]);
    expect(f.spte(pt, 2)).toEqual([TRAP_LO, TRAP_HI]);
    expect(f.spte(pt, 4)).toEqual([0, 0]);
    // 3.0 set_spte: `if (!dirty) pte_access &= ~ACC_WRITE_MASK;`
    expect(f.spte(pt, 5)).toEqual([leaf(f.pfn(DATA + 5), U), 0]);
    expect(f.spte(pt, 6)).toEqual([leaf(f.pfn(DATA + 6), W | U), NX_HI]);
    expect(f.spte(pt, 7)).toEqual([leaf(f.pfn(DATA + 7), W | U), 0]);
    // Outside the window: prefetch_page's values. 8..16 present gPTEs (trap), 17.. absent (notrap).
    for (const i of [8, 15, 16]) expect(f.spte(pt, i)).toEqual([TRAP_LO, TRAP_HI]);
    for (const i of [17, 100, 511]) expect(f.spte(pt, i)).toEqual([0, 0]);
  });

  it('v3.0 without bypass_guest_pf: trap == notrap == 0, so not-present gPTEs are dropped like in 3.1', () => {
    const f = prefetchFixture('v3.0', false);
    const pt = f.page(1);
    expect(f.spte(pt, 0)).toEqual([leaf(f.pfn(DATA), W | U), 0]);
    expect(f.spte(pt, 1)).toEqual([0, 0]);
    expect(f.spte(pt, 4)).toEqual([0, 0]);
    expect(f.spte(pt, 5)).toEqual([leaf(f.pfn(DATA + 5), U), 0]);
    expect(f.spte(pt, 7)).toEqual([leaf(f.pfn(DATA + 7), W | U), 0]);
    expect(f.stat('sptes_written')).toBe(11);
  });

  for (const kernel of ['v3.0', 'v3.1'] as Kernel[]) {
    it(`${kernel}: a neighbour without a memslot ends the loop (\`break\`)`, () => {
      const f = setup({ kernel, bypass: false });
      const gpt = f.guestTable(BASE_VPN, 1);
      for (let i = 0; i < 8; i++) f.resident(DATA + i);
      f.gpte(gpt, 1, NOSLOT_GFN * 4096 + (P | W | U | A | D));
      f.fault(BASE_VPN + 3, 0);
      const pt = f.page(1);
      // 3.1 pte_prefetch_gfn_to_pfn: no slot -> fault pfn; `if (mmu_invalid_pfn(pfn)) { ...; break; }`
      // (3.0: bad pfn, `if (is_error_pfn(pfn)) break;`). No MMIO SPTE for it.
      expect(f.spte(pt, 0)).toEqual([leaf(f.pfn(DATA), W | U), 0]);
      for (const i of [1, 2, 4, 5, 6, 7]) expect(f.spte(pt, i)).toEqual([0, 0]);
      expect(f.stat('mmio_sptes_created')).toBe(0);
      expect(f.stat('sptes_written')).toBe(5);
    });

    it(`${kernel}: a neighbour whose page is not resident ends the loop (hva_to_pfn_atomic: fault pfn)`, () => {
      const f = setup({ kernel, bypass: false });
      for (const i of [0, 2, 4, 5, 6, 7]) f.resident(DATA + i);
      f.fault(BASE_VPN + 3, 0);
      const pt = f.page(1);
      expect(f.spte(pt, 0)).toEqual([leaf(f.pfn(DATA), W | U), 0]);
      for (const i of [1, 2, 4, 5, 6, 7]) expect(f.spte(pt, i)).toEqual([0, 0]);
    });
  }

  it('the fault finds its SPTE unchanged while a neighbour is mapped: the class stays spurious', () => {
    const f = setup();
    f.fault(BASE_VPN + 3, 0); // neighbours not resident: none mapped
    const pt = f.page(1);
    f.resident(DATA);
    f.kvm.resetCounters();
    f.fault(BASE_VPN + 3, 0);
    expect(f.spte(pt, 0)).toEqual([leaf(f.pfn(DATA), W | U), 0]);
    expect(f.v.exitClass).toBe(CLASS_SPURIOUS);
    expect(f.events('__direct_map')).toEqual([]);
  });

  it('sp->role.access limits the neighbours (a read-only PDE above): `sp->role.access & FNAME(gpte_access)(...)`', () => {
    const f = setup();
    for (let i = 0; i < 8; i++) f.resident(RO_GFN + i);
    f.fault(RO_VPN + 2, 0);
    const pt = f.pages(1).find((id) => f.kvm.sp.gfn[id] !== undefined && f.kvm.sp.roleAccess(id) === 5)!;
    // gw->pt_access = U|X (the PDE has no W): the page's role.access, and the leaf's access.
    expect(f.spte(pt, 2)).toEqual([leaf(f.pfn(RO_GFN + 2), U | A), 0]);
    expect(f.spte(pt, 1)).toEqual([leaf(f.pfn(RO_GFN + 1), U), 0]);
    expect(f.spte(pt, 7)).toEqual([leaf(f.pfn(RO_GFN + 7), U), 0]);
  });
});

describe('v3.0 bypass_guest_pf: FNAME(prefetch_page) and mmu_convert_notrap', () => {
  it('a direct page is trap everywhere (nonpaging_prefetch_page); an upper indirect page follows its guest table', () => {
    const f = setup({ kernel: 'v3.0' });
    f.fault(LARGE_VPN + 5, 0);
    const dp = f.page(1, true);
    expect(f.spte(dp, 5)).toEqual([leaf(f.pfn(LARGE_GFN + 5), U | A), 0]);
    for (const i of [0, 4, 6, 511]) expect(f.spte(dp, i)).toEqual([TRAP_LO, TRAP_HI]);
    // The PD (level 2): entries 0 (the 4K mapping's table), 1 (this large page, now linked) and 2
    // (the read-only-PDE table) are present in the guest, the rest not: `if (r || is_present_gpte(pt[j]))
    // sp->spt[i+j] = shadow_trap_nonpresent_pte; else ... shadow_notrap_nonpresent_pte;`
    const pd = f.page(2);
    expect(f.spte(pd, 0)).toEqual([TRAP_LO, TRAP_HI]);
    expect(f.spte(pd, 1)).toEqual([f.kvm.fmt.shadowNonLeafLo(f.kvm.sp.pfn[dp]!), 0]);
    expect(f.spte(pd, 2)).toEqual([TRAP_LO, TRAP_HI]);
    for (const i of [3, 32, 511]) expect(f.spte(pd, i)).toEqual([0, 0]);
  });

  it('mmu_convert_notrap: `if (pt[i] == shadow_notrap_nonpresent_pte) __set_spte(&pt[i], shadow_trap_nonpresent_pte);`', () => {
    const f = setup({ kernel: 'v3.0' });
    f.fault(BASE_VPN + 3, 0);
    const pt = f.page(1);
    f.kvm.resetCounters();
    f.mmu.convertNotrap(pt);
    // Entries 17..511 were notrap (the guest table has 17 present entries, 0..16; 3 is the leaf,
    // the others trap).
    for (const i of [0, 16, 17, 200, 511]) expect(f.spte(pt, i)).toEqual([TRAP_LO, TRAP_HI]);
    expect(f.spte(pt, 3)).toEqual([leaf(f.pfn(DATA + 3), W | U | A), 0]);
    expect(f.stat('sptes_written')).toBe(512 - 17);
  });

  it('without bypass_guest_pf: `if (shadow_trap_nonpresent_pte == shadow_notrap_nonpresent_pte) return;`', () => {
    const f = setup({ kernel: 'v3.0', bypass: false });
    f.fault(BASE_VPN + 3, 0);
    const pt = f.page(1);
    f.kvm.resetCounters();
    f.mmu.convertNotrap(pt);
    expect(f.spte(pt, 200)).toEqual([0, 0]);
    expect(f.stat('sptes_written')).toBe(0);
  });

  it('v3.0 without bypass_guest_pf: a new page is all zero (no prefetch_page values)', () => {
    const f = setup({ kernel: 'v3.0', bypass: false });
    f.fault(LARGE_VPN + 5, 0);
    const dp = f.page(1, true);
    expect(f.spte(dp, 0)).toEqual([0, 0]);
    expect(f.spte(f.page(2), 0)).toEqual([0, 0]);
  });
});

describe('kvm_mmu_get_page: a new indirect page write-protects its guest table', () => {
  it('`if (rmap_write_protect(vcpu->kvm, gfn)) kvm_flush_remote_tlbs(vcpu->kvm);`', () => {
    const f = setup();
    const gpt = f.guestTable(BASE_VPN, 1);
    f.fault(KERNEL_VPN + gpt, PF_W); // not yet shadowed: mapped writable
    const dp = f.page(1, true);
    expect(f.spte(dp, gpt % 512)).toEqual([leaf(f.pfn(gpt), W | A), 0]);
    f.kvm.resetCounters();
    f.fault(BASE_VPN + 3, 0);
    expect(f.spte(dp, gpt % 512)).toEqual([leaf(f.pfn(gpt), A), 0]);
    expect(f.flushes()).toBe(1);
  });

  it('nothing to write-protect: no flush', () => {
    const f = setup();
    f.fault(BASE_VPN + 3, 0);
    expect(f.flushes()).toBe(0);
  });
});

describe('roots: kvm_mmu_reload, kvm_mmu_load, mmu_sync_roots, mmu_free_roots', () => {
  it('KVM_REQ_MMU_RELOAD: kvm_mmu_unload, then mmu_alloc_shadow_roots finds the same root page again', () => {
    const f = setup();
    const root = f.v.root;
    expect(f.kvm.sp.rootCount[root]).toBe(1);
    f.v.reloadRequested = true;
    shadowMmuLoad(f.kvm, f.mmu, f.v);
    expect(f.v.reloadRequested).toBe(false);
    expect(f.v.root).toBe(root);
    expect(f.kvm.sp.rootCount[root]).toBe(1);
    // mmu_check_root -> kvm_is_visible_gfn: the one memslot search of the reload (the page is
    // found in the hash: no write protection, no account_shadowed).
    expect(f.stat('memslot_lookups')).toBe(1);
  });

  it('the root: `kvm_mmu_get_page(vcpu, root_gfn, 0, PT64_ROOT_LEVEL, 0, ACC_ALL, NULL)` for gfn = CR3 >> 12', () => {
    const f = setup();
    const root = f.v.root;
    expect(f.kvm.sp.role[root]).toBe(ROLE_CR4_PAE | ROLE_NXE | ROLE_CR0_WP | 4 | (7 << ROLE_ACCESS_SHIFT));
    expect(f.kvm.sp.gfn[root]).toBe(Math.floor(f.v.cr3 / 4096));
    expect(f.kvm.sp.parents[root]).toEqual([]);
  });

  it('a loaded root and no request: kvm_mmu_reload does nothing', () => {
    const f = setup();
    f.v.mmioGvaVpn = 0x1234;
    shadowMmuLoad(f.kvm, f.mmu, f.v);
    expect(f.stat('memslot_lookups')).toBe(0);
    expect(f.v.mmioGvaVpn).toBe(0x1234);
  });

  it('KVM_REQ_MMU_SYNC: kvm_mmu_sync_roots -> mmu_sync_roots: `vcpu_clear_mmio_info(vcpu, ~0ul);`', () => {
    const f = setup();
    f.v.mmioGvaVpn = 0x1234;
    f.v.syncRequested = true;
    shadowMmuLoad(f.kvm, f.mmu, f.v);
    expect(f.v.syncRequested).toBe(false);
    expect(f.v.mmioGvaVpn).toBe(0);
  });

  it('mmu_free_roots, then `if (!VALID_PAGE(vcpu->arch.mmu.root_hpa)) return;` in mmu_sync_roots', () => {
    const f = setup();
    const root = f.v.root;
    shadowMmuUnload(f.kvm, f.v);
    expect(f.v.root).toBe(-1);
    expect(f.kvm.sp.rootCount[root]).toBe(0);
    shadowMmuUnload(f.kvm, f.v); // no root: nothing
    expect(f.kvm.sp.rootCount[root]).toBe(0);
    f.v.mmioGvaVpn = 0x1234;
    f.mmu.syncRoots(f.v);
    expect(f.v.mmioGvaVpn).toBe(0x1234);
    // kvm_mmu_load: a new root (the same page, root_count 1 again) and mmu_sync_roots.
    shadowMmuLoad(f.kvm, f.mmu, f.v);
    expect(f.v.root).toBe(root);
    expect(f.kvm.sp.rootCount[root]).toBe(1);
    expect(f.v.mmioGvaVpn).toBe(0);
  });

  it('kvm_mmu_sync_roots takes mmu_lock once', () => {
    const f = setup();
    f.mmu.kvmMmuSyncRoots(f.v);
    expect(f.kvm.acct.byComponent[C.mmu_lock]).toBe(f.kvm.cost.mmu_lock);
  });

  it('FNAME(page_fault) takes mmu_lock once for a mapped fault, and not for a guest fault', () => {
    const f = setup();
    f.fault(BASE_VPN + 3, 0);
    expect(f.kvm.acct.byComponent[C.mmu_lock]).toBe(f.kvm.cost.mmu_lock);
    f.kvm.resetCounters();
    f.fault(0x10, 0); // gva 0x10000: no guest mapping
    expect(f.kvm.acct.byComponent[C.mmu_lock]).toBe(0);
  });
});

/** Shadow the 4K mapping's tables with SPTEs 0..7 mapped (a fault on 3, neighbours resident), the
 *  MMIO SPTE at 16 (3.1), then make the last-level page unsync: a write through the kernel alias of
 *  its guest table (set_spte -> mmu_need_write_protect -> kvm_unsync_pages). */
function unsyncFixture(kernel: Kernel, bypass?: boolean) {
  const f = setup({ kernel, bypass });
  for (let i = 0; i < 8; i++) f.resident(DATA + i);
  f.fault(BASE_VPN + 3, 0);
  f.fault(BASE_VPN + 16, 0);
  const pt = f.page(1);
  const gpt = f.kvm.sp.gfn[pt]!;
  f.fault(KERNEL_VPN + gpt, PF_W);
  expect(f.kvm.sp.unsync[pt]).toBeTruthy();
  f.kvm.resetCounters();
  return { ...f, pt, gpt };
}

describe('FNAME(sync_page)', () => {
  it('v3.1: invalid gPTEs dropped, another gfn dropped, the rest set_spte(speculative, !can_unsync); W lost -> flush', () => {
    const f = unsyncFixture('v3.1');
    const { pt, gpt } = f;
    f.gpte(gpt, 0, 0); // not present
    f.gpte(gpt, 1, (DATA + 1) * 4096 + (P | W | U | D)); // not accessed
    f.gpte(gpt, 2, (DATA + 9) * 4096 + (P | W | U | A | D)); // another gfn
    f.gpte(gpt, 4, (DATA + 4) * 4096 + (P | U | A | D)); // read-only
    f.gpte(gpt, 5, (DATA + 5) * 4096 + (P | W | U | A)); // clean
    f.gpte(gpt, 6, (DATA + 6) * 4096 + (P | W | U | A | D), NX_HI);
    f.gpte(gpt, 16, NIC_GFN * 4096 + (P | W | U | A)); // the MMIO gPTE, now clean
    expect(f.mmu.syncPage(f.v, pt)).toBe(0); // `return !nr_present;`
    for (const i of [0, 1, 2]) expect(f.spte(pt, i)).toEqual([0, 0]);
    expect([0, 1, 2].map((i) => f.rmapOf(DATA + i).length)).toEqual([0, 0, 0]);
    // set_spte(vcpu, &sp->spt[i], pte_access, 0, 0, PT_PAGE_TABLE_LEVEL, gfn, spte_to_pfn(sp->spt[i]),
    // true, false, host_writable): speculative, so A goes.
    expect(f.spte(pt, 3)).toEqual([leaf(f.pfn(DATA + 3), W | U), 0]);
    expect(f.spte(pt, 4)).toEqual([leaf(f.pfn(DATA + 4), U), 0]);
    expect(f.spte(pt, 5)).toEqual([leaf(f.pfn(DATA + 5), U), 0]);
    expect(f.spte(pt, 6)).toEqual([leaf(f.pfn(DATA + 6), W | U), NX_HI]);
    expect(f.spte(pt, 7)).toEqual([leaf(f.pfn(DATA + 7), W | U), 0]);
    expect(f.rmapOf(DATA + 3)).toEqual([f.word(pt, 3)]); // set_spte adds no rmap
    // sync_mmio_spte: the same gfn: `(*nr_present)++; mark_mmio_spte(sptep, gfn, access);` with
    // pte_access = role.access & gpte_access(vcpu, gpte, true): U|X -> U kept.
    expect(f.spte(pt, 16)).toEqual([(NIC_GFN * 4096 + P + U) >>> 0, MMIO_HI]);
    // `if (is_writable_pte(entry) && !is_writable_pte(*sptep)) kvm_flush_remote_tlbs(vcpu->kvm);`: 4 and 5.
    expect(f.flushes()).toBe(2);
  });

  it('v3.1: an MMIO SPTE whose gPTE maps another gfn is cleared (mmu_spte_clear_no_track); nothing left -> 1', () => {
    const f = setup();
    f.fault(BASE_VPN + 16, 0); // only the MMIO SPTE (neighbours 17..23 not present)
    const pt = f.page(1);
    const gpt = f.kvm.sp.gfn[pt]!;
    f.gpte(gpt, 16, (NIC_GFN + 1) * 4096 + (P | W | U | A | D));
    f.kvm.resetCounters();
    expect(f.mmu.syncPage(f.v, pt)).toBe(1);
    expect(f.spte(pt, 16)).toEqual([0, 0]);
    expect(f.stat('sptes_written')).toBe(1);
  });

  it('v3.1: the same MMIO gfn keeps the page (nr_present 1)', () => {
    const f = setup();
    f.fault(BASE_VPN + 16, 0);
    const pt = f.page(1);
    f.kvm.resetCounters();
    const before = f.events('mark_mmio_spte').length;
    expect(f.mmu.syncPage(f.v, pt)).toBe(0);
    expect(f.spte(pt, 16)).toEqual([(NIC_GFN * 4096 + P + W + U) >>> 0, MMIO_HI]);
    // mark_mmio_spte: `access &= ACC_WRITE_MASK | ACC_USER_MASK; trace_mark_mmio_spte(sptep, gfn, access);`
    expect(f.events('mark_mmio_spte').slice(before).map((e) => e.fields)).toEqual([{ sptep: '0x' + (f.kvm.sp.pfn[pt]! * 4096 + 16 * 8).toString(16), gfn: '0xfebf0', access: '0x6' }]);
    expect(f.stat('mmio_sptes_created')).toBe(1);
  });

  it('v3.1: a present SPTE whose gPTE went away: dropped, nothing present -> 1 (zap the page)', () => {
    const f = setup();
    f.fault(BASE_VPN + 3, 0);
    const pt = f.page(1);
    f.gpte(f.kvm.sp.gfn[pt]!, 3, 0);
    expect(f.mmu.syncPage(f.v, pt)).toBe(1);
    expect(f.spte(pt, 3)).toEqual([0, 0]);
    expect(f.rmapOf(DATA + 3)).toEqual([]);
  });

  it('v3.0 (bypass): an unsync page drops to trap, not-present gPTEs included; trap entries are skipped', () => {
    const f = unsyncFixture('v3.0');
    const { pt, gpt } = f;
    f.gpte(gpt, 0, 0); // not present: `if (!sp->unsync) nonpresent = notrap` does not apply
    f.gpte(gpt, 2, (DATA + 9) * 4096 + (P | W | U | A | D));
    f.gpte(gpt, 5, (DATA + 5) * 4096 + (P | W | U | A)); // clean: 3.0 set_spte's `dirty` argument
    f.gpte(gpt, 9, (DATA + 9) * 4096 + (P | W | U | A | D)); // SPTE 9 is trap: `if (!is_shadow_present_pte(...)) continue;`
    expect(f.mmu.syncPage(f.v, pt)).toBe(0);
    expect(f.spte(pt, 0)).toEqual([TRAP_LO, TRAP_HI]);
    expect(f.spte(pt, 2)).toEqual([TRAP_LO, TRAP_HI]);
    expect(f.spte(pt, 3)).toEqual([leaf(f.pfn(DATA + 3), W | U), 0]);
    expect(f.spte(pt, 5)).toEqual([leaf(f.pfn(DATA + 5), U), 0]);
    expect(f.spte(pt, 9)).toEqual([TRAP_LO, TRAP_HI]);
    expect(f.rmapOf(DATA + 9)).toEqual([]);
    expect(f.flushes()).toBe(1); // entry 5 lost W
  });

  it('v3.0 without bypass: drops go to 0', () => {
    const f = unsyncFixture('v3.0', false);
    f.gpte(f.gpt, 0, 0);
    f.gpte(f.gpt, 2, (DATA + 9) * 4096 + (P | W | U | A | D));
    expect(f.mmu.syncPage(f.v, f.pt)).toBe(0);
    expect(f.spte(f.pt, 0)).toEqual([0, 0]);
    expect(f.spte(f.pt, 2)).toEqual([0, 0]);
  });

  it('set_spte from sync_page: a read-only SPTE of a shadowed guest table stays read-only (mmu_need_write_protect, !can_unsync)', () => {
    const f = setup();
    const gpt = f.guestTable(BASE_VPN, 1);
    const gpd = f.guestTable(BASE_VPN, 2);
    f.resident(gpd);
    // gPTE 0 maps the guest's own page directory, which KVM shadows (a level-2 page).
    f.gpte(gpt, 0, gpd * 4096 + (P | W | U | A | D));
    f.fault(BASE_VPN + 3, 0);
    const pt = f.page(1);
    // The prefetch: set_spte -> mmu_need_write_protect: `if (s->role.level != PT_PAGE_TABLE_LEVEL)
    // return 1;` -> read-only, and `kvm_mmu_flush_tlb` in mmu_set_spte.
    expect(f.spte(pt, 0)).toEqual([leaf(f.pfn(gpd), U), 0]);
    expect(f.stat('tlb_flush')).toBe(1);
    f.fault(KERNEL_VPN + gpt, PF_W); // unsync the last-level page
    f.kvm.resetCounters();
    expect(f.mmu.syncPage(f.v, pt)).toBe(0);
    // `if (!can_unsync && is_writable_pte(*sptep)) goto set_pte;` does not apply (read-only); then
    // `if (!can_unsync) return 1;` in mmu_need_write_protect: read-only again, nothing changes.
    expect(f.spte(pt, 0)).toEqual([leaf(f.pfn(gpd), U), 0]);
    expect(f.flushes()).toBe(0);
  });
});

describe('FNAME(invlpg)', () => {
  it('a sync leaf page: `if (!sp->unsync) break;` nothing dropped, no pte write; the MMIO info of that gva cleared', () => {
    const f = setup({ oos: false });
    f.fault(BASE_VPN + 3, 0);
    const pt = f.page(1);
    f.kvm.resetCounters();
    f.v.mmioGvaVpn = BASE_VPN + 3;
    f.mmu.invlpg(f.v, BASE_VPN + 3);
    expect(f.v.mmioGvaVpn).toBe(0); // vcpu_clear_mmio_info(vcpu, gva)
    expect(f.spte(pt, 3)).toEqual([leaf(f.pfn(DATA + 3), W | U | A), 0]);
    expect(f.stat('mmu_pte_write')).toBe(0);
    expect(f.flushes()).toBe(0);
    expect(f.stat('sptes_written')).toBe(0);
    expect(f.kvm.acct.byComponent[C.mmu_lock]).toBe(f.kvm.cost.mmu_lock);
  });

  it('vcpu_clear_mmio_info of another gva leaves the cached one', () => {
    const f = setup();
    f.v.mmioGvaVpn = BASE_VPN + 4;
    f.mmu.invlpg(f.v, BASE_VPN + 3);
    expect(f.v.mmioGvaVpn).toBe(BASE_VPN + 4);
  });

  for (const kernel of ['v3.0', 'v3.1'] as Kernel[]) {
    it(`${kernel}: an unsync page's present leaf: drop_spte, kvm_flush_remote_tlbs, kvm_mmu_pte_write(pte_gpa) maps it again`, () => {
      const f = unsyncFixture(kernel, kernel === 'v3.0' ? false : undefined);
      const { pt } = f;
      f.mmu.invlpg(f.v, BASE_VPN + 3);
      // need_flush = 1 -> one remote flush; then kvm_mmu_pte_write(vcpu, pte_gpa, NULL, 8, 0): the
      // gPTE at gfn << 12 + 3 * 8 is re-read, mmu_page_zap_pte, and FNAME(update_pte) maps it
      // speculatively (mmu_set_spte ... true: no A; last_pte_updated = sptep).
      expect(f.flushes()).toBe(1);
      expect(f.stat('mmu_pte_write')).toBe(1);
      expect(f.stat('mmu_pte_updated')).toBe(1);
      expect(f.spte(pt, 3)).toEqual([leaf(f.pfn(DATA + 3), W | U), 0]);
      expect([f.v.lastPteUpdated, f.v.lastPteGfn]).toEqual([f.word(pt, 3), DATA + 3]);
      expect(f.rmapOf(DATA + 3)).toEqual([f.word(pt, 3)]);
    });
  }

  it('v3.1: an unsync page\'s MMIO leaf is cleared (no flush), then re-installed by update_pte', () => {
    const f = unsyncFixture('v3.1');
    const { pt } = f;
    f.mmu.invlpg(f.v, BASE_VPN + 16);
    expect(f.flushes()).toBe(0);
    expect(f.stat('mmu_pte_write')).toBe(1);
    expect(f.stat('mmio_sptes_created')).toBe(1);
    expect(f.spte(pt, 16)).toEqual([(NIC_GFN * 4096 + P + W + U) >>> 0, MMIO_HI]);
    expect([f.v.lastPteUpdated, f.v.lastPteGfn]).toEqual([f.word(pt, 16), NIC_GFN]);
  });

  it('v3.1: an unsync page\'s empty leaf: nothing to drop, no flush, but the gPTE is still re-read', () => {
    const f = unsyncFixture('v3.1');
    f.mmu.invlpg(f.v, BASE_VPN + 12); // gPTE 12 present, its page not resident: update_pte gives up
    expect(f.flushes()).toBe(0);
    expect(f.stat('mmu_pte_write')).toBe(1);
    expect(f.spte(f.pt, 12)).toEqual([0, 0]);
  });

  it('v3.0: an unsync page\'s non-present leaf is stored over with trap, then zapped by the pte write', () => {
    // 3.0.1 FNAME(invlpg): `} else __set_spte(sptep, shadow_trap_nonpresent_pte);`, then
    // kvm_mmu_pte_write(vcpu, pte_gpa, NULL, ...) -> mmu_pte_write_zap_pte, whose last line is
    // `__set_spte(spte, shadow_trap_nonpresent_pte);` for any old value (mmu.c:3160): two stores.
    // 3.1.10 stores neither: `else if (is_mmio_spte(*sptep))` and mmu_page_zap_pte's same test.
    for (const [kernel, stores] of [['v3.0', 2], ['v3.1', 0]] as const) {
      const f = unsyncFixture(kernel, kernel === 'v3.0' ? true : undefined);
      f.mmu.invlpg(f.v, BASE_VPN + 12); // gPTE 12 present, its page not resident: update_pte gives up
      expect(f.stat('sptes_written')).toBe(stores);
      expect(f.spte(f.pt, 12)).toEqual(kernel === 'v3.0' ? [TRAP_LO, TRAP_HI] : [0, 0]);
    }
  });

  it('a gva whose shadow walk ends above the leaf (root entry not present): nothing', () => {
    const f = unsyncFixture('v3.1');
    f.mmu.invlpg(f.v, 0x10); // gva 0x10000: PML4 index 0, never shadowed
    expect(f.stat('mmu_pte_write')).toBe(0);
    expect(f.flushes()).toBe(0);
  });

  it('oos_shadow on but nothing unsync: the root has no unsync children, the walk stops there', () => {
    const f = setup();
    f.fault(BASE_VPN + 3, 0);
    f.kvm.resetCounters();
    f.mmu.invlpg(f.v, BASE_VPN + 3);
    expect(f.stat('mmu_pte_write')).toBe(0);
    expect(f.spte(f.page(1), 3)).toEqual([leaf(f.pfn(DATA + 3), W | U | A), 0]);
  });
});

describe('FNAME(update_pte) (mmu_pte_write_new_pte)', () => {
  function upd(kernel: Kernel, opts: Opts = {}) {
    const f = setup({ kernel, bypass: kernel === 'v3.0' ? false : undefined, ...opts });
    f.fault(BASE_VPN + 3, 0);
    const pt = f.page(1);
    f.kvm.resetCounters();
    f.v.exitClass = -1;
    return { ...f, pt };
  }

  it('v3.1: a gfn with no slot: gfn_to_pfn_atomic gives bad_pfn, mmu_invalid_pfn lets it through: an MMIO SPTE', () => {
    const f = upd('v3.1');
    f.mmu.updatePte(f.v, f.pt, 9, NOSLOT_GFN * 4096 + (P | W | U | A), 0);
    // mark_mmio_spte with the clean gPTE's access (U|X: W dropped) & (W|U) = U.
    expect(f.spte(f.pt, 9)).toEqual([(NOSLOT_GFN * 4096 + P + U) >>> 0, MMIO_HI]);
    expect(f.events('mark_mmio_spte').map((e) => e.fields)).toEqual([{ sptep: '0x' + (f.kvm.sp.pfn[f.pt]! * 4096 + 9 * 8).toString(16), gfn: '0x10000', access: '0x4' }]);
    // speculative: last_pte_updated/last_pte_gfn, and no emulation or fault class.
    expect([f.v.lastPteUpdated, f.v.lastPteGfn]).toEqual([f.word(f.pt, 9), NOSLOT_GFN]);
    expect(f.v.exitClass).toBe(-1);
  });

  it('v3.0: `if (is_error_pfn(pfn)) return;` for a gfn with no slot', () => {
    const f = upd('v3.0');
    f.mmu.updatePte(f.v, f.pt, 9, NOSLOT_GFN * 4096 + (P | W | U | A | D), 0);
    expect(f.spte(f.pt, 9)).toEqual([0, 0]);
    expect(f.stat('mmio_sptes_created')).toBe(0);
  });

  it('v3.1 with mmio_caching off: no MMIO SPTE', () => {
    const f = upd('v3.1', { mmioCaching: false });
    f.mmu.updatePte(f.v, f.pt, 9, NOSLOT_GFN * 4096 + (P | W | U | A | D), 0);
    expect(f.spte(f.pt, 9)).toEqual([0, 0]);
  });

  for (const kernel of ['v3.0', 'v3.1'] as Kernel[]) {
    it(`${kernel}: a page not resident (fault pfn) is not mapped; a resident one is, speculatively`, () => {
      const f = upd(kernel);
      f.mmu.updatePte(f.v, f.pt, 9, (DATA + 9) * 4096 + (P | W | U | A | D), 0);
      expect(f.spte(f.pt, 9)).toEqual([0, 0]);
      f.resident(DATA + 9);
      f.mmu.updatePte(f.v, f.pt, 9, (DATA + 9) * 4096 + (P | W | U | A | D), 0);
      expect(f.spte(f.pt, 9)).toEqual([leaf(f.pfn(DATA + 9), W | U), 0]);
      expect(f.rmapOf(DATA + 9)).toEqual([f.word(f.pt, 9)]);
      expect([f.v.lastPteUpdated, f.v.lastPteGfn]).toEqual([f.word(f.pt, 9), DATA + 9]);
      expect(f.v.exitClass).toBe(-1);
      expect(f.events('__direct_map')).toEqual([]);
    });

    it(`${kernel}: an invalid gPTE drops the SPTE (prefetch_invalid_gpte) and returns`, () => {
      const f = upd(kernel);
      f.mmu.updatePte(f.v, f.pt, 3, (DATA + 3) * 4096 + (P | W | U | D), 0); // not accessed
      expect(f.spte(f.pt, 3)).toEqual([0, 0]);
      expect(f.rmapOf(DATA + 3)).toEqual([]);
    });
  }

  it('the page\'s role.access limits the SPTE: `pte_access = sp->role.access & FNAME(gpte_access)(...)`', () => {
    const f = setup();
    f.fault(RO_VPN + 2, 0);
    const pt = f.pages(1).find((id) => f.kvm.sp.roleAccess(id) === 5)!;
    f.resident(RO_GFN + 5);
    f.mmu.updatePte(f.v, pt, 5, (RO_GFN + 5) * 4096 + (P | W | U | A | D), 0);
    expect(f.spte(pt, 5)).toEqual([leaf(f.pfn(RO_GFN + 5), U), 0]);
  });
});

describe('memslot searches after the guest walk (gfn_to_memslot and its callers), in kernel order', () => {
  const rep = (gfn: number, n: number) => Array.from({ length: n }, () => gfn);
  function tables(f: ReturnType<typeof setup>, vpn: number) {
    return [4, 3, 2, 1].map((l) => f.guestTable(vpn, l));
  }

  for (const kernel of ['v3.0', 'v3.1'] as Kernel[]) {
    it(`${kernel}: a 4K RAM fault with nothing shadowed below the root`, () => {
      const f = setup({ kernel, bypass: false });
      const [pml4, pdpt, pd, pt] = tables(f, BASE_VPN);
      const got = f.lookups(() => f.fault(BASE_VPN + 3, 0));
      // try_async_pf -> gfn_to_pfn (a 4K leaf: `force_pt_level = 1`, no mapping_level); then FNAME(fetch):
      // gpte_changed(top_level) reads the PML4 entry; per missing level kvm_mmu_get_page ->
      // rmap_write_protect (gfn_to_rmap at 3 levels) and account_shadowed (gfn_to_memslot), then
      // gpte_changed(it.level - 1); set_spte -> mark_page_dirty (writable); mmu_set_spte ->
      // page_header_update_slot (memslot_id), rmap_add (gfn_to_rmap); pte_prefetch ->
      // pte_prefetch_gfn_to_pfn of neighbour 0 (not resident: break).
      expect(got).toEqual([DATA + 3, pml4, ...rep(pdpt, 4), pdpt, ...rep(pd, 4), pd, ...rep(pt, 4), pt, DATA + 3, DATA + 3, DATA + 3, DATA]);
    });
  }

  it('v3.0 with bypass_guest_pf: FNAME(prefetch_page) reads each new indirect page\'s guest table 256 bytes at a time (16 reads)', () => {
    const f = setup({ kernel: 'v3.0' });
    const [pml4, pdpt, pd, pt] = tables(f, BASE_VPN);
    const got = f.lookups(() => f.fault(BASE_VPN + 3, 0));
    expect(got).toEqual([DATA + 3, pml4, ...rep(pdpt, 4 + 16), pdpt, ...rep(pd, 4 + 16), pd, ...rep(pt, 4 + 16), pt, DATA + 3, DATA + 3, DATA + 3, DATA]);
  });

  it('v3.1: the second 4K piece of a clean large page: mapping_level_dirty_bitmap, mapping_level, gfn_to_pfn; no mark_page_dirty', () => {
    const f = setup();
    f.fault(LARGE_VPN + 5, 0);
    const [pml4, pdpt, pd] = tables(f, LARGE_VPN);
    const g = LARGE_GFN + 6;
    const got = f.lookups(() => f.fault(LARGE_VPN + 6, 0));
    // `if (walker.level >= PT_DIRECTORY_LEVEL) force_pt_level = mapping_level_dirty_bitmap(vcpu,
    // walker.gfn);` (gfn_to_memslot_dirty_bitmap) and `if (!force_pt_level) { level =
    // min(walker.level, mapping_level(vcpu, walker.gfn)); ...}` (host_mapping_level ->
    // kvm_host_page_size -> gfn_to_hva); gpte_changed at levels 4, 3, 2; the direct page is there
    // (validate_direct_spte: same access); a read-only SPTE: no mark_page_dirty; update_slot, rmap_add.
    expect(got).toEqual([g, g, g, pml4, pdpt, pd, g, g]);
  });

  it('v3.1: MMIO: the gfn_to_pfn miss, the gpte_changed reads; no lookups for the MMIO SPTE or the invalid neighbours', () => {
    const f = setup();
    f.fault(BASE_VPN + 3, 0);
    const [pml4, pdpt, pd, pt] = tables(f, BASE_VPN);
    const got = f.lookups(() => f.fault(BASE_VPN + 16, 0));
    expect(got).toEqual([NIC_GFN, pml4, pdpt, pd, pt]);
  });

  it('v3.1: prefetched neighbours: pte_prefetch_gfn_to_pfn, then mark_page_dirty only for a writable one', () => {
    const f = setup();
    const gpt = f.guestTable(BASE_VPN, 1);
    f.fault(BASE_VPN + 3, 0);
    f.resident(DATA + 4);
    f.resident(DATA + 5);
    f.gpte(gpt, 4, (DATA + 4) * 4096 + (P | W | U | A)); // clean: read-only
    f.gpte(gpt, 0, 0);
    f.gpte(gpt, 1, 0);
    f.gpte(gpt, 2, 0);
    const [pml4, pdpt, pd] = tables(f, BASE_VPN);
    const got = f.lookups(() => f.fault(BASE_VPN + 3, 0));
    // The leaf is already there (same pfn: was_rmapped, no rmap_add), still writable: mark_page_dirty
    // and update_slot. Neighbours 0..2 not present (no lookup); 4 clean: prefetch, update_slot,
    // rmap_add; 5: prefetch, mark_page_dirty, update_slot, rmap_add; 6 not resident: break.
    expect(got).toEqual([DATA + 3, pml4, pdpt, pd, gpt, DATA + 3, DATA + 3, ...rep(DATA + 4, 3), ...rep(DATA + 5, 4), DATA + 6]);
  });

  it('v3.1 FNAME(sync_page): one kvm_read_guest_atomic per SPTE in use; set_spte skips mark_page_dirty for a writable one', () => {
    const f = unsyncFixture('v3.1');
    const { pt, gpt } = f;
    f.gpte(gpt, 4, (DATA + 4) * 4096 + (P | U | A | D)); // read-only now
    const got = f.lookups(() => f.mmu.syncPage(f.v, pt), false);
    // Entries 0..7 (present) and 16 (MMIO): a read each. `if (!can_unsync && is_writable_pte(*sptep))
    // goto set_pte;` skips mark_page_dirty for the writable ones; entry 4 becomes read-only: none either.
    expect(got).toEqual(rep(gpt, 9));
  });

  it('v3.1 FNAME(sync_page): a read-only SPTE whose gPTE became writable and dirty: mark_page_dirty', () => {
    const f = setup();
    const gpt = f.guestTable(BASE_VPN, 1);
    for (let i = 0; i < 8; i++) f.resident(DATA + i);
    f.gpte(gpt, 5, (DATA + 5) * 4096 + (P | W | U | A)); // clean: prefetched read-only
    f.fault(BASE_VPN + 3, 0);
    const pt = f.page(1);
    f.fault(KERNEL_VPN + gpt, PF_W); // unsync
    f.gpte(gpt, 5, (DATA + 5) * 4096 + (P | W | U | A | D));
    const got = f.lookups(() => f.mmu.syncPage(f.v, pt), false);
    // set_spte(can_unsync = 0) on a read-only SPTE: mmu_need_write_protect finds no shadow page of
    // DATA + 5, so W stays and `if (pte_access & ACC_WRITE_MASK) mark_page_dirty(vcpu->kvm, gfn);`
    expect(got).toEqual([...rep(gpt, 6), DATA + 5, gpt, gpt]);
    expect(f.spte(pt, 5)).toEqual([leaf(f.pfn(DATA + 5), W | U), 0]);
  });
});

describe('kvm_mmu_get_page for the shadow MMU', () => {
  it('a hit on a page with unsync children: `kvm_make_request(KVM_REQ_MMU_SYNC, vcpu)` (the root, on a reload)', () => {
    const f = unsyncFixture('v3.1');
    const root = f.v.root;
    expect(f.kvm.sp.unsyncChildren[root]).toBeGreaterThan(0);
    shadowMmuUnload(f.kvm, f.v);
    f.v.syncRequested = false;
    shadowMmuLoad(f.kvm, f.mmu, f.v);
    expect(f.v.root).toBe(root);
    expect(f.v.syncRequested).toBe(true);
  });

  it('a hit on a page without unsync children makes no request', () => {
    const f = setup({ oos: false });
    f.fault(BASE_VPN + 3, 0);
    shadowMmuUnload(f.kvm, f.v);
    shadowMmuLoad(f.kvm, f.mmu, f.v);
    expect(f.v.syncRequested).toBe(false);
  });

  it('a hit on a sync page without unsync children marks no parent unsync (`} else if (sp->unsync)`)', () => {
    // 3.1.10 kvm_mmu_get_page: `if (sp->unsync_children) { ...; kvm_mmu_mark_parents_unsync(sp); } else
    // if (sp->unsync) kvm_mmu_mark_parents_unsync(sp);`: neither holds for a sync leaf table.
    const f = setup();
    f.fault(BASE_VPN + 3, 0);
    const pt = f.page(1);
    const pd = f.page(2);
    expect(f.mmu.getShadowPage(f.v, f.kvm.sp.gfn[pt]!, f.kvm.sp.role[pt]!, f.word(pd, 5))).toBe(pt);
    expect(f.kvm.sp.unsyncChildren[pd]).toBe(0);
  });

  it('a hit on an unsync page: kvm_sync_page_transient syncs it (still unsync) and the page is returned, parent added', () => {
    const f = unsyncFixture('v3.1');
    const { pt, gpt } = f;
    const pd = f.page(2);
    const pw = f.word(pd, 5); // a second parent SPTE for the test
    const got = f.mmu.getShadowPage(f.v, gpt, f.kvm.sp.role[pt]!, pw);
    expect(got).toBe(pt);
    expect(f.kvm.sp.unsync[pt]).toBeTruthy(); // __kvm_sync_page(..., clear_unsync = false)
    expect(f.kvm.sp.parents[pt]).toEqual([f.word(pd, 0), pw]); // mmu_page_add_parent_pte
    // FNAME(sync_page) ran: set_spte(..., speculative = true, ...) took A off the faulted SPTE.
    expect(f.spte(pt, 3)).toEqual([leaf(f.pfn(DATA + 3), W | U), 0]);
  });

  it('a hit on an unsync page whose sync fails (nothing present): `break`, and a new page is made', () => {
    const f = unsyncFixture('v3.1');
    const { pt, gpt } = f;
    for (let i = 0; i < 17; i++) f.gpte(gpt, i, 0);
    const got = f.mmu.getShadowPage(f.v, gpt, f.kvm.sp.role[pt]!, -1);
    // The old page was zapped (its frame may be reused): the page returned is a fresh one, sync,
    // with empty SPTEs (init_shadow_page_table), and `++vcpu->kvm->stat.mmu_cache_miss;`.
    expect(f.kvm.sp.gfn[got]).toBe(gpt);
    expect(f.kvm.sp.unsync[got]).toBeFalsy();
    expect(f.spte(got, 3)).toEqual([0, 0]);
    expect(f.stat('mmu_cache_miss')).toBe(1);
    expect(f.stat('mmu_shadow_zapped')).toBeGreaterThanOrEqual(1);
  });

  it('a new upper-level page for a gfn with an unsync page: `if (level > PT_PAGE_TABLE_LEVEL && need_sync) kvm_sync_pages(vcpu, gfn);`', () => {
    const f = unsyncFixture('v3.1');
    const { pt, gpt } = f;
    const alias = f.word(f.page(1, true), gpt % 512);
    expect(f.kvm.host.words[alias]! & W).toBe(W); // the unsync table is mapped writable
    const role2 = (f.kvm.sp.role[pt]! & ~0xf) | 2;
    f.mmu.getShadowPage(f.v, gpt, role2, -1);
    // rmap_write_protect(gfn) found the writable alias: kvm_flush_remote_tlbs; kvm_sync_pages
    // synced the unsync page (kvm_unlink_unsync_page: no longer unsync).
    expect(f.kvm.host.words[alias]! & W).toBe(0);
    expect(f.flushes()).toBeGreaterThanOrEqual(1);
    expect(f.kvm.sp.unsync[pt]).toBeFalsy();
  });

  it('a new last-level page for that gfn (another role): no kvm_sync_pages, the unsync page stays unsync', () => {
    const f = unsyncFixture('v3.1');
    const { pt, gpt } = f;
    const role1 = (f.kvm.sp.role[pt]! & ~(7 << ROLE_ACCESS_SHIFT)) | (5 << ROLE_ACCESS_SHIFT);
    const got = f.mmu.getShadowPage(f.v, gpt, role1, -1);
    expect(got).not.toBe(pt);
    expect(f.kvm.sp.unsync[pt]).toBeTruthy();
  });

  for (const kernel of ['v3.0', 'v3.1'] as Kernel[]) {
    it(`${kernel}: a direct page neither write-protects nor accounts its gfn (\`if (!direct)\`), nor reads a guest table`, () => {
      const f = setup({ kernel });
      const [pml4, pdpt, pd] = [4, 3, 2].map((l) => f.guestTable(LARGE_VPN, l));
      const g = LARGE_GFN + 5;
      const extra = kernel === 'v3.0' ? 16 : 0; // FNAME(prefetch_page) of each new indirect page
      const rep = (x: number, n: number) => Array.from({ length: n }, () => x);
      const got = f.lookups(() => f.fault(LARGE_VPN + 5, 0));
      expect(got).toEqual([g, g, g, pml4, ...rep(pdpt, 4 + extra), pdpt, ...rep(pd, 4 + extra), pd, g, g]);
    });
  }
});

describe('more branches', () => {
  it('the walker\'s error code for a user read of a supervisor page (P|U) and a fetch from an NX page (P|F)', () => {
    const f = setup();
    // FNAME(page_fault) walks with `error_code` (W|U|F of it) and injects walker.fault.error_code.
    f.fault(KERNEL_VPN + 5, PF_U);
    expect(f.v.guestFaultCode).toBe(P | PF_U);
    const gpt = f.guestTable(BASE_VPN, 1);
    f.gpte(gpt, 6, (DATA + 6) * 4096 + (P | W | U | A | D), NX_HI);
    f.fault(BASE_VPN + 6, 16);
    expect(f.v.guestFaultCode).toBe(P | 16);
    expect(f.stat('pf_guest')).toBe(1);
  });

  it('v3.1: a present RAM SPTE whose gPTE now maps a gfn without a slot: dropped (rmap_remove), flushed, MMIO SPTE', () => {
    const f = setup();
    f.fault(BASE_VPN + 3, 0);
    const pt = f.page(1);
    f.gpte(f.kvm.sp.gfn[pt]!, 3, NOSLOT_GFN * 4096 + (P | W | U | A | D));
    f.kvm.resetCounters();
    // mmu_set_spte: `else if (pfn != spte_to_pfn(*sptep)) { drop_spte(vcpu->kvm, sptep);
    // kvm_flush_remote_tlbs(vcpu->kvm); }`, then set_spte -> set_mmio_spte.
    expect(f.fault(BASE_VPN + 3, 0)).toBe(1);
    expect(f.flushes()).toBe(1);
    expect(f.rmapOf(DATA + 3)).toEqual([]);
    expect(f.spte(pt, 3)).toEqual([(NOSLOT_GFN * 4096 + P + W + U) >>> 0, MMIO_HI]);
  });

  it('v3.0 bypass, a sync page: update_pte with a not-present gPTE writes notrap, with a not-accessed one trap', () => {
    const f = setup({ kernel: 'v3.0' });
    f.fault(BASE_VPN + 3, 0);
    const pt = f.page(1);
    // prefetch_invalid_gpte: `if (!is_present_gpte(gpte)) { if (!sp->unsync) nonpresent =
    // shadow_notrap_nonpresent_pte; goto no_present; }`
    f.mmu.updatePte(f.v, pt, 3, 0, 0);
    expect(f.spte(pt, 3)).toEqual([0, 0]);
    expect(f.rmapOf(DATA + 3)).toEqual([]);
    f.mmu.updatePte(f.v, pt, 9, (DATA + 9) * 4096 + (P | W | U | D), 0);
    expect(f.spte(pt, 9)).toEqual([TRAP_LO, TRAP_HI]);
  });

  it('v3.0 bypass, pte_prefetch meets a trap entry whose gPTE went away: notrap', () => {
    const f = setup({ kernel: 'v3.0' });
    const gpt = f.guestTable(BASE_VPN, 1);
    f.fault(BASE_VPN + 3, 0); // prefetch_page: 8..16 trap
    f.gpte(gpt, 8, 0);
    f.fault(BASE_VPN + 9, 0);
    expect(f.spte(f.page(1), 8)).toEqual([0, 0]);
  });

  it('v3.0 set_spte has no SMEP line: CR0.WP = 0 supervisor write gives W, not U, executable; no smep_andnot_wp', () => {
    const f = setup({ kernel: 'v3.0', bypass: false, cr0wp: false, smep: true });
    f.fault(BASE_VPN + 3, 0);
    const pt = f.page(1);
    f.gpte(f.kvm.sp.gfn[pt]!, 4, (DATA + 4) * 4096 + (P | U | A | D));
    f.fault(BASE_VPN + 4, PF_W);
    expect(f.spte(pt, 4)).toEqual([leaf(f.pfn(DATA + 4), W | A), 0]);
    expect(f.kvm.sp.role[pt]).toBe(ROLE_CR4_PAE | ROLE_NXE | 1 | (7 << ROLE_ACCESS_SHIFT));
  });
});

describe('kvm_mmu_free_some_pages', () => {
  // `if (unlikely(kvm_mmu_available_pages(vcpu->kvm) < KVM_MIN_FREE_MMU_PAGES)) __kvm_mmu_free_some_pages(vcpu);`
  // with KVM_MIN_FREE_MMU_PAGES 5: four pages left below n_max makes it recycle (++mmu_recycled).
  const squeeze = (f: ReturnType<typeof setup>) => {
    f.kvm.sp.nMax = f.kvm.sp.nUsed + 4;
  };

  it('FNAME(page_fault) calls it under mmu_lock before FNAME(fetch)', () => {
    const f = setup();
    squeeze(f);
    f.fault(BASE_VPN + 3, 0);
    expect(f.stat('mmu_recycled')).toBeGreaterThan(0);
  });

  it('not on a guest fault, nor on v3.0\'s MMIO path (both return before spin_lock)', () => {
    const f = setup();
    squeeze(f);
    f.fault(0x10, 0);
    expect(f.stat('mmu_recycled')).toBe(0);
    const g = setup({ kernel: 'v3.0' });
    squeeze(g);
    g.fault(BASE_VPN + 16, 0);
    expect(g.stat('mmu_recycled')).toBe(0);
  });

  it('mmu_alloc_shadow_roots calls it before kvm_mmu_get_page of the root', () => {
    const f = setup();
    f.fault(BASE_VPN + 3, 0);
    shadowMmuUnload(f.kvm, f.v);
    f.kvm.resetCounters();
    squeeze(f);
    shadowMmuLoad(f.kvm, f.mmu, f.v);
    expect(f.stat('mmu_recycled')).toBeGreaterThan(0);
  });
});

describe('details of FNAME(fetch) and mmu_set_spte', () => {
  it('the indirect pages\' role.access is gw->pt_access (the levels above the leaf), not the leaf\'s access', () => {
    const f = setup();
    const gpt = f.guestTable(BASE_VPN, 1);
    f.gpte(gpt, 3, (DATA + 3) * 4096 + (P | A | D), NX_HI); // supervisor, read-only, NX leaf
    f.fault(BASE_VPN + 3, 0);
    const pt = f.page(1);
    expect(f.kvm.sp.roleAccess(pt)).toBe(7);
    expect(f.spte(pt, 3)).toEqual([leaf(f.pfn(DATA + 3), A), NX_HI]);
  });

  it('a fault at index 11: gw->prefetch_ptes[index] with `index = (pte_gpa - base_gpa) / sizeof(pt_element_t)` = 3', () => {
    const f = setup();
    expect(f.fault(BASE_VPN + 11, 0)).toBe(0);
    expect(f.spte(f.page(1), 11)).toEqual([leaf(f.pfn(DATA + 11), W | U | A), 0]);
  });

  for (const level of [1, 2]) {
    it(`gpte_changed at level ${level}: \`curr_pte != gw->ptes[level - 1]\` also sees a change of the high half only`, () => {
      const f = setup();
      f.afterWalk((g) => {
        const gpa = g[level]!;
        // set NX (bit 63) in the walked entry, leave the low half
        const words = f.kvm.host.words;
        const gfn = Math.floor(gpa / 4096);
        const hpfn = f.pfn(gfn);
        const w = f.kvm.host.entryWord(hpfn, (gpa % 4096) / 8);
        words[w + 1] = (words[w + 1]! | NX_HI) >>> 0;
      });
      expect(f.fault(BASE_VPN + 3, 0)).toBe(0);
      expect(f.events('__direct_map')).toEqual([]);
      expect(f.kvm.sp.parents[f.page(level)]).toEqual([]);
      expect(f.spte(f.page(level + 1), 0)).toEqual([0, 0]);
    });
  }

  it('the spurious check compares this SPTE\'s own halves (a neighbour with NX does not matter)', () => {
    const f = setup();
    const gpt = f.guestTable(BASE_VPN, 1);
    for (const i of [2, 4]) f.gpte(gpt, i, (DATA + i) * 4096 + (P | W | U | A | D), NX_HI);
    f.fault(BASE_VPN + 2, 0);
    f.fault(BASE_VPN + 4, 0);
    f.fault(BASE_VPN + 3, 0);
    const pt = f.page(1);
    expect(f.spte(pt, 2)[1]).toBe(NX_HI);
    f.kvm.resetCounters();
    f.fault(BASE_VPN + 3, 0);
    expect(f.v.exitClass).toBe(CLASS_SPURIOUS);
    expect(f.events('__direct_map')).toEqual([]);
    // set_spte: `if (is_writable_pte(entry) && !is_writable_pte(*sptep))`: writable both times, no flush.
    expect(f.flushes()).toBe(0);
  });

  it('a change of the high half only (the gPTE gains NX) is stored', () => {
    const f = setup();
    f.fault(BASE_VPN + 3, 0);
    const pt = f.page(1);
    f.gpte(f.kvm.sp.gfn[pt]!, 3, (DATA + 3) * 4096 + (P | W | U | A | D), NX_HI);
    f.kvm.resetCounters();
    f.fault(BASE_VPN + 3, 0);
    expect(f.spte(pt, 3)).toEqual([leaf(f.pfn(DATA + 3), W | U | A), NX_HI]);
    expect(f.v.exitClass).toBe(CLASS_MAP);
    expect(f.stat('sptes_written')).toBe(1);
  });

  it('oos_shadow = 0: a write-protected leaf gets no mark_page_dirty (`pte_access &= ~ACC_WRITE_MASK`)', () => {
    const f = setup({ oos: false });
    f.fault(BASE_VPN + 3, 0);
    const gpt = f.kvm.sp.gfn[f.page(1)]!;
    f.fault(KERNEL_VPN + gpt, 0); // the direct page exists now
    const got = f.lookups(() => f.fault(KERNEL_VPN + gpt, PF_W));
    // mapping_level_dirty_bitmap, mapping_level, gfn_to_pfn, gpte_changed x3; the SPTE is there
    // (was_rmapped): page_header_update_slot only.
    const [pml4, pdpt, pd] = [4, 3, 2].map((l) => f.guestTable(KERNEL_VPN, l));
    expect(got).toEqual([gpt, gpt, gpt, pml4, pdpt, pd, gpt]);
  });

  it('a large page\'s first fault stores 3 links and the leaf: nothing prefetched into the direct page', () => {
    const f = setup();
    f.fault(BASE_VPN + 3, 0);
    f.kvm.resetCounters();
    f.fault(LARGE_VPN + 5, 0); // PML4 and PDPT entries present: the direct page link and the leaf
    expect(f.stat('sptes_written')).toBe(2);
    const g = setup();
    g.fault(LARGE_VPN + 5, 0);
    expect(g.stat('sptes_written')).toBe(4);
  });
});

describe('after the re-run: era and argument details', () => {
  it('v3.0 bypass: pte_prefetch skips a notrap entry even when its gPTE is now present (`*spte != shadow_trap_nonpresent_pte`)', () => {
    const f = setup({ kernel: 'v3.0' });
    const gpt = f.guestTable(BASE_VPN, 1);
    f.fault(BASE_VPN + 3, 0); // prefetch_page: entries 17.. notrap
    f.resident(DATA + 9);
    f.resident(DATA + 10);
    f.gpte(gpt, 24, (DATA + 9) * 4096 + (P | W | U | A | D));
    f.gpte(gpt, 25, (DATA + 10) * 4096 + (P | W | U | A | D));
    f.fault(BASE_VPN + 25, 0);
    const pt = f.page(1);
    expect(f.spte(pt, 25)).toEqual([leaf(f.pfn(DATA + 10), W | U | A), 0]);
    expect(f.spte(pt, 24)).toEqual([0, 0]);
  });

  it('v3.0 FNAME(sync_page): `if (!is_shadow_present_pte(sp->spt[i])) continue;` skips a trap entry whatever its gPTE', () => {
    const f = unsyncFixture('v3.0');
    f.gpte(f.gpt, 10, 0 * 4096 + (P | W | U | A | D)); // gfn 0, as sp->gfns[10] (never mapped)
    expect(f.mmu.syncPage(f.v, f.pt)).toBe(0);
    expect(f.spte(f.pt, 10)).toEqual([TRAP_LO, TRAP_HI]);
  });

  it('CR0.WP = 0: prefetch, update_pte and sync_page pass user_fault = write_fault = 0, so a read-only gPTE stays read-only and user', () => {
    const f = setup({ cr0wp: false });
    const gpt = f.guestTable(BASE_VPN, 1);
    for (let i = 0; i < 8; i++) f.resident(DATA + i);
    f.resident(DATA + 9);
    f.gpte(gpt, 4, (DATA + 4) * 4096 + (P | U | A | D));
    f.gpte(gpt, 5, (DATA + 5) * 4096 + (P | W | U | A | D));
    f.fault(BASE_VPN + 3, 0);
    const pt = f.page(1);
    // FNAME(pte_prefetch): `mmu_set_spte(vcpu, spte, sp->role.access, pte_access, 0, 0, ...)`
    expect(f.spte(pt, 4)).toEqual([leaf(f.pfn(DATA + 4), U), 0]);
    // FNAME(update_pte): the same zeros
    f.mmu.updatePte(f.v, pt, 9, (DATA + 9) * 4096 + (P | U | A | D), 0);
    expect(f.spte(pt, 9)).toEqual([leaf(f.pfn(DATA + 9), U), 0]);
    // FNAME(sync_page): `set_spte(vcpu, &sp->spt[i], pte_access, 0, 0, ...)`
    f.fault(KERNEL_VPN + gpt, PF_W); // unsync
    f.gpte(gpt, 5, (DATA + 5) * 4096 + (P | U | A | D));
    f.mmu.syncPage(f.v, pt);
    expect(f.spte(pt, 5)).toEqual([leaf(f.pfn(DATA + 5), U), 0]);
  });

  it('FNAME(invlpg) calls kvm_mmu_pte_write with guest_initiated = 0: the fork detector is not touched', () => {
    const f = unsyncFixture('v3.1');
    f.v.lastPtWriteGfn = -1;
    f.mmu.invlpg(f.v, BASE_VPN + 3);
    expect(f.stat('mmu_pte_write')).toBe(1);
    expect(f.v.lastPtWriteGfn).toBe(-1);
  });
});

describe('after the re-run: FNAME(invlpg) and kvm_mmu_get_page details', () => {
  it('a sync leaf page below ancestors with unsync children: the walk reaches it, `if (!sp->unsync) break;`', () => {
    const f = unsyncFixture('v3.1');
    f.fault(RO_VPN + 2, 0); // another last-level page under the same PD, sync
    const pt2 = f.pages(1).find((id) => f.kvm.sp.roleAccess(id) === 5)!;
    const before = f.spte(pt2, 2);
    f.kvm.resetCounters();
    f.mmu.invlpg(f.v, RO_VPN + 2);
    expect(f.spte(pt2, 2)).toEqual(before);
    expect(f.stat('mmu_pte_write')).toBe(0);
    expect(f.flushes()).toBe(0);
  });

  it('an unsync page\'s empty leaf (0): neither present nor MMIO, no store', () => {
    const f = unsyncFixture('v3.1');
    f.mmu.invlpg(f.v, BASE_VPN + 12);
    expect(f.stat('sptes_written')).toBe(0);
  });

  it('a hit on an unsync page: `else if (sp->unsync) kvm_mmu_mark_parents_unsync(sp);` marks the new parent', () => {
    const f = unsyncFixture('v3.1');
    const { pt, gpt } = f;
    const pd = f.page(2);
    const bit = (i: number) => (f.kvm.sp.childBitmap[pd * 16 + (i >>> 5)]! >>> (i & 31)) & 1;
    expect(bit(5)).toBe(0);
    f.mmu.getShadowPage(f.v, gpt, f.kvm.sp.role[pt]!, f.word(pd, 5));
    expect(bit(5)).toBe(1);
  });
});

describe('hash buckets, forced 4K over MMIO, drop_spte next to an MMIO SPTE', () => {
  it('kvm_mmu_get_page: a page of another gfn in the same hash bucket is not a hit (`if (sp->gfn != gfn) continue`)', () => {
    // kvm_page_table_hashfn(gfn) = gfn & ((1 << KVM_MMU_HASH_SHIFT) - 1), KVM_MMU_HASH_SHIFT 10
    // (3.1.10 mmu.c, asm/kvm_host.h): gfns 0x2200 and 0x2600 share bucket 0x200. Two clean 2M guest
    // pages with the same flags want direct pages with the same role; for_each_gfn_sp (3.0.1) /
    // for_each_gfn_indirect_valid_sp's walk of the bucket skips the other gfn's page.
    const f = setup();
    const pd = f.guestTable(LARGE_VPN, 2);
    const second = LARGE_VPN + 1024; // gva 0x8000600000, two PD entries further
    f.gpte(pd, indexOfVpn(second, 2), 0x2600000 + (P | W | U | A | PS));
    f.fault(LARGE_VPN + 5, 0);
    f.fault(second + 5, 0);
    const direct = f.pages(1, true).filter((id) => f.kvm.sp.gfn[id] === 0x2200 || f.kvm.sp.gfn[id] === 0x2600);
    expect(direct.map((id) => f.kvm.sp.gfn[id]).sort()).toEqual([0x2200, 0x2600]);
    expect(f.kvm.sp.role[direct[0]!]).toBe(f.kvm.sp.role[direct[1]!]);
    const dp = direct.find((id) => f.kvm.sp.gfn[id] === 0x2600)!;
    expect(f.spte(dp, 5)[0]! & ~0xfff).toBe(f.pfn(0x2605) * 4096);
  });

  it('v3.1: a guest 2M page over a gfn without a slot: mapping_level_dirty_bitmap forces 4K, so mapping_level is not asked', () => {
    // `if (walker.level >= PT_DIRECTORY_LEVEL) force_pt_level = mapping_level_dirty_bitmap(vcpu,
    // walker.gfn); ... if (!force_pt_level) { level = min(walker.level, mapping_level(vcpu,
    // walker.gfn)); ...}` (3.1.10 paging_tmpl.h FNAME(page_fault)); mapping_level_dirty_bitmap is
    // `return !gfn_to_memslot_dirty_bitmap(vcpu, large_gfn, true);`: no slot -> forced. Then
    // try_async_pf's gfn_to_pfn misses, and FNAME(fetch)'s gpte_changed reads levels 4, 3 and 2.
    const f = setup();
    f.fault(LARGE_VPN + 5, 0); // shadows the guest's PDPT and PD
    const [pml4, pdpt, pd] = [4, 3, 2].map((l) => f.guestTable(LARGE_VPN, l));
    const mmioVpn = LARGE_VPN + 1024;
    f.gpte(pd, indexOfVpn(mmioVpn, 2), 0xfea00000 + (P | W | U | A | D | PS)); // covers the NIC at 0xfebf0000
    const got = f.lookups(() => f.fault(mmioVpn + 0x1f0, 0));
    expect(got).toEqual([NIC_GFN, NIC_GFN, pml4, pdpt, pd]);
    expect(f.stat('mmio_sptes_created')).toBe(1);
  });

  it('v3.1 sync_page: dropping a RAM SPTE right after an MMIO SPTE removes its rmap entry', () => {
    // FNAME(sync_page) (3.1.10): `if (gfn != sp->gfns[i]) { drop_spte(vcpu->kvm, &sp->spt[i]); ...}`;
    // drop_spte: `if (mmu_spte_clear_track_bits(sptep)) rmap_remove(kvm, sptep);` for a present SPTE
    // (is_shadow_present_pte of that SPTE, whatever its neighbour at index 16 holds).
    const f = unsyncFixture('v3.1');
    const { pt, gpt } = f;
    f.resident(DATA + 17);
    f.gpte(gpt, 17, (DATA + 17) * 4096 + (P | W | U | A | D));
    f.fault(BASE_VPN + 17, 0);
    expect(f.rmapOf(DATA + 17)).toEqual([f.word(pt, 17)]);
    expect(f.spte(pt, 16)[1]).not.toBe(0); // the MMIO SPTE's high half: reserved bits 62:maxphyaddr
    f.gpte(gpt, 17, (DATA + 9) * 4096 + (P | W | U | A | D)); // another gfn
    f.mmu.syncPage(f.v, pt);
    expect(f.spte(pt, 17)).toEqual([0, 0]);
    expect(f.rmapOf(DATA + 17)).toEqual([]);
  });
});

describe('mmu_spte_update (3.1) / update_spte (3.0.1): set_spte always stores, keeping the D bit', () => {
  for (const kernel of ['v3.0', 'v3.1'] as Kernel[]) {
    it(`${kernel}: sync_page re-sets an unchanged SPTE (one store each) and keeps the D bit the CPU set`, () => {
      // set_spte ends in `mmu_spte_update(sptep, spte);` (3.1.10 mmu.c:2271) / `update_spte(sptep, spte);`
      // (3.0.1 mmu.c:2081), which for a present old SPTE does `new_spte |= old_spte & shadow_dirty_mask;`
      // (PT_DIRTY_MASK under shadow paging) and then stores, changed or not (__update_clear_spte_fast /
      // __set_spte, or the xchg of the slow path).
      const f = unsyncFixture(kernel, kernel === 'v3.0' ? false : undefined);
      const { pt } = f;
      const w3 = f.word(pt, 3);
      f.kvm.host.words[w3] = (f.kvm.host.words[w3]! | D) >>> 0; // the CPU's D after a guest write
      const present = Array.from({ length: 512 }, (_, i) => f.spte(pt, i)).filter(([lo]) => (lo! & P) !== 0).length;
      f.kvm.resetCounters();
      expect(f.mmu.syncPage(f.v, pt)).toBe(0);
      expect(f.spte(pt, 3)).toEqual([leaf(f.pfn(DATA + 3), W | U | D), 0]); // speculative: A goes, D stays
      // One store per present SPTE; in 3.1 the MMIO SPTE (P set: shadow_mmio_mask includes bit 0)
      // is rewritten too, by sync_mmio_spte -> mark_mmio_spte.
      expect(f.stat('sptes_written')).toBe(present);
    });
  }

  it('v3.1: the D bit is kept for a RAM SPTE right after an MMIO SPTE (its own presence decides)', () => {
    const f = unsyncFixture('v3.1');
    const { pt, gpt } = f;
    f.resident(DATA + 17);
    f.gpte(gpt, 17, (DATA + 17) * 4096 + (P | W | U | A | D));
    f.fault(BASE_VPN + 17, 0);
    const w17 = f.word(pt, 17);
    f.kvm.host.words[w17] = (f.kvm.host.words[w17]! | D) >>> 0;
    f.mmu.syncPage(f.v, pt);
    expect(f.spte(pt, 17)).toEqual([leaf(f.pfn(DATA + 17), W | U | D), 0]);
  });
});
