// The lockless walk under concurrent zapping (the 2011 RCU scheme), SRCU around memslot updates, and
// scheduler determinism. Sources (3.0.1 and 3.1.10 alike): __kvm_set_memory_region (kvm_main.c)
// publishes the new array with rcu_assign_pointer and calls synchronize_srcu_expedited(&kvm->srcu)
// before kvm_arch_commit_memory_region and (3.1) kvm_arch_flush_shadow; every vCPU holds kvm->srcu
// from `vcpu->srcu_idx = srcu_read_lock(&vcpu->kvm->srcu);` after a VM exit to the
// srcu_read_unlock() before its next entry (x86.c vcpu_enter_guest), its exit handler in between.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { run, machine, vmVcpus, scenario, NIC, EXTRA } from './helpers/scenario';
import { runScenario } from '../simulator/run/run';
import type { Machine } from '../simulator/run/machine';
import type { Vcpu } from '../simulator/kvm/vcpu';
import { S } from '../simulator/trace/stats';
import { CLASS_MMIO_RETRY } from '../simulator/kvm/fault_class';

const pair = `      - { write: ${NIC}, size: 4, value: 1 }\n      - { write: ${EXTRA}, size: 4, value: 1 }`;

/** vCPU 1 installs the NIC's MMIO SPTE, then creates a memslot whose commit and flush wait for
 *  vCPU 0 at `point`; vCPU 0 starts once the update's synchronize has returned, in the guest. */
const reachable = (point: string) =>
  vmVcpus('v3.1', [
    `      - { wait_for: { vcpu: 1, point: synchronize_srcu_expedited } }\n${pair}\n${pair}`,
    `      - { write: ${NIC}, size: 4, value: 1 }\n      - { memslot: add, slot: 3, gpa: 0x8000000, size: 1M, resume_at: { vcpu: 0, ${point} } }`,
  ]);

describe('zap while a lockless walker is inside the shadow tables', () => {
  const example = readFileSync('examples/race-zap-during-walk.mmio.yaml', 'utf8');

  it('the walker finds no MMIO SPTE and the fault is retried; pages wait for it to leave', () => {
    const r = runScenario(scenario(example), { traceCapacity: 100_000 });
    expect(r.faults['mmio-retry']).toBe(1);
    expect(r.stats.srcu_waits).toBe(0); // vCPU 0 was in the guest when vCPU 1 synchronized
    expect(r.stats.sp_delayed_free).toBeGreaterThan(0);
    expect(r.trace.events.some((e) => e.name === 'kvm_mmu_delay_free_pages')).toBe(true);
    expect(r.warnings).toEqual([]); // in particular, no read of a freed shadow page
    expect(r.stats.mmio_writes).toBe(9); // and every access still completed
    // The order: publish; vCPU 0's exit (its read-side section begins after it); the level-3 read of
    // its walk; the zap; its next read (level 2), which finds the entry cleared.
    const ev = r.trace.events;
    const at = (f: (e: (typeof ev)[number]) => boolean) => ev.findIndex(f);
    const publish = at((e) => e.name === '__kvm_set_memory_region');
    const exit0 = at((e) => e.name === 'kvm_exit' && e.vcpu === 0);
    const level3 = at((e) => e.name === 'mmu_spte_get_lockless' && e.vcpu === 0 && e.fields.level === 3);
    const zap = at((e) => e.name === 'kvm_mmu_zap_all');
    const level2 = at((e) => e.name === 'mmu_spte_get_lockless' && e.vcpu === 0 && e.fields.level === 2);
    expect(publish).toBeGreaterThanOrEqual(0);
    expect([publish < exit0, exit0 < level3, level3 < zap, zap < level2]).toEqual([true, true, true, true]);
    expect(ev[level2]!.fields.spte).toBe('0x0');
  });

  it('without a walker inside, zapped pages are freed at once', () => {
    const r = run(vmVcpus('v3.1', [`      - { write: ${NIC}, size: 4, value: 1 }\n      - { write: ${NIC}, size: 4, value: 1 }`, `      - { memslot: add, slot: 3, gpa: 0x8000000, size: 1M }`]));
    expect(r.stats.mmu_shadow_zapped).toBeGreaterThan(0);
    expect(r.stats.sp_delayed_free).toBe(0);
  });

  it('the freeing side waits: the frames of zapped pages are not reused while the walker reads them', () => {
    // Zap after each level of the walk in turn; each run must complete without a freed-page read.
    // Once the walker has read the leaf it holds the MMIO SPTE: a zap after that is harmless and
    // the access is emulated (mmio-fast); a zap after an upper level leaves it zeroes: a retry.
    for (const level of [4, 3, 2, 1]) {
      const r = run(reachable(`point: mmu_spte_get_lockless, level: ${level}`));
      expect(r.warnings).toEqual([]);
      expect(r.stats.srcu_waits).toBe(0);
      expect(r.faults['mmio-retry']).toBe(level === 1 ? 0 : 1);
      expect(r.stats.sp_delayed_free).toBeGreaterThan(0);
      expect(r.stats.mmio_writes).toBe(5);
    }
  });
});

/** Watch kvm->srcu: every synchronize must return only after each read-side section in progress when
 *  it was called has ended (an independent record of sections, kept by wrapping the methods). */
function watchSrcu(m: Machine): { violations: string[]; syncs: number; waited: number } {
  const srcu = m.kvm.srcu;
  const out = { violations: [] as string[], syncs: 0, waited: 0 };
  const inside = new Map<number, number>();
  let awaited: [number, number][] = [];
  let syncer = -1;
  let sections = 0;
  const lock = srcu.readLock.bind(srcu);
  const unlock = srcu.readUnlock.bind(srcu);
  const start = srcu.syncStart.bind(srcu);
  const end = srcu.syncEnd.bind(srcu);
  srcu.readLock = (v: Vcpu) => {
    inside.set(v.id, ++sections);
    lock(v);
  };
  srcu.readUnlock = (v: Vcpu) => {
    inside.delete(v.id);
    unlock(v);
  };
  srcu.syncStart = (v: Vcpu) => {
    syncer = v.id;
    awaited = [...inside].filter(([id]) => id !== v.id);
    if (awaited.length > 0) out.waited++;
    return start(v);
  };
  srcu.syncEnd = () => {
    out.syncs++;
    for (const [id, section] of awaited) {
      if (inside.get(id) === section) out.violations.push(`vCPU ${syncer}'s synchronize returned while vCPU ${id} was still in section ${section}`);
    }
    awaited = [];
    return end();
  };
  return out;
}

describe('SRCU: no memslot update gets past synchronize_srcu_expedited while a vCPU is in its exit handler', () => {
  // The interleaving the kernel forbids: vCPU 1's whole update started while vCPU 0 stands inside
  // its handler (at each race point there). The synchronize sleeps, the slice ends, vCPU 0 finishes
  // its handler, and only then do the commit and the zap run.
  const forbidden = (point: string) => vmVcpus('v3.1', [`${pair}\n${pair}`, `      - { wait_for: { vcpu: 0, ${point} } }\n      - { memslot: add, slot: 3, gpa: 0x8000000, size: 1M }`]);
  const inside = [
    'point: walk_shadow_page_lockless_begin',
    'point: mmu_spte_get_lockless, level: 4',
    'point: mmu_spte_get_lockless, level: 3',
    'point: mmu_spte_get_lockless, level: 2',
    'point: mmu_spte_get_lockless, level: 1',
    'point: walk_shadow_page_lockless_end',
    'point: mmu_lock',
  ];
  for (const point of inside) {
    it(`an update started at ${point} sleeps until vCPU 0 has left its handler`, () => {
      const m = machine(forbidden(point), { traceCapacity: 100_000 });
      const w = watchSrcu(m);
      m.run();
      const r = runScenario(m.sc, { traceCapacity: 100_000 }); // the same run, for the report
      expect(w.violations).toEqual([]);
      expect(w.waited).toBe(1);
      expect(r.stats.srcu_waits).toBe(1);
      const ev = r.trace.events;
      const wait = ev.findIndex((e) => e.name === 'srcu_synchronize_wait');
      expect(ev[wait]).toMatchObject({ vcpu: 1, fields: { readers: 1, first: 0 } });
      // vCPU 0's handler ends (kvm_entry) after the wait began and before anything is zapped.
      const entry = ev.findIndex((e, i) => i > wait && e.name === 'kvm_entry' && e.vcpu === 0);
      const zap = ev.findIndex((e) => e.name === 'kvm_mmu_zap_all');
      expect(entry).toBeGreaterThan(wait);
      expect(zap).toBeGreaterThan(entry);
      expect(r.faults['mmio-retry']).toBe(0);
      expect(r.stats.sp_delayed_free).toBe(0);
      expect(r.stats.memslot_updates).toBe(1);
      expect(r.stats.mmio_writes).toBe(4);
      expect(r.warnings).toEqual([]);
    });
  }

  it('at kvm_exit vCPU 0 does not hold kvm->srcu yet: the update synchronizes at once, before the handler', () => {
    // vcpu_enter_guest: `preempt_enable(); vcpu->srcu_idx = srcu_read_lock(...)`: the point is the preempt_enable.
    const r = run(forbidden('point: kvm_exit'));
    expect(r.stats.srcu_waits).toBe(0);
    expect(r.stats.memslot_updates).toBe(1);
    expect(r.stats.mmio_writes).toBe(4);
    expect(r.warnings).toEqual([]);
  });

  it('a deletion synchronizes twice: its flush may run under a walker that began after the first, its final array waits for it', () => {
    // The deletion publishes the INVALID copy and synchronizes while vCPU 0 is in the guest; its
    // kvm_arch_flush_shadow then runs at vCPU 0's next walk (a section that began after that
    // synchronize), publishes the final array, and the second synchronize must wait for vCPU 0.
    const yaml = vmVcpus('v3.1', [
      `      - repeat: 6\n        steps:\n${pair.replace(/^ {6}/gm, '          ')}`,
      `      - { memslot: add, slot: 3, gpa: 0x8000000, size: 1M }\n      - { memslot: delete, slot: 3, resume_at: { vcpu: 0, point: walk_shadow_page_lockless_begin } }`,
    ]);
    const m = machine(yaml);
    const w = watchSrcu(m);
    m.run();
    expect(m.kvm.warnings).toEqual([]);
    expect(w.violations).toEqual([]);
    expect(w.syncs).toBe(3); // the creation's, the INVALID copy's and the final array's
    expect(w.waited).toBe(1); // the final array's
    expect(m.kvm.faultCounts[CLASS_MMIO_RETRY]).toBe(1); // the flush zapped under the walker
    // `new.base_gfn = base_gfn; new.npages = npages;` is stored for a deletion too: the entry keeps the gfn.
    expect(m.kvm.memslots.slots[3]).toMatchObject({ baseGfn: 0x8000, npages: 0 });
  });

  it('under seeded random preemption, over many seeds, no synchronize returns early and every run completes', () => {
    const yaml = (seed: number) =>
      vmVcpus('v3.1', [
        `      - repeat: 12\n        steps:\n          - { write: ${NIC}, size: 4, value: 1 }\n          - { write: ${EXTRA}, size: 4, value: 2 }`,
        `      - repeat: 12\n        steps:\n          - { write: ${EXTRA}, size: 4, value: 3 }\n          - { write: ${NIC}, size: 4, value: 4 }`,
        `      - repeat: 4\n        steps:\n          - { memslot: add, slot: 3, gpa: 0x8000000, size: 1M }\n          - { memslot: delete, slot: 3 }`,
      ]).replace('kernel: v3.1', `kernel: v3.1\nscheduler: { seed: ${seed}, preempt: 0.5 }`);
    let waited = 0;
    let retries = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const m = machine(yaml(seed), { traceCapacity: 0 });
      const w = watchSrcu(m);
      m.run();
      expect(w.violations, `seed ${seed}`).toEqual([]);
      expect(w.syncs, `seed ${seed}`).toBe(12); // 4 creations (1 each) and 4 deletions (2 each)
      expect(m.kvm.warnings, `seed ${seed}`).toEqual([]);
      expect(m.kvm.stats[S.srcu_waits], `seed ${seed}`).toBe(w.waited);
      expect([...m.done], `seed ${seed}`).toEqual([1, 1, 1]);
      waited += w.waited;
      retries += m.kvm.faultCounts[CLASS_MMIO_RETRY]!;
    }
    // The preemption did put updates on top of vCPUs inside their handlers, and zaps under walkers
    // whose sections began after the synchronize.
    expect(waited).toBeGreaterThan(0);
    expect(retries).toBeGreaterThan(0);
  });
});

describe('deterministic scheduling', () => {
  const yaml = vmVcpus('v3.1', [
    `      - repeat: 50\n        steps:\n          - { write: ${NIC}, size: 4, value: 1 }\n          - { write: ${EXTRA}, size: 4, value: 2 }`,
    `      - repeat: 5\n        steps:\n          - { memslot: add, slot: 3, gpa: 0x8000000, size: 1M }\n          - { memslot: delete, slot: 3 }`,
  ]).replace('kernel: v3.1', 'kernel: v3.1\nscheduler: { seed: 7, preempt: 0.3 }');

  it('the same seed gives the same run, event for event', () => {
    const a = run(yaml);
    const b = run(yaml);
    expect(a.trace).toEqual(b.trace);
    expect(a.faults).toEqual(b.faults);
  });

  it('random preemption interleaves the memslot updates with the walks, and nothing breaks', () => {
    const r = run(yaml);
    expect(r.stats.memslot_updates).toBe(10);
    expect(r.stats.mmio_writes).toBe(100);
    expect(r.warnings).toEqual([]);
    expect(r.trace.events.some((e) => e.name === 'vcpu_switch')).toBe(true);
  });
});
