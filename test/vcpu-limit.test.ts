// vCPU counts above the kernel's KVM_MAX_VCPUS are refused with the kernel's number, read from the trees.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseScenario } from '../simulator/scenario/parse';
import { eraOf } from '../simulator/kvm/eras';
import { RAM, vmVcpus } from './helpers/scenario';

const TREES = { 'v3.0': '/work/ksrc/v3.0.1', 'v3.1': '/work/ksrc/v3.1' } as const;
const step = `      - { read: ${RAM}, size: 8 }`;

describe('KVM_MAX_VCPUS', () => {
  it('is 64 in both trees: arch/x86/include/asm/kvm_host.h line 29', () => {
    for (const k of ['v3.0', 'v3.1'] as const) {
      const line = readFileSync(`${TREES[k]}/arch/x86/include/asm/kvm_host.h`, 'utf8').split('\n')[28]!;
      expect(line.trim()).toBe('#define KVM_MAX_VCPUS 64');
      expect(eraOf(k).maxVcpus.line).toEqual({ file: 'arch/x86/include/asm/kvm_host.h', line: 29, text: line.trim() });
      expect(eraOf(k).maxVcpus.count).toBe(64);
    }
  });

  for (const k of ['v3.0', 'v3.1'] as const) {
    it(`${k}: 64 vCPUs parse, 65 are refused at the 65th with the kernel's number`, () => {
      expect('scenario' in parseScenario(vmVcpus(k, Array(64).fill(step)), 'ok.mmio.yaml')).toBe(true);
      const yaml = vmVcpus(k, Array(65).fill(step));
      const r = parseScenario(yaml, 'many.mmio.yaml');
      const ds = 'diagnostics' in r ? r.diagnostics : [];
      expect(ds).toHaveLength(1);
      const line = yaml.split('\n').findIndex((l, i, all) => l === '  - workload:' && all.slice(0, i).filter((x) => x === '  - workload:').length === 64) + 1;
      expect(ds[0]).toMatchObject({ line, col: 5 });
      const release = k === 'v3.0' ? '3.0.1' : '3.1.10';
      expect(ds[0]!.message).toBe(`vcpus[64]: 65 vCPUs: KVM_MAX_VCPUS is 64 in ${release} (arch/x86/include/asm/kvm_host.h:29)`);
    });
  }
});
