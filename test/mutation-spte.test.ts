// SPTE encodings bit for bit, with every expected value worked out from the kernel sources
// (/work/ksrc/v3.0.1 = Linux 3.0.1, /work/ksrc/v3.1 = Linux 3.1.10, arch/x86/kvm/), not from the
// simulator's output. Written to kill the mutants of simulator/kvm/mmu/spte.ts that the older tests
// let live (docs/mutation.md).
import { describe, it, expect } from 'vitest';
import { SpteFormat, spteFields, SPTE_HOST_WRITEABLE, TRAP_HI, TRAP_LO, EPT_MMIO_MASK_HI, EPT_MMIO_MASK_LO } from '../simulator/kvm/mmu/spte';
import { toBigInt } from '../simulator/arch/x86/u64';

const ACC_EXEC = 1; // mmu.h ACC_EXEC_MASK
const ACC_WRITE = 2; // ACC_WRITE_MASK = PT_WRITABLE_MASK
const ACC_USER = 4; // ACC_USER_MASK = PT_USER_MASK
const u64 = (lo: number, hi: number) => toBigInt(lo, hi);

/** Split a 64-bit value into the (lo, hi) halves the simulator uses. */
const halves = (v: bigint): [number, number] => [Number(v & 0xffffffffn), Number(v >> 32n)];

describe('the MMIO masks (kvm_mmu_set_mmio_spte_mask callers)', () => {
  it('EPT: vmx.c:3605 ept_set_mmio_spte_mask is 0xffull << 49 | 0x6ull', () => {
    expect(u64(EPT_MMIO_MASK_LO, EPT_MMIO_MASK_HI)).toBe((0xffn << 49n) | 6n);
    const f = new SpteFormat('v3.1', true, 46);
    expect(u64(f.mmioLo, f.mmioHi)).toBe(0x01fe000000000006n);
    expect(f.hasMmioSpte).toBe(true);
  });

  it('shadow, MAXPHYADDR 52: x86.c:5077-5086 clears the present bit, but the mask (bits 62:52) is still set', () => {
    // mask = ((1 << (62 - 52 + 1)) - 1) << 52 = 0x7ff0000000000000; `mask &= ~1ull` for maxphyaddr 52.
    const f = new SpteFormat('v3.1', false, 52);
    expect(u64(f.mmioLo, f.mmioHi)).toBe(0x7ff0000000000000n);
    expect(f.hasMmioSpte).toBe(true);
    // is_mmio_spte (mmu.c:217-220) is a plain mask test: with P cleared from the mask, an entry with
    // only bits 62:52 set matches, P or not.
    expect(f.isMmioSpte(0, 0x7ff00000)).toBe(true);
    expect(f.isMmioSpte(1, 0x7ff00000)).toBe(true);
    expect(f.isMmioSpte(0, 0x7fe00000)).toBe(false); // bit 52 missing
  });

  it('v3.0 has no shadow_mmio_mask at all (the 2011 series added it): nothing is MMIO, not even 0', () => {
    for (const tdp of [true, false]) {
      const f = new SpteFormat('v3.0', tdp, 40);
      expect([f.mmioLo, f.mmioHi, f.hasMmioSpte]).toEqual([0, 0, false]);
      expect(f.isMmioSpte(0, 0)).toBe(false);
      expect(f.isMmioSpte(0xffffffff, 0xffffffff)).toBe(false);
    }
  });
});

describe('is_mmio_spte (mmu.c:217-220): (spte & shadow_mmio_mask) == shadow_mmio_mask, every mask bit', () => {
  it('EPT: the marker byte alone is not enough, the low bits must be W|X = 110b', () => {
    const f = new SpteFormat('v3.1', true, 46);
    expect(f.isMmioSpte(0x6, 0x01fe0000)).toBe(true);
    expect(f.isMmioSpte(0x7, 0x01fe0000)).toBe(true); // R too: still every mask bit
    expect(f.isMmioSpte(0x4, 0x01fe0000)).toBe(false); // marker set, bit 1 (W) clear
    expect(f.isMmioSpte(0x2, 0x01fe0000)).toBe(false); // marker set, bit 2 (X) clear
    expect(f.isMmioSpte(0x0, 0x01fe0000)).toBe(false); // marker set, RWX = 000b
    expect(f.isMmioSpte(0x6, 0x00000000)).toBe(false); // low bits right, no marker
    expect(f.isMmioSpte(0x6, 0x01fc0000)).toBe(false); // marker bit 49 clear
    expect(f.isMmioSpte(0x6, 0x00fe0000)).toBe(false); // marker bit 56 clear
  });

  it('shadow, MAXPHYADDR 40: bits 62:40 and P', () => {
    const f = new SpteFormat('v3.1', false, 40);
    expect(f.isMmioSpte(0x1, 0x7fffff00)).toBe(true);
    expect(f.isMmioSpte(0x1, 0xffffff00)).toBe(true); // bit 63 is outside the mask
    expect(f.isMmioSpte(0x0, 0x7fffff00)).toBe(false); // the reserved bits without P
    expect(f.isMmioSpte(0x1, 0x7ffffe00)).toBe(false); // bit 40 clear
    expect(f.isMmioSpte(0x1, 0x3fffff00)).toBe(false); // bit 62 clear
  });
});

describe('get_mmio_spte_gfn / get_mmio_spte_access (mmu.c:222-230): the mask bits are dropped first', () => {
  it('EPT: gfn from bits 48:12; the access is the low 12 bits outside the mask (W and X are in it)', () => {
    const f = new SpteFormat('v3.1', true, 46);
    expect(f.mmioGfn(0xfebf0006, 0x01fe0000)).toBe(0xfebf0);
    expect(f.mmioGfn(0x00000006, 0x01fe1234)).toBe(0x1234 * 2 ** 20); // address bits 44:32
    expect(f.mmioAccess(0xfebf0006)).toBe(0);
    expect(f.mmioAccess(0xfebf0007)).toBe(1); // R (bit 0) is not in the mask
    expect(f.mmioAccess(0xfebf0ffe)).toBe(0xff8); // bits 11:3 are kept as they are
  });

  it('shadow, MAXPHYADDR 40: P is in the mask, W and U come back', () => {
    const f = new SpteFormat('v3.1', false, 40);
    expect(f.mmioGfn(0xfebf0007, 0x7fffff00)).toBe(0xfebf0);
    expect(f.mmioGfn(0x00000001, 0x7fffff12)).toBe(0x12 * 2 ** 20); // gfn bits 27:20 below the mask
    expect(f.mmioAccess(0xfebf0007)).toBe(6);
    expect(f.mmioAccess(0xfebf0ff7)).toBe(0xff6); // only P leaves: `& ~PAGE_MASK` keeps bits 11:1
  });

  it('mark_mmio_spte (mmu.c:209-215): access &= W|U, then mask | access | gfn << 12', () => {
    const ept = new SpteFormat('v3.1', true, 46);
    expect(u64(ept.mmioLoOf(0xfffffffff, ACC_EXEC | ACC_WRITE | ACC_USER), ept.mmioHiOf(0xfffffffff))).toBe(0x01fe000000000006n | (0xfffffffffn << 12n));
    const sh = new SpteFormat('v3.1', false, 46);
    expect(u64(sh.mmioLoOf(0x123456, ACC_EXEC), sh.mmioHiOf(0x123456))).toBe(0x7fffc00000000001n | (0x123456n << 12n));
    expect(u64(sh.mmioLoOf(0x123456, ACC_USER), sh.mmioHiOf(0x123456))).toBe(0x7fffc00000000005n | (0x123456n << 12n));
  });
});

describe('is_shadow_present_pte per era', () => {
  it('v3.1 (mmu.c:268-271): P and not MMIO', () => {
    const f = new SpteFormat('v3.1', false, 40);
    expect(f.isShadowPresent(0x1, 0)).toBe(true);
    expect(f.isShadowPresent(0x1, 0x80000000)).toBe(true); // NX leaf
    expect(f.isShadowPresent(0xffe, 0)).toBe(false); // everything but P
    expect(f.isShadowPresent(0x1, 0x7fffff00)).toBe(false); // an MMIO SPTE has P
    const ept = new SpteFormat('v3.1', true, 40);
    expect(ept.isShadowPresent(0x7, 0x01fe0000)).toBe(false); // MMIO SPTE with R set
    expect(ept.isShadowPresent(0x4, 0x01fe0000)).toBe(false); // X only: no PT_PRESENT_MASK (bit 0)
    expect(ept.isShadowPresent(0x5, 0x01fe0000)).toBe(true); // marker, but W clear: not MMIO
  });

  it('v3.0 (3.0.1 mmu.c:238-242): neither the trap nor the notrap value, compared as whole 64-bit values', () => {
    // bypass_guest_pf: kvm_mmu_set_nonpresent_ptes(~0xffeull, 0ull) (3.0.1 vmx.c:4680-4681).
    const f = new SpteFormat('v3.0', false, 40, true);
    expect(u64(f.trapLo, f.trapHi)).toBe(0xfffffffffffff001n);
    expect(u64(TRAP_LO, TRAP_HI)).toBe(~0xffen & 0xffffffffffffffffn);
    expect(f.isShadowPresent(TRAP_LO, TRAP_HI)).toBe(false); // the trap value
    expect(f.isShadowPresent(0, 0)).toBe(false); // notrap
    expect(f.isShadowPresent(0, 1)).toBe(true); // only bit 32: neither value
    expect(f.isShadowPresent(1, 0)).toBe(true);
    expect(f.isShadowPresent(TRAP_LO, 0)).toBe(true); // the trap's low half only
    expect(f.isShadowPresent(0, TRAP_HI)).toBe(true); // the trap's high half only
    expect(f.isShadowPresent(TRAP_LO, TRAP_HI >>> 1)).toBe(true); // bit 63 missing
    expect(f.isTrap(TRAP_LO, TRAP_HI)).toBe(true);
    expect(f.isTrap(TRAP_LO, 0)).toBe(false);
    expect(f.isTrap(0, TRAP_HI)).toBe(false);
    expect(f.isTrap(0, 0)).toBe(false);
  });

  it('v3.0 without bypass_guest_pf (the default argument; EPT forces it off, vmx.c:4673): both values are 0', () => {
    for (const f of [new SpteFormat('v3.0', false, 40), new SpteFormat('v3.0', true, 40)]) {
      expect([f.trapLo, f.trapHi]).toEqual([0, 0]);
      expect(f.isTrap(0, 0)).toBe(false);
      expect(f.isTrap(TRAP_LO, TRAP_HI)).toBe(false);
      expect(f.isShadowPresent(0, 0)).toBe(false);
      expect(f.isShadowPresent(TRAP_LO, TRAP_HI)).toBe(true); // just another value
      expect(f.isShadowPresent(0x2, 0)).toBe(true); // P clear, still not 0
    }
    expect([new SpteFormat('v3.1', false, 40).trapLo, new SpteFormat('v3.1', false, 40).trapHi]).toEqual([0, 0]);
  });
});

describe('set_spte (mmu.c:2182-2233) without tdp: shadow_user_mask = U, shadow_accessed_mask = A, shadow_nx_mask = NX (x86.c:5122)', () => {
  const f = new SpteFormat('v3.1', false, 46);
  const pfn = 0x123456789; // pfn << 12 = 0x123456789000
  it('ACC_ALL, not speculative: P | A | U | W | SPTE_HOST_WRITEABLE (bit 9) | pfn << 12, no NX', () => {
    expect(SPTE_HOST_WRITEABLE).toBe(1 << 9); // PT_FIRST_AVAIL_BITS_SHIFT 9 (mmu.c:105, 162)
    expect(u64(f.shadowLeafLo(pfn, ACC_EXEC | ACC_WRITE | ACC_USER, false), f.shadowLeafHi(pfn, ACC_EXEC | ACC_WRITE | ACC_USER))).toBe(0x123456789227n);
  });
  it('speculative: no accessed bit (mmu.c:2200-2201)', () => {
    expect(u64(f.shadowLeafLo(pfn, ACC_EXEC | ACC_WRITE | ACC_USER, true), f.shadowLeafHi(pfn, ACC_EXEC))).toBe(0x123456789207n);
  });
  it('no exec: NX; no user: no U; no write: no W (mmu.c:2203-2208, 2222-2233)', () => {
    expect(u64(f.shadowLeafLo(pfn, 0, false), f.shadowLeafHi(pfn, 0))).toBe(0x8000123456789221n);
    expect(u64(f.shadowLeafLo(pfn, ACC_WRITE, false), f.shadowLeafHi(pfn, ACC_WRITE))).toBe(0x8000123456789223n);
    expect(u64(f.shadowLeafLo(pfn, ACC_USER, true), f.shadowLeafHi(pfn, ACC_USER))).toBe(0x8000123456789205n);
  });
  it('link_shadow_page (mmu.c:1759-1767): __pa(sp->spt) | P | A | W | U', () => {
    expect(f.shadowNonLeafLo(0x12345)).toBe(0x12345027);
    expect(f.shadowNonLeafLo(0x123456789)).toBe(0x56789027);
  });
});

describe('set_spte and __direct_map under EPT (shadow_x_mask = EPT X, the other masks 0: vmx.c:7122-7123)', () => {
  const f = new SpteFormat('v3.1', true, 46);
  it('a leaf: P (= EPT R) | X if exec | W if write | vmx_get_mt_mask = WB << 3 | IPAT (vmx.c:6238-6239) | host-writable | pfn', () => {
    expect(f.eptLeafLo(0x12345, ACC_EXEC | ACC_WRITE | ACC_USER)).toBe(0x12345277);
    expect(f.eptLeafLo(0x12345, ACC_EXEC)).toBe(0x12345275);
    expect(f.eptLeafLo(0x12345, ACC_WRITE)).toBe(0x12345273);
    expect(f.eptLeafLo(0x12345, 0)).toBe(0x12345271);
  });
  it('a non-leaf (mmu.c:2480-2484): __pa(sp->spt) | P | W | shadow_user_mask (0) | X | shadow_accessed_mask (0)', () => {
    expect(f.eptNonLeafLo(0x12345)).toBe(0x12345007);
  });
});

describe('the bit ruler (spteFields): the ranges of each layout above', () => {
  it('EPT', () => {
    const f = new SpteFormat('v3.1', true, 46);
    // ept_set_mmio_spte_mask: marker 0xff << 49 (bits 56:49), RWX 110b; gfn << 12 below the marker.
    expect(spteFields(f, 'mmio')).toEqual([
      { name: 'MMIO marker 0xff', hi: 56, lo: 49 },
      { name: 'gfn', hi: 48, lo: 12 },
      { name: 'RWX = 110b (misconfig)', hi: 2, lo: 0 },
    ]);
    // __direct_map: pa | X | W | R.
    expect(spteFields(f, 'nonleaf')).toEqual([
      { name: 'pfn', hi: 51, lo: 12 },
      { name: 'X', hi: 2, lo: 2 },
      { name: 'W', hi: 1, lo: 1 },
      { name: 'R', hi: 0, lo: 0 },
    ]);
    // set_spte: host-writable bit 9, vmx_get_mt_mask: IPAT bit 6, memory type bits 5:3.
    expect(spteFields(f, 'leaf')).toEqual([
      { name: 'pfn', hi: 51, lo: 12 },
      { name: 'host-writable', hi: 9, lo: 9 },
      { name: 'IPAT', hi: 6, lo: 6 },
      { name: 'memory type', hi: 5, lo: 3 },
      { name: 'X', hi: 2, lo: 2 },
      { name: 'W', hi: 1, lo: 1 },
      { name: 'R', hi: 0, lo: 0 },
    ]);
    expect(spteFields(f, 'nonpresent')).toEqual([{ name: 'not present', hi: 63, lo: 0 }]);
  });

  it('shadow paging, MAXPHYADDR 40 and 46', () => {
    for (const m of [40, 46]) {
      const f = new SpteFormat('v3.1', false, m);
      // kvm_set_mmio_spte_mask: bits 62:maxphyaddr and P; mark_mmio_spte: U and W, gfn << 12.
      expect(spteFields(f, 'mmio')).toEqual([
        { name: 'reserved PA bits (mask)', hi: 62, lo: m },
        { name: 'gfn', hi: m - 1, lo: 12 },
        { name: 'U', hi: 2, lo: 2 },
        { name: 'W', hi: 1, lo: 1 },
        { name: 'P', hi: 0, lo: 0 },
      ]);
    }
    const f = new SpteFormat('v3.1', false, 40);
    // link_shadow_page: P | A | W | U.
    expect(spteFields(f, 'nonleaf')).toEqual([
      { name: 'NX', hi: 63, lo: 63 },
      { name: 'pfn', hi: 51, lo: 12 },
      { name: 'A', hi: 5, lo: 5 },
      { name: 'U', hi: 2, lo: 2 },
      { name: 'W', hi: 1, lo: 1 },
      { name: 'P', hi: 0, lo: 0 },
    ]);
    expect(spteFields(f, 'leaf')).toEqual([
      { name: 'NX', hi: 63, lo: 63 },
      { name: 'pfn', hi: 51, lo: 12 },
      { name: 'host-writable', hi: 9, lo: 9 },
      { name: 'D', hi: 6, lo: 6 },
      { name: 'A', hi: 5, lo: 5 },
      { name: 'U', hi: 2, lo: 2 },
      { name: 'W', hi: 1, lo: 1 },
      { name: 'P', hi: 0, lo: 0 },
    ]);
    expect(spteFields(f, 'nonpresent')).toEqual([{ name: 'not present', hi: 63, lo: 0 }]);
  });

  it('v3.0 trap value ~0xffe: bits 63:12 and P', () => {
    const f = new SpteFormat('v3.0', false, 40, true);
    expect(spteFields(f, 'trap')).toEqual([
      { name: 'trap: bits 12-63 set (reserved), P', hi: 63, lo: 12 },
      { name: 'P', hi: 0, lo: 0 },
    ]);
    expect(halves(0xfffffffffffff001n)).toEqual([TRAP_LO, TRAP_HI]);
  });
});
