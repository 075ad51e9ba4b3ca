// The EPT fault path (simulator/kvm/mmu/tdp.ts), KVM's software guest walk (mmu/paging_tmpl.ts), the
// VMX exit handlers (kvm/vmx.ts) and the fault classes' return table (kvm/fault_class.ts), driven
// directly, with exact expected values worked out from the kernel sources (/work/ksrc/v3.0.1 and
// /work/ksrc/v3.1 = 3.1.10: arch/x86/kvm/mmu.c, paging_tmpl.h, vmx.c, x86.c, mmutrace.h), not from
// the simulator's output. Written to kill the mutants the scenario tests let live: every trace
// argument, every counter, every branch (v3.0 vs v3.1, MMIO SPTEs off, spurious vs map, a leaf for
// another pfn, the CR3 paths, the real misconfiguration walk). docs/kernel-paths.md §1, §2, §4, §8.
import { describe, it, expect } from 'vitest';
import { machine, vm, vmVcpus } from './helpers/scenario';
import type { Kvm } from '../simulator/kvm/kvm';
import type { Vcpu } from '../simulator/kvm/vcpu';
import type { Emulator } from '../simulator/kvm/x86/emulate';
import { EMULATE_DO_MMIO, EMULATE_DONE, EMULATE_FAIL } from '../simulator/kvm/x86/emulate';
import type { ShadowMmu } from '../simulator/kvm/mmu/shadow';
import { mmuLoad, mmuUnload, tdpPageFault, tdpRole } from '../simulator/kvm/mmu/tdp';
import { KvmWalker } from '../simulator/kvm/mmu/paging_tmpl';
import { handleCr3Load, handleEptMisconfig, handleEptViolation, handleInvlpg, handlePageFaultException } from '../simulator/kvm/vmx';
import {
  CLASS_GUEST_PF,
  CLASS_GUEST_PF_DIRECT,
  CLASS_MAP,
  CLASS_MMIO_BUG,
  CLASS_MMIO_CACHE,
  CLASS_MMIO_FAST,
  CLASS_MMIO_RETRY,
  CLASS_MMIO_SLOW,
  CLASS_SPURIOUS,
  CLASS_WP_EMULATE,
  FAULT_CLASSES,
  eraReturn,
  noteFault,
} from '../simulator/kvm/fault_class';
import { kvmMmuZapAll } from '../simulator/kvm/memslot_update';
import { RACE_MMU_LOCK } from '../simulator/kvm/races';
import { E } from '../simulator/trace/events';
import { S } from '../simulator/trace/stats';
import { C } from '../simulator/cost/accounting';
import { frameHi, frameOf } from '../simulator/arch/x86/u64';
import { indexOfVpn } from '../simulator/arch/x86/paging';

/** kvm_mmu_page_role as 3.x lays it out (kvm_host.h: level:4, cr4_pae:1, quadrant:2, pad:6, direct:1,
 *  access:3, invalid:1, ...): direct is bit 13, access bits 14-16. init_kvm_tdp_mmu:
 *  `context->base_role.word = 0;`; kvm_mmu_get_page: `role.level = level; role.direct = direct; ...
 *  role.access = access;` with direct 1 and ACC_ALL (7) for every TDP page. */
const tdpRoleWord = (level: number) => level | (1 << 13) | (7 << 14);

/** A low 32 bits of `x << 12` (x < 2^40). */
const lo12 = (x: number) => ((x % 0x100000) * 4096) >>> 0;

/** The ACC_* and mark_mmio_spte constants (mmu.c): ACC_WRITE_MASK = PT_WRITABLE_MASK (2),
 *  ACC_USER_MASK = PT_USER_MASK (4), ACC_ALL = 7; `access &= ACC_WRITE_MASK | ACC_USER_MASK;`. */
const ACC_ALL = 7;
const MMIO_ACCESS = ACC_ALL & (2 | 4);
/** vmx.c ept_set_mmio_spte_mask: `kvm_mmu_set_mmio_spte_mask(0xffull << 49 | 0x6ull);`: high half 0xff << 17. */
const EPT_MMIO_HI = 0xff << 17;
const EPT_MMIO_LO = 0x6;
/** An EPT RAM leaf (set_spte, 3.0.1 and 3.1.10): PT_PRESENT_MASK (R, 1) | PT_WRITABLE_MASK (2) |
 *  shadow_x_mask (VMX_EPT_EXECUTABLE_MASK, 4) | vmx_get_mt_mask's `(MTRR_TYPE_WRBACK <<
 *  VMX_EPT_MT_EPTE_SHIFT) | VMX_EPT_IPAT_BIT` (6 << 3 | 1 << 6) | SPTE_HOST_WRITEABLE (1 << 9). */
const EPT_RAM_BITS = 1 | 2 | 4 | (6 << 3) | (1 << 6) | (1 << 9);
/** __direct_map's non-leaf entry: `__pa(sp->spt) | PT_PRESENT_MASK | PT_WRITABLE_MASK |
 *  shadow_user_mask | shadow_x_mask | shadow_accessed_mask` = | 7 under EPT (user/accessed masks 0). */
const EPT_NONLEAF_BITS = 7;
/** The PFERR bits (kvm_host.h): P 1, W 2, U 4, RSVD 8, FETCH 16. */
const PFERR_PRESENT = 1;
const PFERR_WRITE = 2;
const PFERR_USER = 4;
const PFERR_RSVD = 8;
const PFERR_FETCH = 16;

/** A gfn beyond every memslot (GPA 0xABCDEF1000, below maxphyaddr 40) in a PML4 slot nothing maps. */
const FAR_GFN = 0xabcdef1;
const FAR_GPA = FAR_GFN * 4096;
const NIC_GFN = 0xfebf0;
const NIC_GPA = NIC_GFN * 4096;

interface Ev {
  id: number;
  args: number[];
}

interface Env {
  kvm: Kvm;
  v: Vcpu;
  ev: Ev[];
  /** The RACE_* points passed and the freeSomePages calls, in order. */
  log: string[];
  m: ReturnType<typeof machine>;
}

/** A booted VM (helpers/scenario's BASE: 64M of RAM at 0, the NIC at 0xfebf0000), its trace recorded
 *  from here on with raw arguments. */
function env(yaml: string): Env {
  const m = machine(yaml);
  const kvm = m.kvm;
  const v = kvm.vcpus[0]!;
  const ev: Ev[] = [];
  const log: string[] = [];
  kvm.trace.observe(({ id, args }) => ev.push({ id, args }));
  kvm.races = {
    point(vc, point, level) {
      log.push(`point ${vc.id}:${point}:${level}`);
    },
  };
  const free = kvm.sp.freeSomePages.bind(kvm.sp);
  kvm.sp.freeSomePages = (id: number) => {
    log.push(`free ${id}`);
    free(id);
  };
  return { kvm, v, ev, log, m };
}

const ept = (kernel: 'v3.0' | 'v3.1', mmu = '') => env(vm(kernel, '  - { compute: 1 }').replace(/^kernel: (v3\.\d)$/m, `kernel: $1${mmu ? `\nmmu: { ${mmu} }` : ''}`));

/** The events of one kind, by their raw arguments (trimmed to `n`). */
const args = (e: Env, id: number, n: number) => e.ev.filter((x) => x.id === id).map((x) => x.args.slice(0, n));

/** Snapshot of a counter set, to take differences. */
function counters(kvm: Kvm) {
  return { stats: Float64Array.from(kvm.stats), comp: Float64Array.from(kvm.acct.byComponent) };
}
const dStat = (kvm: Kvm, c: ReturnType<typeof counters>, s: number) => kvm.stats[s]! - c.stats[s]!;
const dComp = (kvm: Kvm, c: ReturnType<typeof counters>, k: number) => kvm.acct.byComponent[k]! - c.comp[k]!;

/** The host word of the EPT entry for `gfn` at each level, read here from the root down (undefined
 *  below a non-present entry), and the host pfn of each table. */
function path(kvm: Kvm, v: Vcpu, gfn: number): { word: (number | undefined)[]; table: (number | undefined)[] } {
  const word: (number | undefined)[] = [];
  const table: (number | undefined)[] = [];
  let t = kvm.sp.pfn[v.root]!;
  for (let level = 4; level >= 1; level--) {
    table[level] = t;
    const w = kvm.host.entryWord(t, indexOfVpn(gfn, level));
    word[level] = w;
    const lo = kvm.host.words[w]!;
    const hi = kvm.host.words[w + 1]!;
    if ((lo & 7) === 0) break;
    t = frameOf(lo, hi);
  }
  return { word, table };
}
const spte = (kvm: Kvm, w: number) => [kvm.host.words[w]!, kvm.host.words[w + 1]!];

/** The rmap of `gfn` (rmap.ts keeps it per gfn). */
const rmapOf = (kvm: Kvm, gfn: number) => [...((kvm.rmap as unknown as { heads: Map<number, number[]> }).heads.get(gfn) ?? [])];

/** An emulator stub: x86_emulate_instruction returning `er`, counting its calls. */
function fakeEm(er: number): { em: Emulator; calls: number[] } {
  const calls: number[] = [];
  return { em: { emulate: (v: Vcpu) => (calls.push(v.id), er) } as unknown as Emulator, calls };
}

/** The host pfn behind a RAM gfn (slot 0 maps gfn 0.. of the 64M slot). */
const hostPfn = (kvm: Kvm, gfn: number) => kvm.memslots.find(gfn)!.pfnOf(gfn);

describe('mmu_alloc_direct_roots / mmu_free_roots (tdp.ts mmuLoad, mmuUnload)', () => {
  it('the root is the level-4 direct page for gfn 0 with role level 4, direct, ACC_ALL; one root_count per vCPU', () => {
    // mmu_alloc_direct_roots: `sp = kvm_mmu_get_page(vcpu, 0, 0, PT64_ROOT_LEVEL, 1, ACC_ALL, NULL); ++sp->root_count;`
    const e = env(vmVcpus('v3.1', ['      - { compute: 1 }', '      - { compute: 1 }']));
    const { kvm } = e;
    const [v0, v1] = kvm.vcpus;
    expect(v0!.root).toBeGreaterThanOrEqual(0);
    expect(v1!.root).toBe(v0!.root);
    expect(kvm.sp.role[v0!.root]).toBe(tdpRoleWord(4));
    expect(kvm.sp.gfn[v0!.root]).toBe(0);
    expect(kvm.sp.rootCount[v0!.root]).toBe(2);
    expect(kvm.sp.parents[v0!.root]).toEqual([]); // parent_pte NULL
    expect([1, 2, 3, 4].map(tdpRole)).toEqual([1, 2, 3, 4].map(tdpRoleWord));
  });

  it('kvm_mmu_reload with a root: nothing (`if (likely(vcpu->arch.mmu.root_hpa != INVALID_PAGE)) return 0;`)', () => {
    const e = ept('v3.1');
    const { kvm, v, log } = e;
    const root = v.root;
    mmuLoad(kvm, v);
    expect(v.root).toBe(root);
    expect(kvm.sp.rootCount[root]).toBe(1);
    expect(log).toEqual([]);
  });

  it('KVM_REQ_MMU_RELOAD after kvm_mmu_zap_all: kvm_mmu_unload frees the invalid root, mmu_alloc_direct_roots makes a new one', () => {
    // vcpu_enter_guest: `if (kvm_check_request(KVM_REQ_MMU_RELOAD, vcpu)) kvm_mmu_unload(vcpu);` then
    // kvm_mmu_reload. mmu_free_roots: `--sp->root_count; if (!sp->root_count && sp->role.invalid)
    // kvm_mmu_prepare_zap_page(...)`; kvm_mmu_get_page skips the invalid page (`if (sp->role.word !=
    // role.word) continue;`: role.invalid differs) and creates a new root.
    const e = ept('v3.1');
    const { kvm, v, log } = e;
    const old = v.root;
    kvmMmuZapAll(kvm, v);
    kvm.reloadRemoteMmus();
    expect(v.reloadRequested).toBe(true);
    expect(kvm.sp.role[old]).toBe(tdpRoleWord(4) | (1 << 17)); // role.invalid, still the vCPU's root
    log.length = 0;
    e.ev.length = 0;
    mmuLoad(kvm, v);
    expect(v.reloadRequested).toBe(false);
    // (the freed page's id may be reused: the new root is told apart by its valid role and its creation)
    expect(kvm.sp.active.has(v.root)).toBe(true);
    expect(kvm.sp.role[v.root]).toBe(tdpRoleWord(4));
    expect(args(e, E.kvm_mmu_get_page, 4)).toEqual([[0, tdpRoleWord(4), 4, 1]]);
    expect(kvm.sp.rootCount[v.root]).toBe(1);
    // `spin_lock(&vcpu->kvm->mmu_lock); kvm_mmu_free_some_pages(vcpu); sp = kvm_mmu_get_page(...)`
    expect(log).toEqual([`free ${v.id}`]);
    // A second load: the root is there, nothing more.
    mmuLoad(kvm, v);
    expect(log).toEqual([`free ${v.id}`]);
    expect(kvm.sp.rootCount[v.root]).toBe(1);
  });

  it('kvm_mmu_unload: root_hpa = INVALID_PAGE and --root_count; again: nothing (`if (!VALID_PAGE(vcpu->arch.mmu.root_hpa)) return;`)', () => {
    const e = env(vmVcpus('v3.1', ['      - { compute: 1 }', '      - { compute: 1 }']));
    const { kvm } = e;
    const v = kvm.vcpus[0]!;
    const root = v.root;
    mmuUnload(kvm, v);
    expect(v.root).toBe(-1);
    expect(kvm.sp.rootCount[root]).toBe(1);
    mmuUnload(kvm, v);
    expect(kvm.sp.rootCount[root]).toBe(1);
    mmuLoad(kvm, v);
    expect(v.root).toBe(root);
    expect(kvm.sp.rootCount[root]).toBe(2);
  });
});

describe('tdp_page_fault -> __direct_map on RAM (mmu.c 3.0.1:2738, 3.1.10:3047; __direct_map 2251/2445)', () => {
  // A RAM gfn of the 64M slot no one has touched.
  const GFN = 0x2345;

  for (const kernel of ['v3.0', 'v3.1'] as const) {
    it(`${kernel}: first touch: a leaf pfn << 12 | R W X WB IPAT HOST_WRITEABLE, rmap_add, ++pf_fixed, 6 lookups, returns 0`, () => {
      const e = ept(kernel);
      const { kvm, v, ev, log } = e;
      const before = path(kvm, v, GFN);
      const leafBefore = before.word[1] === undefined ? [0, 0] : spte(kvm, before.word[1]!);
      expect(leafBefore).toEqual([0, 0]);
      const c = counters(kvm);
      v.exitClass = -1;
      expect(tdpPageFault(kvm, v, GFN * 4096 + 0x123, PFERR_WRITE)).toBe(0);
      const p = path(kvm, v, GFN);
      const pfn = hostPfn(kvm, GFN);
      const lo = (lo12(pfn) | EPT_RAM_BITS) >>> 0;
      const hi = frameHi(pfn);
      expect(spte(kvm, p.word[1]!)).toEqual([lo, hi]);
      // The __direct_map event: gfn, the SPTE, level 1.
      expect(args(e, E.kvm_set_spte, 4)).toEqual([[GFN, lo, hi, 1]]);
      expect(args(e, E.mark_mmio_spte, 3)).toEqual([]);
      expect(dStat(kvm, c, S.pf_fixed)).toBe(1); // `++vcpu->stat.pf_fixed;`
      expect(dStat(kvm, c, S.mmio_sptes_created)).toBe(0);
      // docs/kernel-paths.md §2.7: mapping_level_dirty_bitmap, kvm_host_page_size, try_async_pf,
      // mark_page_dirty, page_header_update_slot (memslot_id), rmap_add (gfn_to_rmap): 6 H.
      expect(dStat(kvm, c, S.memslot_lookups)).toBe(6);
      expect(dStat(kvm, c, S.memslot_misses)).toBe(0);
      expect(rmapOf(kvm, GFN)).toEqual([p.word[1]]);
      expect(v.exitClass).toBe(CLASS_MAP);
      // spin_lock(&vcpu->kvm->mmu_lock) ... kvm_mmu_free_some_pages(vcpu); __direct_map
      expect(dComp(kvm, c, C.mmu_lock)).toBe(kvm.cost.mmu_lock);
      expect(log).toEqual([`point 0:${RACE_MMU_LOCK}:0`, 'free 0']);
      // No flush: nothing was dropped.
      expect(ev.filter((x) => x.id === E.kvm_flush_remote_tlbs)).toEqual([]);
      // The leaf is written once, plus one non-leaf SPTE per table __direct_map had to create.
      const created = args(e, E.kvm_mmu_get_page, 4).filter((a) => a[3] === 1).length;
      expect(dStat(kvm, c, S.sptes_written)).toBe(1 + created);
    });
  }

  it('spurious: the same leaf already there: stored again, no rmap_add (was_rmapped), still ++pf_fixed; 5 lookups', () => {
    // mmu_set_spte: `} else if (pfn != spte_to_pfn(*sptep)) { ... } else was_rmapped = 1;` then
    // set_spte (mark_page_dirty: 1 lookup) and `page_header_update_slot` (1 lookup);
    // `if (!was_rmapped) { rmap_count = rmap_add(...)`. docs/kernel-paths.md §2.6. set_spte ends in
    // `mmu_spte_update(sptep, spte);` (3.1.10 mmu.c:2271), which stores the unchanged value too.
    const e = ept('v3.1');
    const { kvm, v } = e;
    tdpPageFault(kvm, v, GFN * 4096, 0);
    const p = path(kvm, v, GFN);
    const leaf = spte(kvm, p.word[1]!);
    e.ev.length = 0;
    const c = counters(kvm);
    v.exitClass = -1;
    expect(tdpPageFault(kvm, v, GFN * 4096, PFERR_WRITE)).toBe(0);
    expect(spte(kvm, p.word[1]!)).toEqual(leaf);
    expect(v.exitClass).toBe(CLASS_SPURIOUS);
    expect(dStat(kvm, c, S.pf_fixed)).toBe(1);
    expect(dStat(kvm, c, S.memslot_lookups)).toBe(5);
    expect(dStat(kvm, c, S.sptes_written)).toBe(1);
    expect(rmapOf(kvm, GFN)).toEqual([p.word[1]]);
    expect(args(e, E.kvm_set_spte, 4)).toEqual([]);
    expect(args(e, E.kvm_mmu_get_page, 4)).toEqual([]); // every table is there
  });

  it('only the indexed entry is read at each level: a stray MMIO-like high half in the neighbouring (non-present) level-2 entry changes nothing', () => {
    // for_each_shadow_entry: `iterator->sptep = ((u64 *)__va(iterator->shadow_addr)) + iterator->index;`
    // and __direct_map tests `is_shadow_present_pte(*iterator.sptep)` on that entry only.
    const e = ept('v3.1');
    const { kvm, v } = e;
    tdpPageFault(kvm, v, GFN * 4096, 0);
    const p = path(kvm, v, GFN);
    const w2 = p.word[2]!;
    expect(indexOfVpn(GFN, 2)).toBeGreaterThan(0);
    expect(spte(kvm, w2 - 2)).toEqual([0, 0]); // the entry before it is not present
    kvm.host.words[w2 - 1] = EPT_MMIO_HI; // its high half: the MMIO mask bits
    const leaf = spte(kvm, p.word[1]!);
    e.ev.length = 0;
    const c = counters(kvm);
    expect(tdpPageFault(kvm, v, GFN * 4096, 0)).toBe(0);
    expect(v.exitClass).toBe(CLASS_SPURIOUS);
    expect(args(e, E.kvm_mmu_get_page, 4)).toEqual([]);
    expect(dStat(kvm, c, S.sptes_written)).toBe(1); // the leaf, stored again (mmu_spte_update)
    expect(spte(kvm, p.word[1]!)).toEqual(leaf);
  });

  it('the same pfn with W cleared (kvm_mmu_slot_remove_write_access): rewritten with W, not rmapped again', () => {
    const e = ept('v3.0');
    const { kvm, v } = e;
    tdpPageFault(kvm, v, GFN * 4096, 0);
    const p = path(kvm, v, GFN);
    const [lo, hi] = spte(kvm, p.word[1]!);
    kvm.host.words[p.word[1]!] = (lo! & ~2) >>> 0;
    e.ev.length = 0;
    const c = counters(kvm);
    expect(tdpPageFault(kvm, v, GFN * 4096, PFERR_WRITE)).toBe(0);
    expect(spte(kvm, p.word[1]!)).toEqual([lo, hi]);
    expect(args(e, E.kvm_set_spte, 4)).toEqual([[GFN, lo, hi, 1]]);
    expect(v.exitClass).toBe(CLASS_MAP);
    expect(rmapOf(kvm, GFN)).toEqual([p.word[1]]);
    expect(dStat(kvm, c, S.memslot_lookups)).toBe(5);
    expect(dStat(kvm, c, S.sptes_written)).toBe(1);
    expect(dStat(kvm, c, S.pf_fixed)).toBe(1);
    expect(e.ev.filter((x) => x.id === E.kvm_flush_remote_tlbs)).toEqual([]);
  });

  it('the same pfn and low half, another high half (an ignored bit 52 set): set_spte rewrites it, a map, not spurious', () => {
    // set_spte builds the SPTE from scratch (`spte |= (u64)pfn << PAGE_SHIFT;` ...) and
    // mmu_spte_update(sptep, spte) stores it: the stray bit is gone; was_rmapped (same pfn).
    const e = ept('v3.1');
    const { kvm, v } = e;
    tdpPageFault(kvm, v, GFN * 4096, 0);
    const p = path(kvm, v, GFN);
    const [lo, hi] = spte(kvm, p.word[1]!);
    kvm.host.words[p.word[1]! + 1] = (hi! | 0x100000) >>> 0;
    e.ev.length = 0;
    const c = counters(kvm);
    expect(tdpPageFault(kvm, v, GFN * 4096, 0)).toBe(0);
    expect(spte(kvm, p.word[1]!)).toEqual([lo, hi]);
    expect(args(e, E.kvm_set_spte, 4)).toEqual([[GFN, lo, hi, 1]]);
    expect(v.exitClass).toBe(CLASS_MAP);
    expect(rmapOf(kvm, GFN)).toEqual([p.word[1]]);
    expect(dStat(kvm, c, S.sptes_written)).toBe(1);
  });

  it('a present leaf for another pfn: drop_spte (rmap_remove) and kvm_flush_remote_tlbs first, then the new leaf, rmapped once', () => {
    // mmu_set_spte: `} else if (pfn != spte_to_pfn(*sptep)) { drop_spte(vcpu->kvm, sptep);
    // kvm_flush_remote_tlbs(vcpu->kvm); }`; drop_spte -> rmap_remove -> gfn_to_rmap (1 lookup); then
    // `if (!was_rmapped) rmap_add`: 3 + 1 + 2 + 1 = 7 lookups.
    const e = ept('v3.1');
    const { kvm, v } = e;
    tdpPageFault(kvm, v, GFN * 4096, 0);
    const p = path(kvm, v, GFN);
    const [lo, hi] = spte(kvm, p.word[1]!);
    const other = hostPfn(kvm, GFN) + 0x10;
    kvm.host.words[p.word[1]!] = (lo12(other) | EPT_RAM_BITS) >>> 0;
    kvm.host.words[p.word[1]! + 1] = frameHi(other);
    e.ev.length = 0;
    const c = counters(kvm);
    expect(tdpPageFault(kvm, v, GFN * 4096, 0)).toBe(0);
    expect(spte(kvm, p.word[1]!)).toEqual([lo, hi]);
    expect(e.ev.filter((x) => x.id === E.kvm_flush_remote_tlbs || x.id === E.kvm_set_spte).map((x) => x.id)).toEqual([E.kvm_flush_remote_tlbs, E.kvm_set_spte]);
    expect(args(e, E.kvm_set_spte, 4)).toEqual([[GFN, lo, hi, 1]]);
    expect(rmapOf(kvm, GFN)).toEqual([p.word[1]]);
    expect(dStat(kvm, c, S.memslot_lookups)).toBe(7);
    expect(dStat(kvm, c, S.sptes_written)).toBe(2); // drop_spte's clear, then the new leaf
    expect(dStat(kvm, c, S.pf_fixed)).toBe(1);
    expect(v.exitClass).toBe(CLASS_MAP);
  });

  it('v3.0 ignores PFERR_RSVD_MASK (3.0.1 tdp_page_fault has no such test): a RAM fault is mapped', () => {
    const e = ept('v3.0');
    const { kvm, v } = e;
    const c = counters(kvm);
    expect(tdpPageFault(kvm, v, GFN * 4096, PFERR_RSVD | PFERR_WRITE)).toBe(0);
    expect(v.exitClass).toBe(CLASS_MAP);
    expect(dStat(kvm, c, S.pf_fixed)).toBe(1);
    expect(dStat(kvm, c, S.lockless_walks)).toBe(0);
  });
});

describe('tdp_page_fault on a gfn without a memslot', () => {
  it('v3.0: kvm_handle_bad_page() = 1 before mmu_lock: no table, no SPTE, no cache; 2 lookups, both misses', () => {
    // 3.0.1: `if (is_error_pfn(pfn)) return kvm_handle_bad_page(vcpu->kvm, gfn, pfn);` ... `return 1;`
    const e = ept('v3.0');
    const { kvm, v, log } = e;
    const c = counters(kvm);
    v.exitClass = -1;
    expect(tdpPageFault(kvm, v, FAR_GPA, PFERR_WRITE)).toBe(1);
    expect(v.exitClass).toBe(CLASS_MMIO_SLOW);
    expect(dStat(kvm, c, S.memslot_lookups)).toBe(2);
    expect(dStat(kvm, c, S.memslot_misses)).toBe(2);
    expect(dStat(kvm, c, S.sptes_written)).toBe(0);
    expect(dStat(kvm, c, S.pf_fixed)).toBe(0);
    expect(dStat(kvm, c, S.mmio_sptes_created)).toBe(0);
    expect(dStat(kvm, c, S.mmio_cache_fills)).toBe(0);
    expect([v.mmioGvaVpn, v.mmioGfn, v.mmioAccess]).toEqual([0, 0, 0]);
    expect(dComp(kvm, c, C.mmu_lock)).toBe(0);
    expect(log).toEqual([]);
    expect(e.ev).toEqual([]);
    expect(path(kvm, v, FAR_GFN).word[3]).toBeUndefined(); // the PML4 entry is still not present
  });

  it('v3.1 with MMIO SPTEs off: the cache is filled (gva 0, gfn, ACC_ALL) and the fault emulates without an SPTE', () => {
    // handle_abnormal_pfn: `if (unlikely(is_noslot_pfn(pfn))) vcpu_cache_mmio_info(vcpu, gva, gfn, access);`
    // (tdp_page_fault passes gva 0 and ACC_ALL); with no usable MMIO SPTE (docs/decisions.md's switch)
    // nothing is installed: every access is slow (docs/fault-classes.md, mmio-slow).
    const e = ept('v3.1', 'mmio_caching: false');
    const { kvm, v, log } = e;
    const c = counters(kvm);
    v.exitClass = -1;
    expect(tdpPageFault(kvm, v, FAR_GPA, PFERR_WRITE)).toBe(1);
    expect(v.exitClass).toBe(CLASS_MMIO_SLOW);
    expect([v.mmioGvaVpn, v.mmioGfn, v.mmioAccess]).toEqual([0, FAR_GFN, ACC_ALL]);
    expect(dStat(kvm, c, S.mmio_cache_fills)).toBe(1);
    expect(dStat(kvm, c, S.memslot_lookups)).toBe(2);
    expect(dStat(kvm, c, S.sptes_written)).toBe(0);
    expect(dStat(kvm, c, S.pf_fixed)).toBe(0);
    expect(dStat(kvm, c, S.mmio_sptes_created)).toBe(0);
    expect(log).toEqual([]);
    expect(args(e, E.mark_mmio_spte, 3)).toEqual([]);
  });

  it('v3.1: __direct_map builds the tables (pseudo gfns, roles, | 7 links) and marks the MMIO SPTE; ++pf_fixed; returns 1', () => {
    const e = ept('v3.1');
    const { kvm, v, log } = e;
    const c = counters(kvm);
    v.exitClass = -1;
    expect(tdpPageFault(kvm, v, FAR_GPA + 0x10, PFERR_WRITE)).toBe(1);
    // __direct_map: `base_addr &= PT64_LVL_ADDR_MASK(iterator.level); pseudo_gfn = base_addr >>
    // PAGE_SHIFT; sp = kvm_mmu_get_page(vcpu, pseudo_gfn, iterator.addr, iterator.level - 1, 1,
    // ACC_ALL, iterator.sptep);` at levels 4, 3, 2: gfn rounded down to 2^27, 2^18, 2^9 pages.
    const pseudo = [FAR_GFN - (FAR_GFN % 2 ** 27), FAR_GFN - (FAR_GFN % 2 ** 18), FAR_GFN - (FAR_GFN % 2 ** 9)];
    expect(pseudo).toEqual([0x8000000, 0xabc0000, 0xabcde00]);
    const gp = args(e, E.kvm_mmu_get_page, 4);
    expect(gp).toEqual([
      [pseudo[0], tdpRoleWord(3), 3, 1],
      [pseudo[1], tdpRoleWord(2), 2, 1],
      [pseudo[2], tdpRoleWord(1), 1, 1],
    ]);
    const p = path(kvm, v, FAR_GFN);
    // Each new table hangs from the entry above it: `__pa(sp->spt) | 7`, and that entry is its parent_pte.
    for (const level of [4, 3, 2]) {
      const w = p.word[level]!;
      const child = p.table[level - 1]!;
      expect(spte(kvm, w)).toEqual([(lo12(child) | EPT_NONLEAF_BITS) >>> 0, frameHi(child)]);
      const id = [...kvm.sp.active].find((i) => kvm.sp.pfn[i] === child)!;
      expect([kvm.sp.gfn[id], kvm.sp.role[id]]).toEqual([pseudo[4 - level], tdpRoleWord(level - 1)]);
      expect(kvm.sp.parents[id]).toEqual([w]);
    }
    // mark_mmio_spte: `mmu_spte_set(sptep, shadow_mmio_mask | access | gfn << PAGE_SHIFT);`
    const leafLo = (EPT_MMIO_LO | MMIO_ACCESS | lo12(FAR_GFN)) >>> 0;
    const leafHi = (EPT_MMIO_HI | frameHi(FAR_GFN)) >>> 0;
    expect([leafLo, leafHi]).toEqual([0xcdef1006, 0x01fe00ab]);
    expect(spte(kvm, p.word[1]!)).toEqual([leafLo, leafHi]);
    // trace_mark_mmio_spte(sptep, gfn, access): the SPTE's address (here: host pfn of the level-1
    // table << 12 | index * 8), the gfn, access & (W|U).
    const index = FAR_GFN % 512;
    expect(args(e, E.mark_mmio_spte, 3)).toEqual([[p.table[1]! * 4096 + index * 8, FAR_GFN, MMIO_ACCESS]]);
    expect(args(e, E.kvm_set_spte, 4)).toEqual([]);
    expect(dStat(kvm, c, S.mmio_sptes_created)).toBe(1);
    expect(dStat(kvm, c, S.pf_fixed)).toBe(1); // `++vcpu->stat.pf_fixed;` after mmu_set_spte, MMIO included
    expect(dStat(kvm, c, S.sptes_written)).toBe(4);
    // handle_abnormal_pfn's cache fill: gva 0 (tdp_page_fault passes 0), the gfn, ACC_ALL.
    expect([v.mmioGvaVpn, v.mmioGfn, v.mmioAccess]).toEqual([0, FAR_GFN, ACC_ALL]);
    expect(dStat(kvm, c, S.mmio_cache_fills)).toBe(1);
    // 2 lookups, both misses; an MMIO SPTE is not shadow-present, so no memslot_id / rmap_add.
    expect(dStat(kvm, c, S.memslot_lookups)).toBe(2);
    expect(dStat(kvm, c, S.memslot_misses)).toBe(2);
    expect(rmapOf(kvm, FAR_GFN)).toEqual([]);
    expect(v.exitClass).toBe(CLASS_MMIO_SLOW);
    expect(dComp(kvm, c, C.mmu_lock)).toBe(kvm.cost.mmu_lock);
    expect(log).toEqual([`point 0:${RACE_MMU_LOCK}:0`, 'free 0']);
  });

  it('v3.1, PFERR_RSVD_MASK: handle_mmio_page_fault(vcpu, gpa, error_code, true) (the lockless walk by gfn)', () => {
    // `if (unlikely(error_code & PFERR_RSVD_MASK)) return handle_mmio_page_fault(vcpu, gpa, error_code, true);`
    const e = ept('v3.1');
    const { kvm, v } = e;
    tdpPageFault(kvm, v, NIC_GPA, PFERR_WRITE); // the MMIO SPTE
    v.mmioGfn = 0; // miss the cache: the walk decides
    v.mmioGvaVpn = 0x777; // to see it replaced: direct = true, so `if (direct) addr = 0;`
    const c = counters(kvm);
    e.ev.length = 0;
    expect(tdpPageFault(kvm, v, NIC_GPA + 8, PFERR_RSVD | PFERR_PRESENT)).toBe(1);
    expect(v.exitClass).toBe(CLASS_MMIO_FAST);
    // the walk decodes the MMIO SPTE's gfn; vcpu_cache_mmio_info(vcpu, addr = 0, gfn, access)
    expect(v.mmioGfn).toBe(NIC_GFN);
    expect(v.mmioGvaVpn).toBe(0);
    // trace_handle_mmio_page_fault(addr, gfn, access): addr 0 for a direct MMU
    expect(args(e, E.handle_mmio_page_fault, 3)).toEqual([[0, 0, NIC_GFN]]);
    expect(dStat(kvm, c, S.lockless_walks)).toBe(1);
    expect(dStat(kvm, c, S.memslot_lookups)).toBe(0);
    expect(dStat(kvm, c, S.pf_fixed)).toBe(0);
    expect(dStat(kvm, c, S.sptes_written)).toBe(0);
  });

  it('v3.1, a slot being deleted (KVM_MEMSLOT_INVALID) under a present leaf: drop_spte + flush, then the MMIO SPTE', () => {
    // gfn_to_hva_many: `if (!slot || slot->flags & KVM_MEMSLOT_INVALID) return bad_hva();` -> bad_pfn
    // (is_noslot_pfn); mmu_set_spte: `pfn != spte_to_pfn(*sptep)` -> `drop_spte(); kvm_flush_remote_tlbs();`
    // (rmap_remove: gfn_to_memslot finds the invalid slot); set_mmio_spte. Lookups: mapping_level_dirty_bitmap,
    // try_async_pf, rmap_remove: 3, all finding the slot (__gfn_to_memslot ignores the flag).
    const e = ept('v3.1');
    const { kvm, v } = e;
    const gfn = 0x2345;
    tdpPageFault(kvm, v, gfn * 4096, 0);
    const p = path(kvm, v, gfn);
    kvm.memslots.find(gfn)!.invalid = true;
    e.ev.length = 0;
    const c = counters(kvm);
    expect(tdpPageFault(kvm, v, gfn * 4096, 0)).toBe(1);
    expect(rmapOf(kvm, gfn)).toEqual([]);
    expect(spte(kvm, p.word[1]!)).toEqual([(EPT_MMIO_LO | MMIO_ACCESS | lo12(gfn)) >>> 0, EPT_MMIO_HI]);
    expect(e.ev.filter((x) => x.id === E.kvm_flush_remote_tlbs || x.id === E.mark_mmio_spte).map((x) => x.id)).toEqual([E.kvm_flush_remote_tlbs, E.mark_mmio_spte]);
    expect(args(e, E.mark_mmio_spte, 3)).toEqual([[p.table[1]! * 4096 + (gfn % 512) * 8, gfn, MMIO_ACCESS]]);
    expect(dStat(kvm, c, S.memslot_lookups)).toBe(3);
    expect(dStat(kvm, c, S.memslot_misses)).toBe(0);
    expect(dStat(kvm, c, S.sptes_written)).toBe(2);
    expect(dStat(kvm, c, S.pf_fixed)).toBe(1);
    expect(dStat(kvm, c, S.mmio_sptes_created)).toBe(1);
    expect(v.exitClass).toBe(CLASS_MMIO_SLOW);
  });
});

describe('handle_ept_violation and kvm_mmu_page_fault (vmx.c 3.0.1:3685, 3.1.10:4590; mmu.c 3388/3702)', () => {
  it('trace_kvm_page_fault(gpa, exit_qualification) with the whole qualification; the MMU gets `exit_qualification & 0x3`', () => {
    // qual 0x18b: read, write, bit 3 (the entry was readable) and the GLA bits: & 0x3 = 3, no
    // PFERR_RSVD_MASK, so tdp_page_fault runs (not handle_mmio_page_fault).
    const e = ept('v3.1');
    const { kvm, v } = e;
    const { em, calls } = fakeEm(EMULATE_DONE);
    const c = counters(kvm);
    expect(handleEptViolation(kvm, em, v, FAR_GPA + 0x10, 0x18b)).toBe(1);
    expect(e.ev[0]!.id).toBe(E.kvm_page_fault);
    expect(args(e, E.kvm_page_fault, 3)).toEqual([[lo12(FAR_GFN) + 0x10, 0xab, 0x18b]]);
    expect(v.exitClass).toBe(CLASS_MMIO_SLOW);
    expect(dStat(kvm, c, S.mmio_sptes_created)).toBe(1);
    expect(dStat(kvm, c, S.lockless_walks)).toBe(0);
    expect(calls).toEqual([0]); // r == 1: x86_emulate_instruction
    expect(dStat(kvm, c, S.mmio_exits)).toBe(0); // EMULATE_DONE: return 1
  });

  it('EMULATE_DO_MMIO: `++vcpu->stat.mmio_exits;` and 0; EMULATE_FAIL: 0 without the count', () => {
    for (const [er, ret, exits] of [
      [EMULATE_DO_MMIO, 0, 1],
      [EMULATE_FAIL, 0, 0],
      [EMULATE_DONE, 1, 0],
    ] as const) {
      const e = ept('v3.0');
      const { kvm, v } = e;
      const { em, calls } = fakeEm(er);
      const c = counters(kvm);
      expect(handleEptViolation(kvm, em, v, NIC_GPA, 0x2)).toBe(ret);
      expect(calls).toEqual([0]);
      expect(dStat(kvm, c, S.mmio_exits)).toBe(exits);
    }
  });

  it('r == 0 (a RAM fault fixed): `r = 1; goto out;` without emulating', () => {
    const e = ept('v3.1');
    const { kvm, v } = e;
    const { em, calls } = fakeEm(EMULATE_FAIL);
    const c = counters(kvm);
    expect(handleEptViolation(kvm, em, v, 0x2345000, 0x1)).toBe(1);
    expect(calls).toEqual([]);
    expect(args(e, E.kvm_page_fault, 3)).toEqual([[0x2345000, 0, 0x1]]);
    expect(dStat(kvm, c, S.pf_fixed)).toBe(1);
    expect(v.exitClass).toBe(CLASS_MAP);
  });
});

describe('handle_exception for a #PF (vmx.c 3.1.10:4121: `trace_kvm_page_fault(cr2, error_code);` then kvm_mmu_page_fault)', () => {
  const VPN = 0xffffc90000000000 / 4096;
  function fakeMmu(r: number) {
    const seen: number[][] = [];
    const mmu = { pageFault: (vc: Vcpu, vpn: number, off: number, ec: number) => (seen.push([vc.id, vpn, off, ec]), r) } as unknown as ShadowMmu;
    return { mmu, seen };
  }

  for (const [r, er, ret, exits, emulated] of [
    [-1, EMULATE_DONE, -1, 0, 0], // `if (r < 0) goto out;`
    [0, EMULATE_DONE, 1, 0, 0], // `if (!r) { r = 1; goto out; }`
    [1, EMULATE_DONE, 1, 0, 1],
    [1, EMULATE_DO_MMIO, 0, 1, 1],
    [1, EMULATE_FAIL, 0, 0, 1],
  ] as const) {
    it(`page_fault returns ${r}, emulation ${er}: the handler returns ${ret}, mmio_exits +${exits}`, () => {
      const e = ept('v3.1');
      const { kvm, v } = e;
      const { em, calls } = fakeEm(er);
      const { mmu, seen } = fakeMmu(r);
      const c = counters(kvm);
      expect(handlePageFaultException(kvm, em, mmu, v, VPN, 0x123, PFERR_WRITE | PFERR_USER)).toBe(ret);
      expect(seen).toEqual([[0, VPN, 0x123, PFERR_WRITE | PFERR_USER]]);
      expect(calls.length).toBe(emulated);
      expect(dStat(kvm, c, S.mmio_exits)).toBe(exits);
      // cr2 = 0xffffc90000000123: the two halves; the error code as the exit gave it.
      expect(args(e, E.kvm_page_fault, 3)).toEqual([[0x123, 0xffffc900, PFERR_WRITE | PFERR_USER]]);
    });
  }
});

describe('handle_cr: MOV to CR3 (x86.c kvm_set_cr3, 3.0.1:633, 3.1.10:654) and handle_invlpg', () => {
  const shadowEnv = (kernel: 'v3.0' | 'v3.1' = 'v3.1') => {
    const e = env(vm(kernel, '  - { compute: 1 }').replace(/^kernel: (v3\.\d)$/m, 'kernel: $1\nmmu: { tdp: false }'));
    const synced: number[] = [];
    const mmu = e.m.shadow!;
    mmu.kvmMmuSyncRoots = (vc: Vcpu) => {
      synced.push(vc.id);
    };
    return { ...e, mmu, synced };
  };

  it('the same CR3: kvm_mmu_sync_roots and kvm_mmu_flush_tlb (++tlb_flush); the root stays; no lookup', () => {
    // `if (cr3 == kvm_read_cr3(vcpu) && !pdptrs_changed(vcpu)) { kvm_mmu_sync_roots(vcpu); kvm_mmu_flush_tlb(vcpu); return 0; }`
    const { kvm, v, mmu, synced } = shadowEnv();
    const root = v.root;
    const cr3 = v.cr3;
    const c = counters(kvm);
    expect(handleCr3Load(kvm, mmu, v, cr3)).toBe(1);
    expect(synced).toEqual([0]);
    expect(dStat(kvm, c, S.tlb_flush)).toBe(1);
    expect(dStat(kvm, c, S.memslot_lookups)).toBe(0);
    expect([v.cr3, v.root]).toEqual([cr3, root]);
  });

  it('a new CR3 in a memslot: `vcpu->arch.cr3 = cr3;` and new_cr3 -> mmu_free_roots; no flush counted', () => {
    // `if (unlikely(!gfn_to_memslot(vcpu->kvm, cr3 >> PAGE_SHIFT))) return 1; vcpu->arch.cr3 = cr3; ...
    // vcpu->arch.mmu.new_cr3(vcpu);` and paging_new_cr3: `mmu_free_roots(vcpu);`
    const { kvm, v, mmu, synced } = shadowEnv();
    const root = v.root;
    expect(root).toBeGreaterThanOrEqual(0);
    const count = kvm.sp.rootCount[root]!;
    const c = counters(kvm);
    expect(handleCr3Load(kvm, mmu, v, 0x3000000)).toBe(1);
    expect(v.cr3).toBe(0x3000000);
    expect(v.root).toBe(-1);
    expect(kvm.sp.rootCount[root]).toBe(count - 1);
    expect(synced).toEqual([]);
    expect(dStat(kvm, c, S.tlb_flush)).toBe(0);
    expect(dStat(kvm, c, S.memslot_lookups)).toBe(1);
    expect(dStat(kvm, c, S.memslot_misses)).toBe(0);
  });

  it('a new CR3 with no memslot: kvm_set_cr3 returns 1 (#GP, kvm_complete_insn_gp); CR3 and the roots stay; handle_cr returns 1', () => {
    const { kvm, v, mmu, synced } = shadowEnv('v3.0');
    const root = v.root;
    const cr3 = v.cr3;
    const c = counters(kvm);
    expect(handleCr3Load(kvm, mmu, v, 0x80000000)).toBe(1);
    expect([v.cr3, v.root]).toEqual([cr3, root]);
    expect(synced).toEqual([]);
    expect(dStat(kvm, c, S.memslot_lookups)).toBe(1);
    expect(dStat(kvm, c, S.memslot_misses)).toBe(1);
    expect(dStat(kvm, c, S.tlb_flush)).toBe(0);
  });

  it('handle_invlpg: kvm_mmu_invlpg -> mmu.invlpg(gva); kvm_mmu_flush_tlb (++tlb_flush); ++invlpg; returns 1', () => {
    // kvm_mmu_invlpg: `vcpu->arch.mmu.invlpg(vcpu, gva); kvm_mmu_flush_tlb(vcpu); ++vcpu->stat.invlpg;`
    const e = ept('v3.1');
    const { kvm, v } = e;
    const seen: number[][] = [];
    const mmu = { invlpg: (vc: Vcpu, vpn: number) => seen.push([vc.id, vpn]) } as unknown as ShadowMmu;
    const c = counters(kvm);
    expect(handleInvlpg(kvm, mmu, v, 0x12345)).toBe(1);
    expect(seen).toEqual([[0, 0x12345]]);
    expect(dStat(kvm, c, S.tlb_flush)).toBe(1);
    expect(dStat(kvm, c, S.invlpg)).toBe(1);
  });
});

describe('handle_ept_misconfig (vmx.c 3.0.1:3777, 3.1.10:4682)', () => {
  /** v3.1 with the NIC's MMIO SPTE installed. */
  function warm(kernel: 'v3.0' | 'v3.1' = 'v3.1') {
    const e = ept(kernel);
    tdpPageFault(e.kvm, e.v, NIC_GPA, PFERR_WRITE);
    e.ev.length = 0;
    return e;
  }

  it('v3.1, handle_mmio_page_fault_common = 1 (cache hit): `return x86_emulate_instruction(...) == EMULATE_DONE;`', () => {
    for (const [er, ret] of [
      [EMULATE_DONE, 1],
      [EMULATE_DO_MMIO, 0],
      [EMULATE_FAIL, 0],
    ] as const) {
      const e = warm();
      const { kvm, v } = e;
      const { em, calls } = fakeEm(er);
      const c = counters(kvm);
      expect(handleEptMisconfig(kvm, em, v, NIC_GPA + 8)).toBe(ret);
      expect(calls).toEqual([0]);
      expect(v.exitClass).toBe(CLASS_MMIO_CACHE);
      expect(dStat(kvm, c, S.mmio_exits)).toBe(0); // no ++mmio_exits on this path
      expect(v.halted).toBe(false);
      expect(args(e, E.ept_misconfig_real, 3)).toEqual([]);
    }
  });

  it('v3.1, the walk by the gpa\'s gfn finds the MMIO SPTE (cache missed): emulate', () => {
    const e = warm();
    const { kvm, v } = e;
    v.mmioGfn = 0;
    const { em, calls } = fakeEm(EMULATE_DONE);
    expect(handleEptMisconfig(kvm, em, v, NIC_GPA + 0xff8)).toBe(1);
    expect(v.exitClass).toBe(CLASS_MMIO_FAST);
    expect(v.mmioGfn).toBe(NIC_GFN);
    expect(calls).toEqual([0]);
  });

  it('v3.1, a zapped leaf: handle_mmio_page_fault_common = 0: `if (unlikely(!ret)) return 1;` without emulating', () => {
    const e = warm();
    const { kvm, v } = e;
    v.mmioGfn = 0;
    const p = path(kvm, v, NIC_GFN);
    kvm.host.words[p.word[1]!] = 0;
    kvm.host.words[p.word[1]! + 1] = 0;
    const { em, calls } = fakeEm(EMULATE_DONE);
    expect(handleEptMisconfig(kvm, em, v, NIC_GPA)).toBe(1);
    expect(v.exitClass).toBe(CLASS_MMIO_RETRY);
    expect(calls).toEqual([]);
    expect(v.halted).toBe(false);
    expect(args(e, E.ept_misconfig_real, 3)).toEqual([]);
    expect(kvm.warnings).toEqual([]);
  });

  it('v3.1, a real misconfiguration: kvm_mmu_get_spte_hierarchy + ept_misconfig_inspect_spte for levels 4..1, KVM_EXIT_UNKNOWN, 0', () => {
    // `for (i = PT64_ROOT_LEVEL; i > PT64_ROOT_LEVEL - nr_sptes; --i) ept_misconfig_inspect_spte(vcpu, sptes[i-1], i);`
    // `vcpu->run->hw.hardware_exit_reason = EXIT_REASON_EPT_MISCONFIG;` (49, asm/vmx.h) `return 0;`
    const e = warm();
    const { kvm, v } = e;
    v.mmioGfn = 0;
    const p = path(kvm, v, NIC_GFN);
    // RWX = 010b and bit 40 (reserved above MAXPHYADDR 40): misconfigured, not the MMIO pattern
    kvm.host.words[p.word[1]!] = 0xfebf0002;
    kvm.host.words[p.word[1]! + 1] = 0x100;
    const { em, calls } = fakeEm(EMULATE_DONE);
    expect(handleEptMisconfig(kvm, em, v, NIC_GPA + 4)).toBe(0);
    expect(calls).toEqual([]);
    expect(v.exitClass).toBe(CLASS_MMIO_BUG);
    expect(v.halted).toBe(true);
    expect(args(e, E.ept_misconfig_real, 3)).toEqual([4, 3, 2, 1].map((l) => [...spte(kvm, p.word[l]!), l]));
    expect(args(e, E.ept_misconfig_real, 3)[3]).toEqual([0xfebf0002, 0x100, 1]);
    // handle_ept_misconfig calls handle_mmio_page_fault_common itself: no WARN_ON(ret < 0) of
    // handle_mmio_page_fault, only the report.
    expect(kvm.warnings).toHaveLength(1);
    expect(kvm.warnings[0]).toContain('EPT: Misconfiguration at gpa 0xfebf0004');
    expect(kvm.warnings[0]).toContain('KVM_EXIT_UNKNOWN, hardware_exit_reason 49');
  });

  it('v3.1, a non-leaf entry with R clear: both walks stop there (is_shadow_present_pte), so the report has levels 4 and 3', () => {
    // 3.1.10 mmu.c: `return pte & PT_PRESENT_MASK && !is_mmio_spte(pte);` (PT_PRESENT_MASK is EPT R).
    // walk_shadow_page_get_mmio_spte breaks at the level-3 entry; it is not MMIO and not 0, so
    // check_direct_spte_mmio_pf (`return spte == 0ull;`) fails: -1; kvm_mmu_get_spte_hierarchy then
    // records level 4, then level 3 and `if (!is_shadow_present_pte(spte)) break;`.
    const e = warm();
    const { kvm, v } = e;
    v.mmioGfn = 0;
    const p = path(kvm, v, NIC_GFN);
    kvm.host.words[p.word[3]!] = (kvm.host.words[p.word[3]!]! & ~1) >>> 0; // W X, no R
    const { em, calls } = fakeEm(EMULATE_DONE);
    expect(handleEptMisconfig(kvm, em, v, NIC_GPA)).toBe(0);
    expect(calls).toEqual([]);
    expect(v.exitClass).toBe(CLASS_MMIO_BUG);
    expect(args(e, E.ept_misconfig_real, 3)).toEqual([
      [...spte(kvm, p.word[4]!), 4],
      [...spte(kvm, p.word[3]!), 3],
    ]);
  });

  it('v3.0: always the real misconfiguration (no MMIO handling): the walk stops at the first non-present entry', () => {
    // 3.0.1 kvm_mmu_get_spte_hierarchy: `sptes[iterator.level-1] = *iterator.sptep; nr_sptes++; if
    // (!is_shadow_present_pte(*iterator.sptep)) break;` (a 0 entry: shadow_trap_nonpresent_pte under EPT).
    const e = ept('v3.0');
    const { kvm, v } = e;
    const { em, calls } = fakeEm(EMULATE_DONE);
    const c = counters(kvm);
    expect(handleEptMisconfig(kvm, em, v, FAR_GPA)).toBe(0);
    expect(calls).toEqual([]);
    expect(dStat(kvm, c, S.lockless_walks)).toBe(0);
    expect(dStat(kvm, c, S.mmio_cache_hits)).toBe(0);
    expect(args(e, E.ept_misconfig_real, 3)).toEqual([[0, 0, 4]]);
    expect(v.exitClass).toBe(CLASS_MMIO_BUG);
    expect(v.halted).toBe(true);
    expect(kvm.warnings).toEqual([`vcpu 0, line ${v.line}: EPT: Misconfiguration at gpa 0xabcdef1000: KVM_EXIT_UNKNOWN, hardware_exit_reason 49; the vCPU stops`]);
  });

  it('v3.0: a middle entry cleared: levels 4, 3 and the zero level-2 entry, nothing below', () => {
    const e = ept('v3.0');
    const { kvm, v } = e;
    const gfn = 0x2345;
    tdpPageFault(kvm, v, gfn * 4096, 0);
    const p = path(kvm, v, gfn);
    kvm.host.words[p.word[2]!] = 0;
    kvm.host.words[p.word[2]! + 1] = 0;
    e.ev.length = 0;
    expect(handleEptMisconfig(kvm, fakeEm(EMULATE_DONE).em, v, gfn * 4096)).toBe(0);
    expect(args(e, E.ept_misconfig_real, 3)).toEqual([[...spte(kvm, p.word[4]!), 4], [...spte(kvm, p.word[3]!), 3], [0, 0, 2]]);
  });

  it('v3.0: a RAM leaf (never a misconfiguration on real hardware, but 3.0.1 reports whatever it finds): 4 levels', () => {
    const e = warm('v3.0');
    const { kvm, v } = e;
    const gfn = 0x2345;
    tdpPageFault(kvm, v, gfn * 4096, 0);
    const p = path(kvm, v, gfn);
    e.ev.length = 0;
    expect(handleEptMisconfig(kvm, fakeEm(EMULATE_DONE).em, v, gfn * 4096)).toBe(0);
    const pfn = hostPfn(kvm, gfn);
    expect(args(e, E.ept_misconfig_real, 3)).toEqual([[...spte(kvm, p.word[4]!), 4], [...spte(kvm, p.word[3]!), 3], [...spte(kvm, p.word[2]!), 2], [(lo12(pfn) | EPT_RAM_BITS) >>> 0, frameHi(pfn), 1]]);
  });
});

describe('FNAME(walk_addr_generic) as KVM reads guest memory (paging_tmpl.h; tracepoints in mmutrace.h)', () => {
  const RAM_VPN = 0xffff880000100000 / 4096; // BASE maps 64M at 0 with 2M pages "p w a d nx"
  /** The guest's own entries on the path of `vpn`, read here through the memslot (gpa, lo, hi), from level 4 down to the leaf. */
  function guestPath(kvm: Kvm, cr3: number, vpn: number) {
    const out: { gpa: number; lo: number; hi: number; level: number }[] = [];
    let table = cr3 - (cr3 % 4096);
    for (let level = 4; level >= 1; level--) {
      const gpa = table + indexOfVpn(vpn, level) * 8;
      const pfn = hostPfn(kvm, Math.floor(gpa / 4096));
      kvm.host.read(pfn, gpa % 4096, 8);
      const lo = kvm.host.lo;
      const hi = kvm.host.hi;
      out.push({ gpa, lo, hi, level });
      if (level === 1 || (level <= 3 && lo & 0x80)) break;
      table = frameOf(lo, hi) * 4096;
    }
    return out;
  }

  it('a walk: trace_kvm_mmu_pagetable_walk(addr, pferr), one trace_kvm_mmu_paging_element(pte, level) and one gfn_to_hva per entry', () => {
    const e = ept('v3.1');
    const { kvm, v } = e;
    const w = new KvmWalker(kvm);
    const c = counters(kvm);
    const gp = guestPath(kvm, v.cr3, RAM_VPN);
    expect(gp.map((x) => x.level)).toEqual([4, 3, 2]);
    expect(w.gvaToGpa(v, RAM_VPN, 0x10, PFERR_WRITE)).toBe(true);
    expect(w.walker.gfn).toBe(0x100);
    // pferr = (!!write_fault << 1) | (!!user_fault << 2) | (!!fetch_fault << 4)
    expect(args(e, E.kvm_mmu_pagetable_walk, 3)).toEqual([[0x100010, 0xffff8800, PFERR_WRITE]]);
    expect(args(e, E.kvm_mmu_paging_element, 3)).toEqual(gp.map((x) => [x.lo, x.hi, x.level]));
    expect(args(e, E.kvm_mmu_walker_error, 1)).toEqual([]);
    expect(args(e, E.kvm_mmu_set_accessed_bit, 1)).toEqual([]); // A and D are set already
    expect(args(e, E.kvm_mmu_set_dirty_bit, 1)).toEqual([]);
    expect(dStat(kvm, c, S.guest_walks)).toBe(1);
    expect(dStat(kvm, c, S.guest_pte_reads)).toBe(3);
    expect(dStat(kvm, c, S.memslot_lookups)).toBe(3);
    expect(dComp(kvm, c, C.guest_walk)).toBe(kvm.cost.guest_walk_setup + 3 * kvm.cost.guest_pte_read);
  });

  /** A VM whose one data page has a leaf without A and D ("p w"). */
  const AD_GVA = 0xffff880000000000;
  const AD_VPN = AD_GVA / 4096;
  const adVm = (kernel: 'v3.0' | 'v3.1') =>
    env(`
kernel: ${kernel}
memslots:
  - { slot: 0, gpa: 0x0, size: 64M }
guest:
  cpu: { cr0_wp: true, efer_nx: true }
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x200000, size: 4K, flags: "p w" }
workload:
  - { compute: 1 }
`);

  it('a write through a leaf without A and D: set_accessed_bit, then set_dirty_bit (gpa = table_gfn << 12 + index * 8), each with mark_page_dirty', () => {
    // `trace_kvm_mmu_set_accessed_bit(table_gfn, index, sizeof(pte)); ret = FNAME(cmpxchg_gpte)(...);
    // ... mark_page_dirty(vcpu->kvm, table_gfn);` and the same for D after the loop on a write fault;
    // the tracepoint's gpa: `((u64)table_gfn << PAGE_SHIFT) + index * size`.
    for (const kernel of ['v3.0', 'v3.1'] as const) {
      const e = adVm(kernel);
      const { kvm, v } = e;
      const gp = guestPath(kvm, v.cr3, AD_VPN);
      const leaf = gp[gp.length - 1]!;
      expect(leaf.level).toBe(1);
      expect(leaf.lo & 0x60).toBe(0);
      const upperWithoutA = gp.filter((x) => x.level > 1 && (x.lo & 0x20) === 0);
      expect(upperWithoutA).toEqual([]);
      const w = new KvmWalker(kvm);
      const c = counters(kvm);
      expect(w.gvaToGpa(v, AD_VPN, 0, PFERR_WRITE)).toBe(true);
      expect(w.walker.gfn).toBe(0x200);
      expect(e.ev.filter((x) => x.id === E.kvm_mmu_set_accessed_bit || x.id === E.kvm_mmu_set_dirty_bit).map((x) => [x.id, x.args[0]])).toEqual([
        [E.kvm_mmu_set_accessed_bit, leaf.gpa],
        [E.kvm_mmu_set_dirty_bit, leaf.gpa],
      ]);
      const after = guestPath(kvm, v.cr3, AD_VPN);
      expect(after[after.length - 1]!.lo).toBe((leaf.lo | 0x60) >>> 0);
      expect(after[after.length - 1]!.hi).toBe(leaf.hi);
      // 4 entry reads + 2 mark_page_dirty; the cmpxchg itself reuses the hva of the read.
      expect(dStat(kvm, c, S.memslot_lookups)).toBe(4 + 2);
      expect(dStat(kvm, c, S.guest_pte_reads)).toBe(4);
    }
  });

  for (const [half, name] of [
    [0, 'low'],
    [1, 'high'],
  ] as const) {
    it(`the gPTE changed (${name} half) between the read and the cmpxchg: FNAME(cmpxchg_gpte) fails, retry_walk reads it again`, () => {
      // FNAME(cmpxchg_gpte): `ret = CMPXCHG(&table[index], orig_pte, new_pte); ... return (ret != orig_pte);`
      // then `else if (ret) goto retry_walk;` (below the pagetable_walk tracepoint).
      const e = adVm('v3.1');
      const { kvm, v } = e;
      const gp = guestPath(kvm, v.cr3, AD_VPN);
      const leaf = gp[gp.length - 1]!;
      const pfn = hostPfn(kvm, Math.floor(leaf.gpa / 4096));
      let changed = false;
      kvm.trace.observe(({ id, args: a }) => {
        if (!changed && id === E.kvm_mmu_paging_element && a[2] === 1) {
          changed = true; // another vCPU writes the gPTE: an ignored bit (low: AVL bit 9; high: bit 52)
          kvm.host.write(pfn, leaf.gpa % 4096, 8, half === 0 ? (leaf.lo | 0x200) >>> 0 : leaf.lo, half === 1 ? (leaf.hi | 0x100000) >>> 0 : leaf.hi);
        }
      });
      const w = new KvmWalker(kvm);
      expect(w.gvaToGpa(v, AD_VPN, 0, 0)).toBe(true);
      const pe = args(e, E.kvm_mmu_paging_element, 3);
      expect(pe.map((x) => x[2])).toEqual([4, 3, 2, 1, 4, 3, 2, 1]);
      const newLo = half === 0 ? (leaf.lo | 0x200) >>> 0 : leaf.lo;
      const newHi = half === 1 ? (leaf.hi | 0x100000) >>> 0 : leaf.hi;
      expect(pe[3]).toEqual([leaf.lo, leaf.hi, 1]);
      expect(pe[7]).toEqual([newLo, newHi, 1]);
      expect(args(e, E.kvm_mmu_pagetable_walk, 3)).toHaveLength(1);
      expect(args(e, E.kvm_mmu_set_accessed_bit, 1)).toEqual([[leaf.gpa]]);
      const after = guestPath(kvm, v.cr3, AD_VPN);
      expect([after[after.length - 1]!.lo, after[after.length - 1]!.hi]).toEqual([(newLo | 0x20) >>> 0, newHi]);
    });
  }

  const WUF = PFERR_WRITE | PFERR_USER | PFERR_FETCH;
  for (const [kernel, nx, smep, pfec, want] of [
    ['v3.1', true, false, WUF, WUF],
    ['v3.1', false, true, WUF, WUF],
    ['v3.1', false, false, WUF, PFERR_WRITE | PFERR_USER],
    ['v3.1', true, true, PFERR_WRITE | PFERR_USER, PFERR_WRITE | PFERR_USER],
    ['v3.1', false, false, PFERR_FETCH, 0],
    ['v3.0', false, true, WUF, PFERR_WRITE | PFERR_USER],
    ['v3.0', true, false, WUF, WUF],
  ] as const) {
    it(`${kernel}, a table gfn without a slot, NX ${nx}, SMEP ${smep}, pfec 0x${pfec.toString(16)}: error code 0x${want.toString(16)} (no P), trace_kvm_mmu_walker_error`, () => {
      // 3.1.10: `if (unlikely(kvm_is_error_hva(host_addr))) goto error;` ... `errcode |= write_fault |
      // user_fault; if (fetch_fault && (mmu->nx || kvm_read_cr4_bits(vcpu, X86_CR4_SMEP))) errcode |=
      // PFERR_FETCH_MASK;` 3.0.1: `present = false;` ... `if (fetch_fault && mmu->nx)`.
      const e = ept(kernel);
      const { kvm, v } = e;
      v.cr3 = 0x80000000; // a PML4 in no memslot
      v.efer = nx ? v.efer | 0x800 : v.efer & ~0x800;
      v.cr4 = smep ? v.cr4 | 0x100000 : v.cr4 & ~0x100000;
      expect([v.nx, v.smep]).toEqual([nx, smep]);
      const w = new KvmWalker(kvm);
      const c = counters(kvm);
      expect(w.gvaToGpa(v, RAM_VPN, 0, pfec)).toBe(false);
      expect(w.walker.errorCode).toBe(want);
      expect(args(e, E.kvm_mmu_pagetable_walk, 3)).toEqual([[0x100000, 0xffff8800, pfec]]);
      expect(args(e, E.kvm_mmu_paging_element, 3)).toEqual([]);
      expect(args(e, E.kvm_mmu_walker_error, 1)).toEqual([[want]]);
      expect(dStat(kvm, c, S.guest_pte_reads)).toBe(1);
      expect(dStat(kvm, c, S.memslot_lookups)).toBe(1);
      expect(dStat(kvm, c, S.memslot_misses)).toBe(1);
      expect(dComp(kvm, c, C.guest_walk)).toBe(kvm.cost.guest_walk_setup + kvm.cost.guest_pte_read);
    });
  }

  it('a user read of a supervisor page: the walk\'s own error code P | U stands (not the no-slot formula)', () => {
    // `if (!check_write_user_access(vcpu, write_fault, user_fault, pte)) eperm = true;` ...
    // `if (unlikely(eperm)) { errcode |= PFERR_PRESENT_MASK; goto error; }` then `errcode |= write_fault | user_fault;`
    const e = ept('v3.1');
    const { kvm, v } = e;
    const w = new KvmWalker(kvm);
    expect(w.gvaToGpa(v, RAM_VPN, 0, PFERR_USER)).toBe(false);
    expect(w.walker.errorCode).toBe(PFERR_PRESENT | PFERR_USER);
    expect(args(e, E.kvm_mmu_walker_error, 1)).toEqual([[PFERR_PRESENT | PFERR_USER]]);
  });

  it('a not-present guest entry: the walk faults with the W bit only, trace_kvm_mmu_walker_error(pferr)', () => {
    // `if (unlikely(!is_present_gpte(pte))) goto error;` errcode = write_fault | user_fault (no P).
    const e = ept('v3.1');
    const { kvm, v } = e;
    const w = new KvmWalker(kvm);
    expect(w.gvaToGpa(v, 0xffff888000000000 / 4096, 0, PFERR_WRITE)).toBe(false);
    expect(args(e, E.kvm_mmu_walker_error, 1)).toEqual([[PFERR_WRITE]]);
    expect(args(e, E.kvm_mmu_pagetable_walk, 3)).toEqual([[0, 0xffff8880, PFERR_WRITE]]);
    expect(args(e, E.kvm_mmu_paging_element, 3).length).toBeGreaterThan(0);
  });
});

describe('fault classes and their era return values (docs/fault-classes.md)', () => {
  it('the class list, in its index order', () => {
    expect(FAULT_CLASSES).toEqual(['map', 'spurious', 'mmio-slow', 'mmio-fast', 'mmio-cache', 'mmio-retry', 'mmio-bug', 'guest-pf', 'guest-pf-direct', 'wp-emulate']);
    expect([CLASS_MAP, CLASS_SPURIOUS, CLASS_MMIO_SLOW, CLASS_MMIO_FAST, CLASS_MMIO_CACHE, CLASS_MMIO_RETRY, CLASS_MMIO_BUG, CLASS_GUEST_PF, CLASS_GUEST_PF_DIRECT, CLASS_WP_EMULATE]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  // The function whose int return decides the class, and that int (1 = emulate, 0 = re-enter, -1 = error):
  // tdp_page_fault / FNAME(page_fault) return 0 for a fixed fault (__direct_map's / FNAME(fetch)'s
  // `emulate` = 0); 3.0.1 kvm_handle_bad_page `return 1;`; 3.1.10 tdp_page_fault returns __direct_map's
  // emulate = 1 for an MMIO SPTE; handle_mmio_page_fault_common: `return 1;` (cache hit, MMIO SPTE),
  // `return 0` (zapped: check_direct_spte_mmio_pf), `return -1;` (a bug).
  const table = (kernel: string, tdp: boolean) => {
    const pf = tdp ? 'tdp_page_fault' : 'FNAME(page_fault)';
    return [
      [pf, 0],
      [pf, 0],
      kernel === 'v3.0' ? ['kvm_handle_bad_page', 1] : [pf, 1],
      ['handle_mmio_page_fault_common', 1],
      ['handle_mmio_page_fault_common', 1],
      ['handle_mmio_page_fault_common', 0],
      ['handle_mmio_page_fault_common', -1],
      ['FNAME(walk_addr) / x86_emulate_instruction', 0],
      ['(hardware)', 0],
      ['FNAME(page_fault)', 1],
    ];
  };
  for (const kernel of ['v3.0', 'v3.1']) {
    for (const tdp of [true, false]) {
      it(`${kernel}, ${tdp ? 'EPT' : 'shadow paging'}: fn and value for every class; the meaning says what the value does`, () => {
        const got = FAULT_CLASSES.map((_, i) => eraReturn(kernel, tdp, i));
        expect(got.map((r) => [r.fn, r.value])).toEqual(table(kernel, tdp));
        for (const r of got) {
          // 1: emulate; 0: back into the guest (re-enter, retry, or the hardware's own delivery); -1: the bug.
          if (r.value === 1) expect(r.meaning).toMatch(/emulate/);
          else if (r.value === -1) expect(r.meaning).toMatch(/KVM_EXIT_UNKNOWN/);
          else expect(r.meaning).toMatch(/re-enter the guest|fault again|no exit/);
        }
        expect(got[CLASS_MMIO_SLOW]!.meaning).toMatch(kernel === 'v3.0' ? /no MMIO SPTE/ : /MMIO SPTE installed/);
        expect(got[CLASS_WP_EMULATE]!.meaning).toMatch(/kvm_mmu_pte_write/);
        expect(got[CLASS_MAP]!.meaning).toMatch(/^fixed/);
        expect(got[CLASS_SPURIOUS]!.meaning).toMatch(/^already mapped/);
        expect(got[CLASS_MMIO_RETRY]!.meaning).toMatch(/^retry/);
        expect(got[CLASS_GUEST_PF]!.meaning).toMatch(/#PF injected/);
        expect(got[CLASS_GUEST_PF_DIRECT]!.meaning).toMatch(/guest IDT/);
        expect(got[CLASS_MMIO_FAST]!.meaning).toBe(got[CLASS_MMIO_CACHE]!.meaning);
      });
    }
  }

  it('noteFault records the class of the exit being handled', () => {
    const e = ept('v3.1');
    noteFault(e.kvm, e.v, CLASS_WP_EMULATE);
    expect(e.v.exitClass).toBe(CLASS_WP_EMULATE);
    noteFault(e.kvm, e.v, CLASS_MAP);
    expect(e.v.exitClass).toBe(CLASS_MAP);
  });
});

