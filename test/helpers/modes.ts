// The virtualized modes the transparency and permission tests compare with bare hardware, and the
// one documented exception in what a guest may observe.
import type { ScenarioOverrides } from '../../simulator/scenario/types';
import type { NativeAccess } from './native';

export const MODES: [string, ScenarioOverrides][] = [
  ['EPT v3.0', { kernel: 'v3.0', tdp: true }],
  ['EPT v3.1', { kernel: 'v3.1', tdp: true }],
  ['EPT v3.1, caching off', { kernel: 'v3.1', tdp: true, mmio_caching: false }],
  ['shadow v3.0, bypass_guest_pf', { kernel: 'v3.0', tdp: false, bypass_guest_pf: true }],
  ['shadow v3.0, no bypass', { kernel: 'v3.0', tdp: false, bypass_guest_pf: false }],
  ['shadow v3.1', { kernel: 'v3.1', tdp: false }],
  ['shadow v3.1, caching off', { kernel: 'v3.1', tdp: false, mmio_caching: false }],
  // oos_shadow = 0: every shadowed guest table stays write-protected (the default is 1: unsync pages).
  ['shadow v3.0, bypass_guest_pf, oos_shadow 0', { kernel: 'v3.0', tdp: false, bypass_guest_pf: true, oos_shadow: false }],
  ['shadow v3.1, oos_shadow 0', { kernel: 'v3.1', tdp: false, oos_shadow: false }],
];

/** The two kernels in each MMU mode with their default settings (the guest OS tests' four runs). */
export const KERNEL_MMU_MODES = [
  { kernel: 'v3.1', tdp: true },
  { kernel: 'v3.1', tdp: false },
  { kernel: 'v3.0', tdp: true },
  { kernel: 'v3.0', tdp: false },
] as const;

export type Seen = Pick<NativeAccess, 'op' | 'result' | 'error_code' | 'value'>;

/**
 * v3.0 with bypass_guest_pf: a fault on a not-present guest entry whose shadow page exists (a notrap
 * SPTE) is delivered by the CPU without an exit, and the CPU runs the guest with EFER.NX forced on
 * (update_transition_efer: "NX is emulated"), so an instruction-fetch fault carries the I/D bit even
 * when the guest's EFER.NX and CR4.SMEP are clear, where bare hardware leaves it out. When the entry
 * is still a trap SPTE the fault exits and KVM injects the right code, so for those faults either
 * value of I/D is accepted, nothing else.
 */
export function maskBypassLeak(a: Seen, o: ScenarioOverrides, cpu: { efer_nx: boolean; cr4_smep: boolean }): Seen {
  if (!(o.tdp === false && o.bypass_guest_pf && a.op === 'fetch' && a.result === 'guest-fault' && !cpu.efer_nx && !cpu.cr4_smep)) return a;
  const ec = parseInt(a.error_code!, 16);
  return (ec & 1) === 0 ? { ...a, error_code: '0x' + (ec & ~0x10).toString(16) } : a;
}
