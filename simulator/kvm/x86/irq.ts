// Interrupts and idle, as KVM 3.0.1 and 3.1.10 handle them with the in-kernel local APIC
// (docs/kernel-paths.md §23; the two trees have the same lines here, numbers are 3.0.1's):
//
//   a timer tick   the hrtimer fires on the vCPU's host CPU: kvm_timer_fn (timer.c:49) -> __kvm_timer_fn
//                  `atomic_inc(&ktimer->pending); kvm_make_request(KVM_REQ_PENDING_TIMER, vcpu);` and
//                  `if (waitqueue_active(q)) wake_up_interruptible(q);` (timer.c:33-39). In guest mode the
//                  host interrupt is an EXTERNAL_INTERRUPT exit; handle_external_interrupt only counts
//                  it (vmx.c:3314-3318), and __vcpu_run, before the next entry, delivers the tick:
//                  `if (kvm_cpu_has_pending_timer(vcpu)) kvm_inject_pending_timer_irqs(vcpu);`
//                  (x86.c:5555-5556) -> kvm_inject_apic_timer_irqs -> kvm_apic_local_deliver(APIC_LVTT)
//                  -> __apic_accept_irq: IRR, trace_kvm_apic_accept_irq, KVM_REQ_EVENT, kvm_vcpu_kick.
//   a device IRQ   kvm_set_irq on the VMM's (or vhost's) thread -> ... -> __apic_accept_irq there: IRR,
//                  KVM_REQ_EVENT, kvm_vcpu_kick (x86.c:6398): `smp_send_reschedule(cpu)` when the vCPU is
//                  IN_GUEST_MODE: the IPI is the EXTERNAL_INTERRUPT exit. That thread's work is not the
//                  vCPU's, so it is neither charged nor traced here.
//   injection      the next vcpu_enter_guest: `if (kvm_check_request(KVM_REQ_EVENT, vcpu) ...)
//                  inject_pending_event(vcpu);` (x86.c:5401-5402) -> `else if (kvm_cpu_has_interrupt(vcpu))
//                  { if (kvm_x86_ops->interrupt_allowed(vcpu)) { kvm_queue_interrupt(vcpu,
//                  kvm_cpu_get_interrupt(vcpu), false); kvm_x86_ops->set_irq(vcpu); } }` (x86.c:5318-5323);
//                  vmx_inject_irq: `trace_kvm_inj_virq(irq); ++vcpu->stat.irq_injections;` (vmx.c:3026-3028).
//                  Not allowed (vmx_interrupt_allowed: RFLAGS.IF clear, vmx.c:3116-3120): `else if
//                  (kvm_cpu_has_interrupt(vcpu) || req_int_win) kvm_x86_ops->enable_irq_window(vcpu);`
//                  (x86.c:5407-5408), and when the guest sets IF the CPU exits with PENDING_INTERRUPT:
//                  handle_interrupt_window `kvm_make_request(KVM_REQ_EVENT, vcpu); ++vcpu->stat.irq_window_exits;`
//                  (vmx.c:3538-3549), and the entry after it injects.
//   HLT            handle_halt -> kvm_emulate_halt: `++vcpu->stat.halt_exits;` and with the in-kernel irqchip
//                  `vcpu->arch.mp_state = KVM_MP_STATE_HALTED; return 1;` (x86.c:4939-4945). __vcpu_run then
//                  `srcu_read_unlock(...); kvm_vcpu_block(vcpu); vcpu->srcu_idx = srcu_read_lock(...);`
//                  (x86.c:5531-5533): kvm_vcpu_block (kvm_main.c:1464) sleeps in schedule() until
//                  kvm_arch_vcpu_runnable (an allowed pending interrupt) or kvm_cpu_has_pending_timer.
//                  No halt polling: it arrived in a later kernel (simulator/kvm/eras.ts, haltPolling).

import type { Kvm } from '../kvm';
import type { Vcpu } from '../vcpu';
import { C } from '../../cost/accounting';
import { E } from '../../trace/events';
import { S } from '../../trace/stats';

/** __apic_accept_irq's `delivery_mode` for the LVT timer and a fixed IOAPIC/MSI interrupt: APIC_DM_FIXED. */
const APIC_DM_FIXED = 0;

/**
 * __apic_accept_irq on the vCPU's own thread (the timer: kvm_inject_apic_timer_irqs): IRR set,
 * trace_kvm_apic_accept_irq(vcpu_id, delivery_mode, trig_mode, vector, !result) (lapic.c:390-391),
 * KVM_REQ_EVENT. The LVT timer is edge-triggered (trig_mode 0). A vector already in IRR is coalesced.
 */
export function apicAcceptIrq(kvm: Kvm, vcpu: Vcpu, vector: number): void {
  const coalesced = vcpu.irr === vector;
  const tr = kvm.trace, args = tr.args, at = tr.at;
  args[at] = vcpu.id;
  args[at + 1] = APIC_DM_FIXED;
  args[at + 2] = 0;
  args[at + 3] = vector;
  args[at + 4] = coalesced ? 1 : 0;
  tr.emit(E.kvm_apic_accept_irq, vcpu, vcpu.line);
  vcpu.irr = vector;
}

/**
 * A device model that raised its interrupt while it emulated the vCPU's access (a step's `raise`:
 * QEMU's e1000 raises TXDW inside the TDT write), on the vCPU's own thread: __apic_accept_irq sets IRR
 * and KVM_REQ_EVENT, and kvm_vcpu_kick sends no IPI, the vCPU being outside guest mode (§23.2a). The
 * entry that ends this exit injects it.
 */
export function raisedByDevice(vcpu: Vcpu): void {
  if (vcpu.raiseOnExit < 0) return;
  vcpu.irr = vcpu.raiseOnExit;
  vcpu.raiseOnExit = -1;
}

/** handle_external_interrupt (`++vcpu->stat.irq_exits; return 1;`), then for a timer tick __vcpu_run's
 *  kvm_inject_pending_timer_irqs before the next entry. A device's IRQ is already in IRR. */
export function handleExternalInterrupt(kvm: Kvm, vcpu: Vcpu, timerVector: number): number {
  kvm.stats[S.irq_exits]!++;
  if (timerVector >= 0) apicAcceptIrq(kvm, vcpu, timerVector);
  return 1;
}

/** handle_interrupt_window: clear CPU_BASED_VIRTUAL_INTR_PENDING, KVM_REQ_EVENT, count. */
export function handleInterruptWindow(kvm: Kvm, vcpu: Vcpu): number {
  vcpu.irqWindowRequested = false;
  kvm.stats[S.irq_window]!++;
  return 1;
}

/**
 * handle_halt -> kvm_emulate_halt, then __vcpu_run's kvm_vcpu_block until the interrupt arrives
 * `wakeAfter` cycles later. The vCPU thread sleeps in schedule(): its clock moves on, but nothing is
 * charged (Vcpu.idle counts it), and it holds no kvm->srcu read section meanwhile. The wake-up costs
 * `vcpu_wakeup` on the vCPU's clock. A device's IRQ wakes it through kvm_vcpu_kick, which counts
 * `++vcpu->stat.halt_wakeup` because the vCPU is on its wait queue (x86.c:6402-6406); the timer wakes
 * it from __kvm_timer_fn's own wake_up_interruptible, which does not count it, and kvm_vcpu_block
 * returns on kvm_cpu_has_pending_timer; __vcpu_run then delivers the tick (IRR) and blocks once more,
 * which now finds the vCPU runnable (KVM_REQ_UNHALT, no sleep): HALTED -> RUNNABLE.
 */
export function handleHalt(kvm: Kvm, vcpu: Vcpu, vector: number, timer: boolean, wakeAfter: number): number {
  kvm.stats[S.halt_exits]!++;
  kvm.srcu.readUnlock(vcpu);
  vcpu.path.skip(wakeAfter); // slept, not charged
  vcpu.clock += wakeAfter;
  vcpu.idle += wakeAfter;
  if (timer) {
    kvm.acct.charge(vcpu, C.halt_wakeup, kvm.cost.vcpu_wakeup);
    kvm.srcu.readLock(vcpu);
    apicAcceptIrq(kvm, vcpu, vector);
  } else {
    vcpu.irr = vector; // __apic_accept_irq on the device's thread, before its kvm_vcpu_kick
    kvm.stats[S.halt_wakeup]!++;
    kvm.acct.charge(vcpu, C.halt_wakeup, kvm.cost.vcpu_wakeup);
    kvm.srcu.readLock(vcpu);
  }
  vcpu.irqsEnabled = true; // Linux halts with safe_halt(): `sti; hlt`
  return 1;
}

/**
 * vcpu_enter_guest with KVM_REQ_EVENT pending (a vector in IRR): inject_pending_event. If the guest can
 * take it, vmx_inject_irq writes VM_ENTRY_INTR_INFO_FIELD (traced, counted, charged `irq_inject`);
 * if not, enable_irq_window asks the CPU for an exit as soon as it can.
 */
export function injectPendingEvent(kvm: Kvm, vcpu: Vcpu): void {
  if (!vcpu.irqsEnabled) {
    vcpu.irqWindowRequested = true;
    return;
  }
  const tr = kvm.trace;
  tr.args[tr.at] = vcpu.irr;
  tr.emit(E.kvm_inj_virq, vcpu, vcpu.line);
  kvm.stats[S.irq_injections]!++;
  kvm.acct.charge(vcpu, C.interrupt, kvm.cost.irq_inject);
  vcpu.irr = -1; // kvm_cpu_get_interrupt: IRR -> ISR (the guest's EOI clears ISR)
  vcpu.ipiFrom = -1;
}
