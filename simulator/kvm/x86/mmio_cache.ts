// The per-vCPU MMIO info cache of the 2011 series (3.1.10 arch/x86/kvm/x86.h, docs/kernel-paths.md §7):
//   vcpu_cache_mmio_info(gva, gfn, access): mmio_gva = gva & PAGE_MASK; access; mmio_gfn = gfn
//   vcpu_clear_mmio_info(gva): if (gva != ~0 && mmio_gva != (gva & PAGE_MASK)) return; mmio_gva = 0
//   vcpu_match_mmio_gva(gva): mmio_gva && mmio_gva == (gva & PAGE_MASK)
//   vcpu_match_mmio_gpa(gpa): mmio_gfn && mmio_gfn == gpa >> PAGE_SHIFT
// Quirks kept on purpose: page 0 never matches (0 means empty); clearing resets only mmio_gva, so
// mmio_gfn still matches by GPA; direct MMUs (EPT) cache gva 0, so only GPA matches work for them;
// there is no generation, so a memslot created over a cached gfn does not invalidate the entry.

import { F } from '../kernel_functions';
import type { Kvm } from '../kvm';
import type { Vcpu } from '../vcpu';
import { C } from '../../cost/accounting';
import { S } from '../../trace/stats';

/** vcpu_cache_mmio_info, with the GVA as a page number (0 for a direct MMU, which caches gva 0). */
export function vcpuCacheMmioInfo(kvm: Kvm, vcpu: Vcpu, gvaVpn: number, gfn: number, access: number): void {
  vcpu.mmioGvaVpn = gvaVpn;
  vcpu.mmioGfn = gfn;
  vcpu.mmioAccess = access;
  kvm.stats[S.mmio_cache_fills]!++;
  kvm.acct.chargeAt(vcpu, C.mmio_cache, kvm.cost.mmio_cache_op, vcpu.path.at(F.vcpu_cache_mmio_info));
}

/** vcpu_match_mmio_gpa, for a guest frame number. */
export function vcpuMatchMmioGpa(kvm: Kvm, vcpu: Vcpu, gfn: number): boolean {
  kvm.acct.chargeAt(vcpu, C.mmio_cache, kvm.cost.mmio_cache_op, vcpu.path.at(F.vcpu_match_mmio_gpa));
  const hit = vcpu.mmioGfn !== 0 && vcpu.mmioGfn === gfn;
  if (hit) kvm.stats[S.mmio_cache_hits]!++;
  return hit;
}

/** vcpu_match_mmio_gva, for a virtual page number. */
export function vcpuMatchMmioGva(kvm: Kvm, vcpu: Vcpu, vpn: number): boolean {
  kvm.acct.chargeAt(vcpu, C.mmio_cache, kvm.cost.mmio_cache_op, vcpu.path.at(F.vcpu_match_mmio_gva));
  const hit = vcpu.mmioGvaVpn !== 0 && vcpu.mmioGvaVpn === vpn;
  if (hit) kvm.stats[S.mmio_cache_hits]!++;
  return hit;
}

/** quickly_check_mmio_pf: direct MMUs match by GPA, shadow paging by GVA (`page` is the gfn or the vpn). */
export function quicklyCheckMmioPf(kvm: Kvm, vcpu: Vcpu, page: number, direct: boolean): boolean {
  vcpu.path.enter(F.quickly_check_mmio_pf);
  const hit = direct ? vcpuMatchMmioGpa(kvm, vcpu, page) : vcpuMatchMmioGva(kvm, vcpu, page);
  vcpu.path.leave();
  return hit;
}

/** vcpu_clear_mmio_info(vcpu, gva): ~0 (no `vpn`) clears whatever is cached, as mmu_sync_roots and
 *  CR3 switches do; INVLPG clears only a matching page. Only mmio_gva is reset: mmio_gfn survives. */
export function vcpuClearMmioInfo(vcpu: Vcpu, vpn = -1): void {
  if (vpn !== -1 && vcpu.mmioGvaVpn !== vpn) return;
  vcpu.mmioGvaVpn = 0;
}
