// The CPU's EPT translation of a guest-physical address [SDM "EPT Violations", "EPT
// Misconfigurations"]: walk the EPT paging structures from the EPTP, in host physical memory; a
// present entry with a misconfiguration stops the walk with EXIT_REASON_EPT_MISCONFIG (it takes
// priority over any violation), a not-present entry or a missing permission with
// EXIT_REASON_EPT_VIOLATION and its exit qualification.

import type { HostMemory } from '../../host/physmem';
import { eptIsLeaf, eptMisconfigured, reservedPaMaskHi } from './ept';
import { EPT_QUAL_GLA_FINAL, EPT_QUAL_GLA_VALID, EXIT_REASON_EPT_MISCONFIG, EXIT_REASON_EPT_VIOLATION } from './vmx';
import { frameOf } from './u64';
import { indexOfVpn, pagesPerLevel } from './paging';

/** Access types, as the low bits of the exit qualification: read 1, write 2, fetch 4. */
export const EPT_ACCESS_READ = 1;
export const EPT_ACCESS_WRITE = 2;
export const EPT_ACCESS_FETCH = 4;

export class EptWalk {
  /** Result: 0 = translated (pfn set), else the exit reason. */
  exitReason = 0;
  qualification = 0;
  pfn = 0;
  /** The entry that caused a misconfiguration, and its level. */
  badLo = 0;
  badHi = 0;
  badLevel = 0;
  /** Of the last translation: the leaf's level and the RWX the walk granted (a TLB caches both). */
  leafLevel = 0;
  rwx = 0;
  /** EPT entries read, added up over translations until the caller resets it (a TLB miss's cost). */
  refs = 0;

  private readonly rsvdPaHi: number;

  constructor(private readonly host: HostMemory) {
    this.rsvdPaHi = reservedPaMaskHi(host.maxphyaddr);
  }

  /** Translate `gpa` for `access`; `final` is false for reads/writes of guest paging structures. */
  translate(eptRootPfn: number, gpa: number, access: number, final: boolean): number {
    const host = this.host;
    const words = host.words;
    const gfn = Math.floor(gpa / 4096);
    let table = eptRootPfn;
    let rwx = 7;
    for (let level = 4; level >= 1; level--) {
      const w = host.entryWord(table, indexOfVpn(gfn, level));
      const lo = words[w]!;
      const hi = words[w + 1]!;
      this.refs++;
      if ((lo & 7) === 0) return this.violation(access, 0, final);
      const leaf = eptIsLeaf(lo, level);
      // Fast path: the entries KVM writes (non-leaf `pa | RWX`, leaf `pa | RWX | WB | IPAT | bit 9`)
      // are well-formed; anything else gets the full SDM check.
      const wellFormed = (hi & this.rsvdPaHi) === 0 && (leaf ? level === 1 && (lo & 0x7f) === 0x77 : (lo & 0xff) === 0x07);
      if (!wellFormed && eptMisconfigured(lo, hi, level, leaf, this.rsvdPaHi)) {
        this.badLo = lo;
        this.badHi = hi;
        this.badLevel = level;
        return (this.exitReason = EXIT_REASON_EPT_MISCONFIG);
      }
      rwx &= lo;
      if (leaf) {
        if ((access & rwx) !== access) return this.violation(access, rwx, final);
        this.pfn = frameOf(lo, hi) + (level === 1 ? 0 : (gfn & (pagesPerLevel(level) - 1)));
        this.leafLevel = level;
        this.rwx = rwx & 7;
        return (this.exitReason = 0);
      }
      table = frameOf(lo, hi);
    }
    return this.violation(access, 0, final);
  }

  /** Watch (HostMemory.watch) the EPT tables a translation of `gpa` reads, and with `frame` the
   *  frame it maps (a guest paging entry's page): a remembered walk read them (fault_walk_memo.ts). */
  watchPath(eptRootPfn: number, gpa: number, frame: boolean): void {
    const host = this.host;
    const words = host.words;
    const gfn = Math.floor(gpa / 4096);
    let table = eptRootPfn;
    for (let level = 4; level >= 1; level--) {
      if (!host.isLive(table)) return;
      host.watch(table);
      const w = host.entryWord(table, indexOfVpn(gfn, level));
      const lo = words[w]!;
      const hi = words[w + 1]!;
      if ((lo & 7) === 0) return;
      if (eptIsLeaf(lo, level)) {
        const pfn = frameOf(lo, hi) + (level === 1 ? 0 : gfn & (pagesPerLevel(level) - 1));
        if (frame && host.isLive(pfn)) host.watch(pfn);
        return;
      }
      table = frameOf(lo, hi);
    }
  }

  private violation(access: number, rwx: number, final: boolean): number {
    this.qualification = access | (rwx << 3) | EPT_QUAL_GLA_VALID | (final ? EPT_QUAL_GLA_FINAL : 0);
    return (this.exitReason = EXIT_REASON_EPT_VIOLATION);
  }
}
