// A fast path (RunOptions.fastPaths): the CPU's page walks that end in a guest #PF or a VM exit,
// remembered with their result and replayed while nothing they read has changed. The hardware caches
// no failed translation (SDM vol. 3C §28.3.1), so every warm MMIO access misses the TLB and walks to
// the same exit again: under EPT the 2D walk to the MMIO gpa's EPT misconfiguration or violation,
// under shadow paging the walk to the MMIO SPTE's reserved-bit fault. Such a walk has no effect but
// its result (it is not charged, traces nothing, and sets no A/D bit: the CPU sets them only when the
// translation succeeds), so the replay sets the result the walk would.
//
// The rule (docs/decisions.md "Memoized walks"): a walk is keyed by the table root (EPTP root, or
// the shadow root), the page, the access and the paging state it read; the memory it read (guest
// paging entries, EPT or shadow tables) is watched (HostMemory.watch), and any store, allocation or
// free of a watched frame moves HostMemory.writeGen, which the entry holds. Walks that wrote (an A/D
// update, whose write then exits) are not remembered. The TLB is still looked up first: a hit there
// takes precedence, as it does on the slow path.

/** Remembered walks, direct-mapped by (vpn, pfec): enough that a transaction's few MMIO pages, each
 *  read and written, and the code page do not evict each other (netperf's touch 4 pages 8 ways). */
const ENTRIES = 64;

export class FaultWalkMemo {
  readonly root = new Float64Array(ENTRIES);
  readonly vpn = new Float64Array(ENTRIES);
  readonly pfec = new Float64Array(ENTRIES);
  readonly cr3 = new Float64Array(ENTRIES);
  /** CR0.WP, EFER.NXE, CR4.SMEP, CR4.SMAP, CR4.PKE, EFLAGS.AC as bits 0-5; PKRU. */
  readonly flags = new Float64Array(ENTRIES);
  readonly pkru = new Float64Array(ENTRIES);
  /** HostMemory.writeGen when recorded; -1: empty. */
  readonly writeGen = new Float64Array(ENTRIES).fill(-1);
  /** Result: the access's return code, memory references, error code, exit GPA, exit reason, qualification. */
  readonly result = new Int32Array(ENTRIES);
  readonly refs = new Int32Array(ENTRIES);
  readonly errorCode = new Int32Array(ENTRIES);
  readonly exitGpa = new Float64Array(ENTRIES);
  readonly exitReason = new Int32Array(ENTRIES);
  readonly qualification = new Int32Array(ENTRIES);
  /** Replays done (a probe for tests). */
  replays = 0;
  /** Cleared by a write during the walk being recorded. */
  clean = true;
  /** Per entry, the last walk that failed there: a walk is remembered the second time in a row it is
   *  seen, so a stream of first touches (cold faults) pays no recording. */
  private readonly seenVpn = new Float64Array(ENTRIES).fill(-1);
  private readonly seenPfec = new Float64Array(ENTRIES);

  /** Note a failed walk of (vpn, pfec); true if the last one noted in its entry was the same. */
  again(vpn: number, pfec: number): boolean {
    const e = FaultWalkMemo.slot(vpn, pfec);
    const same = this.seenVpn[e] === vpn && this.seenPfec[e] === pfec;
    this.seenVpn[e] = vpn;
    this.seenPfec[e] = pfec;
    return same;
  }

  static slot(vpn: number, pfec: number): number {
    // The page's low bits, with the access's W, U and fetch bits folded onto others (pfec * 9: W to
    // bits 1 and 4, U to 2 and 5, fetch to 4): exact integer arithmetic below 2^53, no `%`.
    return (vpn ^ (pfec * 9)) & (ENTRIES - 1);
  }

  find(root: number, vpn: number, pfec: number, cr3: number, flags: number, pkru: number, writeGen: number): number {
    const e = FaultWalkMemo.slot(vpn, pfec);
    if (
      this.writeGen[e] !== writeGen || this.vpn[e] !== vpn || this.pfec[e] !== pfec || this.root[e] !== root ||
      this.cr3[e] !== cr3 || this.flags[e] !== flags || this.pkru[e] !== pkru
    ) return -1;
    this.replays++;
    return e;
  }

  record(root: number, vpn: number, pfec: number, cr3: number, flags: number, pkru: number, writeGen: number, result: number, refs: number, errorCode: number, exitGpa: number, exitReason: number, qualification: number): void {
    const e = FaultWalkMemo.slot(vpn, pfec);
    this.root[e] = root;
    this.vpn[e] = vpn;
    this.pfec[e] = pfec;
    this.cr3[e] = cr3;
    this.flags[e] = flags;
    this.pkru[e] = pkru;
    this.result[e] = result;
    this.refs[e] = refs;
    this.errorCode[e] = errorCode;
    this.exitGpa[e] = exitGpa;
    this.exitReason[e] = exitReason;
    this.qualification[e] = qualification;
    this.writeGen[e] = writeGen;
  }
}
