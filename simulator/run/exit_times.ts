// Per exit reason: count and handling time (kvm_exit to kvm_entry) with min, max and a running
// variance (Welford), as `perf kvm stat` reports them. Fixed memory whatever the run length.

import { exitReasonName } from '../arch/x86/vmx';
import type { ExitStats } from './result';

const REASONS = 64;

export class ExitTimes {
  private readonly count = new Float64Array(REASONS);
  private readonly total = new Float64Array(REASONS);
  private readonly min = new Float64Array(REASONS).fill(Infinity);
  private readonly max = new Float64Array(REASONS);
  private readonly mean = new Float64Array(REASONS);
  private readonly m2 = new Float64Array(REASONS);

  record(reason: number, cycles: number): void {
    const n = ++this.count[reason]!;
    this.total[reason]! += cycles;
    if (cycles < this.min[reason]!) this.min[reason] = cycles;
    if (cycles > this.max[reason]!) this.max[reason] = cycles;
    const d = cycles - this.mean[reason]!;
    this.mean[reason]! += d / n;
    this.m2[reason]! += d * (cycles - this.mean[reason]!);
  }

  stats(): ExitStats[] {
    const out: ExitStats[] = [];
    for (let r = 0; r < REASONS; r++) {
      const n = this.count[r]!;
      if (n === 0) continue;
      out.push({
        reason: exitReasonName(r),
        code: r,
        count: n,
        total_cycles: this.total[r]!,
        min_cycles: this.min[r]!,
        max_cycles: this.max[r]!,
        stddev_cycles: n < 2 ? 0 : Math.sqrt(this.m2[r]! / (n - 1)),
      });
    }
    return out;
  }
}
