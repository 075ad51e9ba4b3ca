// Mutation tests for the memslot array (simulator/kvm/memslots.ts), kvm->srcu (srcu.ts) and runtime
// memslot updates (memslot_update.ts). Every expected value comes from the 3.0.1 / 3.1.10 source
// (/work/ksrc): virt/kvm/kvm_main.c (__gfn_to_memslot, kvm_is_visible_gfn, __kvm_set_memory_region),
// arch/x86/kvm/mmu.c (rmap_write_protect, kvm_mmu_slot_remove_write_access, kvm_mmu_zap_all) and
// arch/x86/kvm/x86.c (kvm_arch_commit_memory_region, kvm_arch_flush_shadow, vcpu_enter_guest).
import { describe, it, expect } from 'vitest';
import { Memslot, Memslots, KVM_MEMORY_SLOTS, KVM_PRIVATE_MEM_SLOTS, KVM_MEM_SLOTS_NUM, TSS_PRIVATE_MEMSLOT, APIC_ACCESS_PAGE_PRIVATE_MEMSLOT, IDENTITY_PAGETABLE_PRIVATE_MEMSLOT } from '../simulator/kvm/memslots';
import { Srcu } from '../simulator/kvm/srcu';
import { MEMSLOT_DONE, MEMSLOT_SYNCED, MEMSLOT_WAITING, MEMSLOT_STILL_WAITING, kvmMmuSlotRemoveWriteAccess, kvmMmuZapAll } from '../simulator/kvm/memslot_update';
import { HostMemory } from '../simulator/host/physmem';
import { Vcpu } from '../simulator/kvm/vcpu';
import { S } from '../simulator/trace/stats';
import { PT_WRITABLE_MASK } from '../simulator/arch/x86/paging';
import { machine, run, vm, vmVcpus, NIC, RAM } from './helpers/scenario';
import type { Kvm } from '../simulator/kvm/kvm';

/** A bare array: user slots `spec` ([id, base gfn, npages]) installed in order. */
function slots(spec: [number, number, number][]): Memslots {
  const ms = new Memslots();
  for (const [id, gfn, n] of spec) ms.install(new Memslot(id, gfn, n));
  return ms;
}

/** Comparisons made by one lookup. */
function lookupCost(ms: Memslots, gfn: number): [number | null, number] {
  const before = ms.compares;
  const s = ms.lookup(gfn);
  return [s === null ? null : s.id, ms.compares - before];
}

function visibleCost(ms: Memslots, gfn: number): [boolean, number] {
  const before = ms.compares;
  const v = ms.isVisible(gfn);
  return [v, ms.compares - before];
}

describe('struct kvm_memslots constants (include/linux/kvm_host.h, arch/x86/include/asm/kvm_host.h, asm/vmx.h)', () => {
  it('32 user slots, 4 private ones; the VMX private slot ids', () => {
    // kvm_host.h (x86): `#define KVM_MEMORY_SLOTS 32` and `#define KVM_PRIVATE_MEM_SLOTS 4`;
    // vmx.h: `#define TSS_PRIVATE_MEMSLOT (KVM_MEMORY_SLOTS + 0)`, `APIC_ACCESS_PAGE_PRIVATE_MEMSLOT
    // (KVM_MEMORY_SLOTS + 1)`, `IDENTITY_PAGETABLE_PRIVATE_MEMSLOT (KVM_MEMORY_SLOTS + 2)`.
    expect([KVM_MEMORY_SLOTS, KVM_PRIVATE_MEM_SLOTS, KVM_MEM_SLOTS_NUM]).toEqual([32, 4, 36]);
    expect([TSS_PRIVATE_MEMSLOT, APIC_ACCESS_PAGE_PRIVATE_MEMSLOT, IDENTITY_PAGETABLE_PRIVATE_MEMSLOT]).toEqual([32, 33, 34]);
    // `struct kvm_memory_slot memslots[KVM_MEMORY_SLOTS + KVM_PRIVATE_MEM_SLOTS];`, all zeroes
    // (kzalloc) in a new VM: nmemslots 0, generation 0.
    const ms = new Memslots();
    expect(ms.slots.length).toBe(36);
    expect(ms.slots.every((s) => s === null)).toBe(true);
    expect([ms.nmemslots, ms.generation, ms.compares]).toEqual([0, 0, 0]);
  });
});

describe('__gfn_to_memslot: `for (i = 0; i < slots->nmemslots; ++i)` ... `if (gfn >= memslot->base_gfn && gfn < memslot->base_gfn + memslot->npages) return memslot;`', () => {
  // Slot 0: gfns 0x10..0x1f; slot 2: 0x100..0x1ff; entry 1 never used; slot 5 deleted (npages 0,
  // base gfn kept: `new.base_gfn = base_gfn; new.npages = npages;`).
  const ms = slots([
    [0, 0x10, 0x10],
    [2, 0x100, 0x100],
    [5, 0x300, 0],
  ]);

  it('nmemslots is the highest id installed + 1 (`if (mem->slot >= slots->nmemslots) slots->nmemslots = mem->slot + 1;`)', () => {
    expect(ms.nmemslots).toBe(6);
    expect(ms.generation).toBe(3); // `slots->generation++;` per published array
  });

  it('a hit costs i + 1 comparisons, empty entries included; the bounds are base_gfn and base_gfn + npages', () => {
    expect(lookupCost(ms, 0x10)).toEqual([0, 1]);
    expect(lookupCost(ms, 0x1f)).toEqual([0, 1]);
    expect(lookupCost(ms, 0x100)).toEqual([2, 3]);
    expect(lookupCost(ms, 0x1ff)).toEqual([2, 3]);
  });

  it('a miss compares every one of the nmemslots entries (6), whatever gfn', () => {
    expect(lookupCost(ms, 0xf)).toEqual([null, 6]); // gfn < base_gfn
    expect(lookupCost(ms, 0x20)).toEqual([null, 6]); // gfn == base_gfn + npages
    expect(lookupCost(ms, 0x200)).toEqual([null, 6]);
    expect(lookupCost(ms, 0x300)).toEqual([null, 6]); // the deleted slot: npages 0 matches nothing
    expect(lookupCost(ms, 0)).toEqual([null, 6]);
  });

  it('entries at or above nmemslots are not searched', () => {
    const m = slots([[1, 0x10, 1]]);
    // Only slot 1 installed through install(): nmemslots 2. An entry stored beyond it without a
    // publish is outside the loop.
    m.slots[2] = new Memslot(2, 0x40, 1); // entry nmemslots itself
    expect(m.nmemslots).toBe(2);
    expect(lookupCost(m, 0x40)).toEqual([null, 2]);
    expect(m.find(0x40)).toBeNull();
    expect(lookupCost(m, 0x10)).toEqual([1, 2]);
  });

  it('a slot flagged KVM_MEMSLOT_INVALID is still found (__gfn_to_memslot does not test flags)', () => {
    const m = slots([[0, 0x10, 0x10]]);
    m.slots[0]!.invalid = true;
    expect(lookupCost(m, 0x10)).toEqual([0, 1]);
    expect(m.find(0x10)?.id).toBe(0);
  });

  it('the first matching entry in slot-id order wins', () => {
    const m = new Memslots();
    m.install(new Memslot(3, 0x10, 4));
    m.install(new Memslot(1, 0x10, 4)); // (overlap the ioctl would refuse, to see the order)
    expect(lookupCost(m, 0x11)).toEqual([1, 2]);
    expect(m.find(0x11)?.id).toBe(1);
  });

  it('find() is the same search without counting comparisons', () => {
    const before = ms.compares;
    expect(ms.find(0x10)?.id).toBe(0);
    expect(ms.find(0x1ff)?.id).toBe(2);
    expect(ms.find(0x20)).toBeNull();
    expect(ms.find(0xf)).toBeNull();
    expect(ms.find(0x200)).toBeNull();
    expect(ms.find(0x300)).toBeNull();
    expect(ms.compares).toBe(before);
  });

  it('the compare counter accumulates over searches', () => {
    const m = slots([[0, 0x10, 0x10]]);
    m.lookup(0x10);
    m.lookup(0x99);
    m.lookup(0x11);
    expect(m.compares).toBe(3);
  });
});

describe('kvm_is_visible_gfn: `for (i = 0; i < KVM_MEMORY_SLOTS; ++i) { if (memslot->flags & KVM_MEMSLOT_INVALID) continue; if (gfn >= base_gfn && gfn < base_gfn + npages) return 1; } return 0;`', () => {
  it('the loop runs over the 32 user slots whatever nmemslots is: a miss costs 32', () => {
    const m = slots([[0, 0x10, 0x10]]);
    expect(m.nmemslots).toBe(1);
    expect(visibleCost(m, 0x99)).toEqual([false, 32]);
    expect(visibleCost(m, 0x20)).toEqual([false, 32]); // base_gfn + npages
    expect(visibleCost(m, 0xf)).toEqual([false, 32]);
    expect(visibleCost(m, 0x10)).toEqual([true, 1]);
    expect(visibleCost(m, 0x1f)).toEqual([true, 1]);
  });

  it('a hit in entry i costs i + 1, the entries skipped for KVM_MEMSLOT_INVALID included', () => {
    const m = slots([
      [0, 0x10, 0x10],
      [4, 0x100, 0x10],
      [31, 0x400, 1],
    ]);
    expect(visibleCost(m, 0x105)).toEqual([true, 5]);
    expect(visibleCost(m, 0x400)).toEqual([true, 32]); // the last user slot
    m.slots[4]!.invalid = true;
    expect(visibleCost(m, 0x105)).toEqual([false, 32]);
    expect(visibleCost(m, 0x10)).toEqual([true, 1]);
    m.slots[0]!.invalid = true;
    expect(visibleCost(m, 0x400)).toEqual([true, 32]);
  });

  it('private slots (32..35) are never visible, though __gfn_to_memslot finds them', () => {
    const m = slots([
      [0, 0x10, 0x10],
      [TSS_PRIVATE_MEMSLOT, 0xfffbd, 3],
    ]);
    expect(m.nmemslots).toBe(33);
    expect(visibleCost(m, 0xfffbd)).toEqual([false, 32]);
    expect(lookupCost(m, 0xfffbd)).toEqual([32, 33]);
  });

  it('a deleted slot (npages 0) matches nothing', () => {
    const m = slots([[2, 0x10, 0]]);
    expect(visibleCost(m, 0x10)).toEqual([false, 32]);
  });
});

describe('publish: `if (mem->slot >= slots->nmemslots) slots->nmemslots = mem->slot + 1; slots->generation++;`', () => {
  it('an id equal to nmemslots raises it by one; a lower id leaves it; each publish bumps the generation', () => {
    const m = new Memslots();
    m.publish(0);
    expect([m.nmemslots, m.generation]).toEqual([1, 1]);
    m.publish(1); // == nmemslots
    expect([m.nmemslots, m.generation]).toEqual([2, 2]);
    m.publish(0); // < nmemslots
    expect([m.nmemslots, m.generation]).toEqual([2, 3]);
    m.publish(9);
    expect([m.nmemslots, m.generation]).toEqual([10, 4]);
    m.publish(9);
    expect([m.nmemslots, m.generation]).toEqual([10, 5]);
    m.publish(3);
    expect([m.nmemslots, m.generation]).toEqual([10, 6]);
  });

  it('install stores the entry at its id: `slots->memslots[mem->slot] = new;`', () => {
    const m = new Memslots();
    const s = new Memslot(7, 0x40, 2);
    m.install(s);
    expect(m.slots[7]).toBe(s);
    expect(m.slots.filter((x) => x !== null).length).toBe(1);
    expect([m.nmemslots, m.generation]).toEqual([8, 1]);
  });
});

describe('the overlap check of __kvm_set_memory_region: `for (i = 0; i < KVM_MEMORY_SLOTS; ++i) { if (s == memslot || !s->npages) continue; if (!((base_gfn + npages <= s->base_gfn) || (base_gfn >= s->base_gfn + s->npages))) goto out_free; }`', () => {
  const m = slots([
    [0, 0x100, 0x100], // 0x100..0x1ff
    [3, 0x400, 0], // deleted
    [TSS_PRIVATE_MEMSLOT, 0x800, 3],
  ]);
  const clash = (gfn: number, n: number, id: number) => m.overlaps(gfn, n, id)?.id ?? null;

  it('touching ranges do not clash; one page of overlap at either end does', () => {
    expect(clash(0xf0, 0x10, 1)).toBeNull(); // base_gfn + npages == s->base_gfn
    expect(clash(0x200, 0x10, 1)).toBeNull(); // base_gfn == s->base_gfn + s->npages
    expect(clash(0xf0, 0x11, 1)).toBe(0);
    expect(clash(0x1ff, 0x10, 1)).toBe(0);
    expect(clash(0x80, 0x200, 1)).toBe(0); // covers it
    expect(clash(0x150, 1, 1)).toBe(0); // inside it
  });

  it('the slot itself (`s == memslot`) and empty slots (`!s->npages`) are skipped', () => {
    expect(clash(0x150, 0x100, 0)).toBeNull();
    expect(clash(0x400, 0x10, 1)).toBeNull();
    // A range across the deleted slot's base gfn 0x400: only `!s->npages` lets it pass.
    expect(clash(0x3f0, 0x20, 1)).toBeNull();
  });

  it('only user slots are checked: a private slot in the way is not seen', () => {
    expect(clash(0x800, 1, 1)).toBeNull();
  });

  it('a user slot at entry 31 is checked (i < KVM_MEMORY_SLOTS)', () => {
    const n = slots([[31, 0x10, 1]]);
    expect(n.overlaps(0x10, 1, 1)?.id).toBe(31);
    expect(n.overlaps(0x10, 1, 31)).toBeNull();
  });

  it('with npages 0 (a deletion) a base gfn strictly inside another slot clashes; at its base or end it does not', () => {
    expect(clash(0x101, 0, 1)).toBe(0);
    expect(clash(0x1ff, 0, 1)).toBe(0);
    expect(clash(0x100, 0, 1)).toBeNull(); // base_gfn + 0 <= s->base_gfn
    expect(clash(0x200, 0, 1)).toBeNull(); // base_gfn >= s->base_gfn + s->npages
  });
});

describe('a slot\'s pages: __gfn_to_hva is `slot->userspace_addr + (gfn - slot->base_gfn) * PAGE_SIZE`, one host page per gfn', () => {
  it('each gfn of the slot has its own frame, across the 512-gfn chunks; untouched gfns have none', () => {
    const host = new HostMemory(40);
    const s = new Memslot(1, 0x1000, 2048);
    const gfns = [0x1000, 0x1001, 0x1000 + 511, 0x1000 + 512, 0x1000 + 1023, 0x1000 + 1024 + 5, 0x1000 + 2047];
    const pfns = gfns.map((g) => s.faultIn(g, host));
    expect(new Set(pfns).size).toBe(gfns.length);
    expect(pfns.every((p) => p > 0)).toBe(true);
    expect(gfns.map((g) => s.pfnOf(g))).toEqual(pfns);
    for (const g of [0x1002, 0x1000 + 510, 0x1000 + 513, 0x1000 + 1536, 0x1000 + 1024 + 4]) expect(s.pfnOf(g)).toBe(0);
    expect(host.allocated).toBe(gfns.length);
    // Deletion frees the slot's memory (kvm_free_physmem_slot; the VMM unmaps it): every frame.
    s.release(host);
    expect(host.allocated).toBe(0);
    expect(pfns.some((p) => host.isLive(p))).toBe(false);
    expect(gfns.map((g) => s.pfnOf(g))).toEqual(gfns.map(() => 0));
    s.release(host); // nothing left to free: no double free
    expect(host.allocated).toBe(0);
  });

  it('release skips the chunks never touched (gfns 0 and 1100 of a 2048-page slot: chunks 0 and 2)', () => {
    const host = new HostMemory(40);
    const s = new Memslot(1, 0x1000, 2048);
    const a = s.faultIn(0x1000, host);
    const b = s.faultIn(0x1000 + 1100, host);
    expect(s.pfnOf(0x1000 + 600)).toBe(0); // chunk 1: none
    expect(host.allocated).toBe(2);
    s.release(host);
    expect(host.allocated).toBe(0);
    expect([host.isLive(a), host.isLive(b)]).toEqual([false, false]);
  });

  it('a new slot is not flagged KVM_MEMSLOT_INVALID', () => {
    expect(new Memslot(0, 0, 1).invalid).toBe(false);
  });
});

describe('kvm->srcu (srcu_read_lock / srcu_read_unlock around each exit handler; synchronize_srcu_expedited waits for the read-side sections in progress when it is called)', () => {
  const vcpus = () => [new Vcpu(0), new Vcpu(1), new Vcpu(2), new Vcpu(3)];

  it('a new srcu has no reader, no synchronize', () => {
    const s = new Srcu(3);
    expect([...s.inside]).toEqual([0, 0, 0]);
    expect([...s.section]).toEqual([0, 0, 0]);
    expect(s.syncer).toBe(-1);
    expect(s.pendingReader()).toBe(-1);
  });

  it('without a synchronize in progress nothing is awaited, whoever is inside', () => {
    const v = vcpus();
    const s = new Srcu(4);
    s.readLock(v[0]!);
    s.readLock(v[2]!);
    expect(s.pendingReader()).toBe(-1);
    v[2]!.clock = 50;
    s.readUnlock(v[2]!);
    expect(s.syncEnd()).toBe(0);
    // A synchronize by vCPU 1 now waits for vCPU 0 alone (vCPU 2 has left).
    expect(s.syncStart(v[1]!)).toBe(1);
    s.readLock(v[2]!); // a later section (vCPU 2's second): not awaited
    expect(s.pendingReader()).toBe(0);
    v[0]!.clock = 60;
    s.readUnlock(v[0]!);
    expect(s.pendingReader()).toBe(-1);
    expect(s.syncEnd()).toBe(60);
  });

  it('with no other vCPU inside, synchronize returns at once', () => {
    const v = vcpus();
    const s = new Srcu(4);
    s.readLock(v[0]!); // the updater's own section does not count (i !== vcpu.id)
    expect(s.syncStart(v[0]!)).toBe(0);
    expect(s.syncer).toBe(0);
    expect(s.pendingReader()).toBe(-1);
    expect(s.syncEnd()).toBe(0);
    expect(s.syncer).toBe(-1);
  });

  it('waits for the sections in progress, returns no earlier than the last one ended', () => {
    const v = vcpus();
    const s = new Srcu(4);
    s.readLock(v[1]!);
    s.readLock(v[3]!);
    expect([...s.inside]).toEqual([0, 1, 0, 1]);
    expect([...s.section]).toEqual([0, 1, 0, 1]);
    expect(s.syncStart(v[0]!)).toBe(2);
    expect(s.syncer).toBe(0);
    expect(s.pendingReader()).toBe(1);
    // A section that begins after the synchronize started does not hold it up.
    s.readLock(v[2]!);
    v[1]!.clock = 700;
    s.readUnlock(v[1]!);
    expect(s.inside[1]).toBe(0);
    expect(s.leftAt[1]).toBe(700);
    expect(s.pendingReader()).toBe(3);
    // vCPU 3 leaves and at once enters a new section: the awaited one has ended all the same.
    v[3]!.clock = 400;
    s.readUnlock(v[3]!);
    s.readLock(v[3]!);
    expect(s.section[3]).toBe(2);
    expect(s.pendingReader()).toBe(-1);
    // vCPU 2 (not awaited) left later: its clock is not the wake-up time.
    v[2]!.clock = 5000;
    s.readUnlock(v[2]!);
    expect(s.syncEnd()).toBe(700);
    expect(s.syncer).toBe(-1);
    // The next synchronize starts afresh: vCPU 3 is inside (section 2), the others are not.
    expect(s.syncStart(v[1]!)).toBe(1);
    expect(s.syncer).toBe(1);
    expect(s.pendingReader()).toBe(3);
    v[3]!.clock = 900;
    s.readUnlock(v[3]!);
    expect(s.pendingReader()).toBe(-1);
    expect(s.syncEnd()).toBe(900);
  });

  it('the wake-up time is the latest awaited exit, in whatever order they left', () => {
    const v = vcpus();
    const s = new Srcu(4);
    for (const x of v) s.readLock(x);
    expect(s.syncStart(v[2]!)).toBe(3);
    v[0]!.clock = 300;
    v[1]!.clock = 100;
    v[3]!.clock = 200;
    s.readUnlock(v[1]!);
    expect(s.pendingReader()).toBe(0);
    s.readUnlock(v[0]!);
    expect(s.pendingReader()).toBe(3);
    s.readUnlock(v[3]!);
    expect(s.pendingReader()).toBe(-1);
    expect(s.syncEnd()).toBe(300);
    // After syncEnd nothing is awaited: a vCPU inside again is not pending.
    s.readLock(v[0]!);
    expect(s.pendingReader()).toBe(-1);
  });
});

// ---------------------------------------------------------------------------------------------
// Runtime updates (__kvm_set_memory_region), driven directly on the VM of helpers/scenario.ts:
// slot 0 = gfns 0..0x3fff (64M at 0); with EPT (the default) VMX's private slots 32 (TSS, 0xfffbd,
// 3 pages) and 34 (identity page table, 0xfffbc, 1 page): nmemslots 35.
// ---------------------------------------------------------------------------------------------

type Ev = { name: string; vcpu: number; fields: Record<string, string | number | boolean> };
const events = (kvm: Kvm): Ev[] => kvm.trace.records();
const named = (kvm: Kvm, name: string): Ev[] => events(kvm).filter((e) => e.name === name);

function vmOf(kernel: 'v3.0' | 'v3.1', nvcpus = 1) {
  const m = nvcpus === 1 ? machine(vm(kernel, '  - { compute: 1 }')) : machine(vmVcpus(kernel, Array.from({ length: nvcpus }, () => '      - { compute: 1 }')));
  const kvm = m.kvm;
  const u = kvm.memslotUpdate;
  const v = kvm.vcpus;
  /** The VMM's KVM_SET_USER_MEMORY_REGION on behalf of vCPU `who`: one piece. */
  const call = (who: number, id: number, gpa: number, size: number, readonly = false) => u.run(kvm, v[who]!, id, gpa, size, readonly);
  return { m, kvm, u, v, call };
}

describe('__kvm_set_memory_region: creation (npages != 0, old.npages == 0)', () => {
  for (const kernel of ['v3.0', 'v3.1'] as const) {
    it(`${kernel}: publish + synchronize, then kvm_arch_commit_memory_region${kernel === 'v3.1' ? ' and kvm_arch_flush_shadow (`if (npages && old.base_gfn != mem->guest_phys_addr >> PAGE_SHIFT)`)' : ' only'}`, () => {
      const { kvm, u, v, call } = vmOf(kernel);
      expect([kvm.memslots.nmemslots, kvm.memslots.generation]).toEqual([35, 3]);
      expect(u.owner).toBe(-1);
      // `slots->memslots[mem->slot] = new; ... rcu_assign_pointer(kvm->memslots, slots);
      // synchronize_srcu_expedited(&kvm->srcu);`: nobody holds kvm->srcu, it returns at once.
      expect(call(0, 3, 0x8000000, 0x100000)).toBe(MEMSLOT_SYNCED);
      expect(u.owner).toBe(0); // mutex_lock(&kvm->slots_lock) held until the ioctl returns
      expect([u.id, u.gfn, u.npages, u.syncs, u.syncing]).toEqual([3, 0x8000, 256, 1, false]);
      const s = kvm.memslots.slots[3]!;
      expect([s.id, s.baseGfn, s.npages, s.invalid]).toEqual([3, 0x8000, 256, false]);
      // `if (mem->slot >= slots->nmemslots)`: 3 < 35, unchanged; `slots->generation++;`
      expect([kvm.memslots.nmemslots, kvm.memslots.generation]).toEqual([35, 4]);
      expect(kvm.stats[S.memslot_updates]).toBe(1);
      expect(named(kvm, '__kvm_set_memory_region').map((e) => e.fields)).toEqual([{ slot: 3, gpa: '0x8000000', npages: 256, generation: 4 }]);
      expect(named(kvm, 'kvm_flush_remote_tlbs')).toEqual([]); // the commit has not run
      expect(kvm.sp.nMax).toBe(327); // (16384 + 3 + 1) * 20 / 1000 from the start: not recomputed yet
      expect(v[0]!.reloadRequested).toBe(false);

      const pagesBefore = kvm.sp.active.size;
      expect(call(0, 3, 0x8000000, 0x100000)).toBe(MEMSLOT_DONE);
      expect(u.owner).toBe(-1); // mutex_unlock(&kvm->slots_lock)
      expect(u.syncs).toBe(1);
      // kvm_arch_commit_memory_region: `nr_mmu_pages = kvm_mmu_calculate_mmu_pages(kvm);` = (16384 +
      // 256 + 3 + 1) * KVM_PERMILLE_MMU_PAGES (20) / 1000; then kvm_mmu_slot_remove_write_access ends
      // with kvm_flush_remote_tlbs(kvm).
      expect(kvm.sp.nMax).toBe(332);
      // v3.1: old.base_gfn (0, a never-used entry) != 0x8000: kvm_arch_flush_shadow = kvm_mmu_zap_all
      // + kvm_reload_remote_mmus; the zap's kvm_mmu_commit_zap_page (`if (list_empty(invalid_list))
      // return; kvm_flush_remote_tlbs(kvm);`) flushes once more: the VM has pages (the machine's setup
      // mapped its code). v3.0 has no such flush.
      expect(pagesBefore).toBeGreaterThan(0);
      expect(named(kvm, 'kvm_flush_remote_tlbs').length).toBe(kernel === 'v3.1' ? 2 : 1);
      expect(named(kvm, 'kvm_mmu_zap_all').map((e) => e.fields)).toEqual(kernel === 'v3.1' ? [{ pages: pagesBefore }] : []);
      // kvm_mmu_prepare_zap_page: `if (!sp->root_count) { ... list_move(&sp->link, invalid_list); }
      // else { list_move(&sp->link, &kvm->arch.active_mmu_pages); kvm_reload_remote_mmus(kvm); }`:
      // only vCPU 0's root (root_count 1) stays on the list.
      expect(kvm.sp.active.size).toBe(kernel === 'v3.1' ? 1 : pagesBefore);
      expect(v[0]!.reloadRequested).toBe(kernel === 'v3.1');
      expect(kvm.stats[S.memslot_updates]).toBe(1);
      expect(kvm.memslots.generation).toBe(4);
      expect(kvm.warnings).toEqual([]);
      // The next ioctl starts afresh.
      expect(call(0, 4, 0x9000000, 0x1000)).toBe(MEMSLOT_SYNCED);
      expect([u.id, u.gfn, u.npages, u.syncs]).toEqual([4, 0x9000, 1, 1]);
      expect(call(0, 4, 0x9000000, 0x1000)).toBe(MEMSLOT_DONE);
      expect(kvm.memslots.slots[4]).toMatchObject({ baseGfn: 0x9000, npages: 1 });
      expect(kvm.stats[S.memslot_updates]).toBe(2);
    });
  }

  it('nmemslots after a runtime add: `if (mem->slot >= slots->nmemslots) slots->nmemslots = mem->slot + 1;`', () => {
    // With VMX's private slots installed nmemslots is already 35 (33 under shadow paging): a user
    // slot (< 32) leaves it. To see the rule on the ioctl path, lower it as if the private slots
    // were absent (entries 32 and 34 then lie beyond the search).
    const { kvm, call } = vmOf('v3.1');
    expect(call(0, 31, 0xa000000, 0x1000)).toBe(MEMSLOT_SYNCED);
    expect(kvm.memslots.nmemslots).toBe(35);
    expect(call(0, 31, 0xa000000, 0x1000)).toBe(MEMSLOT_DONE);
    kvm.memslots.nmemslots = 4;
    expect(call(0, 9, 0x8000000, 0x1000)).toBe(MEMSLOT_SYNCED);
    expect(kvm.memslots.nmemslots).toBe(10);
    expect(kvm.memslots.find(0x8000)?.id).toBe(9);
  });
});

describe('__kvm_set_memory_region: the checks before anything is published', () => {
  it('size change: `if (npages && old.npages && npages != old.npages) goto out_free;` (-EINVAL), checked before the overlaps', () => {
    const { kvm, u, call } = vmOf('v3.1');
    // Slot 0 has 16384 pages; 1 page at gpa 0 would also overlap nothing but itself: -EINVAL first.
    expect(call(0, 0, 0x0, 0x1000)).toBe(MEMSLOT_DONE);
    expect(kvm.warnings.length).toBe(1);
    expect(kvm.warnings[0]).toContain('-EINVAL');
    expect(kvm.warnings[0]).toContain('16384');
    expect(u.owner).toBe(-1);
    expect(kvm.memslots.generation).toBe(3);
    expect(kvm.memslots.slots[0]).toMatchObject({ baseGfn: 0, npages: 16384 });
    expect(kvm.stats[S.memslot_updates]).toBe(0);
  });

  it('overlap with another user slot: -EEXIST, nothing published', () => {
    const { kvm, u, call } = vmOf('v3.1');
    expect(call(0, 3, 0x3fff000, 0x2000)).toBe(MEMSLOT_DONE); // gfns 0x3fff..0x4000: 0x3fff is slot 0's
    expect(kvm.warnings.length).toBe(1);
    expect(kvm.warnings[0]).toContain('-EEXIST');
    expect(kvm.warnings[0]).toContain('memslot 0');
    expect(u.owner).toBe(-1);
    expect(kvm.memslots.slots[3]).toBeNull();
    expect(kvm.memslots.generation).toBe(3);
    // Just past slot 0 (base_gfn == s->base_gfn + s->npages): accepted.
    expect(call(0, 3, 0x4000000, 0x2000)).toBe(MEMSLOT_SYNCED);
    expect(kvm.warnings.length).toBe(1);
  });

  it('an existing slot of the same size is not moved (not modelled): warned, nothing published', () => {
    const { kvm, u, call } = vmOf('v3.1');
    expect(call(0, 0, 0x8000000, 0x4000000)).toBe(MEMSLOT_DONE);
    expect(kvm.warnings.length).toBe(1);
    expect(kvm.warnings[0]).toContain('already exists');
    expect(u.owner).toBe(-1);
    expect(kvm.memslots.generation).toBe(3);
    expect(kvm.memslots.slots[0]).toMatchObject({ baseGfn: 0, npages: 16384 });
  });

  it('KVM_MEM_READONLY (not in 3.0/3.1): warned and skipped before any check', () => {
    const { kvm, u, call } = vmOf('v3.1');
    expect(call(0, 3, 0x8000000, 0x1000, true)).toBe(MEMSLOT_DONE);
    expect(kvm.warnings.length).toBe(1);
    expect(kvm.warnings[0]).toContain('KVM_MEM_READONLY');
    expect(u.owner).toBe(-1);
    expect(kvm.memslots.slots[3]).toBeNull();
    expect(kvm.memslots.generation).toBe(3);
  });

  it('deletion at a gpa strictly inside another slot: the overlap check with npages 0 fails it (-EEXIST)', () => {
    const { kvm, u, call } = vmOf('v3.1');
    expect(call(0, 3, 0x8000000, 0x1000)).toBe(MEMSLOT_SYNCED);
    expect(call(0, 3, 0x8000000, 0x1000)).toBe(MEMSLOT_DONE);
    expect(call(0, 3, 0x1000, 0)).toBe(MEMSLOT_DONE);
    expect(kvm.warnings.length).toBe(1);
    expect(kvm.warnings[0]).toContain('-EEXIST');
    expect(kvm.warnings[0]).toContain('0x1000');
    expect(kvm.warnings[0]).toContain('memslot 0');
    expect(u.owner).toBe(-1);
    expect(kvm.memslots.slots[3]!.invalid).toBe(false);
    expect(kvm.memslots.generation).toBe(4);
  });
});

describe('__kvm_set_memory_region: deletion (npages == 0) in three pieces', () => {
  it('INVALID copy + synchronize | kvm_arch_flush_shadow, final array + synchronize | commit, old freed', () => {
    const { kvm, u, v, call } = vmOf('v3.1');
    expect(call(0, 3, 0x8000000, 0x2000)).toBe(MEMSLOT_SYNCED);
    expect(call(0, 3, 0x8000000, 0x2000)).toBe(MEMSLOT_DONE);
    const old = kvm.memslots.slots[3]!;
    const pfn = kvm.slotPfn(v[0]!, old, 0x8001); // the VMM's page behind gfn 0x8001
    expect(kvm.host.isLive(pfn)).toBe(true);
    const zaps = named(kvm, 'kvm_mmu_zap_all').length;
    v[0]!.reloadRequested = false;

    // `slots->memslots[mem->slot].flags |= KVM_MEMSLOT_INVALID; ... rcu_assign_pointer(kvm->memslots,
    // slots); synchronize_srcu_expedited(&kvm->srcu);` (generation + 1, nmemslots unchanged)
    expect(call(0, 3, 0x8000000, 0)).toBe(MEMSLOT_SYNCED);
    expect(u.owner).toBe(0);
    expect([u.id, u.gfn, u.npages, u.syncs]).toEqual([3, 0x8000, 0, 1]);
    expect(old.invalid).toBe(true);
    expect(kvm.memslots.slots[3]).toBe(old);
    expect([kvm.memslots.nmemslots, kvm.memslots.generation]).toEqual([35, 5]);
    expect(named(kvm, 'kvm_mmu_zap_all').length).toBe(zaps); // not flushed yet
    expect(kvm.stats[S.memslot_updates]).toBe(1);
    // Meanwhile: __gfn_to_memslot finds the slot (a hit, 4 compares) but gfn_to_hva refuses it
    // (`if (!slot || slot->flags & KVM_MEMSLOT_INVALID) return bad_hva();`); kvm_is_visible_gfn skips it.
    const st = kvm.stats;
    const [l0, c0, m0] = [st[S.memslot_lookups]!, st[S.memslot_compares]!, st[S.memslot_misses]!];
    expect(kvm.gfnToMemslot(v[0]!, 0x8000)).toBeNull();
    expect([st[S.memslot_lookups]! - l0, st[S.memslot_compares]! - c0, st[S.memslot_misses]! - m0]).toEqual([1, 4, 0]);
    expect(kvm.isVisibleGfn(v[0]!, 0x8000)).toBe(false);
    expect([st[S.memslot_lookups]! - l0, st[S.memslot_compares]! - c0, st[S.memslot_misses]! - m0]).toEqual([2, 36, 1]);

    // kvm_arch_flush_shadow; kvm_arch_prepare_memory_region; `slots->memslots[mem->slot] = new;`
    // (base_gfn from the request, npages 0), published; synchronize.
    expect(call(0, 3, 0x8000000, 0)).toBe(MEMSLOT_SYNCED);
    expect(named(kvm, 'kvm_mmu_zap_all').length).toBe(zaps + 1);
    expect(v[0]!.reloadRequested).toBe(true);
    const emptied = kvm.memslots.slots[3]!;
    expect(emptied).not.toBe(old);
    expect([emptied.id, emptied.baseGfn, emptied.npages, emptied.invalid]).toEqual([3, 0x8000, 0, false]);
    expect([kvm.memslots.nmemslots, kvm.memslots.generation]).toEqual([35, 6]);
    expect(kvm.stats[S.memslot_updates]).toBe(2);
    expect(named(kvm, '__kvm_set_memory_region').at(-1)!.fields).toEqual({ slot: 3, gpa: '0x8000000', npages: 0, generation: 6 });
    expect(u.syncs).toBe(2);
    expect(kvm.host.isLive(pfn)).toBe(true); // `old` is freed after the commit

    // kvm_arch_commit_memory_region; kvm_free_physmem_slot(&old, &new).
    const flushes = named(kvm, 'kvm_flush_remote_tlbs').length;
    expect(call(0, 3, 0x8000000, 0)).toBe(MEMSLOT_DONE);
    expect(named(kvm, 'kvm_flush_remote_tlbs').length).toBe(flushes + 1);
    expect(kvm.sp.nMax).toBe(327); // (16384 + 3 + 1) * 20 / 1000 again
    expect(kvm.host.isLive(pfn)).toBe(false);
    expect(u.owner).toBe(-1);
    expect(u.syncs).toBe(2);
    expect(named(kvm, 'kvm_mmu_zap_all').length).toBe(zaps + 1);
    expect(kvm.warnings).toEqual([]);
    expect(kvm.gfnToMemslot(v[0]!, 0x8000)).toBeNull();
  });

  it('v3.1: a slot re-created where it was deleted is not flushed (old.base_gfn == new base_gfn); elsewhere it is', () => {
    const { kvm, call } = vmOf('v3.1');
    const zaps = () => named(kvm, 'kvm_mmu_zap_all').length;
    const ioctl = (id: number, gpa: number, size: number) => {
      let r: number;
      do r = call(0, id, gpa, size);
      while (r !== MEMSLOT_DONE);
    };
    ioctl(3, 0x8000000, 0x1000); // creation over a never-used entry: flush (0 != 0x8000)
    expect(zaps()).toBe(1);
    ioctl(3, 0x8000000, 0); // deletion: its own flush
    expect(zaps()).toBe(2);
    ioctl(3, 0x8000000, 0x1000); // same base gfn: no flush
    expect(zaps()).toBe(2);
    ioctl(3, 0x8000000, 0);
    expect(zaps()).toBe(3);
    ioctl(3, 0x9000000, 0x1000); // moved: old.base_gfn 0x8000 != 0x9000
    expect(zaps()).toBe(4);
    // memslot_updates counts each array with the final entry (`slots->memslots[mem->slot] = new;`):
    // one per ioctl, 3 creations + 2 deletions; the INVALID copy of a deletion does not count.
    expect(kvm.stats[S.memslot_updates]).toBe(5);
    expect(kvm.memslots.generation).toBe(3 + 3 + 2 * 2); // `slots->generation++` per published array
  });

  it('deleting a never-used entry runs all three pieces (nothing to free)', () => {
    const { kvm, u, call } = vmOf('v3.0');
    expect(call(0, 7, 0x8000000, 0)).toBe(MEMSLOT_SYNCED);
    expect(kvm.memslots.slots[7]).toBeNull(); // the INVALID copy: an all-zero entry but for the flag
    expect(kvm.memslots.generation).toBe(4);
    expect(call(0, 7, 0x8000000, 0)).toBe(MEMSLOT_SYNCED);
    expect(kvm.memslots.slots[7]).toMatchObject({ id: 7, baseGfn: 0x8000, npages: 0 });
    expect(kvm.memslots.generation).toBe(5);
    expect(call(0, 7, 0x8000000, 0)).toBe(MEMSLOT_DONE);
    expect(u.owner).toBe(-1);
    expect(kvm.warnings).toEqual([]);
  });
});

describe('synchronize_srcu_expedited inside an update: it sleeps while another vCPU holds kvm->srcu; kvm->slots_lock serializes updates', () => {
  it('WAITING, then STILL_WAITING until the reader leaves; the updater wakes no earlier than that', () => {
    const { kvm, u, v, call } = vmOf('v3.1', 3);
    expect(u.blocked(kvm, 0)).toBe(false);
    expect(u.blocked(kvm, 1)).toBe(false);
    // vCPUs 1 and 2 are inside their exit handlers (`vcpu->srcu_idx = srcu_read_lock(&vcpu->kvm->srcu);`).
    kvm.srcu.readLock(v[1]!);
    kvm.srcu.readLock(v[2]!);
    v[0]!.clock = 100;
    expect(call(0, 3, 0x8000000, 0x1000)).toBe(MEMSLOT_WAITING);
    expect([u.owner, u.syncing, u.syncs]).toEqual([0, true, 0]);
    expect(kvm.stats[S.srcu_waits]).toBe(1);
    expect(named(kvm, 'srcu_synchronize_wait').map((e) => [e.vcpu, e.fields])).toEqual([[0, { readers: 2, first: 1 }]]);
    // The array is published before the synchronize.
    expect(kvm.memslots.slots[3]).toMatchObject({ baseGfn: 0x8000, npages: 1 });
    expect(u.blocked(kvm, 0)).toBe(true); // asleep in synchronize_srcu_expedited
    expect(u.blocked(kvm, 1)).toBe(true); // mutex_lock(&kvm->slots_lock) would sleep
    // Another vCPU's ioctl sleeps on slots_lock: nothing happens.
    expect(call(1, 4, 0x9000000, 0x1000)).toBe(MEMSLOT_STILL_WAITING);
    expect(kvm.memslots.slots[4]).toBeNull();
    expect(call(0, 3, 0x8000000, 0x1000)).toBe(MEMSLOT_STILL_WAITING);
    v[2]!.clock = 900;
    kvm.srcu.readUnlock(v[2]!);
    expect(call(0, 3, 0x8000000, 0x1000)).toBe(MEMSLOT_STILL_WAITING); // vCPU 1 is still inside
    expect(u.blocked(kvm, 0)).toBe(true);
    v[1]!.clock = 700;
    kvm.srcu.readUnlock(v[1]!);
    expect(u.blocked(kvm, 0)).toBe(false);
    expect(u.blocked(kvm, 1)).toBe(true); // still the owner's
    expect(v[0]!.clock).toBe(100);
    expect(call(0, 3, 0x8000000, 0x1000)).toBe(MEMSLOT_SYNCED);
    expect(v[0]!.clock).toBe(900); // the last awaited section ended at 900
    expect([u.owner, u.syncing, u.syncs]).toEqual([0, false, 1]);
    expect(kvm.srcu.syncer).toBe(-1);
    expect(kvm.stats[S.srcu_waits]).toBe(1);
    expect(named(kvm, 'kvm_flush_remote_tlbs')).toEqual([]); // the commit comes next
    expect(call(0, 3, 0x8000000, 0x1000)).toBe(MEMSLOT_DONE);
    expect(named(kvm, 'kvm_mmu_zap_all').length).toBe(1);
    expect(u.owner).toBe(-1);
    expect(u.blocked(kvm, 1)).toBe(false);
    // Now vCPU 1's ioctl runs.
    expect(call(1, 4, 0x9000000, 0x1000)).toBe(MEMSLOT_SYNCED);
    expect(u.owner).toBe(1);
    expect(u.blocked(kvm, 0)).toBe(true);
    expect(u.blocked(kvm, 1)).toBe(false);
  });

  it('an updater whose clock is already past the readers\' exits keeps its clock', () => {
    const { kvm, v, call } = vmOf('v3.0', 2);
    kvm.srcu.readLock(v[1]!);
    v[0]!.clock = 5000;
    expect(call(0, 3, 0, 0)).toBe(MEMSLOT_WAITING); // a deletion at gpa 0 (slot 0's base: no clash)
    v[1]!.clock = 1200;
    kvm.srcu.readUnlock(v[1]!);
    expect(call(0, 3, 0, 0)).toBe(MEMSLOT_SYNCED);
    expect(v[0]!.clock).toBe(5000);
    // The second synchronize of the deletion: vCPU 1 is inside again.
    kvm.srcu.readLock(v[1]!);
    expect(call(0, 3, 0, 0)).toBe(MEMSLOT_WAITING);
    expect(kvm.stats[S.srcu_waits]).toBe(2);
    expect(v[0]!.clock).toBeLessThan(1e9); // the flush before it was charged to vCPU 0
    v[1]!.clock = 1e9;
    kvm.srcu.readUnlock(v[1]!);
    expect(call(0, 3, 0, 0)).toBe(MEMSLOT_SYNCED);
    expect(v[0]!.clock).toBe(1e9);
    expect(kvm.memslotUpdate.syncs).toBe(2);
    expect(call(0, 3, 0, 0)).toBe(MEMSLOT_DONE);
    expect(kvm.warnings).toEqual([]);
  });

  it('another vCPU\'s ioctl sleeps on slots_lock between the pieces too (not only while the owner sleeps)', () => {
    const { kvm, u, call } = vmOf('v3.1', 2);
    expect(call(0, 3, 0x8000000, 0x1000)).toBe(MEMSLOT_SYNCED);
    expect(u.blocked(kvm, 1)).toBe(true);
    expect(u.blocked(kvm, 0)).toBe(false);
    // vCPU 1 asks for another slot: mutex_lock(&kvm->slots_lock) sleeps; vCPU 0's commit is not run.
    expect(call(1, 4, 0x9000000, 0x1000)).toBe(MEMSLOT_STILL_WAITING);
    expect(u.owner).toBe(0);
    expect(named(kvm, 'kvm_flush_remote_tlbs')).toEqual([]);
    expect(kvm.memslots.slots[4]).toBeNull();
    expect(call(0, 3, 0x8000000, 0x1000)).toBe(MEMSLOT_DONE);
    expect(named(kvm, 'kvm_mmu_zap_all').length).toBe(1);
  });

  it('the reader is vCPU 0, the updater vCPU 1', () => {
    const { kvm, u, v, call } = vmOf('v3.1', 2);
    kvm.srcu.readLock(v[0]!);
    expect(call(1, 3, 0x8000000, 0x1000)).toBe(MEMSLOT_WAITING);
    expect(named(kvm, 'srcu_synchronize_wait').map((e) => [e.vcpu, e.fields])).toEqual([[1, { readers: 1, first: 0 }]]);
    expect(u.blocked(kvm, 1)).toBe(true);
    expect(call(1, 3, 0x8000000, 0x1000)).toBe(MEMSLOT_STILL_WAITING);
    expect(u.syncing).toBe(true);
    kvm.srcu.readUnlock(v[0]!);
    expect(u.blocked(kvm, 1)).toBe(false);
    expect(call(1, 3, 0x8000000, 0x1000)).toBe(MEMSLOT_SYNCED);
    expect(call(1, 3, 0x8000000, 0x1000)).toBe(MEMSLOT_DONE);
  });

  it('the updater\'s own read-side section does not hold up its synchronize', () => {
    const { kvm, v, call } = vmOf('v3.1', 2);
    kvm.srcu.readLock(v[0]!);
    expect(call(0, 3, 0x8000000, 0x1000)).toBe(MEMSLOT_SYNCED);
    expect(kvm.stats[S.srcu_waits]).toBe(0);
  });
});

describe('kvm_mmu_slot_remove_write_access (mmu.c): W cleared in the present leaves of pages with `test_bit(slot, sp->slot_bitmap)`, then kvm_flush_remote_tlbs', () => {
  /** Present leaves of the level-1 pages: [writable, total]. */
  function leaves(kvm: Kvm): [number, number] {
    let writable = 0;
    let total = 0;
    for (const id of kvm.sp.active) {
      if (kvm.sp.level(id) !== 1) continue;
      const base = kvm.host.entryWord(kvm.sp.pfn[id]!, 0);
      for (let i = 0; i < 512; i++) {
        const lo = kvm.host.words[base + 2 * i]!;
        if (!kvm.fmt.isShadowPresent(lo, kvm.host.words[base + 2 * i + 1]!)) continue;
        total++;
        if (lo & PT_WRITABLE_MASK) writable++;
      }
    }
    return [writable, total];
  }

  for (const tdp of [true, false]) {
    it(`${tdp ? 'EPT' : 'shadow paging'}: slot 0's pages lose W in every leaf; another slot's call changes nothing`, () => {
      const writes = Array.from({ length: 6 }, (_, i) => `  - { write: 0xffff8800001${i}0000, size: 8, value: ${i + 1} }`).join('\n');
      const yaml = vm('v3.1', writes).replace('kernel: v3.1', `kernel: v3.1\nmmu: { tdp: ${tdp} }`);
      const m = machine(yaml);
      m.run();
      const kvm = m.kvm;
      const v0 = kvm.vcpus[0]!;
      const [w, total] = leaves(kvm);
      expect(w).toBeGreaterThan(0);
      const written = kvm.stats[S.sptes_written]!;
      let flushes = named(kvm, 'kvm_flush_remote_tlbs').length;
      // Slot 5 maps nothing: no page has its bit; the flush comes all the same.
      kvmMmuSlotRemoveWriteAccess(kvm, v0, 5);
      expect(leaves(kvm)).toEqual([w, total]);
      expect(kvm.stats[S.sptes_written]).toBe(written);
      expect(named(kvm, 'kvm_flush_remote_tlbs').length).toBe(++flushes);
      // Slot 0: `if (is_writable_pte(pt[i])) mmu_spte_update(&pt[i], pt[i] & ~PT_WRITABLE_MASK);`
      kvmMmuSlotRemoveWriteAccess(kvm, v0, 0);
      expect(leaves(kvm)).toEqual([0, total]);
      expect(kvm.stats[S.sptes_written]).toBe(written + w);
      expect(named(kvm, 'kvm_flush_remote_tlbs').length).toBe(++flushes);
      // Again: nothing writable is left, nothing is written.
      kvmMmuSlotRemoveWriteAccess(kvm, v0, 0);
      expect(kvm.stats[S.sptes_written]).toBe(written + w);
    });
  }

  it('only W changes: each writable leaf keeps its other bits', () => {
    const m = machine(vm('v3.0', '  - { write: 0xffff880000100000, size: 8, value: 1 }'));
    m.run();
    const kvm = m.kvm;
    const before = new Map<number, [number, number]>();
    for (const id of kvm.sp.active) {
      if (kvm.sp.level(id) !== 1) continue;
      const base = kvm.host.entryWord(kvm.sp.pfn[id]!, 0);
      for (let i = 0; i < 512; i++) before.set(base + 2 * i, [kvm.host.words[base + 2 * i]!, kvm.host.words[base + 2 * i + 1]!]);
    }
    kvmMmuSlotRemoveWriteAccess(kvm, kvm.vcpus[0]!, 0);
    let changed = 0;
    for (const [w, [lo, hi]] of before) {
      const present = kvm.fmt.isShadowPresent(lo, hi);
      const expectLo = present ? (lo & ~PT_WRITABLE_MASK) >>> 0 : lo;
      if (expectLo !== lo) changed++;
      expect([kvm.host.words[w], kvm.host.words[w + 1]]).toEqual([expectLo, hi]);
    }
    expect(changed).toBeGreaterThan(0);
  });
});

describe('kvm_mmu_slot_remove_write_access on a page shared by two slots (v3.0, shadow paging, bypass_guest_pf)', () => {
  // Slot 0: gfns 0..0xff, slot 1: 0x100..0x3fff. The guest writes gfns 0x10 and 0x20 and reads gfn
  // 0xff (its top-level page table: write-protected, the leaf is read-only): one direct level-1 page
  // maps gfns 0..0x1ff and holds three leaves, all of slot 0; its other entries hold
  // shadow_trap_nonpresent_pte. Only mmu_set_spte -> page_header_update_slot sets a bit in
  // sp->slot_bitmap, for the slot of the gfn it maps: that page has slot 0's bit, not slot 1's; no
  // page has a leaf of slot 1. (The host frame after that page's is gfn 0x20's, whose first 8 bytes
  // the guest set to 3.)
  const YAML = `kernel: v3.0
mmu: { tdp: false }
memslots:
  - { slot: 0, gpa: 0x0, size: 1M }
  - { slot: 1, gpa: 0x100000, size: 63M }
guest:
  cpu: { cr0_wp: true, efer_nx: true }
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x0, size: 64M, page: 2M, flags: "p w a d nx" }
workload:
  - { write: 0xffff880000010000, size: 8, value: 3 }
  - { write: 0xffff880000020000, size: 8, value: 3 }
  - { read: 0xffff8800000ff000, size: 8 }
`;

  it('slot 1: no word of host memory changes; slot 0: the two leaves lose W and nothing else changes', () => {
    const m = machine(YAML);
    m.run();
    const kvm = m.kvm;
    expect(kvm.warnings).toEqual([]);
    const v0 = kvm.vcpus[0]!;
    const page = [...kvm.sp.active].find((id) => kvm.sp.level(id) === 1 && kvm.sp.leafGfn(id, 0) === 0)!;
    expect(page).toBeDefined();
    const base = kvm.host.entryWord(kvm.sp.pfn[page]!, 0);
    const leafWords = [0x10, 0x20].map((i) => base + 2 * i);
    for (const w of leafWords) expect(kvm.host.words[w]! & PT_WRITABLE_MASK).not.toBe(0);
    const ro = base + 2 * 0xff;
    expect(kvm.fmt.isShadowPresent(kvm.host.words[ro]!, kvm.host.words[ro + 1]!)).toBe(true);
    expect(kvm.host.words[ro]! & PT_WRITABLE_MASK).toBe(0);
    // Setup check (the simulator's frame order, not a kernel fact): gfn 0x20's frame follows the
    // page's, so that an entry index running past 511 would read the guest's data.
    expect(kvm.memslots.slots[0]!.pfnOf(0x20)).toBe(kvm.sp.pfn[page]! + 1);
    const snap = kvm.host.words.slice();
    const diff = () => {
      const out: [number, number, number][] = [];
      for (let w = 0; w < snap.length; w++) if (kvm.host.words[w] !== snap[w]) out.push([w, snap[w]!, kvm.host.words[w]!]);
      return out;
    };
    const written = kvm.stats[S.sptes_written]!;
    kvmMmuSlotRemoveWriteAccess(kvm, v0, 1);
    expect(diff()).toEqual([]);
    expect(kvm.stats[S.sptes_written]).toBe(written);
    // `mmu_spte_update(&pt[i], pt[i] & ~PT_WRITABLE_MASK)` (3.0: update_spte): the high word (NX) stays.
    kvmMmuSlotRemoveWriteAccess(kvm, v0, 0);
    expect(diff()).toEqual(leafWords.map((w) => [w, snap[w]!, (snap[w]! & ~PT_WRITABLE_MASK) >>> 0]));
    expect(kvm.stats[S.sptes_written]).toBe(written + 2);
  });
});

describe('kvm_mmu_zap_all: every page prepare-zapped, the list restarted after each freed one; trace kvm_mmu_zap_all(pages)', () => {
  it('after a run, only the vCPU roots in use remain (list_move back to active_mmu_pages), each zap counted', () => {
    const m = machine(vmVcpus('v3.1', [`      - { write: ${RAM}, size: 8, value: 1 }\n      - { write: ${NIC}, size: 4, value: 1 }`]));
    m.run();
    const kvm = m.kvm;
    const before = kvm.sp.active.size;
    expect(before).toBeGreaterThan(1);
    const levels = [...kvm.sp.active].map((id) => kvm.sp.level(id)); // oldest first
    const zapped = kvm.stats[S.mmu_shadow_zapped]!;
    kvmMmuZapAll(kvm, kvm.vcpus[0]!);
    const roots = [...kvm.sp.active];
    expect(roots.length).toBe(1);
    expect(kvm.sp.level(roots[0]!)).toBe(4);
    expect(named(kvm, 'kvm_mmu_zap_all').at(-1)!.fields).toEqual({ pages: before });
    // `++kvm->stat.mmu_shadow_zapped;` per kvm_mmu_prepare_zap_page. kvm_mmu_alloc_page does
    // `list_add(&sp->link, &vcpu->kvm->arch.active_mmu_pages);` (at the head), so the walk meets the
    // newest page first and the root, the oldest, last: each page is prepare-zapped once, and after
    // the root (returns 0, moved to the head) the walk ends without a restart.
    expect(kvm.stats[S.mmu_shadow_zapped]! - zapped).toBe(before);
    const order = named(kvm, 'kvm_mmu_prepare_zap_page').slice(-before).map((e) => e.fields.level);
    expect(order).toEqual(levels.reverse());
  });
});

describe('kvm_mmu_zap_all with the root in use at the head: `if (kvm_mmu_prepare_zap_page(kvm, sp, &invalid_list)) goto restart;`', () => {
  it('shadow paging, after a CR3 switch: the newest page is the root in use, prepare-zapped again at every restart', () => {
    // Space 1's root is allocated after space 0's pages (its children, the shared kernel half, are
    // found in the hash and reused): the list from the head is R1, then space 0's pages. R1 has
    // root_count 1 (`list_move(&sp->link, &kvm->arch.active_mmu_pages)`: back to the head, ret 0);
    // every other page goes to the invalid list (`ret++`) and the walk restarts at the head, where R1
    // is met again. N pages: N - 1 restarts, each zapping R1 and one page, and a last pass with R1
    // alone: 2N - 1 prepare-zaps.
    const yaml = vm('v3.1', `  - { write: ${RAM}, size: 8, value: 1 }\n  - { cr3: 1 }\n  - { write: ${RAM}, size: 8, value: 2 }`).replace('kernel: v3.1', 'kernel: v3.1\nmmu: { tdp: false }');
    const m = machine(yaml);
    m.run();
    const kvm = m.kvm;
    const ids = [...kvm.sp.active];
    const n = ids.length;
    expect(n).toBeGreaterThan(2);
    const newest = ids[n - 1]!;
    expect(kvm.sp.level(newest)).toBe(4);
    const zapped = kvm.stats[S.mmu_shadow_zapped]!;
    const seen = named(kvm, 'kvm_mmu_prepare_zap_page').length;
    kvmMmuZapAll(kvm, kvm.vcpus[0]!);
    expect(kvm.stats[S.mmu_shadow_zapped]! - zapped).toBe(2 * n - 1);
    expect([...kvm.sp.active]).toEqual([newest]);
    const levels = named(kvm, 'kvm_mmu_prepare_zap_page').slice(seen).map((e) => e.fields.level);
    expect(levels.length).toBe(2 * n - 1);
    // R1 first, then after every other page.
    for (let i = 0; i < levels.length; i += 2) expect(levels[i]).toBe(4);
    expect(named(kvm, 'kvm_mmu_zap_all').at(-1)!.fields).toEqual({ pages: n });
  });
});

describe('searches counted through the VM (kvm.stats memslot_lookups / memslot_compares / memslot_misses)', () => {
  it('rmap_write_protect: three gfn_to_rmap -> gfn_to_memslot lookups, each compared over the array', () => {
    // Shadow paging: nmemslots 33 (slot 0, TSS slot 32).
    const yaml = vm('v3.1', '  - { compute: 1 }').replace('kernel: v3.1', 'kernel: v3.1\nmmu: { tdp: false }');
    const kvm = machine(yaml).kvm;
    expect(kvm.memslots.nmemslots).toBe(33);
    const st = kvm.stats;
    const snap = () => [st[S.memslot_lookups]!, st[S.memslot_compares]!, st[S.memslot_misses]!];
    let b = snap();
    kvm.rmap.writeProtect(kvm.vcpus[0]!, 0x100); // in slot 0: 1 compare each
    expect(snap().map((x, i) => x - b[i]!)).toEqual([3, 3, 0]);
    b = snap();
    kvm.rmap.writeProtect(kvm.vcpus[0]!, 0xfebf0); // the NIC's gfn: no slot, 33 compares each
    expect(snap().map((x, i) => x - b[i]!)).toEqual([3, 99, 3]);
    b = snap();
    kvm.rmap.writeProtect(kvm.vcpus[0]!, 0xfffbe); // in the TSS slot (entry 32): 33 compares, a hit
    expect(snap().map((x, i) => x - b[i]!)).toEqual([3, 99, 0]);
    b = snap();
    // mmu_check_root -> kvm_is_visible_gfn: 32 user entries; a hit in slot 0 costs 1.
    expect(kvm.isVisibleGfn(kvm.vcpus[0]!, 0xfffbe)).toBe(false);
    expect(kvm.isVisibleGfn(kvm.vcpus[0]!, 0x3fff)).toBe(true);
    expect(snap().map((x, i) => x - b[i]!)).toEqual([2, 33, 1]);
  });

  it('an MMIO write misses every slot: v3.0 with 20 user slots compares all nmemslots entries per search', () => {
    // `memslots: 20` adds 19 one-page filler slots: nmemslots = 32 + 3 (EPT private slots 32, 34) = 35.
    const base = vm('v3.0', `  - { write: ${NIC}, size: 4, value: 1 }`);
    const r = run(base, { overrides: { memslot_count: 20 } });
    expect(r.stats.memslot_misses).toBeGreaterThan(0);
    // Every miss compares all 35 entries, every hit at most 35: compares <= 35 * lookups, and misses
    // alone account for 35 each.
    expect(r.stats.memslot_compares).toBeGreaterThanOrEqual(35 * r.stats.memslot_misses);
  });
});
