// Hand-built flame graphs in RunResult.flame's shape (simulator/run/result.ts), with numbers chosen
// so that every width, share and change below can be worked out by hand.

import type { FlameGraph, RunResult } from '../../simulator/run/result';
import type { CompareResult, VariantResult } from '../../simulator/run/compare';
import type { PanelRun } from '../../shared/protocol';

const node = (fn: number, parent: number, self: number, total: number) => ({ fn, parent, self, total });

/** The first run: 1,000 cycles, 400 in the guest and 600 under vmx_handle_exit. */
export const FLAME_A: FlameGraph = {
  functions: ['guest', 'vmx_handle_exit', 'handle_ept_misconfig', 'handle_mmio_page_fault_common', 'x86_emulate_instruction', 'handle_ept_violation', 'kvm_mmu_page_fault', 'tdp_page_fault'],
  nodes: [
    node(-1, -1, 0, 1000),
    node(0, 0, 400, 400), // guest
    node(1, 0, 50, 600), // vmx_handle_exit
    node(2, 2, 100, 450), // handle_ept_misconfig
    node(3, 3, 150, 150), // handle_mmio_page_fault_common
    node(4, 3, 200, 200), // x86_emulate_instruction
    node(5, 2, 20, 100), // handle_ept_violation
    node(6, 6, 30, 80), // kvm_mmu_page_fault
    node(7, 7, 50, 50), // tdp_page_fault
  ],
};

/** The second run, its function table in another order: 900 cycles. Against FLAME_A: guest the
 *  same, handle_mmio_page_fault_common 150 -> 60 (fell), x86_emulate_instruction 200 -> 230 (rose),
 *  vcpu_mmio_gva_to_gpa new (60), tdp_page_fault gone (50 before), kvm_mmu_page_fault 80 -> 20. */
export const FLAME_B: FlameGraph = {
  functions: ['vmx_handle_exit', 'guest', 'handle_ept_misconfig', 'x86_emulate_instruction', 'handle_mmio_page_fault_common', 'vcpu_mmio_gva_to_gpa', 'handle_ept_violation', 'kvm_mmu_page_fault'],
  nodes: [
    node(-1, -1, 0, 900),
    node(1, 0, 400, 400), // guest
    node(0, 0, 50, 500), // vmx_handle_exit
    node(2, 2, 70, 420), // handle_ept_misconfig
    node(4, 3, 60, 60), // handle_mmio_page_fault_common
    node(3, 3, 230, 230), // x86_emulate_instruction
    node(5, 3, 60, 60), // vcpu_mmio_gva_to_gpa
    node(6, 2, 10, 30), // handle_ept_violation
    node(7, 7, 20, 20), // kvm_mmu_page_fault
  ],
};

/** One fault class: 300 cycles, 200 of them in handle_mmio_page_fault_common. */
export const FLAME_CLASS: FlameGraph = {
  functions: ['vmx_handle_exit', 'handle_ept_misconfig', 'handle_mmio_page_fault_common'],
  nodes: [node(-1, -1, 0, 300), node(0, 0, 0, 300), node(1, 1, 100, 300), node(2, 2, 200, 200)],
};

/** One workload line: 400 cycles, all in the guest. */
export const FLAME_LINE: FlameGraph = { functions: ['guest'], nodes: [node(-1, -1, 0, 400), node(0, 0, 400, 400)] };

export function flameOf(all: FlameGraph): NonNullable<RunResult['flame']> {
  return { all, by_class: { 'mmio-cache': FLAME_CLASS }, by_line: { '24': FLAME_LINE } };
}

/** `base` (a real run) with FLAME_A as its flame graph, and two compare variants (FLAME_A under v3.0, FLAME_B under v3.1). */
export function flamePanelRun(base: PanelRun, withCompare: boolean): PanelRun {
  const report = (kernel: 'v3.0' | 'v3.1', all: FlameGraph): RunResult => ({ ...base.result, kernel, flame: flameOf(all), trace: { total: 0, dropped: 0, events: [] } });
  const variant = (label: string, kernel: 'v3.0' | 'v3.1', all: FlameGraph, metric: number, change_pct: number): VariantResult => ({
    label,
    notes: [],
    settings: { kernel, tdp: true, mmio_caching: true, bypass_guest_pf: false, oos_shadow: true, enable_vpid: true, profile: 'westmere-2011', maxphyaddr: 36, memslots: 1 },
    metric,
    change_pct,
    report: report(kernel, all),
  });
  const compare: CompareResult = {
    file: base.file,
    name: base.result.name,
    metric: { kind: 'elapsed', label: null, unit: 's', higher_is_better: false },
    variants: [variant('v3.0 <b>before</b>', 'v3.0', FLAME_A, 1e-6, 0), variant('v3.1 after', 'v3.1', FLAME_B, 0.9e-6, -10)],
  };
  return { ...base, result: { ...base.result, flame: flameOf(FLAME_A) }, compare: withCompare ? compare : null };
}
