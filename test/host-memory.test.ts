// Host memory (simulator/host/physmem.ts) keeps every frame's contents when its arena grows, and with
// the fast paths on the arena grows once, to what the memslots and the shadow-page budget can use,
// instead of doubling (docs/decisions.md "Host memory grows once to what the VM can use").
import { describe, it, expect } from 'vitest';
import { HostMemory, RESERVE_MAX_FRAMES } from '../simulator/host/physmem';
import { machine, run, vm } from './helpers/scenario';
import type { Kvm } from '../simulator/kvm/kvm';

/** Every 64-bit entry of frame `pfn` names the frame and the entry. */
function tag(h: HostMemory, pfn: number): void {
  for (let i = 0; i < 512; i++) h.write(pfn, i * 8, 8, (pfn * 512 + i) >>> 0, 0x80000000 | i);
}
function tagged(h: HostMemory, pfn: number): boolean {
  for (let i = 0; i < 512; i++) {
    h.read(pfn, i * 8, 8);
    if (h.lo !== (pfn * 512 + i) >>> 0 || h.hi !== (0x80000000 | i) >>> 0) return false;
  }
  return true;
}
function zero(h: HostMemory, pfn: number): boolean {
  for (let i = 0; i < 512; i++) {
    h.read(pfn, i * 8, 8);
    if (h.lo !== 0 || h.hi !== 0) return false;
  }
  return true;
}

/** The frames the VM's memslots and shadow-page budget can use: what the fast path reserves. */
const usable = (kvm: Kvm) => kvm.sp.nMax + kvm.memslots.slots.slice(0, kvm.memslots.nmemslots).reduce((n, s) => n + (s?.npages ?? 0), 0);

/** `n` reads, each of a 4K page not touched before, from `from` on in the 64M direct map. */
const coldReads = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `  - { read: 0x${(0xffff880000000000n + BigInt(from + i) * 4096n).toString(16)}, size: 8 }`).join('\n');

describe('host memory', () => {
  it('grows straight to the expected frames, then doubles, keeping every frame; new and reused frames read zero', () => {
    const h = new HostMemory(46);
    h.expect(1000);
    const pfns: number[] = [];
    for (let i = 0; i < 200; i++) {
      const p = h.allocFrame();
      expect(zero(h, p)).toBe(true);
      tag(h, p);
      pfns.push(p);
    }
    expect(h.capacityFrames).toBe(1000); // 64, then 1000 at once (not 128, 256)
    expect(pfns.every((p) => tagged(h, p))).toBe(true);
    h.freeFrame(pfns[7]!);
    expect(h.allocFrame()).toBe(pfns[7]);
    expect(zero(h, pfns[7]!)).toBe(true);
    tag(h, pfns[7]!);
    while (h.allocated < 1001) tag(h, h.allocFrame());
    expect(h.capacityFrames).toBe(2000); // beyond the expectation: doubling again
    expect(pfns.every((p) => tagged(h, p))).toBe(true);
  });

  it('reserves at most RESERVE_MAX_FRAMES at once, however large the VM', () => {
    const h = new HostMemory(52);
    h.expect(RESERVE_MAX_FRAMES * 16);
    for (let i = 0; i < 65; i++) h.allocFrame();
    expect(h.capacityFrames).toBe(RESERVE_MAX_FRAMES);
  });

  it('with the fast paths, a run grows host memory once, to the memslots and the budget, also after a memslot is added', () => {
    const yaml = vm('v3.1', `${coldReads(100)}\n  - { memslot: add, slot: 1, gpa: 0x10000000, size: 1M }\n${coldReads(100, 100)}`);
    const fast = machine(yaml);
    const before = usable(fast.kvm);
    fast.run();
    expect(fast.kvm.host.capacityFrames).toBe(before); // the first growth, before the slot
    // The slot's commit raised the expectation: a second VM that grows only after the add gets it.
    const late = machine(vm('v3.1', `${coldReads(10)}\n  - { memslot: add, slot: 1, gpa: 0x10000000, size: 1M }\n${coldReads(100, 10)}`));
    late.run();
    expect(late.kvm.host.capacityFrames).toBe(usable(late.kvm));
    expect(usable(late.kvm)).toBeGreaterThan(before);
    const slow = machine(yaml, { fastPaths: false });
    slow.run();
    expect(slow.kvm.host.capacityFrames).toBe(256); // 64, 128, 256: doubling, as without the fast path
    expect(JSON.stringify(run(yaml, { accesses: true }))).toBe(JSON.stringify(run(yaml, { accesses: true, fastPaths: false })));
  });
});
