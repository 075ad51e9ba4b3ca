// The CPU model's rules: EPT misconfiguration vs violation [SDM], and the guest walk's error codes.
import { describe, it, expect } from 'vitest';
import { eptMisconfigured, reservedPaMaskHi } from '../simulator/arch/x86/ept';
import { GuestWalker, WALK_FAULT, WALK_OK, type WalkCpu, type WalkMemory } from '../simulator/arch/x86/walker';
import { indexOfVpn } from '../simulator/arch/x86/paging';

const rsvd40 = reservedPaMaskHi(40);

describe('EPT misconfiguration', () => {
  it('flags RWX 010b and 110b, not 100b (execute-only is supported) or 011b/111b', () => {
    expect(eptMisconfigured(0x2, 0, 1, true, rsvd40)).toBe(true);
    expect(eptMisconfigured(0x6, 0, 1, true, rsvd40)).toBe(true);
    expect(eptMisconfigured(0x4 | 0x30, 0, 1, true, rsvd40)).toBe(false);
    expect(eptMisconfigured(0x7 | 0x30, 0, 1, true, rsvd40)).toBe(false);
    expect(eptMisconfigured(0x3 | 0x30, 0, 1, true, rsvd40)).toBe(false);
  });
  it('flags physical-address bits between maxphyaddr and 51', () => {
    expect(eptMisconfigured(0x77, 1 << (45 - 32), 1, true, rsvd40)).toBe(true);
    expect(eptMisconfigured(0x77, 1 << (39 - 32), 1, true, rsvd40)).toBe(false);
    expect(eptMisconfigured(0x77, 1 << (45 - 32), 1, true, reservedPaMaskHi(46))).toBe(false);
  });
  it('flags leaf memory types 2, 3 and 7 and reserved bits of non-leaf entries', () => {
    for (const mt of [2, 3, 7]) expect(eptMisconfigured(0x7 | (mt << 3), 0, 1, true, rsvd40)).toBe(true);
    for (const mt of [0, 1, 4, 5, 6]) expect(eptMisconfigured(0x7 | (mt << 3), 0, 1, true, rsvd40)).toBe(false);
    expect(eptMisconfigured(0x7 | 0x8, 0, 4, false, rsvd40)).toBe(true); // PML4E bits 7:3
    expect(eptMisconfigured(0x7 | 0x10, 0, 2, false, rsvd40)).toBe(true); // PDE bits 6:3
  });
  it('the v3.1 MMIO SPTE is a misconfiguration for both reasons (RWX and bits 49-51)', () => {
    expect(eptMisconfigured(0xfebf0006, 0x01fe0000, 1, true, rsvd40)).toBe(true);
    expect(eptMisconfigured(0xfebf0006, 0x01fe0000, 1, true, reservedPaMaskHi(52))).toBe(true);
  });
});

/** Guest memory as a map of 8-byte entries, for walker tests. */
class MapMemory implements WalkMemory {
  lo = 0;
  hi = 0;
  readonly m = new Map<number, [number, number]>();
  set(gpa: number, lo: number, hi = 0): void {
    this.m.set(gpa, [lo >>> 0, hi >>> 0]);
  }
  readEntry(gpa: number): boolean {
    [this.lo, this.hi] = this.m.get(gpa) ?? [0, 0];
    return true;
  }
  setBits(gpa: number, bits: number, lo: number, hi: number): boolean {
    this.m.set(gpa, [(lo | bits) >>> 0, hi]);
    return true;
  }
}

/** One 4K mapping of vpn 0x12345 (a user page unless told otherwise) to gfn 0x777. */
function tables(leaf: number, leafHi = 0, upper = 0x67): MapMemory {
  const m = new MapMemory();
  const vpn = 0x12345;
  m.set(0x1000 + indexOfVpn(vpn, 4) * 8, 0x2000 | upper);
  m.set(0x2000 + indexOfVpn(vpn, 3) * 8, 0x3000 | upper);
  m.set(0x3000 + indexOfVpn(vpn, 2) * 8, 0x4000 | upper);
  m.set(0x4000 + indexOfVpn(vpn, 1) * 8, 0x777000 | leaf, leafHi);
  return m;
}
const cpu: WalkCpu = { cr3: 0x1000, cr0Wp: true, nx: true, smep: false, smap: false, pke: false, pkru: 0, ac: false };

describe('guest page walk', () => {
  it('translates and sets A, and D on a write, only on success (CPU style)', () => {
    const m = tables(0x7); // P W U, A and D clear
    const w = new GuestWalker(40);
    expect(w.walk(m, cpu, 0x12345, 2, false)).toBe(WALK_OK);
    expect(w.gfn).toBe(0x777);
    expect(m.m.get(0x4000 + indexOfVpn(0x12345, 1) * 8)![0] & 0x60).toBe(0x60);
    const r = tables(0x5); // read-only user page
    expect(w.walk(r, cpu, 0x12345, 2 | 4, false)).toBe(WALK_FAULT);
    expect(w.errorCode).toBe(0x7); // P | W | U
    expect(r.m.get(0x4000 + indexOfVpn(0x12345, 1) * 8)![0] & 0x20).toBe(0); // no A on a faulting access
  });
  it('reports not-present with P = 0, reserved bits with P|RSVD, NX fetches with I/D', () => {
    const w = new GuestWalker(40);
    expect(w.walk(tables(0x0), cpu, 0x12345, 0, false)).toBe(WALK_FAULT);
    expect(w.errorCode).toBe(0);
    expect(w.walk(tables(0x67, 1 << (45 - 32)), cpu, 0x12345, 2, false)).toBe(WALK_FAULT);
    expect(w.errorCode).toBe(0x8 | 0x1 | 0x2);
    expect(w.walk(tables(0x67, 0x80000000), cpu, 0x12345, 0x10, false)).toBe(WALK_FAULT);
    expect(w.errorCode).toBe(0x10 | 0x1);
    expect(w.walk(tables(0x67, 0x80000000), { ...cpu, nx: false }, 0x12345, 0x10, false)).toBe(WALK_FAULT);
    expect(w.errorCode).toBe(0x8 | 0x1); // NX is a reserved bit without EFER.NXE; no I/D bit either
  });
  it('supervisor writes to read-only pages fault only with CR0.WP', () => {
    const w = new GuestWalker(40);
    expect(w.walk(tables(0x65), { ...cpu, cr0Wp: false }, 0x12345, 2, false)).toBe(WALK_OK);
    expect(w.walk(tables(0x65), cpu, 0x12345, 2, false)).toBe(WALK_FAULT);
    expect(w.errorCode).toBe(0x3);
  });
});
