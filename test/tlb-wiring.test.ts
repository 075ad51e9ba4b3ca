// The hardware TLB wired into the CPU model (issue 15 item 1, second part): the enable_vpid setting
// and the VPIDs it gives (docs/kernel-paths.md §19.1). vmx.c, 3.0.1:53 and 3.1.10:52:
//   static int __read_mostly enable_vpid = 1;
//   module_param_named(vpid, enable_vpid, bool, 0444);
// allocate_vpid hands out 1, 2, ... (bit 0 reserved for the host), or 0 with enable_vpid off.
import { describe, it, expect } from 'vitest';
import { machine, run, scenario, vmVcpus } from './helpers/scenario';
import { formatRunText as formatText } from '../simulator/report/text';

const step = '      - { read: 0x100000, size: 4 }';
const withMmu = (mmu: string) => vmVcpus('v3.1', [step, step, step]).replace('\nmemslots:', `\nmmu: ${mmu}\nmemslots:`);

describe('enable_vpid', () => {
  it('defaults to on, as both kernels ship it, and gives the vCPUs VPIDs 1, 2, 3 in creation order', () => {
    const sc = scenario(vmVcpus('v3.1', [step, step, step]));
    expect(sc.mmu.enable_vpid).toBe(true);
    expect(machine(vmVcpus('v3.1', [step, step, step])).kvm.vcpus.map((v) => v.vpid)).toEqual([1, 2, 3]);
  });

  it('off: every vCPU runs with VPID 0, and the report says so', () => {
    const yaml = withMmu('{ enable_vpid: false }');
    expect(scenario(yaml).mmu.enable_vpid).toBe(false);
    expect(machine(yaml).kvm.vcpus.map((v) => v.vpid)).toEqual([0, 0, 0]);
    const r = run(yaml);
    expect(r.enable_vpid).toBe(false);
    expect(formatText(r)).toContain('· vpid off\n');
    expect(formatText(run(withMmu('{ enable_vpid: true }')))).toContain('· vpid on\n');
  });

  it('a compare: variant can turn it off', () => {
    const yaml = `${withMmu('{ tdp: true }')}compare:\n  - { label: novpid, mmu: { enable_vpid: false } }\n`;
    expect(scenario(yaml).compare[0]!.overrides.enable_vpid).toBe(false);
  });
});

/** One 4K user page at 0x400000 (gpa 0x200000), the direct map in 2M pages, a userspace device. */
function tlbVm(mmu: string, workload: string, cpu = '{ cr0_wp: true, efer_nx: true }'): string {
  return `
kernel: v3.1
mmu: ${mmu}
memslots:
  - { slot: 0, gpa: 0x0, size: 16M }
devices:
  - { name: nic, gpa: 0xfebf0000, size: 4K, handler: userspace }
guest:
  cpu: ${cpu}
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x0, size: 16M, page: 2M, flags: "p w a d nx" }
    - { gva: 0x400000, gpa: 0x200000, size: 4K, flags: "p w a" }
    - { gva: 0xffffc90000000000, gpa: 0xfebf0000, size: 4K, flags: "p w a d pcd nx" }
workload:
${workload}
`;
}

const values = (yaml: string) => run(yaml, { accesses: true }).accesses!.filter((a) => a.gva === '0x400000').map((a) => a.value);
const MODES = [['EPT', '{ tdp: true }'], ['shadow paging', '{ tdp: false }']] as const;

/** Run to the end and hand back the machine (its vCPUs' TLBs). */
function ran(yaml: string) {
  const m = machine(yaml);
  m.run();
  return m;
}

describe('the CPU looks up and fills the vCPU\'s TLB', () => {
  for (const [mode, mmu] of MODES) {
    it(`${mode}: the first access walks and fills, the second hits`, () => {
      const m = ran(tlbVm(mmu, '  - { read: 0x400000, size: 8 }\n  - { read: 0x400008, size: 8 }'));
      const tlb = m.kvm.vcpus[0]!.tlb;
      const ram = tlb.l1Hits; // the direct-map and code accesses of setup are not in the workload
      expect(ram).toBeGreaterThanOrEqual(1);
      expect(tlb.misses).toBeGreaterThanOrEqual(1);
      expect(tlb.occupancy()).toBeGreaterThan(0);
    });

    it(`${mode}: a write through an entry cached without D misses and walks, and the walk sets D`, () => {
      const m = ran(tlbVm(mmu, '  - { read: 0x400000, size: 8 }\n  - { write: 0x400000, size: 8, value: 5 }\n  - { write: 0x400000, size: 8, value: 6 }'));
      const tlb = m.kvm.vcpus[0]!.tlb;
      // Shadow paging: KVM maps a clean guest page read-only for a read (set_spte), so the entry lacks
      // W as well; the walk for the write faults, KVM makes the SPTE writable, and the retry misses again.
      expect(tlb.permMisses).toBe(mode === 'EPT' ? 1 : 2);
    });

    it(`${mode}: a translation that faults is not cached`, () => {
      const m = ran(tlbVm(mmu, '  - { read: 0x800000, size: 8 }'));
      expect(m.kvm.vcpus[0]!.tlb.occupancy()).toBe(0);
    });
  }

  it('EPT: a changed guest PTE is not seen until INVLPG (the TLB keeps the old translation)', () => {
    const steps = [
      '  - { write: 0xffff880000200000, size: 8, value: 1 }',
      '  - { write: 0xffff880000300000, size: 8, value: 2 }',
      '  - { read: 0x400000, size: 8 }',
      '  - { pte: 0x400000, flags: "p w a", gpa: 0x300000 }',
      '  - { read: 0x400000, size: 8 }',
      '  - { invlpg: 0x400000 }',
      '  - { read: 0x400000, size: 8 }',
    ].join('\n');
    expect(values(tlbVm('{ tdp: true }', steps))).toEqual(['0x1', '0x1', '0x2']);
    // MOV CR3 flushes the VPID too.
    expect(values(tlbVm('{ tdp: true }', steps.replace('invlpg: 0x400000', 'cr3: 0')))).toEqual(['0x1', '0x1', '0x2']);
  });
});

describe('flushes at the kernel\'s points (docs/kernel-paths.md §19)', () => {
  it('kvm_flush_remote_tlbs requests a flush on every vCPU, the caller\'s included (§19.6)', () => {
    const m = machine(vmVcpus('v3.1', [step, step, step]));
    const [a, b, c] = m.kvm.vcpus;
    m.kvm.flushRemoteTlbs(b!);
    expect([a, b, c].map((v) => v!.tlbFlushRequested)).toEqual([true, true, true]);
  });

  it('kvm_mmu_flush_tlb requests a flush on its vCPU only and counts tlb_flush', () => {
    const m = machine(vmVcpus('v3.1', [step, step]));
    const [a, b] = m.kvm.vcpus;
    m.kvm.mmuFlushTlb(a!);
    expect([a!.tlbFlushRequested, b!.tlbFlushRequested]).toEqual([true, false]);
  });

  it('shadow paging: a guest INVLPG exits, and KVM\'s request empties the VPID at the next entry', () => {
    const m = ran(tlbVm('{ tdp: false }', '  - { read: 0x400000, size: 8 }\n  - { invlpg: 0x400000 }'));
    const v = m.kvm.vcpus[0]!;
    // The request was served (nothing left pending) before the access that follows the exit: none
    // here, so it is still pending; a read after it finds the TLB empty of the page.
    expect(v.tlbFlushRequested).toBe(true);
    const m2 = ran(tlbVm('{ tdp: false }', '  - { read: 0x400000, size: 8 }\n  - { invlpg: 0x400000 }\n  - { read: 0x400000, size: 8 }'));
    expect(m2.kvm.vcpus[0]!.tlbFlushRequested).toBe(false);
    expect(m2.kvm.vcpus[0]!.tlb.flushes).toBeGreaterThan(m.kvm.vcpus[0]!.tlb.flushes);
  });

  it('VPID 0: every exit and entry empties the TLB, so a RAM access after an MMIO exit walks again (§19.2)', () => {
    const steps = '  - { read: 0x400000, size: 8 }\n  - { write: 0xffffc90000000000, size: 4, value: 1 }\n  - { read: 0x400000, size: 8 }';
    const on = ran(tlbVm('{ tdp: true }', steps)).kvm.vcpus[0]!.tlb;
    const off = ran(tlbVm('{ tdp: true, enable_vpid: false }', steps)).kvm.vcpus[0]!.tlb;
    expect(off.misses - on.misses).toBeGreaterThanOrEqual(1);
    expect(off.l1Hits).toBeLessThan(on.l1Hits);
  });
});

describe('charges and counters: a hit costs the access, a miss adds its walk', () => {
  const steps = ['  - { read: 0x400000, size: 8 }', '  - { invlpg: 0x400000 }', '  - { read: 0x400000, size: 8 }', '  - { read: 0x400000, size: 8 }'].join('\n');
  it('EPT: the miss after INVLPG is the access plus a 24-reference 2D walk; the hit after it is the access alone', () => {
    for (const [profile, ram, ref] of [['westmere-2011', 5, 10], ['modern', 5, 14]] as const) {
      const r = run(tlbVm('{ tdp: true }', steps).replace('\nmemslots:', `\nhost: { profile: ${profile} }\nmemslots:`));
      const cycles = r.lines.map((l) => l.cycles);
      // 4 guest entries, each found through a 4-level EPT walk (4 x 5 = 20), then the data's EPT walk (4).
      expect(cycles.slice(1)).toEqual([0, ram + 24 * ref, ram]); // INVLPG (no exit), the miss, the hit
      expect(r.stats.tlb_hits).toBe(1);
    }
  });

  it('every CPU access is a hit or a miss, and both are in the report\'s counters', () => {
    for (const [, mmu] of MODES) {
      const r = run(tlbVm(mmu, steps));
      expect(r.stats.tlb_hits! + r.stats.tlb_misses!).toBe(r.stats.hw_walks);
      expect(r.stats.tlb_hits).toBeGreaterThanOrEqual(1);
      expect(formatText(r)).toMatch(/tlb_hits +\d+\n/);
    }
  });
});

describe('address-space switches are never served stale translations', () => {
  // 0x400000 maps to 0x200000 (holding 1) in space 0 and to 0x300000 (holding 2) in space 1.
  const yaml = (mmu: string) =>
    tlbVm(
      mmu,
      [
        '  - { write: 0xffff880000200000, size: 8, value: 1 }',
        '  - { write: 0xffff880000300000, size: 8, value: 2 }',
        '  - { read: 0x400000, size: 8 }',
        '  - { cr3: 1 }',
        '  - { read: 0x400000, size: 8 }',
        '  - { cr3: 0 }',
        '  - { read: 0x400000, size: 8 }',
      ].join('\n'),
    )
      .replace('{ gva: 0x400000, gpa: 0x200000, size: 4K, flags: "p w a" }', '{ gva: 0x400000, gpa: 0x200000, size: 4K, flags: "p w a", space: 0 }\n    - { gva: 0x400000, gpa: 0x300000, size: 4K, flags: "p w a", space: 1 }');
  for (const [mode, mmu] of MODES) {
    it(`${mode}: MOV CR3 (under EPT the CPU's own flush; under shadow paging KVM's root load, vmx_set_cr3, §19.7)`, () => {
      expect(values(yaml(mmu))).toEqual(['0x1', '0x2', '0x1']);
      expect(values(yaml(mmu.replace(' }', ', enable_vpid: false }')))).toEqual(['0x1', '0x2', '0x1']);
    });
  }
});

describe('KVM\'s write protection reaches the TLB (kvm_flush_remote_tlbs after rmap_write_protect)', () => {
  it('shadow paging: a guest table written through a cached writable alias traps once KVM shadows it', () => {
    const steps = [
      '  - { pte: 0x400000, flags: "p w a", gpa: 0x200000 }', // the alias is cached writable: the table is not shadowed yet
      '  - { read: 0x400000, size: 8 }', // KVM shadows the table: write-protects it, flushes every vCPU's TLB
      '  - { pte: 0x400000, flags: "p w a", gpa: 0x300000 }', // must fault: emulated (oos_shadow = 0)
    ].join('\n');
    const r = run(tlbVm('{ tdp: false, oos_shadow: false }', steps));
    const pteLine = r.lines[2]!;
    expect(pteLine.faults['wp-emulate']).toBe(1);
    expect(r.lines[0]!.faults['wp-emulate'] ?? 0).toBe(0);
  });
});
