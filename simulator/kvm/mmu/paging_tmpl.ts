// KVM's software walk of the guest page tables, FNAME(walk_addr_generic) as paging64_gva_to_gpa
// uses it (the emulator's GVA -> GPA translation under EPT): the architecture's rules come from the
// shared walker; what is KVM's is how it reads guest memory. Each gPTE read goes through
// kvm_read_guest_page_mmu -> gfn_to_hva, i.e. one memslot lookup per entry, and each A/D update
// is a cmpxchg on the gPTE followed by mark_page_dirty (another lookup).

import { F } from '../kernel_functions';
import { vaLo, vaHi } from '../../arch/x86/u64';
import type { Kvm } from '../kvm';
import type { Vcpu } from '../vcpu';
import { C } from '../../cost/accounting';
import { E } from '../../trace/events';
import { S } from '../../trace/stats';
import { GuestWalker, WALK_ABORTED, WALK_OK, type WalkMemory } from '../../arch/x86/walker';
import { PFERR_FETCH_MASK, PFERR_USER_MASK, PFERR_WRITE_MASK, PT_ACCESSED_MASK } from '../../arch/x86/paging';
import type { WalkMemo } from './walk_memo';

class KvmGuestMemory implements WalkMemory {
  lo = 0;
  hi = 0;
  vcpu!: Vcpu;
  /** The walk being recorded for replay (fast paths only), else null. */
  memo: WalkMemo | null = null;
  constructor(private readonly kvm: Kvm) {}

  readEntry(gpa: number, level: number): boolean {
    const kvm = this.kvm;
    const vcpu = this.vcpu;
    const gfn = Math.floor(gpa / 4096);
    const memo = this.memo;
    const before = memo === null ? 0 : kvm.memslots.compares;
    const slot = kvm.gfnToMemslot(vcpu, gfn);
    kvm.stats[S.guest_pte_reads]!++;
    kvm.acct.charge(vcpu, C.guest_walk, kvm.cost.guest_pte_read);
    if (slot === null) return false; // kvm_is_error_hva: the walk fails as not present
    // A page faulted in here changes the slot's map: such a walk is not remembered.
    if (memo !== null && slot.pfnOf(gfn) === 0) memo.clean = false;
    const pfn = kvm.slotPfn(vcpu, slot, gfn);
    kvm.host.read(pfn, gpa & 0xfff, 8);
    this.lo = kvm.host.lo;
    this.hi = kvm.host.hi;
    if (memo !== null) {
      kvm.host.watch(pfn);
      memo.read(kvm.memslots.compares - before, gpa, this.lo, this.hi, level);
    }
    const tr = kvm.trace, args = tr.args, at = tr.at;
    args[at] = this.lo;
    args[at + 1] = this.hi;
    args[at + 2] = level;
    tr.emit(E.kvm_mmu_paging_element, vcpu, vcpu.line);
    return true;
  }

  setBits(gpa: number, bits: number, lo: number, hi: number): boolean {
    const kvm = this.kvm;
    const vcpu = this.vcpu;
    if (this.memo !== null) this.memo.clean = false; // the walk writes: the next one would differ
    const gfn = Math.floor(gpa / 4096);
    const slot = kvm.memslots.find(gfn);
    if (slot === null) return false;
    const pfn = slot.pfnOf(gfn); // the hva the read used: no new lookup for the cmpxchg itself
    kvm.host.read(pfn, gpa & 0xfff, 8);
    if (kvm.host.lo !== lo || kvm.host.hi !== hi) return false; // changed under us: retry_walk
    kvm.host.write(pfn, gpa & 0xfff, 8, (lo | bits) >>> 0, hi);
    const tr = kvm.trace, args = tr.args, at = tr.at;
    args[at] = gpa;
    tr.emit(bits & PT_ACCESSED_MASK ? E.kvm_mmu_set_accessed_bit : E.kvm_mmu_set_dirty_bit, vcpu, vcpu.line);
    kvm.gfnToMemslot(vcpu, gfn); // mark_page_dirty(kvm, table_gfn)
    return true;
  }
}

export class KvmWalker {
  readonly walker: GuestWalker;
  private readonly mem: KvmGuestMemory;
  /** Remembered walks (Kvm.walkMemo: null with fast paths off). */
  private readonly memo: WalkMemo | null;
  constructor(private readonly kvm: Kvm) {
    this.walker = new GuestWalker(kvm.host.maxphyaddr);
    this.mem = new KvmGuestMemory(kvm);
    this.memo = kvm.walkMemo;
  }

  /** gva_to_gpa: returns true with walker.gfn set, or false with walker.errorCode set (or no slot). */
  gvaToGpa(vcpu: Vcpu, vpn: number, offset: number, pfec: number): boolean {
    vcpu.path.enter(F.paging64_walk_addr_generic);
    const ok = this.gvaToGpaInner(vcpu, vpn, offset, pfec);
    vcpu.path.leave();
    return ok;
  }

  private gvaToGpaInner(vcpu: Vcpu, vpn: number, offset: number, pfec: number): boolean {
    const kvm = this.kvm;
    kvm.stats[S.guest_walks]!++;
    kvm.acct.charge(vcpu, C.guest_walk, kvm.cost.guest_walk_setup);
    const tr = kvm.trace, args = tr.args, at = tr.at;
    args[at] = vaLo(vpn, offset);
    args[at + 1] = vaHi(vpn);
    args[at + 2] = pfec;
    tr.emit(E.kvm_mmu_pagetable_walk, vcpu, vcpu.line);
    this.mem.vcpu = vcpu;
    const r = this.memo === null ? this.walker.walk(this.mem, vcpu, vpn, pfec, true) : this.walkMemo(this.memo, vcpu, vpn, pfec);
    if (r === WALK_ABORTED) {
      // A table gfn with no slot: `if (unlikely(kvm_is_error_hva(host_addr))) goto error;` — a
      // not-present fault with the access's W/U, and I/D for a fetch when NX (3.1: or SMEP) is on.
      const fetch = (pfec & PFERR_FETCH_MASK) !== 0 && (vcpu.nx || (kvm.kernel !== 'v3.0' && vcpu.smep));
      this.walker.errorCode = (pfec & (PFERR_WRITE_MASK | PFERR_USER_MASK)) | (fetch ? PFERR_FETCH_MASK : 0);
    }
    if (r !== WALK_OK) {
      const tr = kvm.trace, args = tr.args, at = tr.at;
      args[at] = this.walker.errorCode;
      tr.emit(E.kvm_mmu_walker_error, vcpu, vcpu.line);
      return false;
    }
    return true;
  }

  /** The walk through the memo: replayed if remembered and valid, else walked and recorded. */
  private walkMemo(memo: WalkMemo, vcpu: Vcpu, vpn: number, pfec: number): number {
    const kvm = this.kvm;
    const slotGen = kvm.memslots.generation;
    const e = memo.find(vcpu, vpn, pfec, slotGen, kvm.host.writeGen);
    if (e >= 0) return this.replay(memo, e, vcpu);
    memo.begin(vpn, pfec);
    const gen = kvm.host.writeGen;
    this.mem.memo = memo;
    const r = this.walker.walk(this.mem, vcpu, vpn, pfec, true);
    this.mem.memo = null;
    const w = this.walker;
    // Each frame was watched as it was read; a clean walk wrote none, and nothing else wrote one
    // meanwhile (the generation has not moved: a write by anything during the walk, such as a test's
    // hook on its trace events, leaves it unremembered).
    const ok = r === WALK_OK && w.reads === memo.count && kvm.host.writeGen === gen && kvm.memslots.generation === slotGen;
    memo.end(vcpu, vpn, pfec, ok, w.gfn, w.level, w.access, slotGen, gen);
    return r;
  }

  /** What the remembered walk did, in the slow path's order: per entry read, the memslot search
   *  (gfn_to_memslot), the gPTE read's count and charge, and kvm_mmu_paging_element at the clock
   *  they leave; then the walker's results. */
  private replay(memo: WalkMemo, e: number, vcpu: Vcpu): number {
    const kvm = this.kvm;
    const st = kvm.stats;
    const cost = kvm.cost.guest_pte_read;
    const n = memo.reads[e]!;
    const w = this.walker;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < n; i++) {
      const k = e * 4 + i;
      kvm.replayMemslotHit(vcpu, memo.compares[k]!);
      st[S.guest_pte_reads]!++;
      kvm.acct.charge(vcpu, C.guest_walk, cost);
      lo = memo.pteLo[k]!;
      hi = memo.pteHi[k]!;
      const level = memo.pteLevel[k]!;
      const tr = kvm.trace, args = tr.args, at = tr.at;
      args[at] = lo;
      args[at + 1] = hi;
      args[at + 2] = level;
      tr.emit(E.kvm_mmu_paging_element, vcpu, vcpu.line);
      w.pteGpa[level] = memo.pteGpa[k]!;
      w.pteLo[level] = lo;
      w.pteHi[level] = hi;
    }
    w.reads = n;
    w.gfn = memo.gfn[e]!;
    w.level = memo.level[e]!;
    w.access = memo.access[e]!;
    w.status = WALK_OK;
    // The scratch values the last read left.
    this.mem.lo = kvm.host.lo = lo;
    this.mem.hi = kvm.host.hi = hi;
    memo.replays++;
    return WALK_OK;
  }
}
