// The hardware TLB of one logical CPU: cached combined linear -> physical translations (SDM vol. 3C
// §28.3.1 "Information That May Be Cached": linear mappings without EPT, combined mappings with it),
// set-associative arrays per page size and an optional second level (STLB). The CPU model (cpu.ts)
// looks it up on every access; docs/decisions.md "The hardware TLB model" says what is modelled, what
// is not, and where each flush comes from (docs/kernel-paths.md §19).
//
// Every entry field lives in a typed array and the results of a lookup in fields of the object, so
// lookup and insert allocate nothing (test/tlb.test.ts measures it).

import type { ProfileName } from '../../scenario/types';

/** Page-size codes. */
export const PAGE_4K = 0;
export const PAGE_2M = 1;
export const PAGE_1G = 2;
/** 4K pages per page of each size code. */
const PAGES_OF = [1, 512, 262144] as const;

/** What the walk granted, as the hardware caches it: the combined W, U and X of the whole translation
 *  (guest paging AND EPT) and whether the leaf's D was set, so a write needs no re-walk (SDM vol. 3A
 *  §4.8: a write through a TLB entry whose dirty flag is 0 walks again to set D). */
export const TLB_W = 1;
export const TLB_U = 2;
export const TLB_X = 4;
export const TLB_D = 8;

/** The EPTP tag of a linear mapping (EPT off): combined mappings carry the EPTP root instead. */
export const NO_EPTP = -1;

/** One set-associative array: which page sizes it holds (bit 1 << PAGE_x), entries and ways. */
export interface TlbArrayDesc {
  readonly level: 1 | 2;
  readonly sizes: number;
  readonly entries: number;
  readonly ways: number;
}

/** The data TLB of a documented CPU; the sources of the figures are in docs/cost-model.md "The TLB". */
export interface TlbDesc {
  readonly cpu: string;
  readonly arrays: readonly TlbArrayDesc[];
}

const S4K = 1 << PAGE_4K;
const S2M = 1 << PAGE_2M;
const S1G = 1 << PAGE_1G;

/** Nehalem/Westmere (the westmere-2011 profile's Xeon X5570): DTLB 64 x 4-way (4K), 32 x 4-way (2M),
 *  no 1G entries (a 1G page is cached as 2M entries), STLB 512 x 4-way for 4K pages only. */
export const TLB_NEHALEM: TlbDesc = {
  cpu: 'Nehalem/Westmere (Xeon X5570)',
  arrays: [
    { level: 1, sizes: S4K, entries: 64, ways: 4 },
    { level: 1, sizes: S2M, entries: 32, ways: 4 },
    { level: 2, sizes: S4K, entries: 512, ways: 4 },
  ],
};

/** Skylake-SP (the modern profile's Xeon Platinum 8168): DTLB 64 x 4-way (4K), 32 x 4-way (2M),
 *  4 x 4-way (1G); STLB 1536 x 12-way shared by 4K and 2M, 16 x 4-way for 1G. */
export const TLB_SKYLAKE_SP: TlbDesc = {
  cpu: 'Skylake-SP (Xeon Platinum 8168)',
  arrays: [
    { level: 1, sizes: S4K, entries: 64, ways: 4 },
    { level: 1, sizes: S2M, entries: 32, ways: 4 },
    { level: 1, sizes: S1G, entries: 4, ways: 4 },
    { level: 2, sizes: S4K | S2M, entries: 1536, ways: 12 },
    { level: 2, sizes: S1G, entries: 16, ways: 4 },
  ],
};

export const TLB_BY_PROFILE: Readonly<Record<ProfileName, TlbDesc>> = {
  'westmere-2011': TLB_NEHALEM,
  modern: TLB_SKYLAKE_SP,
};

export class Tlb {
  // Per array (index a): first entry, sets, ways, page sizes held, level.
  private readonly arrBase: Int32Array;
  private readonly arrSets: Int32Array;
  private readonly arrWays: Int32Array;
  private readonly arrSizes: Int32Array;
  private readonly arrLevel: Int32Array;
  /** Per page size: the level-1 size an entry is stored at (the largest held size <= it: a page larger
   *  than any level-1 array holds is cached as pieces, "splintered"), and the level-2 array that
   *  holds that size exactly (-1: not cached at level 2). */
  private readonly l1Size = new Int32Array(3);
  private readonly l1Arr = new Int32Array(3);
  private readonly l2Arr = new Int32Array(3);
  // Per entry.
  private readonly valid: Uint8Array;
  private readonly size: Uint8Array; // the size it is stored at
  private readonly orig: Uint8Array; // the size of the page the walk found (INVLPG removes all its pieces)
  private readonly vpid: Uint16Array;
  private readonly eptp: Float64Array;
  private readonly vpn: Float64Array; // virtual page number at the stored size
  private readonly frame: Float64Array; // 4K frame of the stored page's first 4K page
  private readonly perm: Uint8Array;
  private readonly refs: Uint8Array;
  private readonly stamp: Float64Array; // last use, for LRU within a set
  private clock = 0;
  /** The entry the last hit found at level 1 and its 4K page, until an entry is stored or dropped
   *  (-1 then): while it stands, a lookup of that page under that entry's tag finds it first again
   *  (lastHit). */
  private hitEntry = -1;
  private hitPage = 0;

  // Result of the last hit.
  /** The 4K frame of the looked-up 4K page. */
  hitFrame = 0;
  /** Memory references of the walk that made the entry (a later wiring charges a miss as its walk). */
  hitRefs = 0;
  /** The page size of the walk that made the entry. */
  hitSize = 0;
  hitPerm = 0;
  /** 1 or 2: the level that hit. */
  hitLevel = 0;

  // Counters.
  l1Hits = 0;
  l2Hits = 0;
  misses = 0;
  /** Misses because an entry lacked the permission or D bit the access needs (also counted in misses). */
  permMisses = 0;
  flushes = 0;
  entriesFlushed = 0;
  /** Entries stored so far (every store goes through place()). */
  private stores = 0;
  /** The last lookup that found no entry at all, and `stores` then (repeatMiss). */
  private missVpid = -1;
  private missEptp = 0;
  private missVpn = -1;
  private missStores = -1;

  constructor(readonly desc: TlbDesc) {
    const n = desc.arrays.length;
    this.arrBase = new Int32Array(n);
    this.arrSets = new Int32Array(n);
    this.arrWays = new Int32Array(n);
    this.arrSizes = new Int32Array(n);
    this.arrLevel = new Int32Array(n);
    this.l1Arr.fill(-1);
    this.l2Arr.fill(-1);
    let total = 0;
    desc.arrays.forEach((a, i) => {
      const sets = a.entries / a.ways;
      if (!Number.isInteger(sets) || sets < 1 || (sets & (sets - 1)) !== 0) {
        throw new Error(`TLB array ${i}: ${a.entries} entries / ${a.ways} ways is not a power-of-two set count`);
      }
      this.arrBase[i] = total;
      this.arrSets[i] = sets;
      this.arrWays[i] = a.ways;
      this.arrSizes[i] = a.sizes;
      this.arrLevel[i] = a.level;
      total += a.entries;
      for (let s = PAGE_4K; s <= PAGE_1G; s++) {
        if ((a.sizes & (1 << s)) === 0) continue;
        const byLevel = a.level === 1 ? this.l1Arr : this.l2Arr;
        if (byLevel[s] !== -1) throw new Error(`TLB: two level-${a.level} arrays hold page size ${s}`);
        byLevel[s] = i;
      }
    });
    if (this.l1Arr[PAGE_4K] === -1) throw new Error('TLB: no level-1 array holds 4K pages');
    for (let s = PAGE_4K; s <= PAGE_1G; s++) {
      let t = s;
      while (this.l1Arr[t] === -1) t--;
      this.l1Size[s] = t;
    }
    this.valid = new Uint8Array(total);
    this.size = new Uint8Array(total);
    this.orig = new Uint8Array(total);
    this.vpid = new Uint16Array(total);
    this.eptp = new Float64Array(total);
    this.vpn = new Float64Array(total);
    this.frame = new Float64Array(total);
    this.perm = new Uint8Array(total);
    this.refs = new Uint8Array(total);
    this.stamp = new Float64Array(total);
  }

  /** Entries in use (for tests and reports). */
  occupancy(): number {
    let n = 0;
    for (let i = 0; i < this.valid.length; i++) n += this.valid[i]!;
    return n;
  }

  /** Look up the 4K page `vpn4k` under the tag (vpid, eptp) for an access that needs the bits `need`
   *  (TLB_W/TLB_U/TLB_X, and TLB_D for a write) and none of `forbid`. A level-2 hit refills level 1. An
   *  entry that lacks a needed bit, or has a forbidden one, is a miss: the hardware walks again. */
  lookup(vpid: number, eptp: number, vpn4k: number, need: number, forbid = 0): boolean {
    const arrays = this.arrBase.length;
    for (let level = 1; level <= 2; level++) {
      for (let a = 0; a < arrays; a++) {
        if (this.arrLevel[a] !== level) continue;
        const sizes = this.arrSizes[a]!;
        for (let s = PAGE_4K; s <= PAGE_1G; s++) {
          if ((sizes & (1 << s)) === 0) continue;
          const i = this.find(a, s, vpid, eptp, Math.floor(vpn4k / PAGES_OF[s]!));
          if (i < 0) continue;
          if ((this.perm[i]! & need) !== need || (this.perm[i]! & forbid) !== 0) {
            this.permMisses++;
            this.misses++;
            return false;
          }
          this.stamp[i] = ++this.clock;
          this.hitFrame = this.frame[i]! + (vpn4k - this.vpn[i]! * PAGES_OF[s]!);
          this.hitRefs = this.refs[i]!;
          this.hitSize = this.orig[i]!;
          this.hitPerm = this.perm[i]!;
          this.hitLevel = level;
          if (level === 1) {
            this.l1Hits++;
            this.hitEntry = i;
            this.hitPage = vpn4k;
          } else {
            this.l2Hits++;
            this.insertL1(vpid, eptp, vpn4k, this.hitFrame, this.hitSize, this.hitPerm, this.hitRefs);
          }
          return true;
        }
      }
    }
    this.misses++;
    this.missVpid = vpid;
    this.missEptp = eptp;
    this.missVpn = vpn4k;
    this.missStores = this.stores;
    return false;
  }

  /**
   * A fast path (Kvm.fastPaths): the lookup of (vpid, eptp, vpn4k) would find no entry, as the last
   * such lookup found none and nothing was stored since (a flush only removes entries); counts the
   * miss as lookup() does and returns true. False: call lookup(). A warm MMIO access misses on the
   * same page every time (no failed translation is cached), and a miss probes every array.
   */
  repeatMiss(vpid: number, eptp: number, vpn4k: number): boolean {
    if (this.missStores !== this.stores || this.missVpn !== vpn4k || this.missVpid !== vpid || this.missEptp !== eptp) return false;
    this.misses++;
    return true;
  }

  /** The entry a lookup of lastPage under (vpid, eptp) would find first, as the last hit did: when that
   *  hit was at level 1 under that tag and no entry has been stored or dropped since; else -1. For a
   *  run of hits (a fast path: kvm.fastPaths); hitFrame is that page's frame. */
  lastHit(vpid: number, eptp: number): number {
    const i = this.hitEntry;
    return i >= 0 && this.vpid[i] === vpid && this.eptp[i] === eptp ? i : -1;
  }

  /** The 4K page of the last hit. */
  get lastPage(): number {
    return this.hitPage;
  }

  /** Whether entry `i` grants an access that needs `need` and forbids `forbid` (as lookup decides). */
  grants(i: number, need: number, forbid: number): boolean {
    const perm = this.perm[i]!;
    return (perm & need) === need && (perm & forbid) === 0;
  }

  /** Record `n` more level-1 hits on entry `i` of the last lookup's page: what n lookups that found it
   *  record (the results, hitFrame and the rest, stay the last lookup's). */
  hitsAgain(i: number, n: number): void {
    this.clock += n;
    this.stamp[i] = this.clock;
    this.l1Hits += n;
  }

  /** Cache the translation a walk made: the 4K page `vpn4k` maps to the 4K frame `frame4k` inside a
   *  page of size `size` (under EPT the smaller of the guest and EPT page sizes); `perm` as granted,
   *  `refs` the walk's memory references. Stored in level 1 and, where an array holds the size, level 2. */
  insert(vpid: number, eptp: number, vpn4k: number, frame4k: number, size: number, perm: number, refs: number): void {
    this.insertL1(vpid, eptp, vpn4k, frame4k, size, perm, refs);
    const a = this.l2Arr[size]!;
    if (a >= 0) this.place(a, size, size, vpid, eptp, vpn4k, frame4k, perm, refs);
  }

  /** Everything (INVEPT all-context, INVVPID all-context, power-up). */
  flushAll(): void {
    this.flushes++;
    for (let i = 0; i < this.valid.length; i++) this.drop(i);
  }

  /** INVVPID single-context, and a VM entry or exit with VPID off (vpid 0): the linear and combined
   *  mappings of `vpid`, for every EPTP. */
  flushTag(vpid: number): void {
    this.flushes++;
    for (let i = 0; i < this.valid.length; i++) if (this.vpid[i] === vpid) this.drop(i);
  }

  /** INVLPG (current VPID) and INVVPID individual-address: every entry of `vpid`, any EPTP, for the
   *  page that contains `vpn4k`, whatever its size; all pieces of a splintered page go. */
  flushTagAddr(vpid: number, vpn4k: number): void {
    this.flushes++;
    for (let i = 0; i < this.valid.length; i++) {
      if (this.valid[i] === 0 || this.vpid[i] !== vpid) continue;
      const pages = PAGES_OF[this.orig[i]!]!;
      if (Math.floor((this.vpn[i]! * PAGES_OF[this.size[i]!]!) / pages) === Math.floor(vpn4k / pages)) this.drop(i);
    }
  }

  /** INVEPT single-context: the combined mappings made under the EPTP root `eptp`, for every VPID. */
  flushEptp(eptp: number): void {
    this.flushes++;
    for (let i = 0; i < this.valid.length; i++) if (this.eptp[i] === eptp) this.drop(i);
  }

  private drop(i: number): void {
    if (this.valid[i] === 0) return;
    this.hitEntry = -1;
    this.valid[i] = 0;
    this.entriesFlushed++;
  }

  /** The entry of array `a` for (tag, vpn at size s), or -1. */
  private find(a: number, s: number, vpid: number, eptp: number, vpn: number): number {
    const ways = this.arrWays[a]!;
    const first = this.arrBase[a]! + (vpn & (this.arrSets[a]! - 1)) * ways;
    for (let i = first; i < first + ways; i++) {
      if (this.valid[i] === 1 && this.vpn[i] === vpn && this.size[i] === s && this.vpid[i] === vpid && this.eptp[i] === eptp) {
        return i;
      }
    }
    return -1;
  }

  private insertL1(vpid: number, eptp: number, vpn4k: number, frame4k: number, size: number, perm: number, refs: number): void {
    const s = this.l1Size[size]!;
    this.place(this.l1Arr[s]!, s, size, vpid, eptp, vpn4k, frame4k, perm, refs);
  }

  /** Store at size `s` in array `a`: over the entry for the same tag and page, else in a free way, else
   *  over the least recently used way of the set. */
  private place(
    a: number, s: number, orig: number, vpid: number, eptp: number, vpn4k: number, frame4k: number, perm: number, refs: number,
  ): void {
    const vpn = Math.floor(vpn4k / PAGES_OF[s]!);
    const ways = this.arrWays[a]!;
    const first = this.arrBase[a]! + (vpn & (this.arrSets[a]! - 1)) * ways;
    let victim = this.find(a, s, vpid, eptp, vpn);
    if (victim < 0) {
      victim = first;
      for (let i = first; i < first + ways; i++) {
        if (this.valid[i] === 0) {
          victim = i;
          break;
        }
        if (this.stamp[i]! < this.stamp[victim]!) victim = i;
      }
    }
    this.stores++;
    this.hitEntry = -1;
    this.valid[victim] = 1;
    this.size[victim] = s;
    this.orig[victim] = orig;
    this.vpid[victim] = vpid;
    this.eptp[victim] = eptp;
    this.vpn[victim] = vpn;
    this.frame[victim] = frame4k - (vpn4k - vpn * PAGES_OF[s]!);
    this.perm[victim] = perm;
    this.refs[victim] = refs;
    this.stamp[victim] = ++this.clock;
  }
}
