// Unsync shadow pages (mmu.c, 3.0.1 and 3.1.10, with `static int oos_shadow = 1;`): a write to a
// last-level guest page table that KVM shadows need not be emulated. mmu_need_write_protect marks
// the table's shadow pages unsync (__kvm_unsync_page, ++mmu_unsync) and every ancestor records it
// in its unsync_child_bitmap (mark_unsync), so the mapping stays writable and the guest writes the
// table directly. Its shadow page then holds what the guest last synced, exactly like a TLB: it is
// brought back in sync by kvm_sync_page on CR3 loads (kvm_mmu_sync_roots -> mmu_sync_children over
// the bitmaps), when kvm_mmu_get_page meets it, and FNAME(invlpg) re-reads the one guest PTE.
// The page vector (struct kvm_mmu_pages, KVM_PAGE_ARRAY_NR = 16 entries) and the parent path
// (struct mmu_page_path) are kept as the kernel keeps them, so the batches, write protections and
// flushes come out in the kernel's numbers. docs/kernel-paths.md quotes the lines.

import { F } from '../kernel_functions';
import type { Kvm } from '../kvm';
import type { Vcpu } from '../vcpu';
import { E } from '../../trace/events';
import { S } from '../../trace/stats';
import { frameOf } from '../../arch/x86/u64';

const KVM_PAGE_ARRAY_NR = 16;
const PT64_ROOT_LEVEL = 4;

/** What FNAME(sync_page) is for these helpers: the paging mode's sync_page (nonzero: zap the page). */
export interface SyncPageOps {
  syncPage(vcpu: Vcpu, sp: number): number;
}

/** struct kvm_mmu_pages and struct mmu_page_path, preallocated (one walk at a time under mmu_lock). */
const pvecSp = new Int32Array(KVM_PAGE_ARRAY_NR);
const pvecIdx = new Int32Array(KVM_PAGE_ARRAY_NR);
let pvecNr = 0;
const pathParent = new Int32Array(PT64_ROOT_LEVEL);
const pathIdx = new Int32Array(PT64_ROOT_LEVEL);

function testBit(kvm: Kvm, sp: number, i: number): boolean {
  return (kvm.sp.childBitmap[sp * 16 + (i >>> 5)]! & (1 << (i & 31))) !== 0;
}

function setBit(kvm: Kvm, sp: number, i: number): void {
  kvm.sp.childBitmap[sp * 16 + (i >>> 5)]! |= 1 << (i & 31);
}

function clearBit(kvm: Kvm, sp: number, i: number): void {
  kvm.sp.childBitmap[sp * 16 + (i >>> 5)]! &= ~(1 << (i & 31));
}

/** kvm_mmu_mark_parents_unsync: pte_list_walk(&sp->parent_ptes, mark_unsync). */
export function kvmMmuMarkParentsUnsync(kvm: Kvm, sp: number): void {
  const parents = kvm.sp.parents[sp]!;
  for (let k = 0; k < parents.length; k++) markUnsync(kvm, parents[k]!);
}

/** mark_unsync(spte): set the SPTE's bit in its page's bitmap; the first bit set goes up a level. */
function markUnsync(kvm: Kvm, word: number): void {
  const sp = kvm.sp.idOfWord(word);
  const index = (word % 1024) >>> 1;
  if (testBit(kvm, sp, index)) return; // __test_and_set_bit
  setBit(kvm, sp, index);
  if (kvm.sp.unsyncChildren[sp]!++) return;
  kvmMmuMarkParentsUnsync(kvm, sp);
}

/** mmu_pages_add: a page already in the vector is not added twice if it is unsync; true when full. */
function mmuPagesAdd(kvm: Kvm, sp: number, idx: number): boolean {
  if (kvm.sp.unsync[sp]) for (let i = 0; i < pvecNr; i++) if (pvecSp[i] === sp) return false;
  pvecSp[pvecNr] = sp;
  pvecIdx[pvecNr] = idx;
  pvecNr++;
  return pvecNr === KVM_PAGE_ARRAY_NR;
}

/** __mmu_unsync_walk: collect the unsync leaves under `sp` (and the pages on the way); clears the
 *  bits of children that turned out to have nothing unsync. Returns the leaves found, or -1 (-ENOSPC). */
function mmuUnsyncWalkInner(kvm: Kvm, sp: number): number {
  const pages = kvm.sp;
  const words = kvm.host.words;
  let nrUnsyncLeaf = 0;
  for (let i = 0; i < 512; i++) {
    if (!testBit(kvm, sp, i)) continue; // for_each_unsync_children
    const w = kvm.host.entryWord(pages.pfn[sp]!, i);
    let clear = true;
    // Shadow paging here maps only 4K pages: no SPTE is large.
    if (kvm.fmt.isShadowPresent(words[w]!, words[w + 1]!)) {
      const child = pages.idOfPfn(frameOf(words[w]!, words[w + 1]!));
      if (pages.unsyncChildren[child]) {
        if (mmuPagesAdd(kvm, child, i)) return -1;
        const ret = mmuUnsyncWalkInner(kvm, child);
        if (ret < 0) return ret;
        if (ret > 0) {
          nrUnsyncLeaf += ret;
          clear = false;
        }
      } else if (pages.unsync[child]) {
        nrUnsyncLeaf++;
        if (mmuPagesAdd(kvm, child, i)) return -1;
        clear = false;
      }
    }
    if (clear) {
      // clear_child_bitmap:
      clearBit(kvm, sp, i);
      pages.unsyncChildren[sp]!--;
    }
  }
  return nrUnsyncLeaf;
}

/** mmu_unsync_walk: nonzero when the vector holds something to sync (or zap). */
function mmuUnsyncWalk(kvm: Kvm, sp: number): number {
  if (!kvm.sp.unsyncChildren[sp]) return 0;
  mmuPagesAdd(kvm, sp, 0);
  return mmuUnsyncWalkInner(kvm, sp);
}

/** kvm_mmu_pages_init. */
function mmuPagesInit(kvm: Kvm, parent: number): void {
  pathParent[kvm.sp.level(parent) - 1] = -1;
  pvecNr = 0;
}

/** mmu_pages_next: the next last-level page in the vector, recording the path down to it. */
function mmuPagesNext(kvm: Kvm, i: number): number {
  let n = i + 1;
  for (; n < pvecNr; n++) {
    const sp = pvecSp[n]!;
    const level = kvm.sp.level(sp);
    if (level === 1) {
      pathIdx[0] = pvecIdx[n]!;
      return n;
    }
    pathParent[level - 2] = sp;
    pathIdx[level - 1] = pvecIdx[n]!;
  }
  return n;
}

/** mmu_pages_clear_parents: the leaf is done; clear its bit, and the parents' while they empty. */
function mmuPagesClearParents(kvm: Kvm): void {
  let level = 0;
  let sp: number;
  do {
    const idx = pathIdx[level]!;
    sp = pathParent[level]!;
    if (sp < 0) return;
    kvm.sp.unsyncChildren[sp]!--;
    clearBit(kvm, sp, idx);
    level++;
  } while (level < PT64_ROOT_LEVEL - 1 && !kvm.sp.unsyncChildren[sp]);
}

/** kvm_unlink_unsync_page: trace_kvm_mmu_sync_page, sp->unsync = 0, --mmu_unsync. */
export function kvmUnlinkUnsyncPage(kvm: Kvm, vcpu: Vcpu, sp: number): void {
  const pages = kvm.sp;
  const tr = kvm.trace, args = tr.args, at = tr.at;
  args[at] = pages.gfn[sp]!;
  args[at + 1] = pages.role[sp]!;
  args[at + 2] = pages.rootCount[sp]!;
  args[at + 3] = pages.unsync[sp]!;
  tr.emit(E.kvm_mmu_sync_page, vcpu, vcpu.line);
  pages.unsync[sp] = 0;
  kvm.stats[S.mmu_unsync]!--;
}

/** __kvm_unsync_page. (v3.0 also runs mmu_convert_notrap: see ShadowMmu.unsyncPage.) */
function kvmUnsyncPage(kvm: Kvm, vcpu: Vcpu, sp: number, ops: UnsyncHooks): void {
  const tr = kvm.trace, args = tr.args, at = tr.at;
  args[at] = kvm.sp.gfn[sp]!;
  args[at + 1] = kvm.sp.role[sp]!;
  args[at + 2] = kvm.sp.rootCount[sp]!;
  args[at + 3] = kvm.sp.unsync[sp]!;
  tr.emit(E.kvm_mmu_unsync_page, vcpu, vcpu.line);
  ops.convertNotrap(sp);
  kvm.stats[S.mmu_unsync]!++;
  kvm.sp.unsync[sp] = 1;
  kvmMmuMarkParentsUnsync(kvm, sp);
}

export interface UnsyncHooks extends SyncPageOps {
  /** v3.0 mmu_convert_notrap (bypass_guest_pf's notrap entries become trap); nothing in v3.1. */
  convertNotrap(sp: number): void;
}

/**
 * mmu_need_write_protect(vcpu, gfn, can_unsync): 1 when the gfn is a guest table KVM shadows that
 * must stay write-protected; with oos_shadow, last-level pages of it go unsync instead (0).
 */
export function mmuNeedWriteProtect(kvm: Kvm, vcpu: Vcpu, gfn: number, canUnsync: boolean, ops: UnsyncHooks): boolean {
  const pages = kvm.sp;
  let needUnsync = false;
  for (const s of pages.bucket(gfn)) {
    if (!pages.isIndirectValid(s, gfn)) continue; // for_each_gfn_indirect_valid_sp
    if (!canUnsync) return true;
    if (pages.level(s) !== 1) return true;
    if (!needUnsync && !pages.unsync[s]) {
      if (!kvm.oosShadow) return true;
      needUnsync = true;
    }
  }
  if (needUnsync) {
    // kvm_unsync_pages
    for (const s of pages.bucket(gfn)) {
      if (!pages.isIndirectValid(s, gfn) || pages.unsync[s]) continue;
      kvmUnsyncPage(kvm, vcpu, s, ops);
    }
  }
  return false;
}

/** __kvm_sync_page: 1 when the page was zapped (it goes on `invalid`). */
function kvmSyncPageCommon(kvm: Kvm, vcpu: Vcpu, sp: number, invalid: number[], clearUnsync: boolean, ops: SyncPageOps): number {
  // sp->role.cr4_pae != !!is_pae(vcpu): never here (one 4-level paging mode).
  if (clearUnsync) kvmUnlinkUnsyncPage(kvm, vcpu, sp);
  if (ops.syncPage(vcpu, sp)) {
    kvm.sp.prepareZap(vcpu.id, sp, invalid);
    return 1;
  }
  kvm.mmuFlushTlb(vcpu); // §19.6: __kvm_sync_page
  return 0;
}

/** kvm_sync_page_transient: sync without leaving the unsync state (kvm_mmu_get_page's hit path). */
export function kvmSyncPageTransient(kvm: Kvm, vcpu: Vcpu, sp: number, ops: SyncPageOps): number {
  const invalid: number[] = [];
  const ret = kvmSyncPageCommon(kvm, vcpu, sp, invalid, false, ops);
  if (ret) kvm.sp.commitZap(vcpu.id, invalid);
  return ret;
}

/** kvm_sync_pages(vcpu, gfn): a new upper-level page shadows a gfn that has unsync pages. */
export function kvmSyncPages(kvm: Kvm, vcpu: Vcpu, gfn: number, ops: SyncPageOps): void {
  const pages = kvm.sp;
  const invalid: number[] = [];
  let flush = false;
  for (const s of pages.bucket(gfn)) {
    if (!pages.isIndirectValid(s, gfn) || !pages.unsync[s]) continue;
    kvmUnlinkUnsyncPage(kvm, vcpu, s);
    if (ops.syncPage(vcpu, s)) {
      pages.prepareZap(vcpu.id, s, invalid);
      continue;
    }
    flush = true;
  }
  pages.commitZap(vcpu.id, invalid);
  if (flush) kvm.mmuFlushTlb(vcpu); // §19.6: kvm_sync_pages
}

/** mmu_sync_children(vcpu, parent): write-protect and sync every unsync leaf below `parent`, in
 *  batches of the page vector. */
export function mmuSyncChildren(kvm: Kvm, vcpu: Vcpu, parent: number, ops: SyncPageOps): void {
  vcpu.path.enter(F.mmu_sync_children);
  mmuSyncChildrenInner(kvm, vcpu, parent, ops);
  vcpu.path.leave();
}

function mmuSyncChildrenInner(kvm: Kvm, vcpu: Vcpu, parent: number, ops: SyncPageOps): void {
  const pages = kvm.sp;
  const invalid: number[] = [];
  mmuPagesInit(kvm, parent);
  while (mmuUnsyncWalk(kvm, parent)) {
    let isProtected = false;
    for (let i = mmuPagesNext(kvm, -1); i < pvecNr; i = mmuPagesNext(kvm, i)) {
      if (kvm.rmap.writeProtect(vcpu, pages.gfn[pvecSp[i]!]!)) isProtected = true;
    }
    if (isProtected) kvm.flushRemoteTlbs(vcpu);
    for (let i = mmuPagesNext(kvm, -1); i < pvecNr; i = mmuPagesNext(kvm, i)) {
      kvmSyncPageCommon(kvm, vcpu, pvecSp[i]!, invalid, true, ops);
      mmuPagesClearParents(kvm);
    }
    pages.commitZap(vcpu.id, invalid);
    invalid.length = 0;
    mmuPagesInit(kvm, parent);
  }
}

/** mmu_zap_unsync_children: a page being zapped takes its unsync leaves with it. */
export function mmuZapUnsyncChildren(kvm: Kvm, vcpuId: number, parent: number, invalid: number[]): number {
  const pages = kvm.sp;
  if (pages.level(parent) === 1) return 0;
  let zapped = 0;
  mmuPagesInit(kvm, parent);
  while (mmuUnsyncWalk(kvm, parent)) {
    for (let i = mmuPagesNext(kvm, -1); i < pvecNr; i = mmuPagesNext(kvm, i)) {
      const sp = pvecSp[i]!;
      // A leaf's own prepare-zap never walks (level 1 returns at once), so the vector stays intact.
      pages.prepareZap(vcpuId, sp, invalid);
      mmuPagesClearParents(kvm);
      zapped++;
    }
    mmuPagesInit(kvm, parent);
  }
  return zapped;
}

/** mmu_sync_roots (under mmu_lock): clear the MMIO info (v3.1), then sync below the root. */
export function mmuSyncRoots(kvm: Kvm, vcpu: Vcpu, ops: SyncPageOps): void {
  if (vcpu.root < 0) return; // !VALID_PAGE(root_hpa)
  mmuSyncChildren(kvm, vcpu, vcpu.root, ops);
}
