// kvm_mmu_pte_write (mmu.c, 3.x): the emulator wrote `bytes` at `gpa` in guest RAM; if that frame is
// a guest page table KVM shadows, every shadow page of it loses the affected SPTE (mmu_page_zap_pte)
// and, for a last-level page whose role matches, gets it back from the new guest entry at once
// (mmu_pte_write_new_pte -> FNAME(update_pte), ++mmu_pte_updated; an upper level counts
// mmu_pde_zapped). A write that is misaligned or narrower than 4 bytes zaps the whole page
// (++mmu_flooded). The 3-writes flood heuristic (last_pt_write_gfn) is not modelled.

import type { Kvm } from '../kvm';
import type { Vcpu } from '../vcpu';
import type { ShadowMmu } from './shadow';
import { C } from '../../cost/accounting';
import { S } from '../../trace/stats';
import { PT_ACCESSED_MASK, PT_DIRTY_MASK, PT_PRESENT_MASK } from '../../arch/x86/paging';
import { frameOf } from '../../arch/x86/u64';
import { gpteAccess } from '../../arch/x86/walker';

export function kvmMmuPteWrite(kvm: Kvm, mmu: ShadowMmu | null, vcpu: Vcpu, gpa: number, bytes: number): void {
  if (kvm.sp.indirectCount === 0 || mmu === null) return; // no write-protected page: nothing to do
  const gfn = Math.floor(gpa / 4096);
  const offset = gpa % 4096;
  const pages = kvm.sp.indirectOf(gfn);
  if (pages.length === 0) return;
  kvm.acct.charge(vcpu, C.mmu_lock, kvm.cost.mmu_lock);
  kvm.stats[S.mmu_pte_write]!++;
  // The new guest entry, as the emulator just wrote it.
  const slot = kvm.gfnToMemslot(vcpu, gfn);
  const gptPfn = slot === null ? 0 : kvm.slotPfn(vcpu, slot, gfn);
  const index = offset >>> 3;
  kvm.host.read(gptPfn, index * 8, 8);
  const glo = kvm.host.lo;
  const ghi = kvm.host.hi;
  const invalid: number[] = [];
  let flush = false;
  for (const id of pages) {
    const misaligned = ((offset ^ (offset + bytes - 1)) & ~7) !== 0 || bytes < 4;
    if (misaligned) {
      kvm.sp.prepareZap(vcpu.id, id, invalid);
      kvm.stats[S.mmu_flooded]!++;
      continue;
    }
    const word = kvm.host.entryWord(kvm.sp.pfn[id]!, index);
    const wasPresent = kvm.fmt.isShadowPresent(kvm.host.words[word]!, kvm.host.words[word + 1]!);
    kvm.sp.zapPte(vcpu.id, id, index); // mmu_page_zap_pte
    if (wasPresent) flush = true;
    if (kvm.sp.level(id) !== 1) {
      kvm.stats[S.mmu_pde_zapped]!++;
      continue;
    }
    kvm.stats[S.mmu_pte_updated]!++;
    // FNAME(update_pte): skip an entry that is not present, not accessed or has reserved bits
    // (prefetch_invalid_gpte), then map it speculatively if its page is already there.
    if ((glo & PT_PRESENT_MASK) === 0 || (glo & PT_ACCESSED_MASK) === 0) continue;
    const tgfn = frameOf(glo, ghi);
    const tslot = kvm.gfnToMemslot(vcpu, tgfn); // gfn_to_pfn_atomic
    if (tslot === null || tslot.pfnOf(tgfn) === 0) continue;
    const access = kvm.sp.roleAccess(id) & gpteAccess(glo, ghi, vcpu.nx);
    mmu.mmuSetSpte(vcpu, word, kvm.sp.pfn[id]!, index, access, false, false, (glo & PT_DIRTY_MASK) !== 0, tgfn, tslot.pfnOf(tgfn), false, true);
  }
  if (flush && invalid.length === 0) kvm.flushRemoteTlbs(vcpu);
  kvm.sp.commitZap(vcpu.id, invalid);
}
