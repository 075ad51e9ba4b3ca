// The hot paths take low bits of addresses above 2^32 with masks and shifts instead of `%`
// (simulator/arch/x86/u64.ts): exact for every integer below 2^53, checked against BigInt.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { frameLo, vaLo, vaHi } from '../simulator/arch/x86/u64';

const big = fc.bigInt({ min: 0n, max: 2n ** 53n - 1n });

describe('mask arithmetic on addresses up to 2^53', () => {
  it('vaLo and vaHi are the halves of vpn << 12 | offset (vpn < 2^52)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 52n - 1n }), fc.integer({ min: 0, max: 4095 }), (vpn, offset) => {
        const va = (vpn << 12n) | BigInt(offset);
        expect(vaLo(Number(vpn), offset)).toBe(Number(va & 0xffffffffn));
        expect(vaHi(Number(vpn))).toBe(Number((va >> 32n) & 0xffffffffn));
      }),
    );
    expect(vaLo(2 ** 52 - 1, 4095)).toBe(0xffffffff);
    expect(vaLo(2 ** 36 + 0x12345, 0x678)).toBe(0x12345678);
  });
  it('frameLo is the low half of frame << 12, and x & 0xfff is x % 4096', () => {
    fc.assert(
      fc.property(big, (x) => {
        expect(frameLo(Number(x >> 12n))).toBe(Number((x >> 12n << 12n) & 0xffffffffn));
        expect(Number(x) & 0xfff).toBe(Number(x % 4096n));
        expect(Number(x) & (512 * 512 - 1)).toBe(Number(x % 262144n));
      }),
    );
  });
});
