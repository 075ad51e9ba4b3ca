// kvm->srcu, the sleepable RCU that protects kvm->memslots (3.0.1 and 3.1.10). Readers: every vCPU
// from srcu_read_lock() right after a VM exit (vcpu_enter_guest: `preempt_enable(); vcpu->srcu_idx =
// srcu_read_lock(&vcpu->kvm->srcu);` before `kvm_x86_ops->handle_exit(vcpu)`) until
// `srcu_read_unlock(&vcpu->kvm->srcu, vcpu->srcu_idx)` just before kvm_guest_enter(), so around
// every exit handler. The updater: __kvm_set_memory_region, which publishes a new array with
// rcu_assign_pointer() and then calls synchronize_srcu_expedited(&kvm->srcu) before it goes on.
//
// synchronize_srcu waits for the read-side sections that began before it was called; one that
// begins later does not hold it up. So a synchronize takes a snapshot of the sections in progress
// (each vCPU's section number) and completes once each of them has ended. Allocation-free.

import type { Vcpu } from './vcpu';

export class Srcu {
  /** Per vCPU: 1 while inside a read-side section. */
  readonly inside: Uint8Array;
  /** Per vCPU: how many sections it has entered (the current one's number while inside). */
  readonly section: Int32Array;
  /** Per vCPU: its clock when it last left a section (the waiting updater wakes up no earlier). */
  readonly leftAt: Float64Array;
  /** The synchronize in progress: each vCPU's section it waits for, -1 for none. */
  private readonly awaited: Int32Array;
  /** The vCPU whose synchronize is in progress, -1 for none (kvm->slots_lock allows one). */
  syncer = -1;

  constructor(vcpus: number) {
    this.inside = new Uint8Array(vcpus);
    this.section = new Int32Array(vcpus);
    this.leftAt = new Float64Array(vcpus);
    this.awaited = new Int32Array(vcpus).fill(-1);
  }

  /** srcu_read_lock(&kvm->srcu). */
  readLock(vcpu: Vcpu): void {
    this.section[vcpu.id]!++;
    this.inside[vcpu.id] = 1;
  }

  /** srcu_read_unlock(&kvm->srcu, idx). */
  readUnlock(vcpu: Vcpu): void {
    this.inside[vcpu.id] = 0;
    this.leftAt[vcpu.id] = vcpu.clock;
  }

  /** synchronize_srcu_expedited called by `vcpu`: snapshot the sections in progress. Returns how
   *  many it must wait for (0: it returns at once). */
  syncStart(vcpu: Vcpu): number {
    this.syncer = vcpu.id;
    let n = 0;
    for (let i = 0; i < this.inside.length; i++) {
      const reader = i !== vcpu.id && this.inside[i] === 1;
      this.awaited[i] = reader ? this.section[i]! : -1;
      if (reader) n++;
    }
    return n;
  }

  /** The first vCPU whose awaited section has not ended yet, or -1. */
  pendingReader(): number {
    for (let i = 0; i < this.awaited.length; i++) {
      const s = this.awaited[i]!;
      if (s >= 0 && this.inside[i] === 1 && this.section[i] === s) return i;
    }
    return -1;
  }

  /** The synchronize returns (no awaited section is left): the latest clock at which one ended. */
  syncEnd(): number {
    let t = 0;
    for (let i = 0; i < this.awaited.length; i++) {
      if (this.awaited[i]! >= 0 && this.leftAt[i]! > t) t = this.leftAt[i]!;
      this.awaited[i] = -1;
    }
    this.syncer = -1;
    return t;
  }
}
