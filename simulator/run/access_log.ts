// The --accesses log: one record per guest access, in typed arrays, bounded so that memory stays
// flat on long runs (the report says when it was cut).

import { hex64 } from '../arch/x86/u64';
import type { AccessRecord } from './result';

export const ACCESS_LOG_LIMIT = 100_000;

export class AccessLog {
  private n = 0;
  truncated = false;
  private readonly seq = new Float64Array(ACCESS_LOG_LIMIT);
  private readonly ints = new Int32Array(ACCESS_LOG_LIMIT * 6); // vcpu, op (0 read, 1 write, 2 fetch), offset, cpl, fault, line
  private readonly nums = new Float64Array(ACCESS_LOG_LIMIT * 4); // vpn, error code, value lo, value hi

  add(seq: number, vcpu: number, op: number, vpn: number, offset: number, cpl: number, fault: boolean, errorCode: number, lo: number, hi: number, line: number): void {
    if (this.n === ACCESS_LOG_LIMIT) {
      this.truncated = true;
      return;
    }
    const k = this.n++;
    this.seq[k] = seq;
    const i = k * 6;
    this.ints[i] = vcpu;
    this.ints[i + 1] = op;
    this.ints[i + 2] = offset;
    this.ints[i + 3] = cpl;
    this.ints[i + 4] = fault ? 1 : 0;
    this.ints[i + 5] = line;
    this.nums[k * 4] = vpn;
    this.nums[k * 4 + 1] = errorCode;
    this.nums[k * 4 + 2] = lo;
    this.nums[k * 4 + 3] = hi;
  }

  records(): AccessRecord[] {
    const out: AccessRecord[] = [];
    for (let k = 0; k < this.n; k++) {
      const [vcpu, op, offset, cpl, fault, line] = this.ints.subarray(k * 6, k * 6 + 6);
      const vpn = this.nums[k * 4]!;
      const full = BigInt(vpn) * 4096n + BigInt(offset!);
      const canonical = full >= 1n << 47n ? full | 0xffff000000000000n : full;
      out.push({
        step: this.seq[k]!,
        vcpu: vcpu!,
        op: op === 1 ? 'write' : op === 2 ? 'fetch' : 'read',
        gva: '0x' + canonical.toString(16),
        cpl: cpl!,
        result: fault ? 'guest-fault' : 'ok',
        error_code: fault ? '0x' + this.nums[k * 4 + 1]!.toString(16) : null,
        value: fault || op === 2 ? null : hex64(this.nums[k * 4 + 2]!, this.nums[k * 4 + 3]!),
        line: line!,
      });
    }
    return out;
  }
}
