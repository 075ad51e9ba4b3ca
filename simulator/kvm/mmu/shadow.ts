// KVM's shadow MMU (ept=0) of the 3.0/3.1 kernels: the guest runs on shadow page tables that KVM
// builds from the guest's own (paging_tmpl.h FNAME(page_fault), FNAME(fetch), FNAME(invlpg),
// FNAME(pte_prefetch); mmu.c mmu_set_spte, set_spte, kvm_mmu_get_page, mmu_alloc_shadow_roots).
//
// Modelled as in the kernel, with these settings: oos_shadow = 0 (every shadowed guest table stays
// write-protected; see docs/decisions.md), host pages are 4K (so a guest large page is shadowed by
// a direct page of 4K SPTEs), and one guest paging mode (4-level, long mode).

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
import { ROLE_ACCESS_SHIFT, ROLE_CR0_WP, ROLE_DIRECT, ROLE_NXE } from './shadow_pages';
import { handleMmioPageFault } from './mmio_fault';
import { vcpuCacheMmioInfo, vcpuClearMmioInfo } from '../x86/mmio_cache';
import { RACE_MMU_LOCK } from '../races';
import { noteFault, CLASS_GUEST_PF, CLASS_MAP, CLASS_MMIO_SLOW, CLASS_SPURIOUS, CLASS_WP_EMULATE } from '../fault_class';

const ROLE_CR4_PAE = 1 << 4;
const PF_VECTOR = 14;
/** PTE_PREFETCH_NUM: neighbouring guest PTEs mapped speculatively after a fault. */
const PTE_PREFETCH_NUM = 8;

/** vcpu->arch.mmu.base_role for a 4-level guest: cr4_pae, nxe, cr0_wp. */
function baseRole(vcpu: Vcpu): number {
  return ROLE_CR4_PAE | (vcpu.nx ? ROLE_NXE : 0) | (vcpu.cr0Wp ? ROLE_CR0_WP : 0);
}

function indirectRole(vcpu: Vcpu, level: number, access: number): number {
  return baseRole(vcpu) | level | (access << ROLE_ACCESS_SHIFT);
}

function directRole(vcpu: Vcpu, level: number, access: number): number {
  return (baseRole(vcpu) & ~ROLE_CR4_PAE) | level | ROLE_DIRECT | (access << ROLE_ACCESS_SHIFT);
}

/** kvm_mmu_load -> mmu_alloc_shadow_roots (the root shadows the guest's PML4, gfn = CR3 >> 12), then
 *  mmu_sync_roots, which clears the vCPU's MMIO info. */
export function shadowMmuLoad(kvm: Kvm, em: ShadowMmu, vcpu: Vcpu): void {
  if (vcpu.reloadRequested) {
    vcpu.reloadRequested = false;
    shadowMmuUnload(kvm, vcpu);
  }
  if (vcpu.root >= 0) return;
  const rootGfn = Math.floor(vcpu.cr3 / 4096);
  kvm.gfnToMemslot(vcpu, rootGfn); // mmu_check_root -> kvm_is_visible_gfn
  const id = em.getShadowPage(vcpu, rootGfn, indirectRole(vcpu, 4, ACC_ALL), -1);
  kvm.sp.rootCount[id]!++;
  vcpu.root = id;
  vcpuClearMmioInfo(vcpu); // mmu_sync_roots: vcpu_clear_mmio_info(vcpu, ~0ul)
}

export function shadowMmuUnload(kvm: Kvm, vcpu: Vcpu): void {
  if (vcpu.root < 0) return;
  const id = vcpu.root;
  vcpu.root = -1;
  kvm.sp.putRoot(vcpu.id, id);
}

export class ShadowMmu {
  constructor(
    private readonly kvm: Kvm,
    private readonly walker: KvmWalker,
  ) {}

  /**
   * FNAME(page_fault)(vcpu, addr, error_code): 1 = emulate, 0 = re-enter the guest. The fault address
   * is the guest-virtual (vpn, offset) of the access.
   */
  pageFault(vcpu: Vcpu, vpn: number, offset: number, errorCode: number): number {
    const kvm = this.kvm;
    if (kvm.kernel !== 'v3.0' && (errorCode & PFERR_RSVD_MASK) !== 0) return handleMmioPageFault(kvm, vcpu, vpn, false);
    const access = errorCode & (PFERR_WRITE_MASK | PFERR_USER_MASK | PFERR_FETCH_MASK);
    const w = this.walker.walker;
    if (!this.walker.gvaToGpa(vcpu, vpn, offset, access)) {
      // inject_page_fault: the guest's own tables fault; the guest gets #PF with this error code.
      kvm.stats[S.pf_guest]!++;
      kvm.stats[S.guest_faults]!++;
      vcpu.guestFault = true;
      vcpu.guestFaultCode = w.errorCode;
      kvm.trace.emit(E.kvm_inj_exception, vcpu.id, vcpu.line, vcpu.clock, PF_VECTOR, w.errorCode, vaLo(vpn, offset), vaHi(vpn));
      noteFault(kvm, vcpu, CLASS_GUEST_PF);
      return 0;
    }
    const gfn = w.gfn;
    const write = (errorCode & PFERR_WRITE_MASK) !== 0;
    const user = (errorCode & PFERR_USER_MASK) !== 0;
    // force_pt_level: only a guest large page asks the memslot (mapping_level_dirty_bitmap), with the
    // same v3.0/v3.1 difference as tdp_page_fault; host pages are 4K, so the level is 1 either way.
    if (w.level >= 2) {
      const found = kvm.gfnToMemslot(vcpu, gfn) !== null;
      const force = kvm.kernel === 'v3.0' ? found : !found;
      if (!force) kvm.gfnToMemslot(vcpu, gfn); // mapping_level -> host_mapping_level
    }
    const slot = kvm.gfnToMemslot(vcpu, gfn); // try_async_pf -> gfn_to_pfn
    if (slot === null) {
      if (kvm.kernel === 'v3.0' || !kvm.mmioSptesEnabled) {
        if (kvm.kernel !== 'v3.0') vcpuCacheMmioInfo(kvm, vcpu, vpn, gfn, w.access);
        noteFault(kvm, vcpu, CLASS_MMIO_SLOW); // kvm_handle_bad_page: emulate
        return 1;
      }
      vcpuCacheMmioInfo(kvm, vcpu, vpn, gfn, w.access); // handle_abnormal_pfn (gva: not nested)
    }
    const pfn = slot === null ? 0 : kvm.slotPfn(vcpu, slot, gfn);
    kvm.races.point(vcpu, RACE_MMU_LOCK, 0);
    kvm.acct.charge(vcpu, C.mmu_lock, kvm.cost.mmu_lock);
    const emulate = this.fetch(vcpu, vpn, write, user, pfn, slot === null);
    kvm.stats[S.pf_fixed]!++;
    return emulate;
  }

  /**
   * FNAME(fetch): shadow the guest's tables down to the guest leaf (indirect pages keyed by the
   * guest table gfns, each write-protected when created), continue with direct pages below a guest
   * large page, then mmu_set_spte at level 1 and prefetch the neighbours.
   */
  private fetch(vcpu: Vcpu, vpn: number, write: boolean, user: boolean, pfn: number, noslot: boolean): number {
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
        child = this.getShadowPage(vcpu, tableGfn, indirectRole(vcpu, level - 1, ptAccess), sw);
      }
      if (this.gpteChanged(vcpu, level - 1)) return 0;
      if (child >= 0) kvm.setSpte(vcpu, sw, kvm.fmt.shadowNonLeafLo(kvm.sp.pfn[child]!), frameHi(kvm.sp.pfn[child]!));
      table = frameOf(host.words[sw]!, host.words[sw + 1]!);
    }
    // Below a guest large page: direct pages over the large page's gfns (host pages are 4K).
    let directAccess = ptAccess & pteAccess;
    if (!dirty) directAccess &= ~ACC_WRITE_MASK;
    for (; level > 1; level--) {
      const sw = host.entryWord(table, indexOfVpn(vpn, level));
      if (!kvm.fmt.isShadowPresent(host.words[sw]!, host.words[sw + 1]!)) {
        const directGfn = w.gfn - (w.gfn % pagesPerLevel(level));
        const child = this.getShadowPage(vcpu, directGfn, directRole(vcpu, level - 1, directAccess), sw);
        kvm.setSpte(vcpu, sw, kvm.fmt.shadowNonLeafLo(kvm.sp.pfn[child]!), frameHi(kvm.sp.pfn[child]!));
      }
      table = frameOf(host.words[sw]!, host.words[sw + 1]!);
    }
    const index = indexOfVpn(vpn, 1);
    const leafWord = host.entryWord(table, index);
    const emulate = this.mmuSetSpte(vcpu, leafWord, table, index, pteAccess & ptAccess, user, write, dirty, w.gfn, pfn, noslot, false);
    if (!noslot) this.ptePrefetch(vcpu, table, index);
    return emulate;
  }

  /** FNAME(gpte_changed): re-read the guest entry walked at `level` (kvm_read_guest_atomic: a lookup). */
  private gpteChanged(vcpu: Vcpu, level: number): boolean {
    const kvm = this.kvm;
    const w = this.walker.walker;
    if (level < w.level) return false;
    const gpa = w.pteGpa[level]!;
    const slot = kvm.gfnToMemslot(vcpu, Math.floor(gpa / 4096));
    if (slot === null) return true;
    kvm.host.read(kvm.slotPfn(vcpu, slot, Math.floor(gpa / 4096)), gpa % 4096, 8);
    return kvm.host.lo !== w.pteLo[level] || kvm.host.hi !== w.pteHi[level];
  }

  /**
   * mmu_set_spte -> set_spte (shadow paging, v3.x). Returns `emulate`: 1 for an MMIO SPTE, or for a
   * write fault that could not be made writable (the gfn is a shadowed guest table).
   */
  mmuSetSpte(vcpu: Vcpu, word: number, table: number, index: number, access: number, user: boolean, write: boolean, dirty: boolean, gfn: number, pfn: number, noslot: boolean, speculative: boolean): number {
    const kvm = this.kvm;
    const host = kvm.host;
    const fmt = kvm.fmt;
    const sp = kvm.sp.idOfPfn(table);
    const oldLo = host.words[word]!;
    const oldHi = host.words[word + 1]!;
    let wasRmapped = false;
    if (fmt.isShadowPresent(oldLo, oldHi)) {
      if (frameOf(oldLo, oldHi) !== pfn || noslot) {
        kvm.rmap.remove(vcpu, kvm.sp.leafGfn(sp, index), word); // drop_spte
        kvm.clearSpte(word);
        kvm.flushRemoteTlbs(vcpu);
      } else wasRmapped = true;
    }
    if (noslot) {
      // set_mmio_spte -> mark_mmio_spte: mask | (access & (W|U)) | gfn << 12.
      kvm.setSpte(vcpu, word, fmt.mmioLoOf(gfn, access), fmt.mmioHiOf(gfn));
      kvm.stats[S.mmio_sptes_created]!++;
      kvm.trace.emit(E.mark_mmio_spte, vcpu.id, vcpu.line, vcpu.clock, table * 4096 + index * 8, gfn, access & 6);
      if (!speculative) noteFault(kvm, vcpu, CLASS_MMIO_SLOW);
      return 1;
    }
    // set_spte
    let pteAccess = access;
    if (!dirty) pteAccess &= ~ACC_WRITE_MASK; // the dirty-bit trick: a clean page is mapped read-only
    let lo = fmt.shadowLeafLo(pfn, pteAccess & ~ACC_WRITE_MASK, speculative);
    let hi = fmt.shadowLeafHi(pfn, pteAccess);
    let ret = 0;
    if ((pteAccess & ACC_WRITE_MASK) !== 0 || (write && !vcpu.cr0Wp && !user)) {
      lo |= PT_WRITABLE_MASK;
      if ((pteAccess & ACC_WRITE_MASK) === 0) {
        // CR0.WP = 0: a supervisor write to a read-only page is allowed, so map it writable but not
        // user, and not executable under SMEP.
        lo &= ~PT_USER_MASK;
        if (vcpu.smep) hi |= PT64_NX_MASK_HI;
      }
      if (kvm.sp.indirectOf(gfn).length > 0) {
        // mmu_need_write_protect: the gfn is a guest page table KVM shadows (oos_shadow = 0).
        ret = 1;
        pteAccess &= ~ACC_WRITE_MASK;
        lo &= ~PT_WRITABLE_MASK;
      }
    }
    if (pteAccess & ACC_WRITE_MASK) kvm.gfnToMemslot(vcpu, gfn); // mark_page_dirty
    lo >>>= 0;
    hi >>>= 0;
    const unchanged = lo === oldLo && hi === oldHi;
    if (!unchanged) {
      kvm.setSpte(vcpu, word, lo, hi);
      if (!speculative) kvm.trace.emit(E.kvm_set_spte, vcpu.id, vcpu.line, vcpu.clock, gfn, lo, hi, 1);
    }
    // A write to a write-protected guest table is emulated whether or not its SPTE changed.
    if (!speculative) noteFault(kvm, vcpu, ret && write ? CLASS_WP_EMULATE : unchanged ? CLASS_SPURIOUS : CLASS_MAP);
    let emulate = 0;
    if (ret) {
      if (write) emulate = 1;
      kvm.stats[S.tlb_flush]!++; // kvm_mmu_flush_tlb
    }
    if (fmt.isShadowPresent(lo, hi)) {
      kvm.gfnToMemslot(vcpu, gfn); // page_header_update_slot -> memslot_id
      if (!wasRmapped) {
        const g = kvm.sp.gfns[sp];
        if (g) g[index] = gfn; // kvm_mmu_page_set_gfn
        kvm.rmap.add(vcpu, gfn, word);
      }
    }
    return emulate;
  }

  /** FNAME(pte_prefetch): map up to 8 neighbouring guest PTEs speculatively (level-1 pages only). */
  private ptePrefetch(vcpu: Vcpu, table: number, index: number): void {
    const kvm = this.kvm;
    const sp = kvm.sp.idOfPfn(table);
    if (kvm.sp.level(sp) !== 1) return;
    const w = this.walker.walker;
    if (kvm.sp.isDirect(sp)) return; // __direct_pte_prefetch: not modelled (see docs/decisions.md)
    const start = index - (index % PTE_PREFETCH_NUM);
    const gptTable = w.pteGpa[1]! - (w.pteGpa[1]! % 4096);
    const gptGfn = Math.floor(gptTable / 4096);
    const tslot = kvm.gfnToMemslot(vcpu, gptGfn); // kvm_read_guest_atomic of the 8 gPTEs
    if (tslot === null) return;
    const gptPfn = kvm.slotPfn(vcpu, tslot, gptGfn);
    for (let i = start; i < start + PTE_PREFETCH_NUM; i++) {
      if (i === index) continue;
      const sw = kvm.host.entryWord(table, i);
      const slo = kvm.host.words[sw]!;
      const shi = kvm.host.words[sw + 1]!;
      if (kvm.fmt.isShadowPresent(slo, shi)) continue;
      kvm.host.read(gptPfn, i * 8, 8);
      const glo = kvm.host.lo;
      const ghi = kvm.host.hi;
      // FNAME(prefetch_invalid_gpte): not present, reserved bits or not accessed: skip.
      if ((glo & PT_PRESENT_MASK) === 0 || (glo & PT_ACCESSED_MASK) === 0 || w.reserved(glo, ghi, 1, true, vcpu.nx)) continue;
      const gfn = frameOf(glo, ghi);
      const slot = kvm.gfnToMemslot(vcpu, gfn); // gfn_to_pfn_atomic
      if (slot === null) continue;
      const pfn = slot.pfnOf(gfn);
      if (pfn === 0) continue; // atomic: a page not yet faulted in is not prefetched
      const access = kvm.sp.roleAccess(sp) & gpteAccess(glo, ghi, vcpu.nx);
      this.mmuSetSpte(vcpu, sw, table, i, access, false, false, (glo & PT_DIRTY_MASK) !== 0, gfn, pfn, false, true);
    }
  }

  /**
   * kvm_mmu_get_page for the shadow MMU: a new indirect page write-protects its guest table
   * (rmap_write_protect, then a remote flush if anything changed) and accounts it
   * (account_shadowed: a memslot lookup); v3.0 fills it with trap/notrap values (prefetch_page).
   */
  getShadowPage(vcpu: Vcpu, gfn: number, role: number, parentWord: number): number {
    const kvm = this.kvm;
    const before = kvm.stats[S.mmu_cache_miss]!;
    const id = kvm.sp.getPage(vcpu.id, gfn, role, parentWord);
    if (kvm.stats[S.mmu_cache_miss] === before) return id; // found in the hash
    if ((role & ROLE_DIRECT) === 0) {
      if (kvm.rmap.writeProtect(vcpu, gfn)) kvm.flushRemoteTlbs(vcpu);
      kvm.gfnToMemslot(vcpu, gfn); // account_shadowed
    }
    if (kvm.bypassGuestPf) this.prefetchPage(vcpu, id, gfn, (role & ROLE_DIRECT) !== 0);
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
      kvm.host.words[base + 2 * i] = trap ? kvm.fmt.trapLo : 0;
      kvm.host.words[base + 2 * i + 1] = trap ? kvm.fmt.trapHi : 0;
    }
  }

  /**
   * FNAME(invlpg): drop the leaf SPTE that maps `vpn` (and flush), clear the MMIO info for it. The
   * guest's INVLPG exits under shadow paging (INVLPG exiting is on without EPT).
   */
  invlpg(vcpu: Vcpu, vpn: number): void {
    const kvm = this.kvm;
    const host = kvm.host;
    vcpuClearMmioInfo(vcpu, vpn);
    kvm.acct.charge(vcpu, C.mmu_lock, kvm.cost.mmu_lock);
    let table = kvm.sp.pfn[vcpu.root]!;
    for (let level = 4; level >= 1; level--) {
      const sw = host.entryWord(table, indexOfVpn(vpn, level));
      const lo = host.words[sw]!;
      const hi = host.words[sw + 1]!;
      if (level === 1) {
        if (kvm.fmt.isShadowPresent(lo, hi)) {
          const sp = kvm.sp.idOfPfn(table);
          kvm.rmap.remove(vcpu, kvm.sp.leafGfn(sp, indexOfVpn(vpn, 1)), sw);
          kvm.clearSpte(sw);
          kvm.flushRemoteTlbs(vcpu);
        } else if (kvm.fmt.isMmioSpte(lo, hi)) kvm.clearSpte(sw);
        return;
      }
      if (!kvm.fmt.isShadowPresent(lo, hi)) return;
      table = frameOf(lo, hi);
    }
  }
}
