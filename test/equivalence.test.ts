// What the guest sees does not depend on the era: the same workload reads the same values and
// takes the same faults under v3.0 and v3.1 (the series changes only how KVM gets there).
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { run, vm, NIC, EXTRA, APIC, RAM } from './helpers/scenario';

const targets = [NIC, `0xffffc90000000008`, EXTRA, APIC + '', '0xffffffffff5fb030', RAM, '0xffff880000200010', '0xffff888000000000'];
const step = fc.record({
  write: fc.boolean(),
  target: fc.integer({ min: 0, max: targets.length - 1 }),
  size: fc.constantFrom(1, 2, 4, 8),
  value: fc.integer({ min: 0, max: 0x7fffffff }),
});

describe('guest-visible results are identical in v3.0 and v3.1', () => {
  it('for random sequences of reads and writes to RAM, kernel and userspace devices, and unmapped memory', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 25 }), fc.boolean(), (steps, withSlot) => {
        const lines = steps.map((s) => (s.write ? `  - { write: ${targets[s.target]}, size: ${s.size}, value: ${s.value % 2 ** (8 * Math.min(s.size, 4))} }` : `  - { read: ${targets[s.target]}, size: ${s.size} }`));
        if (withSlot) lines.splice(Math.floor(lines.length / 2), 0, '  - { memslot: add, slot: 1, gpa: 0xfebf0000, size: 4K }');
        const a = run(vm('v3.0', lines.join('\n')), { accesses: true });
        const b = run(vm('v3.1', lines.join('\n')), { accesses: true });
        const seen = (r: typeof a) => r.accesses!.map(({ op, gva, result, error_code, value }) => ({ op, gva, result, error_code, value }));
        expect(seen(b)).toEqual(seen(a));
        expect(b.stats.mmio_writes).toBe(a.stats.mmio_writes);
        expect(b.stats.mmio_reads).toBe(a.stats.mmio_reads);
      }),
      { numRuns: 60 },
    );
  });
});
