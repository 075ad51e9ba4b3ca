// Changing memslots while the VM runs (virt/kvm/kvm_main.c __kvm_set_memory_region, 3.0/3.1;
// docs/kernel-paths.md §7): install the new slot array (generation + 1); kvm_arch_commit_memory_region
// write-protects the slot under mmu_lock and flushes remote TLBs; then v3.1 flushes the shadow MMU
// when `npages && old.base_gfn != new base_gfn` (kvm_arch_flush_shadow = kvm_mmu_zap_all +
// kvm_reload_remote_mmus): an MMIO SPTE caches "no slot here", and a slot created over that gfn
// must not keep sending accesses to emulation. The condition compares with the empty slot's base
// gfn, 0, so a new slot at gfn 0 does not flush (an upstream quirk, kept). v3.0 has no MMIO SPTE
// and never flushes on creation. Deletion first installs the slot marked KVM_MEMSLOT_INVALID
// (generation + 1), flushes the shadow MMU in both eras, then installs the final array (+ 1).

import type { Kvm } from './kvm';
import type { Vcpu } from './vcpu';
import { Memslot } from './memslots';
import { C } from '../cost/accounting';
import { E } from '../trace/events';
import { S } from '../trace/stats';

export function kvmSetMemoryRegion(kvm: Kvm, vcpu: Vcpu, id: number, gpa: number, size: number, readonly: boolean): void {
  const gfn = gpa / 4096;
  const npages = size / 4096;
  if (readonly) {
    kvm.warn(vcpu, `memslot ${id}: KVM_MEM_READONLY does not exist before v3.8; the ${kvm.kernel} ioctl fails with -EINVAL`);
    return;
  }
  if (kvm.memslots.slots[id]) {
    kvm.warn(vcpu, `memslot ${id} already exists: moving or resizing a slot is not modelled; the step is skipped`);
    return;
  }
  const clash = kvm.memslots.overlaps(gfn, npages, id);
  if (clash) {
    kvm.warn(vcpu, `memslot ${id} overlaps memslot ${clash.id}: KVM_SET_USER_MEMORY_REGION fails with -EEXIST`);
    return;
  }
  const oldBaseGfn = 0; // the slot id is empty (moves are not modelled)
  kvm.memslots.install(new Memslot(id, gfn, npages));
  kvm.stats[S.memslot_updates]!++;
  kvm.trace.emit(E.kvm_set_memory_region, vcpu.id, vcpu.line, vcpu.clock, id, gpa, npages, kvm.memslots.generation);
  // kvm_arch_commit_memory_region -> kvm_mmu_slot_remove_write_access: mmu_lock, then a TLB flush.
  kvm.acct.charge(vcpu, C.mmu_lock, kvm.cost.mmu_lock);
  kvm.flushRemoteTlbs(vcpu);
  if (kvm.kernel !== 'v3.0' && oldBaseGfn !== gfn) kvmArchFlushShadow(kvm, vcpu);
}

export function kvmDeleteMemoryRegion(kvm: Kvm, vcpu: Vcpu, id: number): void {
  const old = kvm.memslots.slots[id];
  if (!old) {
    kvm.warn(vcpu, `memslot ${id} does not exist: nothing to delete`);
    return;
  }
  kvm.memslots.generation++; // the copy with the slot flagged KVM_MEMSLOT_INVALID
  kvmArchFlushShadow(kvm, vcpu); // its SPTEs go (their rmaps are still found: the slot is still there)
  kvm.memslots.remove(id);
  kvm.stats[S.memslot_updates]!++;
  kvm.trace.emit(E.kvm_set_memory_region, vcpu.id, vcpu.line, vcpu.clock, id, old.baseGfn * 4096, 0, kvm.memslots.generation);
  old.release(kvm.host);
}

/** kvm_arch_flush_shadow (x86, 3.x): kvm_mmu_zap_all, then kvm_reload_remote_mmus. */
export function kvmArchFlushShadow(kvm: Kvm, vcpu: Vcpu): void {
  kvmMmuZapAll(kvm, vcpu);
  kvm.reloadRemoteMmus();
}

/** kvm_mmu_zap_all: prepare-zap every page on active_mmu_pages under mmu_lock, then commit. */
export function kvmMmuZapAll(kvm: Kvm, vcpu: Vcpu): void {
  kvm.acct.charge(vcpu, C.mmu_lock, kvm.cost.mmu_lock);
  const invalid: number[] = [];
  const pages = [...kvm.sp.active];
  for (const id of pages) if (kvm.sp.active.has(id)) kvm.sp.prepareZap(vcpu.id, id, invalid);
  kvm.trace.emit(E.kvm_mmu_zap_all, vcpu.id, vcpu.line, vcpu.clock, pages.length);
  kvm.sp.commitZap(vcpu.id, invalid);
}
