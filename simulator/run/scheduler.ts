// The deterministic scheduler. vCPUs take turns one workload step at a time; inside a step, at the
// points where KVM itself can race (kvm/races.ts), another vCPU may run one whole step of its own
// while this one stands still there: because a vCPU blocked in `wait_for` asked for exactly that
// point, or because the seeded pseudo-random preemption chose to. The vCPUs standing at a point form
// a stack, so a step never resumes out of order and no per-step state needs saving.
//
// The one step that does keep state is a memslot update (kvm/memslot_update.ts): it runs in slices
// that end where the kernel's updater sleeps in synchronize_srcu_expedited, and between slices it is
// off the stack, so its later phases (the commit, the zap) can run at another vCPU's race point, or
// between that vCPU's steps, as a VMM thread can be scheduled. What SRCU forbids cannot happen: a
// vCPU standing at a point inside its exit handler holds kvm->srcu, so an update run on top of it
// sleeps in synchronize_srcu_expedited (trace `srcu_synchronize_wait`) and its slice ends there;
// the update goes on only once that vCPU has left its handler, and a vCPU asleep like that (or on
// kvm->slots_lock) is never chosen to run. The slice boundary is itself a race point
// (synchronize_srcu_expedited), offered once the updater is off the stack, and a memslot step's
// `resume_at` is a wait for its remaining slices.
//
// A guest kernel's TLB shootdown has its targets take the IPI while the sender's step stands on the
// stack (run/machine.ts takeIpi); until then a target holding that IPI is not run at a race point, where
// its next exit would take the IPI before the sender has asked for the answer. Nor is a guest OS step
// run at a race point inside another: the guest kernel's locks would hold it (Machine.heldBack).

import type { RaceHooks } from '../kvm/kvm';
import type { Vcpu } from '../kvm/vcpu';
import { E } from '../trace/events';
import type { TraceBuffer } from '../trace/buffer';

export interface Steppable {
  step(i: number): boolean;
  /** Is vCPU i asleep (a memslot update on kvm->slots_lock, or in synchronize_srcu_expedited with
   *  a reader still inside)? Such a vCPU cannot run. */
  blocked(i: number): boolean;
  /** May vCPU i not run at a race point now (run/machine.ts heldBack: an IPI its sender on the stack
   *  waits to hand it, or a guest OS step while another is on the stack)? */
  heldBack(i: number): boolean;
  readonly waiting: Uint8Array;
  readonly done: Uint8Array;
  readonly kvm: { vcpus: Vcpu[]; trace: TraceBuffer };
}

export class Scheduler implements RaceHooks {
  private readonly stack: Uint8Array;
  private readonly waitVcpu: Int32Array;
  private readonly waitPoint: Int32Array;
  private readonly waitLevel: Int32Array;
  private state: number;

  constructor(
    private readonly m: Steppable,
    seed: number,
    private readonly preempt: number,
  ) {
    const n = m.kvm.vcpus.length;
    this.stack = new Uint8Array(n);
    this.waitVcpu = new Int32Array(n).fill(-1);
    this.waitPoint = new Int32Array(n);
    this.waitLevel = new Int32Array(n);
    this.state = seed >>> 0 || 1;
  }

  enter(i: number): void {
    this.stack[i] = 1;
  }
  leave(i: number): void {
    this.stack[i] = 0;
  }
  onStack(i: number): boolean {
    return this.stack[i] === 1;
  }

  waitFor(i: number, vcpu: number, point: number, level: number): void {
    this.waitVcpu[i] = vcpu;
    this.waitPoint[i] = point;
    this.waitLevel[i] = level;
  }

  point(vcpu: Vcpu, point: number, level: number): void {
    const n = this.waitVcpu.length;
    for (let w = 0; w < n; w++) {
      if (this.waitVcpu[w] !== vcpu.id || this.waitPoint[w] !== point) continue;
      if (this.waitLevel[w] !== 0 && this.waitLevel[w] !== level) continue;
      if (this.m.heldBack(w)) continue;
      this.waitVcpu[w] = -1;
      this.m.waiting[w] = 0;
      this.runOther(vcpu, w, point);
    }
    if (this.preempt > 0 && this.random() < this.preempt) {
      const start = Math.floor(this.random() * n);
      for (let k = 0; k < n; k++) {
        const w = (start + k) % n;
        if (w === vcpu.id || this.stack[w] || this.m.waiting[w] || this.m.done[w] || this.m.blocked(w) || this.m.heldBack(w)) continue;
        this.runOther(vcpu, w, point);
        break;
      }
    }
  }

  private runOther(from: Vcpu, w: number, point: number): void {
    const tr = this.m.kvm.trace;
    tr.args[tr.at] = w;
    tr.args[tr.at + 1] = point;
    tr.emit(E.vcpu_switch, from, from.line);
    this.m.step(w);
    tr.args[tr.at] = from.id;
    tr.args[tr.at + 1] = point;
    tr.emit(E.vcpu_switch, this.m.kvm.vcpus[w]!, 0);
  }

  /** mulberry32: small, fast, deterministic for a given seed. */
  private random(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}
