// SPTE encodings against the worked examples of kvm-mmio-reference §2.5, and decode round trips.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { SpteFormat } from '../simulator/kvm/mmu/spte';
import { toBigInt, fromBigInt, frameHi } from '../simulator/arch/x86/u64';

const spte = (f: SpteFormat, gfn: number, access: number) => toBigInt(f.mmioLoOf(gfn, access), f.mmioHiOf(gfn));

describe('v3.1 MMIO SPTE encoding', () => {
  it('EPT: gfn 0xFEBF0, access W|U gives 0x01FE0000FEBF0006 (RWX = 110b)', () => {
    const f = new SpteFormat('v3.1', true, 40);
    const s = spte(f, 0xfebf0, 6);
    expect(s).toBe(0x01fe0000febf0006n);
    expect(Number(s & 7n)).toBe(0b110);
    const { lo, hi } = fromBigInt(s);
    expect(f.isMmioSpte(lo, hi)).toBe(true);
    expect(f.mmioGfn(lo, hi)).toBe(0xfebf0);
    expect(f.mmioAccess(lo)).toBe(0); // the EPT mask covers W and X: access decodes to 0
    expect(f.isShadowPresent(lo, hi)).toBe(false);
  });

  it('shadow, maxphyaddr 40: 0x7FFFFF00FEBF0007, P set yet not shadow-present', () => {
    const f = new SpteFormat('v3.1', false, 40);
    const s = spte(f, 0xfebf0, 6);
    expect(s).toBe(0x7fffff00febf0007n);
    const { lo, hi } = fromBigInt(s);
    expect(f.mmioGfn(lo, hi)).toBe(0xfebf0);
    expect(f.mmioAccess(lo)).toBe(6);
    expect(f.isShadowPresent(lo, hi)).toBe(false);
  });

  it('shadow masks per maxphyaddr match the reference table', () => {
    const table: [number, bigint][] = [
      [36, 0x7ffffff000000001n],
      [39, 0x7fffff8000000001n],
      [40, 0x7fffff0000000001n],
      [46, 0x7fffc00000000001n],
      [48, 0x7fff000000000001n],
      [52, 0x7ff0000000000000n],
    ];
    for (const [m, mask] of table) {
      const f = new SpteFormat('v3.1', false, m);
      expect(toBigInt(f.mmioLo, f.mmioHi)).toBe(mask);
    }
  });

  it('under EPT a gfn with address bit 49 set collides with the marker byte', () => {
    const f = new SpteFormat('v3.1', true, 50);
    const gfn = 2 ** 37; // address bit 49
    expect(f.mmioGfn(f.mmioLoOf(gfn, 0), f.mmioHiOf(gfn))).toBe(0);
  });

  it('v3.0 has no MMIO SPTE: nothing is ever MMIO', () => {
    const f = new SpteFormat('v3.0', true, 40);
    expect(f.hasMmioSpte).toBe(false);
    const { lo, hi } = fromBigInt(0x01fe0000febf0006n);
    expect(f.isMmioSpte(lo, hi)).toBe(false);
  });

  it('round-trips every gfn below maxphyaddr and every access (property)', () => {
    // Under EPT the marker byte sits at bits 49-56, so only GPAs below 2^49 survive the encoding:
    // wide enough for every CPU of the era (MAXPHYADDR <= 46).
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 36, max: 51 }), fc.integer({ min: 0, max: 7 }), fc.double({ min: 0, max: 1, noNaN: true }), (tdp, mp, access, r) => {
        const m = tdp ? Math.min(mp, 49) : mp;
        const f = new SpteFormat('v3.1', tdp, m);
        const gfn = Math.floor(r * (2 ** (m - 12) - 1));
        const lo = f.mmioLoOf(gfn, access);
        const hi = f.mmioHiOf(gfn);
        expect(f.isMmioSpte(lo, hi)).toBe(true);
        expect(f.mmioGfn(lo, hi)).toBe(gfn);
        expect(f.mmioAccess(lo)).toBe(tdp ? 0 : access & 6);
        expect(f.isShadowPresent(lo, hi)).toBe(false);
      }),
    );
  });

  it('an EPT RAM leaf is shadow-present and never MMIO (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0x100, max: 2 ** 28 - 1 }), (pfn) => {
        const f = new SpteFormat('v3.1', true, 40);
        const lo = f.eptLeafLo(pfn, 7);
        const hi = frameHi(pfn);
        expect(f.isShadowPresent(lo, hi)).toBe(true);
        expect(f.isMmioSpte(lo, hi)).toBe(false);
        expect(lo & 7).toBe(7); // R W X
        expect((lo >>> 3) & 7).toBe(6); // write-back memory type
      }),
    );
  });
});
