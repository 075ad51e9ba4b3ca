// The x86 4-level guest page walk: one implementation of the architecture's rules, used by the CPU
// model (which reads each guest paging entry through EPT: the two-dimensional walk) and by KVM's
// software walk FNAME(walk_addr_generic) (which reads them through memslots). The two differ only in
// how they read and update memory (`WalkMemory`) and in when A/D bits are set:
//   - the CPU sets A in every entry used and D in the leaf of a write once the translation succeeds,
//     and sets nothing on a faulting access;
//   - KVM's 2011 walker sets A level by level during the descent while no permission fault has been
//     seen, and D after the loop, each with a cmpxchg that restarts the walk if the entry changed.
// Permission checks (SDM vol. 3A §4.6 "Access Rights", §4.7 "Page-Fault Exceptions"): the walk keeps
// the 2011 walker's (3.0.1/3.1.10 paging_tmpl.h) per-level `eperm` for W, U and NX, which the kvmStyle
// A-bit timing depends on (A is set level by level while no violation has been seen); the checks that
// need the combined access of the whole translation (SMEP, which the 2011 walker did at the leaf after
// its A bit; SMAP and PKU, which postdate it) come after the loop, so in kvmStyle a fault that only
// they find leaves A set along the whole path, as the 2011 SMEP check did. The verdict is the SDM's:
//   - user access (CPL 3) to a page that is not user (U clear at some level);
//   - write to a page that is not writable (W clear at some level) by a user access, or by a
//     supervisor access when CR0.WP = 1;
//   - fetch from an NX page (NX set at some level) when EFER.NXE = 1;
//   - SMEP (CR4.SMEP): supervisor fetch from a user page;
//   - SMAP (CR4.SMAP): supervisor data access (read or write; every access here is explicit) to a
//     user page when EFLAGS.AC = 0;
//   - PKU (CR4.PKE; long mode is implied by 4-level paging): data access to a user page whose leaf
//     has key k (bits 62:59 of the leaf; keys in non-leaf entries are ignored): PKRU.AD[k] (bit 2k)
//     blocks any data access; PKRU.WD[k] (bit 2k+1) blocks user writes, and supervisor writes when
//     CR0.WP = 1.
// Error code: P for protection and reserved-bit faults, W and U from the access, RSVD for a reserved
// bit, I/D for a fetch when EFER.NXE or CR4.SMEP, PK when the key denies the access. PK is set
// whenever the key denies the access, whether or not another permission rule also denies it: the
// SDM defines the flag by the key check alone ("a data access to a user-mode address with protection
// key disallowed by the value of the PKRU register"), and KVM's permission_fault ORs PFERR_PK into
// PFERR_PRESENT independently of the other rules (pkru_mask is computed apart from permissions[]).
// PK is never set on a not-present or reserved-bit fault: those stop the walk before any check.
// Reserved bits (Intel, 4-level; __reset_rsvds_bits_mask): physical-address bits 51:MAXPHYADDR in
// every entry, bit 63 without EFER.NXE, PS (bit 7) in a PML4E, bits 29:13 of a 1G leaf and 20:13 of
// a 2M leaf. Bit 8 of a PML4E is ignored on Intel (reserved only for AMD guests), and bits 62:52 are
// ignored (62:59 are the leaf's protection key under CR4.PKE, still not reserved). A reserved bit
// stops the walk at that level and takes priority over the permission checks.

import {
  ACC_ALL, ACC_EXEC_MASK, ACC_USER_MASK, ACC_WRITE_MASK, PFERR_FETCH_MASK, PFERR_PRESENT_MASK, PFERR_RSVD_MASK,
  PFERR_PK_MASK, PFERR_USER_MASK, PFERR_WRITE_MASK, PT_ACCESSED_MASK, PT_DIRTY_MASK, PT_PAGE_SIZE_MASK, PT_PRESENT_MASK,
  PT_USER_MASK, PT_WRITABLE_MASK, PT64_NX_MASK_HI, indexOfVpn, pagesPerLevel,
} from './paging';
import { frameOf, hiBits } from './u64';

export interface WalkMemory {
  /** Read the 8-byte guest paging entry at `gpa` (read as part of the walk at `level`) into lo/hi.
   *  False aborts the walk: the CPU's access exited to the hypervisor, or KVM found no memslot. */
  readEntry(gpa: number, level: number): boolean;
  lo: number;
  hi: number;
  /** Set `bits` in the entry at `gpa`: KVM's cmpxchg_gpte only if it still holds (lo, hi), false if it
   *  changed (retry_walk); the CPU's locked OR, false only when that write itself exits. */
  setBits(gpa: number, bits: number, lo: number, hi: number, level: number): boolean;
}

export const WALK_OK = 0;
export const WALK_FAULT = 1; // a #PF for the guest: see errorCode
export const WALK_ABORTED = 2; // memory could not be read (an exit is pending, or no memslot)

export interface WalkCpu {
  cr3: number;
  cr0Wp: boolean;
  nx: boolean /* EFER.NXE */;
  smep: boolean /* CR4.SMEP */;
  smap: boolean /* CR4.SMAP */;
  pke: boolean /* CR4.PKE */;
  pkru: number;
  ac: boolean /* EFLAGS.AC */;
}

/** Reserved low-half bits by entry kind (4-level, Intel, 1G pages supported). */
const RSVD_LO_PML4E = PT_PAGE_SIZE_MASK; // PS; bit 8 is ignored on Intel
const RSVD_LO_1G = 0x3fffe000; // bits 29:13 of a 1G leaf
const RSVD_LO_2M = 0x001fe000; // bits 20:13 of a 2M leaf
/** Frame bits of a large leaf: bit 12 is PAT there, not an address bit. */
const LARGE_FRAME_LO = 0xffffe000 | 0;
/** The leaf's protection key: bits 62:59, i.e. bits 30:27 of the high half. */
const PKEY_SHIFT_HI = 27;

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

  /** Reserved high-half bits of every entry: 51:MAXPHYADDR (36 to 52, so all in the high half), plus
   *  bit 63 without EFER.NXE. */
  private readonly rsvdHiNx: number;
  private readonly rsvdHiNoNx: number;

  constructor(maxphyaddr: number) {
    this.rsvdHiNx = hiBits(maxphyaddr, 52);
    this.rsvdHiNoNx = (this.rsvdHiNx | PT64_NX_MASK_HI) >>> 0;
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
    let table = cpu.cr3 - (cpu.cr3 & 0xfff);
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
      // KVM's walk (reset_rsvds_bits_mask, 3.0.1 and 3.1.10) also reserves bit 8 of a PML4E and of a
      // PDPTE that maps a table (`rsvd_bits(7, 8)`), which the CPU ignores.
      const kvmRsvd8 = kvmStyle && (level === 4 || (level === 3 && !leaf)) && (lo & 0x100) !== 0;
      if (this.reserved(lo, hi, level, leaf, cpu.nx) || kvmRsvd8) return this.fault(pfec, PFERR_RSVD_MASK | PFERR_PRESENT_MASK, cpu);
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
        this.gfn = level === 1 ? frameOf(lo, hi) : frameOf(lo & LARGE_FRAME_LO, hi) + (vpn & (pagesPerLevel(level) - 1));
        break;
      }
      table = frameOf(lo, hi) * 4096;
    }
    this.level = level;
    this.access = ptAccess;
    // Checks on the combined access (the page is user only if U is set at every level).
    const userPage = (ptAccess & ACC_USER_MASK) !== 0;
    if (userPage && !userFault) {
      if (fetchFault) {
        if (cpu.smep) eperm = true; // SMEP
      } else if (cpu.smap && !cpu.ac) eperm = true; // SMAP (explicit accesses only)
    }
    let pk = 0;
    if (cpu.pke && userPage && !fetchFault) {
      const key = (this.pteHi[level]! >>> PKEY_SHIFT_HI) & 15;
      const bits = (cpu.pkru >>> (2 * key)) & 3; // bit 0: AD, bit 1: WD
      if ((bits & 1) !== 0 || ((bits & 2) !== 0 && writeFault && (userFault || cpu.cr0Wp))) pk = PFERR_PK_MASK;
    }
    if (eperm || pk !== 0) return this.fault(pfec, PFERR_PRESENT_MASK | pk, cpu);
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
        const gpa = this.pteGpa[l]!;
        if (!mem.setBits(gpa, want, lo, this.pteHi[l]!, l)) return WALK_ABORTED;
        // The same entry may serve at several levels (a recursive mapping): keep their copies current.
        for (let k = l; k >= level; k--) if (this.pteGpa[k] === gpa) this.pteLo[k] = this.pteLo[k]! | want;
      }
    }
    return WALK_OK;
  }

  private fault(pfec: number, bits: number, cpu: WalkCpu): number {
    let ec = bits | (pfec & (PFERR_WRITE_MASK | PFERR_USER_MASK));
    if ((pfec & PFERR_FETCH_MASK) !== 0 && (cpu.nx || cpu.smep)) ec |= PFERR_FETCH_MASK;
    this.errorCode = ec;
    return WALK_FAULT;
  }

  /** Whether a guest entry at `level` (a leaf or not) has a reserved bit set (reset_rsvds_bits_mask). */
  reserved(lo: number, hi: number, level: number, leaf: boolean, nx: boolean): boolean {
    if ((hi & (nx ? this.rsvdHiNx : this.rsvdHiNoNx)) !== 0) return true;
    if (level === 4) return (lo & RSVD_LO_PML4E) !== 0;
    if (!leaf || level === 1) return false;
    return (lo & (level === 3 ? RSVD_LO_1G : RSVD_LO_2M)) !== 0;
  }
}

/** FNAME(gpte_access) for 64-bit entries: W and U as they are, exec unless NX. */
export function gpteAccess(lo: number, hi: number, nx: boolean): number {
  let a = lo & (ACC_WRITE_MASK | ACC_USER_MASK);
  if (!nx || (hi & PT64_NX_MASK_HI) === 0) a |= ACC_EXEC_MASK;
  return a;
}
