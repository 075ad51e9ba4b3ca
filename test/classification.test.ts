// Each fault class on a minimal scenario, with the era's return code.
import { describe, it, expect } from 'vitest';
import { run, vm, vmVcpus, machine, NIC, EXTRA, RAM } from './helpers/scenario';
import { PFERR_WRITE_MASK } from '../simulator/arch/x86/paging';

describe('fault classes', () => {
  it('map: a RAM page first touched', () => {
    const r = run(vm('v3.1', `  - { write: ${RAM}, size: 8, value: 5 }\n  - { read: ${RAM}, size: 8 }`));
    expect(r.faults.map).toBe(1);
    expect(r.exits.EPT_VIOLATION).toBe(1);
    expect(r.fault_classes.find((c) => c.class === 'map')!.ret).toMatchObject({ fn: 'tdp_page_fault', value: 0 });
  });

  it('mmio-slow: v3.0 returns kvm_handle_bad_page() = 1; v3.1 installs an MMIO SPTE and returns 1', () => {
    const a = run(vm('v3.0', `  - { write: ${NIC}, size: 4, value: 1 }`));
    const b = run(vm('v3.1', `  - { write: ${NIC}, size: 4, value: 1 }`));
    expect(a.faults['mmio-slow']).toBe(1);
    expect(b.faults['mmio-slow']).toBe(1);
    expect(a.fault_classes.find((c) => c.class === 'mmio-slow')!.ret).toMatchObject({ fn: 'kvm_handle_bad_page', value: 1 });
    expect(b.fault_classes.find((c) => c.class === 'mmio-slow')!.ret).toMatchObject({ fn: 'tdp_page_fault', value: 1 });
    expect(b.trace.events.some((e) => e.name === 'mark_mmio_spte' && e.fields.gfn === '0xfebf0')).toBe(true);
  });

  it('mmio-cache and mmio-fast return 1 from handle_mmio_page_fault_common; only the walk traces handle_mmio_page_fault', () => {
    const r = run(vm('v3.1', `  - repeat: 2\n    steps:\n      - { write: ${NIC}, size: 4, value: 1 }\n      - { write: ${EXTRA}, size: 4, value: 1 }\n  - { write: ${EXTRA}, size: 4, value: 1 }`));
    expect(r.faults['mmio-fast']).toBe(2);
    expect(r.faults['mmio-cache']).toBe(1);
    expect(r.trace.events.filter((e) => e.name === 'handle_mmio_page_fault')).toHaveLength(2);
    for (const c of ['mmio-fast', 'mmio-cache']) expect(r.fault_classes.find((x) => x.class === c)!.ret).toMatchObject({ fn: 'handle_mmio_page_fault_common', value: 1 });
  });

  it('mmio-retry: the lockless walk finds the SPTE zapped (vCPU 1 creates a memslot meanwhile)', () => {
    // vCPU 1 publishes the slot and synchronizes after vCPU 0's first access (turns alternate), while
    // vCPU 0 is in the guest; the commit and the flush that zaps wait for vCPU 0's next lockless walk.
    const pair = `      - { write: ${NIC}, size: 4, value: 1 }\n      - { write: ${EXTRA}, size: 4, value: 1 }`;
    const r = run(
      vmVcpus('v3.1', [
        `${pair}\n${pair}`,
        `      - { memslot: add, slot: 3, gpa: 0x8000000, size: 1M, resume_at: { vcpu: 0, point: walk_shadow_page_lockless_begin } }`,
      ]),
    );
    expect(r.faults['mmio-retry']).toBe(1);
    expect(r.fault_classes.find((c) => c.class === 'mmio-retry')!.ret).toMatchObject({ value: 0 });
    expect(r.stats.mmio_writes).toBe(4); // the retried access still completes
    expect(r.warnings).toEqual([]);
  });

  it('mmio-bug: an EPT entry that is misconfigured but not an MMIO SPTE is a real misconfiguration', () => {
    const m = machine(vm('v3.1', `  - { write: ${NIC}, size: 4, value: 1 }\n  - { write: ${NIC}, size: 4, value: 2 }`));
    m.step(0); // installs the MMIO SPTE
    // Replace the leaf with a write-only entry (RWX = 010b): misconfigured, yet not the MMIO pattern.
    const kvm = m.kvm;
    kvm.vcpus[0]!.mmioGfn = 0; // miss the per-vCPU cache, which is consulted before the SPTE
    const w = findLeafWord(m, 0xfebf0);
    kvm.host.words[w] = 0xfebf0002;
    kvm.host.words[w + 1] = 0;
    m.step(0);
    expect(kvm.faultCounts[6]).toBe(1); // CLASS_MMIO_BUG
    expect(kvm.vcpus[0]!.halted).toBe(true);
    expect(kvm.warnings.some((x) => x.includes('KVM_EXIT_UNKNOWN'))).toBe(true);
  });

  it('guest-pf-direct: an unmapped GVA faults in the guest without an exit under EPT', () => {
    const r = run(vm('v3.1', `  - { write: 0xffff888000000000, size: 4, value: 1 }`), { accesses: true });
    expect(r.faults['guest-pf-direct']).toBe(1);
    expect(r.stats.exits).toBe(0);
    expect(r.accesses![0]).toMatchObject({ result: 'guest-fault', error_code: '0x' + PFERR_WRITE_MASK.toString(16) });
  });

  it('spurious: vCPU 1 maps the page between vCPU 0\'s exit and its handler', () => {
    const r = run(vmVcpus('v3.1', [`      - { read: ${RAM}, size: 8 }`, `      - { wait_for: { vcpu: 0, point: kvm_exit } }\n      - { read: ${RAM}, size: 8 }`]));
    expect(r.faults.map).toBe(1);
    expect(r.faults.spurious).toBe(1);
    expect(r.exits.EPT_VIOLATION).toBe(2);
  });

  it('every exit gets exactly one class', () => {
    const r = run(vm('v3.1', `  - repeat: 20\n    steps:\n      - { write: ${NIC}, size: 4, value: 1 }\n      - { read: ${RAM}, size: 8 }\n      - { write: ${EXTRA}, size: 4, value: 1 }`));
    const classified = Object.entries(r.faults).filter(([c]) => c !== 'guest-pf-direct').reduce((s, [, n]) => s + n, 0);
    expect(classified).toBe(r.stats.exits);
  });
});

/** Host-memory word index of the EPT leaf for `gfn` under vCPU 0's root. */
function findLeafWord(m: ReturnType<typeof machine>, gfn: number): number {
  const kvm = m.kvm;
  let table = kvm.sp.pfn[kvm.vcpus[0]!.root]!;
  for (let level = 4; level > 1; level--) {
    const idx = level === 4 ? Math.floor(gfn / 2 ** 27) & 511 : (gfn >>> (9 * (level - 1))) & 511;
    const w = kvm.host.entryWord(table, idx);
    table = (kvm.host.words[w + 1]! & 0xfffff) * 0x100000 + (kvm.host.words[w]! >>> 12);
  }
  return kvm.host.entryWord(table, gfn & 511);
}
