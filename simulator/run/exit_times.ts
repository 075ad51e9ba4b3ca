// Per exit reason: count and handling time (kvm_exit to kvm_entry) with min, max and a running
// variance (Welford), as `perf kvm stat` reports them. Fixed memory whatever the run length.

import { exitReasonName } from '../arch/x86/vmx';
import { IntervalStats } from './interval_stats';
import type { ExitStats } from './result';

const REASONS = 64;

/** Kept for all vCPUs (view 0) and per vCPU (view 1 + id), for `--vcpu`. */
export class ExitTimes {
  private readonly t: IntervalStats;

  constructor(vcpus = 1) {
    this.t = new IntervalStats(REASONS * (vcpus + 1));
  }

  record(vcpu: number, reason: number, cycles: number): void {
    this.t.add(reason, cycles);
    this.t.add((vcpu + 1) * REASONS + reason, cycles);
  }

  /** The rows of all vCPUs, or of vCPU `vcpu`. */
  stats(vcpu = -1): ExitStats[] {
    const out: ExitStats[] = [];
    const base = (vcpu + 1) * REASONS;
    for (let r = 0; r < REASONS; r++) {
      const i = base + r;
      const t = this.t;
      const n = t.count[i]!;
      if (n === 0) continue;
      out.push({
        reason: exitReasonName(r),
        code: r,
        count: n,
        total_cycles: t.total[i]!,
        min_cycles: t.min[i]!,
        max_cycles: t.max[i]!,
        stddev_cycles: t.stddev(i),
      });
    }
    return out;
  }
}
