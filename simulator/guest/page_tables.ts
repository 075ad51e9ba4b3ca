// Builds the guest's 4-level page tables in guest RAM from the scenario's mappings, the way a guest
// kernel would have before the measured run starts: table pages are taken from the top of the RAM
// below `guest.page_tables_top` (default: the top of the lowest RAM memslot), growing down; upper
// levels are `P W A D` (plus U when a user leaf sits under them), as Linux's _KERNPG_TABLE /
// _PAGE_TABLE; leaves carry exactly the scenario's flags, so the CPU sets A/D where they are clear.

import type { Memslots, Memslot } from '../kvm/memslots';
import type { HostMemory } from '../host/physmem';
import type { EntryBits, Scenario, Gva, SourcePos } from '../scenario/types';
import { PT_ACCESSED_MASK, PT_DIRTY_MASK, PT_PAGE_SIZE_MASK, PT_PRESENT_MASK, PT_USER_MASK, PT_WRITABLE_MASK, indexOfVpn, pagesPerLevel } from '../arch/x86/paging';
import { frameHi, frameLo, frameOf } from '../arch/x86/u64';

export class GuestSetupError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly col: number,
  ) {
    super(message);
  }
}

/** Guest-physical memory as the guest sees it at setup (not the measured run: nothing is charged). */
export class GuestRam {
  constructor(
    private readonly memslots: Memslots,
    private readonly host: HostMemory,
  ) {}

  private slotOf(gpa: number): Memslot | null {
    const gfn = Math.floor(gpa / 4096);
    for (const s of this.memslots.slots) if (s !== null && gfn >= s.baseGfn && gfn < s.baseGfn + s.npages) return s;
    return null;
  }

  private pfnOf(gpa: number): number {
    const slot = this.slotOf(gpa);
    if (slot === null) throw new Error(`no memslot holds guest-physical 0x${gpa.toString(16)}`);
    const gfn = Math.floor(gpa / 4096);
    return slot.pfnOf(gfn) || slot.faultIn(gfn, this.host);
  }

  read64(gpa: number): { lo: number; hi: number } {
    const slot = this.slotOf(gpa);
    const pfn = slot === null ? 0 : slot.pfnOf(Math.floor(gpa / 4096));
    if (pfn === 0) return { lo: 0, hi: 0 };
    this.host.read(pfn, gpa % 4096, 8);
    return { lo: this.host.lo, hi: this.host.hi };
  }

  write64(gpa: number, lo: number, hi: number): void {
    this.host.write(this.pfnOf(gpa), gpa % 4096, 8, lo, hi);
  }

  /** A sized access (1, 2, 4, 8 bytes, within a page) to guest RAM; reads return { lo, hi }. */
  read(gpa: number, size: number): { lo: number; hi: number } {
    this.host.read(this.pfnOf(gpa), gpa % 4096, size);
    return { lo: this.host.lo, hi: this.host.hi };
  }

  write(gpa: number, size: number, lo: number, hi: number): void {
    this.host.write(this.pfnOf(gpa), gpa % 4096, size, lo, hi);
  }

  writeBytes(gpa: number, bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) this.host.write(this.pfnOf(gpa + i), (gpa + i) % 4096, 1, bytes[i]!, 0);
  }

  isRam(gpa: number): boolean {
    return this.slotOf(gpa) !== null;
  }
}

/** Hands out 4K guest-physical pages for tables and code, from `top` downwards. */
class PageAllocator {
  readonly given: number[] = [];
  constructor(
    private next: number,
    private readonly floor: number,
    private readonly where: { line: number; col: number },
  ) {}

  alloc(): number {
    this.next -= 4096;
    if (this.next < this.floor) throw new GuestSetupError('no room left in guest RAM for page tables and code: set guest.page_tables_top', this.where.line, this.where.col);
    this.given.push(this.next);
    return this.next;
  }
}

/** At most this many leaf entries are built, to keep setup time and memory bounded. */
const MAX_LEAVES = 1 << 20;

export interface BuiltGuest {
  /** The PML4 of each address space (CR3 values); space 0 first. */
  cr3s: number[];
  /** Guest-physical pages holding the page tables. */
  tablePages: number[];
  /** Code pages: the guest-virtual page number of the first, and the guest-physical page of each.
   *  The same pages are mapped twice: as kernel text (supervisor) and as user text (U), so that an
   *  instruction run at CPL 3 can be fetched without a supervisor page under SMEP or vice versa. */
  codeVpn: number;
  userCodeVpn: number;
  codeGpas: number[];
  ram: GuestRam;
}

/** The builder's bits for an upper-level entry nobody specified: Linux's _KERNPG_TABLE, plus U
 *  under a user leaf (_PAGE_TABLE). */
const UPPER_DEFAULT = PT_PRESENT_MASK | PT_WRITABLE_MASK | PT_ACCESSED_MASK | PT_DIRTY_MASK;

export function buildGuest(sc: Scenario, ram: GuestRam, codePages: number): BuiltGuest {
  const where = sc.guest.mappings[0]?.pos ?? { line: 1, col: 1 };
  const lowest = [...sc.memslots].sort((a, b) => a.gpa - b.gpa)[0];
  if (!lowest) throw new GuestSetupError('the guest needs a RAM memslot for its page tables', 1, 1);
  const top = sc.guest.page_tables_top ?? lowest.gpa + lowest.size;
  if (!ram.isRam(top - 4096)) throw new GuestSetupError(`guest.page_tables_top 0x${top.toString(16)} is not above guest RAM`, where.line, where.col);
  const alloc = new PageAllocator(top, lowest.gpa, where);
  const b = new Builder(ram, alloc);
  const cr3s: number[] = [];
  for (let i = 0; i < sc.guest.address_spaces; i++) cr3s.push(alloc.alloc());
  let leaves = 0;
  // Shared mappings (no `space`) go into space 0's tree; the other spaces get copies of the PML4
  // entries they use, so the tables below are shared, as the kernel half is on Linux.
  const shared = sc.guest.mappings.filter((m) => m.space === null);
  const own = sc.guest.mappings.filter((m) => m.space !== null);
  for (const m of [...shared, ...own]) {
    const leafLevel = m.page === '1G' ? 3 : m.page === '2M' ? 2 : 1;
    const step = pagesPerLevel(leafLevel);
    leaves += m.size / 4096 / step;
    if (leaves > MAX_LEAVES) throw new GuestSetupError(`mappings need more than ${MAX_LEAVES} leaf entries`, m.pos.line, m.pos.col);
    const cr3 = cr3s[m.space ?? 0]!;
    for (let p = 0; p < m.size / 4096; p += step) b.map(cr3, m.gva.vpn + p, Math.floor(m.gpa / 4096) + p, leafLevel, m.entries, m.pos);
  }
  const sharedSlots = new Set(shared.map((m) => indexOfVpn(m.gva.vpn, 4)));
  for (const m of own) {
    if (sharedSlots.has(indexOfVpn(m.gva.vpn, 4))) throw new GuestSetupError('a mapping with a `space` shares its PML4 slot (512G of address space) with a shared mapping', m.pos.line, m.pos.col);
  }
  for (let s = 1; s < cr3s.length; s++) {
    for (const slot of sharedSlots) {
      const e = ram.read64(cr3s[0]! + slot * 8);
      ram.write64(cr3s[s]! + slot * 8, e.lo, e.hi);
    }
  }
  // The code: the emulator fetches each access's instruction from here (mapped in every space).
  const code = sc.guest.code;
  const codeVpn = code ? code.gva.vpn : DEFAULT_CODE_VPN;
  const codeGpas: number[] = [];
  const codeEntries = [null, { lo: PT_PRESENT_MASK | PT_ACCESSED_MASK, hi: 0 }, null, null, null];
  const userCodeEntries = [null, { lo: PT_PRESENT_MASK | PT_USER_MASK | PT_ACCESSED_MASK, hi: 0 }, null, null, null];
  for (let i = 0; i < codePages; i++) {
    const gpa = code ? code.gpa + i * 4096 : alloc.alloc();
    const at = code?.pos ?? where;
    if (!ram.isRam(gpa)) throw new GuestSetupError(`guest.code: guest-physical 0x${gpa.toString(16)} is not in a RAM memslot (the code needs ${codePages} page(s))`, at.line, at.col);
    codeGpas.push(gpa);
    for (const cr3 of cr3s) {
      b.map(cr3, codeVpn + i, Math.floor(gpa / 4096), 1, codeEntries, at);
      b.map(cr3, USER_CODE_VPN + i, Math.floor(gpa / 4096), 1, userCodeEntries, at);
    }
  }
  const tablePages = alloc.given.filter((g) => !codeGpas.includes(g));
  return { cr3s, tablePages, codeVpn, userCodeVpn: USER_CODE_VPN, codeGpas, ram };
}

/** 0xffffffff81000000, where Linux/x86-64 puts its kernel text. */
export const DEFAULT_CODE_VPN = 0xffffffff81000;
/** 0x00007ff000000000: the user-mode alias of the code, high in the user half. */
export const USER_CODE_VPN = 0x7ff000000;

class Builder {
  /** Entries whose bits a mapping gave explicitly, by guest-physical address: their bits. */
  private readonly explicit = new Map<number, string>();

  constructor(
    private readonly ram: GuestRam,
    private readonly alloc: PageAllocator,
  ) {}

  map(cr3: number, vpn: number, gfn: number, leafLevel: number, entries: (EntryBits | null)[], pos: SourcePos): void {
    const leaf = entries[leafLevel]!;
    const userLeaf = leaf.lo & PT_USER_MASK;
    let table = cr3;
    for (let level = 4; level > leafLevel; level--) {
      const gpa = table + indexOfVpn(vpn, level) * 8;
      const given = entries[level] ?? null;
      const e = this.ram.read64(gpa);
      const exists = e.lo !== 0 || e.hi !== 0;
      if (exists && this.explicit.get(gpa) === 'leaf') throw new GuestSetupError('mapping overlaps a large page of another mapping', pos.line, pos.col);
      let frame: number;
      if (exists) frame = frameOf(e.lo, e.hi);
      else frame = this.alloc.alloc() / 4096;
      let lo: number;
      let hi: number;
      if (given) {
        const key = `${given.lo}:${given.hi}`;
        const before = this.explicit.get(gpa);
        if (before !== undefined && before !== key) throw new GuestSetupError(`two mappings give different bits for the same level-${level} entry`, pos.line, pos.col);
        this.explicit.set(gpa, key);
        lo = given.lo;
        hi = given.hi;
      } else if (exists && this.explicit.has(gpa)) {
        lo = e.lo & 0xfff;
        hi = e.hi & 0xfff00000;
      } else {
        lo = UPPER_DEFAULT | userLeaf | (exists ? e.lo & PT_USER_MASK : 0);
        hi = 0;
      }
      this.ram.write64(gpa, (lo | frameLo(frame)) >>> 0, (hi | frameHi(frame)) >>> 0);
      table = frame * 4096;
    }
    const gpa = table + indexOfVpn(vpn, leafLevel) * 8;
    if (leafLevel > 1) this.explicit.set(gpa, 'leaf');
    const ps = leafLevel > 1 ? PT_PAGE_SIZE_MASK : 0;
    this.ram.write64(gpa, (leaf.lo | ps | frameLo(gfn)) >>> 0, (leaf.hi | frameHi(gfn)) >>> 0);
  }
}

/** The entries on the path of a virtual page, root first (for the report). */
export function pathEntries(ram: GuestRam, cr3: number, gva: Gva): { level: number; lo: number; hi: number }[] {
  const out: { level: number; lo: number; hi: number }[] = [];
  let table = cr3;
  for (let level = 4; level >= 1; level--) {
    const e = ram.read64(table + indexOfVpn(gva.vpn, level) * 8);
    out.push({ level, lo: e.lo, hi: e.hi });
    if ((e.lo & PT_PRESENT_MASK) === 0 || level === 1 || (level <= 3 && (e.lo & PT_PAGE_SIZE_MASK) !== 0)) break;
    table = frameOf(e.lo, e.hi) * 4096;
  }
  return out;
}

/** The guest-physical address of the entry at `level` on the path of `vpn`, or -1 when an upper entry
 *  on the way is not present (or is a large leaf). */
export function entryAddress(ram: GuestRam, cr3: number, vpn: number, level: number): number {
  let table = cr3;
  for (let l = 4; l > level; l--) {
    const e = ram.read64(table + indexOfVpn(vpn, l) * 8);
    if ((e.lo & PT_PRESENT_MASK) === 0 || (l <= 3 && (e.lo & PT_PAGE_SIZE_MASK) !== 0)) return -1;
    table = frameOf(e.lo, e.hi) * 4096;
  }
  return table + indexOfVpn(vpn, level) * 8;
}
