// The x86 4-level guest page walk: one implementation of the architecture's rules, used by the CPU
// model (which reads each guest paging entry through EPT: the two-dimensional walk) and by KVM's
// software walk FNAME(walk_addr_generic) (which reads them through memslots). The two differ only in
// how they read and update memory (`WalkMemory`) and in when A/D bits are set:
//   - the CPU sets A in every entry used and D in the leaf of a write once the translation succeeds,
//     and sets nothing on a faulting access;
//   - KVM's 2011 walker sets A level by level during the descent while no permission fault has been
//     seen, and D after the loop, each with a cmpxchg that restarts the walk if the entry changed.
// Permission checks are the 2011 walker's (v3.0/v3.2 paging_tmpl.h), which match the SDM for the
// features modelled here: write needs W when the access is a user access or CR0.WP = 1; a user
// access needs U; a fetch faults on NX when EFER.NXE = 1. Reserved bits per level follow
// reset_rsvds_bits_mask (4-level): bits 51:MAXPHYADDR, bit 63 without EFER.NXE, bits 7-8 in a PML4E,
// bits 13-29 in a 1G leaf, bits 13-20 in a 2M leaf.

import {
  ACC_ALL, ACC_EXEC_MASK, ACC_USER_MASK, ACC_WRITE_MASK, PFERR_FETCH_MASK, PFERR_PRESENT_MASK, PFERR_RSVD_MASK,
  PFERR_USER_MASK, PFERR_WRITE_MASK, PT_ACCESSED_MASK, PT_DIRTY_MASK, PT_PAGE_SIZE_MASK, PT_PRESENT_MASK,
  PT_USER_MASK, PT_WRITABLE_MASK, PT64_NX_MASK_HI, indexOfVpn, pagesPerLevel,
} from './paging';
import { frameOf } from './u64';

export interface WalkMemory {
  /** Read the 8-byte guest paging entry at `gpa` (read as part of the walk at `level`) into lo/hi.
   *  False aborts the walk: the CPU's access exited to the hypervisor, or KVM found no memslot. */
  readEntry(gpa: number, level: number): boolean;
  lo: number;
  hi: number;
  /** Atomically set `bits` in the entry at `gpa` if it still holds (lo, hi). False: it changed. */
  setBits(gpa: number, bits: number, lo: number, hi: number, level: number): boolean;
}

export const WALK_OK = 0;
export const WALK_FAULT = 1; // a #PF for the guest: see errorCode
export const WALK_ABORTED = 2; // memory could not be read (an exit is pending, or no memslot)

export interface WalkCpu {
  cr3: number;
  cr0Wp: boolean;
  nx: boolean;
}

/** Walk state and result, reused across walks (no allocation per walk). */
export class GuestWalker {
  /** Result of the last walk. */
  status = WALK_OK;
  errorCode = 0;
  gfn = 0;
  level = 0;
  /** Combined access of the translation in ACC_* form (exec positive). */
  access = 0;
  /** The entries read, by level (index 1..4): their guest-physical addresses and values. */
  readonly pteGpa = new Float64Array(5);
  readonly pteLo = new Uint32Array(5);
  readonly pteHi = new Uint32Array(5);
  /** Number of entries read by the last walk (restarts included). */
  reads = 0;

  /** Reserved high-half bits of every entry: 51:MAXPHYADDR, plus bit 63 without EFER.NXE. */
  private readonly rsvdHiNx: number;
  private readonly rsvdHiNoNx: number;

  constructor(maxphyaddr: number) {
    let m = 0;
    for (let b = maxphyaddr; b <= 51; b++) m |= 1 << (b - 32);
    this.rsvdHiNx = m >>> 0;
    this.rsvdHiNoNx = (m | PT64_NX_MASK_HI) >>> 0;
  }

  /**
   * Translate virtual page `vpn` for an access with error-code bits `pfec` (W, U, FETCH).
   * `kvmStyle` selects KVM's 2011 A/D handling; otherwise the CPU's.
   */
  walk(mem: WalkMemory, cpu: WalkCpu, vpn: number, pfec: number, kvmStyle: boolean): number {
    this.reads = 0;
    for (let attempt = 0; attempt < 8; attempt++) {
      const r = this.walkOnce(mem, cpu, vpn, pfec, kvmStyle);
      if (r >= 0) return (this.status = r);
    }
    return (this.status = WALK_ABORTED); // a guest rewriting its tables under us forever
  }

  /** One pass; -1 means "an A/D cmpxchg lost a race: walk again" (retry_walk). */
  private walkOnce(mem: WalkMemory, cpu: WalkCpu, vpn: number, pfec: number, kvmStyle: boolean): number {
    const writeFault = (pfec & PFERR_WRITE_MASK) !== 0;
    const userFault = (pfec & PFERR_USER_MASK) !== 0;
    const fetchFault = (pfec & PFERR_FETCH_MASK) !== 0;
    let table = cpu.cr3 - (cpu.cr3 % 4096);
    let ptAccess = ACC_ALL;
    let eperm = false;
    let level = 4;
    for (; level >= 1; level--) {
      const gpa = table + indexOfVpn(vpn, level) * 8;
      if (!mem.readEntry(gpa, level)) return WALK_ABORTED;
      this.reads++;
      let lo = mem.lo;
      const hi = mem.hi;
      this.pteGpa[level] = gpa;
      this.pteLo[level] = lo;
      this.pteHi[level] = hi;
      if ((lo & PT_PRESENT_MASK) === 0) return this.fault(pfec, 0, cpu);
      const leaf = level === 1 || ((level === 2 || level === 3) && (lo & PT_PAGE_SIZE_MASK) !== 0);
      if (this.reserved(lo, hi, level, leaf, cpu.nx)) return this.fault(pfec, PFERR_RSVD_MASK | PFERR_PRESENT_MASK, cpu);
      if (writeFault && (lo & PT_WRITABLE_MASK) === 0 && (userFault || cpu.cr0Wp)) eperm = true;
      if (userFault && (lo & PT_USER_MASK) === 0) eperm = true;
      if (fetchFault && cpu.nx && (hi & PT64_NX_MASK_HI) !== 0) eperm = true;
      if (kvmStyle && !eperm && (lo & PT_ACCESSED_MASK) === 0) {
        if (!mem.setBits(gpa, PT_ACCESSED_MASK, lo, hi, level)) return -1;
        lo |= PT_ACCESSED_MASK;
        this.pteLo[level] = lo;
      }
      ptAccess &= gpteAccess(lo, hi, cpu.nx);
      if (leaf) {
        this.gfn = frameOf(lo, hi) + (level === 1 ? 0 : vpn % pagesPerLevel(level));
        break;
      }
      table = frameOf(lo, hi) * 4096;
    }
    this.level = level;
    this.access = ptAccess;
    if (eperm) return this.fault(pfec, PFERR_PRESENT_MASK, cpu);
    if (kvmStyle) {
      if (writeFault && (this.pteLo[level]! & PT_DIRTY_MASK) === 0) {
        if (!mem.setBits(this.pteGpa[level]!, PT_DIRTY_MASK, this.pteLo[level]!, this.pteHi[level]!, level)) return -1;
        this.pteLo[level] = this.pteLo[level]! | PT_DIRTY_MASK;
      }
      return WALK_OK;
    }
    // The CPU: the translation succeeded, so A in every entry used and D in the leaf of a write.
    for (let l = 4; l >= level; l--) {
      const want = PT_ACCESSED_MASK | (l === level && writeFault ? PT_DIRTY_MASK : 0);
      const lo = this.pteLo[l]!;
      if ((lo & want) !== want) {
        if (!mem.setBits(this.pteGpa[l]!, want, lo, this.pteHi[l]!, l)) return WALK_ABORTED;
        this.pteLo[l] = lo | want;
      }
    }
    return WALK_OK;
  }

  private fault(pfec: number, bits: number, cpu: WalkCpu): number {
    let ec = bits | (pfec & (PFERR_WRITE_MASK | PFERR_USER_MASK));
    if (pfec & PFERR_FETCH_MASK && cpu.nx) ec |= PFERR_FETCH_MASK;
    this.errorCode = ec;
    return WALK_FAULT;
  }

  private reserved(lo: number, hi: number, level: number, leaf: boolean, nx: boolean): boolean {
    if ((hi & (nx ? this.rsvdHiNx : this.rsvdHiNoNx)) !== 0) return true;
    if (level === 4) return (lo & 0x180) !== 0; // PML4E: bits 7-8
    if (leaf && level === 3) return (lo & 0x3fffe000) !== 0; // 1G: bits 13-29
    if (leaf && level === 2) return (lo & 0x1fe000) !== 0; // 2M: bits 13-20
    return false;
  }
}

/** FNAME(gpte_access) for 64-bit entries: W and U as they are, exec unless NX. */
export function gpteAccess(lo: number, hi: number, nx: boolean): number {
  let a = lo & (ACC_WRITE_MASK | ACC_USER_MASK);
  if (!nx || (hi & PT64_NX_MASK_HI) === 0) a |= ACC_EXEC_MASK;
  return a;
}
