// Changing memslots while the VM runs: __kvm_set_memory_region (virt/kvm/kvm_main.c; 3.0.1 and
// 3.1.10 alike but for 3.1's flush on creation), in the order of the source, cut where the updater
// sleeps in synchronize_srcu_expedited so that vCPUs can run between the phases (docs/kernel-paths.md §13):
//
//   creation:  new slot published (rcu_assign_pointer, generation + 1); synchronize_srcu_expedited
//              | kvm_arch_commit_memory_region; v3.1: `if (npages && old.base_gfn != mem->guest_phys_addr
//                >> PAGE_SHIFT) kvm_arch_flush_shadow(kvm);`
//   deletion:  copy with the slot flagged KVM_MEMSLOT_INVALID published (+ 1); synchronize
//              | kvm_arch_flush_shadow; kvm_arch_prepare_memory_region; final array published (+ 1);
//                synchronize
//              | kvm_arch_commit_memory_region
//
// `old` is the entry as it stands, and an emptied entry keeps the base gfn its deletion was given
// (memslots.ts): so a slot re-created where the VMM deleted it has old.base_gfn == new base_gfn, and
// v3.1 does not flush: an MMIO SPTE cached while the slot was gone survives (fixed upstream much
// later by generation numbers in MMIO SPTEs). A new slot at gfn 0 over a never-used entry does not
// flush either. Every call runs one piece (up to a synchronize) and says how it ended; the machine
// calls again until the ioctl returns. kvm->slots_lock (mutex_lock in kvm_set_memory_region) lets
// one update run at a time: another vCPU's update sleeps until it is released.

import { F } from './kernel_functions';
import type { Kvm } from './kvm';
import type { Vcpu } from './vcpu';
import { Memslot } from './memslots';
import { C } from '../cost/accounting';
import { E } from '../trace/events';
import { S } from '../trace/stats';
import { PT_WRITABLE_MASK } from '../arch/x86/paging';

/** The ioctl returned (the update is complete, or it failed with a warning). */
export const MEMSLOT_DONE = 0;
/** synchronize_srcu_expedited returned: the rest of the update runs on the next call. */
export const MEMSLOT_SYNCED = 1;
/** The update went to sleep in this call (synchronize_srcu_expedited waits for a reader). */
export const MEMSLOT_WAITING = 2;
/** Still asleep (on slots_lock, or in synchronize_srcu_expedited): nothing happened. */
export const MEMSLOT_STILL_WAITING = 3;

const PH_START = 0;
const PH_ADD_COMMIT = 1; // creation, after its synchronize
const PH_DEL_FLUSH = 2; // deletion, after the INVALID copy's synchronize
const PH_DEL_COMMIT = 3; // deletion, after the final array's synchronize

/** The update in progress, one per VM (kvm->slots_lock). */
export class MemslotUpdate {
  /** The vCPU holding kvm->slots_lock (whose workload runs the update), -1 for none. */
  owner = -1;
  private phase = PH_START;
  /** Inside synchronize_srcu_expedited, waiting for readers. */
  syncing = false;
  /** synchronize_srcu_expedited calls of this update that have returned. */
  syncs = 0;
  id = 0;
  gfn = 0;
  npages = 0;
  /** The entry before the update (`old = *memslot`), null for a never-used entry. */
  private old: Memslot | null = null;
  private oldBaseGfn = 0;

  /** Would a call by `vcpu` find it asleep (on slots_lock, or in a synchronize still waiting)? */
  blocked(kvm: Kvm, vcpu: number): boolean {
    if (this.owner < 0) return false;
    if (this.owner !== vcpu) return true;
    return this.syncing && kvm.srcu.pendingReader() >= 0;
  }

  /**
   * KVM_SET_USER_MEMORY_REGION by the VMM on behalf of `vcpu`'s workload: slot `id` at `gpa`, `size`
   * bytes (0: delete). Runs the next piece of the update; returns MEMSLOT_*.
   */
  run(kvm: Kvm, vcpu: Vcpu, id: number, gpa: number, size: number, readonly: boolean): number {
    if (this.owner >= 0 && this.owner !== vcpu.id) return MEMSLOT_STILL_WAITING; // mutex_lock(&kvm->slots_lock)
    if (this.syncing) {
      if (kvm.srcu.pendingReader() >= 0) return MEMSLOT_STILL_WAITING;
      // The last awaited reader has left: the updater wakes up no earlier than that.
      const t = kvm.srcu.syncEnd();
      if (t > vcpu.clock) {
        vcpu.path.skip(t - vcpu.clock); // waited, not charged
        vcpu.clock = t;
      }
      this.syncing = false;
      this.syncs++;
      return MEMSLOT_SYNCED;
    }
    switch (this.phase) {
      case PH_START:
        return size === 0 ? this.startDelete(kvm, vcpu, id, gpa) : this.startAdd(kvm, vcpu, id, gpa, size, readonly);
      case PH_ADD_COMMIT:
        kvmArchCommitMemoryRegion(kvm, vcpu, this.id);
        if (kvm.kernel !== 'v3.0' && this.oldBaseGfn !== this.gfn) kvmArchFlushShadow(kvm, vcpu);
        return this.finish();
      case PH_DEL_FLUSH: {
        // "From this point no new shadow pages pointing to a deleted memslot will be created."
        kvmArchFlushShadow(kvm, vcpu);
        // kvm_arch_prepare_memory_region: nothing for a VMM-allocated slot. Then the final array,
        // with `new` (base_gfn from the request, npages 0) in the slot's entry.
        kvm.memslots.install(new Memslot(this.id, this.gfn, 0));
        kvm.stats[S.memslot_updates]!++;
        const tr = kvm.trace, args = tr.args, at = tr.at;
        args[at] = this.id;
        args[at + 1] = this.gfn * 4096;
        args[at + 2] = 0;
        args[at + 3] = kvm.memslots.generation;
        tr.emit(E.kvm_set_memory_region, vcpu, vcpu.line);
        this.phase = PH_DEL_COMMIT;
        return this.synchronize(kvm, vcpu);
      }
      default: // PH_DEL_COMMIT
        kvmArchCommitMemoryRegion(kvm, vcpu, this.id);
        this.old?.release(kvm.host); // kvm_free_physmem_slot(&old, &new); the VMM unmaps the memory
        return this.finish();
    }
  }

  private startAdd(kvm: Kvm, vcpu: Vcpu, id: number, gpa: number, size: number, readonly: boolean): number {
    const gfn = gpa / 4096;
    const npages = size / 4096;
    if (readonly) {
      kvm.warn(vcpu, `memslot ${id}: KVM_MEM_READONLY arrived in v3.8; ${kvm.kernel} knows only KVM_MEM_LOG_DIRTY_PAGES and would keep the bit but map the slot writable: not modelled, the step is skipped`);
      return MEMSLOT_DONE;
    }
    const old = kvm.memslots.slots[id] ?? null;
    const oldNpages = old === null ? 0 : old.npages;
    if (oldNpages !== 0 && npages !== oldNpages) {
      kvm.warn(vcpu, `memslot ${id} has ${oldNpages} pages: a slot's size cannot change, KVM_SET_USER_MEMORY_REGION fails with -EINVAL`);
      return MEMSLOT_DONE;
    }
    const clash = kvm.memslots.overlaps(gfn, npages, id);
    if (clash) {
      kvm.warn(vcpu, `memslot ${id} overlaps memslot ${clash.id}: KVM_SET_USER_MEMORY_REGION fails with -EEXIST`);
      return MEMSLOT_DONE;
    }
    if (oldNpages !== 0) {
      kvm.warn(vcpu, `memslot ${id} already exists: moving a slot (or changing its flags) is not modelled; the step is skipped`);
      return MEMSLOT_DONE;
    }
    this.begin(vcpu, id, gfn, npages, old);
    // kvm_arch_prepare_memory_region (nothing for a VMM-allocated slot); then the array with the new
    // slot is published.
    kvm.memslots.install(new Memslot(id, gfn, npages));
    kvm.stats[S.memslot_updates]!++;
    const tr = kvm.trace, args = tr.args, at = tr.at;
    args[at] = id;
    args[at + 1] = gpa;
    args[at + 2] = npages;
    args[at + 3] = kvm.memslots.generation;
    tr.emit(E.kvm_set_memory_region, vcpu, vcpu.line);
    this.phase = PH_ADD_COMMIT;
    return this.synchronize(kvm, vcpu);
  }

  private startDelete(kvm: Kvm, vcpu: Vcpu, id: number, gpa: number): number {
    const gfn = gpa / 4096;
    // With npages 0 the overlap check still runs: a base gfn strictly inside another slot clashes.
    const clash = kvm.memslots.overlaps(gfn, 0, id);
    if (clash) {
      kvm.warn(vcpu, `memslot ${id}: gpa 0x${gpa.toString(16)} lies inside memslot ${clash.id}: KVM_SET_USER_MEMORY_REGION fails with -EEXIST`);
      return MEMSLOT_DONE;
    }
    const old = kvm.memslots.slots[id] ?? null;
    this.begin(vcpu, id, gfn, 0, old);
    // `slots->memslots[mem->slot].flags |= KVM_MEMSLOT_INVALID;` in a copy that is then published
    // (an entry never used stays all zeroes but for the flag: nothing can match it anyway).
    if (old !== null) old.invalid = true;
    kvm.memslots.publish(id);
    this.phase = PH_DEL_FLUSH;
    return this.synchronize(kvm, vcpu);
  }

  private begin(vcpu: Vcpu, id: number, gfn: number, npages: number, old: Memslot | null): void {
    this.owner = vcpu.id; // mutex_lock(&kvm->slots_lock)
    this.id = id;
    this.gfn = gfn;
    this.npages = npages;
    this.old = old;
    this.oldBaseGfn = old === null ? 0 : old.baseGfn; // `new = old = *memslot`
    this.syncs = 0;
  }

  /** synchronize_srcu_expedited(&kvm->srcu): returns at once when no vCPU is inside an exit handler;
   *  otherwise the updater sleeps until the sections in progress have ended. */
  private synchronize(kvm: Kvm, vcpu: Vcpu): number {
    const readers = kvm.srcu.syncStart(vcpu);
    if (readers === 0) {
      kvm.srcu.syncEnd();
      this.syncs++;
      return MEMSLOT_SYNCED;
    }
    this.syncing = true;
    kvm.stats[S.srcu_waits]!++;
    const tr = kvm.trace, args = tr.args, at = tr.at;
    args[at] = readers;
    args[at + 1] = kvm.srcu.pendingReader();
    tr.emit(E.srcu_synchronize_wait, vcpu, vcpu.line);
    return MEMSLOT_WAITING;
  }

  private finish(): number {
    this.owner = -1; // mutex_unlock(&kvm->slots_lock)
    this.phase = PH_START;
    this.old = null;
    return MEMSLOT_DONE;
  }
}

/**
 * kvm_arch_commit_memory_region (x86.c): `spin_lock(&kvm->mmu_lock); if (nr_mmu_pages)
 * kvm_mmu_change_mmu_pages(kvm, nr_mmu_pages); kvm_mmu_slot_remove_write_access(kvm, mem->slot);
 * spin_unlock(&kvm->mmu_lock);` with `nr_mmu_pages = kvm_mmu_calculate_mmu_pages(kvm)` (the VMM set
 * no KVM_SET_NR_MMU_PAGES).
 */
export function kvmArchCommitMemoryRegion(kvm: Kvm, vcpu: Vcpu, slot: number): void {
  vcpu.path.enter(F.kvm_arch_commit_memory_region);
  kvmArchCommitMemoryRegionInner(kvm, vcpu, slot);
  vcpu.path.leave();
}

function kvmArchCommitMemoryRegionInner(kvm: Kvm, vcpu: Vcpu, slot: number): void {
  kvm.acct.charge(vcpu, C.mmu_lock, kvm.cost.mmu_lock);
  kvm.sp.changeMmuPages(vcpu.id);
  kvm.expectHostFrames();
  kvmMmuSlotRemoveWriteAccess(kvm, vcpu, slot);
}

/**
 * kvm_mmu_slot_remove_write_access (mmu.c): for every page on active_mmu_pages with
 * `test_bit(slot, sp->slot_bitmap)`, clear W in each present last-level SPTE (a large one is dropped;
 * host pages are 4K here, so there are none), then kvm_flush_remote_tlbs. The simulator keeps no
 * slot_bitmap; a page's bit is derived from the slots its present leaves map now (the kernel sets it
 * in mmu_set_spte's page_header_update_slot and never clears it; a stale bit needs a leaf of the slot
 * that was dropped since, and no such page outlives the flush a deletion makes). Every writable leaf
 * of such a page loses W, whatever slot it maps, as in the kernel.
 */
export function kvmMmuSlotRemoveWriteAccess(kvm: Kvm, vcpu: Vcpu, slot: number): void {
  vcpu.path.enter(F.kvm_mmu_slot_remove_write_access);
  kvmMmuSlotRemoveWriteAccessInner(kvm, vcpu, slot);
  vcpu.path.leave();
}

function kvmMmuSlotRemoveWriteAccessInner(kvm: Kvm, vcpu: Vcpu, slot: number): void {
  const sp = kvm.sp;
  const host = kvm.host;
  const fmt = kvm.fmt;
  for (const id of sp.active) {
    if (sp.level(id) !== 1 || !slotBitmapHas(kvm, id, slot)) continue;
    const base = host.entryWord(sp.pfn[id]!, 0);
    for (let i = 0; i < 512; i++) {
      const w = base + 2 * i;
      const lo = host.words[w]!;
      const hi = host.words[w + 1]!;
      if (!fmt.isShadowPresent(lo, hi) || (lo & PT_WRITABLE_MASK) === 0) continue;
      kvm.setSpte(vcpu, w, (lo & ~PT_WRITABLE_MASK) >>> 0, hi); // mmu_spte_update (3.0: update_spte)
    }
  }
  kvm.flushRemoteTlbs(vcpu);
}

/** test_bit(slot, sp->slot_bitmap), derived: does a present leaf of page `id` map a gfn of `slot`? */
function slotBitmapHas(kvm: Kvm, id: number, slot: number): boolean {
  const base = kvm.host.entryWord(kvm.sp.pfn[id]!, 0);
  const words = kvm.host.words;
  for (let i = 0; i < 512; i++) {
    if (!kvm.fmt.isShadowPresent(words[base + 2 * i]!, words[base + 2 * i + 1]!)) continue;
    const s = kvm.memslots.find(kvm.sp.leafGfn(id, i));
    if (s !== null && s.id === slot) return true;
  }
  return false;
}

/** kvm_arch_flush_shadow (x86, 3.x): kvm_mmu_zap_all, then kvm_reload_remote_mmus. */
export function kvmArchFlushShadow(kvm: Kvm, vcpu: Vcpu): void {
  vcpu.path.enter(F.kvm_arch_flush_shadow);
  kvmArchFlushShadowInner(kvm, vcpu);
  vcpu.path.leave();
}

function kvmArchFlushShadowInner(kvm: Kvm, vcpu: Vcpu): void {
  kvmMmuZapAll(kvm, vcpu);
  kvm.reloadRemoteMmus();
}

/**
 * kvm_mmu_zap_all under mmu_lock: `restart: list_for_each_entry_safe(sp, node,
 * &kvm->arch.active_mmu_pages, link) if (kvm_mmu_prepare_zap_page(kvm, sp, &invalid_list)) goto
 * restart;` then commit. The list runs newest first; a root still in use returns 0 and moves to the
 * head, so every restart prepare-zaps it again (++mmu_shadow_zapped each time, as the kernel counts).
 */
export function kvmMmuZapAll(kvm: Kvm, vcpu: Vcpu): void {
  vcpu.path.enter(F.kvm_mmu_zap_all);
  kvmMmuZapAllInner(kvm, vcpu);
  vcpu.path.leave();
}

function kvmMmuZapAllInner(kvm: Kvm, vcpu: Vcpu): void {
  kvm.acct.charge(vcpu, C.mmu_lock, kvm.cost.mmu_lock);
  const invalid: number[] = [];
  const before = kvm.sp.active.size;
  for (let restart = true; restart; ) {
    restart = false;
    const newestFirst = [...kvm.sp.active].reverse();
    for (const id of newestFirst) {
      if (!kvm.sp.active.has(id)) continue;
      if (kvm.sp.prepareZap(vcpu.id, id, invalid) > 0) {
        restart = true;
        break;
      }
    }
  }
  const tr = kvm.trace, args = tr.args, at = tr.at;
  args[at] = before;
  tr.emit(E.kvm_mmu_zap_all, vcpu, vcpu.line);
  kvm.sp.commitZap(vcpu.id, invalid);
}
