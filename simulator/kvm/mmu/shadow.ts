// KVM's shadow MMU (ept=0) of the 3.0/3.1 kernels: the guest runs on shadow page tables that KVM
// builds from the guest's own (paging_tmpl.h FNAME(page_fault), FNAME(fetch), FNAME(invlpg),
// FNAME(pte_prefetch); mmu.c mmu_set_spte, set_spte, kvm_mmu_get_page, mmu_alloc_shadow_roots).
//
// Modelled as in the kernel, with these settings: oos_shadow as the scenario gives it (default 1, as
// the kernel: unsync pages, kvm/mmu/unsync.ts), host pages are 4K (so a guest large page is shadowed
// by a direct page of 4K SPTEs), and one guest paging mode (4-level, long mode).

import { F } from '../kernel_functions';
import type { Kvm } from '../kvm';
import type { Vcpu } from '../vcpu';
import type { KvmWalker } from './paging_tmpl';
import { C } from '../../cost/accounting';
import { E } from '../../trace/events';
import { S } from '../../trace/stats';
import {
  ACC_ALL, ACC_WRITE_MASK, PFERR_FETCH_MASK, PFERR_RSVD_MASK, PFERR_USER_MASK, PFERR_WRITE_MASK, PT_ACCESSED_MASK,
  PT_DIRTY_MASK, PT_PRESENT_MASK, PT_USER_MASK, PT_WRITABLE_MASK, PT64_NX_MASK_HI, indexOfVpn, pagesPerLevel,
} from '../../arch/x86/paging';
import { frameOf, frameHi, vaHi, vaLo } from '../../arch/x86/u64';
import { gpteAccess } from '../../arch/x86/walker';
import { ROLE_ACCESS_SHIFT, ROLE_CR0_WP, ROLE_DIRECT, ROLE_LEVEL_MASK, ROLE_NXE, ROLE_SMEP_ANDNOT_WP } from './shadow_pages';
import { kvmMmuMarkParentsUnsync, kvmSyncPages, kvmSyncPageTransient, mmuNeedWriteProtect, mmuSyncRoots, type UnsyncHooks } from './unsync';
import { handleMmioPageFault } from './mmio_fault';
import { kvmMmuPteWrite } from './pte_write';
import { vcpuCacheMmioInfo, vcpuClearMmioInfo } from '../x86/mmio_cache';
import { RACE_MMU_LOCK } from '../races';
import { noteFault, CLASS_GUEST_PF, CLASS_MAP, CLASS_MMIO_SLOW, CLASS_SPURIOUS, CLASS_WP_EMULATE } from '../fault_class';

const ROLE_CR4_PAE = 1 << 4;
const PF_VECTOR = 14;
/** PTE_PREFETCH_NUM: neighbouring guest PTEs mapped speculatively after a fault. */
const PTE_PREFETCH_NUM = 8;

/** vcpu->arch.mmu.base_role for a 4-level guest: cr4_pae, nxe, cr0_wp. */
function baseRole(kvm: Kvm, vcpu: Vcpu): number {
  const smepAndnotWp = kvm.kernel !== 'v3.0' && vcpu.smep && !vcpu.cr0Wp;
  return ROLE_CR4_PAE | (vcpu.nx ? ROLE_NXE : 0) | (vcpu.cr0Wp ? ROLE_CR0_WP : 0) | (smepAndnotWp ? ROLE_SMEP_ANDNOT_WP : 0);
}

function indirectRole(kvm: Kvm, vcpu: Vcpu, level: number, access: number): number {
  return baseRole(kvm, vcpu) | level | (access << ROLE_ACCESS_SHIFT);
}

function directRole(kvm: Kvm, vcpu: Vcpu, level: number, access: number): number {
  return (baseRole(kvm, vcpu) & ~ROLE_CR4_PAE) | level | ROLE_DIRECT | (access << ROLE_ACCESS_SHIFT);
}

/** vcpu_enter_guest's requests, then kvm_mmu_reload: KVM_REQ_MMU_RELOAD (kvm_mmu_unload), then
 *  KVM_REQ_MMU_SYNC (kvm_mmu_sync_roots), then kvm_mmu_load if the root is gone:
 *  mmu_alloc_shadow_roots (the root shadows the guest's PML4, gfn = CR3 >> 12) and mmu_sync_roots. */
export function shadowMmuLoad(kvm: Kvm, em: ShadowMmu, vcpu: Vcpu): void {
  if (vcpu.reloadRequested) {
    vcpu.reloadRequested = false;
    shadowMmuUnload(kvm, vcpu);
  }
  if (vcpu.syncRequested) {
    vcpu.syncRequested = false;
    vcpu.path.enter(F.kvm_mmu_sync_roots);
    em.syncRoots(vcpu);
    vcpu.path.leave();
  }
  if (vcpu.root >= 0) return;
  vcpu.path.enter(F.kvm_mmu_load);
  const rootGfn = Math.floor(vcpu.cr3 / 4096);
  kvm.isVisibleGfn(vcpu, rootGfn); // mmu_check_root -> kvm_is_visible_gfn
  kvm.sp.freeSomePages(vcpu.id); // mmu_alloc_shadow_roots: kvm_mmu_free_some_pages
  const id = em.getShadowPage(vcpu, rootGfn, indirectRole(kvm, vcpu, 4, ACC_ALL), -1);
  kvm.sp.rootCount[id]!++;
  vcpu.root = id;
  em.syncRoots(vcpu); // kvm_mmu_load: mmu_sync_roots under mmu_lock
  kvm.vmxFlushTlb(vcpu); // §19.7: then set_cr3 = vmx_set_cr3 -> vmx_flush_tlb
  vcpu.path.leave();
}

export function shadowMmuUnload(kvm: Kvm, vcpu: Vcpu): void {
  if (vcpu.root < 0) return;
  const id = vcpu.root;
  vcpu.root = -1;
  kvm.sp.putRoot(vcpu.id, id);
}

export class ShadowMmu implements UnsyncHooks {
  /** gw->prefetch_ptes: the 8 guest PTEs around the leaf, read by FNAME(gpte_changed) at level 1. */
  private readonly prefetchLo = new Uint32Array(PTE_PREFETCH_NUM);
  private readonly prefetchHi = new Uint32Array(PTE_PREFETCH_NUM);

  constructor(
    private readonly kvm: Kvm,
    private readonly walker: KvmWalker,
  ) {}

  /** mmu_sync_roots: vcpu_clear_mmio_info(vcpu, ~0ul) (v3.1), then mmu_sync_children from the root. */
  syncRoots(vcpu: Vcpu): void {
    if (vcpu.root < 0) return;
    vcpuClearMmioInfo(vcpu);
    mmuSyncRoots(this.kvm, vcpu, this);
  }

  /** kvm_mmu_sync_roots: mmu_sync_roots under mmu_lock. */
  kvmMmuSyncRoots(vcpu: Vcpu): void {
    vcpu.path.enter(F.kvm_mmu_sync_roots);
    this.kvmMmuSyncRootsInner(vcpu);
    vcpu.path.leave();
  }

  private kvmMmuSyncRootsInner(vcpu: Vcpu): void {
    this.kvm.acct.charge(vcpu, C.mmu_lock, this.kvm.cost.mmu_lock);
    this.syncRoots(vcpu);
  }

  /**
   * FNAME(page_fault)(vcpu, addr, error_code): 1 = emulate, 0 = re-enter the guest. The fault address
   * is the guest-virtual (vpn, offset) of the access.
   */
  pageFault(vcpu: Vcpu, vpn: number, offset: number, errorCode: number): number {
    vcpu.path.enter(F.paging64_page_fault);
    const r = this.pageFaultInner(vcpu, vpn, offset, errorCode);
    vcpu.path.leave();
    return r;
  }

  private pageFaultInner(vcpu: Vcpu, vpn: number, offset: number, errorCode: number): number {
    const kvm = this.kvm;
    if (kvm.kernel !== 'v3.0' && (errorCode & PFERR_RSVD_MASK) !== 0) return handleMmioPageFault(kvm, vcpu, vpn, false, offset);
    const access = errorCode & (PFERR_WRITE_MASK | PFERR_USER_MASK | PFERR_FETCH_MASK);
    const w = this.walker.walker;
    if (!this.walker.gvaToGpa(vcpu, vpn, offset, access)) {
      // inject_page_fault: the guest's own tables fault; the guest gets #PF with this error code.
      kvm.stats[S.pf_guest]!++;
      kvm.stats[S.guest_faults]!++;
      vcpu.guestFault = true;
      vcpu.guestFaultCode = w.errorCode;
      vcpu.lastPtWriteCount = 0; // reset fork detector
      const tr = kvm.trace, args = tr.args, at = tr.at;
      args[at] = PF_VECTOR;
      args[at + 1] = w.errorCode;
      args[at + 2] = vaLo(vpn, offset);
      args[at + 3] = vaHi(vpn);
      tr.emit(E.kvm_inj_exception, vcpu, vcpu.line);
      noteFault(kvm, vcpu, CLASS_GUEST_PF);
      return 0;
    }
    const gfn = w.gfn;
    const write = (errorCode & PFERR_WRITE_MASK) !== 0;
    const user = (errorCode & PFERR_USER_MASK) !== 0;
    // force_pt_level: only a guest large page asks the memslot: mapping_level_dirty_bitmap() is
    // `return !gfn_to_memslot_dirty_bitmap(vcpu, large_gfn, true);` in 3.0.1 and 3.1 alike, so a gfn
    // without a slot forces 4K and RAM asks mapping_level (host pages are 4K: level 1 either way).
    if (w.level >= 2) {
      vcpu.path.enter(F.mapping_level_dirty_bitmap);
      const force = kvm.gfnToMemslot(vcpu, gfn) === null;
      vcpu.path.leave();
      if (!force) {
        vcpu.path.enter(F.mapping_level);
        kvm.gfnToMemslot(vcpu, gfn); // mapping_level -> host_mapping_level
        vcpu.path.leave();
      }
    }
    vcpu.path.enter(F.try_async_pf);
    const slot = kvm.gfnToMemslot(vcpu, gfn); // try_async_pf -> gfn_to_pfn
    const pfn = slot === null ? 0 : kvm.slotPfn(vcpu, slot, gfn);
    vcpu.path.leave();
    if (slot === null) {
      // walker.pte_access (3.1): pt_access & FNAME(gpte_access)(vcpu, pte, true), which drops W
      // when the leaf is not dirty; handle_abnormal_pfn caches exactly that.
      const pteAccess = this.walkerPteAccess();
      if (kvm.kernel === 'v3.0' || !kvm.mmioSptesEnabled) {
        if (kvm.kernel !== 'v3.0') vcpuCacheMmioInfo(kvm, vcpu, vpn, gfn, pteAccess);
        noteFault(kvm, vcpu, CLASS_MMIO_SLOW); // kvm_handle_bad_page: emulate
        return 1;
      }
      vcpuCacheMmioInfo(kvm, vcpu, vpn, gfn, pteAccess); // handle_abnormal_pfn (gva: not nested)
    }
    kvm.races.point(vcpu, RACE_MMU_LOCK, 0);
    kvm.acct.charge(vcpu, C.mmu_lock, kvm.cost.mmu_lock);
    kvm.sp.freeSomePages(vcpu.id); // kvm_mmu_free_some_pages
    const emulate = this.fetch(vcpu, vpn, write, user, pfn, slot === null);
    if (!emulate) vcpu.lastPtWriteCount = 0; // reset fork detector
    kvm.stats[S.pf_fixed]!++;
    return emulate;
  }

  /** gw->pte_access: the whole translation's access, W dropped when the leaf is clean (3.1's
   *  gpte_access(pte, true); 3.0 drops it later, in set_spte, from the `dirty` argument). */
  private walkerPteAccess(): number {
    const w = this.walker.walker;
    return (w.pteLo[w.level]! & PT_DIRTY_MASK) !== 0 ? w.access : w.access & ~ACC_WRITE_MASK;
  }

  /**
   * FNAME(fetch): shadow the guest's tables down to the guest leaf (indirect pages keyed by the
   * guest table gfns, each write-protected when created), continue with direct pages below a guest
   * large page, then mmu_set_spte at level 1 and FNAME(pte_prefetch), which the kernel calls after
   * every mmu_set_spte here, an MMIO SPTE's included.
   */
  private fetch(vcpu: Vcpu, vpn: number, write: boolean, user: boolean, pfn: number, noslot: boolean): number {
    vcpu.path.enter(F.paging64_fetch);
    const r = this.fetchInner(vcpu, vpn, write, user, pfn, noslot);
    vcpu.path.leave();
    return r;
  }

  private fetchInner(vcpu: Vcpu, vpn: number, write: boolean, user: boolean, pfn: number, noslot: boolean): number {
    const kvm = this.kvm;
    const host = kvm.host;
    const w = this.walker.walker;
    const gLevel = w.level;
    let ptAccess = ACC_ALL; // gw->pt_access: the non-leaf levels' access
    for (let l = 4; l > gLevel; l--) ptAccess &= gpteAccess(w.pteLo[l]!, w.pteHi[l]!, vcpu.nx);
    const pteAccess = ptAccess & gpteAccess(w.pteLo[gLevel]!, w.pteHi[gLevel]!, vcpu.nx);
    const dirty = (w.pteLo[gLevel]! & PT_DIRTY_MASK) !== 0;
    if (this.gpteChanged(vcpu, 4)) return 0; // out_gpte_changed: let the guest fault again
    let table = kvm.sp.pfn[vcpu.root]!;
    let level = 4;
    for (; level > gLevel; level--) {
      const sw = host.entryWord(table, indexOfVpn(vpn, level));
      let child = -1;
      if (!kvm.fmt.isShadowPresent(host.words[sw]!, host.words[sw + 1]!)) {
        const tableGfn = Math.floor(w.pteGpa[level - 1]! / 4096);
        child = this.getShadowPage(vcpu, tableGfn, indirectRole(kvm, vcpu, level - 1, ptAccess), sw);
      }
      if (this.gpteChanged(vcpu, level - 1)) {
        // out_gpte_changed: `if (sp) kvm_mmu_put_page(sp, it.sptep);` (forget the unlinked parent)
        if (child >= 0) kvm.sp.dropParent(child, sw);
        return 0;
      }
      if (child >= 0) kvm.setSpte(vcpu, sw, kvm.fmt.shadowNonLeafLo(kvm.sp.pfn[child]!), frameHi(kvm.sp.pfn[child]!));
      table = frameOf(host.words[sw]!, host.words[sw + 1]!);
    }
    // Below a guest large page: direct pages over the large page's gfns (host pages are 4K).
    let directAccess = ptAccess & pteAccess;
    if (!dirty) directAccess &= ~ACC_WRITE_MASK;
    for (; level > 1; level--) {
      const sw = host.entryWord(table, indexOfVpn(vpn, level));
      // validate_direct_spte: a direct page made for another access (the large page was read
      // clean, now written dirty) is unlinked, and a remote flush follows.
      if (kvm.fmt.isShadowPresent(host.words[sw]!, host.words[sw + 1]!)) {
        const child = kvm.sp.idOfPfn(frameOf(host.words[sw]!, host.words[sw + 1]!));
        if (kvm.sp.roleAccess(child) !== directAccess) {
          kvm.sp.dropParent(child, sw); // drop_parent_pte: unlink, clear the SPTE
          kvm.clearSpte(sw);
          kvm.flushRemoteTlbs(vcpu);
        }
      }
      if (!kvm.fmt.isShadowPresent(host.words[sw]!, host.words[sw + 1]!)) {
        const directGfn = w.gfn - (w.gfn & (pagesPerLevel(level) - 1));
        const child = this.getShadowPage(vcpu, directGfn, directRole(kvm, vcpu, level - 1, directAccess), sw);
        kvm.setSpte(vcpu, sw, kvm.fmt.shadowNonLeafLo(kvm.sp.pfn[child]!), frameHi(kvm.sp.pfn[child]!));
      }
      table = frameOf(host.words[sw]!, host.words[sw + 1]!);
    }
    const index = indexOfVpn(vpn, 1);
    const leafWord = host.entryWord(table, index);
    const emulate = this.mmuSetSpte(vcpu, leafWord, table, index, pteAccess & ptAccess, user, write, dirty, w.gfn, pfn, noslot, false);
    this.ptePrefetch(vcpu, table, index);
    return emulate;
  }

  /** FNAME(gpte_changed): re-read the guest entry walked at `level` (kvm_read_guest_atomic: a lookup);
   *  at level 1 the read covers the 8 entries FNAME(pte_prefetch) will use (gw->prefetch_ptes). */
  private gpteChanged(vcpu: Vcpu, level: number): boolean {
    const kvm = this.kvm;
    const w = this.walker.walker;
    if (level < w.level) return false;
    const gpa = w.pteGpa[level]!;
    const gfn = Math.floor(gpa / 4096);
    const slot = kvm.gfnToMemslot(vcpu, gfn);
    if (slot === null) return true;
    const pfn = kvm.slotPfn(vcpu, slot, gfn);
    if (level === 1) {
      const index = (gpa % 4096) >>> 3;
      const base = index - (index % PTE_PREFETCH_NUM);
      for (let i = 0; i < PTE_PREFETCH_NUM; i++) {
        kvm.host.read(pfn, (base + i) * 8, 8);
        this.prefetchLo[i] = kvm.host.lo;
        this.prefetchHi[i] = kvm.host.hi;
      }
      const k = index - base;
      return this.prefetchLo[k] !== w.pteLo[1] || this.prefetchHi[k] !== w.pteHi[1];
    }
    kvm.host.read(pfn, gpa & 0xfff, 8);
    return kvm.host.lo !== w.pteLo[level] || kvm.host.hi !== w.pteHi[level];
  }

  /**
   * mmu_set_spte (3.x): drop a present SPTE that maps another pfn, set_spte (can_unsync), then
   * page_header_update_slot and rmap_add for a new mapping. Returns `emulate`: 1 for an MMIO SPTE
   * on a fault, or for a write fault that could not be made writable (a write-protected guest table).
   */
  mmuSetSpte(vcpu: Vcpu, word: number, table: number, index: number, access: number, user: boolean, write: boolean, dirty: boolean, gfn: number, pfn: number, noslot: boolean, speculative: boolean): number {
    vcpu.path.enter(F.mmu_set_spte);
    const r = this.mmuSetSpteInner(vcpu, word, table, index, access, user, write, dirty, gfn, pfn, noslot, speculative);
    vcpu.path.leave();
    return r;
  }

  private mmuSetSpteInner(vcpu: Vcpu, word: number, table: number, index: number, access: number, user: boolean, write: boolean, dirty: boolean, gfn: number, pfn: number, noslot: boolean, speculative: boolean): number {
    const kvm = this.kvm;
    const host = kvm.host;
    const fmt = kvm.fmt;
    const sp = kvm.sp.idOfPfn(table);
    let wasRmapped = false;
    if (fmt.isShadowPresent(host.words[word]!, host.words[word + 1]!)) {
      if (frameOf(host.words[word]!, host.words[word + 1]!) !== pfn || noslot) {
        this.dropSpte(vcpu, sp, index, word, fmt.trapLo, fmt.trapHi);
        kvm.flushRemoteTlbs(vcpu);
      } else wasRmapped = true;
    }
    if (noslot) {
      // set_spte -> set_mmio_spte -> mark_mmio_spte: mask | (access & (W|U)) | gfn << 12, with
      // gw->pte_access (W dropped for a clean leaf).
      const mmioAccess = dirty ? access : access & ~ACC_WRITE_MASK;
      kvm.setSpte(vcpu, word, fmt.mmioLoOf(gfn, mmioAccess), fmt.mmioHiOf(gfn));
      kvm.stats[S.mmio_sptes_created]!++;
      const tr = kvm.trace, args = tr.args, at = tr.at;
      args[at] = table * 4096 + index * 8;
      args[at + 1] = gfn;
      args[at + 2] = mmioAccess & 6;
      tr.emit(E.mark_mmio_spte, vcpu, vcpu.line);
      if (speculative) {
        vcpu.lastPteUpdated = word;
        vcpu.lastPteGfn = gfn;
        return 0;
      }
      noteFault(kvm, vcpu, CLASS_MMIO_SLOW);
      return 1; // `if (is_mmio_spte(*sptep) && emulate) *emulate = 1;`
    }
    const oldLo = host.words[word]!;
    const oldHi = host.words[word + 1]!;
    const ret = this.setSpte(vcpu, word, access, user, write, dirty, gfn, pfn, speculative, true);
    const lo = host.words[word]!;
    const hi = host.words[word + 1]!;
    const unchanged = lo === oldLo && hi === oldHi;
    if (!unchanged && !speculative) {
      const tr = kvm.trace, args = tr.args, at = tr.at;
      args[at] = gfn;
      args[at + 1] = lo;
      args[at + 2] = hi;
      args[at + 3] = 1;
      tr.emit(E.kvm_set_spte, vcpu, vcpu.line);
    }
    // A write to a write-protected guest table is emulated whether or not its SPTE changed.
    if (!speculative) noteFault(kvm, vcpu, ret && write ? CLASS_WP_EMULATE : unchanged ? CLASS_SPURIOUS : CLASS_MAP);
    let emulate = 0;
    if (ret) {
      if (write) emulate = 1;
      kvm.mmuFlushTlb(vcpu); // §19.6: mmu_set_spte
    }
    if (fmt.isShadowPresent(lo, hi)) {
      kvm.gfnToMemslot(vcpu, gfn); // page_header_update_slot -> memslot_id
      if (!wasRmapped) {
        const g = kvm.sp.gfns[sp];
        if (g) g[index] = gfn; // kvm_mmu_page_set_gfn
        kvm.rmap.add(vcpu, gfn, word);
      }
    }
    if (speculative) {
      vcpu.lastPteUpdated = word;
      vcpu.lastPteGfn = gfn;
    }
    return emulate;
  }

  /**
   * set_spte (3.x, shadow paging, a RAM pfn): build the leaf, keep W off a gfn that is a guest table
   * KVM shadows (mmu_need_write_protect, which with oos_shadow makes last-level ones unsync instead),
   * mark_page_dirty, store it, and flush remote TLBs if a writable SPTE became read-only. Returns 1
   * when write access had to be withheld.
   */
  private setSpte(vcpu: Vcpu, word: number, access: number, user: boolean, write: boolean, dirty: boolean, gfn: number, pfn: number, speculative: boolean, canUnsync: boolean): number {
    const kvm = this.kvm;
    const host = kvm.host;
    const fmt = kvm.fmt;
    const entryLo = host.words[word]!;
    let pteAccess = access;
    if (!dirty) pteAccess &= ~ACC_WRITE_MASK; // the dirty-bit trick: a clean page is mapped read-only
    let lo = fmt.shadowLeafLo(pfn, pteAccess & ~ACC_WRITE_MASK, speculative);
    let hi = fmt.shadowLeafHi(pfn, pteAccess);
    let ret = 0;
    let checked = true;
    if ((pteAccess & ACC_WRITE_MASK) !== 0 || (write && !vcpu.cr0Wp && !user)) {
      lo |= PT_WRITABLE_MASK;
      if ((pteAccess & ACC_WRITE_MASK) === 0) {
        // CR0.WP = 0: a supervisor write to a read-only page is allowed, so map it writable but not
        // user; 3.1 also makes it not executable under SMEP (3.0 has no SMEP).
        lo &= ~PT_USER_MASK;
        if (vcpu.smep && kvm.kernel !== 'v3.0') hi |= PT64_NX_MASK_HI;
      }
      // `if (!can_unsync && is_writable_pte(*sptep)) goto set_pte;`: FNAME(sync_page) keeps a
      // writable SPTE writable and skips the hash lookup and dirty accounting.
      if (!canUnsync && (entryLo & PT_WRITABLE_MASK) !== 0) checked = false;
      else if (mmuNeedWriteProtect(kvm, vcpu, gfn, canUnsync, this)) {
        ret = 1;
        pteAccess &= ~ACC_WRITE_MASK;
        lo &= ~PT_WRITABLE_MASK;
      }
    }
    if (checked && (pteAccess & ACC_WRITE_MASK) !== 0) kvm.gfnToMemslot(vcpu, gfn); // mark_page_dirty
    lo >>>= 0;
    hi >>>= 0;
    // mmu_spte_update (3.1) / update_spte (3.0.1) store whether or not the value changes, keeping the
    // D bit the CPU set in a present SPTE: `new_spte |= old_spte & shadow_dirty_mask;`.
    if (fmt.isShadowPresent(entryLo, host.words[word + 1]!)) lo = (lo | (entryLo & PT_DIRTY_MASK)) >>> 0;
    kvm.setSpte(vcpu, word, lo, hi);
    // "If we overwrite a writable spte with a read-only one we should flush remote TLBs."
    if ((entryLo & PT_WRITABLE_MASK) !== 0 && (lo & PT_WRITABLE_MASK) === 0) kvm.flushRemoteTlbs(vcpu);
    return ret;
  }

  /** drop_spte: clear the SPTE (to `lo`/`hi`: 0, or v3.0's trap/notrap) and rmap_remove a present one. */
  private dropSpte(vcpu: Vcpu, sp: number, index: number, word: number, lo: number, hi: number): void {
    const kvm = this.kvm;
    if (kvm.fmt.isShadowPresent(kvm.host.words[word]!, kvm.host.words[word + 1]!)) kvm.rmap.remove(vcpu, kvm.sp.leafGfn(sp, index), word);
    kvm.host.store(word, lo, hi);
    kvm.stats[S.sptes_written]!++;
  }

  /**
   * FNAME(prefetch_invalid_gpte): a guest PTE with reserved bits, not present or not accessed is not
   * mapped, and its SPTE is dropped: to 0, or in v3.0 to trap, but notrap for a not-present gPTE of
   * a page that is not unsync (bypass_guest_pf then lets the guest take that #PF directly).
   */
  private prefetchInvalidGpte(vcpu: Vcpu, sp: number, index: number, word: number, glo: number, ghi: number): boolean {
    const kvm = this.kvm;
    const present = (glo & PT_PRESENT_MASK) !== 0;
    if (!this.walker.walker.reserved(glo, ghi, 1, true, vcpu.nx) && present && (glo & PT_ACCESSED_MASK) !== 0) return false;
    const notrap = kvm.kernel === 'v3.0' && !present && !kvm.sp.unsync[sp];
    this.dropSpte(vcpu, sp, index, word, notrap ? 0 : kvm.fmt.trapLo, notrap ? 0 : kvm.fmt.trapHi);
    return true;
  }

  /**
   * FNAME(update_pte) (kvm_mmu_pte_write -> mmu_pte_write_new_pte): map the new guest PTE at once.
   * gfn_to_pfn_atomic: a gfn with no slot gives bad_pfn, which 3.1's mmu_invalid_pfn does not
   * reject (so set_mmio_spte installs an MMIO SPTE) and 3.0's is_error_pfn does; a page not yet
   * faulted in gives fault_pfn, rejected by both.
   */
  updatePte(vcpu: Vcpu, sp: number, index: number, glo: number, ghi: number): void {
    const kvm = this.kvm;
    const word = kvm.host.entryWord(kvm.sp.pfn[sp]!, index);
    if (this.prefetchInvalidGpte(vcpu, sp, index, word, glo, ghi)) return;
    const access = kvm.sp.roleAccess(sp) & gpteAccess(glo, ghi, vcpu.nx);
    const gfn = frameOf(glo, ghi);
    const slot = kvm.gfnToMemslot(vcpu, gfn); // gfn_to_pfn_atomic -> gfn_to_hva
    if (slot === null) {
      if (kvm.kernel === 'v3.0' || !kvm.mmioSptesEnabled) return;
    } else if (slot.pfnOf(gfn) === 0) return;
    const pfn = slot === null ? 0 : slot.pfnOf(gfn);
    this.mmuSetSpte(vcpu, word, kvm.sp.pfn[sp]!, index, access, false, false, (glo & PT_DIRTY_MASK) !== 0, gfn, pfn, slot === null, true);
  }

  /**
   * FNAME(pte_prefetch): map the 8-entry window around the faulting SPTE from gw->prefetch_ptes
   * (level-1 indirect pages only). An entry already present is skipped (v3.0: anything but the trap
   * value); a neighbour without a slot, or whose page is not resident (hva_to_pfn_atomic), ends the
   * loop (`break`).
   */
  private ptePrefetch(vcpu: Vcpu, table: number, index: number): void {
    const kvm = this.kvm;
    const fmt = kvm.fmt;
    const sp = kvm.sp.idOfPfn(table);
    if (kvm.sp.level(sp) !== 1) return;
    if (kvm.sp.isDirect(sp)) return; // __direct_pte_prefetch: not modelled (see docs/decisions.md)
    const start = index - (index % PTE_PREFETCH_NUM);
    for (let k = 0; k < PTE_PREFETCH_NUM; k++) {
      const i = start + k;
      if (i === index) continue;
      const sw = kvm.host.entryWord(table, i);
      const slo = kvm.host.words[sw]!;
      const shi = kvm.host.words[sw + 1]!;
      if (kvm.kernel === 'v3.0' ? slo !== fmt.trapLo || shi !== fmt.trapHi : fmt.isShadowPresent(slo, shi)) continue;
      const glo = this.prefetchLo[k]!;
      const ghi = this.prefetchHi[k]!;
      if (this.prefetchInvalidGpte(vcpu, sp, i, sw, glo, ghi)) continue;
      const gfn = frameOf(glo, ghi);
      const slot = kvm.gfnToMemslot(vcpu, gfn); // pte_prefetch_gfn_to_pfn -> gfn_to_memslot_dirty_bitmap
      if (slot === null) break; // fault_pfn
      const pfn = slot.pfnOf(gfn);
      if (pfn === 0) break; // hva_to_pfn_atomic: not resident
      const access = kvm.sp.roleAccess(sp) & gpteAccess(glo, ghi, vcpu.nx);
      this.mmuSetSpte(vcpu, sw, table, i, access, false, false, (glo & PT_DIRTY_MASK) !== 0, gfn, pfn, false, true);
    }
  }

  /**
   * kvm_mmu_get_page for the shadow MMU. A hit on an unsync page syncs it first (a failed sync zaps
   * it and a new page is made), records the new parent and passes the unsync state up (an unsync
   * child below asks for KVM_REQ_MMU_SYNC). A new indirect page write-protects its guest table
   * (rmap_write_protect, then a remote flush if anything changed), syncs that gfn's unsync pages if
   * it is an upper level, and accounts it (account_shadowed: a memslot lookup); v3.0 with
   * bypass_guest_pf fills it with trap/notrap values (prefetch_page).
   */
  getShadowPage(vcpu: Vcpu, gfn: number, role: number, parentWord: number): number {
    vcpu.path.enter(F.kvm_mmu_get_page);
    const r = this.getShadowPageInner(vcpu, gfn, role, parentWord);
    vcpu.path.leave();
    return r;
  }

  private getShadowPageInner(vcpu: Vcpu, gfn: number, role: number, parentWord: number): number {
    const kvm = this.kvm;
    const pages = kvm.sp;
    let needSync = false;
    let id = -1;
    for (const s of pages.bucket(gfn)) {
      if (pages.gfn[s] !== gfn) continue;
      if (!needSync && pages.unsync[s]) needSync = true;
      if (pages.role[s] !== role) continue;
      if (pages.unsync[s] && kvmSyncPageTransient(kvm, vcpu, s, this)) break;
      id = s;
      break;
    }
    if (id >= 0) {
      pages.found(vcpu.id, id, parentWord);
      if (pages.unsyncChildren[id]) {
        vcpu.syncRequested = true; // kvm_make_request(KVM_REQ_MMU_SYNC, vcpu)
        kvmMmuMarkParentsUnsync(kvm, id);
      } else if (pages.unsync[id]) kvmMmuMarkParentsUnsync(kvm, id);
      return id;
    }
    id = pages.allocPage(vcpu.id, gfn, role, parentWord);
    if ((role & ROLE_DIRECT) === 0) {
      if (kvm.rmap.writeProtect(vcpu, gfn)) kvm.flushRemoteTlbs(vcpu);
      if ((role & ROLE_LEVEL_MASK) > 1 && needSync) kvmSyncPages(kvm, vcpu, gfn, this);
      kvm.gfnToMemslot(vcpu, gfn); // account_shadowed
    }
    if (kvm.bypassGuestPf) this.prefetchPage(vcpu, id, gfn, (role & ROLE_DIRECT) !== 0);
    pages.traceCreated(vcpu.id, id); // `trace_kvm_mmu_get_page(sp, true);` comes last
    return id;
  }

  /** v3.0 with bypass_guest_pf: FNAME(prefetch_page) writes trap for present guest entries and notrap
   *  (0) for absent ones, reading the guest table in 256-byte chunks; direct pages get trap everywhere. */
  private prefetchPage(vcpu: Vcpu, id: number, gfn: number, direct: boolean): void {
    const kvm = this.kvm;
    const base = kvm.host.entryWord(kvm.sp.pfn[id]!, 0);
    let gptPfn = 0;
    for (let i = 0; i < 512; i++) {
      let trap = true;
      if (!direct) {
        if (i % 32 === 0) {
          const slot = kvm.gfnToMemslot(vcpu, gfn); // kvm_read_guest_atomic, 256 bytes at a time
          gptPfn = slot === null ? 0 : kvm.slotPfn(vcpu, slot, gfn);
        }
        if (gptPfn !== 0) {
          kvm.host.read(gptPfn, i * 8, 8);
          trap = (kvm.host.lo & PT_PRESENT_MASK) !== 0;
        }
      }
      kvm.host.store(base + 2 * i, trap ? kvm.fmt.trapLo : 0, trap ? kvm.fmt.trapHi : 0);
    }
  }

  /** v3.0 __kvm_unsync_page -> mmu_convert_notrap: every notrap entry becomes trap, so the guest's
   *  not-present faults on a table it now writes directly reach KVM. */
  convertNotrap(sp: number): void {
    const kvm = this.kvm;
    if (!kvm.bypassGuestPf) return; // shadow_trap_nonpresent_pte == shadow_notrap_nonpresent_pte
    const base = kvm.host.entryWord(kvm.sp.pfn[sp]!, 0);
    const words = kvm.host.words;
    for (let i = 0; i < 512; i++) {
      if (words[base + 2 * i] !== 0 || words[base + 2 * i + 1] !== 0) continue;
      kvm.host.store(base + 2 * i, kvm.fmt.trapLo, kvm.fmt.trapHi);
      kvm.stats[S.sptes_written]!++;
    }
  }

  /**
   * FNAME(sync_page): bring an unsync page back in line with its guest table. Every SPTE in use is
   * checked against the guest PTE (kvm_read_guest_atomic: a lookup each): invalid ones are dropped,
   * (3.1) MMIO SPTEs follow their gPTE (sync_mmio_spte), a gPTE that now maps another gfn drops the
   * SPTE, the rest get set_spte with can_unsync = 0. Nonzero (nothing present) means "zap the page".
   */
  syncPage(vcpu: Vcpu, sp: number): number {
    vcpu.path.enter(F.paging64_sync_page);
    const r = this.syncPageInner(vcpu, sp);
    vcpu.path.leave();
    return r;
  }

  private syncPageInner(vcpu: Vcpu, sp: number): number {
    const kvm = this.kvm;
    const host = kvm.host;
    const fmt = kvm.fmt;
    const gfn0 = kvm.sp.gfn[sp]!;
    const gfns = kvm.sp.gfns[sp]!;
    let nrPresent = 0;
    for (let i = 0; i < 512; i++) {
      const word = host.entryWord(kvm.sp.pfn[sp]!, i);
      const slo = host.words[word]!;
      const shi = host.words[word + 1]!;
      // 3.1: `if (!sp->spt[i]) continue;` 3.0: `if (!is_shadow_present_pte(sp->spt[i])) continue;`
      if (kvm.kernel === 'v3.0' ? !fmt.isShadowPresent(slo, shi) : slo === 0 && shi === 0) continue;
      const slot = kvm.gfnToMemslot(vcpu, gfn0); // kvm_read_guest_atomic(pte_gpa)
      if (slot === null) return 1; // -EINVAL
      host.read(kvm.slotPfn(vcpu, slot, gfn0), i * 8, 8);
      const glo = host.lo;
      const ghi = host.hi;
      if (this.prefetchInvalidGpte(vcpu, sp, i, word, glo, ghi)) continue; // ++tlbs_dirty
      const gfn = frameOf(glo, ghi);
      const access = kvm.sp.roleAccess(sp) & gpteAccess(glo, ghi, vcpu.nx);
      const dirty = (glo & PT_DIRTY_MASK) !== 0;
      if (fmt.isMmioSpte(slo, shi)) {
        // sync_mmio_spte
        if (gfn !== fmt.mmioGfn(slo, shi)) {
          host.store(word, 0, 0); // mmu_spte_clear_no_track
          kvm.stats[S.sptes_written]!++;
          continue;
        }
        nrPresent++;
        const mmioAccess = dirty ? access : access & ~ACC_WRITE_MASK;
        // mark_mmio_spte: `trace_mark_mmio_spte(sptep, gfn, access); mmu_spte_set(sptep, ...);`
        kvm.setSpte(vcpu, word, fmt.mmioLoOf(gfn, mmioAccess), fmt.mmioHiOf(gfn));
        kvm.stats[S.mmio_sptes_created]!++;
        const tr = kvm.trace, args = tr.args, at = tr.at;
        args[at] = kvm.sp.pfn[sp]! * 4096 + i * 8;
        args[at + 1] = gfn;
        args[at + 2] = mmioAccess & 6;
        tr.emit(E.mark_mmio_spte, vcpu, vcpu.line);
        continue;
      }
      if (gfn !== gfns[i]) {
        this.dropSpte(vcpu, sp, i, word, fmt.trapLo, fmt.trapHi); // ++tlbs_dirty
        continue;
      }
      nrPresent++;
      this.setSpte(vcpu, word, access, false, false, dirty, gfn, frameOf(slo, shi), true, false);
    }
    return nrPresent === 0 ? 1 : 0;
  }

  /**
   * FNAME(invlpg): walk the shadow tables for `vpn` while the pages on the way have unsync children;
   * at the leaf, only an unsync page's SPTE is dropped (and remote TLBs flushed), an MMIO SPTE
   * cleared, and the guest PTE re-read through kvm_mmu_pte_write(vcpu, pte_gpa, NULL, ...). A sync
   * leaf stays: the guest changed nothing KVM did not see. The MMIO info for the page is cleared
   * first.
   */
  invlpg(vcpu: Vcpu, vpn: number): void {
    vcpu.path.enter(F.paging64_invlpg);
    this.invlpgInner(vcpu, vpn);
    vcpu.path.leave();
  }

  private invlpgInner(vcpu: Vcpu, vpn: number): void {
    const kvm = this.kvm;
    const host = kvm.host;
    vcpuClearMmioInfo(vcpu, vpn);
    kvm.acct.charge(vcpu, C.mmu_lock, kvm.cost.mmu_lock);
    let table = kvm.sp.pfn[vcpu.root]!;
    let pteGpa = -1;
    let needFlush = false;
    for (let level = 4; level >= 1; level--) {
      const sp = kvm.sp.idOfPfn(table);
      const index = indexOfVpn(vpn, level);
      const sw = host.entryWord(table, index);
      const lo = host.words[sw]!;
      const hi = host.words[sw + 1]!;
      if (level === 1) {
        // is_last_spte
        if (!kvm.sp.unsync[sp]) break;
        pteGpa = kvm.sp.gfn[sp]! * 4096 + index * 8;
        if (kvm.fmt.isShadowPresent(lo, hi)) {
          this.dropSpte(vcpu, sp, index, sw, kvm.fmt.trapLo, kvm.fmt.trapHi);
          needFlush = true;
        } else if (kvm.kernel === 'v3.0' || kvm.fmt.isMmioSpte(lo, hi)) {
          // 3.0.1: `} else __set_spte(sptep, shadow_trap_nonpresent_pte);` (whatever was there);
          // 3.1.10: `} else if (is_mmio_spte(*sptep)) mmu_spte_clear_no_track(sptep);` (trap is 0).
          kvm.clearSpte(sw);
        }
        break;
      }
      if (!kvm.fmt.isShadowPresent(lo, hi) || !kvm.sp.unsyncChildren[sp]) break;
      table = frameOf(lo, hi);
    }
    if (needFlush) kvm.flushRemoteTlbs(vcpu);
    if (pteGpa >= 0) kvmMmuPteWrite(kvm, this, vcpu, pteGpa, 8, false);
  }
}
