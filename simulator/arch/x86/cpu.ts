// The CPU executing a guest memory access under EPT: the two-dimensional walk. Each guest paging
// entry's guest-physical address is itself translated through EPT (a read; A/D updates are
// writes), then the final guest-physical address is translated for the access. Any EPT exit stops
// the access (the instruction re-executes after the hypervisor resumes the guest); a guest #PF is
// delivered through the guest's IDT without an exit (exception bitmap bit 14 is clear under EPT).
// No TLB is modelled: every access walks, which the architecture allows (a TLB is only a cache)
// and which keeps A/D behaviour exact; what a TLB saves is a cost question (docs/cost-model.md).

import type { HostMemory } from '../../host/physmem';
import { EptWalk, EPT_ACCESS_FETCH, EPT_ACCESS_READ, EPT_ACCESS_WRITE } from './ept_walk';
import { GuestWalker, WALK_FAULT, WALK_OK, type WalkCpu, type WalkMemory } from './walker';
import { PFERR_FETCH_MASK, PFERR_WRITE_MASK } from './paging';

export const ACCESS_DONE = 0;
export const ACCESS_GUEST_PF = 1;
export const ACCESS_EXIT = 2;

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
    if (this.ept.translate(this.root, gpa, EPT_ACCESS_WRITE, false) !== 0) return false;
    setBitsLocked(this.host, this.ept.pfn, gpa & 0xfff, bits);
    return true;
  }
}

/** Shadow paging: the CPU walks KVM's shadow tables, which live in host physical memory. */
class HostTableMemory implements WalkMemory {
  lo = 0;
  hi = 0;
  constructor(private readonly host: HostMemory) {}

  readEntry(hpa: number): boolean {
    this.host.read(Math.floor(hpa / 4096), hpa & 0xfff, 8);
    this.lo = this.host.lo;
    this.hi = this.host.hi;
    return true;
  }

  setBits(hpa: number, bits: number): boolean {
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

  constructor(private readonly host: HostMemory) {
    this.ept = new EptWalk(host);
    this.walker = new GuestWalker(host.maxphyaddr);
    this.mem = new EptGuestMemory(host, this.ept);
    this.shadowMem = new HostTableMemory(host);
  }

  /**
   * An access under EPT of `size` bytes at (vpn, offset) for `pfec` (W, U, FETCH bits), with the
   * vCPU's paging state and `eptRoot` as the EPTP. Writes store (lo, hi); reads leave the value in
   * this.lo / this.hi; a fetch transfers nothing.
   */
  access(cpu: WalkCpu, eptRoot: number, vpn: number, offset: number, size: number, pfec: number, lo: number, hi: number): number {
    this.mem.root = eptRoot;
    const r = this.walker.walk(this.mem, cpu, vpn, pfec, false);
    if (r === WALK_FAULT) {
      this.errorCode = this.walker.errorCode;
      return ACCESS_GUEST_PF;
    }
    if (r !== WALK_OK) return this.exit(this.mem.gpa);
    const gpa = this.walker.gfn * 4096 + offset;
    const type = pfec & PFERR_FETCH_MASK ? EPT_ACCESS_FETCH : pfec & PFERR_WRITE_MASK ? EPT_ACCESS_WRITE : EPT_ACCESS_READ;
    if (this.ept.translate(eptRoot, gpa, type, true) !== 0) return this.exit(gpa);
    this.transfer(this.ept.pfn, offset, size, pfec, lo, hi);
    return ACCESS_DONE;
  }

  /**
   * An access under shadow paging: the CPU walks KVM's shadow tables from `rootPfn`. A fault leaves
   * its error code in this.errorCode (the caller applies the exception bitmap and PFEC rule).
   */
  accessShadow(guest: WalkCpu, rootPfn: number, vpn: number, offset: number, size: number, pfec: number, lo: number, hi: number): number {
    const c = this.shadowCpu;
    c.cr3 = rootPfn * 4096;
    c.smep = guest.smep;
    c.smap = guest.smap;
    c.ac = guest.ac;
    const r = this.walker.walk(this.shadowMem, c, vpn, pfec, false);
    if (r !== WALK_OK) {
      this.errorCode = this.walker.errorCode;
      return ACCESS_GUEST_PF;
    }
    this.transfer(this.walker.gfn, offset, size, pfec, lo, hi);
    return ACCESS_DONE;
  }

  private transfer(pfn: number, offset: number, size: number, pfec: number, lo: number, hi: number): void {
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
