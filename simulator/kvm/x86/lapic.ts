// The in-kernel local APIC's interrupt command register: a guest's IPI to other vCPUs, as KVM 3.0.1 and
// 3.1.10 send it (arch/x86/kvm/lapic.c, virt/kvm/irq_comm.c; docs/kernel-paths.md §23.8, numbers 3.0.1's):
//
//   apic_reg_write   `case APIC_ICR2: if (!apic_x2apic_mode(apic)) val &= 0xff000000; apic_set_reg(apic,
//                    APIC_ICR2, val);` (777-781); `case APIC_ICR: apic_set_reg(apic, APIC_ICR, val & ~(1 <<
//                    12)); apic_send_ipi(apic);` (771-775): no delivery delay, the busy bit never stays set.
//   apic_send_ipi    the fields of ICR, `irq.dest_id = GET_APIC_DEST_FIELD(icr_high)`,
//                    `trace_kvm_apic_ipi(icr_low, irq.dest_id);`, kvm_irq_delivery_to_apic (485-512), which
//                    for each vCPU kvm_apic_match_dest accepts calls kvm_apic_set_irq (irq_comm.c:91-102) ->
//                    __apic_accept_irq: IRR, trace_kvm_apic_accept_irq, KVM_REQ_EVENT, kvm_vcpu_kick (369-400).
//   kvm_apic_match_dest  no shorthand: physical `dest == 0xff || kvm_apic_id(apic) == dest` (291-294), logical
//                    flat `logical_id & mda` with logical_id from LDR (296-312).
//
// All of it runs on the sending vCPU's thread, inside its ICR write's exit. The target's side (the
// reschedule IPI of kvm_vcpu_kick: an EXTERNAL_INTERRUPT exit, then the injection) runs on the target
// when the sender's guest waits for it (run/machine.ts takeIpi).

import type { Kvm } from '../kvm';
import type { Vcpu } from '../vcpu';
import { E } from '../../trace/events';
import { APIC_DEST_LOGICAL, APIC_DM_FIXED, APIC_ICR, APIC_ICR2, APIC_ICR_BUSY, APIC_INT_LEVELTRIG, APIC_MODE_MASK, APIC_SHORT_MASK, APIC_VECTOR_MASK } from '../../arch/x86/apic';

/**
 * A guest write to a register of its in-kernel local APIC (the `kernel` device at APIC_DEFAULT_PHYS_BASE),
 * after the device stored it: ICR2 keeps its destination field, an ICR write sends the IPI.
 */
export function apicRegWrite(kvm: Kvm, vcpu: Vcpu, reg: number, val: number): void {
  if (reg === APIC_ICR2) vcpu.apicIcr2 = (val & 0xff000000) >>> 0;
  else if (reg === APIC_ICR) apicSendIpi(kvm, vcpu, (val & ~APIC_ICR_BUSY) >>> 0);
}

/** apic_send_ipi -> kvm_irq_delivery_to_apic: each vCPU whose APIC matches takes the vector. Fixed delivery
 *  without a shorthand is what Linux's IPIs use; other modes and shorthands are not modelled (nothing is sent). */
function apicSendIpi(kvm: Kvm, src: Vcpu, icrLow: number): void {
  const destId = src.apicIcr2 >>> 24;
  const tr = kvm.trace;
  tr.args[tr.at] = icrLow >>> 0;
  tr.args[tr.at + 1] = destId;
  tr.emit(E.kvm_apic_ipi, src, src.line);
  if ((icrLow & APIC_MODE_MASK) !== APIC_DM_FIXED || (icrLow & APIC_SHORT_MASK) !== 0) return;
  const logical = (icrLow & APIC_DEST_LOGICAL) !== 0;
  for (const target of kvm.vcpus) {
    const match = logical ? (apicLogicalId(target) & destId) !== 0 : destId === 0xff || target.id === destId;
    if (match) acceptIrqFrom(kvm, src, target, icrLow & APIC_VECTOR_MASK, (icrLow & APIC_INT_LEVELTRIG) !== 0 ? 1 : 0);
  }
}

/** GET_APIC_LOGICAL_ID(LDR) in flat mode: the bit Linux's flat_init_apic_ldr gives each CPU (`id = 1UL <<
 *  smp_processor_id()`, apic_flat_64.c:70-75); the guest's LDR and DFR writes at boot are not steps. */
function apicLogicalId(vcpu: Vcpu): number {
  return vcpu.id < 8 ? 1 << vcpu.id : 0;
}

/** __apic_accept_irq for `target`, on the sender's thread: IRR (an already pending vector is coalesced),
 *  the tracepoint, KVM_REQ_EVENT; kvm_vcpu_kick's reschedule IPI is the target's to take (takeIpi). */
function acceptIrqFrom(kvm: Kvm, src: Vcpu, target: Vcpu, vector: number, trig: number): void {
  const tr = kvm.trace, args = tr.args, at = tr.at;
  args[at] = target.id;
  args[at + 1] = APIC_DM_FIXED;
  args[at + 2] = trig;
  args[at + 3] = vector;
  args[at + 4] = target.irr === vector ? 1 : 0;
  tr.emit(E.kvm_apic_accept_irq, src, src.line);
  target.irr = vector;
  target.ipiFrom = src.id;
}
