// Count, total, min, max and a running variance (Welford) per row: what `perf kvm stat` reports of an
// event's times (tools/perf/util/stat.c update_stats, stddev_stats). Fixed memory: typed arrays, one
// slot per row, whatever the run length.

export class IntervalStats {
  readonly count: Float64Array;
  readonly total: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;
  readonly mean: Float64Array;
  private readonly m2: Float64Array;

  constructor(rows: number) {
    this.count = new Float64Array(rows);
    this.total = new Float64Array(rows);
    this.min = new Float64Array(rows).fill(Infinity);
    this.max = new Float64Array(rows);
    this.mean = new Float64Array(rows);
    this.m2 = new Float64Array(rows);
  }

  add(i: number, d: number): void {
    const n = ++this.count[i]!;
    this.total[i]! += d;
    if (d < this.min[i]!) this.min[i] = d;
    if (d > this.max[i]!) this.max[i] = d;
    const delta = d - this.mean[i]!;
    this.mean[i]! += delta / n;
    this.m2[i]! += delta * (d - this.mean[i]!);
  }

  /** The sample standard deviation of row `i` (0 with fewer than two samples). */
  stddev(i: number): number {
    const n = this.count[i]!;
    return n < 2 ? 0 : Math.sqrt(this.m2[i]! / (n - 1));
  }
}
