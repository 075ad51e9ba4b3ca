// The guest page walker against an independent statement of the SDM's rules (helpers/sdm-oracle.ts):
// enumerated flag combinations, page sizes and reserved bits, then a random property. Both walker
// styles are checked: the CPU's (kvmStyle false) must match the oracle exactly, results and A/D bits;
// KVM's 2011 style must give the same verdict and error code, the same A/D bits on success, and on a
// fault exactly the A bits of the 2011 descent (A level by level while no W/U/NX violation has been
// seen, up to the faulting or leaf level; never D).

import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { GuestWalker, WALK_FAULT, WALK_OK, type WalkCpu, type WalkMemory } from '../simulator/arch/x86/walker';
import { PFERR_FETCH_MASK, PFERR_PK_MASK, PFERR_PRESENT_MASK, PFERR_RSVD_MASK, PFERR_USER_MASK, PFERR_WRITE_MASK } from '../simulator/arch/x86/paging';
import { sdmReservedMask, sdmTranslate, type OracleAccess, type OracleCpu, type OracleResult } from './helpers/sdm-oracle';

// ---------------------------------------------------------------------------------------------
// Harness

/** Guest memory as a map of 8-byte entries (absent = 0), with a cmpxchg-style setBits. */
class BigMapMemory implements WalkMemory {
  lo = 0;
  hi = 0;
  constructor(readonly m: Map<number, bigint>) {}
  readEntry(gpa: number): boolean {
    const v = this.m.get(gpa) ?? 0n;
    this.lo = Number(v & 0xffffffffn);
    this.hi = Number(v >> 32n);
    return true;
  }
  setBits(gpa: number, bits: number, lo: number, hi: number): boolean {
    const cur = this.m.get(gpa) ?? 0n;
    if (cur !== ((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0))) return false;
    this.m.set(gpa, cur | BigInt(bits >>> 0));
    return true;
  }
}

const BIT = (n: number): bigint => 1n << BigInt(n);
const P = BIT(0);
const W = BIT(1);
const U = BIT(2);
const PS = BIT(7);
const A = BIT(5);
const D = BIT(6);
const NX = BIT(63);

const walkers = new Map<number, GuestWalker>();
function walkerFor(maxphyaddr: number): GuestWalker {
  let w = walkers.get(maxphyaddr);
  if (!w) walkers.set(maxphyaddr, (w = new GuestWalker(maxphyaddr)));
  return w;
}

function pfecOf(a: OracleAccess): number {
  return (a.write ? PFERR_WRITE_MASK : 0) | (a.user ? PFERR_USER_MASK : 0) | (a.fetch ? PFERR_FETCH_MASK : 0);
}

function walkCpuOf(c: OracleCpu): WalkCpu {
  return { cr3: c.cr3, cr0Wp: c.cr0Wp, nx: c.nx, smep: c.smep, smap: c.smap, pke: c.pke, pkru: c.pkru, ac: c.ac };
}

function sameMemory(x: Map<number, bigint>, y: Map<number, bigint>): boolean {
  for (const k of new Set([...x.keys(), ...y.keys()])) if ((x.get(k) ?? 0n) !== (y.get(k) ?? 0n)) return false;
  return true;
}

function withBits(tables: Map<number, bigint>, bits: Map<number, bigint>): Map<number, bigint> {
  const m = new Map(tables);
  for (const [k, b] of bits) m.set(k, (m.get(k) ?? 0n) | b);
  return m;
}

const KIND_BITS: readonly [string, number, number][] = [
  ['PML4E', 47, 39],
  ['PDPTE', 38, 30],
  ['PDE', 29, 21],
  ['PTE', 20, 12],
];

/**
 * The A bits KVM's 2011 walker (v3.2 FNAME(walk_addr_generic)) leaves on a faulting walk: descending,
 * each present entry without reserved bits is checked for W/U/NX violations (per entry, accumulated
 * into eperm) and gets A while eperm is still clear; the descent stops at a not-present or reserved
 * entry (no A there) or at the leaf.
 */
function kvm2011AccessedBits(tables: Map<number, bigint>, cpu: OracleCpu, gva: bigint, a: OracleAccess): Map<number, bigint> {
  const out = new Map<number, bigint>();
  let base = BigInt(cpu.cr3) & ~0xfffn;
  let eperm = false;
  for (const [kind, hi, lo] of KIND_BITS) {
    const addr = Number(base + ((gva >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n)) * 8n);
    const e = tables.get(addr) ?? 0n;
    if ((e & P) === 0n) break;
    const ps = (kind === 'PDPTE' || kind === 'PDE') && (e & PS) !== 0n;
    if ((e & sdmReservedMask(kind as 'PML4E', ps, cpu.maxphyaddr, cpu.nx, true)) !== 0n) break;
    if (a.write && (e & W) === 0n && (a.user || cpu.cr0Wp)) eperm = true;
    if (a.user && (e & U) === 0n) eperm = true;
    if (a.fetch && cpu.nx && (e & NX) !== 0n) eperm = true;
    if (!eperm) out.set(addr, A);
    if (kind === 'PTE' || ps) break;
    base = e & ((1n << BigInt(cpu.maxphyaddr)) - 1n) & ~0xfffn;
  }
  return out;
}

/** Compare both walker styles against the oracle; null when everything matches, else a description. */
function check(tables: Map<number, bigint>, cpu: OracleCpu, gva: bigint, a: OracleAccess): string | null {
  const want: OracleResult = sdmTranslate(tables, cpu, gva, a);
  const w = walkerFor(cpu.maxphyaddr);
  const vpn = Number(gva >> 12n);
  const pfec = pfecOf(a);
  const wcpu = walkCpuOf(cpu);
  const describe = (what: string): string =>
    `${what}: gva=0x${gva.toString(16)} access=${JSON.stringify(a)} cpu=${JSON.stringify(cpu)} tables=${[...tables].map(([k, v]) => `${k.toString(16)}:${v.toString(16)}`).join(',')} want=${want.ok ? 'ok 0x' + want.gpa.toString(16) : 'fault 0x' + want.errorCode.toString(16)}`;

  // The CPU style: exactly the oracle.
  const cpuMem = new BigMapMemory(new Map(tables));
  const r = w.walk(cpuMem, wcpu, vpn, pfec, false);
  if (want.ok) {
    if (r !== WALK_OK) return describe(`cpu: status ${r} ec 0x${w.errorCode.toString(16)}`);
    const gpa = BigInt(w.gfn) * 4096n + (gva & 0xfffn);
    if (gpa !== want.gpa) return describe(`cpu: gpa 0x${gpa.toString(16)}`);
    if (!sameMemory(cpuMem.m, withBits(tables, want.setAD))) return describe('cpu: A/D differ');
  } else {
    if (r !== WALK_FAULT) return describe(`cpu: status ${r}`);
    if (w.errorCode !== want.errorCode) return describe(`cpu: error code 0x${w.errorCode.toString(16)}`);
    if (!sameMemory(cpuMem.m, tables)) return describe('cpu: memory changed on a fault');
  }
  const cpuGfn = w.gfn;

  // KVM's 2011 style: the oracle with KVM's reserved bit 8 (reset_rsvds_bits_mask); identical A/D
  // to the CPU's on success; the 2011 A bits on a fault.
  const wantKvm = sdmTranslate(tables, cpu, gva, a, true);
  const kvmMem = new BigMapMemory(new Map(tables));
  const k = w.walk(kvmMem, wcpu, vpn, pfec, true);
  if (k !== (wantKvm.ok ? WALK_OK : WALK_FAULT)) return describe(`kvm: status ${k}`);
  if (wantKvm.ok) {
    if (w.gfn !== cpuGfn) return describe('kvm: gfn differs');
    if (!sameMemory(kvmMem.m, cpuMem.m)) return describe('kvm: A/D differ from the CPU style on success');
  } else {
    if (w.errorCode !== wantKvm.errorCode) return describe(`kvm: error code 0x${w.errorCode.toString(16)}`);
    if (!sameMemory(kvmMem.m, withBits(tables, kvm2011AccessedBits(tables, cpu, gva, a)))) return describe('kvm: A bits on a fault');
  }
  return null;
}

/** Run `body` over a list of cases, collecting mismatches; returns the number of cases. */
function runCases(cases: Iterable<[Map<number, bigint>, OracleCpu, bigint, OracleAccess]>): { n: number; bad: string[] } {
  let n = 0;
  const bad: string[] = [];
  for (const [t, c, g, a] of cases) {
    n++;
    const m = check(t, c, g, a);
    if (m !== null && bad.length < 5) bad.push(m);
  }
  return { n, bad };
}

// ---------------------------------------------------------------------------------------------
// Fixed layout: PML4 at 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000.

const CR3 = 0x1000;
const IDX = { PML4E: 3n, PDPTE: 5n, PDE: 7n, PTE: 9n };
const GVA = (IDX.PML4E << 39n) | (IDX.PDPTE << 30n) | (IDX.PDE << 21n) | (IDX.PTE << 12n) | 0x123n;
const ADDR = {
  PML4E: 0x1000 + Number(IDX.PML4E) * 8,
  PDPTE: 0x2000 + Number(IDX.PDPTE) * 8,
  PDE: 0x3000 + Number(IDX.PDE) * 8,
  PTE: 0x4000 + Number(IDX.PTE) * 8,
};
const PAGE_4K = 0x777000n;
const PAGE_2M = 0x12600000n; // 2M-aligned
const PAGE_1G = 0xc0000000n; // 1G-aligned

function layout(pml4e: bigint, pdpte: bigint, pde: bigint, pte: bigint): Map<number, bigint> {
  return new Map([
    [ADDR.PML4E, 0x2000n | pml4e],
    [ADDR.PDPTE, 0x3000n | pdpte],
    [ADDR.PDE, 0x4000n | pde],
    [ADDR.PTE, PAGE_4K | pte],
  ]);
}
/** A layout whose leaf is at `size` (4K, 2M or 1G) with flags `leaf`, upper entries `upper`. */
function sizedLayout(size: '4K' | '2M' | '1G', leaf: bigint, upper: bigint): Map<number, bigint> {
  if (size === '4K') return layout(upper, upper, upper, leaf);
  if (size === '2M') return new Map([[ADDR.PML4E, 0x2000n | upper], [ADDR.PDPTE, 0x3000n | upper], [ADDR.PDE, PAGE_2M | PS | leaf]]);
  return new Map([[ADDR.PML4E, 0x2000n | upper], [ADDR.PDPTE, PAGE_1G | PS | leaf]]);
}

const FLAG_SETS: bigint[] = [];
for (let i = 0; i < 16; i++) FLAG_SETS.push((i & 1 ? P : 0n) | (i & 2 ? W : 0n) | (i & 4 ? U : 0n) | (i & 8 ? NX : 0n));

const ACCESSES: [string, { write: boolean; fetch: boolean }][] = [
  ['read', { write: false, fetch: false }],
  ['write', { write: true, fetch: false }],
  ['fetch', { write: false, fetch: true }],
];
const BOOLS = [false, true];
/** SMAP off; SMAP with EFLAGS.AC = 0; SMAP with EFLAGS.AC = 1. */
const SMAP_AC: [boolean, boolean][] = [[false, false], [true, false], [true, true]];
/** PKE off, or on with PKRU: none, AD of key 1, WD of key 1, AD|WD of key 0, WD of key 0. */
const PK_CONFIGS: [boolean, number][] = [[false, 0], [true, 0], [true, 0x4], [true, 0x8], [true, 0x3], [true, 0x2]];

function* cpus(maxphyaddr: number): Generator<OracleCpu> {
  for (const cr0Wp of BOOLS)
    for (const nx of BOOLS)
      for (const smep of BOOLS)
        for (const [smap, ac] of SMAP_AC)
          for (const [pke, pkru] of PK_CONFIGS) yield { cr3: CR3, cr0Wp, nx, smep, smap, pke, pkru, ac, maxphyaddr };
}

const counts: Record<string, number> = {};

// ---------------------------------------------------------------------------------------------

describe('walker vs SDM oracle: PDE/PTE flags x access x CPU mode (4K pages)', () => {
  for (const [name, acc] of ACCESSES) {
    for (const user of BOOLS) {
      it(`${name}, CPL ${user ? 3 : 0}`, () => {
        const a: OracleAccess = { ...acc, user };
        function* cases(): Generator<[Map<number, bigint>, OracleCpu, bigint, OracleAccess]> {
          for (const pde of FLAG_SETS)
            for (const pte of FLAG_SETS)
              for (const pkey of [0n, 1n])
                for (const c of cpus(40)) yield [layout(P | W | U, P | W | U, pde, pte | (pkey << 59n)), c, GVA, a];
        }
        const { n, bad } = runCases(cases());
        counts[`flags ${name} cpl${user ? 3 : 0}`] = n;
        expect(bad).toEqual([]);
        expect(n).toBe(16 * 16 * 2 * 2 * 2 * 2 * 3 * 6);
      }, 120_000);
    }
  }
});

describe('walker vs SDM oracle: page sizes', () => {
  it('4K, 2M and 1G leaves with leaf flags, PAT, upper-level W/U, offsets, access and CPU mode', () => {
    const uppers = [P | W | U, P | U, P | W]; // all, upper read-only, upper supervisor
    const gvas = [GVA, GVA | (0x1abn << 12n) | 0xfffn, (IDX.PML4E << 39n) | (IDX.PDPTE << 30n) | 0x3ffff000n];
    function* cases(): Generator<[Map<number, bigint>, OracleCpu, bigint, OracleAccess]> {
      for (const size of ['4K', '2M', '1G'] as const)
        for (const leaf of FLAG_SETS)
          for (const pat of [0n, size === '4K' ? BIT(7) : BIT(12)])
            for (const upper of uppers)
              for (const gva of gvas)
                for (const [, acc] of ACCESSES)
                  for (const user of BOOLS)
                    for (const cr0Wp of BOOLS)
                      for (const nx of BOOLS)
                        for (const smep of BOOLS)
                          for (const [smap, ac] of SMAP_AC) {
                            const t = sizedLayout(size, leaf | pat, upper);
                            yield [t, { cr3: CR3, cr0Wp, nx, smep, smap, pke: false, pkru: 0, ac, maxphyaddr: 40 }, gva, { ...acc, user }];
                          }
    }
    const { n, bad } = runCases(cases());
    counts['page sizes'] = n;
    expect(bad).toEqual([]);
    expect(n).toBe(3 * 16 * 2 * 3 * 3 * 3 * 2 * 2 * 2 * 2 * 3);
  }, 120_000);

  it('translates the offset within a large page and ignores PAT (bit 12) as an address bit', () => {
    const w = walkerFor(40);
    const cpu: WalkCpu = { cr3: CR3, cr0Wp: true, nx: true, smep: false, smap: false, pke: false, pkru: 0, ac: false };
    const m2 = new BigMapMemory(sizedLayout('2M', P | W | BIT(12), P | W));
    expect(w.walk(m2, cpu, Number(GVA >> 12n), 0, false)).toBe(WALK_OK);
    expect(w.level).toBe(2);
    expect(w.gfn).toBe(Number(PAGE_2M >> 12n) + Number(IDX.PTE));
    const m1 = new BigMapMemory(sizedLayout('1G', P | W | BIT(12), P | W));
    expect(w.walk(m1, cpu, Number(GVA >> 12n), 0, false)).toBe(WALK_OK);
    expect(w.level).toBe(3);
    expect(w.gfn).toBe(Number(PAGE_1G >> 12n) + Number(IDX.PDE) * 512 + Number(IDX.PTE));
  });
});

describe('walker vs SDM oracle: reserved bits', () => {
  const sizes = ['4K', '2M', '1G'] as const;
  const kindsFor = { '4K': ['PML4E', 'PDPTE', 'PDE', 'PTE'], '2M': ['PML4E', 'PDPTE', 'PDE'], '1G': ['PML4E', 'PDPTE'] } as const;

  it('every bit 0-63 set in every entry, per page size, MAXPHYADDR 36/40/52, EFER.NX, access, CPL', () => {
    function* cases(): Generator<[Map<number, bigint>, OracleCpu, bigint, OracleAccess]> {
      for (const size of sizes)
        for (const kind of kindsFor[size])
          for (let bit = 0; bit < 64; bit++)
            for (const maxphyaddr of [36, 40, 52])
              for (const nx of BOOLS)
                for (const [, acc] of ACCESSES)
                  for (const user of BOOLS) {
                    const t = sizedLayout(size, P | W | U, P | W | U);
                    t.set(ADDR[kind], t.get(ADDR[kind])! | BIT(bit));
                    yield [t, { cr3: CR3, cr0Wp: true, nx, smep: false, smap: false, pke: true, pkru: 0, ac: false, maxphyaddr }, GVA, { ...acc, user }];
                  }
    }
    const { n, bad } = runCases(cases());
    counts['reserved bits'] = n;
    expect(bad).toEqual([]);
    expect(n).toBe((4 + 3 + 2) * 64 * 3 * 2 * 3 * 2);
  }, 120_000);

  /** Walk the 4K/2M/1G layout with `bit` set in `kind`'s entry; a supervisor read unless told. */
  function walkWith(size: '4K' | '2M' | '1G', kind: keyof typeof ADDR, bit: number, maxphyaddr: number, nx = true, pfec = 0): [number, number, number] {
    const t = sizedLayout(size, P | W | U, P | W | U);
    t.set(ADDR[kind], t.get(ADDR[kind])! | BIT(bit));
    const w = walkerFor(maxphyaddr);
    const cpu: WalkCpu = { cr3: CR3, cr0Wp: true, nx, smep: false, smap: false, pke: false, pkru: 0, ac: false };
    const r = w.walk(new BigMapMemory(t), cpu, Number(GVA >> 12n), pfec, false);
    return [r, w.errorCode, w.reads];
  }
  const RSVD = PFERR_RSVD_MASK | PFERR_PRESENT_MASK;

  it('bit 51 is reserved in every entry (MAXPHYADDR 40) and stops the walk there', () => {
    expect(walkWith('4K', 'PML4E', 51, 40)).toEqual([WALK_FAULT, RSVD, 1]);
    expect(walkWith('4K', 'PDPTE', 51, 40)).toEqual([WALK_FAULT, RSVD, 2]);
    expect(walkWith('4K', 'PDE', 51, 40)).toEqual([WALK_FAULT, RSVD, 3]);
    expect(walkWith('4K', 'PTE', 51, 40, true, PFERR_WRITE_MASK)).toEqual([WALK_FAULT, RSVD | PFERR_WRITE_MASK, 4]);
    expect(walkWith('2M', 'PDE', 51, 40)).toEqual([WALK_FAULT, RSVD, 3]);
    expect(walkWith('1G', 'PDPTE', 51, 40)).toEqual([WALK_FAULT, RSVD, 2]);
    expect(walkWith('4K', 'PTE', 51, 52)[0]).toBe(WALK_OK);
  });
  it('bit 36 is reserved with MAXPHYADDR 36, an address bit with MAXPHYADDR 40', () => {
    expect(walkWith('4K', 'PTE', 36, 36)).toEqual([WALK_FAULT, RSVD, 4]);
    expect(walkWith('4K', 'PTE', 36, 40)[0]).toBe(WALK_OK);
    expect(walkerFor(40).gfn).toBe(Number((PAGE_4K | BIT(36)) >> 12n));
  });
  it('bit 13 is reserved in a 2M PDE and a 1G PDPTE, an address bit in a non-leaf PDE', () => {
    expect(walkWith('2M', 'PDE', 13, 40)).toEqual([WALK_FAULT, RSVD, 3]);
    expect(walkWith('2M', 'PDE', 20, 40)).toEqual([WALK_FAULT, RSVD, 3]);
    expect(walkWith('2M', 'PDE', 21, 40)[0]).toBe(WALK_OK);
    expect(walkWith('1G', 'PDPTE', 13, 40)).toEqual([WALK_FAULT, RSVD, 2]);
    expect(walkWith('1G', 'PDPTE', 29, 40)).toEqual([WALK_FAULT, RSVD, 2]);
    expect(walkWith('4K', 'PDE', 13, 40)).toEqual([WALK_FAULT, 0, 4]); // points at an empty table: not present
  });
  it('PS (bit 7) in a PML4E is reserved; bit 8 of a PML4E is ignored (Intel)', () => {
    expect(walkWith('4K', 'PML4E', 7, 40)).toEqual([WALK_FAULT, RSVD, 1]);
    expect(walkWith('4K', 'PML4E', 8, 40)[0]).toBe(WALK_OK);
    expect(walkWith('1G', 'PML4E', 8, 40)[0]).toBe(WALK_OK);
  });
  it('bit 63 is reserved only without EFER.NXE; bits 62:52 are ignored', () => {
    for (const kind of ['PML4E', 'PDPTE', 'PDE', 'PTE'] as const) {
      const level = { PML4E: 1, PDPTE: 2, PDE: 3, PTE: 4 }[kind];
      expect(walkWith('4K', kind, 63, 40, false)).toEqual([WALK_FAULT, RSVD, level]);
      expect(walkWith('4K', kind, 63, 40, true)[0]).toBe(WALK_OK);
      for (let b = 52; b <= 62; b++) expect(walkWith('4K', kind, b, 40, false)[0]).toBe(WALK_OK);
    }
  });
  it('a reserved bit takes priority over permission violations above it', () => {
    // User write through a supervisor, read-only PDE to a PTE with a reserved bit: RSVD, not just P.
    const t = layout(P | W | U, P | W | U, P, P | BIT(51));
    const w = walkerFor(40);
    const cpu: WalkCpu = { cr3: CR3, cr0Wp: true, nx: true, smep: true, smap: true, pke: true, pkru: 0xffffffff, ac: false };
    expect(w.walk(new BigMapMemory(t), cpu, Number(GVA >> 12n), PFERR_WRITE_MASK | PFERR_USER_MASK, false)).toBe(WALK_FAULT);
    expect(w.errorCode).toBe(RSVD | PFERR_WRITE_MASK | PFERR_USER_MASK);
  });
});

describe('recursive mappings', () => {
  it('an entry used at several levels gets A once, and D too when it maps the page (both styles)', () => {
    const cpu: OracleCpu = { cr3: CR3, cr0Wp: true, nx: true, smep: false, smap: false, pke: false, pkru: 0, ac: false, maxphyaddr: 40 };
    // PML4E 0 points at the PML4 itself: gva (0, 0, 1, 2) uses it as PML4E and PDPTE.
    const twice = new Map<number, bigint>([
      [0x1000, 0x1000n | P | W | U],
      [0x1008, 0x4000n | P | W | U],
      [0x4010, 0x5000n | P | W | U],
    ]);
    const gvaTwice = (1n << 21n) | (2n << 12n);
    // gva 0 uses it at all four levels, the last time as the PTE that maps the page (gfn 1).
    const fourTimes = new Map<number, bigint>([[0x1000, 0x1000n | P | W | U]]);
    for (const a of [{ write: false, user: false, fetch: false }, { write: true, user: true, fetch: false }]) {
      expect(check(twice, cpu, gvaTwice, a)).toBeNull();
      expect(check(fourTimes, cpu, 0n, a)).toBeNull();
    }
    const w = walkerFor(40);
    const m = new BigMapMemory(new Map(fourTimes));
    expect(w.walk(m, walkCpuOf(cpu), 0, PFERR_WRITE_MASK, false)).toBe(WALK_OK);
    expect(w.gfn).toBe(1);
    expect(m.m.get(0x1000)).toBe(0x1000n | P | W | U | A | D);
  });
});

describe('error-code details', () => {
  const w = walkerFor(40);
  const base: WalkCpu = { cr3: CR3, cr0Wp: true, nx: false, smep: false, smap: false, pke: false, pkru: 0, ac: false };
  const vpn = Number(GVA >> 12n);
  const run = (t: Map<number, bigint>, cpu: WalkCpu, pfec: number): [number, number] => [w.walk(new BigMapMemory(t), cpu, vpn, pfec, false), w.errorCode];

  it('I/D is reported for fetches only with EFER.NXE or CR4.SMEP, on every kind of fault', () => {
    const notPresent = layout(P | W | U, P | W | U, P | W | U, 0n);
    expect(run(notPresent, base, PFERR_FETCH_MASK)).toEqual([WALK_FAULT, 0]);
    expect(run(notPresent, { ...base, nx: true }, PFERR_FETCH_MASK)).toEqual([WALK_FAULT, PFERR_FETCH_MASK]);
    expect(run(notPresent, { ...base, smep: true }, PFERR_FETCH_MASK)).toEqual([WALK_FAULT, PFERR_FETCH_MASK]);
    // SMEP: supervisor fetch from a user page, EFER.NXE off.
    expect(run(layout(P | W | U, P | W | U, P | W | U, P | U), { ...base, smep: true }, PFERR_FETCH_MASK)).toEqual([WALK_FAULT, PFERR_PRESENT_MASK | PFERR_FETCH_MASK]);
    // A page that is supervisor at one level is not a user page: no SMEP fault.
    expect(run(layout(P | W, P | W | U, P | W | U, P | U), { ...base, smep: true }, PFERR_FETCH_MASK)[0]).toBe(WALK_OK);
  });

  // PK decision (see walker.ts): PK is set whenever the protection key denies the access, also when
  // another access right is violated too (SDM §4.7: the flag describes the key check; KVM's
  // permission_fault ORs PFERR_PK independently of permissions[]); never on not-present or RSVD.
  it('PK: set when the key denies, with or without another violation; not for non-user pages or fetches', () => {
    const pke: WalkCpu = { ...base, nx: true, pke: true };
    const userRo = layout(P | W | U, P | W | U, P | W | U, P | U | (1n << 59n)); // key 1, read-only
    const userRw = layout(P | W | U, P | W | U, P | W | U, P | W | U | (1n << 59n));
    const WD1 = 0x8;
    const AD1 = 0x4;
    const UW = PFERR_USER_MASK | PFERR_WRITE_MASK;
    // WD alone denies a user write to a writable page: P|W|U|PK.
    expect(run(userRw, { ...pke, pkru: WD1 }, UW)).toEqual([WALK_FAULT, PFERR_PRESENT_MASK | UW | PFERR_PK_MASK]);
    // Read-only page and WD: both deny; PK is still reported.
    expect(run(userRo, { ...pke, pkru: WD1 }, UW)).toEqual([WALK_FAULT, PFERR_PRESENT_MASK | UW | PFERR_PK_MASK]);
    // Read-only page, key 1 allows (only key 2 is denied): no PK.
    expect(run(userRo, { ...pke, pkru: 0x30 }, UW)).toEqual([WALK_FAULT, PFERR_PRESENT_MASK | UW]);
    // Supervisor write with CR0.WP = 0: WD does not apply.
    expect(run(userRw, { ...pke, cr0Wp: false, pkru: WD1 }, PFERR_WRITE_MASK)[0]).toBe(WALK_OK);
    expect(run(userRw, { ...pke, cr0Wp: true, pkru: WD1 }, PFERR_WRITE_MASK)).toEqual([WALK_FAULT, PFERR_PRESENT_MASK | PFERR_WRITE_MASK | PFERR_PK_MASK]);
    // AD blocks supervisor reads of user pages too; together with SMAP (AC = 0) both deny: P|PK.
    expect(run(userRw, { ...pke, pkru: AD1 }, 0)).toEqual([WALK_FAULT, PFERR_PRESENT_MASK | PFERR_PK_MASK]);
    expect(run(userRw, { ...pke, pkru: AD1, smap: true }, 0)).toEqual([WALK_FAULT, PFERR_PRESENT_MASK | PFERR_PK_MASK]);
    // Fetches ignore keys.
    expect(run(userRw, { ...pke, pkru: AD1 }, PFERR_FETCH_MASK | PFERR_USER_MASK)[0]).toBe(WALK_OK);
    // Not a user page (U clear in the PDE): keys do not apply, the user access faults on U alone.
    const supPde = layout(P | W | U, P | W | U, P | W, P | W | U | (1n << 59n));
    expect(run(supPde, { ...pke, pkru: AD1 }, PFERR_USER_MASK)).toEqual([WALK_FAULT, PFERR_PRESENT_MASK | PFERR_USER_MASK]);
    expect(run(supPde, { ...pke, pkru: AD1 }, 0)[0]).toBe(WALK_OK);
    // Keys in non-leaf entries are ignored.
    const keyInPde = layout(P | W | U, P | W | U, P | W | U | (1n << 59n), P | W | U);
    expect(run(keyInPde, { ...pke, pkru: AD1 }, PFERR_USER_MASK)[0]).toBe(WALK_OK);
    // Not present under PKE: no PK.
    expect(run(layout(P | W | U, P | W | U, P | W | U, 0n), { ...pke, pkru: 0xffffffff }, PFERR_USER_MASK)).toEqual([WALK_FAULT, PFERR_USER_MASK]);
  });
});

describe('walker vs SDM oracle: random entries (fast-check)', () => {
  // Interesting bits beyond the low flags: address bits that may exceed MAXPHYADDR, PAT/large-page
  // reserved bits, ignored bits, the protection key, NX.
  const extraBit = fc.constantFrom(12, 13, 20, 21, 29, 30, 35, 36, 39, 40, 45, 51, 52, 58, 59, 60, 61, 62, 63);
  const entry = (next: bigint) =>
    fc
      .record({
        low: fc.integer({ min: 0, max: 0xfff }),
        present: fc.integer({ min: 0, max: 9 }).map((n) => n < 8), // mostly present
        extras: fc.array(extraBit, { maxLength: 2 }),
        nx: fc.boolean(),
        pkey: fc.integer({ min: 0, max: 15 }),
        addr: fc.oneof(fc.constant(next), fc.bigInt({ min: 0n, max: (1n << 40n) - 1n }).map((a) => a & ~0xfffn)),
      })
      .map(({ low, present, extras, nx, pkey, addr }) => {
        let v = addr | BigInt(low & ~1) | (present ? P : 0n) | (nx ? NX : 0n) | (BigInt(pkey) << 59n);
        for (const b of extras) v |= BIT(b);
        return v;
      });
  const cpuArb = fc.record({
    cr3: fc.constant(CR3),
    cr0Wp: fc.boolean(),
    nx: fc.boolean(),
    smep: fc.boolean(),
    smap: fc.boolean(),
    pke: fc.boolean(),
    pkru: fc.integer({ min: 0, max: 0xffffffff }),
    ac: fc.boolean(),
    maxphyaddr: fc.constantFrom(36, 39, 40, 46, 52),
  });
  const accessArb = fc.record({ kind: fc.constantFrom('read', 'write', 'fetch'), user: fc.boolean() }).map(({ kind, user }) => ({ write: kind === 'write', fetch: kind === 'fetch', user }));
  const gvaArb = fc.bigInt({ min: 0n, max: (1n << 47n) - 1n });

  it('the walker (both styles) agrees with the oracle', () => {
    fc.assert(
      fc.property(gvaArb, entry(0x2000n), entry(0x3000n), entry(0x4000n), entry(0x5000n), cpuArb, accessArb, (gva, e4, e3, e2, e1, cpu, a) => {
        const idx = (lo: number): bigint => (gva >> BigInt(lo)) & 511n;
        const t = new Map<number, bigint>([
          [Number(0x1000n + idx(39) * 8n), e4],
          [Number(0x2000n + idx(30) * 8n), e3],
          [Number(0x3000n + idx(21) * 8n), e2],
          [Number(0x4000n + idx(12) * 8n), e1],
        ]);
        const m = check(t, cpu, gva, a);
        if (m !== null) throw new Error(m);
      }),
      { numRuns: 20_000 },
    );
  }, 120_000);
});

describe('enumeration size', () => {
  it('reports the number of enumerated cases', () => {
    const total = Object.values(counts).reduce((x, y) => x + y, 0);
    console.log(`walker-sdm: enumerated cases ${JSON.stringify(counts)} total ${total}`);
    expect(total).toBeGreaterThan(0);
  });
});
