// KVM's TDP (EPT) fault path of the 3.0/3.1 kernels: tdp_page_fault -> __direct_map, and the
// direct roots (mmu_alloc_direct_roots, mmu_free_roots). Every step names the kernel function it
// models; memslot lookups happen exactly where the kernel calls gfn_to_memslot (docs/kernel-paths.md).

import { F } from '../kernel_functions';
import type { Kvm } from '../kvm';
import type { Vcpu } from '../vcpu';
import { C } from '../../cost/accounting';
import { E } from '../../trace/events';
import { S } from '../../trace/stats';
import { ACC_ALL, PFERR_RSVD_MASK, indexOfVpn } from '../../arch/x86/paging';
import { frameOf, frameHi } from '../../arch/x86/u64';
import { ROLE_ACCESS_SHIFT, ROLE_DIRECT } from './shadow_pages';
import { handleMmioPageFault } from './mmio_fault';
import { vcpuCacheMmioInfo } from '../x86/mmio_cache';
import { RACE_MMU_LOCK } from '../races';
import { noteFault, CLASS_MAP, CLASS_MMIO_SLOW, CLASS_SPURIOUS } from '../fault_class';

/** Role of a direct page at `level` under TDP: level, direct, access ACC_ALL. */
export function tdpRole(level: number): number {
  return level | ROLE_DIRECT | (ACC_ALL << ROLE_ACCESS_SHIFT);
}

/** kvm_mmu_load -> mmu_alloc_direct_roots: the vCPU's root is the level-4 direct page for gfn 0. */
export function mmuLoad(kvm: Kvm, vcpu: Vcpu): void {
  if (vcpu.reloadRequested) {
    vcpu.reloadRequested = false;
    mmuUnload(kvm, vcpu);
  }
  if (vcpu.root >= 0) return;
  vcpu.path.enter(F.kvm_mmu_load);
  kvm.sp.freeSomePages(vcpu.id); // mmu_alloc_direct_roots: kvm_mmu_free_some_pages
  const id = kvm.sp.getPage(vcpu.id, 0, tdpRole(4), -1);
  kvm.sp.rootCount[id]!++;
  vcpu.root = id;
  kvm.vmxFlushTlb(vcpu); // §19.7: kvm_mmu_load -> set_cr3 = vmx_set_cr3 -> vmx_flush_tlb
  vcpu.path.leave();
}

/** kvm_mmu_unload -> mmu_free_roots. */
export function mmuUnload(kvm: Kvm, vcpu: Vcpu): void {
  if (vcpu.root < 0) return;
  const id = vcpu.root;
  vcpu.root = -1;
  kvm.sp.putRoot(vcpu.id, id);
}

/**
 * tdp_page_fault(vcpu, gpa, error_code): 1 = emulate, 0 = resume the guest, -1 = error.
 * For a gfn no memslot holds: v3.0 returns kvm_handle_bad_page() = 1 without touching the SPTE;
 * v3.1 caches the MMIO info and installs an MMIO SPTE through __direct_map.
 */
export function tdpPageFault(kvm: Kvm, vcpu: Vcpu, gpa: number, errorCode: number): number {
  vcpu.path.enter(F.tdp_page_fault);
  const r = tdpPageFaultInner(kvm, vcpu, gpa, errorCode);
  vcpu.path.leave();
  return r;
}

function tdpPageFaultInner(kvm: Kvm, vcpu: Vcpu, gpa: number, errorCode: number): number {
  if (kvm.kernel !== 'v3.0' && (errorCode & PFERR_RSVD_MASK) !== 0) return handleMmioPageFault(kvm, vcpu, Math.floor(gpa / 4096), true);
  const gfn = Math.floor(gpa / 4096);
  // force_pt_level = mapping_level_dirty_bitmap(): `return !gfn_to_memslot_dirty_bitmap(vcpu,
  // large_gfn, true);` in both eras (3.0.1 and 3.1.10 mmu.c): a gfn without a usable slot (MMIO, or a
  // slot being deleted) forces 4K and skips mapping_level; RAM without dirty logging does not.
  vcpu.path.enter(F.mapping_level_dirty_bitmap);
  const forcePtLevel = kvm.gfnToMemslot(vcpu, gfn) === null;
  vcpu.path.leave();
  // mapping_level() -> host_mapping_level() -> kvm_host_page_size() -> gfn_to_hva(): host pages
  // are 4K here, so it returns PT_PAGE_TABLE_LEVEL without probing large pages.
  if (!forcePtLevel) {
    vcpu.path.enter(F.mapping_level);
    kvm.gfnToMemslot(vcpu, gfn);
    vcpu.path.leave();
  }
  // try_async_pf() -> gfn_to_pfn_async() -> gfn_to_hva() -> hva_to_pfn().
  vcpu.path.enter(F.try_async_pf);
  const slot = kvm.gfnToMemslot(vcpu, gfn);
  const pfn = slot === null ? 0 : kvm.slotPfn(vcpu, slot, gfn);
  vcpu.path.leave();
  if (slot === null) {
    if (!kvm.mmioSptesEnabled) {
      // v3.0 (no MMIO SPTE format) or 3.1 with caching off: kvm_handle_bad_page(): the error pfn of
      // a gfn without a slot means "emulate".
      if (kvm.kernel !== 'v3.0') vcpuCacheMmioInfo(kvm, vcpu, 0, gfn, ACC_ALL);
      noteFault(kvm, vcpu, CLASS_MMIO_SLOW);
      return 1;
    }
    // handle_abnormal_pfn(): a no-slot pfn caches the MMIO info (gva 0: a direct MMU) and goes on.
    vcpuCacheMmioInfo(kvm, vcpu, 0, gfn, ACC_ALL);
  }
  kvm.races.point(vcpu, RACE_MMU_LOCK, 0);
  kvm.acct.charge(vcpu, C.mmu_lock, kvm.cost.mmu_lock); // spin_lock(&kvm->mmu_lock) ... spin_unlock
  kvm.sp.freeSomePages(vcpu.id); // kvm_mmu_free_some_pages
  return directMap(kvm, vcpu, gfn, pfn, slot === null);
}

/**
 * __direct_map: walk from the root, creating missing direct pages (kvm_mmu_get_page + a non-leaf
 * SPTE), then mmu_set_spte at level 1. Returns `emulate`: 1 when the leaf became an MMIO SPTE.
 */
function directMap(kvm: Kvm, vcpu: Vcpu, gfn: number, pfn: number, noslot: boolean): number {
  vcpu.path.enter(F.__direct_map);
  const r = directMapInner(kvm, vcpu, gfn, pfn, noslot);
  vcpu.path.leave();
  return r;
}

function directMapInner(kvm: Kvm, vcpu: Vcpu, gfn: number, pfn: number, noslot: boolean): number {
  const host = kvm.host;
  const sp = kvm.sp;
  let table = sp.pfn[vcpu.root]!;
  for (let level = 4; level >= 2; level--) {
    const w = host.entryWord(table, indexOfVpn(gfn, level));
    const lo = host.words[w]!;
    const hi = host.words[w + 1]!;
    if (kvm.fmt.isShadowPresent(lo, hi)) {
      table = frameOf(lo, hi);
      continue;
    }
    const pseudoGfn = gfn - (gfn % 2 ** (9 * (level - 1)));
    const child = sp.getPage(vcpu.id, pseudoGfn, tdpRole(level - 1), w);
    const cpfn = sp.pfn[child]!;
    kvm.setSpte(vcpu, w, kvm.fmt.eptNonLeafLo(cpfn), frameHi(cpfn));
    table = cpfn;
  }
  const index = indexOfVpn(gfn, 1);
  const w = host.entryWord(table, index);
  let emulate = 0;
  // mmu_set_spte: a present leaf for another pfn (or one an MMIO SPTE replaces: a slot being deleted)
  // is dropped first (`drop_spte(); kvm_flush_remote_tlbs();`); one for this pfn stays rmapped.
  vcpu.path.enter(F.mmu_set_spte);
  const oldLo = host.words[w]!;
  const oldHi = host.words[w + 1]!;
  let wasRmapped = false;
  if (kvm.fmt.isShadowPresent(oldLo, oldHi)) {
    if (noslot || frameOf(oldLo, oldHi) !== pfn) {
      kvm.rmap.remove(vcpu, gfn, w);
      kvm.clearSpte(w);
      kvm.flushRemoteTlbs(vcpu);
    } else wasRmapped = true;
  }
  if (noslot) {
    // set_spte() -> set_mmio_spte() -> mark_mmio_spte(): mask | access | gfn << 12.
    kvm.setSpte(vcpu, w, kvm.fmt.mmioLoOf(gfn, ACC_ALL), kvm.fmt.mmioHiOf(gfn));
    kvm.stats[S.mmio_sptes_created]!++;
    const tr = kvm.trace, args = tr.args, at = tr.at;
    args[at] = table * 4096 + index * 8;
    args[at + 1] = gfn;
    args[at + 2] = ACC_ALL & 6;
    tr.emit(E.mark_mmio_spte, vcpu, vcpu.line);
    emulate = 1;
    noteFault(kvm, vcpu, CLASS_MMIO_SLOW);
  } else {
    const lo = kvm.fmt.eptLeafLo(pfn, ACC_ALL);
    const hi = frameHi(pfn);
    // set_spte() -> mark_page_dirty(), then mmu_set_spte(): page_header_update_slot() (memslot_id)
    // and, unless was_rmapped, rmap_add() (gfn_to_rmap): each looks the slot up again.
    kvm.gfnToMemslot(vcpu, gfn);
    kvm.gfnToMemslot(vcpu, gfn);
    if (!wasRmapped) kvm.rmap.add(vcpu, gfn, w);
    // set_spte's mmu_spte_update stores even an unchanged SPTE (no D bit to keep: shadow_dirty_mask is
    // 0 under EPT in 3.x).
    kvm.setSpte(vcpu, w, lo, hi);
    if (oldLo === lo && oldHi === hi) {
      noteFault(kvm, vcpu, CLASS_SPURIOUS); // another vCPU mapped it first
    } else {
      const tr = kvm.trace, args = tr.args, at = tr.at;
      args[at] = gfn;
      args[at + 1] = lo;
      args[at + 2] = hi;
      args[at + 3] = 1;
      tr.emit(E.kvm_set_spte, vcpu, vcpu.line); // a new leaf, or W back
      noteFault(kvm, vcpu, CLASS_MAP);
    }
  }
  vcpu.path.leave(); // mmu_set_spte
  kvm.stats[S.pf_fixed]!++; // __direct_map counts every leaf it sets, MMIO SPTEs included (`++vcpu->stat.pf_fixed;`)
  return emulate;
}
