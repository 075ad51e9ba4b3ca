// The hardware TLB model (simulator/arch/x86/tlb.ts): LRU within a set, capacity, page sizes, tags,
// each flush against the SDM's list of what it invalidates (vol. 3C §28.3.3.1), the permission/D miss,
// the STLB refill, no allocation on lookup/insert, and a property against a reference model.
import { Session } from 'node:inspector/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  NO_EPTP, PAGE_1G, PAGE_2M, PAGE_4K, TLB_BY_PROFILE, TLB_D, TLB_NEHALEM, TLB_SKYLAKE_SP, TLB_U, TLB_W, TLB_X, Tlb,
  type TlbDesc,
} from '../simulator/arch/x86/tlb';
import { PROFILES } from '../simulator/scenario/types';

const RWX = TLB_W | TLB_U | TLB_X | TLB_D;
const ONE_SET: TlbDesc = { cpu: 'one set', arrays: [{ level: 1, sizes: 1, entries: 4, ways: 4 }] };

function hits(t: Tlb, vpid: number, eptp: number, vpn: number, need = 0): boolean {
  return t.lookup(vpid, eptp, vpn, need);
}

describe('TLB: replacement and capacity', () => {
  it('evicts the least recently used way of a set, a lookup counting as a use', () => {
    const t = new Tlb(ONE_SET);
    for (const v of [10, 11, 12, 13]) t.insert(1, NO_EPTP, v, 100 + v, PAGE_4K, RWX, 4);
    expect(hits(t, 1, NO_EPTP, 10)).toBe(true); // 11 is now the oldest
    t.insert(1, NO_EPTP, 14, 114, PAGE_4K, RWX, 4);
    expect([10, 11, 12, 13, 14].map((v) => hits(t, 1, NO_EPTP, v))).toEqual([true, false, true, true, true]);
    // Order of use is now 10 12 13 14: the next insert evicts 10.
    t.insert(1, NO_EPTP, 15, 115, PAGE_4K, RWX, 4);
    expect([10, 12, 13, 14, 15].map((v) => hits(t, 1, NO_EPTP, v))).toEqual([false, true, true, true, true]);
  });

  it('re-inserting a page replaces its entry instead of taking a second way', () => {
    const t = new Tlb(ONE_SET);
    for (const v of [1, 2, 3]) t.insert(1, NO_EPTP, v, v, PAGE_4K, RWX, 4);
    t.insert(1, NO_EPTP, 2, 99, PAGE_4K, RWX, 4);
    expect(t.occupancy()).toBe(3);
    expect(hits(t, 1, NO_EPTP, 2)).toBe(true);
    expect(t.hitFrame).toBe(99);
  });

  it('holds 64 + 512 4K pages on Nehalem: the 513th page in an STLB set evicts its oldest', () => {
    const t = new Tlb(TLB_NEHALEM);
    for (let v = 0; v <= 511; v++) t.insert(1, NO_EPTP, v, 1000 + v, PAGE_4K, RWX, 4);
    expect(t.occupancy()).toBe(64 + 512);
    t.insert(1, NO_EPTP, 512, 1512, PAGE_4K, RWX, 4); // STLB set 0 (0, 128, 256, 384): 0 goes; L1 set 0 loses 448
    expect(t.occupancy()).toBe(64 + 512);
    expect(hits(t, 1, NO_EPTP, 0)).toBe(false);
    expect(hits(t, 1, NO_EPTP, 1)).toBe(true);
    expect(t.hitLevel).toBe(2);
    expect(hits(t, 1, NO_EPTP, 511)).toBe(true);
    expect(t.hitLevel).toBe(1);
  });

  it('rejects an array whose set count is not a power of two', () => {
    expect(() => new Tlb({ cpu: 'x', arrays: [{ level: 1, sizes: 1, entries: 12, ways: 4 }] })).toThrow(/power-of-two/);
  });

  it('has a description for every cost profile', () => {
    for (const p of PROFILES) expect(TLB_BY_PROFILE[p].arrays.length).toBeGreaterThan(0);
    expect(TLB_BY_PROFILE['westmere-2011']).toBe(TLB_NEHALEM);
    expect(TLB_BY_PROFILE.modern).toBe(TLB_SKYLAKE_SP);
  });
});

describe('TLB: page sizes', () => {
  it('a 2M entry covers its 512 4K pages and no others', () => {
    const t = new Tlb(TLB_SKYLAKE_SP);
    t.insert(1, NO_EPTP, 3 * 512 + 7, 5000 + 7, PAGE_2M, RWX, 9);
    for (const k of [0, 1, 7, 300, 511]) {
      expect(hits(t, 1, NO_EPTP, 3 * 512 + k)).toBe(true);
      expect([t.hitFrame, t.hitSize, t.hitRefs]).toEqual([5000 + k, PAGE_2M, 9]);
    }
    expect(hits(t, 1, NO_EPTP, 3 * 512 - 1)).toBe(false);
    expect(hits(t, 1, NO_EPTP, 4 * 512)).toBe(false);
  });

  it('a 1G entry covers its 262144 4K pages on Skylake-SP; Nehalem caches only the 2M piece used', () => {
    const base = 5 * 262144;
    const sky = new Tlb(TLB_SKYLAKE_SP);
    const neh = new Tlb(TLB_NEHALEM);
    for (const t of [sky, neh]) t.insert(2, NO_EPTP, base + 1000, 70000 + 1000, PAGE_1G, RWX, 8);
    expect(hits(sky, 2, NO_EPTP, base + 262143)).toBe(true);
    expect([sky.hitFrame, sky.hitSize]).toEqual([70000 + 262143, PAGE_1G]);
    expect(hits(neh, 2, NO_EPTP, base + 1023)).toBe(true); // same 2M piece as page 1000
    expect([neh.hitFrame, neh.hitSize]).toEqual([70000 + 1023, PAGE_1G]);
    expect(hits(neh, 2, NO_EPTP, base + 1024)).toBe(false); // the next 2M piece was never walked
    expect(neh.occupancy()).toBe(1); // no STLB entry: Nehalem's STLB holds 4K pages only
  });

  it('page numbers above 2^32 keep their full value', () => {
    const t = new Tlb(TLB_NEHALEM);
    const high = 2 ** 35 + 5; // a 48-bit linear address
    t.insert(1, NO_EPTP, high, 2 ** 36 + 3, PAGE_4K, RWX, 4);
    expect(hits(t, 1, NO_EPTP, high)).toBe(true);
    expect(t.hitFrame).toBe(2 ** 36 + 3);
    expect(hits(t, 1, NO_EPTP, 5)).toBe(false); // same low 32 bits, another page
  });
});

describe('TLB: tags', () => {
  it('entries of one VPID, EPTP or kind (linear/combined) are invisible to another', () => {
    const t = new Tlb(TLB_SKYLAKE_SP);
    t.insert(1, 0x1000, 40, 400, PAGE_4K, RWX, 24);
    expect(hits(t, 1, 0x1000, 40)).toBe(true);
    expect(hits(t, 2, 0x1000, 40)).toBe(false);
    expect(hits(t, 1, 0x2000, 40)).toBe(false);
    expect(hits(t, 1, NO_EPTP, 40)).toBe(false);
    expect(hits(t, 0, 0x1000, 40)).toBe(false);
  });
});

describe('TLB: flushes (SDM vol. 3C §28.3.3.1)', () => {
  /** One entry per (vpid, eptp) at page 40 (4K), a 2M page around 40 under another EPTP, page 41. */
  function filled(): Tlb {
    const t = new Tlb(TLB_SKYLAKE_SP);
    t.insert(1, 0xa000, 40, 400, PAGE_4K, RWX, 24);
    t.insert(1, 0xb000, 40, 401, PAGE_2M, RWX, 24);
    t.insert(1, 0xa000, 41, 410, PAGE_4K, RWX, 24);
    t.insert(1, NO_EPTP, 40, 402, PAGE_4K, RWX, 4);
    t.insert(2, 0xa000, 40, 403, PAGE_4K, RWX, 24);
    t.insert(0, NO_EPTP, 40, 404, PAGE_4K, RWX, 4);
    return t;
  }
  const probes: [number, number, number][] = [
    [1, 0xa000, 40], [1, 0xb000, 40], [1, 0xa000, 41], [1, NO_EPTP, 40], [2, 0xa000, 40], [0, NO_EPTP, 40], [1, 0xb000, 41],
  ];
  const alive = (t: Tlb): boolean[] => probes.map(([v, e, p]) => hits(t, v, e, p));

  it('starts with every probe hitting (the 2M entry covers page 41 too)', () => {
    expect(alive(filled())).toEqual([true, true, true, true, true, true, true]);
  });

  it('INVLPG / INVVPID individual-address: that VPID, every EPTP and page size covering the address', () => {
    const t = filled();
    t.flushTagAddr(1, 40);
    // The 2M entry contains page 40, so it goes, and with it page 41 under 0xb000; 41 under 0xa000 stays.
    expect(alive(t)).toEqual([false, false, true, false, true, true, false]);
    expect(t.entriesFlushed).toBe(6); // three entries at level 1 and their STLB copies
  });

  it('INVVPID single-context (and a VPID-0 entry/exit): every mapping of that VPID only', () => {
    const t = filled();
    t.flushTag(1);
    expect(alive(t)).toEqual([false, false, false, false, true, true, false]);
    const u = filled();
    u.flushTag(0);
    expect(alive(u)).toEqual([true, true, true, true, true, false, true]);
  });

  it('INVEPT single-context: the combined mappings of that EPTP, every VPID; linear mappings stay', () => {
    const t = filled();
    t.flushEptp(0xa000);
    expect(alive(t)).toEqual([false, true, false, true, false, true, true]);
  });

  it('a global flush empties both levels and counts the flushes', () => {
    const t = filled();
    t.flushAll();
    expect(t.occupancy()).toBe(0);
    expect(alive(t)).toEqual([false, false, false, false, false, false, false]);
    expect(t.flushes).toBe(1);
    expect(t.entriesFlushed).toBe(12);
  });

  it('INVLPG removes every 2M piece of a splintered 1G page', () => {
    const t = new Tlb(TLB_NEHALEM);
    const base = 262144;
    t.insert(1, NO_EPTP, base, 9000, PAGE_1G, RWX, 4);
    t.insert(1, NO_EPTP, base + 512 * 100, 9000 + 512 * 100, PAGE_1G, RWX, 4);
    t.insert(1, NO_EPTP, 2 * base, 9000, PAGE_1G, RWX, 4); // the next 1G page
    expect(t.occupancy()).toBe(3);
    t.flushTagAddr(1, base + 262143);
    expect(t.occupancy()).toBe(1);
    expect(hits(t, 1, NO_EPTP, 2 * base)).toBe(true);
  });
});

describe('TLB: permissions and the dirty flag', () => {
  it('a hit that lacks W, U, X or D is a miss (the hardware walks again)', () => {
    const t = new Tlb(TLB_NEHALEM);
    t.insert(1, NO_EPTP, 7, 70, PAGE_4K, TLB_W | TLB_U, 4); // writable, user, D clear, NX
    expect(hits(t, 1, NO_EPTP, 7, TLB_U)).toBe(true);
    expect(hits(t, 1, NO_EPTP, 7, TLB_W | TLB_D)).toBe(false); // write to a clean page: re-walk to set D
    expect(hits(t, 1, NO_EPTP, 7, TLB_X)).toBe(false);
    expect([t.l1Hits, t.misses, t.permMisses]).toEqual([1, 2, 2]);
    t.insert(1, NO_EPTP, 7, 70, PAGE_4K, TLB_W | TLB_U | TLB_D, 4); // the re-walk set D
    expect(hits(t, 1, NO_EPTP, 7, TLB_W | TLB_D)).toBe(true);
    t.insert(1, NO_EPTP, 8, 80, PAGE_4K, TLB_W | TLB_D, 4); // supervisor page
    expect(hits(t, 1, NO_EPTP, 8, TLB_U)).toBe(false);
  });
});

describe('TLB: STLB refill', () => {
  it('a level-2 hit copies the entry into level 1', () => {
    const t = new Tlb(TLB_NEHALEM);
    // L1 set 0 holds 4 ways: pages 0, 16, 32, 48, 64 all map there; 0 leaves level 1, stays in level 2.
    for (const v of [0, 16, 32, 48, 64]) t.insert(3, NO_EPTP, v, 500 + v, PAGE_4K, RWX, 4);
    expect(hits(t, 3, NO_EPTP, 0)).toBe(true);
    expect([t.hitLevel, t.hitFrame, t.l2Hits]).toEqual([2, 500, 1]);
    expect(hits(t, 3, NO_EPTP, 0)).toBe(true);
    expect([t.hitLevel, t.l1Hits]).toEqual([1, 1]);
    // The refill evicted the oldest level-1 way (16), which the STLB still has.
    expect(hits(t, 3, NO_EPTP, 16)).toBe(true);
    expect(t.hitLevel).toBe(2);
  });
});

describe('TLB: no allocation on lookup and insert', () => {
  it('a million lookups and inserts allocate nothing (V8 sampling heap profiler, collected objects included)', async () => {
    const t = new Tlb(TLB_SKYLAKE_SP);
    const run = (n: number): number => {
      let hit = 0;
      let vpn = 0; // kept a small integer: a product that overflows one would be boxed by the loop itself
      for (let i = 0; i < n; i++) {
        // 4 VPIDs in turn, each for 4 sweeps over 1024 pages, the upper half in one 2M page: L1 hits
        // (the 2M entry), STLB hits (the 4K pages swept again) and misses (first sweep of each turn).
        vpn = (vpn + 7919) & 0x3ff;
        const vpid = (i >> 12) & 3;
        if (t.lookup(vpid, 0x5000, vpn, TLB_W | TLB_D)) hit += t.hitLevel;
        else t.insert(vpid, 0x5000, vpn, vpn + 0x100000, vpn >= 0x200 ? PAGE_2M : PAGE_4K, RWX, 24);
      }
      return hit;
    };
    run(200_000); // let the optimizing compiler take the hot paths first
    const before = [t.l1Hits, t.l2Hits, t.misses];
    const session = new Session();
    session.connect();
    try {
      await session.post('HeapProfiler.enable');
      await session.post('HeapProfiler.startSampling', {
        samplingInterval: 64,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
      run(1_000_000);
      const { profile } = await session.post('HeapProfiler.stopSampling');
      expect(t.l1Hits - before[0]!).toBeGreaterThan(100_000);
      expect(t.l2Hits - before[1]!).toBeGreaterThan(10_000);
      expect(t.misses - before[2]!).toBeGreaterThan(100_000);
      // Bytes sampled under the loop (the TLB's methods are inlined into it, so their allocations show
      // as the loop's) and in frames of tlb.ts. One 16-byte object (a boxed double) per operation would
      // be ~16 MB (29-35 MB measured with one object per hit or per insert); what remains is one-off
      // (code and feedback), about 15 KB measured. The bound is one byte per operation.
      let bytes = 0;
      const visit = (node: typeof profile.head, under: boolean): void => {
        const f = node.callFrame;
        const here = under || (f.functionName === 'run' && f.url.endsWith('test/tlb.test.ts')) || f.url.endsWith('simulator/arch/x86/tlb.ts');
        if (here) bytes += node.selfSize;
        for (const c of node.children) visit(c, here);
      };
      visit(profile.head, false);
      expect(bytes).toBeLessThan(1_000_000);
    } finally {
      session.disconnect();
    }
  });
});

describe('TLB: property', () => {
  interface Rec { vpid: number; eptp: number; base: number; pages: number; frame: number; perm: number }
  const PAGES = [1, 512, 262144];
  const op = fc.oneof(
    fc.record({
      k: fc.constant('insert' as const), vpid: fc.integer({ min: 0, max: 2 }), eptp: fc.constantFrom(NO_EPTP, 0x1000, 0x2000),
      page: fc.nat(63), size: fc.constantFrom(PAGE_4K, PAGE_4K, PAGE_2M, PAGE_1G),
      frame: fc.integer({ min: 0, max: 2 ** 30 }), perm: fc.integer({ min: 0, max: 15 }),
    }),
    fc.record({
      k: fc.constant('lookup' as const), vpid: fc.integer({ min: 0, max: 2 }), eptp: fc.constantFrom(NO_EPTP, 0x1000, 0x2000),
      page: fc.nat(63), need: fc.constantFrom(0, 0, TLB_U, TLB_W | TLB_D, TLB_X),
    }),
    fc.record({ k: fc.constantFrom('all' as const, 'tag' as const, 'addr' as const, 'eptp' as const), vpid: fc.integer({ min: 0, max: 2 }),
      eptp: fc.constantFrom(0x1000, 0x2000), page: fc.nat(63) }),
  );
  // 64 pages in clusters, so that lookups, flushes and sets meet: two 1G regions, four 2M regions
  // in each, eight 4K pages in each.
  const near = (p: number): number => (p & 1) * 262144 + ((p >> 1) & 3) * 512 + ((p >> 3) & 7);

  it('never returns a translation not inserted under the same tag since the last flush covering it', () => {
    const small: TlbDesc = { cpu: 'small', arrays: [
      { level: 1, sizes: 1, entries: 4, ways: 2 }, { level: 1, sizes: 2, entries: 2, ways: 2 }, { level: 2, sizes: 3, entries: 8, ways: 2 },
    ] };
    for (const desc of [small, TLB_NEHALEM, TLB_SKYLAKE_SP]) {
      fc.assert(
        fc.property(fc.array(op, { minLength: 40, maxLength: 120 }), (ops) => {
          const t = new Tlb(desc);
          let live: Rec[] = [];
          for (const o of ops) {
            const page = near(o.page);
            if (o.k === 'insert') {
              const pages = PAGES[o.size]!;
              live.push({ vpid: o.vpid, eptp: o.eptp, base: page - (page % pages), pages, frame: o.frame - (page % pages), perm: o.perm });
              t.insert(o.vpid, o.eptp, page, o.frame, o.size, o.perm, 4);
            } else if (o.k === 'lookup') {
              if (!t.lookup(o.vpid, o.eptp, page, o.need)) continue;
              const ok = live.some((r) => r.vpid === o.vpid && r.eptp === o.eptp && page >= r.base && page < r.base + r.pages
                && r.frame + (page - r.base) === t.hitFrame && (r.perm & o.need) === o.need);
              if (!ok) return false;
            } else if (o.k === 'all') {
              t.flushAll();
              live = [];
            } else if (o.k === 'tag') {
              t.flushTag(o.vpid);
              live = live.filter((r) => r.vpid !== o.vpid);
            } else if (o.k === 'eptp') {
              t.flushEptp(o.eptp);
              live = live.filter((r) => r.eptp !== o.eptp);
            } else {
              t.flushTagAddr(o.vpid, page);
              live = live.filter((r) => r.vpid !== o.vpid || page < r.base || page >= r.base + r.pages);
            }
          }
          return true;
        }),
        { numRuns: 300, seed: 15 },
      );
    }
  });
});
