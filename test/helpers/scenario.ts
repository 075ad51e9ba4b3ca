// Build and run scenarios from YAML text in tests.
import { parseScenario } from '../../simulator/scenario/parse';
import { runScenario } from '../../simulator/run/run';
import { Machine, type RunOptions } from '../../simulator/run/machine';
import type { Scenario } from '../../simulator/scenario/types';
import type { RunResult } from '../../simulator/run/result';

export function scenario(yaml: string, file = 'test.mmio.yaml'): Scenario {
  const r = parseScenario(yaml, file);
  if ('diagnostics' in r) throw new Error(r.diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`).join('\n'));
  return r.scenario;
}

export function run(yaml: string, opts: RunOptions = {}): RunResult {
  return runScenario(scenario(yaml), opts);
}

export function machine(yaml: string, opts: RunOptions = {}): Machine {
  return new Machine(scenario(yaml), opts);
}

/** A VM with 64M of RAM at 0, a userspace device and a kernel device, both mapped. */
export function vm(kernel: 'v3.0' | 'v3.1', workload: string): string {
  return `${BASE(kernel)}
workload:
${workload}
`;
}

/** The same VM with one workload per vCPU (each a list of steps indented by 6 spaces). */
export function vmVcpus(kernel: 'v3.0' | 'v3.1', workloads: string[]): string {
  return `${BASE(kernel)}
vcpus:
${workloads.map((w) => `  - workload:\n${w}`).join('\n')}
`;
}

const BASE = (kernel: string): string => `
kernel: ${kernel}
memslots:
  - { slot: 0, gpa: 0x0, size: 64M }
devices:
  - { name: nic, gpa: 0xfebf0000, size: 4K, handler: userspace, registers: { 0x8: 0x1234 } }
  - { name: lapic, gpa: 0xfee00000, size: 4K, handler: kernel, registers: { 0x30: 0x50014 } }
  - { name: extra, gpa: 0xfebf1000, size: 4K, handler: kernel }
guest:
  cpu: { cr0_wp: true, efer_nx: true }
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x0, size: 64M, page: 2M, flags: "p w a d nx" }
    - { gva: 0xffffc90000000000, gpa: 0xfebf0000, size: 8K, flags: "p w a d pcd nx" }
    - { gva: 0xffffffffff5fb000, gpa: 0xfee00000, size: 4K, flags: "p w a d pcd nx" }`;

export const NIC = '0xffffc90000000000';
export const EXTRA = '0xffffc90000001000';
export const APIC = '0xffffffffff5fb000';
export const RAM = '0xffff880000100000';

/**
 * A guest for the guest OS steps: 64M of RAM, the kernel's direct map in 2M pages, a page pool at 32M
 * of `pool` bytes and a 16K vma at 0x400000 in each of spaces 1..`processes`. `head`: lines before
 * `memslots:` (kernel, mmu); `cpu`: the guest.cpu mapping's text; `steps`: workload lines.
 */
export function osVm(o: { head?: string; cpu: string; nx?: boolean; pool: string; processes: number; steps: string[]; vmas?: string[] }): string {
  const vmas = [...Array.from({ length: o.processes }, (_, i) => `      - { gva: 0x400000, size: 16K, space: ${i + 1} }`), ...(o.vmas ?? []).map((v) => `      - ${v}`)];
  return `${o.head ?? ''}memslots:
  - { slot: 0, gpa: 0x0, size: 64M }
guest:
  cpu: ${o.cpu}
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x0, size: 64M, page: 2M, flags: "p w a d${o.nx ? ' nx' : ''}" }
  os:
    page_pool: { gpa: 0x2000000, size: ${o.pool} }
    vmas:
${vmas.join('\n')}
workload:
${o.steps.join('\n')}
`;
}
