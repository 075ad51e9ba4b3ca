// Builds the guest's 4-level page tables in guest RAM from the scenario's mappings, the way a guest
// kernel would have before the measured run starts: table pages are taken from the top of the RAM
// below `guest.page_tables_top` (default: the top of the lowest RAM memslot), growing down; upper
// levels are `P W A D` (plus U when a user leaf sits under them), as Linux's _KERNPG_TABLE /
// _PAGE_TABLE; leaves carry exactly the scenario's flags, so the CPU sets A/D where they are clear.

import type { Memslots, Memslot } from '../kvm/memslots';
import type { HostMemory } from '../host/physmem';
import type { MappingDecl, Scenario, Gva } from '../scenario/types';
import { FLAG_TOKENS, PT_ACCESSED_MASK, PT_DIRTY_MASK, PT_PAGE_SIZE_MASK, PT_PRESENT_MASK, PT_USER_MASK, PT_WRITABLE_MASK, indexOfVpn } from '../arch/x86/paging';
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
  cr3: number;
  /** Guest-physical pages holding the page tables (the PML4 first). */
  tablePages: number[];
  /** Code pages: the guest-virtual page number of the first, and the guest-physical page of each. */
  codeVpn: number;
  codeGpas: number[];
  ram: GuestRam;
}

export function buildGuest(sc: Scenario, ram: GuestRam, codePages: number): BuiltGuest {
  const where = sc.guest.mappings[0]?.pos ?? { line: 1, col: 1 };
  const lowest = [...sc.memslots].sort((a, b) => a.gpa - b.gpa)[0];
  if (!lowest) throw new GuestSetupError('the guest needs a RAM memslot for its page tables', 1, 1);
  const top = sc.guest.page_tables_top ?? lowest.gpa + lowest.size;
  if (!ram.isRam(top - 4096)) throw new GuestSetupError(`guest.page_tables_top 0x${top.toString(16)} is not above guest RAM`, where.line, where.col);
  const alloc = new PageAllocator(top, lowest.gpa, where);
  const cr3 = alloc.alloc();
  let leaves = 0;
  for (const m of sc.guest.mappings) {
    const step = m.page === '2M' ? 512 : 1;
    const pages = m.size / 4096;
    leaves += pages / step;
    if (leaves > MAX_LEAVES) throw new GuestSetupError(`mappings need more than ${MAX_LEAVES} leaf entries`, m.pos.line, m.pos.col);
    for (let p = 0; p < pages; p += step) mapPage(ram, alloc, cr3, m.gva.vpn + p, Math.floor(m.gpa / 4096) + p, m, leafFlags(m));
  }
  // The code: the emulator fetches each access's instruction from here.
  const code = sc.guest.code;
  const codeVpn = code ? code.gva.vpn : DEFAULT_CODE_VPN;
  const tablePages = [...alloc.given];
  const codeGpas: number[] = [];
  const codeFlags = { lo: PT_PRESENT_MASK | PT_ACCESSED_MASK, hi: 0 };
  const codeDecl: MappingDecl = { gva: { vpn: codeVpn, offset: 0 }, gpa: 0, size: codePages * 4096, page: '4K', flags: ['p', 'a'], pos: where };
  for (let i = 0; i < codePages; i++) {
    const gpa = code ? code.gpa + i * 4096 : alloc.alloc();
    const at = code?.pos ?? where;
    if (!ram.isRam(gpa)) throw new GuestSetupError(`guest.code: guest-physical 0x${gpa.toString(16)} is not in a RAM memslot (the code needs ${codePages} page(s))`, at.line, at.col);
    codeGpas.push(gpa);
    mapPage(ram, alloc, cr3, codeVpn + i, Math.floor(gpa / 4096), codeDecl, codeFlags);
  }
  for (const gpa of alloc.given) if (!tablePages.includes(gpa) && !codeGpas.includes(gpa)) tablePages.push(gpa);
  return { cr3, tablePages, codeVpn, codeGpas, ram };
}

/** 0xffffffff81000000, where Linux/x86-64 puts its kernel text. */
export const DEFAULT_CODE_VPN = 0xfffff81000;

function leafFlags(m: MappingDecl): { lo: number; hi: number } {
  let lo = 0;
  let hi = 0;
  for (const t of m.flags) {
    const f = FLAG_TOKENS[t];
    if (f) {
      lo |= f.lo;
      hi |= f.hi;
    }
  }
  if (m.page === '2M') lo |= PT_PAGE_SIZE_MASK;
  return { lo: lo >>> 0, hi: hi >>> 0 };
}

function mapPage(ram: GuestRam, alloc: PageAllocator, cr3: number, vpn: number, gfn: number, m: MappingDecl, leaf: { lo: number; hi: number }): void {
  const leafLevel = m.page === '2M' ? 2 : 1;
  const upper = PT_PRESENT_MASK | PT_WRITABLE_MASK | PT_ACCESSED_MASK | PT_DIRTY_MASK | (leaf.lo & PT_USER_MASK);
  let table = cr3;
  for (let level = 4; level > leafLevel; level--) {
    const gpa = table + indexOfVpn(vpn, level) * 8;
    const e = ram.read64(gpa);
    if (e.lo & PT_PRESENT_MASK) {
      if ((e.lo & PT_PAGE_SIZE_MASK) !== 0 && level <= 3) throw new GuestSetupError('mapping overlaps a large page of another mapping', m.pos.line, m.pos.col);
      if ((upper & PT_USER_MASK) !== 0 && (e.lo & PT_USER_MASK) === 0) ram.write64(gpa, (e.lo | PT_USER_MASK) >>> 0, e.hi);
      table = frameOf(e.lo, e.hi) * 4096;
      continue;
    }
    const next = alloc.alloc();
    const nf = next / 4096;
    ram.write64(gpa, (upper | frameLo(nf)) >>> 0, frameHi(nf));
    table = next;
  }
  const gpa = table + indexOfVpn(vpn, leafLevel) * 8;
  ram.write64(gpa, (leaf.lo | frameLo(gfn)) >>> 0, (leaf.hi | frameHi(gfn)) >>> 0);
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
