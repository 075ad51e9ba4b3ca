// The CPU executing a guest memory access under EPT: the two-dimensional walk. Each guest paging
// entry's guest-physical address is itself translated through EPT (a read; A/D updates are
// writes), then the final guest-physical address is translated for the access. Any EPT exit stops
// the access (the instruction re-executes after the hypervisor resumes the guest); a guest #PF is
// delivered through the guest's IDT without an exit (exception bitmap bit 14 is clear under EPT).
// The vCPU's hardware TLB (tlb.ts) is looked up first: a hit skips the walk (and sets no A or D bit,
// as the hardware sets them only when it walks); a miss walks, and a translation that succeeds is
// cached. A translation that faults or exits is never cached (SDM vol. 3C §28.3.1: the CPU caches
// only translations it completed). docs/decisions.md "The hardware TLB model" says what is modelled.

import type { HostMemory } from '../../host/physmem';
import { EptWalk, EPT_ACCESS_FETCH, EPT_ACCESS_READ, EPT_ACCESS_WRITE } from './ept_walk';
import { GuestWalker, WALK_FAULT, WALK_OK, type WalkCpu, type WalkMemory } from './walker';
import { ACC_EXEC_MASK, ACC_USER_MASK, ACC_WRITE_MASK, PFERR_FETCH_MASK, PFERR_USER_MASK, PFERR_WRITE_MASK, PT_DIRTY_MASK } from './paging';
import { NO_EPTP, TLB_D, TLB_U, TLB_W, TLB_X, type Tlb } from './tlb';
import { FaultWalkMemo } from './fault_walk_memo';

export const ACCESS_DONE = 0;
export const ACCESS_GUEST_PF = 1;
export const ACCESS_EXIT = 2;
/** FaultWalkMemo's own result code: an exit at the final GPA, the access's offset to be added. */
const ACCESS_EXIT_AT_OFFSET = 3;

/** Guest paging-structure accesses during the walk, each translated through EPT. */
class EptGuestMemory implements WalkMemory {
  lo = 0;
  hi = 0;
  root = 0;
  /** The guest-physical address of the last paging entry accessed (the GPA of an exit during the walk). */
  gpa = 0;
  constructor(
    private readonly host: HostMemory,
    private readonly ept: EptWalk,
    private readonly memo: FaultWalkMemo | null,
  ) {}

  readEntry(gpa: number): boolean {
    this.gpa = gpa;
    if (this.ept.translate(this.root, gpa, EPT_ACCESS_READ, false) !== 0) return false;
    this.host.read(this.ept.pfn, gpa & 0xfff, 8);
    this.lo = this.host.lo;
    this.hi = this.host.hi;
    return true;
  }

  setBits(gpa: number, bits: number): boolean {
    this.gpa = gpa;
    if (this.memo !== null) this.memo.clean = false; // a walk that writes is not remembered
    if (this.ept.translate(this.root, gpa, EPT_ACCESS_WRITE, false) !== 0) return false;
    setBitsLocked(this.host, this.ept.pfn, gpa & 0xfff, bits);
    return true;
  }
}

/** Shadow paging: the CPU walks KVM's shadow tables, which live in host physical memory. */
class HostTableMemory implements WalkMemory {
  lo = 0;
  hi = 0;
  constructor(
    private readonly host: HostMemory,
    private readonly memo: FaultWalkMemo | null,
  ) {}

  readEntry(hpa: number): boolean {
    this.host.read(Math.floor(hpa / 4096), hpa & 0xfff, 8);
    this.lo = this.host.lo;
    this.hi = this.host.hi;
    return true;
  }

  setBits(hpa: number, bits: number): boolean {
    if (this.memo !== null) this.memo.clean = false;
    setBitsLocked(this.host, Math.floor(hpa / 4096), hpa & 0xfff, bits);
    return true;
  }
}

/** The CPU's A/D update: a locked OR of `bits` into the entry as it is now (SDM "Accessed and Dirty
 *  Flags"); no compare, unlike KVM's cmpxchg_gpte. */
function setBitsLocked(host: HostMemory, pfn: number, offset: number, bits: number): void {
  host.read(pfn, offset, 8);
  host.write(pfn, offset, 8, (host.lo | bits) >>> 0, host.hi);
}

export class Cpu {
  readonly ept: EptWalk;
  readonly walker: GuestWalker;
  private readonly mem: EptGuestMemory;
  private readonly shadowMem: HostTableMemory;
  /** The paging state the CPU runs a shadow-paged guest with: CR3 = the shadow root, and CR0.WP and
   *  EFER.NX forced on by KVM (KVM_VM_CR0_ALWAYS_ON; SPTEs use NX); CR4.SMEP/SMAP and EFLAGS.AC as the
   *  guest set them; no protection keys (SPTEs carry none). */
  private readonly shadowCpu: WalkCpu = { cr3: 0, cr0Wp: true, nx: true, smep: false, smap: false, pke: false, pkru: 0, ac: false };
  /** Result of the last access: the exit's GPA, the guest #PF error code, the bytes read. */
  exitGpa = 0;
  errorCode = 0;
  lo = 0;
  hi = 0;
  /** Whether the last access hit the TLB, and the memory references of its walk (0 on a hit). */
  tlbHit = false;
  walkRefs = 0;

  /** Walks that ended in a fault or an exit, remembered (a fast path; null with fast paths off). */
  readonly memo: FaultWalkMemo | null;

  constructor(
    private readonly host: HostMemory,
    fastPaths = false,
  ) {
    this.memo = fastPaths ? new FaultWalkMemo() : null;
    this.ept = new EptWalk(host);
    this.walker = new GuestWalker(host.maxphyaddr);
    this.mem = new EptGuestMemory(host, this.ept, this.memo);
    this.shadowMem = new HostTableMemory(host, this.memo);
  }

  /**
   * An access under EPT of `size` bytes at (vpn, offset) for `pfec` (W, U, FETCH bits), with the
   * vCPU's paging state and `eptRoot` as the EPTP. Writes store (lo, hi); reads leave the value in
   * this.lo / this.hi; a fetch transfers nothing.
   */
  access(
    cpu: WalkCpu, eptRoot: number, vpn: number, offset: number, size: number, pfec: number, lo: number, hi: number, tlb: Tlb, vpid: number,
  ): number {
    // The combined mapping's tag: VPID and EPTP (SDM vol. 3C §28.3.1).
    const memo = this.memo;
    if ((memo === null || !tlb.repeatMiss(vpid, eptRoot, vpn)) && tlb.lookup(vpid, eptRoot, vpn, tlbNeed(cpu, pfec), tlbForbid(cpu, pfec))) {
      return this.hit(tlb, offset, size, pfec, lo, hi);
    }
    this.tlbHit = false;
    let flags = 0;
    if (memo !== null) {
      flags = walkFlags(cpu);
      const e = memo.find(eptRoot, vpn, pfec, cpu.cr3, flags, cpu.pkru, this.host.writeGen);
      if (e >= 0) return this.replay(memo, e, offset);
      memo.clean = true;
    }
    this.mem.root = eptRoot;
    this.ept.refs = 0;
    const r = this.walker.walk(this.mem, cpu, vpn, pfec, false);
    this.walkRefs = this.walker.reads + this.ept.refs;
    if (r === WALK_FAULT) {
      this.errorCode = this.walker.errorCode;
      if (memo !== null) this.remember(memo, eptRoot, vpn, pfec, cpu, flags, ACCESS_GUEST_PF, -1);
      return ACCESS_GUEST_PF;
    }
    if (r !== WALK_OK) {
      this.exit(this.mem.gpa);
      if (memo !== null) this.remember(memo, eptRoot, vpn, pfec, cpu, flags, ACCESS_EXIT, this.mem.gpa);
      return ACCESS_EXIT;
    }
    const gpa = this.walker.gfn * 4096 + offset;
    const type = pfec & PFERR_FETCH_MASK ? EPT_ACCESS_FETCH : pfec & PFERR_WRITE_MASK ? EPT_ACCESS_WRITE : EPT_ACCESS_READ;
    const er = this.ept.translate(eptRoot, gpa, type, true);
    this.walkRefs = this.walker.reads + this.ept.refs;
    if (er !== 0) {
      this.exit(gpa);
      // Remembered with the page's GPA: the replay adds the access's offset back.
      if (memo !== null) this.remember(memo, eptRoot, vpn, pfec, cpu, flags, ACCESS_EXIT_AT_OFFSET, gpa - offset);
      return ACCESS_EXIT;
    }
    // Cached only with every EPT right: an entry holds one W and one X bit, which must then be the
    // guest's alone (a supervisor write with CR0.WP = 0 ignores the guest's W, never EPT's), and a
    // read needs EPT's R, which the entry has no bit for. KVM's EPT leaves for RAM are RWX.
    if (this.ept.rwx === 7) {
      const size4k = Math.min(this.walker.level, this.ept.leafLevel) - 1;
      tlb.insert(vpid, eptRoot, vpn, this.ept.pfn, size4k, this.grantedPerm(), this.walkRefs);
    }
    this.transfer(this.ept.pfn, offset, size, pfec, lo, hi);
    return ACCESS_DONE;
  }

  /**
   * An access under shadow paging: the CPU walks KVM's shadow tables from `rootPfn`. A fault leaves
   * its error code in this.errorCode (the caller applies the exception bitmap and PFEC rule).
   */
  accessShadow(
    guest: WalkCpu, rootPfn: number, vpn: number, offset: number, size: number, pfec: number, lo: number, hi: number, tlb: Tlb, vpid: number,
  ): number {
    const c = this.shadowCpu;
    c.cr3 = rootPfn * 4096;
    c.smep = guest.smep;
    c.smap = guest.smap;
    c.ac = guest.ac;
    // A linear mapping: tagged with the VPID alone (SDM vol. 3C §28.3.1).
    const memo = this.memo;
    if ((memo === null || !tlb.repeatMiss(vpid, NO_EPTP, vpn)) && tlb.lookup(vpid, NO_EPTP, vpn, tlbNeed(c, pfec), tlbForbid(c, pfec))) {
      return this.hit(tlb, offset, size, pfec, lo, hi);
    }
    this.tlbHit = false;
    let flags = 0;
    if (memo !== null) {
      flags = walkFlags(c);
      const e = memo.find(rootPfn, vpn, pfec, c.cr3, flags, 0, this.host.writeGen);
      if (e >= 0) return this.replay(memo, e, offset);
      memo.clean = true;
    }
    const r = this.walker.walk(this.shadowMem, c, vpn, pfec, false);
    this.walkRefs = this.walker.reads;
    if (r !== WALK_OK) {
      this.errorCode = this.walker.errorCode;
      if (memo !== null && memo.clean && memo.again(vpn, pfec)) {
        // The shadow tables read: the entries' host frames.
        const w = this.walker;
        for (let l = 4; l > 4 - w.reads; l--) this.host.watch(Math.floor(w.pteGpa[l]! / 4096));
        memo.record(rootPfn, vpn, pfec, c.cr3, flags, 0, this.host.writeGen, ACCESS_GUEST_PF, this.walkRefs, this.errorCode, 0, 0, 0);
      }
      return ACCESS_GUEST_PF;
    }
    tlb.insert(vpid, NO_EPTP, vpn, this.walker.gfn, this.walker.level - 1, this.grantedPerm(), this.walkRefs);
    this.transfer(this.walker.gfn, offset, size, pfec, lo, hi);
    return ACCESS_DONE;
  }

  /** A remembered walk's result, as the walk would leave it (FaultWalkMemo). */
  private replay(memo: FaultWalkMemo, e: number, offset: number): number {
    this.walkRefs = memo.refs[e]!;
    const r = memo.result[e]!;
    if (r === ACCESS_GUEST_PF) {
      this.errorCode = memo.errorCode[e]!;
      return ACCESS_GUEST_PF;
    }
    this.exitGpa = memo.exitGpa[e]! + (r === ACCESS_EXIT_AT_OFFSET ? offset : 0);
    this.ept.exitReason = memo.exitReason[e]!;
    this.ept.qualification = memo.qualification[e]!;
    return ACCESS_EXIT;
  }

  /** Remember the EPT walk that just ended in a fault or an exit, if it wrote nothing: watch the EPT
   *  tables and guest paging entries it read (each entry's EPT path and the entry's frame, and the
   *  EPT path of the exit's GPA). */
  private remember(memo: FaultWalkMemo, eptRoot: number, vpn: number, pfec: number, cpu: WalkCpu, flags: number, result: number, exitGpa: number): void {
    if (!memo.clean || !memo.again(vpn, pfec)) return;
    const w = this.walker;
    for (let l = 4; l > 4 - w.reads; l--) this.ept.watchPath(eptRoot, w.pteGpa[l]!, true);
    if (exitGpa >= 0) this.ept.watchPath(eptRoot, exitGpa, false);
    const ept = this.ept;
    memo.record(eptRoot, vpn, pfec, cpu.cr3, flags, cpu.pkru, this.host.writeGen, result, this.walkRefs, this.errorCode, exitGpa, ept.exitReason, ept.qualification);
  }

  /** For a run of hits through TLB entry `i` (a fast path): which accesses the entry serves as access()
   *  or accessShadow() would decide, by `guest`'s paging state: bit (write ? 2 : 0) | (user ? 1 : 0). */
  hitGrants(guest: WalkCpu, shadow: boolean, tlb: Tlb, i: number): number {
    let cpu = guest;
    if (shadow) {
      cpu = this.shadowCpu;
      cpu.smep = guest.smep;
      cpu.smap = guest.smap;
      cpu.ac = guest.ac;
    }
    let bits = 0;
    for (let k = 0; k < 4; k++) {
      const pfec = (k & 2 ? PFERR_WRITE_MASK : 0) | (k & 1 ? PFERR_USER_MASK : 0);
      if (tlb.grants(i, tlbNeed(cpu, pfec), tlbForbid(cpu, pfec))) bits |= 1 << k;
    }
    return bits;
  }

  /** A TLB hit's effects besides the transfer (for a run of hits: after its last). */
  hitState(): void {
    this.tlbHit = true;
    this.walkRefs = 0;
  }

  /** A TLB hit: no walk, no A/D update, the access goes to the cached frame. */
  private hit(tlb: Tlb, offset: number, size: number, pfec: number, lo: number, hi: number): number {
    this.tlbHit = true;
    this.walkRefs = 0;
    this.transfer(tlb.hitFrame, offset, size, pfec, lo, hi);
    return ACCESS_DONE;
  }

  /** What the walk just made granted, as a TLB entry holds it: the guest's (or the shadow tables')
   *  combined W, U and X, and the leaf's D after the walk (the CPU set it for a write). */
  private grantedPerm(): number {
    const w = this.walker;
    const a = w.access;
    return (
      ((a & ACC_WRITE_MASK) !== 0 ? TLB_W : 0) |
      ((a & ACC_USER_MASK) !== 0 ? TLB_U : 0) |
      ((a & ACC_EXEC_MASK) !== 0 ? TLB_X : 0) |
      ((w.pteLo[w.level]! & PT_DIRTY_MASK) !== 0 ? TLB_D : 0)
    );
  }

  /** The access's bytes to or from frame `pfn` (a read's value in this.lo / this.hi). */
  transfer(pfn: number, offset: number, size: number, pfec: number, lo: number, hi: number): void {
    if (pfec & PFERR_FETCH_MASK) return;
    if (pfec & PFERR_WRITE_MASK) this.host.write(pfn, offset, size, lo, hi);
    else {
      this.host.read(pfn, offset, size);
      this.lo = this.host.lo;
      this.hi = this.host.hi;
    }
  }

  private exit(gpa: number): number {
    this.exitGpa = gpa;
    return ACCESS_EXIT;
  }
}

/** The paging state a walk reads besides CR3 and PKRU, as bits (FaultWalkMemo's key). */
function walkFlags(cpu: WalkCpu): number {
  return (cpu.cr0Wp ? 1 : 0) | (cpu.nx ? 2 : 0) | (cpu.smep ? 4 : 0) | (cpu.smap ? 8 : 0) | (cpu.pke ? 16 : 0) | (cpu.ac ? 32 : 0);
}

/** The rights an access needs from a TLB entry, by the walker's rules: W for a user write or a
 *  supervisor write with CR0.WP, U for a user access, X for a fetch (the entry's X already says
 *  "executable", EFER.NXE off included), and D for any write (SDM vol. 3A §4.8). */
function tlbNeed(cpu: WalkCpu, pfec: number): number {
  const user = (pfec & PFERR_USER_MASK) !== 0;
  let need = user ? TLB_U : 0;
  if ((pfec & PFERR_WRITE_MASK) !== 0) need |= TLB_D | (user || cpu.cr0Wp ? TLB_W : 0);
  if ((pfec & PFERR_FETCH_MASK) !== 0) need |= TLB_X;
  return need;
}

/** TLB_U when a user page would fault this supervisor access (SMEP for a fetch, SMAP for data with
 *  EFLAGS.AC clear), or when protection keys decide a data access (the entry holds no key): the
 *  access then walks, and the walk decides. */
function tlbForbid(cpu: WalkCpu, pfec: number): number {
  const fetch = (pfec & PFERR_FETCH_MASK) !== 0;
  if (!fetch && cpu.pke) return TLB_U;
  if ((pfec & PFERR_USER_MASK) !== 0) return 0;
  return (fetch ? cpu.smep : cpu.smap && !cpu.ac) ? TLB_U : 0;
}
