// Cold memslot scans (docs/decisions.md "Cold memslot scans", simulator/kvm/memslot_warmth.ts).
// __gfn_to_memslot (3.0.1 kvm_main.c:941, 3.1.10:964) scans entries 0, 1, ... so a vCPU's searches
// since the array went cold touch a growing prefix; each entry of that prefix is cold once. The
// array goes cold after a KVM_EXIT_MMIO (QEMU ran on the CPU), after a guest compute step of at least
// 100,000 cycles, and when a memslot change publishes a new array (__kvm_set_memory_region: kzalloc,
// memcpy, rcu_assign_pointer); the first array a vCPU scans in a run is warm.
//
// Counts used below. The helper VM (test/helpers/scenario.ts) has one user memslot, entry 0, and
// with EPT the 3 private slots of VMX (docs/decisions.md "Private memslots"), so a miss compares 35
// entries and a RAM hit in slot 0 compares 1. v3.0 has no MMIO SPTE: every MMIO exit is an EPT
// violation whose gfn_to_pfn misses (35 compares), so after the array went cold one exit pays 35
// cold compares. v3.1, once the MMIO SPTE is in and the vCPU's MMIO cache matches, searches only
// for RAM (the instruction fetch's walk and the code page: slot 0): 1 cold compare per cold exit.
import { describe, it, expect } from 'vitest';
import { PROFILES_BY_NAME } from '../simulator/cost/profiles';
import { COLD_AFTER_COMPUTE } from '../simulator/kvm/memslot_warmth';
import type { RunResult } from '../simulator/run/result';
import { run, vm, NIC, EXTRA } from './helpers/scenario';

const W = PROFILES_BY_NAME['westmere-2011'];
const MISS = 35; // entries a miss compares with EPT (32 user slots + 3 private, nmemslots 35)
const at = (base: string, off: number) => '0x' + (BigInt(base) + BigInt(off)).toString(16);
const steps = (lines: string[]): string => ['  - repeat: 1', '    steps:', ...lines.map((l) => `      - ${l}`)].join('\n');
const nicWrite = `{ write: ${at(NIC, 0x50)}, size: 4, value: 1 }`; // userspace device: KVM_EXIT_MMIO
const kernelWrite = `{ write: ${at(EXTRA, 0x20)}, size: 4, value: 1 }`; // in-kernel device: no return to the VMM
const cold = (r: RunResult): number => r.stats['memslot_cold_compares']!;

/** memslot_search is every lookup's fixed part, the warm compares at 7 and the cold ones at 111. */
function expectCharged(r: RunResult): void {
  const lookups = r.stats['memslot_lookups']!;
  const compares = r.stats['memslot_compares']!;
  expect(r.cycles.by_component.memslot_search).toBe(lookups * W.memslot_lookup + (compares - cold(r)) * W.memslot_compare + cold(r) * W.memslot_compare_cold);
}

describe('which scans are cold', () => {
  it('v3.0: exits to the VMM leave the array cold: every MMIO exit after the first pays a 35-entry miss cold', () => {
    const r = run(vm('v3.0', steps([nicWrite, nicWrite, nicWrite, nicWrite])));
    expect(r.stats['userspace_exits']).toBe(4);
    expect(r.stats['memslot_misses']).toBeGreaterThanOrEqual(4); // each exit misses at least once
    expect(cold(r)).toBe(3 * MISS);
    expectCharged(r);
  });

  it('v3.1: after the MMIO SPTE and cache, a cold exit touches only slot 0 (the fetch): 1 cold compare each', () => {
    const r = run(vm('v3.1', steps([nicWrite, nicWrite, nicWrite, nicWrite])));
    // The first exit (EPT violation, installs the MMIO SPTE) is warm; the second is the first
    // EPT_MISCONFIG and finds the MMIO SPTE without a memslot miss; each of exits 2-4 pays 1.
    expect(cold(r)).toBe(3);
    expectCharged(r);
  });

  it('exits handled in the kernel do not cool it: v3.0 writes to an in-kernel device stay warm', () => {
    const r = run(vm('v3.0', steps([kernelWrite, kernelWrite, kernelWrite])));
    expect(r.stats['userspace_exits']).toBe(0);
    expect(r.stats['memslot_misses']).toBeGreaterThanOrEqual(3);
    expect(cold(r)).toBe(0);
  });

  it(`a compute step of ${COLD_AFTER_COMPUTE} cycles cools it; one cycle less does not`, () => {
    expect(COLD_AFTER_COMPUTE).toBe(100000);
    const long = run(vm('v3.0', steps([kernelWrite, '{ compute: 100000 }', kernelWrite, '{ compute: 100000 }', kernelWrite])));
    expect(cold(long)).toBe(2 * MISS);
    expectCharged(long);
    const short = run(vm('v3.0', steps([kernelWrite, '{ compute: 99999 }', kernelWrite, '{ compute: 99999 }', kernelWrite])));
    expect(cold(short)).toBe(0);
    // The 2 x 35 cold compares cost 2 x 35 x (111 - 7) = 7,280 cycles more, and nothing else differs.
    expect(long.cycles.total - short.cycles.total).toBe(2 * MISS * (W.memslot_compare_cold - W.memslot_compare) + 2);
  });

  it('a memslot change publishes a new array: the next exit scans it cold', () => {
    const r = run(vm('v3.0', steps([kernelWrite, '{ memslot: add, slot: 1, gpa: 0x8000000, size: 4K }', kernelWrite])));
    // The second write's exit: the new array has 35 entries still; its miss scan is all cold.
    expect(cold(r)).toBe(MISS);
    expectCharged(r);
  });
});
