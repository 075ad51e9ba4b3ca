// The shadow MMU of simulator/kvm/mmu/shadow.ts (ept=0) driven directly, with every expected value
// worked out from the kernel sources (/work/ksrc/v3.1 = 3.1.10, /work/ksrc/v3.0.1: arch/x86/kvm/
// paging_tmpl.h FNAME(page_fault), FNAME(fetch), FNAME(pte_prefetch), FNAME(prefetch_invalid_gpte),
// FNAME(update_pte), FNAME(sync_page), FNAME(invlpg), FNAME(prefetch_page); mmu.c set_spte,
// mmu_set_spte, validate_direct_spte, kvm_mmu_get_page), not from the simulator's output. Written to
// kill the mutants the scenario tests let live (docs/mutation.md).
//
// The fixture: a 4-level guest (EFER.NX) with 16 4K pages at 0x8000000000 -> gpa 0x2000000 whose PTEs
// are "p w u a d" (0x67), a 4K page at 0x8000010000 (index 16 of the same guest table) -> gpa
// 0xfebf0000 (no memslot: MMIO), and a clean 2M page at 0x8000200000 -> gpa 0x2200000. Nothing is
// shadowed below the root until a test calls FNAME(page_fault) (ShadowMmu.pageFault) itself.
import { describe, it, expect } from 'vitest';
import { machine } from './helpers/scenario';
import { S } from '../simulator/trace/stats';
import { ROLE_ACCESS_SHIFT, ROLE_DIRECT } from '../simulator/kvm/mmu/shadow_pages';
import { TRAP_HI, TRAP_LO } from '../simulator/kvm/mmu/spte';
import { CLASS_GUEST_PF, CLASS_MAP, CLASS_MMIO_SLOW, CLASS_SPURIOUS, CLASS_WP_EMULATE } from '../simulator/kvm/fault_class';
import { shadowMmuLoad, shadowMmuUnload } from '../simulator/kvm/mmu/shadow';

type Kernel = 'v3.0' | 'v3.1';

// Guest PTE bits (arch/x86/include/asm/pgtable_types.h): P 0x1, W 0x2, U 0x4, A 0x20, D 0x40, PS 0x80;
// NX is bit 63, i.e. bit 31 of the high word.
const P = 0x1;
const W = 0x2;
const U = 0x4;
const A = 0x20;
const D = 0x40;
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
  /** Guest RAM: entry `i` of guest frame `gfn`. */
  const gpte = (gfn: number, i: number, lo: number, hi = 0) => m.guest.ram.write64(gfn * 4096 + i * 8, lo, hi);
  const events = (name: string) => kvm.trace.records().filter((e) => e.name === name);
  const flushes = () => events('kvm_flush_remote_tlbs').length;
  const rmapOf = (gfn: number) => ((kvm.rmap as unknown as { heads: Map<number, number[]> }).heads.get(gfn) ?? []).slice();
  return { m, kvm, v, mmu: mmu0, stat, fault, pages, page, word, spte, pfn, resident, ptGfn, gpte, events, flushes, rmapOf };
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
    expect(f.stat('sptes_written')).toBe(0);
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
