// KVM's VMX exit handlers for memory faults under EPT (arch/x86/kvm/vmx.c, 3.0 and 3.2):
//
//   handle_ept_violation: error_code = (qual & 2) | ((qual >> 3) & 1)   (write, "present")
//                         trace_kvm_page_fault(gpa, qual); kvm_mmu_page_fault(vcpu, gpa, error_code)
//   kvm_mmu_page_fault:   r = tdp_page_fault(); r < 0: error; r == 0: resume;
//                         else x86_emulate_instruction: DONE -> 1; DO_MMIO -> ++mmio_exits, 0; FAIL -> 0
//   handle_ept_misconfig: v3.0: always a real misconfiguration (dump the SPTEs, KVM_EXIT_UNKNOWN).
//                         v3.1: r = handle_mmio_page_fault_common(gpa, direct = true);
//                               1 -> emulate; 0 -> resume (the guest faults again); -1 -> the v3.0 report.

import type { Kvm } from './kvm';
import type { Vcpu } from './vcpu';
import type { Emulator } from './x86/emulate';
import { EMULATE_DO_MMIO, EMULATE_DONE } from './x86/emulate';
import { tdpPageFault } from './mmu/tdp';
import { handleMmioPageFaultCommon } from './mmu/mmio_fault';
import { E } from '../trace/events';
import { S } from '../trace/stats';
import { indexOfVpn } from '../arch/x86/paging';
import { frameOf } from '../arch/x86/u64';
import { noteFault, CLASS_MMIO_BUG } from './fault_class';

/** handle_ept_violation. Returns the handler's int: 1 = re-enter the guest, 0 = exit to userspace. */
export function handleEptViolation(kvm: Kvm, em: Emulator, vcpu: Vcpu, gpa: number, qual: number): number {
  const errorCode = (qual & 2) | ((qual >>> 3) & 1);
  kvm.trace.emit(E.kvm_page_fault, vcpu.id, vcpu.line, vcpu.clock, gpa, qual);
  return kvmMmuPageFault(kvm, em, vcpu, gpa, errorCode);
}

function kvmMmuPageFault(kvm: Kvm, em: Emulator, vcpu: Vcpu, gpa: number, errorCode: number): number {
  const r = tdpPageFault(kvm, vcpu, gpa, errorCode);
  if (r < 0) return r;
  if (r === 0) return 1;
  const er = em.emulate(vcpu);
  if (er === EMULATE_DONE) return 1;
  if (er === EMULATE_DO_MMIO) kvm.stats[S.mmio_exits]!++;
  return 0;
}

/** handle_ept_misconfig. */
export function handleEptMisconfig(kvm: Kvm, em: Emulator, vcpu: Vcpu, gpa: number): number {
  if (kvm.kernel !== 'v3.0') {
    const r = handleMmioPageFaultCommon(kvm, vcpu, gpa, true);
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
    kvm.trace.emit(E.ept_misconfig_real, vcpu.id, vcpu.line, vcpu.clock, lo, hi, level);
    if ((lo & 7) === 0 || level === 1) break;
    table = frameOf(lo, hi);
  }
  kvm.warn(vcpu, `EPT: Misconfiguration at gpa 0x${gpa.toString(16)}: KVM_EXIT_UNKNOWN, hardware_exit_reason 49; the vCPU stops`);
  vcpu.halted = true;
  return 0;
}
