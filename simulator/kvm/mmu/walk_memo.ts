// A fast path (Kvm.fastPaths): KVM's software guest walk FNAME(walk_addr_generic), remembered with
// what it read and replayed while none of it has changed. A warm MMIO exit walks the same two
// addresses (RIP for the fetch, RDI for the operand) through the same guest tables every time.
//
// What a walk reads, and what moves when it changes (the invalidation rule, docs/decisions.md
// "Memoized walks"):
//   * the address and the access (vpn, pfec) and the paging state (CR3, CR0, CR4, EFER, PKRU,
//     EFLAGS.AC): part of the key;
//   * the memslot array (which slot holds each table gfn, and how many entries a search compares):
//     Memslots.generation, bumped by every install and publish (a slot created, deleted, flagged
//     invalid); a slot's gfn -> pfn map changes only when a page is faulted in (a walk that faults
//     one in is not remembered) or when the slot is released (its deletion publishes);
//   * the guest paging entries, in host frames: HostMemory.writeGen, bumped by every write, store,
//     allocation or free of a frame a remembered walk read (HostMemory.watch).
// Only walks that complete (WALK_OK) on the first attempt without writing (no A/D update: a walk that
// sets a bit changes memory, and the next one would not) are remembered. The replay makes the walk's
// charges, counters and trace events in the slow path's order (so clocks and sequence numbers are
// the slow path's), and leaves the walker's fields as the walk would.

import type { Vcpu } from '../vcpu';

/** Remembered walks, direct-mapped by (vpn, pfec): enough that a transaction's few MMIO pages, each
 *  read and written, and the code page do not evict each other (netperf's touch 4 pages 8 ways). */
const ENTRIES = 64;

export class WalkMemo {
  /** Key, per entry. */
  readonly vpn = new Float64Array(ENTRIES);
  readonly pfec = new Float64Array(ENTRIES);
  readonly cr3 = new Float64Array(ENTRIES);
  readonly cr0 = new Float64Array(ENTRIES);
  readonly cr4 = new Float64Array(ENTRIES);
  readonly efer = new Float64Array(ENTRIES);
  readonly pkru = new Float64Array(ENTRIES);
  readonly ac = new Float64Array(ENTRIES);
  /** Memslots.generation and HostMemory.writeGen when recorded; valid = -1 for an empty entry. */
  readonly slotGen = new Float64Array(ENTRIES).fill(-1);
  readonly writeGen = new Float64Array(ENTRIES);
  /** Result: entries read, the translation's gfn, leaf level and access. */
  readonly reads = new Int32Array(ENTRIES);
  readonly gfn = new Float64Array(ENTRIES);
  readonly level = new Int32Array(ENTRIES);
  readonly access = new Int32Array(ENTRIES);
  /** Per entry read (entry * 4 + i): its memslot search's compares, gpa, value and level. */
  readonly compares = new Int32Array(ENTRIES * 4);
  readonly pteGpa = new Float64Array(ENTRIES * 4);
  readonly pteLo = new Uint32Array(ENTRIES * 4);
  readonly pteHi = new Uint32Array(ENTRIES * 4);
  readonly pteLevel = new Int32Array(ENTRIES * 4);
  /** Replays done (a probe for tests: the fast path must fire in the warm case). */
  replays = 0;

  /** Recording in progress: the entry being filled, and whether the walk stayed clean so far. */
  recording = false;
  clean = true;
  count = 0;
  private at = 0;

  static slot(vpn: number, pfec: number): number {
    // The page's low bits, with the access's W, U and fetch bits folded onto others (pfec * 9: W to
    // bits 1 and 4, U to 2 and 5, fetch to 4): exact integer arithmetic below 2^53, no `%`.
    return (vpn ^ (pfec * 9)) & (ENTRIES - 1);
  }

  /** The entry for this walk if it is remembered and still valid, else -1. */
  find(vcpu: Vcpu, vpn: number, pfec: number, slotGen: number, writeGen: number): number {
    const e = WalkMemo.slot(vpn, pfec);
    if (
      this.slotGen[e] !== slotGen || this.writeGen[e] !== writeGen || this.vpn[e] !== vpn || this.pfec[e] !== pfec ||
      this.cr3[e] !== vcpu.cr3 || this.cr0[e] !== vcpu.cr0 || this.cr4[e] !== vcpu.cr4 || this.efer[e] !== vcpu.efer ||
      this.pkru[e] !== vcpu.pkru || this.ac[e] !== (vcpu.ac ? 1 : 0)
    ) return -1;
    return e;
  }

  /** Start recording the walk of (vpn, pfec): its entry is emptied until the walk proves clean. */
  begin(vpn: number, pfec: number): void {
    const e = (this.at = WalkMemo.slot(vpn, pfec));
    this.slotGen[e] = -1;
    this.recording = true;
    this.clean = true;
    this.count = 0;
  }

  /** One entry read by the walk being recorded. */
  read(compares: number, gpa: number, lo: number, hi: number, level: number): void {
    const i = this.count++;
    if (i >= 4) {
      this.clean = false; // a restarted walk reads more than four: not remembered
      return;
    }
    const k = this.at * 4 + i;
    this.compares[k] = compares;
    this.pteGpa[k] = gpa;
    this.pteLo[k] = lo;
    this.pteHi[k] = hi;
    this.pteLevel[k] = level;
  }

  /** End the recording; remember the walk if it was clean. The caller has watched its frames. */
  end(vcpu: Vcpu, vpn: number, pfec: number, ok: boolean, gfn: number, level: number, access: number, slotGen: number, writeGen: number): void {
    this.recording = false;
    if (!ok || !this.clean) return;
    const e = this.at;
    this.vpn[e] = vpn;
    this.pfec[e] = pfec;
    this.cr3[e] = vcpu.cr3;
    this.cr0[e] = vcpu.cr0;
    this.cr4[e] = vcpu.cr4;
    this.efer[e] = vcpu.efer;
    this.pkru[e] = vcpu.pkru;
    this.ac[e] = vcpu.ac ? 1 : 0;
    this.reads[e] = this.count;
    this.gfn[e] = gfn;
    this.level[e] = level;
    this.access[e] = access;
    this.writeGen[e] = writeGen;
    this.slotGen[e] = slotGen;
  }
}
