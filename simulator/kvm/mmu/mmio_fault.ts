// The 2011 series' MMIO fault handler (3.1.10 mmu.c, docs/kernel-paths.md §4.3):
//
//   handle_mmio_page_fault_common(vcpu, addr, direct):
//     if (quickly_check_mmio_pf(vcpu, addr, direct)) return 1;        // per-vCPU cache, no walk
//     spte = walk_shadow_page_get_mmio_spte(vcpu, addr);              // lockless walk
//     if (is_mmio_spte(spte)) { ...; vcpu_cache_mmio_info(...); return 1; }
//     if (direct && !check_direct_spte_mmio_pf(spte)) return -1;      // neither MMIO nor zapped: bug
//     return 0;                                                       // zapped meanwhile: retry
//
// The lockless walk reads each SPTE once, without mmu_lock, inside rcu_read_lock() plus
// kvm->arch.reader_counter, which keeps zapped shadow pages from being freed under it.

import { F } from '../kernel_functions';
import type { Kvm } from '../kvm';
import type { Vcpu } from '../vcpu';
import { C } from '../../cost/accounting';
import { E } from '../../trace/events';
import { S } from '../../trace/stats';
import { indexOfVpn } from '../../arch/x86/paging';
import { frameOf, vaHi, vaLo } from '../../arch/x86/u64';
import { quicklyCheckMmioPf, vcpuCacheMmioInfo } from '../x86/mmio_cache';
import { RACE_LOCKLESS_BEGIN, RACE_LOCKLESS_END, RACE_SPTE_LOAD } from '../races';
import { noteFault, CLASS_MMIO_BUG, CLASS_MMIO_CACHE, CLASS_MMIO_FAST, CLASS_MMIO_RETRY } from '../fault_class';

/** The SPTE a lockless walk returned, and the level it was read at (one per VM, reused). */
export class LocklessResult {
  lo = 0;
  hi = 0;
  level = 0;
}

/** `page` is the faulting address's page: the gfn for a direct MMU (EPT), the GVA's vpn for shadow
 *  paging. (The page offset plays no part in the handler.) */
export function handleMmioPageFaultCommon(kvm: Kvm, vcpu: Vcpu, page: number, direct: boolean, offset = 0): number {
  vcpu.path.enter(F.handle_mmio_page_fault_common);
  const r = handleMmioPageFaultCommonInner(kvm, vcpu, page, direct, offset);
  vcpu.path.leave();
  return r;
}

function handleMmioPageFaultCommonInner(kvm: Kvm, vcpu: Vcpu, page: number, direct: boolean, offset: number): number {
  if (quicklyCheckMmioPf(kvm, vcpu, page, direct)) {
    noteFault(kvm, vcpu, CLASS_MMIO_CACHE);
    return 1;
  }
  const last = walkShadowPageGetMmioSpte(kvm, vcpu, page);
  if (kvm.fmt.isMmioSpte(last.lo, last.hi)) {
    const gfn = kvm.fmt.mmioGfn(last.lo, last.hi);
    const access = kvm.fmt.mmioAccess(last.lo);
    const vpn = direct ? 0 : page; // if (direct) addr = 0
    // trace_handle_mmio_page_fault(addr, gfn, access): the whole faulting address (cr2) under shadow paging.
    const tr = kvm.trace, args = tr.args, at = tr.at;
    args[at] = vaLo(vpn, direct ? 0 : offset);
    args[at + 1] = vaHi(vpn);
    args[at + 2] = gfn;
    args[at + 3] = access;
    tr.emit(E.handle_mmio_page_fault, vcpu, vcpu.line);
    vcpuCacheMmioInfo(kvm, vcpu, vpn, gfn, access);
    noteFault(kvm, vcpu, CLASS_MMIO_FAST);
    return 1;
  }
  // check_direct_spte_mmio_pf (64-bit host): only a zapped SPTE (0) is a valid reason to miss.
  if (direct && (last.lo !== 0 || last.hi !== 0)) {
    noteFault(kvm, vcpu, CLASS_MMIO_BUG);
    return -1;
  }
  kvm.stats[S.mmio_retries]!++;
  noteFault(kvm, vcpu, CLASS_MMIO_RETRY);
  return 0;
}

/** handle_mmio_page_fault: the common handler, with WARN_ON(r < 0). */
export function handleMmioPageFault(kvm: Kvm, vcpu: Vcpu, page: number, direct: boolean, offset = 0): number {
  vcpu.path.enter(F.handle_mmio_page_fault);
  const r = handleMmioPageFaultCommon(kvm, vcpu, page, direct, offset);
  vcpu.path.leave();
  if (r < 0) kvm.warn(vcpu, `WARN_ON(r < 0) in handle_mmio_page_fault, page 0x${page.toString(16)}`);
  return r;
}

/**
 * walk_shadow_page_get_mmio_spte: descend from the root reading each SPTE once, stop at the first
 * one that is not shadow-present, and return it (the leaf, or the non-present entry on the way).
 * `page` indexes the tables: a gfn under EPT, a GVA's vpn under shadow paging.
 */
export function walkShadowPageGetMmioSpte(kvm: Kvm, vcpu: Vcpu, page: number): LocklessResult {
  const host = kvm.host;
  const gfn = page;
  kvm.stats[S.lockless_walks]!++;
  vcpu.path.enter(F.walk_shadow_page_get_mmio_spte);
  lockless_begin(kvm, vcpu);
  kvm.races.point(vcpu, RACE_LOCKLESS_BEGIN, 0);
  let table = kvm.sp.pfn[vcpu.root]!;
  let lo = 0;
  let hi = 0;
  let level = 4;
  for (; level >= 1; level--) {
    if (!host.isLive(table)) kvm.warn(vcpu, `BUG: lockless walk read host pfn 0x${table.toString(16)} after it was freed`);
    const w = host.entryWord(table, indexOfVpn(gfn, level));
    lo = host.words[w]!; // mmu_spte_get_lockless(): one plain 64-bit load
    hi = host.words[w + 1]!;
    kvm.acct.charge(vcpu, C.lockless_walk, kvm.cost.lockless_spte_read);
    const tr = kvm.trace, args = tr.args, at = tr.at;
    args[at] = lo;
    args[at + 1] = hi;
    args[at + 2] = level;
    tr.emit(E.lockless_spte, vcpu, vcpu.line);
    kvm.races.point(vcpu, RACE_SPTE_LOAD, level);
    if (!kvm.fmt.isShadowPresent(lo, hi) || level === 1) break; // is_last_spte for direct 4K maps
    table = frameOf(lo, hi);
  }
  kvm.races.point(vcpu, RACE_LOCKLESS_END, 0);
  lockless_end(kvm, vcpu);
  vcpu.path.leave();
  const last = kvm.lockless;
  last.lo = lo;
  last.hi = hi;
  last.level = level;
  return last;
}

/** walk_shadow_page_lockless_begin (2011): rcu_read_lock(); atomic_inc(&kvm->arch.reader_counter); smp_mb(). */
function lockless_begin(kvm: Kvm, vcpu: Vcpu): void {
  kvm.readerCounter++;
  kvm.acct.charge(vcpu, C.lockless_walk, kvm.cost.lockless_walk_setup);
}

/** walk_shadow_page_lockless_end (2011): smp_mb(); atomic_dec(reader_counter); rcu_read_unlock().
 *  When the last reader leaves, the grace period can end and free_pages_rcu runs. */
function lockless_end(kvm: Kvm, vcpu: Vcpu): void {
  kvm.readerCounter--;
  if (kvm.readerCounter === 0 && kvm.rcuPending.length > 0) kvm.sp.freeAfterGracePeriod();
  void vcpu;
}
