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
