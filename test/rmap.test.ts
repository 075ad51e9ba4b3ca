// The reverse map (mmu.c, 3.0.1 and 3.1.10), driven directly: each gfn_to_rmap is a gfn_to_memslot
// lookup, rmap_write_protect clears W in every SPTE of the gfn and says whether it changed one.
import { describe, it, expect } from 'vitest';
import { machine } from './helpers/scenario';
import { S } from '../simulator/trace/stats';

const YAML = `kernel: v3.1
mmu: { tdp: false }
memslots:
  - { slot: 0, gpa: 0x0, size: 64M }
guest:
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x0, size: 64M, page: 2M, flags: "p w a d" }
workload:
  - { compute: 1 }
`;

function setup() {
  const m = machine(YAML);
  const kvm = m.kvm;
  const vcpu = kvm.vcpus[0]!;
  const frame = kvm.allocHostFrame();
  const word = (i: number) => kvm.host.entryWord(frame, i);
  const lookups = () => kvm.stats[S.memslot_lookups]!;
  return { kvm, vcpu, word, lookups };
}

describe('rmap', () => {
  it('rmap_add and rmap_remove each look the slot up once (gfn_to_rmap)', () => {
    const { kvm, vcpu, word, lookups } = setup();
    const before = lookups();
    kvm.rmap.add(vcpu, 0x100, word(0));
    expect(lookups() - before).toBe(1);
    kvm.rmap.remove(vcpu, 0x100, word(0));
    expect(lookups() - before).toBe(2);
  });

  it('rmap_write_protect: three lookups (one rmap per page size), W cleared in every SPTE of the gfn, true only if one changed', () => {
    const { kvm, vcpu, word, lookups } = setup();
    const w = kvm.host.words;
    // Two writable SPTEs and one read-only one map gfn 0x100; one writable SPTE maps gfn 0x101.
    for (const [i, lo] of [[0, 0x1003], [1, 0x2003], [2, 0x3001], [3, 0x4003]] as const) {
      w[word(i)] = lo;
      w[word(i) + 1] = 0x80000000;
    }
    kvm.rmap.add(vcpu, 0x100, word(0));
    kvm.rmap.add(vcpu, 0x100, word(1));
    kvm.rmap.add(vcpu, 0x100, word(2));
    kvm.rmap.add(vcpu, 0x101, word(3));
    let before = lookups();
    expect(kvm.rmap.writeProtect(vcpu, 0x100)).toBe(true);
    // `rmapp = gfn_to_rmap(kvm, gfn, PT_PAGE_TABLE_LEVEL);` then `for (i = PT_DIRECTORY_LEVEL; i <
    // PT_PAGE_TABLE_LEVEL + KVM_NR_PAGE_SIZES; ++i) { rmapp = gfn_to_rmap(kvm, gfn, i); ...}`
    expect(lookups() - before).toBe(3);
    expect([w[word(0)], w[word(1)], w[word(2)], w[word(3)]]).toEqual([0x1001, 0x2001, 0x3001, 0x4003]);
    expect([w[word(0) + 1], w[word(1) + 1]]).toEqual([0x80000000, 0x80000000]); // the high word stays
    // Nothing left to clear: no flush is due.
    before = lookups();
    expect(kvm.rmap.writeProtect(vcpu, 0x100)).toBe(false);
    expect(lookups() - before).toBe(3);
    // After removal the SPTE is no longer protected through the gfn.
    kvm.rmap.remove(vcpu, 0x101, word(3));
    expect(kvm.rmap.writeProtect(vcpu, 0x101)).toBe(false);
    expect(w[word(3)]).toBe(0x4003);
    // Removing one of several keeps the others.
    w[word(1)] = 0x2003;
    kvm.rmap.remove(vcpu, 0x100, word(0));
    w[word(0)] = 0x1003;
    expect(kvm.rmap.writeProtect(vcpu, 0x100)).toBe(true);
    expect([w[word(0)], w[word(1)]]).toEqual([0x1003, 0x2001]);
    // Removing an SPTE that is not in the gfn's list leaves the list alone (its last entry too).
    kvm.rmap.add(vcpu, 0x100, word(0));
    w[word(1)] = 0x2003;
    kvm.rmap.remove(vcpu, 0x100, word(7));
    expect(kvm.rmap.writeProtect(vcpu, 0x100)).toBe(true);
    expect([w[word(0)], w[word(1)]]).toEqual([0x1001, 0x2001]);
  });
});
