// kvm_mmu_pte_write (mmu.c, 3.0.1 / 3.1): the emulator wrote `bytes` at `gpa` in guest RAM
// (emulator_write_phys, guest_initiated = 1), or FNAME(invlpg) asks for an unsync leaf's guest PTE
// to be re-read (new = NULL: kvm_read_guest, guest_initiated = 0). If that frame is a guest page
// table KVM shadows, every valid shadow page of it loses the affected SPTE (mmu_page_zap_pte; 3.0's
// mmu_pte_write_zap_pte leaves the trap value) and, when the new gPTE is not zero and the page's
// role matches the vCPU's mode, gets it back at once (mmu_pte_write_new_pte: a last-level page
// counts mmu_pte_updated and runs FNAME(update_pte), an upper level counts mmu_pde_zapped). A
// misaligned write, or one narrower than 4 bytes, zaps the whole page (++mmu_flooded). Then
// mmu_pte_write_flush_tlb: nothing if a page was zapped, else a remote flush if an SPTE lost
// permissions (need_remote_flush), else a local one (kvm_mmu_flush_tlb).
// A guest-initiated write also feeds the fork detector: three writes in a row to one table, with
// the SPTE last mapped speculatively not used in between, flood it (the page is zapped, so a table
// that is being rewritten wholesale, as fork and exit do, stops being write-protected).

import { F } from '../kernel_functions';
import type { Kvm } from '../kvm';
import type { Vcpu } from '../vcpu';
import type { ShadowMmu } from './shadow';
import { C } from '../../cost/accounting';
import { S } from '../../trace/stats';
import { PT64_NX_MASK_HI, PT_ACCESSED_MASK, PT_USER_MASK, PT_WRITABLE_MASK } from '../../arch/x86/paging';
import { frameOf } from '../../arch/x86/u64';
import { ROLE_CR0_WP, ROLE_NXE } from './shadow_pages';

const ROLE_CR4_PAE = 1 << 4;

export function kvmMmuPteWrite(kvm: Kvm, mmu: ShadowMmu | null, vcpu: Vcpu, gpa: number, bytes: number, guestInitiated: boolean): void {
  vcpu.path.enter(F.kvm_mmu_pte_write);
  kvmMmuPteWriteInner(kvm, mmu, vcpu, gpa, bytes, guestInitiated);
  vcpu.path.leave();
}

function kvmMmuPteWriteInner(kvm: Kvm, mmu: ShadowMmu | null, vcpu: Vcpu, gpa: number, bytes: number, guestInitiated: boolean): void {
  // 3.1: "If we don't have indirect shadow pages, it means no page is write-protected, so we can
  // exit simply." 3.0.1 has no such test: every emulated RAM write takes mmu_lock and counts.
  if (kvm.kernel !== 'v3.0' && kvm.sp.indirectCount === 0) return;
  const gfn = Math.floor(gpa / 4096);
  const offset = gpa % 4096; // offset_in_page(gpa), taken before the realignment below
  const index = offset >>> 3;
  // `if ((is_pae(vcpu) && bytes == 4) || !new)`: a 4-byte write (the guest is in long mode, so PAE)
  // or FNAME(invlpg)'s NULL reads the whole gPTE back with kvm_read_guest (a lookup; a failed read
  // gives 0) and continues with bytes = 8; an 8-byte write brings its value (`new`); other sizes
  // give gentry 0 (`switch (bytes)`).
  let glo = 0;
  let ghi = 0;
  const reread = bytes === 4 || !guestInitiated;
  if (reread) bytes = 8;
  if (bytes === 8) {
    // kvm_read_guest is a lookup; an 8-byte write's value is what the emulator just stored there.
    const slot = reread ? kvm.gfnToMemslot(vcpu, gfn) : kvm.memslots.find(gfn);
    if (slot !== null) {
      kvm.host.read(kvm.slotPfn(vcpu, slot, gfn), index * 8, 8);
      glo = kvm.host.lo;
      ghi = kvm.host.hi;
    }
  }
  const gentry = glo !== 0 || ghi !== 0;
  kvm.acct.charge(vcpu, C.mmu_lock, kvm.cost.mmu_lock);
  kvm.sp.freeSomePages(vcpu.id); // kvm_mmu_free_some_pages
  kvm.stats[S.mmu_pte_write]!++;
  let flooded = false;
  if (guestInitiated) {
    kvmMmuAccessPage(kvm, vcpu, gfn);
    if (gfn === vcpu.lastPtWriteGfn && !lastUpdatedPteAccessed(kvm, vcpu)) {
      if (++vcpu.lastPtWriteCount >= 3) flooded = true;
    } else {
      vcpu.lastPtWriteGfn = gfn;
      vcpu.lastPtWriteCount = 1;
      vcpu.lastPteUpdated = -1;
    }
  }
  const roleMask = ROLE_CR0_WP | ROLE_CR4_PAE | ROLE_NXE;
  const baseRole = ROLE_CR4_PAE | (vcpu.nx ? ROLE_NXE : 0) | (vcpu.cr0Wp ? ROLE_CR0_WP : 0);
  const invalid: number[] = [];
  let zapPage = false;
  let remoteFlush = false;
  let localFlush = false;
  const misaligned = ((offset ^ (offset + bytes - 1)) & ~7) !== 0 || bytes < 4;
  for (const id of mmu === null ? [] : kvm.sp.indirectOf(gfn)) {
    if (misaligned || flooded) {
      const before = invalid.length;
      kvm.sp.prepareZap(vcpu.id, id, invalid);
      zapPage ||= invalid.length > before;
      kvm.stats[S.mmu_flooded]!++;
      continue;
    }
    localFlush = true;
    const word = kvm.host.entryWord(kvm.sp.pfn[id]!, index);
    const oldLo = kvm.host.words[word]!;
    const oldHi = kvm.host.words[word + 1]!;
    kvm.sp.zapPte(vcpu.id, id, index); // mmu_page_zap_pte
    // 3.0.1's mmu_pte_write_zap_pte ends `__set_spte(spte, shadow_trap_nonpresent_pte);` whatever the
    // entry held, so even a notrap entry becomes trap (with bypass_guest_pf; 0 otherwise).
    if (kvm.kernel === 'v3.0') kvm.clearSpte(word);
    if (gentry && ((kvm.sp.role[id]! ^ baseRole) & roleMask) === 0) {
      if (kvm.sp.level(id) !== 1) kvm.stats[S.mmu_pde_zapped]!++;
      else {
        kvm.stats[S.mmu_pte_updated]!++;
        mmu!.updatePte(vcpu, id, index, glo, ghi);
      }
    }
    if (!remoteFlush && needRemoteFlush(kvm, oldLo, oldHi, kvm.host.words[word]!, kvm.host.words[word + 1]!)) remoteFlush = true;
  }
  // mmu_pte_write_flush_tlb
  if (!zapPage) {
    if (remoteFlush) kvm.flushRemoteTlbs(vcpu);
    else if (localFlush) kvm.mmuFlushTlb(vcpu); // §19.6: mmu_pte_write_flush_tlb
  }
  kvm.sp.commitZap(vcpu.id, invalid);
}

/** kvm_mmu_access_page: the write is to the gfn the last speculative SPTE maps: count it as used. */
function kvmMmuAccessPage(kvm: Kvm, vcpu: Vcpu, gfn: number): void {
  const w = vcpu.lastPteUpdated;
  if (w < 0 || vcpu.lastPteGfn !== gfn) return;
  const words = kvm.host.words;
  if ((words[w]! & PT_ACCESSED_MASK) === 0 && kvm.fmt.isShadowPresent(words[w]!, words[w + 1]!)) kvm.host.store(w, (words[w]! | PT_ACCESSED_MASK) >>> 0, words[w + 1]!);
}

/** last_updated_pte_accessed: `!!(spte && (*spte & shadow_accessed_mask))`. */
function lastUpdatedPteAccessed(kvm: Kvm, vcpu: Vcpu): boolean {
  return vcpu.lastPteUpdated >= 0 && (kvm.host.words[vcpu.lastPteUpdated]! & PT_ACCESSED_MASK) !== 0;
}

/** need_remote_flush(old, new): a present SPTE went away, moved, or lost a permission. */
function needRemoteFlush(kvm: Kvm, oldLo: number, oldHi: number, newLo: number, newHi: number): boolean {
  if (!kvm.fmt.isShadowPresent(oldLo, oldHi)) return false;
  if (!kvm.fmt.isShadowPresent(newLo, newHi)) return true;
  if (frameOf(oldLo, oldHi) !== frameOf(newLo, newHi)) return true;
  // old ^= PT64_NX_MASK; new ^= PT64_NX_MASK; return (old & ~new & PT64_PERM_MASK) != 0;
  const permLo = PT_WRITABLE_MASK | PT_USER_MASK | 1;
  if ((oldLo & ~newLo & permLo) !== 0) return true;
  return ((oldHi ^ PT64_NX_MASK_HI) & ~(newHi ^ PT64_NX_MASK_HI) & PT64_NX_MASK_HI) !== 0;
}
