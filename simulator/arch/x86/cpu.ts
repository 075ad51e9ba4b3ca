// The CPU executing a guest memory access under EPT: the two-dimensional walk. Each guest paging
// entry's guest-physical address is itself translated through EPT (a read; A/D updates are
// writes), then the final guest-physical address is translated for the access. Any EPT exit stops
// the access (the instruction re-executes after the hypervisor resumes the guest); a guest #PF is
// delivered through the guest's IDT without an exit (exception bitmap bit 14 is clear under EPT).
// No TLB is modelled: every access walks, which the architecture allows (a TLB is only a cache)
// and which keeps A/D behaviour exact; what a TLB saves is a cost question (docs/cost-model.md).

import type { HostMemory } from '../../host/physmem';
import { EptWalk, EPT_ACCESS_READ, EPT_ACCESS_WRITE } from './ept_walk';
import { GuestWalker, WALK_FAULT, WALK_OK, type WalkCpu, type WalkMemory } from './walker';
import { PFERR_USER_MASK, PFERR_WRITE_MASK } from './paging';

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
    this.host.read(this.ept.pfn, gpa % 4096, 8);
    this.lo = this.host.lo;
    this.hi = this.host.hi;
    return true;
  }

  setBits(gpa: number, bits: number, lo: number, hi: number): boolean {
    this.gpa = gpa;
    if (this.ept.translate(this.root, gpa, EPT_ACCESS_WRITE, false) !== 0) return false;
    this.host.read(this.ept.pfn, gpa % 4096, 8);
    if (this.host.lo !== lo || this.host.hi !== hi) return false;
    this.host.write(this.ept.pfn, gpa % 4096, 8, (lo | bits) >>> 0, hi);
    return true;
  }
}

export class Cpu {
  readonly ept: EptWalk;
  readonly walker: GuestWalker;
  private readonly mem: EptGuestMemory;
  /** Result of the last access: the exit's GPA, the guest #PF error code, the bytes read. */
  exitGpa = 0;
  errorCode = 0;
  lo = 0;
  hi = 0;

  constructor(private readonly host: HostMemory) {
    this.ept = new EptWalk(host);
    this.walker = new GuestWalker(host.maxphyaddr);
    this.mem = new EptGuestMemory(host, this.ept);
  }

  /**
   * A data access of `size` bytes at (vpn, offset), with the vCPU's paging state and `eptRoot` as
   * the EPTP. Writes store (lo, hi); reads leave the value in this.lo / this.hi.
   */
  access(cpu: WalkCpu, cpl: number, eptRoot: number, vpn: number, offset: number, size: number, write: boolean, lo: number, hi: number): number {
    this.mem.root = eptRoot;
    const pfec = (write ? PFERR_WRITE_MASK : 0) | (cpl === 3 ? PFERR_USER_MASK : 0);
    const r = this.walker.walk(this.mem, cpu, vpn, pfec, false);
    if (r === WALK_FAULT) {
      this.errorCode = this.walker.errorCode;
      return ACCESS_GUEST_PF;
    }
    if (r !== WALK_OK) return this.exit(this.mem.gpa);
    const gpa = this.walker.gfn * 4096 + offset;
    if (this.ept.translate(eptRoot, gpa, write ? EPT_ACCESS_WRITE : EPT_ACCESS_READ, true) !== 0) return this.exit(gpa);
    if (write) this.host.write(this.ept.pfn, offset, size, lo, hi);
    else {
      this.host.read(this.ept.pfn, offset, size);
      this.lo = this.host.lo;
      this.hi = this.host.hi;
    }
    return ACCESS_DONE;
  }

  private exit(gpa: number): number {
    this.exitGpa = gpa;
    return ACCESS_EXIT;
  }
}
