// Shadow pages (`struct kvm_mmu_page`, 3.0.1 / 3.1.10): each owns one host frame of 512 SPTEs (`spt`),
// is keyed by (gfn, role) in a 1024-bucket hash (`gfn & 1023`), sits on `active_mmu_pages`, and
// knows its parent SPTE. Under EPT every page is direct (it maps a linear GPA range).
//
// Role word (LSB first, 3.1.10 `union kvm_mmu_page_role` in asm/kvm_host.h): level 0-3, cr4_pae 4, quadrant 5-6,
// direct 13, access 14-16, invalid 17, nxe 18, cr0_wp 19, smep_andnot_wp 20 (3.1.10 only).
//
// Zapping follows kvm_mmu_prepare_zap_page / kvm_mmu_commit_zap_page of the 2011 series: a zapped
// page's SPTEs are cleared and its parent SPTE dropped; pages still used as a root stay on the active
// list marked invalid until their last user drops them; the rest are freed after a remote TLB flush,
// or, while a lockless walker is inside the tables (reader_counter != 0), isolated and freed only
// after the RCU grace period (trace `kvm_mmu_delay_free_pages`).

import { F } from '../kernel_functions';
import type { Kvm } from '../kvm';
import { S } from '../../trace/stats';
import { E } from '../../trace/events';
import { C } from '../../cost/accounting';
import { frameOf } from '../../arch/x86/u64';
import { grown } from '../../util/grow';
import { kvmUnlinkUnsyncPage, mmuZapUnsyncChildren } from './unsync';

export const ROLE_LEVEL_MASK = 0xf;
export const ROLE_DIRECT = 1 << 13;
export const ROLE_ACCESS_SHIFT = 14;
export const ROLE_INVALID = 1 << 17;
export const ROLE_NXE = 1 << 18;
export const ROLE_CR0_WP = 1 << 19;
/** 3.1.10 only: `base_role.smep_andnot_wp = smep && !is_write_protection(vcpu);` */
export const ROLE_SMEP_ANDNOT_WP = 1 << 20;

const KVM_MMU_HASH_SHIFT = 10;
/** asm/kvm_host.h (3.0.1, 3.1.10): the shadow page budget. */
const KVM_PERMILLE_MMU_PAGES = 20;
const KVM_MIN_ALLOC_MMU_PAGES = 64;
const KVM_MIN_FREE_MMU_PAGES = 5;
const KVM_REFILL_PAGES = 25;
const HASH_MASK = (1 << KVM_MMU_HASH_SHIFT) - 1;

/** Page states: on the active list, or zapped and waiting for a grace period, or free. */
const SP_FREE = 0;
const SP_ACTIVE = 1;
const SP_ISOLATED = 2;

export class ShadowPages {
  private cap = 0;
  gfn = new Float64Array(0);
  role = new Int32Array(0);
  pfn = new Float64Array(0); // host pfn of spt
  rootCount = new Int32Array(0);
  /** Word indices (in host memory) of the SPTEs pointing here (parent_ptes); a shadowed guest
   *  table can be linked from several places. */
  parents: number[][] = [];
  state = new Uint8Array(0);
  /** sp->unsync: a last-level page whose guest table the guest may write directly (oos_shadow). */
  unsync = new Uint8Array(0);
  /** sp->unsync_children and sp->unsync_child_bitmap (512 bits, 16 words per page). */
  unsyncChildren = new Int32Array(0);
  childBitmap = new Uint32Array(0);
  private freeIds: number[] = [];
  private next = 0;
  private readonly buckets: number[][] = Array.from({ length: 1 << KVM_MMU_HASH_SHIFT }, () => []);
  /** active_mmu_pages, newest last. */
  readonly active = new Set<number>();
  /** host pfn -> page id (page_header(__pa)). */
  private readonly byPfn = new Map<number, number>();
  inUse = 0;
  /** kvm->arch.n_used_mmu_pages (3.1: down when a page goes on the invalid list; 3.0: when freed) and
   *  n_max_mmu_pages (kvm_mmu_calculate_mmu_pages at each memslot commit). */
  nUsed = 0;
  nMax = KVM_MIN_ALLOC_MMU_PAGES;
  /** kvm->arch.indirect_shadow_pages: valid pages that shadow a guest table. */
  indirectCount = 0;

  constructor(private readonly kvm: Kvm) {
    this.grow(64);
  }

  idOfPfn(pfn: number): number {
    return this.byPfn.get(pfn) ?? -1;
  }

  level(id: number): number {
    return this.role[id]! & ROLE_LEVEL_MASK;
  }

  isDirect(id: number): boolean {
    return (this.role[id]! & ROLE_DIRECT) !== 0;
  }

  roleAccess(id: number): number {
    return (this.role[id]! >>> ROLE_ACCESS_SHIFT) & 7;
  }

  isInvalid(id: number): boolean {
    return (this.role[id]! & ROLE_INVALID) !== 0;
  }

  isFreed(id: number): boolean {
    return this.state[id] === SP_FREE;
  }

  /**
   * kvm_mmu_get_page: find the page for (gfn, role) in the hash or create it (++mmu_cache_miss).
   * `parentWord` is the SPTE that will point to it (-1 for a root). Returns the page id.
   */
  getPage(vcpuId: number, gfn: number, role: number, parentWord: number): number {
    this.kvm.vcpus[vcpuId]!.path.enter(F.kvm_mmu_get_page);
    const r = this.getPageInner(vcpuId, gfn, role, parentWord);
    this.kvm.vcpus[vcpuId]!.path.leave();
    return r;
  }

  private getPageInner(vcpuId: number, gfn: number, role: number, parentWord: number): number {
    for (const id of this.buckets[gfn & HASH_MASK]!) {
      if (this.gfn[id] !== gfn || this.role[id] !== role) continue;
      this.found(vcpuId, id, parentWord);
      return id;
    }
    return this.create(vcpuId, gfn, role, parentWord);
  }

  /** The hash bucket of `gfn` (for_each_gfn_sp walks it, checking sp->gfn). */
  bucket(gfn: number): readonly number[] {
    return this.buckets[gfn & HASH_MASK]!;
  }

  /** kvm_mmu_get_page found page `id` in the hash: mmu_page_add_parent_pte, trace. */
  found(vcpuId: number, id: number, parentWord: number): void {
    const kvm = this.kvm;
    const vcpu = kvm.vcpus[vcpuId]!;
    if (parentWord >= 0) this.parents[id]!.push(parentWord); // mmu_page_add_parent_pte
    const tr = kvm.trace, args = tr.args, at = tr.at;
    args[at] = this.gfn[id]!;
    args[at + 1] = this.role[id]!;
    args[at + 2] = this.role[id]! & ROLE_LEVEL_MASK;
    args[at + 3] = 0;
    args[at + 4] = this.rootCount[id]!;
    args[at + 5] = this.unsync[id]!;
    tr.emit(E.kvm_mmu_get_page, vcpu, vcpu.line);
  }

  /** kvm_mmu_get_page's miss with nothing between the allocation and the trace (a direct page under
   *  TDP): allocPage, then `trace_kvm_mmu_get_page(sp, true)`. */
  create(vcpuId: number, gfn: number, role: number, parentWord: number): number {
    const id = this.allocPage(vcpuId, gfn, role, parentWord);
    this.traceCreated(vcpuId, id);
    return id;
  }

  /** kvm_mmu_get_page's miss: ++mmu_cache_miss, kvm_mmu_alloc_page, hash it. The caller traces the
   *  new page (traceCreated) after the write protection, sync and prefetch that follow. */
  allocPage(vcpuId: number, gfn: number, role: number, parentWord: number): number {
    const kvm = this.kvm;
    kvm.stats[S.mmu_cache_miss]!++;
    const id = this.alloc(gfn, role, parentWord);
    kvm.acct.charge(kvm.vcpus[vcpuId]!, C.shadow_page, kvm.cost.shadow_page_alloc);
    return id;
  }

  /** kvm_mmu_get_page's last step for a new page: `trace_kvm_mmu_get_page(sp, true);`. */
  traceCreated(vcpuId: number, id: number): void {
    const vcpu = this.kvm.vcpus[vcpuId]!;
    const role = this.role[id]!;
    const tr = this.kvm.trace, args = tr.args, at = tr.at;
    args[at] = this.gfn[id]!;
    args[at + 1] = role;
    args[at + 2] = role & ROLE_LEVEL_MASK;
    args[at + 3] = 1;
    args[at + 4] = this.rootCount[id]!;
    args[at + 5] = this.unsync[id]!;
    tr.emit(E.kvm_mmu_get_page, vcpu, vcpu.line);
  }

  private alloc(gfn: number, role: number, parentWord: number): number {
    let id = this.freeIds.pop();
    if (id === undefined) {
      if (this.next === this.cap) this.grow(this.cap * 2);
      id = this.next++;
    }
    const pfn = this.kvm.allocHostFrame();
    this.gfn[id] = gfn;
    this.role[id] = role;
    this.pfn[id] = pfn;
    this.rootCount[id] = 0;
    this.parents[id] = parentWord >= 0 ? [parentWord] : [];
    this.state[id] = SP_ACTIVE;
    this.unsync[id] = 0;
    this.unsyncChildren[id] = 0;
    this.childBitmap.fill(0, id * 16, id * 16 + 16);
    this.gfns[id] = (role & ROLE_DIRECT) === 0 ? new Float64Array(512) : null;
    if ((role & ROLE_DIRECT) === 0) this.indirectCount++; // account_shadowed
    // `hlist_add_head(&sp->hash_link, &vcpu->kvm->arch.mmu_page_hash[...])`: the newest page of a
    // bucket comes first in for_each_gfn_sp and the other hash walks.
    this.buckets[gfn & HASH_MASK]!.unshift(id);
    this.active.add(id);
    this.byPfn.set(pfn, id);
    this.inUse++;
    this.nUsed++; // kvm_mod_used_mmu_pages(vcpu->kvm, +1)
    const st = this.kvm.stats;
    st[S.shadow_pages] = this.inUse;
    if (this.inUse > st[S.shadow_pages_max]!) st[S.shadow_pages_max] = this.inUse;
    return id;
  }

  /**
   * kvm_mmu_prepare_zap_page: clear every SPTE of the page (a child loses its parent pointer; MMIO
   * SPTEs are simply cleared), drop the parent SPTE, mark the role invalid. Returns the pages put on
   * the invalid list (its unsync children, and itself unless it is still some vCPU's root).
   */
  prepareZap(vcpuId: number, id: number, invalid: number[]): number {
    this.kvm.vcpus[vcpuId]!.path.enter(F.kvm_mmu_prepare_zap_page);
    const r = this.prepareZapInner(vcpuId, id, invalid);
    this.kvm.vcpus[vcpuId]!.path.leave();
    return r;
  }

  private prepareZapInner(vcpuId: number, id: number, invalid: number[]): number {
    const kvm = this.kvm;
    const vcpu = kvm.vcpus[vcpuId]!;
    const tr = kvm.trace, args = tr.args, at = tr.at;
    args[at] = this.gfn[id]!;
    args[at + 1] = this.role[id]!;
    args[at + 2] = this.level(id);
    args[at + 3] = this.rootCount[id]!;
    args[at + 4] = this.unsync[id]!;
    tr.emit(E.kvm_mmu_prepare_zap_page, vcpu, vcpu.line);
    kvm.stats[S.mmu_shadow_zapped]!++;
    kvm.acct.charge(vcpu, C.shadow_page, kvm.cost.shadow_page_zap);
    let ret = mmuZapUnsyncChildren(kvm, vcpuId, id, invalid);
    this.unlinkChildren(vcpuId, id);
    this.unlinkParent(id);
    if ((this.role[id]! & (ROLE_DIRECT | ROLE_INVALID)) === 0) {
      this.indirectCount--; // unaccount_shadowed: `slot = gfn_to_memslot(kvm, gfn);`
      kvm.gfnToMemslot(vcpu, this.gfn[id]!);
    }
    if (this.unsync[id]) kvmUnlinkUnsyncPage(kvm, vcpu, id);
    if (this.rootCount[id] === 0) {
      ret++; // "Count self"
      this.active.delete(id);
      invalid.push(id);
      if (kvm.kernel !== 'v3.0') this.nUsed--; // 3.1: kvm_mod_used_mmu_pages(kvm, -1) here
    } else {
      // Still some vCPU's root: `list_move(&sp->link, &kvm->arch.active_mmu_pages)` (to the head,
      // where the newest pages are), invalid, and every vCPU reloads its MMU.
      this.active.delete(id);
      this.active.add(id);
      kvm.reloadRemoteMmus();
    }
    this.role[id] = this.role[id]! | ROLE_INVALID;
    for (const v of kvm.vcpus) v.lastPteUpdated = -1; // kvm_mmu_reset_last_pte_updated
    return ret;
  }

  /** kvm_mmu_page_unlink_children: mmu_page_zap_pte on all 512 SPTEs. */
  private unlinkChildren(vcpuId: number, id: number): void {
    for (let i = 0; i < 512; i++) this.zapPte(vcpuId, id, i);
  }

  /** mmu_page_zap_pte: a present leaf is dropped (rmap_remove), a non-leaf loses its child's parent
   *  pointer (drop_parent_pte), an MMIO SPTE is just cleared. */
  zapPte(vcpuId: number, id: number, i: number): void {
    const kvm = this.kvm;
    const w = kvm.host.words;
    const word = kvm.host.entryWord(this.pfn[id]!, i);
    const lo = w[word]!;
    const hi = w[word + 1]!;
    if ((lo === 0 && hi === 0) || kvm.fmt.isTrap(lo, hi)) return;
    if (kvm.fmt.isShadowPresent(lo, hi)) {
      if (this.level(id) > 1) {
        const child = this.idOfPfn(frameOf(lo, hi));
        if (child >= 0) this.dropParent(child, word);
      } else {
        // drop_spte() -> rmap_remove() -> gfn_to_rmap(): a memslot lookup per RAM leaf.
        kvm.rmap.remove(kvm.vcpus[vcpuId]!, this.leafGfn(id, i), word);
      }
    }
    kvm.clearSpte(word);
  }

  /** The page whose spt holds SPTE word `word` (page_header(__pa(sptep))), and its index there. */
  idOfWord(word: number): number {
    return this.idOfPfn(this.kvm.host.pfnOfWord(word));
  }

  /** Pages that are unsync now (the mmu_unsync gauge). */
  unsyncCount(): number {
    let n = 0;
    for (const id of this.active) n += this.unsync[id]!;
    return n;
  }

  /** kvm_mmu_unlink_parents: clear every SPTE that points to this page (drop_parent_pte). */
  private unlinkParent(id: number): void {
    for (const pw of this.parents[id]!) this.kvm.clearSpte(pw);
    this.parents[id] = [];
  }

  /** mmu_page_remove_parent_pte. */
  dropParent(id: number, word: number): void {
    const list = this.parents[id]!;
    const at = list.indexOf(word);
    if (at >= 0) list.splice(at, 1);
  }

  /** The gfn a leaf SPTE at `index` of page `id` maps: its shadowed translation (sp->gfns) for an
   *  indirect page, the linear gfn for a direct one. */
  leafGfn(id: number, index: number): number {
    return this.gfns[id] ? this.gfns[id]![index]! : this.gfn[id]! + index;
  }

  /** For each indirect page: the gfn each of its 512 SPTEs maps (sp->gfns). */
  gfns: (Float64Array | null)[] = [];

  /** for_each_gfn_indirect_valid_sp's test: page `id` shadows guest table `gfn` and is valid. */
  isIndirectValid(id: number, gfn: number): boolean {
    return this.gfn[id] === gfn && (this.role[id]! & (ROLE_DIRECT | ROLE_INVALID)) === 0;
  }

  /** The pages shadowing guest table `gfn` (for_each_gfn_indirect_valid_sp). */
  indirectOf(gfn: number): number[] {
    const out: number[] = [];
    for (const id of this.buckets[gfn & HASH_MASK]!) {
      if (this.gfn[id] === gfn && (this.role[id]! & (ROLE_DIRECT | ROLE_INVALID)) === 0) out.push(id);
    }
    return out;
  }

  /**
   * kvm_mmu_commit_zap_page (2011): flush remote TLBs, then free the pages, unless a lockless walker
   * is inside the tables: then isolate them (out of the hash) and free them after the grace period.
   */
  commitZap(vcpuId: number, invalid: number[]): void {
    if (invalid.length === 0) return;
    const kvm = this.kvm;
    const vcpu = kvm.vcpus[vcpuId]!;
    kvm.flushRemoteTlbs(vcpu);
    if (kvm.readerCounter > 0) {
      for (const id of invalid) {
        this.isolate(id);
        this.state[id] = SP_ISOLATED;
        kvm.rcuPending.push(id);
      }
      kvm.stats[S.sp_delayed_free]! += invalid.length;
      const first = invalid[0]!;
      const tr = kvm.trace, args = tr.args, at = tr.at;
      args[at] = this.gfn[first]!;
      args[at + 1] = this.role[first]!;
      args[at + 2] = invalid.length;
      args[at + 3] = this.rootCount[first]!;
      args[at + 4] = this.unsync[first]!;
      tr.emit(E.kvm_mmu_delay_free_pages, vcpu, vcpu.line);
      return;
    }
    for (const id of invalid) {
      this.isolate(id);
      this.free(id);
    }
  }

  /** The RCU callback free_pages_rcu: runs once no reader that could see the pages remains. */
  freeAfterGracePeriod(): void {
    const pending = this.kvm.rcuPending;
    for (const id of pending) this.free(id);
    pending.length = 0;
  }

  /** Drop a root reference (mmu_free_roots); an invalid root nobody uses any more is zapped and freed. */
  putRoot(vcpuId: number, id: number): void {
    this.rootCount[id]!--;
    // mmu_free_roots: `if (!sp->root_count && sp->role.invalid) { kvm_mmu_prepare_zap_page(...);
    // kvm_mmu_commit_zap_page(...); }`: the invalid root is prepare-zapped a second time.
    if (this.rootCount[id] === 0 && this.isInvalid(id)) {
      const invalid: number[] = [];
      this.prepareZap(vcpuId, id, invalid);
      this.commitZap(vcpuId, invalid);
    }
  }

  /** kvm_mmu_isolate_page: out of the hash. */
  private isolate(id: number): void {
    const b = this.buckets[this.gfn[id]! & HASH_MASK]!;
    const at = b.indexOf(id);
    if (at >= 0) b.splice(at, 1);
  }

  private free(id: number): void {
    const pfn = this.pfn[id]!;
    this.byPfn.delete(pfn);
    this.kvm.freeHostFrame(pfn);
    this.state[id] = SP_FREE;
    this.freeIds.push(id);
    this.inUse--;
    if (this.kvm.kernel === 'v3.0') this.nUsed--; // 3.0.1: kvm_mmu_free_page
    this.kvm.stats[S.shadow_pages] = this.inUse;
  }

  /** kvm_mmu_available_pages: `return kvm->arch.n_max_mmu_pages - kvm->arch.n_used_mmu_pages;` as an
   *  unsigned int: with more pages in use than the budget it wraps to a huge number, so
   *  kvm_mmu_free_some_pages frees nothing. */
  private available(): number {
    return (this.nMax - this.nUsed) >>> 0;
  }

  /** One step of the budget loops (__kvm_mmu_free_some_pages, kvm_mmu_change_mmu_pages): prepare the
   *  oldest page's zap. 3.0.1 commits it at once (`kvm_mmu_prepare_zap_page(...);
   *  kvm_mmu_commit_zap_page(...);` in the loop; n_used drops as the page is freed); 3.1.10 leaves it
   *  on `invalid` for one commit after the loop (n_used dropped in prepare_zap). */
  private zapOldest(vcpuId: number, invalid: number[]): void {
    this.prepareZap(vcpuId, this.oldest(), invalid);
    if (this.kvm.kernel !== 'v3.0') return;
    this.commitZap(vcpuId, invalid);
    invalid.length = 0;
  }

  /** The oldest page on active_mmu_pages (`active_mmu_pages.prev`): new pages go to the head. */
  private oldest(): number {
    for (const id of this.active) return id;
    return -1;
  }

  /**
   * kvm_mmu_free_some_pages, before a fault maps or a root is allocated: with fewer than
   * KVM_MIN_FREE_MMU_PAGES available, zap the oldest pages until KVM_REFILL_PAGES are
   * (++mmu_recycled each). 3.0.1 commits each zap at once, 3.1.10 once at the end.
   */
  freeSomePages(vcpuId: number): void {
    if (this.available() >= KVM_MIN_FREE_MMU_PAGES) return;
    const kvm = this.kvm;
    kvm.vcpus[vcpuId]!.path.enter(F.kvm_mmu_free_some_pages);
    const invalid: number[] = [];
    // A root still in use is moved to the head, not freed: bound the loop by the pages there are.
    for (let guard = this.active.size * 2; this.available() < KVM_REFILL_PAGES && this.active.size > 0 && guard > 0; guard--) {
      this.zapOldest(vcpuId, invalid);
      kvm.stats[S.mmu_recycled]!++;
    }
    this.commitZap(vcpuId, invalid);
    kvm.vcpus[vcpuId]!.path.leave();
  }

  /**
   * kvm_mmu_calculate_mmu_pages, then kvm_mmu_change_mmu_pages (kvm_arch_commit_memory_region, when
   * the VMM never set KVM_SET_NR_MMU_PAGES): 20 pages per 1000 pages of memslots, at least 64; pages
   * beyond a smaller goal are zapped oldest first.
   */
  changeMmuPages(vcpuId: number): void {
    let nrPages = 0;
    const ms = this.kvm.memslots;
    for (let i = 0; i < ms.nmemslots; i++) nrPages += ms.slots[i]?.npages ?? 0;
    let goal = Math.max(Math.floor((nrPages * KVM_PERMILLE_MMU_PAGES) / 1000), KVM_MIN_ALLOC_MMU_PAGES);
    if (this.nUsed > goal) {
      const invalid: number[] = [];
      for (let guard = this.active.size * 2; this.nUsed > goal && this.active.size > 0 && guard > 0; guard--) this.zapOldest(vcpuId, invalid);
      this.commitZap(vcpuId, invalid);
      goal = this.nUsed;
    }
    this.nMax = goal;
  }

  private grow(cap: number): void {
    this.gfn = grown(this.gfn, cap);
    this.role = grown(this.role, cap);
    this.pfn = grown(this.pfn, cap);
    this.rootCount = grown(this.rootCount, cap);
    this.state = grown(this.state, cap);
    this.unsync = grown(this.unsync, cap);
    this.unsyncChildren = grown(this.unsyncChildren, cap);
    this.childBitmap = grown(this.childBitmap, cap * 16);
    this.cap = cap;
  }
}
