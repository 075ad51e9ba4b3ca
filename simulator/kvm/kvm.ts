// `struct kvm` for the simulator: the VM's memslots, MMU (shadow pages, the SPTE format of the era),
// devices, counters, cost accounting and trace, plus the small services the fault paths share
// (memslot lookup, gfn_to_pfn, SPTE stores, remote TLB flush, MMU reload requests).

import { coldCompares } from './memslot_warmth';
import type { Kernel } from '../scenario/types';
import type { CostProfile } from '../cost/profile';
import { Accounting, C } from '../cost/accounting';
import type { CallPath } from '../cost/call_path';
import { F } from './kernel_functions';
import { HostMemory } from '../host/physmem';
import { Memslots, type Memslot } from './memslots';
import { SpteFormat } from './mmu/spte';
import { ShadowPages } from './mmu/shadow_pages';
import { Rmap } from './mmu/rmap';
import { LocklessResult } from './mmu/mmio_fault';
import { MmioBus } from '../devices/mmio_device';
import { TraceBuffer } from '../trace/buffer';
import { E } from '../trace/events';
import { newStats, S } from '../trace/stats';
import { Vcpu } from './vcpu';
import { Srcu } from './srcu';
import { MemslotUpdate } from './memslot_update';
import { FAULT_CLASSES } from './fault_class';
import { Tlb, TLB_BY_PROFILE } from '../arch/x86/tlb';
import { WalkMemo } from './mmu/walk_memo';

/** What the scheduler offers the fault paths: a chance to let another vCPU run at a race point. */
export interface RaceHooks {
  point(vcpu: Vcpu, point: number, level: number): void;
}

export const NO_RACES: RaceHooks = { point() {} };

export interface KvmConfig {
  kernel: Kernel;
  tdp: boolean;
  mmioCaching: boolean;
  /** mmu.c's oos_shadow module parameter (default 1). */
  oosShadow: boolean;
  /** vmx.c's enable_vpid module parameter (default 1). */
  enableVpid: boolean;
  bypassGuestPf: boolean;
  maxphyaddr: number;
  cost: CostProfile;
  traceCapacity: number;
  vcpus: number;
  /** Attribute charges to call paths (RunOptions.callPaths). */
  callPaths: boolean;
  /** Take the fast paths (RunOptions.fastPaths). */
  fastPaths: boolean;
}

export class Kvm {
  readonly kernel: Kernel;
  readonly tdp: boolean;
  readonly host: HostMemory;
  readonly memslots = new Memslots();
  readonly fmt: SpteFormat;
  readonly sp: ShadowPages;
  readonly rmap: Rmap;
  readonly stats = newStats();
  /** Exits and faults per class (FAULT_CLASSES order). */
  readonly faultCounts = new Float64Array(FAULT_CLASSES.length);
  /** Faults per class per source line ((line * FAULT_CLASSES.length) + class), sized by the run. */
  lineFaults = new Float64Array(0);
  readonly acct: Accounting;
  /** The call-path tree (enter/leave around the kernel functions modelled). */
  readonly cp: CallPath;
  readonly cost: CostProfile;
  readonly trace: TraceBuffer;
  bus = new MmioBus([]);
  readonly vcpus: Vcpu[] = [];
  /** v3.0's bypass_guest_pf, in force (shadow paging only). */
  readonly bypassGuestPf: boolean;
  /** oos_shadow: a last-level guest page table KVM shadows may be left writable and go unsync. */
  readonly oosShadow: boolean;
  /** enable_vpid: each vCPU runs with its own VPID (allocate_vpid), so its TLB entries survive exits. */
  readonly enableVpid: boolean;
  /** Fast paths on (RunOptions.fastPaths): each must leave the report byte-identical. */
  readonly fastPaths: boolean;
  /** KVM's software guest walks, remembered and replayed (a fast path; null with fast paths off). */
  readonly walkMemo: WalkMemo | null;
  /** The cover letter's runtime switch for MMIO SPTEs (see docs/decisions.md). */
  mmioCaching: boolean;
  /** kvm->arch.reader_counter: lockless walkers inside the shadow tables (2011 RCU scheme). */
  readerCounter = 0;
  /** Shadow pages isolated by a zap while a walker was inside, freed after the grace period. */
  readonly rcuPending: number[] = [];
  races: RaceHooks = NO_RACES;
  /** kvm->srcu: the vCPUs inside an exit handler, and the memslot update waiting for them. */
  readonly srcu: Srcu;
  /** The memslot update in progress (kvm->slots_lock lets one run at a time). */
  readonly memslotUpdate = new MemslotUpdate();
  /** The result of the last lockless shadow walk. */
  readonly lockless = new LocklessResult();
  readonly warnings: string[] = [];

  constructor(cfg: KvmConfig) {
    this.kernel = cfg.kernel;
    this.tdp = cfg.tdp;
    this.mmioCaching = cfg.mmioCaching;
    this.oosShadow = cfg.oosShadow;
    this.enableVpid = cfg.enableVpid;
    this.fastPaths = cfg.fastPaths;
    this.walkMemo = cfg.fastPaths ? new WalkMemo() : null;
    this.cost = cfg.cost;
    this.host = new HostMemory(cfg.maxphyaddr);
    this.bypassGuestPf = !cfg.tdp && cfg.kernel === 'v3.0' && cfg.bypassGuestPf;
    this.fmt = new SpteFormat(cfg.kernel, cfg.tdp, cfg.maxphyaddr, this.bypassGuestPf);
    this.acct = new Accounting(cfg.cost, cfg.callPaths);
    this.cp = this.acct.paths;
    this.trace = new TraceBuffer(cfg.traceCapacity);
    for (let i = 0; i < cfg.vcpus; i++) {
      const v = new Vcpu(i, this.cp, new Tlb(TLB_BY_PROFILE[cfg.cost.name]));
      // allocate_vpid: find_first_zero_bit over a bitmap whose bit 0 is reserved for the host (§19.1).
      v.vpid = cfg.enableVpid ? i + 1 : 0;
      this.vcpus.push(v);
    }
    this.srcu = new Srcu(cfg.vcpus);
    this.sp = new ShadowPages(this);
    this.rmap = new Rmap(this);
  }

  /** Does this era install MMIO SPTEs right now? (v3.1 with the runtime switch on.) */
  get mmioSptesEnabled(): boolean {
    return this.fmt.hasMmioSpte && this.mmioCaching;
  }

  /** Fast path: host memory may grow at once to what the memslots and the shadow-page budget can
   *  use, so that a run faulting in its RAM does not copy the arena at each doubling. Called where
   *  the budget is set (kvm_mmu_change_mmu_pages at each memslot commit). */
  expectHostFrames(): void {
    if (!this.fastPaths) return;
    let pages = this.sp.nMax;
    const ms = this.memslots;
    for (let i = 0; i < ms.nmemslots; i++) pages += ms.slots[i]?.npages ?? 0;
    this.host.expect(pages);
  }

  allocHostFrame(): number {
    this.stats[S.host_pages]!++;
    return this.host.allocFrame();
  }

  freeHostFrame(pfn: number): void {
    this.host.freeFrame(pfn);
  }

  /**
   * gfn_to_memslot, charging the lookup and each comparison to `vcpu`. A slot flagged
   * KVM_MEMSLOT_INVALID (a deletion in progress) is found and counted as a hit, as __gfn_to_memslot
   * finds it, but null is returned: every caller uses the slot the way gfn_to_hva_many (`if (!slot ||
   * slot->flags & KVM_MEMSLOT_INVALID) return bad_hva();`) or gfn_to_memslot_dirty_bitmap do, except
   * rmap, memslot_id and mark_page_dirty, which ignore the result.
   */
  gfnToMemslot(vcpu: Vcpu, gfn: number): Memslot | null {
    const before = this.memslots.compares;
    const found = this.fastPaths ? this.memslots.lookupMemo(gfn) : this.memslots.lookup(gfn);
    // gfn_to_memslot -> __gfn_to_memslot, the linear scan (3.0.1 kvm_main.c:941, 3.1.10:964)
    this.chargeSearch(vcpu, this.memslots.compares - before, found !== null, vcpu.path.at2(F.gfn_to_memslot, F.__gfn_to_memslot));
    return found !== null && found.invalid ? null : found;
  }

  /** gfnToMemslot's effects for a search that compared `compares` entries and found a valid slot:
   *  what a replayed walk (mmu/walk_memo.ts) does instead of searching again. */
  replayMemslotHit(vcpu: Vcpu, compares: number): void {
    this.memslots.compares += compares;
    this.chargeSearch(vcpu, compares, true, vcpu.path.at2(F.gfn_to_memslot, F.__gfn_to_memslot));
  }

  /** Count and charge one memslot search of `compares` entries. */
  private chargeSearch(vcpu: Vcpu, compares: number, hit: boolean, node: number): void {
    const st = this.stats;
    st[S.memslot_lookups]!++;
    st[S.memslot_compares]! += compares;
    if (!hit) st[S.memslot_misses]!++;
    // Entries not in the vCPU's cache cost the cold rate (memslot_warmth.ts).
    const cold = coldCompares(vcpu, this.memslots.generation, compares);
    st[S.memslot_cold_compares]! += cold;
    const c = this.cost;
    this.acct.chargeAt(vcpu, C.memslot_search, c.memslot_lookup + (compares - cold) * c.memslot_compare + cold * c.memslot_compare_cold, node);
  }

  /** kvm_is_visible_gfn, counted and charged as a memslot search (its compares over the user slots). */
  isVisibleGfn(vcpu: Vcpu, gfn: number): boolean {
    const before = this.memslots.compares;
    const visible = this.memslots.isVisible(gfn);
    this.chargeSearch(vcpu, this.memslots.compares - before, visible, vcpu.path.at(F.kvm_is_visible_gfn));
    return visible;
  }

  /** The host pfn behind a RAM gfn, faulting the page in on first touch (hva_to_pfn / get_user_pages). */
  slotPfn(vcpu: Vcpu, slot: Memslot, gfn: number): number {
    let pfn = slot.pfnOf(gfn);
    if (pfn === 0) {
      this.stats[S.host_pages]!++;
      pfn = slot.faultIn(gfn, this.host);
      this.acct.chargeAt(vcpu, C.host_page_fault, this.cost.host_page_fault, vcpu.path.at(F.hva_to_pfn)); // get_user_pages
    }
    return pfn;
  }

  /** Store an SPTE (__set_spte / mmu_spte_set) at word index `w` of host memory. */
  setSpte(vcpu: Vcpu, w: number, lo: number, hi: number): void {
    this.host.store(w, lo, hi);
    this.stats[S.sptes_written]!++;
    this.acct.charge(vcpu, C.spte_write, this.cost.spte_write);
  }

  /** Clear an SPTE while zapping (cost is part of the zap): to 0, or to the trap value in v3.0 with
   *  bypass_guest_pf (drop_spte(..., shadow_trap_nonpresent_pte)). */
  clearSpte(w: number): void {
    this.host.store(w, this.fmt.trapLo, this.fmt.trapHi);
    this.stats[S.sptes_written]!++;
  }

  /** kvm_mmu_flush_tlb: `++vcpu->stat.tlb_flush; kvm_make_request(KVM_REQ_TLB_FLUSH, vcpu);`
   *  (docs/kernel-paths.md §19.6); the request is served at the vCPU's next entry (§19.5). */
  mmuFlushTlb(vcpu: Vcpu): void {
    this.stats[S.tlb_flush]!++;
    vcpu.tlbFlushRequested = true;
  }

  /** vmx_flush_tlb (docs/kernel-paths.md §19.4): INVVPID single-context of the vCPU's VPID (none with
   *  VPID 0: vpid_sync_vcpu_single returns) and, under EPT, INVEPT single-context of its EPTP when its
   *  root is valid. */
  vmxFlushTlb(vcpu: Vcpu): void {
    if (vcpu.vpid !== 0) vcpu.tlb.flushTag(vcpu.vpid);
    if (this.tdp && vcpu.root >= 0) vcpu.tlb.flushEptp(this.sp.pfn[vcpu.root]!);
  }

  /** kvm_flush_remote_tlbs: ++remote_tlb_flush and a flush request to every vCPU. */
  flushRemoteTlbs(vcpu: Vcpu): void {
    // make_all_cpus_request(kvm, KVM_REQ_TLB_FLUSH): every vCPU, the caller's included (§19.6).
    for (let w = 0; w < this.vcpus.length; w++) this.vcpus[w]!.tlbFlushRequested = true;
    // `if (make_all_cpus_request(kvm, KVM_REQ_TLB_FLUSH)) ++kvm->stat.remote_tlb_flush;`: every vCPU
    // gets the request, but only an IPI to another CPU running a vCPU in guest mode
    // (`cpu != me && kvm_vcpu_exiting_guest_mode(vcpu) != OUTSIDE_GUEST_MODE`) counts, and costs.
    this.trace.emit(E.kvm_flush_remote_tlbs, vcpu, vcpu.line);
    if (!this.otherVcpuInGuestMode(vcpu)) return;
    this.stats[S.remote_tlb_flush]!++;
    this.acct.chargeAt(vcpu, C.shadow_page, this.cost.remote_tlb_flush, vcpu.path.at(F.kvm_flush_remote_tlbs));
  }

  /** Set by the machine: per vCPU, 1 once its workload has ended (it no longer enters the guest). */
  finished: Uint8Array = new Uint8Array(0);

  /** Is a vCPU other than `vcpu` in guest mode? Not while it is inside an exit handler (it holds
   *  kvm->srcu from the exit to the next entry), runs a memslot ioctl, or has finished. */
  private otherVcpuInGuestMode(vcpu: Vcpu): boolean {
    for (let w = 0; w < this.vcpus.length; w++) {
      if (w === vcpu.id || this.finished[w] === 1 || this.srcu.inside[w] === 1 || this.memslotUpdate.owner === w) continue;
      return true;
    }
    return false;
  }

  /** kvm_reload_remote_mmus: every vCPU drops its root before its next guest entry. */
  reloadRemoteMmus(): void {
    for (const v of this.vcpus) v.reloadRequested = true;
  }

  /** Count a fault of class `cls` against the run and against the workload line that caused it. */
  countFault(vcpu: Vcpu, cls: number): void {
    this.faultCounts[cls]!++;
    const i = vcpu.line * FAULT_CLASSES.length + cls;
    if (i < this.lineFaults.length) this.lineFaults[i]!++;
  }

  /** Forget what setup did (counters, cycles, trace) but keep the state it built. */
  resetCounters(): void {
    this.stats.fill(0);
    this.stats[S.shadow_pages] = this.sp.inUse;
    this.stats[S.shadow_pages_max] = this.sp.inUse;
    this.stats[S.mmu_unsync] = this.sp.unsyncCount(); // a gauge in the kernel too (++ and --)
    this.faultCounts.fill(0);
    this.lineFaults.fill(0);
    this.acct.reset();
    this.trace.reset();
    for (const v of this.vcpus) v.clock = 0;
  }

  warn(vcpu: Vcpu, message: string): void {
    if (this.warnings.length < 100) this.warnings.push(`vcpu ${vcpu.id}, line ${vcpu.line}: ${message}`);
  }
}
