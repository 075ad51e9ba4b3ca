// KVM's VMX exit handlers for memory faults under EPT (arch/x86/kvm/vmx.c, 3.0.1 and 3.1.10):
//
//   handle_ept_violation: trace_kvm_page_fault(gpa, qual);
//                         kvm_mmu_page_fault(vcpu, gpa, exit_qualification & 0x3, NULL, 0)  (read, write)
//   kvm_mmu_page_fault:   r = tdp_page_fault(); r < 0: error; r == 0: resume;
//                         else x86_emulate_instruction: DONE -> 1; DO_MMIO -> ++mmio_exits, 0; FAIL -> 0
//   handle_ept_misconfig: v3.0: always a real misconfiguration (dump the SPTEs, KVM_EXIT_UNKNOWN).
//                         v3.1: r = handle_mmio_page_fault_common(gpa, direct = true);
//                               1 -> emulate; 0 -> resume (the guest faults again); -1 -> the v3.0 report.
// And without EPT (shadow paging):
//   handle_exception:     a #PF exit: trace_kvm_page_fault(cr2, error_code); kvm_mmu_page_fault(cr2, error_code)
//                         with FNAME(page_fault) as the MMU's handler.
//   handle_cr (CR3 load): kvm_set_cr3 -> the MMU's new_cr3 -> mmu_free_roots; the next entry loads the root.
//   handle_invlpg:        kvm_mmu_invlpg -> FNAME(invlpg); kvm_mmu_flush_tlb; ++invlpg.

import { F } from './kernel_functions';
import type { Kvm } from './kvm';
import type { Vcpu } from './vcpu';
import type { Emulator } from './x86/emulate';
import { EMULATE_DO_MMIO, EMULATE_DONE } from './x86/emulate';
import { tdpPageFault } from './mmu/tdp';
import { handleMmioPageFaultCommon } from './mmu/mmio_fault';
import { shadowMmuUnload, type ShadowMmu } from './mmu/shadow';
import { E } from '../trace/events';
import { S } from '../trace/stats';
import { indexOfVpn } from '../arch/x86/paging';
import { frameOf, vaHi, vaLo } from '../arch/x86/u64';
import { noteFault, CLASS_MMIO_BUG } from './fault_class';

/** handle_ept_violation. Returns the handler's int: 1 = re-enter the guest, 0 = exit to userspace. */
export function handleEptViolation(kvm: Kvm, em: Emulator, vcpu: Vcpu, gpa: number, qual: number): number {
  const errorCode = qual & 0x3; // 3.0.1 and 3.1.10: `exit_qualification & 0x3`
  const tr = kvm.trace, args = tr.args, at = tr.at;
  args[at] = gpa >>> 0;
  args[at + 1] = Math.floor(gpa / 0x100000000);
  args[at + 2] = qual;
  tr.emit(E.kvm_page_fault, vcpu, vcpu.line);
  vcpu.path.enter(F.handle_ept_violation);
  const r = kvmMmuPageFault(kvm, em, vcpu, gpa, errorCode);
  vcpu.path.leave();
  return r;
}

function kvmMmuPageFault(kvm: Kvm, em: Emulator, vcpu: Vcpu, gpa: number, errorCode: number): number {
  vcpu.path.enter(F.kvm_mmu_page_fault);
  const r = afterPageFault(kvm, em, tdpPageFault(kvm, vcpu, gpa, errorCode), vcpu);
  vcpu.path.leave();
  return r;
}

/** The rest of kvm_mmu_page_fault: r < 0 error; r == 0 resume; else emulate, counting mmio_exits. */
function afterPageFault(kvm: Kvm, em: Emulator, r: number, vcpu: Vcpu): number {
  if (r < 0) return r;
  if (r === 0) return 1;
  const er = em.emulate(vcpu);
  if (er === EMULATE_DONE) return 1;
  if (er === EMULATE_DO_MMIO) kvm.stats[S.mmio_exits]!++;
  return 0;
}

/** handle_exception for a #PF exit under shadow paging (cr2 = the faulting GVA as vpn + offset). */
export function handlePageFaultException(kvm: Kvm, em: Emulator, mmu: ShadowMmu, vcpu: Vcpu, vpn: number, offset: number, errorCode: number): number {
  const tr = kvm.trace, args = tr.args, at = tr.at;
  args[at] = vaLo(vpn, offset);
  args[at + 1] = vaHi(vpn);
  args[at + 2] = errorCode;
  tr.emit(E.kvm_page_fault, vcpu, vcpu.line);
  vcpu.path.enter(F.handle_exception);
  vcpu.path.enter(F.kvm_mmu_page_fault);
  const r = afterPageFault(kvm, em, mmu.pageFault(vcpu, vpn, offset, errorCode), vcpu);
  vcpu.path.leave();
  vcpu.path.leave();
  return r;
}

/** handle_cr for MOV to CR3 (shadow paging): kvm_set_cr3. The same CR3 again syncs the roots
 *  (kvm_mmu_sync_roots: the unsync pages below the root are synced) and flushes; a new one must be
 *  in a memslot (gfn_to_memslot), frees the roots (paging_new_cr3 -> mmu_free_roots), and the next
 *  entry loads and syncs the root for it (kvm_mmu_load). */
export function handleCr3Load(kvm: Kvm, mmu: ShadowMmu, vcpu: Vcpu, cr3: number): number {
  vcpu.path.enter(F.handle_cr);
  const r = handleCr3LoadInner(kvm, mmu, vcpu, cr3);
  vcpu.path.leave();
  return r;
}

function handleCr3LoadInner(kvm: Kvm, mmu: ShadowMmu, vcpu: Vcpu, cr3: number): number {
  if (cr3 === vcpu.cr3) {
    mmu.kvmMmuSyncRoots(vcpu);
    kvm.mmuFlushTlb(vcpu); // §19.6: kvm_set_cr3, same CR3
    return 1;
  }
  if (kvm.gfnToMemslot(vcpu, Math.floor(cr3 / 4096)) === null) return 1; // kvm_inject_gp: not modelled
  vcpu.cr3 = cr3;
  shadowMmuUnload(kvm, vcpu);
  return 1;
}

/** handle_invlpg: kvm_mmu_invlpg. */
export function handleInvlpg(kvm: Kvm, mmu: ShadowMmu, vcpu: Vcpu, vpn: number): number {
  vcpu.path.enter(F.handle_invlpg);
  vcpu.path.enter(F.kvm_mmu_invlpg);
  mmu.invlpg(vcpu, vpn);
  vcpu.path.leave();
  vcpu.path.leave();
  kvm.mmuFlushTlb(vcpu); // §19.6: kvm_mmu_invlpg
  kvm.stats[S.invlpg]!++;
  return 1;
}

/** handle_ept_misconfig. */
export function handleEptMisconfig(kvm: Kvm, em: Emulator, vcpu: Vcpu, gpa: number): number {
  vcpu.path.enter(F.handle_ept_misconfig);
  const r = handleEptMisconfigInner(kvm, em, vcpu, gpa);
  vcpu.path.leave();
  return r;
}

function handleEptMisconfigInner(kvm: Kvm, em: Emulator, vcpu: Vcpu, gpa: number): number {
  if (kvm.kernel !== 'v3.0') {
    const r = handleMmioPageFaultCommon(kvm, vcpu, Math.floor(gpa / 4096), true);
    if (r === 1) return em.emulate(vcpu) === EMULATE_DONE ? 1 : 0;
    if (r === 0) return 1;
  }
  // The real misconfiguration: kvm_mmu_get_spte_hierarchy + ept_misconfig_inspect_spte per level.
  noteFault(kvm, vcpu, CLASS_MMIO_BUG);
  const host = kvm.host;
  const gfn = Math.floor(gpa / 4096);
  let table = kvm.sp.pfn[vcpu.root]!;
  for (let level = 4; level >= 1; level--) {
    const w = host.entryWord(table, indexOfVpn(gfn, level));
    const lo = host.words[w]!;
    const hi = host.words[w + 1]!;
    const tr = kvm.trace, args = tr.args, at = tr.at;
    args[at] = lo;
    args[at + 1] = hi;
    args[at + 2] = level;
    tr.emit(E.ept_misconfig_real, vcpu, vcpu.line);
    // kvm_mmu_get_spte_hierarchy: `if (!is_shadow_present_pte(*iterator.sptep)) break;` (3.0.1: not
    // trap/notrap; 3.1.10: `pte & PT_PRESENT_MASK && !is_mmio_spte(pte)`); the iterator ends at level 1.
    if (!kvm.fmt.isShadowPresent(lo, hi)) break;
    table = frameOf(lo, hi);
  }
  kvm.warn(vcpu, `EPT: Misconfiguration at gpa 0x${gpa.toString(16)}: KVM_EXIT_UNKNOWN, hardware_exit_reason 49; the vCPU stops`);
  vcpu.halted = true;
  return 0;
}
