// The unsync machinery of simulator/kvm/mmu/unsync.ts driven directly, with exact expected values
// worked out from the kernel sources (/work/ksrc/v3.1/arch/x86/kvm/mmu.c = 3.1.10; the functions
// below are byte-identical in 3.0.1, docs/kernel-paths.md §10). Written to kill the mutants the
// scenario tests (test/unsync.test.ts) let live: the 16-entry page vector (KVM_PAGE_ARRAY_NR) and its
// -ENOSPC batches, unsync_child_bitmap propagation more than one level up, mmu_pages_clear_parents,
// mmu_zap_unsync_children, kvm_sync_pages, kvm_sync_page_transient and mmu_need_write_protect.
//
// The shadow page trees are built by hand in a fresh shadow-paging VM: pages are made with
// ShadowPages.create (kvm_mmu_alloc_page: a host frame, the hash, parent_ptes) and linked with the
// link_shadow_page SPTE value. FNAME(sync_page) is replaced by a stub whose result each test picks,
// so the expected call sequence follows from mmu.c alone.
import { describe, it, expect } from 'vitest';
import { machine } from './helpers/scenario';
import type { Kvm } from '../simulator/kvm/kvm';
import type { Vcpu } from '../simulator/kvm/vcpu';
import {
  kvmMmuMarkParentsUnsync,
  kvmSyncPages,
  kvmSyncPageTransient,
  mmuNeedWriteProtect,
  mmuSyncChildren,
  mmuSyncRoots,
  mmuZapUnsyncChildren,
  type UnsyncHooks,
} from '../simulator/kvm/mmu/unsync';
import { ROLE_ACCESS_SHIFT, ROLE_DIRECT, ROLE_INVALID } from '../simulator/kvm/mmu/shadow_pages';
import { EVENT_LIST } from '../simulator/trace/events';
import { S } from '../simulator/trace/stats';
import { frameHi } from '../simulator/arch/x86/u64';

const LOGGED = new Set(['kvm_mmu_unsync_page', 'kvm_mmu_sync_page', 'kvm_mmu_prepare_zap_page', 'kvm_flush_remote_tlbs']);

interface Env {
  kvm: Kvm;
  v: Vcpu;
  /** What happened, in order: trace events (by page name), `wp X` (rmap_write_protect of X's gfn),
   *  `syncop X` (FNAME(sync_page) of X), `notrap X` (mmu_convert_notrap of X). */
  log: string[];
  ops: UnsyncHooks;
  /** FNAME(sync_page)'s result per page id (default 0: something present, keep the page). */
  syncResult: Map<number, number>;
  byGfn: Map<number, string>;
  byId: Map<number, string>;
  /** Trace events name their page by gfn and role. */
  byKey: Map<number | string, string>;
}

function env(opts: { oos?: boolean; kernel?: 'v3.0' | 'v3.1' } = {}): Env {
  const yaml = `kernel: ${opts.kernel ?? 'v3.1'}
mmu: { tdp: false${opts.oos === false ? ', oos_shadow: false' : ''} }
memslots:
  - { slot: 0, gpa: 0x0, size: 64M }
guest:
  mappings:
    - { gva: 0x8000000000, gpa: 0x2000000, size: 4K, page: 4K, flags: "p w a d" }
workload:
  - { compute: 1 }
`;
  const m = machine(yaml);
  const kvm = m.kvm;
  const v = kvm.vcpus[0]!;
  const log: string[] = [];
  const byGfn = new Map<number, string>();
  const byId = new Map<number, string>();
  const byKey = new Map<number | string, string>();
  const syncResult = new Map<number, number>();
  kvm.trace.observe(({ id, args: [a0, a1] }) => {
    const name = EVENT_LIST[id]!.name;
    if (LOGGED.has(name)) log.push(name === 'kvm_flush_remote_tlbs' ? name : `${name} ${byKey.get(`${a0}/${a1! & ~ROLE_INVALID}`) ?? a0}`);
  });
  const rmap = kvm.rmap;
  const wp = rmap.writeProtect.bind(rmap);
  rmap.writeProtect = (vc: Vcpu, gfn: number) => {
    log.push(`wp ${byGfn.get(gfn) ?? gfn}`);
    return wp(vc, gfn);
  };
  const ops: UnsyncHooks = {
    syncPage: (_vc, sp) => {
      log.push(`syncop ${byId.get(sp) ?? sp}`);
      return syncResult.get(sp) ?? 0;
    },
    convertNotrap: (sp) => {
      log.push(`notrap ${byId.get(sp) ?? sp}`);
    },
  };
  return { kvm, v, log, ops, syncResult, byGfn, byId, byKey };
}

const ACC_ALL = 7;

/** A shadow page for guest table `gfn` at `level`, linked at entry `idx` of `parent` when given. */
function mk(e: Env, name: string, gfn: number, level: number, parent?: number, idx = 0, access = ACC_ALL): number {
  const { kvm, v } = e;
  const pw = parent === undefined ? -1 : kvm.host.entryWord(kvm.sp.pfn[parent]!, idx);
  const id = kvm.sp.create(v.id, gfn, level | (access << ROLE_ACCESS_SHIFT), pw);
  if (pw >= 0) setLink(e, pw, id);
  name1(e, id, name);
  return id;
}

function name1(e: Env, id: number, name: string): void {
  e.byGfn.set(e.kvm.sp.gfn[id]!, name);
  e.byId.set(id, name);
  e.byKey.set(`${e.kvm.sp.gfn[id]!}/${e.kvm.sp.role[id]!}`, name);
}

/** link_shadow_page: `spte = __pa(sp->spt) | PT_PRESENT_MASK | PT_ACCESSED_MASK | PT_WRITABLE_MASK | PT_USER_MASK;` */
function setLink(e: Env, word: number, child: number): void {
  const { kvm } = e;
  kvm.host.words[word] = kvm.fmt.shadowNonLeafLo(kvm.sp.pfn[child]!);
  kvm.host.words[word + 1] = frameHi(kvm.sp.pfn[child]!);
}

/** A second parent SPTE for `child` (mmu_page_add_parent_pte + link_shadow_page). */
function link(e: Env, parent: number, idx: number, child: number): void {
  const w = e.kvm.host.entryWord(e.kvm.sp.pfn[parent]!, idx);
  e.kvm.sp.parents[child]!.push(w);
  setLink(e, w, child);
}

/** A writable leaf SPTE mapping `gfn` (in a page of its own), in gfn's rmap: rmap_write_protect of
 *  `gfn` then has something to write-protect and returns 1. */
let spare = 0x3000;
function writableMapping(e: Env, gfn: number): number {
  const { kvm, v } = e;
  const holder = kvm.sp.create(v.id, spare++, 1 | (ACC_ALL << ROLE_ACCESS_SHIFT), -1);
  const w = kvm.host.entryWord(kvm.sp.pfn[holder]!, 0);
  kvm.host.words[w] = kvm.fmt.shadowLeafLo(0x100, ACC_ALL, false);
  kvm.host.words[w + 1] = kvm.fmt.shadowLeafHi(0x100, ACC_ALL);
  kvm.rmap.add(v, gfn, w);
  return w;
}

/** The set bits of sp->unsync_child_bitmap. */
function bits(e: Env, sp: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < 512; i++) if ((e.kvm.sp.childBitmap[sp * 16 + (i >>> 5)]! >>> (i & 31)) & 1) out.push(i);
  return out;
}

const uc = (e: Env, sp: number) => e.kvm.sp.unsyncChildren[sp];

/** Every page, the VM's own root included: unsync_children counts the bits set in
 *  unsync_child_bitmap (mark_unsync sets a bit and `sp->unsync_children++`; clear_child_bitmap and
 *  mmu_pages_clear_parents clear one and `sp->unsync_children--`). */
function consistent(e: Env): void {
  for (const id of e.kvm.sp.active) expect([e.byId.get(id) ?? id, uc(e, id)]).toEqual([e.byId.get(id) ?? id, bits(e, id).length]);
}

/** __kvm_unsync_page through its only caller: mmu_need_write_protect(vcpu, gfn, can_unsync = 1). */
function goUnsync(e: Env, sp: number): void {
  expect(mmuNeedWriteProtect(e.kvm, e.v, e.kvm.sp.gfn[sp]!, true, e.ops)).toBe(false);
  expect(e.kvm.sp.unsync[sp]).toBe(1);
}

describe('mark_unsync and kvm_mmu_mark_parents_unsync, several levels up', () => {
  // mark_unsync: `index = spte - sp->spt; if (__test_and_set_bit(index, sp->unsync_child_bitmap))
  // return; if (sp->unsync_children++) return; kvm_mmu_mark_parents_unsync(sp);` and
  // kvm_mmu_mark_parents_unsync: `pte_list_walk(&sp->parent_ptes, mark_unsync);`
  it('the first unsync leaf sets one bit at every level up to the root; a second leaf stops at its own parent', () => {
    const e = env();
    const r = mk(e, 'R', 0x100, 4);
    const a = mk(e, 'A', 0x101, 3, r, 300);
    const b = mk(e, 'B', 0x102, 2, a, 37);
    const c1 = mk(e, 'C1', 0x103, 1, b, 33);
    const c2 = mk(e, 'C2', 0x104, 1, b, 511);
    const c3 = mk(e, 'C3', 0x105, 1, b, 0);
    goUnsync(e, c1);
    expect([bits(e, b), bits(e, a), bits(e, r)]).toEqual([[33], [37], [300]]);
    expect([uc(e, b), uc(e, a), uc(e, r), uc(e, c1)]).toEqual([1, 1, 1, 0]);
    // A second parent SPTE for B (A[38]): B already counts an unsync child, so marking another of
    // its children returns at `if (sp->unsync_children++) return;` and A[38]'s bit stays clear.
    link(e, a, 38, b);
    goUnsync(e, c2);
    expect([bits(e, b), bits(e, a), bits(e, r)]).toEqual([[33, 511], [37], [300]]);
    expect([uc(e, b), uc(e, a), uc(e, r)]).toEqual([2, 1, 1]);
    goUnsync(e, c3);
    expect(bits(e, b)).toEqual([0, 33, 511]);
    expect(uc(e, b)).toBe(3);
    // A bit already set: `if (__test_and_set_bit(...)) return;` (nothing counted twice).
    kvmMmuMarkParentsUnsync(e.kvm, c1);
    kvmMmuMarkParentsUnsync(e.kvm, b);
    expect([uc(e, b), uc(e, a), uc(e, r)]).toEqual([3, 2, 1]);
    expect(bits(e, a)).toEqual([37, 38]); // B's second parent SPTE was new: bit 38, A's count 2
    // __kvm_unsync_page: `trace_kvm_mmu_unsync_page(sp); ++vcpu->kvm->stat.mmu_unsync; sp->unsync = 1;
    // kvm_mmu_mark_parents_unsync(sp);` and, 3.0.1 only, `mmu_convert_notrap(sp);` (it touches only
    // the page's own SPTEs, so where it runs after the trace does not matter).
    expect(e.log).toEqual(['kvm_mmu_unsync_page C1', 'notrap C1', 'kvm_mmu_unsync_page C2', 'notrap C2', 'kvm_mmu_unsync_page C3', 'notrap C3']);
    expect(e.kvm.stats[S.mmu_unsync]).toBe(3);
  });

  it('a page with two parent SPTEs marks both (pte_list_walk over parent_ptes)', () => {
    const e = env();
    const r = mk(e, 'R', 0x100, 4);
    const a = mk(e, 'A', 0x101, 3, r, 5);
    const b = mk(e, 'B', 0x102, 2, a, 6);
    const c = mk(e, 'C', 0x103, 1, b, 70);
    link(e, b, 71, c);
    goUnsync(e, c);
    expect(bits(e, b)).toEqual([70, 71]);
    expect([uc(e, b), uc(e, a), uc(e, r)]).toEqual([2, 1, 1]);
    expect([bits(e, a), bits(e, r)]).toEqual([[6], [5]]);
  });
});

describe('mmu_sync_children over a 4-level tree', () => {
  it('write-protects every leaf of the batch first, then syncs each and clears the path (mmu_pages_clear_parents)', () => {
    const e = env();
    const r = mk(e, 'R', 0x100, 4);
    const a = mk(e, 'A', 0x101, 3, r, 300);
    const b = mk(e, 'B', 0x102, 2, a, 37);
    const c1 = mk(e, 'C1', 0x103, 1, b, 33);
    const c2 = mk(e, 'C2', 0x104, 1, b, 511);
    goUnsync(e, c1);
    goUnsync(e, c2);
    writableMapping(e, 0x104);
    e.log.length = 0;
    const tlb = e.kvm.stats[S.tlb_flush]!;
    mmuSyncChildren(e.kvm, e.v, r, e.ops);
    // mmu_sync_children: `for_each_sp(pages, sp, parents, i) protected |= rmap_write_protect(...);
    // if (protected) kvm_flush_remote_tlbs(vcpu->kvm); for_each_sp(pages, sp, parents, i) {
    // kvm_sync_page(vcpu, sp, &invalid_list); mmu_pages_clear_parents(&parents); }`.
    // __kvm_sync_page: `if (clear_unsync) kvm_unlink_unsync_page(vcpu->kvm, sp);` (its trace) before
    // `vcpu->arch.mmu.sync_page(vcpu, sp)`, then kvm_mmu_flush_tlb.
    expect(e.log).toEqual(['wp C1', 'wp C2', 'kvm_flush_remote_tlbs', 'kvm_mmu_sync_page C1', 'syncop C1', 'kvm_mmu_sync_page C2', 'syncop C2']);
    expect(e.kvm.stats[S.tlb_flush]! - tlb).toBe(2);
    expect(e.kvm.stats[S.mmu_unsync]).toBe(0);
    expect([e.kvm.sp.unsync[c1], e.kvm.sp.unsync[c2]]).toEqual([0, 0]);
    // mmu_pages_clear_parents: `--sp->unsync_children; __clear_bit(idx, sp->unsync_child_bitmap);
    // level++; } while (level < PT64_ROOT_LEVEL-1 && !sp->unsync_children);`: after C1 B still has
    // C2; after C2 B, A and R all empty, so the next mmu_unsync_walk finds nothing.
    expect([bits(e, b), bits(e, a), bits(e, r)]).toEqual([[], [], []]);
    expect([uc(e, b), uc(e, a), uc(e, r)]).toEqual([0, 0, 0]);
    // A second sync finds nothing: `if (!sp->unsync_children) return 0;`.
    e.log.length = 0;
    mmuSyncChildren(e.kvm, e.v, r, e.ops);
    expect(e.log).toEqual([]);
    consistent(e);
  });

  it('nothing write-protected, no remote flush (`if (protected)`)', () => {
    const e = env();
    const r = mk(e, 'R', 0x100, 4);
    const a = mk(e, 'A', 0x101, 3, r, 1);
    const b = mk(e, 'B', 0x102, 2, a, 2);
    const c = mk(e, 'C', 0x103, 1, b, 3);
    goUnsync(e, c);
    e.log.length = 0;
    mmuSyncChildren(e.kvm, e.v, r, e.ops);
    expect(e.log).toEqual(['wp C', 'kvm_mmu_sync_page C', 'syncop C']);
    consistent(e);
  });

  it('mmu_sync_children below a non-root parent stops clearing at that parent (kvm_mmu_pages_init: parent[level-1] = NULL)', () => {
    const e = env();
    const r = mk(e, 'R', 0x100, 4);
    const a = mk(e, 'A', 0x101, 3, r, 1);
    const b = mk(e, 'B', 0x102, 2, a, 2);
    const c = mk(e, 'C', 0x103, 1, b, 3);
    // A sync from the root first, so that the path (struct mmu_page_path) last held R, A and B.
    goUnsync(e, c);
    mmuSyncChildren(e.kvm, e.v, r, e.ops);
    expect([uc(e, b), uc(e, a), uc(e, r)]).toEqual([0, 0, 0]);
    goUnsync(e, c);
    e.log.length = 0;
    mmuSyncChildren(e.kvm, e.v, b, e.ops);
    expect(e.log).toEqual(['wp C', 'kvm_mmu_sync_page C', 'syncop C']);
    // The path was B only: `parents->parent[parent->role.level-1] = NULL;` with B at level 2 ends
    // mmu_pages_clear_parents after B, so A and R keep their bits for the next walk from the root.
    expect([bits(e, b), bits(e, a), bits(e, r)]).toEqual([[], [2], [1]]);
    expect([uc(e, b), uc(e, a), uc(e, r)]).toEqual([0, 1, 1]);
    // The next walk from the root finds B empty and clears on the way back (__mmu_unsync_walk:
    // `ret = __mmu_unsync_walk(child, pvec); if (!ret) goto clear_child_bitmap;`).
    e.log.length = 0;
    mmuSyncChildren(e.kvm, e.v, r, e.ops);
    expect(e.log).toEqual([]);
    expect([bits(e, a), bits(e, r), [uc(e, a), uc(e, r)]]).toEqual([[], [], [0, 0]]);
    consistent(e);
  });

  it('two L2 subtrees under one L3 page go in one batch: R, A, B1, C1, C2, B2, D1', () => {
    const e = env();
    const r = mk(e, 'R', 0x100, 4);
    const a = mk(e, 'A', 0x101, 3, r, 1);
    const b1 = mk(e, 'B1', 0x102, 2, a, 2);
    const b2 = mk(e, 'B2', 0x103, 2, a, 3);
    const c1 = mk(e, 'C1', 0x104, 1, b1, 4);
    const c2 = mk(e, 'C2', 0x105, 1, b1, 5);
    const d1 = mk(e, 'D1', 0x106, 1, b2, 6);
    for (const p of [c1, c2, d1]) goUnsync(e, p);
    expect([uc(e, b1), uc(e, b2), uc(e, a), uc(e, r)]).toEqual([2, 1, 2, 1]);
    e.log.length = 0;
    mmuSyncChildren(e.kvm, e.v, r, e.ops);
    // __mmu_unsync_walk returns the leaves found (`nr_unsync_leaf += ret;`), positive, so the walk
    // goes on to B2 and one batch holds all three leaves: all write-protected before any sync.
    expect(e.log).toEqual(['wp C1', 'wp C2', 'wp D1', 'kvm_mmu_sync_page C1', 'syncop C1', 'kvm_mmu_sync_page C2', 'syncop C2', 'kvm_mmu_sync_page D1', 'syncop D1']);
    expect([uc(e, b1), uc(e, b2), uc(e, a), uc(e, r)]).toEqual([0, 0, 0, 0]);
    expect([bits(e, b1), bits(e, b2), bits(e, a), bits(e, r)]).toEqual([[], [], [], []]);
    consistent(e);
  });

  it('the walk stops at entry 511: the next page\'s bitmap and SPTEs are not part of this one (for_each_unsync_children: `idx < 512`)', () => {
    const e = env();
    const r = mk(e, 'R', 0x100, 4);
    const a = mk(e, 'A', 0x101, 3, r, 1);
    const b = mk(e, 'B', 0x102, 2, a, 2);
    const b2 = mk(e, 'B2', 0x103, 2, a, 3);
    // B2 follows B in the page arrays and in host memory (one past B's entry 511 is B2's entry 0).
    expect(b2).toBe(b + 1);
    expect(e.kvm.sp.pfn[b2]).toBe(e.kvm.sp.pfn[b]! + 1);
    const c = mk(e, 'C', 0x104, 1, b, 511);
    const d = mk(e, 'D', 0x105, 1, b2, 0);
    goUnsync(e, c);
    goUnsync(e, d);
    e.log.length = 0;
    mmuSyncChildren(e.kvm, e.v, r, e.ops);
    expect(e.log).toEqual(['wp C', 'wp D', 'kvm_mmu_sync_page C', 'syncop C', 'kvm_mmu_sync_page D', 'syncop D']);
    expect([uc(e, b), uc(e, b2), uc(e, a), uc(e, r)]).toEqual([0, 0, 0, 0]);
    consistent(e);
  });

  it('v3.0 with bypass_guest_pf: a trap SPTE beside the link does not disturb the walk', () => {
    // In 3.0.1 a new shadow page of any level gets shadow_trap_nonpresent_pte for the guest's present
    // entries (FNAME(prefetch_page): `if (r || is_present_gpte(pt[j])) sp->spt[i+j] =
    // shadow_trap_nonpresent_pte;`), and vmx.c sets it to ~0xffeull: its high half is 0xffffffff.
    // The walk reads each entry whole: `u64 ent = sp->spt[i]; ... child = page_header(ent &
    // PT64_BASE_ADDR_MASK);`, so the neighbour at B[3] has no part in B[4]'s child.
    const e = env({ kernel: 'v3.0' });
    expect(e.kvm.bypassGuestPf).toBe(true);
    const r = mk(e, 'R', 0x100, 4);
    const a = mk(e, 'A', 0x101, 3, r, 1);
    const b = mk(e, 'B', 0x102, 2, a, 2);
    const c = mk(e, 'C', 0x103, 1, b, 4);
    const w = e.kvm.host.entryWord(e.kvm.sp.pfn[b]!, 3);
    e.kvm.host.words[w] = e.kvm.fmt.trapLo;
    e.kvm.host.words[w + 1] = e.kvm.fmt.trapHi;
    goUnsync(e, c);
    e.log.length = 0;
    mmuSyncChildren(e.kvm, e.v, r, e.ops);
    expect(e.log).toEqual(['wp C', 'kvm_mmu_sync_page C', 'syncop C']);
    expect([uc(e, b), uc(e, a), uc(e, r)]).toEqual([0, 0, 0]);
    consistent(e);
  });

  it('a walk from an L2 page after a longer one from the root: entries past the vector\'s nr are not read (mmu_pages_next: `n < pvec->nr`)', () => {
    const e = env();
    const r = mk(e, 'R', 0x100, 4);
    const a1 = mk(e, 'A1', 0x101, 3, r, 1);
    const b1 = mk(e, 'B1', 0x102, 2, a1, 2);
    const c1 = mk(e, 'C1', 0x103, 1, b1, 3);
    const a2 = mk(e, 'A2', 0x104, 3, r, 4);
    const b2 = mk(e, 'B2', 0x105, 2, a2, 5);
    const c2 = mk(e, 'C2', 0x106, 1, b2, 6);
    goUnsync(e, c1);
    goUnsync(e, c2);
    // The vector: R, A1, B1, C1, A2, B2, C2 (each level's `nr_unsync_leaf += ret;` is positive, so
    // the root's walk goes on past A1 to A2): one batch.
    e.log.length = 0;
    mmuSyncChildren(e.kvm, e.v, r, e.ops);
    expect(e.log).toEqual(['wp C1', 'wp C2', 'kvm_mmu_sync_page C1', 'syncop C1', 'kvm_mmu_sync_page C2', 'syncop C2']);
    const ds = [10, 11, 12].map((i, k) => mk(e, `D${k}`, 0x110 + k, 1, b1, i));
    for (const d of ds) goUnsync(e, d);
    e.log.length = 0;
    // Now the vector is B1, D0, D1, D2 (nr = 4); its slot 4 still holds A2 from the walk above.
    mmuSyncChildren(e.kvm, e.v, b1, e.ops);
    expect(e.log).toEqual(['wp D0', 'wp D1', 'wp D2', 'kvm_mmu_sync_page D0', 'syncop D0', 'kvm_mmu_sync_page D1', 'syncop D1', 'kvm_mmu_sync_page D2', 'syncop D2']);
    // The path ends at B1 (kvm_mmu_pages_init); A1 and R keep their bits, A2 is untouched.
    expect([uc(e, b1), uc(e, a1), uc(e, r), uc(e, a2), uc(e, b2)]).toEqual([0, 1, 1, 0, 0]);
    expect([bits(e, a1), bits(e, r), bits(e, a2)]).toEqual([[2], [1], []]);
    consistent(e);
  });

  it('a failed sync zaps the leaf; the batch ends with kvm_mmu_commit_zap_page (one remote flush)', () => {
    const e = env();
    const r = mk(e, 'R', 0x100, 4);
    const a = mk(e, 'A', 0x101, 3, r, 1);
    const b = mk(e, 'B', 0x102, 2, a, 2);
    const c1 = mk(e, 'C1', 0x103, 1, b, 3);
    const c2 = mk(e, 'C2', 0x104, 1, b, 4);
    goUnsync(e, c1);
    goUnsync(e, c2);
    e.syncResult.set(c1, 1);
    e.log.length = 0;
    const tlb = e.kvm.stats[S.tlb_flush]!;
    const zapped = e.kvm.stats[S.mmu_shadow_zapped]!;
    mmuSyncChildren(e.kvm, e.v, r, e.ops);
    // __kvm_sync_page: `if (vcpu->arch.mmu.sync_page(vcpu, sp)) { kvm_mmu_prepare_zap_page(vcpu->kvm,
    // sp, invalid_list); return 1; } kvm_mmu_flush_tlb(vcpu);`: one flush, for C2 only.
    expect(e.log).toEqual(['wp C1', 'wp C2', 'kvm_mmu_sync_page C1', 'syncop C1', 'kvm_mmu_prepare_zap_page C1', 'kvm_mmu_sync_page C2', 'syncop C2', 'kvm_flush_remote_tlbs']);
    expect(e.kvm.stats[S.tlb_flush]! - tlb).toBe(1);
    expect(e.kvm.stats[S.mmu_shadow_zapped]! - zapped).toBe(1);
    expect(e.kvm.sp.isFreed(c1)).toBe(true);
    expect(e.kvm.sp.isFreed(c2)).toBe(false);
    // kvm_mmu_prepare_zap_page -> kvm_mmu_unlink_parents: B's SPTE for C1 is dropped.
    const w = e.kvm.host.entryWord(e.kvm.sp.pfn[b]!, 3);
    expect([e.kvm.host.words[w], e.kvm.host.words[w + 1]]).toEqual([0, 0]);
    expect([uc(e, b), uc(e, a), uc(e, r)]).toEqual([0, 0, 0]);
    consistent(e);
  });

  it('a leaf linked twice is added to the vector once (mmu_pages_add: `if (sp->unsync) for (...) if (pvec->page[i].sp == sp) return 0;`)', () => {
    const e = env();
    const r = mk(e, 'R', 0x100, 4);
    const a = mk(e, 'A', 0x101, 3, r, 1);
    const b = mk(e, 'B', 0x102, 2, a, 2);
    const c = mk(e, 'C', 0x103, 1, b, 3);
    link(e, b, 40, c);
    const d = mk(e, 'D', 0x104, 1, b, 50);
    goUnsync(e, c);
    goUnsync(e, d);
    expect(uc(e, b)).toBe(3);
    e.log.length = 0;
    const tlb = e.kvm.stats[S.tlb_flush]!;
    mmuSyncChildren(e.kvm, e.v, r, e.ops);
    // The second add of C returns 0 (not "full"), so the walk goes on to D in the same batch. One
    // kvm_sync_page of C; mmu_pages_clear_parents clears B[3] (the idx the vector recorded); the next
    // __mmu_unsync_walk finds B[40] pointing at a page neither unsync nor with unsync children and
    // clears it (`} else goto clear_child_bitmap;`), then A's and R's bits on the way back.
    expect(e.log).toEqual(['wp C', 'wp D', 'kvm_mmu_sync_page C', 'syncop C', 'kvm_mmu_sync_page D', 'syncop D']);
    expect(e.kvm.stats[S.tlb_flush]! - tlb).toBe(2);
    expect(e.kvm.stats[S.mmu_unsync]).toBe(0);
    expect([bits(e, b), bits(e, a), bits(e, r)]).toEqual([[], [], []]);
    expect([uc(e, b), uc(e, a), uc(e, r)]).toEqual([0, 0, 0]);
    consistent(e);
  });

  it('a bit whose SPTE is no longer present is cleared by the walk (`if (!is_shadow_present_pte(ent) ...) goto clear_child_bitmap;`)', () => {
    const e = env();
    const r = mk(e, 'R', 0x100, 4);
    const a = mk(e, 'A', 0x101, 3, r, 1);
    const b = mk(e, 'B', 0x102, 2, a, 2);
    const c = mk(e, 'C', 0x103, 1, b, 3);
    const d = mk(e, 'D', 0x104, 1, b, 4);
    goUnsync(e, c);
    goUnsync(e, d);
    // Drop B[3] (as drop_parent_pte would) but leave the bit: the walk meets a non-present SPTE.
    const w = e.kvm.host.entryWord(e.kvm.sp.pfn[b]!, 3);
    e.kvm.host.words[w] = 0;
    e.kvm.host.words[w + 1] = 0;
    e.log.length = 0;
    mmuSyncChildren(e.kvm, e.v, r, e.ops);
    expect(e.log).toEqual(['wp D', 'kvm_mmu_sync_page D', 'syncop D']);
    expect(e.kvm.sp.unsync[c]).toBe(1);
    expect([bits(e, b), bits(e, a), bits(e, r)]).toEqual([[], [], []]);
    expect([uc(e, b), uc(e, a), uc(e, r)]).toEqual([0, 0, 0]);
    consistent(e);
  });

  it('mmu_sync_roots: `if (!VALID_PAGE(vcpu->arch.mmu.root_hpa)) return;`, else mmu_sync_children(vcpu, root)', () => {
    const e = env();
    const r = mk(e, 'R', 0x100, 4);
    const a = mk(e, 'A', 0x101, 3, r, 1);
    const b = mk(e, 'B', 0x102, 2, a, 2);
    const c = mk(e, 'C', 0x103, 1, b, 3);
    goUnsync(e, c);
    e.log.length = 0;
    const saved = e.v.root;
    e.v.root = -1;
    mmuSyncRoots(e.kvm, e.v, e.ops);
    expect(e.log).toEqual([]);
    e.v.root = r;
    mmuSyncRoots(e.kvm, e.v, e.ops);
    expect(e.log).toEqual(['wp C', 'kvm_mmu_sync_page C', 'syncop C']);
    e.v.root = saved;
  });
});

describe('the page vector fills up (KVM_PAGE_ARRAY_NR = 16): __mmu_unsync_walk returns -ENOSPC', () => {
  // mmu_pages_add: `pvec->page[pvec->nr].sp = sp; ... pvec->nr++; return (pvec->nr == KVM_PAGE_ARRAY_NR);`
  // __mmu_unsync_walk: `if (mmu_pages_add(pvec, child, i)) return -ENOSPC;` and mmu_unsync_walk
  // first adds the parent itself (`mmu_pages_add(pvec, sp, 0);`). -ENOSPC is nonzero, so
  // mmu_sync_children's `while (mmu_unsync_walk(parent, &pages))` processes the full vector, then walks again.
  it('17 unsync leaves under one L2 page: a batch of 13 (R, A, B + 13 = 16), then one of 4', () => {
    const e = env();
    const r = mk(e, 'R', 0x100, 4);
    const a = mk(e, 'A', 0x101, 3, r, 7);
    const b = mk(e, 'B', 0x102, 2, a, 8);
    const leaves: number[] = [];
    for (let k = 0; k < 17; k++) leaves.push(mk(e, `L${k}`, 0x200 + k, 1, b, 20 + k * 3));
    for (const l of leaves) goUnsync(e, l);
    for (let k = 0; k < 17; k++) writableMapping(e, 0x200 + k);
    e.syncResult.set(leaves[5]!, 1);
    expect(uc(e, b)).toBe(17);
    e.log.length = 0;
    const tlb = e.kvm.stats[S.tlb_flush]!;
    mmuSyncChildren(e.kvm, e.v, r, e.ops);
    const batch = (from: number, to: number, zap: number) => {
      const out: string[] = [];
      for (let k = from; k < to; k++) out.push(`wp L${k}`);
      out.push('kvm_flush_remote_tlbs');
      for (let k = from; k < to; k++) {
        out.push(`kvm_mmu_sync_page L${k}`, `syncop L${k}`);
        if (k === zap) out.push(`kvm_mmu_prepare_zap_page L${k}`);
      }
      // kvm_mmu_commit_zap_page: `if (list_empty(invalid_list)) return;` else kvm_flush_remote_tlbs.
      if (zap >= from && zap < to) out.push('kvm_flush_remote_tlbs');
      return out;
    };
    expect(e.log).toEqual([...batch(0, 13, 5), ...batch(13, 17, 5)]);
    expect(e.kvm.stats[S.tlb_flush]! - tlb).toBe(16);
    expect(e.kvm.stats[S.mmu_unsync]).toBe(0);
    expect([bits(e, b), bits(e, a), bits(e, r)]).toEqual([[], [], []]);
    expect([uc(e, b), uc(e, a), uc(e, r)]).toEqual([0, 0, 0]);
    consistent(e);
  });

  it('the vector fills when an upper page is added: 12 leaves under B1, then B2 is the 16th entry', () => {
    const e = env();
    const r = mk(e, 'R', 0x100, 4);
    const a = mk(e, 'A', 0x101, 3, r, 0);
    const b1 = mk(e, 'B1', 0x102, 2, a, 0);
    const b2 = mk(e, 'B2', 0x103, 2, a, 1);
    const leaves: number[] = [];
    for (let k = 0; k < 12; k++) leaves.push(mk(e, `L${k}`, 0x200 + k, 1, b1, k));
    leaves.push(mk(e, 'M0', 0x300, 1, b2, 100), mk(e, 'M1', 0x301, 1, b2, 101));
    for (const l of leaves) goUnsync(e, l);
    e.log.length = 0;
    mmuSyncChildren(e.kvm, e.v, r, e.ops);
    // Batch 1: R, A, B1, L0..L11, B2 (16: -ENOSPC before B2's children). mmu_pages_next records
    // B2 as a parent and ends. Batch 2: R, A, B2, M0, M1.
    const names = [...Array(12).keys()].map((k) => `L${k}`);
    const expected = [
      ...names.map((n) => `wp ${n}`),
      ...names.flatMap((n) => [`kvm_mmu_sync_page ${n}`, `syncop ${n}`]),
      'wp M0',
      'wp M1',
      'kvm_mmu_sync_page M0',
      'syncop M0',
      'kvm_mmu_sync_page M1',
      'syncop M1',
    ];
    expect(e.log).toEqual(expected);
    expect([bits(e, b1), bits(e, b2), bits(e, a), bits(e, r)]).toEqual([[], [], [], []]);
    expect([uc(e, b1), uc(e, b2), uc(e, a), uc(e, r)]).toEqual([0, 0, 0, 0]);
    consistent(e);
  });

  it('an upper page linked twice is in the vector twice (mmu_pages_add looks for duplicates only `if (sp->unsync)`)', () => {
    const e = env();
    const r = mk(e, 'R', 0x100, 4);
    const a = mk(e, 'A', 0x101, 3, r, 0);
    const b = mk(e, 'B', 0x102, 2, a, 0);
    link(e, a, 1, b);
    const b3 = mk(e, 'B3', 0x103, 2, a, 2);
    const names = [...Array(11).keys()].map((k) => `L${k}`);
    names.forEach((n, k) => goUnsync(e, mk(e, n, 0x200 + k, 1, b, k)));
    goUnsync(e, mk(e, 'X', 0x300, 1, b3, 0));
    expect([uc(e, a), bits(e, a)]).toEqual([3, [0, 1, 2]]);
    e.log.length = 0;
    mmuSyncChildren(e.kvm, e.v, r, e.ops);
    // R, A, B (A[0]), L0..L10 (14), B again (A[1]: B is not unsync, so it is added; the leaves below
    // it are, and are not added twice), B3 (the 16th: -ENOSPC before X). So X goes in a second batch.
    expect(e.log).toEqual([
      ...names.map((n) => `wp ${n}`),
      ...names.flatMap((n) => [`kvm_mmu_sync_page ${n}`, `syncop ${n}`]),
      'wp X',
      'kvm_mmu_sync_page X',
      'syncop X',
    ]);
    expect([uc(e, b), uc(e, b3), uc(e, a), uc(e, r)]).toEqual([0, 0, 0, 0]);
    consistent(e);
  });

  it('exactly 13 leaves fill the vector with the last leaf: the second walk finds the bits cleared and stops', () => {
    const e = env();
    const r = mk(e, 'R', 0x100, 4);
    const a = mk(e, 'A', 0x101, 3, r, 0);
    const b = mk(e, 'B', 0x102, 2, a, 0);
    for (let k = 0; k < 13; k++) goUnsync(e, mk(e, `L${k}`, 0x200 + k, 1, b, 500 - k));
    e.log.length = 0;
    mmuSyncChildren(e.kvm, e.v, r, e.ops);
    // for_each_unsync_children walks the bitmap upwards: entry 488 (L12) first, 500 (L0) last.
    const order = [...Array(13).keys()].reverse().map((k) => `L${k}`);
    expect(e.log).toEqual([...order.map((n) => `wp ${n}`), ...order.flatMap((n) => [`kvm_mmu_sync_page ${n}`, `syncop ${n}`])]);
    expect([uc(e, b), uc(e, a), uc(e, r)]).toEqual([0, 0, 0]);
    consistent(e);
  });
});

describe('mmu_zap_unsync_children (via kvm_mmu_prepare_zap_page)', () => {
  // mmu_zap_unsync_children: `if (parent->role.level == PT_PAGE_TABLE_LEVEL) return 0;
  // kvm_mmu_pages_init(parent, &parents, &pages); while (mmu_unsync_walk(parent, &pages)) {
  // for_each_sp(pages, sp, parents, i) { kvm_mmu_prepare_zap_page(kvm, sp, invalid_list);
  // mmu_pages_clear_parents(&parents); zapped++; } kvm_mmu_pages_init(parent, &parents, &pages); }
  // return zapped;` and kvm_mmu_prepare_zap_page: `ret = mmu_zap_unsync_children(kvm, sp,
  // invalid_list);` ... `if (!sp->root_count) { /* Count self */ ret++; ...`.
  it('zapping an L2 page zaps its unsync leaves first; the return counts them and the page itself', () => {
    const e = env();
    const r = mk(e, 'R', 0x100, 4);
    const a = mk(e, 'A', 0x101, 3, r, 1);
    const b = mk(e, 'B', 0x102, 2, a, 2);
    const c1 = mk(e, 'C1', 0x103, 1, b, 40);
    const c2 = mk(e, 'C2', 0x104, 1, b, 9);
    const c3 = mk(e, 'C3', 0x105, 1, b, 10); // in sync: stays
    // A sync from the root first, so that the path (struct mmu_page_path) last held R, A and B.
    goUnsync(e, c3);
    mmuSyncChildren(e.kvm, e.v, r, e.ops);
    goUnsync(e, c1);
    goUnsync(e, c2);
    e.log.length = 0;
    const invalid: number[] = [];
    expect(e.kvm.sp.prepareZap(e.v.id, b, invalid)).toBe(3);
    // kvm_mmu_prepare_zap_page of each leaf: its trace, then `if (sp->unsync) kvm_unlink_unsync_page(kvm, sp);`.
    expect(e.log).toEqual(['kvm_mmu_prepare_zap_page B', 'kvm_mmu_prepare_zap_page C2', 'kvm_mmu_sync_page C2', 'kvm_mmu_prepare_zap_page C1', 'kvm_mmu_sync_page C1']);
    expect(invalid).toEqual([c2, c1, b]);
    expect(e.kvm.stats[S.mmu_unsync]).toBe(0);
    // B's path ended at B (`parents->parent[parent->role.level-1] = NULL`): A keeps its bit for B.
    expect([bits(e, a), uc(e, a), bits(e, r), uc(e, r)]).toEqual([[2], 1, [1], 1]);
    expect(uc(e, b)).toBe(0);
    consistent(e);
  });

  it('a last-level page has no unsync children to zap: `return 0` at once', () => {
    const e = env();
    const r = mk(e, 'R', 0x100, 4);
    const a = mk(e, 'A', 0x101, 3, r, 1);
    const b = mk(e, 'B', 0x102, 2, a, 2);
    const c = mk(e, 'C', 0x103, 1, b, 3);
    goUnsync(e, c);
    // Give the leaf a (bogus) unsync child count: a level-1 page must still return before walking.
    e.kvm.sp.unsyncChildren[c] = 1;
    e.kvm.sp.childBitmap[c * 16] = 1;
    e.log.length = 0;
    expect(mmuZapUnsyncChildren(e.kvm, e.v.id, c, [])).toBe(0);
    expect(e.log).toEqual([]);
    expect(e.kvm.sp.unsyncChildren[c]).toBe(1);
    consistent(e);
  });

  it('zapping the root takes 17 unsync leaves, in two batches of the vector (R, A, B + 13, then R, A, B + 4)', () => {
    const e = env();
    const r = mk(e, 'R', 0x100, 4);
    const a = mk(e, 'A', 0x101, 3, r, 7);
    const b = mk(e, 'B', 0x102, 2, a, 8);
    const leaves: number[] = [];
    for (let k = 0; k < 17; k++) leaves.push(mk(e, `L${k}`, 0x200 + k, 1, b, 64 + k));
    for (const l of leaves) goUnsync(e, l);
    e.log.length = 0;
    const invalid: number[] = [];
    expect(mmuZapUnsyncChildren(e.kvm, e.v.id, r, invalid)).toBe(17);
    expect(invalid).toEqual(leaves);
    expect(e.log).toEqual(leaves.flatMap((_, k) => [`kvm_mmu_prepare_zap_page L${k}`, `kvm_mmu_sync_page L${k}`]));
    expect([uc(e, b), uc(e, a), uc(e, r)]).toEqual([0, 0, 0]);
    expect([bits(e, b), bits(e, a), bits(e, r)]).toEqual([[], [], []]);
    consistent(e);
  });

  it('zapping an L3 page with unsync leaves under two L2 pages clears A as the last of its path', () => {
    const e = env();
    const r = mk(e, 'R', 0x100, 4);
    const a = mk(e, 'A', 0x101, 3, r, 1);
    const b1 = mk(e, 'B1', 0x102, 2, a, 2);
    const b2 = mk(e, 'B2', 0x103, 2, a, 3);
    const c1 = mk(e, 'C1', 0x104, 1, b1, 4);
    const c2 = mk(e, 'C2', 0x105, 1, b2, 5);
    goUnsync(e, c1);
    goUnsync(e, c2);
    e.log.length = 0;
    const invalid: number[] = [];
    expect(mmuZapUnsyncChildren(e.kvm, e.v.id, a, invalid)).toBe(2);
    expect(invalid).toEqual([c1, c2]);
    expect([uc(e, b1), uc(e, b2), uc(e, a)]).toEqual([0, 0, 0]);
    expect(bits(e, a)).toEqual([]);
    // The walk started at A: R is not on the path (parent[2] = NULL ends mmu_pages_clear_parents).
    expect([bits(e, r), uc(e, r)]).toEqual([[1], 1]);
    consistent(e);
  });
});

describe('kvm_sync_pages(vcpu, gfn)', () => {
  // `for_each_gfn_indirect_valid_sp(vcpu->kvm, s, gfn, node) { if (!s->unsync) continue; ...
  // kvm_unlink_unsync_page(vcpu->kvm, s); if ((s->role.cr4_pae != !!is_pae(vcpu)) ||
  // (vcpu->arch.mmu.sync_page(vcpu, s))) { kvm_mmu_prepare_zap_page(vcpu->kvm, s, &invalid_list);
  // continue; } flush = true; } kvm_mmu_commit_zap_page(vcpu->kvm, &invalid_list); if (flush)
  // kvm_mmu_flush_tlb(vcpu);`
  it('syncs the unsync pages of the gfn only, zaps the failed ones, one TLB flush for the rest', () => {
    const e = env();
    const g = 0x200;
    const p1 = mk(e, 'P1', g, 1, undefined, 0, 7);
    const p2 = mk(e, 'P2', g, 1, undefined, 0, 5);
    const p3 = mk(e, 'P3', g, 1, undefined, 0, 3);
    const other = e.kvm.sp.create(e.v.id, g + 1024, 1 | (7 << ROLE_ACCESS_SHIFT), -1); // same hash bucket
    name1(e, other, 'O');
    const p4 = mk(e, 'P4', g, 1, undefined, 0, 1);
    goUnsync(e, p1); // mmu_need_write_protect -> kvm_unsync_pages: every valid page of the gfn
    expect([p1, p2, p3, p4].map((p) => e.kvm.sp.unsync[p])).toEqual([1, 1, 1, 1]);
    goUnsync(e, other);
    e.kvm.sp.unsync[p3] = 0; // as if synced already
    e.syncResult.set(p2, 1);
    e.log.length = 0;
    const tlb = e.kvm.stats[S.tlb_flush]!;
    const unsync = e.kvm.stats[S.mmu_unsync]!;
    kvmSyncPages(e.kvm, e.v, g, e.ops);
    // The pages are visited in hash-chain order: kvm_mmu_get_page's `hlist_add_head(&sp->hash_link,
    // ...)` puts the newest first, so P4, P2 (P3 is no longer unsync), P1; the commit's remote flush last.
    expect(e.log).toEqual(['kvm_mmu_sync_page P4', 'syncop P4', 'kvm_mmu_sync_page P2', 'syncop P2', 'kvm_mmu_prepare_zap_page P2', 'kvm_mmu_sync_page P1', 'syncop P1', 'kvm_flush_remote_tlbs']);
    expect(e.log[e.log.length - 1]).toBe('kvm_flush_remote_tlbs');
    expect(e.kvm.stats[S.tlb_flush]! - tlb).toBe(1);
    expect(e.kvm.stats[S.mmu_unsync]! - unsync).toBe(-3);
    expect([p1, p2, p3, p4, other].map((p) => e.kvm.sp.unsync[p])).toEqual([0, 0, 0, 0, 1]);
    expect(e.kvm.sp.isFreed(p2)).toBe(true);
  });

  it('every page zapped: no kvm_mmu_flush_tlb; nothing unsync: nothing at all', () => {
    const e = env();
    const g = 0x200;
    const p1 = mk(e, 'P1', g, 1);
    goUnsync(e, p1);
    e.syncResult.set(p1, 1);
    e.log.length = 0;
    const tlb = e.kvm.stats[S.tlb_flush]!;
    kvmSyncPages(e.kvm, e.v, g, e.ops);
    expect(e.log).toEqual(['kvm_mmu_sync_page P1', 'syncop P1', 'kvm_mmu_prepare_zap_page P1', 'kvm_flush_remote_tlbs']);
    expect(e.kvm.stats[S.tlb_flush]! - tlb).toBe(0);
    const p2 = mk(e, 'P2', g, 1);
    e.log.length = 0;
    kvmSyncPages(e.kvm, e.v, g, e.ops);
    expect(e.log).toEqual([]);
    expect(e.kvm.stats[S.tlb_flush]! - tlb).toBe(0);
    expect(e.kvm.sp.isFreed(p2)).toBe(false);
  });

  it('an invalid or direct page of the gfn is skipped (for_each_gfn_indirect_valid_sp)', () => {
    const e = env();
    const g = 0x200;
    const p1 = mk(e, 'P1', g, 1);
    const p2 = mk(e, 'P2', g, 1, undefined, 0, 5);
    goUnsync(e, p1);
    e.kvm.sp.role[p1] = e.kvm.sp.role[p1]! | ROLE_INVALID;
    e.kvm.sp.role[p2] = e.kvm.sp.role[p2]! | ROLE_DIRECT;
    e.log.length = 0;
    kvmSyncPages(e.kvm, e.v, g, e.ops);
    expect(e.log).toEqual([]);
  });
});

describe('kvm_sync_page_transient (kvm_mmu_get_page meets an unsync page of the same role)', () => {
  // `ret = __kvm_sync_page(vcpu, sp, &invalid_list, false); if (ret) kvm_mmu_commit_zap_page(vcpu->kvm,
  // &invalid_list); return ret;` with clear_unsync = false: no kvm_unlink_unsync_page.
  it('a good sync keeps the page unsync and flushes the TLB; returns 0', () => {
    const e = env();
    const p = mk(e, 'P', 0x200, 1);
    goUnsync(e, p);
    e.log.length = 0;
    const tlb = e.kvm.stats[S.tlb_flush]!;
    expect(kvmSyncPageTransient(e.kvm, e.v, p, e.ops)).toBe(0);
    expect(e.log).toEqual(['syncop P']);
    expect(e.kvm.stats[S.tlb_flush]! - tlb).toBe(1);
    expect(e.kvm.sp.unsync[p]).toBe(1);
    expect(e.kvm.stats[S.mmu_unsync]).toBe(1);
  });

  it('a failed sync zaps and frees the page at once; returns 1, no TLB flush', () => {
    const e = env();
    const p = mk(e, 'P', 0x200, 1);
    goUnsync(e, p);
    e.syncResult.set(p, 1);
    e.log.length = 0;
    const tlb = e.kvm.stats[S.tlb_flush]!;
    expect(kvmSyncPageTransient(e.kvm, e.v, p, e.ops)).toBe(1);
    // kvm_mmu_prepare_zap_page unlinks the unsync page (its sync trace), then commit flushes remote TLBs.
    expect(e.log).toEqual(['syncop P', 'kvm_mmu_prepare_zap_page P', 'kvm_mmu_sync_page P', 'kvm_flush_remote_tlbs']);
    expect(e.kvm.stats[S.tlb_flush]! - tlb).toBe(0);
    expect(e.kvm.sp.isFreed(p)).toBe(true);
    expect(e.kvm.stats[S.mmu_unsync]).toBe(0);
  });
});

describe('mmu_need_write_protect(vcpu, gfn, can_unsync)', () => {
  // `for_each_gfn_indirect_valid_sp(vcpu->kvm, s, gfn, node) { if (!can_unsync) return 1; if
  // (s->role.level != PT_PAGE_TABLE_LEVEL) return 1; if (!need_unsync && !s->unsync) { if
  // (!oos_shadow) return 1; need_unsync = true; } } if (need_unsync) kvm_unsync_pages(vcpu, gfn);
  // return 0;` and kvm_unsync_pages: `for_each_gfn_indirect_valid_sp(...) { if (s->unsync) continue;
  // WARN_ON(s->role.level != PT_PAGE_TABLE_LEVEL); __kvm_unsync_page(vcpu, s); }`.
  it('a gfn no page shadows: 0, nothing unsync', () => {
    const e = env();
    mk(e, 'X', 0x200 + 1024, 2); // same bucket, another gfn
    expect(mmuNeedWriteProtect(e.kvm, e.v, 0x200, true, e.ops)).toBe(false);
    expect(mmuNeedWriteProtect(e.kvm, e.v, 0x200, false, e.ops)).toBe(false);
    expect(e.log).toEqual([]);
  });

  it('can_unsync = 0 (FNAME(sync_page)): 1, nothing unsync', () => {
    const e = env();
    const p = mk(e, 'P', 0x200, 1);
    expect(mmuNeedWriteProtect(e.kvm, e.v, 0x200, false, e.ops)).toBe(true);
    expect(e.kvm.sp.unsync[p]).toBe(0);
    expect(e.log).toEqual([]);
  });

  it('an upper-level page of the gfn: 1, even after a last-level one (the loop goes on)', () => {
    const e = env();
    const p = mk(e, 'P', 0x200, 1);
    mk(e, 'Q', 0x200, 2);
    expect(mmuNeedWriteProtect(e.kvm, e.v, 0x200, true, e.ops)).toBe(true);
    expect(e.kvm.sp.unsync[p]).toBe(0);
    expect(e.log).toEqual([]);
  });

  it('an already unsync page: 0, no second __kvm_unsync_page', () => {
    const e = env();
    const p = mk(e, 'P', 0x200, 1);
    goUnsync(e, p);
    e.log.length = 0;
    expect(mmuNeedWriteProtect(e.kvm, e.v, 0x200, true, e.ops)).toBe(false);
    expect(e.log).toEqual([]);
    expect(e.kvm.stats[S.mmu_unsync]).toBe(1);
  });

  it('one page unsync, another not: both end unsync, only the second traced', () => {
    const e = env();
    const p = mk(e, 'P', 0x200, 1);
    goUnsync(e, p);
    const q = mk(e, 'Q', 0x200, 1, undefined, 0, 5);
    e.log.length = 0;
    expect(mmuNeedWriteProtect(e.kvm, e.v, 0x200, true, e.ops)).toBe(false);
    expect(e.log).toEqual(['kvm_mmu_unsync_page Q', 'notrap Q']);
    expect([e.kvm.sp.unsync[p], e.kvm.sp.unsync[q]]).toEqual([1, 1]);
    expect(e.kvm.stats[S.mmu_unsync]).toBe(2);
  });

  it('an invalid page of the gfn is not looked at; an invalid upper page does not force write protection', () => {
    const e = env();
    const q = mk(e, 'Q', 0x200, 2);
    e.kvm.sp.role[q] = e.kvm.sp.role[q]! | ROLE_INVALID;
    const p = mk(e, 'P', 0x200, 1);
    expect(mmuNeedWriteProtect(e.kvm, e.v, 0x200, true, e.ops)).toBe(false);
    expect(e.kvm.sp.unsync[p]).toBe(1);
    expect(e.kvm.sp.unsync[q]).toBe(0);
  });

  it('oos_shadow = 0: 1 for a last-level page that is not unsync', () => {
    const e = env({ oos: false });
    const p = mk(e, 'P', 0x200, 1);
    expect(mmuNeedWriteProtect(e.kvm, e.v, 0x200, true, e.ops)).toBe(true);
    expect(e.kvm.sp.unsync[p]).toBe(0);
    expect(e.log).toEqual([]);
    // An unsync one (it cannot become so with oos_shadow = 0, but the test is `!s->unsync` first).
    e.kvm.sp.unsync[p] = 1;
    expect(mmuNeedWriteProtect(e.kvm, e.v, 0x200, true, e.ops)).toBe(false);
  });
});
