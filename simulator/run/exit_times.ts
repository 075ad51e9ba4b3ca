// Per exit reason: count and handling time (kvm_exit to kvm_entry) with min, max and a running
// variance (Welford), as `perf kvm stat` reports them. Fixed memory whatever the run length.

import { exitReasonName } from '../arch/x86/vmx';
import type { ExitStats } from './result';

const REASONS = 64;

/** Kept for all vCPUs (view 0) and per vCPU (view 1 + id), for `--vcpu`. */
export class ExitTimes {
  private readonly count: Float64Array;
  private readonly total: Float64Array;
  private readonly min: Float64Array;
  private readonly max: Float64Array;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;

  constructor(vcpus = 1) {
    const n = REASONS * (vcpus + 1);
    this.count = new Float64Array(n);
    this.total = new Float64Array(n);
    this.min = new Float64Array(n).fill(Infinity);
    this.max = new Float64Array(n);
    this.mean = new Float64Array(n);
    this.m2 = new Float64Array(n);
  }

  record(vcpu: number, reason: number, cycles: number): void {
    this.add(reason, cycles);
    this.add((vcpu + 1) * REASONS + reason, cycles);
  }

  private add(reason: number, cycles: number): void {
    const n = ++this.count[reason]!;
    this.total[reason]! += cycles;
    if (cycles < this.min[reason]!) this.min[reason] = cycles;
    if (cycles > this.max[reason]!) this.max[reason] = cycles;
    const d = cycles - this.mean[reason]!;
    this.mean[reason]! += d / n;
    this.m2[reason]! += d * (cycles - this.mean[reason]!);
  }

  /** The rows of all vCPUs, or of vCPU `vcpu`. */
  stats(vcpu = -1): ExitStats[] {
    const out: ExitStats[] = [];
    const base = (vcpu + 1) * REASONS;
    for (let r = 0; r < REASONS; r++) {
      const i = base + r;
      const n = this.count[i]!;
      if (n === 0) continue;
      out.push({
        reason: exitReasonName(r),
        code: r,
        count: n,
        total_cycles: this.total[i]!,
        min_cycles: this.min[i]!,
        max_cycles: this.max[i]!,
        stddev_cycles: n < 2 ? 0 : Math.sqrt(this.m2[i]! / (n - 1)),
      });
    }
    return out;
  }
}
