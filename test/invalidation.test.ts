// v3.1 invalidation on memslot creation (kvm_arch_flush_shadow) and the runtime caching switch.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { run, vm, NIC, RAM } from './helpers/scenario';
import { profileByName } from '../simulator/cost/profiles';

const overNic = (kernel: 'v3.0' | 'v3.1') =>
  vm(
    kernel,
    `  - repeat: 5
    steps:
      - { write: ${NIC}, size: 4, value: 7 }
  - { memslot: add, slot: 1, gpa: 0xfebf0000, size: 4K }
  - { write: ${NIC}, size: 8, value: 0x1122334455667788 }
  - { read: ${NIC}, size: 8 }`,
  );

describe('creating a memslot over a cached MMIO gfn', () => {
  it('v3.1 zaps every shadow page, and the gfn becomes RAM: what is written is read back', () => {
    const r = run(overNic('v3.1'), { accesses: true });
    expect(r.stats.mmu_shadow_zapped).toBeGreaterThanOrEqual(4); // root, and the L3, L2, L1 tables
    expect(r.stats.memslot_updates).toBe(1);
    const last = r.accesses!.at(-1)!;
    expect(last).toMatchObject({ op: 'read', result: 'ok', value: '0x1122334455667788' });
    expect(r.stats.mmio_writes).toBe(5); // the two later accesses reached RAM, not the device
    expect(r.exits.EPT_MISCONFIG).toBe(4); // only the 4 warm accesses before the slot existed
  });

  it('v3.0 never flushes on creation, yet has nothing to invalidate', () => {
    const r = run(overNic('v3.0'), { accesses: true });
    expect(r.stats.mmu_shadow_zapped).toBe(0);
    expect(r.accesses!.at(-1)!.value).toBe('0x1122334455667788');
  });

  it('deleting the slot again sends the gfn back to MMIO, with a fresh MMIO SPTE', () => {
    const r = run(vm('v3.1', `  - { memslot: add, slot: 1, gpa: 0xfebf0000, size: 4K }\n  - { write: ${NIC}, size: 4, value: 1 }\n  - { memslot: delete, slot: 1 }\n  - { write: ${NIC}, size: 4, value: 2 }\n  - { write: ${NIC}, size: 4, value: 3 }`));
    expect(r.stats.mmio_writes).toBe(2);
    expect(r.stats.mmio_sptes_created).toBe(1);
    expect(r.faults.map).toBeGreaterThanOrEqual(1);
  });

  it('the vCPU MMIO cache has no generation in v3.1: it survives the zap', () => {
    // Fill the cache with the NIC gfn, create a RAM slot elsewhere (zap all), then touch the NIC:
    // the EPT violation of the rebuilt tables still finds the stale cache by GPA in the emulator.
    const r = run(vm('v3.1', `  - { write: ${NIC}, size: 4, value: 1 }\n  - { memslot: add, slot: 2, gpa: 0x8000000, size: 1M }\n  - { write: ${NIC}, size: 4, value: 2 }`));
    expect(r.stats.mmu_shadow_zapped).toBeGreaterThan(0);
    expect(r.trace.events.filter((e) => e.name === 'vcpu_match_mmio' && e.fields.gpa_match === true).length).toBe(2);
  });
});

describe('the runtime switch mmio_caching', () => {
  it('off: no MMIO SPTE, every access is an EPT violation (as v3.0, but the cache still fills)', () => {
    const r = run(vm('v3.1', `  - { set: { mmio_caching: false } }\n  - repeat: 10\n    steps:\n      - { write: ${NIC}, size: 4, value: 1 }`));
    expect(r.faults['mmio-slow']).toBe(10); // (the switch's zap also re-faults the guest's table pages)
    expect(r.exits.EPT_MISCONFIG ?? 0).toBe(0);
    expect(r.stats.mmio_sptes_created).toBe(0);
    expect(r.stats.mmio_cache_fills).toBe(10);
  });

  it('switching it off zaps the MMIO SPTEs already installed', () => {
    const r = run(vm('v3.1', `  - { write: ${NIC}, size: 4, value: 1 }\n  - { set: { mmio_caching: false } }\n  - repeat: 3\n    steps:\n      - { write: ${NIC}, size: 4, value: 1 }`));
    expect(r.stats.mmu_shadow_zapped).toBeGreaterThan(0);
    expect(r.exits.EPT_MISCONFIG ?? 0).toBe(0);
    expect(r.exits.EPT_VIOLATION).toBeGreaterThanOrEqual(4);
  });
});

// __kvm_set_memory_region (virt/kvm/kvm_main.c, 3.1.10; 3.0.1 the same but for the flush): `new = old
// = *memslot;` (679) `new.base_gfn = base_gfn;` (682) and `slots->memslots[mem->slot] = new;` (827)
// even for a deletion, so an emptied entry keeps the base gfn the VMM passed; on creation
// `if (npages && old.base_gfn != mem->guest_phys_addr >> PAGE_SHIFT) kvm_arch_flush_shadow(kvm);` (838).
describe('a memslot deleted and re-created at the same GPA', () => {
  const STALE = 'examples/stale-mmio-spte-after-slot-recreate.mmio.yaml';
  const text = readFileSync(STALE, 'utf8');

  it('v3.1 keeps the MMIO SPTE cached while the slot was gone: the RAM keeps exiting as MMIO', () => {
    const r = run(text, { accesses: true });
    expect(r.expect.filter((e) => !e.ok)).toEqual([]);
    // The 20 accesses after the re-creation: EPT misconfigurations on the stale SPTE, sent to the VMM.
    expect(r.exits.EPT_MISCONFIG).toBe(20);
    expect(r.stats.userspace_exits).toBe(21);
    // No device there, so the VMM drops the writes and reads return all ones (docs/decisions.md).
    expect(r.accesses!.at(-1)).toMatchObject({ op: 'read', result: 'ok', value: '0xffffffffffffffff' });
  });

  it('the deleted entry keeps the GPA of the request, with npages 0', () => {
    const upTo = text.replace(/  - \{ read: [^\n]*\n  - \{ memslot: add[^\n]*\n  - repeat: 10[\s\S]*?(?=expect:)/, '');
    const r = run(upTo.replace(/expect:[\s\S]*$/, ''));
    expect(r.memslot_table.slots.find((s) => s.slot === 1)).toEqual({ slot: 1, gpa: '0xfd000000', npages: 0, private: false });
    const elsewhere = run(upTo.replace('{ memslot: delete, slot: 1 }', '{ memslot: delete, slot: 1, gpa: 0x0 }').replace(/expect:[\s\S]*$/, ''));
    expect(elsewhere.memslot_table.slots.find((s) => s.slot === 1)).toEqual({ slot: 1, gpa: '0x0', npages: 0, private: false });
  });

  it('v3.1 with gpa 0 on the deletion: old.base_gfn (0) differs, the re-creation flushes, and the RAM is RAM again', () => {
    const r = run(text.replace('{ memslot: delete, slot: 1 }', '{ memslot: delete, slot: 1, gpa: 0x0 }'), { accesses: true });
    expect(r.exits.EPT_MISCONFIG ?? 0).toBe(0);
    expect(r.stats.userspace_exits).toBe(1); // only the read while the slot was gone
    expect(r.accesses!.at(-1)).toMatchObject({ op: 'read', result: 'ok', value: '0x2222' });
  });

  it('v3.0 has no MMIO SPTE to go stale: the re-created slot is RAM at once', () => {
    const r = run(text.replace('kernel: v3.1', 'kernel: v3.0'), { accesses: true });
    expect(r.exits.EPT_MISCONFIG ?? 0).toBe(0);
    expect(r.stats.mmio_sptes_created).toBe(0);
    expect(r.stats.userspace_exits).toBe(1);
    expect(r.accesses!.at(-1)).toMatchObject({ op: 'read', result: 'ok', value: '0x2222' });
  });

  it('a deletion whose GPA lies strictly inside another slot fails the overlap check (npages 0 does not skip it)', () => {
    // `if (!((base_gfn + npages <= s->base_gfn) || (base_gfn >= s->base_gfn + s->npages))) goto out_free;`
    const yaml = vm('v3.1', `  - { memslot: delete, slot: 1, gpa: 0x100000 }`);
    const line = yaml.split('\n').findIndex((l) => l.includes('memslot: delete')) + 1;
    expect(run(yaml).warnings).toEqual([`vcpu 0, line ${line}: memslot 1: gpa 0x100000 lies inside memslot 0: KVM_SET_USER_MEMORY_REGION fails with -EEXIST`]);
    const r = run(yaml);
    expect(r.stats.memslot_updates).toBe(0);
  });
});

// Every change ends in kvm_arch_commit_memory_region (x86.c 3.1.10 6558): `spin_lock(&kvm->mmu_lock);
// ... kvm_mmu_slot_remove_write_access(kvm, mem->slot); spin_unlock(&kvm->mmu_lock);`, and
// kvm_mmu_slot_remove_write_access (mmu.c 3805-3835) ends with kvm_flush_remote_tlbs(kvm).
describe('the commit of a memslot change', () => {
  it('a deletion: INVALID copy, synchronize, kvm_arch_flush_shadow, final array, synchronize, commit', () => {
    // The read rebuilds the tables the creation's flush zapped, so the deletion has pages to free.
    const yaml = vm('v3.1', `  - { memslot: add, slot: 1, gpa: 0x20000000, size: 4K }\n  - { read: ${RAM}, size: 8 }\n  - { memslot: delete, slot: 1 }`);
    const line = yaml.split('\n').findIndex((l) => l.includes('memslot: delete')) + 1;
    const r = run(yaml, { traceCapacity: 100_000 });
    const watched = ['kvm_mmu_zap_all', 'kvm_flush_remote_tlbs', '__kvm_set_memory_region'];
    const del = r.trace.events.filter((e) => e.line === line && watched.includes(e.name)).map((e) => e.name);
    // kvm_mmu_zap_all -> kvm_mmu_commit_zap_page flushes; the final array; the commit's flush.
    expect(del).toEqual(['kvm_mmu_zap_all', 'kvm_flush_remote_tlbs', '__kvm_set_memory_region', 'kvm_flush_remote_tlbs']);
    expect(r.trace.events.find((e) => e.line === line && e.name === '__kvm_set_memory_region')!.fields).toMatchObject({ slot: 1, gpa: '0x20000000', npages: 0 });
    // Generation: 3 at the start (slot 0, the TSS and identity slots), + 1 for the creation, + 2 for the deletion.
    expect(r.memslot_table.generation).toBe(3 + 1 + 2);
    expect(r.stats.memslot_updates).toBe(2);
  });

  it('charges mmu_lock for the commit of a deletion too', () => {
    const del = run(vm('v3.0', `  - { memslot: add, slot: 1, gpa: 0x20000000, size: 4K }\n  - { memslot: delete, slot: 1 }`));
    const add = run(vm('v3.0', `  - { memslot: add, slot: 1, gpa: 0x20000000, size: 4K }`));
    const lock = profileByName('westmere-2011').mmu_lock;
    // v3.0 creation: the commit only. Deletion: kvm_mmu_zap_all and the commit.
    expect(add.cycles.by_component.mmu_lock).toBe(lock);
    expect(del.cycles.by_component.mmu_lock - add.cycles.by_component.mmu_lock).toBe(2 * lock);
  });

  it('write-protects what vCPUs mapped from the new slot between its publication and the commit (v3.0)', () => {
    // vCPU 0 writes the new slot's page while vCPU 1's update stands after its synchronize (mapped
    // writable: the slot is published); vCPU 0 writes other RAM, and in the same turn vCPU 1's commit
    // clears W in the page's leaf (its shadow page's slot_bitmap has bit 1), so vCPU 0's next write to
    // the page faults again: EPT violation, and mmu_set_spte puts W back (was_rmapped, no rmap_add).
    const yaml = `
kernel: v3.0
memslots:
  - { slot: 0, gpa: 0x0, size: 64M }
devices:
  - { name: rom, gpa: 0xfebc0000, size: 4K, handler: userspace }
guest:
  cpu: { cr0_wp: true, efer_nx: true }
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x0, size: 64M, page: 2M, flags: "p w a d nx" }
    - { gva: 0xffffc90000100000, gpa: 0xfebc0000, size: 4K, flags: "p w a d nx" }
vcpus:
  - workload:
      - { wait_for: { vcpu: 1, point: synchronize_srcu_expedited } }
      - { write: 0xffffc90000100000, size: 8, value: 1 }
      - { write: ${RAM}, size: 8, value: 2 }
      - { write: 0xffffc90000100000, size: 8, value: 3 }
  - workload:
      - { memslot: add, slot: 1, gpa: 0xfebc0000, size: 4K }
`;
    const r = run(yaml, { accesses: true, traceCapacity: 100_000 });
    expect(r.warnings).toEqual([]);
    const romExits = r.trace.events.filter((e) => e.name === 'kvm_page_fault' && e.fields.address === '0xfebc0000');
    expect(romExits).toHaveLength(2);
    expect(r.faults.map).toBe(3); // the page, the other RAM page, the page again
    expect(r.stats.userspace_exits).toBe(0); // the slot was there for every access to the page
    expect(r.accesses!.map((a) => a.result)).toEqual(['ok', 'ok', 'ok']);
  });
});
