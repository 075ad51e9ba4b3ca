// Whether the memslot array is in the vCPU's cache. The 3.0/3.1 search (__gfn_to_memslot) is a linear
// scan from entry 0, so a scan that compares k slots touches the first k entries. An entry touched
// since the host last ran something else on that CPU costs memslot_compare; any other costs
// memslot_compare_cold. The rule (docs/decisions.md, "Cold memslot scans"):
//   * the array becomes cold for a vCPU when it returns to the VMM (KVM_EXIT_MMIO: QEMU and the host
//     kernel's ioctl return and re-entry run on its CPU), and after a guest compute step of at least
//     COLD_AFTER_COMPUTE cycles (the guest's own working set has replaced the core's caches);
//   * a memslot update publishes a new array (3.0.1/3.1.10 __kvm_set_memory_region: kzalloc +
//     memcpy, then rcu_assign_pointer), which no vCPU has scanned: cold for all;
//   * the array a vCPU scans first in a run is warm (runs start in steady state, as before).
// Deterministic: only the vCPU's own steps and the array's generation decide it.

import type { Vcpu } from './vcpu';

/** Guest compute, in cycles, after which the memslot array is cold. ASSUMPTION (docs/decisions.md):
 *  about the time a Nehalem core takes to replace its 256 KB L2 (4,096 lines) at one new line per
 *  ~25 cycles of work. */
export const COLD_AFTER_COMPUTE = 100000;

/** The host ran something else on this vCPU's CPU: every entry is cold again. */
export function coolMemslots(vcpu: Vcpu): void {
  vcpu.memslotsWarm = 0;
}

/** A guest compute step of `cycles`: long enough, and the array is cold. */
export function noteGuestCompute(vcpu: Vcpu, cycles: number): void {
  if (cycles >= COLD_AFTER_COMPUTE) vcpu.memslotsWarm = 0;
}

/** A scan of the array of `generation` compared its first `compares` entries: how many of them were
 *  cold. Those are warm afterwards. */
export function coldCompares(vcpu: Vcpu, generation: number, compares: number): number {
  if (vcpu.memslotsGen !== generation) {
    // First scan in the run: warm (steady state). A newer array than the one it scanned: cold.
    vcpu.memslotsWarm = vcpu.memslotsGen === -1 ? Number.MAX_SAFE_INTEGER : 0;
    vcpu.memslotsGen = generation;
  }
  const warm = vcpu.memslotsWarm;
  if (compares <= warm) return 0;
  vcpu.memslotsWarm = compares;
  return compares - warm;
}
