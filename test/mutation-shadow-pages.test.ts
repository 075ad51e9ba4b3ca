// simulator/kvm/mmu/shadow_pages.ts (struct kvm_mmu_page and its life cycle) driven directly, with
// exact expected values worked out from the kernel sources: /work/ksrc/v3.1/arch/x86/kvm/mmu.c
// (3.1.10), /work/ksrc/v3.0.1/arch/x86/kvm/mmu.c (3.0.1), mmu.h and asm/kvm_host.h of both
// (docs/kernel-paths.md §9, §11). Written to kill the mutants the scenario tests let live: the hash
// (hlist_add_head), parent_ptes, mmu_page_zap_pte, kvm_mmu_prepare_zap_page / kvm_mmu_commit_zap_page,
// mmu_free_roots' zap of an invalid root, __kvm_mmu_free_some_pages and kvm_mmu_change_mmu_pages.
//
// Pages are made by hand in a fresh shadow-paging VM with ShadowPages.create (kvm_mmu_get_page's
// miss: kvm_mmu_alloc_page, the hash, parent_ptes) and linked with the link_shadow_page SPTE value,
// as test/mutation-unsync.test.ts does.
import { describe, it, expect } from 'vitest';
import { machine } from './helpers/scenario';
import type { Kvm } from '../simulator/kvm/kvm';
import type { Vcpu } from '../simulator/kvm/vcpu';
import { ROLE_ACCESS_SHIFT, ROLE_DIRECT } from '../simulator/kvm/mmu/shadow_pages';
import { EVENT_LIST } from '../simulator/trace/events';
import { S } from '../simulator/trace/stats';
import { frameHi } from '../simulator/arch/x86/u64';

const LOGGED = new Set(['kvm_mmu_get_page', 'kvm_mmu_prepare_zap_page', 'kvm_mmu_delay_free_pages', 'kvm_flush_remote_tlbs']);

interface Env {
  kvm: Kvm;
  v: Vcpu;
  /** Trace events in order: `name gfn` (gfn in hex), `get 0x.. new|old`, `flush`. */
  log: string[];
}

/** A fresh shadow-paging VM. `mem` is the one memslot's size: 64M gives kvm_mmu_calculate_mmu_pages
 *  16384+ pages * 20 / 1000 = 327+, 4M gives 1024+ * 20 / 1000 = 20+, raised to KVM_MIN_ALLOC_MMU_PAGES 64. */
function env(kernel: 'v3.0' | 'v3.1' = 'v3.1', mem = '64M'): Env {
  const yaml = `kernel: ${kernel}
mmu: { tdp: false }
memslots:
  - { slot: 0, gpa: 0x0, size: ${mem} }
guest:
  mappings:
    - { gva: 0x8000000000, gpa: 0x100000, size: 4K, page: 4K, flags: "p w a d" }
workload:
  - { compute: 1 }
`;
  const m = machine(yaml);
  const kvm = m.kvm;
  const v = kvm.vcpus[0]!;
  const log: string[] = [];
  kvm.trace.observe(({ id, args: [a0, , a2, a3] }) => {
    const name = EVENT_LIST[id]!.name;
    if (LOGGED.has(name)) {
      if (name === 'kvm_flush_remote_tlbs') log.push('flush');
      else if (name === 'kvm_mmu_get_page') log.push(`get 0x${a0!.toString(16)} ${a3 ? 'new' : 'old'}`);
      else if (name === 'kvm_mmu_delay_free_pages') log.push(`delay 0x${a0!.toString(16)} ${a2}`);
      else log.push(`zap 0x${a0!.toString(16)}`);
    }
  });
  // The machine built vCPU 0's root for the guest's CR3 (page id 0). Drop it (mmu_free_roots:
  // `--sp->root_count`) and zap it, so that every test starts with no shadow page at all.
  const sp = kvm.sp;
  for (const id of [...sp.active]) sp.rootCount[id] = 0;
  v.root = -1;
  const inv: number[] = [];
  for (const id of [...sp.active]) sp.prepareZap(v.id, id, inv);
  sp.commitZap(v.id, inv);
  if (sp.active.size !== 0 || sp.nUsed !== 0 || sp.indirectCount !== 0) throw new Error('shadow pages left');
  kvm.resetCounters();
  log.length = 0;
  return { kvm, v, log };
}

const ACC_ALL = 7;
const role = (level: number, extra = 0) => level | (ACC_ALL << ROLE_ACCESS_SHIFT) | extra;

/** A page for `gfn` at `level`, linked at entry `idx` of `parent` when given. */
function mk(e: Env, gfn: number, level: number, parent?: number, idx = 0, extra = 0): number {
  const { kvm, v } = e;
  const pw = parent === undefined ? -1 : kvm.host.entryWord(kvm.sp.pfn[parent]!, idx);
  const id = kvm.sp.create(v.id, gfn, role(level, extra), pw);
  if (pw >= 0) setLink(e, pw, id);
  return id;
}

/** link_shadow_page: `spte = __pa(sp->spt) | PT_PRESENT_MASK | PT_ACCESSED_MASK | PT_WRITABLE_MASK | PT_USER_MASK;` */
function setLink(e: Env, word: number, child: number): void {
  const { kvm } = e;
  kvm.host.words[word] = kvm.fmt.shadowNonLeafLo(kvm.sp.pfn[child]!);
  kvm.host.words[word + 1] = frameHi(kvm.sp.pfn[child]!);
}

const word = (e: Env, sp: number, i: number) => e.kvm.host.entryWord(e.kvm.sp.pfn[sp]!, i);
const lookups = (e: Env) => e.kvm.stats[S.memslot_lookups]!;
/** `n` unrelated last-level pages (gfns 0x1000.., each its own hash bucket), oldest first. */
function many(e: Env, n: number, base = 0x1000): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(mk(e, base + i, 1));
  return out;
}
const sorted = (a: readonly number[]) => [...a].sort((x, y) => x - y);

describe('kvm_mmu_get_page: the hash, parent_ptes, the role', () => {
  it('an empty bucket is empty; hlist_add_head puts the newest page first', () => {
    const e = env();
    const sp = e.kvm.sp;
    // kvm_page_table_hashfn: `return gfn & ((1 << KVM_MMU_HASH_SHIFT) - 1);` (KVM_MMU_HASH_SHIFT 10).
    expect(sp.bucket(0x40)).toEqual([]);
    expect(sp.bucket(0x3ff)).toEqual([]);
    const a = mk(e, 0x40, 1);
    const b = mk(e, 0x440, 2); // 0x440 & 0x3ff = 0x40: same bucket
    expect(sp.bucket(0x40)).toEqual([b, a]);
    expect(sp.bucket(0x440)).toEqual([b, a]);
    expect(sp.bucket(0x41)).toEqual([]);
  });

  it('a hit adds the parent SPTE (mmu_page_add_parent_pte), a NULL parent adds nothing; trace created=0', () => {
    const e = env();
    const sp = e.kvm.sp;
    const p = mk(e, 0x10, 2);
    const a = mk(e, 0x40, 1, p, 3);
    const w3 = word(e, p, 3);
    const w4 = word(e, p, 4);
    expect(sp.parents[a]).toEqual([w3]);
    e.log.length = 0;
    // kvm_mmu_get_page's hit: `mmu_page_add_parent_pte(vcpu, sp, parent_pte); ...
    // trace_kvm_mmu_get_page(sp, false); return sp;`
    expect(sp.getPage(e.v.id, 0x40, role(1), w4)).toBe(a);
    expect(sorted(sp.parents[a]!)).toEqual(sorted([w3, w4]));
    // mmu_page_add_parent_pte: `if (!parent_pte) return;` (-1 stands for NULL here).
    expect(sp.getPage(e.v.id, 0x40, role(1), -1)).toBe(a);
    expect(sorted(sp.parents[a]!)).toEqual(sorted([w3, w4]));
    expect(e.log).toEqual(['get 0x40 old', 'get 0x40 old']);
    // Another role is another page: `if (sp->role.word != role.word) continue;` then the miss.
    const d = sp.getPage(e.v.id, 0x40, role(1, ROLE_DIRECT), -1);
    expect(d).not.toBe(a);
    expect(e.log.slice(2)).toEqual(['get 0x40 new']);
    expect(e.kvm.stats[S.mmu_cache_miss]).toBe(3);
  });

  it('role bits: direct (13); page_header of an unknown frame is no page', () => {
    const e = env();
    const sp = e.kvm.sp;
    const ind = mk(e, 0x40, 1);
    const dir = mk(e, 0x41, 1, undefined, 0, ROLE_DIRECT);
    // `unsigned direct:1;` at bit 13 of union kvm_mmu_page_role (asm/kvm_host.h).
    expect(sp.isDirect(ind)).toBe(false);
    expect(sp.isDirect(dir)).toBe(true);
    expect(sp.idOfPfn(sp.pfn[ind]!)).toBe(ind);
    expect(sp.idOfPfn(1)).toBe(-1); // not a shadow page (pfn 1 is below every host frame)
  });

  it('kvm_mmu_alloc_page: a fresh page header (mmu_memory_cache_alloc of a zeroed object) reuses the freed one; its unsync_child_bitmap is zero', () => {
    const e = env();
    const sp = e.kvm.sp;
    const a = mk(e, 0x40, 2);
    const b = mk(e, 0x41, 2);
    // Stale bits in both pages' unsync_child_bitmap (16 words each).
    for (const id of [a, b]) for (let k = 0; k < 16; k++) sp.childBitmap[id * 16 + k] = 0xffffffff;
    const inv: number[] = [];
    sp.prepareZap(e.v.id, b, inv);
    sp.commitZap(e.v.id, inv);
    expect(sp.isFreed(b)).toBe(true);
    // mmu_topup_memory_cache fills mmu_page_header_cache with `obj = kmem_cache_zalloc(base_cache,
    // GFP_KERNEL);` and kvm_mmu_alloc_page takes its header from there: a new page starts with an empty
    // unsync_child_bitmap and unsync_children 0. (The simulator keeps headers in arrays indexed by
    // page id and hands the freed id out first, as a slab hands back a just-freed object; that the
    // reused header starts clean is the point.)
    const c = mk(e, 0x42, 2);
    expect(c).toBe(b);
    expect(Array.from(sp.childBitmap.subarray(c * 16, c * 16 + 16))).toEqual(new Array(16).fill(0));
    // The neighbour's bits are untouched.
    expect(Array.from(sp.childBitmap.subarray(a * 16, a * 16 + 16))).toEqual(new Array(16).fill(0xffffffff));
    expect(sp.unsyncChildren[c]).toBe(0);
  });

  it('shadow_pages and its high-water mark follow kvm_mmu_alloc_page / kvm_mmu_free_page', () => {
    const e = env();
    const sp = e.kvm.sp;
    const st = e.kvm.stats;
    const base = 0;
    expect([st[S.shadow_pages], st[S.shadow_pages_max]]).toEqual([0, 0]);
    const ids = many(e, 3);
    expect([st[S.shadow_pages], st[S.shadow_pages_max]]).toEqual([base + 3, base + 3]);
    const inv: number[] = [];
    sp.prepareZap(e.v.id, ids[0]!, inv);
    sp.prepareZap(e.v.id, ids[1]!, inv);
    sp.commitZap(e.v.id, inv);
    expect([st[S.shadow_pages], st[S.shadow_pages_max]]).toEqual([base + 1, base + 3]);
    mk(e, 0x2000, 1);
    expect([st[S.shadow_pages], st[S.shadow_pages_max]]).toEqual([base + 2, base + 3]);
    mk(e, 0x2001, 1);
    mk(e, 0x2002, 1);
    expect([st[S.shadow_pages], st[S.shadow_pages_max]]).toEqual([base + 4, base + 4]);
  });
});

describe('mmu_page_zap_pte / kvm_mmu_page_unlink_children', () => {
  it('a non-leaf SPTE drops the child\'s parent pointer (drop_parent_pte), also for page id 0; a leaf goes through rmap_remove', () => {
    const e = env();
    const sp = e.kvm.sp;
    // The first page made gets id 0 (the header env() freed).
    const c0 = mk(e, 0x40, 1);
    expect(c0).toBe(0);
    const p = mk(e, 0x10, 2);
    const c1 = mk(e, 0x41, 1, p, 9);
    const w5 = word(e, p, 5);
    sp.parents[c0]!.push(w5);
    setLink(e, w5, c0);
    // mmu_page_zap_pte: `if (is_shadow_present_pte(pte)) { if (is_last_spte(pte, sp->role.level))
    // drop_spte(kvm, spte); else { child = page_header(pte & PT64_BASE_ADDR_MASK);
    // drop_parent_pte(child, spte); } }`
    sp.zapPte(e.v.id, p, 5);
    expect(sp.parents[c0]).toEqual([]);
    expect(sp.parents[c1]).toEqual([word(e, p, 9)]);
    expect([e.kvm.host.words[w5], e.kvm.host.words[w5 + 1]]).toEqual([0, 0]);
    // A leaf in a last-level page: drop_spte -> rmap_remove -> gfn_to_rmap (one memslot lookup).
    const lw = word(e, c1, 7);
    e.kvm.host.words[lw] = e.kvm.fmt.shadowLeafLo(0x100, ACC_ALL, false);
    e.kvm.host.words[lw + 1] = e.kvm.fmt.shadowLeafHi(0x100, ACC_ALL);
    const before = lookups(e);
    sp.zapPte(e.v.id, c1, 7);
    expect(lookups(e) - before).toBe(1);
    expect([e.kvm.host.words[lw], e.kvm.host.words[lw + 1]]).toEqual([0, 0]);
    // A non-leaf in a level-2 page needs no memslot.
    const before2 = lookups(e);
    sp.zapPte(e.v.id, p, 9);
    expect(lookups(e) - before2).toBe(0);
    expect(sp.parents[c1]).toEqual([]);
  });

  it('the child is found from both halves of the SPTE being zapped, not its neighbour\'s', () => {
    const e = env();
    const sp = e.kvm.sp;
    const p = mk(e, 0x10, 2);
    const c = mk(e, 0x41, 1, p, 6);
    // Entry 5 holds an MMIO SPTE (mark_mmio_spte: shadow_mmio_mask | gfn << 12; the mask has the
    // bits maxphyaddr..62, i.e. a non-zero high half); only entry 6 is zapped.
    const w5 = word(e, p, 5);
    e.kvm.host.words[w5] = e.kvm.fmt.mmioLoOf(0xfee00, 0);
    e.kvm.host.words[w5 + 1] = e.kvm.fmt.mmioHiOf(0xfee00);
    expect(e.kvm.host.words[w5 + 1]! & 0xfffff).not.toBe(0);
    sp.zapPte(e.v.id, p, 6);
    expect(sp.parents[c]).toEqual([]);
  });

  it('an MMIO SPTE is only cleared (mmu_spte_clear_no_track): no rmap_remove, no memslot lookup', () => {
    const e = env();
    const sp = e.kvm.sp;
    const c = mk(e, 0x41, 1);
    const w = word(e, c, 3);
    e.kvm.host.words[w] = e.kvm.fmt.mmioLoOf(0xfee00, 0);
    e.kvm.host.words[w + 1] = e.kvm.fmt.mmioHiOf(0xfee00);
    const before = lookups(e);
    // `} else if (is_mmio_spte(pte)) mmu_spte_clear_no_track(spte);`
    sp.zapPte(e.v.id, c, 3);
    expect(lookups(e) - before).toBe(0);
    expect([e.kvm.host.words[w], e.kvm.host.words[w + 1]]).toEqual([0, 0]);
  });
});

describe('parent_ptes, unsync gauge, for_each_gfn_indirect_valid_sp', () => {
  it('mmu_page_remove_parent_pte removes the given entry, the first one too', () => {
    const e = env();
    const sp = e.kvm.sp;
    const p = mk(e, 0x10, 2);
    const c = mk(e, 0x41, 1, p, 1);
    const w1 = word(e, p, 1);
    const w2 = word(e, p, 2);
    const w3 = word(e, p, 3);
    sp.parents[c]!.push(w2, w3);
    // pte_list_remove(parent_pte, &sp->parent_ptes): the remaining entries stay.
    sp.dropParent(c, w1);
    expect(sorted(sp.parents[c]!)).toEqual(sorted([w2, w3]));
    sp.dropParent(c, w3);
    expect(sp.parents[c]).toEqual([w2]);
    sp.dropParent(c, w2);
    expect(sp.parents[c]).toEqual([]);
  });

  it('mmu_unsync counts the unsync pages (++ in __kvm_unsync_page)', () => {
    const e = env();
    const sp = e.kvm.sp;
    const [a, , c] = many(e, 3);
    expect(sp.unsyncCount()).toBe(0);
    sp.unsync[a!] = 1;
    sp.unsync[c!] = 1;
    expect(sp.unsyncCount()).toBe(2);
  });

  it('for_each_gfn_indirect_valid_sp: `if ((sp)->gfn != (gfn) || (sp)->role.direct || (sp)->role.invalid) {} else`', () => {
    const e = env();
    const sp = e.kvm.sp;
    const valid = mk(e, 0x40, 1);
    const other = mk(e, 0x440, 1); // same bucket, other gfn
    const direct = mk(e, 0x40, 1, undefined, 0, ROLE_DIRECT);
    const valid2 = mk(e, 0x40, 2);
    const dead = mk(e, 0x40, 3);
    sp.rootCount[dead] = 1; // a root: prepare-zapped, it stays in the hash, invalid
    sp.prepareZap(e.v.id, dead, []);
    expect(sp.bucket(0x40)).toEqual([dead, valid2, direct, other, valid]);
    expect(sp.indirectOf(0x40)).toEqual([valid2, valid]);
    expect(sp.indirectOf(0x440)).toEqual([other]);
    expect(sp.isIndirectValid(valid, 0x40)).toBe(true);
    expect(sp.isIndirectValid(dead, 0x40)).toBe(false);
  });
});

describe('kvm_mmu_prepare_zap_page', () => {
  it('3.1.10: unlink parents, count self, kvm_mod_used_mmu_pages(kvm, -1) at once, reset last_pte_updated', () => {
    const e = env('v3.1');
    const sp = e.kvm.sp;
    const p = mk(e, 0x10, 2);
    const c = mk(e, 0x41, 1, p, 1);
    const w2 = word(e, p, 2);
    sp.parents[c]!.push(w2);
    setLink(e, w2, c);
    e.kvm.vcpus[0]!.lastPteUpdated = word(e, c, 0);
    const used = sp.nUsed;
    const indirect = sp.indirectCount;
    const before = lookups(e);
    const inv: number[] = [];
    // `kvm_mmu_unlink_parents(kvm, sp); if (!sp->role.invalid && !sp->role.direct)
    // unaccount_shadowed(kvm, sp->gfn); ... if (!sp->root_count) { ret++; list_move(&sp->link,
    // invalid_list); kvm_mod_used_mmu_pages(kvm, -1); } ... kvm_mmu_reset_last_pte_updated(kvm);`
    expect(sp.prepareZap(e.v.id, c, inv)).toBe(1);
    expect(inv).toEqual([c]);
    expect(sp.parents[c]).toEqual([]);
    expect([e.kvm.host.words[word(e, p, 1)], e.kvm.host.words[w2]]).toEqual([0, 0]);
    expect(sp.nUsed).toBe(used - 1);
    expect(sp.indirectCount).toBe(indirect - 1);
    expect(lookups(e) - before).toBe(1); // unaccount_shadowed: `slot = gfn_to_memslot(kvm, gfn);`
    expect(e.kvm.vcpus[0]!.lastPteUpdated).toBe(-1); // `vcpu->arch.last_pte_updated = NULL;`
    expect(sp.isInvalid(c)).toBe(true);
    expect(sp.active.has(c)).toBe(false);
    // Not freed before kvm_mmu_commit_zap_page.
    expect(sp.isFreed(c)).toBe(false);
    expect(sp.bucket(0x41)).toEqual([c]);
    sp.commitZap(e.v.id, inv);
    expect(sp.nUsed).toBe(used - 1);
    expect(sp.isFreed(c)).toBe(true);
    expect(sp.bucket(0x41)).toEqual([]);
  });

  it('3.0.1: n_used_mmu_pages drops only in kvm_mmu_free_page (`kvm_mod_used_mmu_pages(kvm, -1);`)', () => {
    const e = env('v3.0');
    const sp = e.kvm.sp;
    const [a, b] = many(e, 2);
    const used = sp.nUsed;
    const inv: number[] = [];
    sp.prepareZap(e.v.id, a!, inv);
    sp.prepareZap(e.v.id, b!, inv);
    expect(sp.nUsed).toBe(used);
    sp.commitZap(e.v.id, inv);
    expect(sp.nUsed).toBe(used - 2);
    expect([sp.isFreed(a!), sp.isFreed(b!)]).toEqual([true, true]);
  });

  it('a direct page is not unaccounted; an invalid root zapped again is not unaccounted twice', () => {
    const e = env();
    const sp = e.kvm.sp;
    const d = mk(e, 0x40, 2, undefined, 0, ROLE_DIRECT);
    const r = mk(e, 0x50, 4);
    sp.rootCount[r] = 1;
    const indirect = sp.indirectCount;
    let before = lookups(e);
    sp.prepareZap(e.v.id, d, []);
    // `if (!sp->role.invalid && !sp->role.direct) unaccount_shadowed(kvm, sp->gfn);`
    expect([sp.indirectCount, lookups(e) - before]).toEqual([indirect, 0]);
    sp.prepareZap(e.v.id, r, []);
    expect(sp.indirectCount).toBe(indirect - 1);
    before = lookups(e);
    sp.prepareZap(e.v.id, r, []);
    expect([sp.indirectCount, lookups(e) - before]).toEqual([indirect - 1, 0]);
  });
});

describe('kvm_mmu_commit_zap_page', () => {
  it('the page heading its bucket is taken out of the hash (kvm_mmu_isolate_page: hlist_del), the rest stay', () => {
    const e = env();
    const sp = e.kvm.sp;
    const a = mk(e, 0x40, 1);
    const b = mk(e, 0x440, 1);
    const c = mk(e, 0x840, 1);
    expect(sp.bucket(0x40)).toEqual([c, b, a]);
    const inv: number[] = [];
    sp.prepareZap(e.v.id, c, inv);
    sp.commitZap(e.v.id, inv);
    expect(sp.bucket(0x40)).toEqual([b, a]);
    expect(e.log.slice(-2)).toEqual(['zap 0x840', 'flush']);
  });

  it('with a lockless walker inside (reader_counter): isolated now, freed by free_pages_rcu', () => {
    const e = env();
    const sp = e.kvm.sp;
    const [a, b] = many(e, 2);
    e.kvm.readerCounter = 1;
    const inv: number[] = [];
    sp.prepareZap(e.v.id, a!, inv);
    sp.prepareZap(e.v.id, b!, inv);
    e.log.length = 0;
    sp.commitZap(e.v.id, inv);
    // `kvm_mmu_isolate_pages(invalid_list); sp = list_first_entry(...); ... trace_kvm_mmu_delay_free_pages(sp);`
    expect(e.log).toEqual(['flush', 'delay 0x1000 2']);
    expect([sp.bucket(0x1000), sp.bucket(0x1001)]).toEqual([[], []]);
    expect([sp.isFreed(a!), sp.isFreed(b!)]).toEqual([false, false]);
    e.kvm.readerCounter = 0;
    sp.freeAfterGracePeriod();
    expect([sp.isFreed(a!), sp.isFreed(b!)]).toEqual([true, true]);
  });
});

describe('mmu_free_roots: `if (!sp->root_count && sp->role.invalid) { kvm_mmu_prepare_zap_page(...); kvm_mmu_commit_zap_page(...); }`', () => {
  it('the last user of an invalid root zaps and frees it; an earlier user does not', () => {
    const e = env();
    const sp = e.kvm.sp;
    const r = mk(e, 0x50, 4);
    sp.rootCount[r] = 2;
    sp.prepareZap(e.v.id, r, []);
    expect(sp.active.has(r)).toBe(true);
    e.log.length = 0;
    sp.putRoot(e.v.id, r);
    expect(sp.rootCount[r]).toBe(1);
    expect(e.log).toEqual([]);
    expect(sp.isFreed(r)).toBe(false);
    sp.putRoot(e.v.id, r);
    expect(e.log).toEqual(['zap 0x50', 'flush']);
    expect(sp.isFreed(r)).toBe(true);
    expect(sp.active.has(r)).toBe(false);
  });

  it('a valid root whose last user leaves stays', () => {
    const e = env();
    const sp = e.kvm.sp;
    const r = mk(e, 0x50, 4);
    sp.rootCount[r] = 1;
    e.log.length = 0;
    sp.putRoot(e.v.id, r);
    expect(sp.rootCount[r]).toBe(0);
    expect(e.log).toEqual([]);
    expect([sp.isFreed(r), sp.isInvalid(r), sp.active.has(r)]).toEqual([false, false, true]);
  });
});

describe('kvm_mmu_free_some_pages / __kvm_mmu_free_some_pages (KVM_MIN_FREE_MMU_PAGES 5, KVM_REFILL_PAGES 25)', () => {
  // 4M of memslots: kvm_mmu_calculate_mmu_pages gives max(nr_pages * 20 / 1000, 64) = 64.
  it('3.1.10: zaps the oldest until 25 are available, commits once', () => {
    const e = env('v3.1', '4M');
    const sp = e.kvm.sp;
    expect(sp.nMax).toBe(64);
    const used0 = sp.nUsed;
    const ids = many(e, 62 - used0);
    expect(sp.nUsed).toBe(62); // available 2 < 5
    e.log.length = 0;
    const rec = e.kvm.stats[S.mmu_recycled]!;
    sp.freeSomePages(e.v.id);
    // `while (kvm_mmu_available_pages(vcpu->kvm) < KVM_REFILL_PAGES && !list_empty(...)) {
    // sp = container_of(...active_mmu_pages.prev, ...); kvm_mmu_prepare_zap_page(...);
    // ++vcpu->kvm->stat.mmu_recycled; } kvm_mmu_commit_zap_page(vcpu->kvm, &invalid_list);`
    // 64 - n_used reaches 25 at n_used 39: 23 pages, the oldest.
    expect(e.kvm.stats[S.mmu_recycled]! - rec).toBe(23);
    expect(sp.nUsed).toBe(39);
    expect(e.log.filter((l) => l === 'flush').length).toBe(1);
    expect(e.log.at(-1)).toBe('flush');
    const zapped = ids.slice(0, 23);
    expect(zapped.every((id) => sp.isFreed(id))).toBe(true);
    expect(ids.slice(23).every((id) => sp.active.has(id))).toBe(true);
    // 5 available: `if (unlikely(kvm_mmu_available_pages(vcpu->kvm) < KVM_MIN_FREE_MMU_PAGES))` no more.
    many(e, 20, 0x3000);
    expect(sp.nUsed).toBe(59);
    e.log.length = 0;
    sp.freeSomePages(e.v.id);
    expect(e.log).toEqual([]);
  });

  it('3.0.1: commits after each zap (kvm_mmu_commit_zap_page inside the loop), n_used drops as each page is freed', () => {
    const e = env('v3.0', '4M');
    const sp = e.kvm.sp;
    expect(sp.nMax).toBe(64);
    const ids = many(e, 62 - sp.nUsed);
    e.log.length = 0;
    const rec = e.kvm.stats[S.mmu_recycled]!;
    // 3.0.1: `kvm_mmu_prepare_zap_page(vcpu->kvm, sp, &invalid_list); kvm_mmu_commit_zap_page(vcpu->kvm,
    // &invalid_list); ++vcpu->kvm->stat.mmu_recycled;` in the loop, and kvm_mmu_free_page ends with
    // `kvm_mod_used_mmu_pages(kvm, -1);`: 23 pages again, each flushed and freed on its own.
    sp.freeSomePages(e.v.id);
    expect(e.kvm.stats[S.mmu_recycled]! - rec).toBe(23);
    expect(sp.nUsed).toBe(39);
    const expected: string[] = [];
    for (const id of ids.slice(0, 23)) expected.push(`zap 0x${sp.gfn[id]!.toString(16)}`, 'flush');
    expect(e.log).toEqual(expected);
    expect(ids.slice(23).every((id) => sp.active.has(id))).toBe(true);
  });

  it('the list runs empty before 25 are available: `!list_empty(&vcpu->kvm->arch.active_mmu_pages)` ends the loop', () => {
    for (const kernel of ['v3.1', 'v3.0'] as const) {
      const e = env(kernel);
      const sp = e.kvm.sp;
      const ids = many(e, 8);
      // n_max_mmu_pages 10 (a budget below KVM_REFILL_PAGES: kvm_mmu_change_mmu_pages can leave one,
      // `goal_nr_mmu_pages = kvm->arch.n_used_mmu_pages;`), n_used 8: 2 available, and 25 never are.
      sp.nMax = 10;
      const rec = e.kvm.stats[S.mmu_recycled]!;
      sp.freeSomePages(e.v.id);
      expect(e.kvm.stats[S.mmu_recycled]! - rec).toBe(8);
      expect(sp.active.size).toBe(0);
      expect(ids.every((id) => sp.isFreed(id))).toBe(true);
      expect(sp.nUsed).toBe(0);
    }
  });
});

describe('kvm_mmu_change_mmu_pages (kvm_arch_commit_memory_region)', () => {
  it('3.1.10: more pages in use than the goal: zap the oldest down to it, commit once, n_max = n_used', () => {
    const e = env('v3.1', '4M');
    const sp = e.kvm.sp;
    const ids = many(e, 140 - sp.nUsed);
    expect(sp.nUsed).toBe(140);
    const inUse = sp.inUse;
    e.log.length = 0;
    // `if (kvm->arch.n_used_mmu_pages > goal_nr_mmu_pages) { while (kvm->arch.n_used_mmu_pages >
    // goal_nr_mmu_pages && !list_empty(&kvm->arch.active_mmu_pages)) { page = container_of(
    // kvm->arch.active_mmu_pages.prev, ...); kvm_mmu_prepare_zap_page(kvm, page, &invalid_list); }
    // kvm_mmu_commit_zap_page(kvm, &invalid_list); goal_nr_mmu_pages = kvm->arch.n_used_mmu_pages; }
    // kvm->arch.n_max_mmu_pages = goal_nr_mmu_pages;` with goal max(1024+ * 20 / 1000, 64) = 64.
    sp.changeMmuPages(e.v.id);
    expect(sp.nUsed).toBe(64);
    expect(sp.nMax).toBe(64);
    expect(sp.inUse).toBe(inUse - 76);
    expect(e.kvm.stats[S.shadow_pages]).toBe(inUse - 76);
    expect(e.log.filter((l) => l.startsWith('zap')).length).toBe(76);
    expect(e.log.filter((l) => l === 'flush')).toEqual(['flush']);
    expect(e.log.at(-1)).toBe('flush');
    expect(ids.slice(-64).every((id) => sp.active.has(id))).toBe(true);
    expect(ids.slice(0, 76).every((id) => sp.isFreed(id))).toBe(true);
    // At or below the goal nothing is zapped.
    e.log.length = 0;
    sp.changeMmuPages(e.v.id);
    expect(e.log).toEqual([]);
    expect(sp.nMax).toBe(64);
  });
});

describe('3.0.1 kvm_mmu_change_mmu_pages commits inside the loop', () => {
  it('zaps the oldest down to the goal, one flush per page, n_max = the goal', () => {
    const e = env('v3.0', '4M');
    const sp = e.kvm.sp;
    const ids = many(e, 140 - sp.nUsed);
    expect(sp.nUsed).toBe(140);
    e.log.length = 0;
    // 3.0.1 mmu.c:1779: `while (kvm->arch.n_used_mmu_pages > goal_nr_mmu_pages && !list_empty(...)) {
    // ... kvm_mmu_prepare_zap_page(kvm, page, &invalid_list); kvm_mmu_commit_zap_page(kvm,
    // &invalid_list); }`, and kvm_mmu_free_page lowers n_used: the loop stops at the goal 64.
    sp.changeMmuPages(e.v.id);
    expect(sp.nUsed).toBe(64);
    expect(sp.nMax).toBe(64);
    const expected: string[] = [];
    for (const id of ids.slice(0, 76)) expected.push(`zap 0x${sp.gfn[id]!.toString(16)}`, 'flush');
    expect(e.log).toEqual(expected);
    expect(ids.slice(-64).every((id) => sp.active.has(id))).toBe(true);
  });
});

describe('kvm_mmu_available_pages is unsigned', () => {
  it('more pages in use than n_max: the difference wraps, so kvm_mmu_free_some_pages frees nothing', () => {
    for (const kernel of ['v3.0', 'v3.1'] as const) {
      const e = env(kernel);
      const sp = e.kvm.sp;
      const ids = many(e, 12);
      // mmu.h: `static inline unsigned int kvm_mmu_available_pages(struct kvm *kvm) { return
      // kvm->arch.n_max_mmu_pages - kvm->arch.n_used_mmu_pages; }` and `if (unlikely(
      // kvm_mmu_available_pages(vcpu->kvm)< KVM_MIN_FREE_MMU_PAGES)) __kvm_mmu_free_some_pages(vcpu);`
      sp.nMax = 10;
      const rec = e.kvm.stats[S.mmu_recycled]!;
      e.log.length = 0;
      sp.freeSomePages(e.v.id);
      expect(e.kvm.stats[S.mmu_recycled]! - rec).toBe(0);
      expect(e.log).toEqual([]);
      expect(ids.every((id) => sp.active.has(id))).toBe(true);
    }
  });
});
