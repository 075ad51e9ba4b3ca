// Compare Kernels: the scenario under every modelled kernel (simulator/kvm/eras.ts) and MMU mode,
// each run as that kernel would run it. A setting the kernel does not have is dropped, a guest CR4
// bit its kvm_set_cr4 refuses is off (the guest runs without it), and each such change is a note
// shown next to the variant. Every variant is then checked by the rules of a `compare:` variant.

import { CR4_BIT_NAMES, ERAS, GUEST_CR4_BITS, MODULE_PARAMS, cite, eraOf, type KernelEra } from '../kvm/eras';
import { variantProblems } from '../scenario/compare';
import { firstLocklessWait, noLocklessWalk } from './unreachable_waits';
import type { Kernel, Scenario, ScenarioOverrides, VariantDecl } from '../scenario/types';

export interface Variant {
  label: string;
  overrides: ScenarioOverrides;
  /** What was changed to run the scenario on this kernel, and why (plain text). */
  notes: string[];
}

/** A variant the rules refuse: a bug in the adjustments (nothing is accepted silently). */
export class VariantError extends Error {}

/** "EPT" or "shadow", as labels and the Compare view name the MMU mode. */
export function modeName(tdp: boolean): string {
  return tdp ? 'EPT' : 'shadow';
}

/** One variant per kernel x MMU mode (kernels outer), labelled e.g. "v3.0 EPT", "v3.1 shadow". */
export function kernelVariants(sc: Scenario, kernels: readonly Kernel[], tdpModes: readonly boolean[]): Variant[] {
  const out: Variant[] = [];
  for (const k of kernels) for (const tdp of tdpModes) out.push(kernelVariant(sc, eraOf(k), tdp));
  return out;
}

function kernelVariant(sc: Scenario, era: KernelEra, tdp: boolean): Variant {
  const label = `${era.name} ${modeName(tdp)}`;
  const overrides: ScenarioOverrides = { kernel: era.name, tdp };
  const notes: string[] = [];
  for (const p of MODULE_PARAMS) {
    const value = sc.mmu[p];
    if (value === null || era.params[p]) continue;
    // The kernel has no such module parameter: the scenario's value is dropped.
    const had = (ERAS as readonly KernelEra[]).find((e) => e.params[p]);
    const where = had ? ` (${cite(had, had.params[p]!)} \`${had.params[p]!.text}\`)` : '';
    const why = era.gone[p] ? `: ${era.gone[p]}` : '';
    notes.push(`mmu.${p}: ${value} dropped: ${era.name} (${era.release}) has no ${p}${where}${why}`);
    if (p === 'bypass_guest_pf') overrides.bypass_guest_pf = false;
    else overrides[p] = true; // the kernels' default
  }
  // v3.0 with EPT: vmx_init zeroes the parameter (`if (enable_ept) { bypass_guest_pf = 0;`).
  const off = era.bypassOffWithEpt;
  if (era.params.bypass_guest_pf && off && tdp && sc.mmu.bypass_guest_pf === true) {
    notes.push(`mmu.bypass_guest_pf: true off: with EPT, ${era.release} vmx_init zeroes it (${cite(era, off)}: \`if (enable_ept) { ${off.text}\`)`);
    overrides.bypass_guest_pf = false;
  }
  // No MMIO SPTEs before the 2011 series: nothing to cache, whatever the switch says.
  if (!era.mmioSpte && sc.mmu.mmio_caching) {
    const had = (ERAS as readonly KernelEra[]).find((e) => e.mmioSpte);
    const where = had ? ` (${cite(had, had.mmioSpte!)} \`${had.mmioSpte!.text}\` has no counterpart in ${era.release})` : '';
    notes.push(`mmu.mmio_caching: true off: ${era.name} (${era.release}) has no MMIO SPTEs${where}; every MMIO access takes the slow path`);
    overrides.mmio_caching = false;
  }
  for (const bit of GUEST_CR4_BITS) {
    if (!sc.guest.cpu[bit] || era.cr4[bit]) continue;
    notes.push(`guest.cpu.${bit}: true off: ${era.release} kvm_set_cr4 refuses ${CR4_BIT_NAMES[bit]} (${cite(era, era.cr4Check)} \`${era.cr4Check.text} return 1;\`; the allowed list after ${cite(era, era.cr4Reserved)} \`#define CR4_RESERVED_BITS\` does not have it); the guest runs without it`);
    overrides[bit] = false;
  }
  // No lockless walk: a wait on one of its points could never end, so the waits are left out.
  const lockless = era.locklessWalk === null ? firstLocklessWait(sc) : null;
  if (lockless) {
    notes.push(`vcpus[${lockless.vcpu}] ${lockless.what} ${lockless.point} (line ${lockless.pos.line}) and every other wait on the lockless walk left out: ${noLocklessWalk(era.name, lockless.point)}; the vCPUs run without waiting there`);
    overrides.skip_lockless_waits = true;
  }
  const problems = variantProblems(sc, overrides);
  if (problems.length > 0) throw new VariantError(`${label}: ${problems.join('; ')}`);
  return { label, overrides, notes };
}

/** Which variants `compare` runs: the given kernels and MMU modes, else the file's `compare:`
 *  section, else every modelled kernel in the scenario's own MMU mode. */
export interface VariantSelection {
  kernels?: readonly Kernel[];
  tdp?: readonly boolean[];
}

export function selectVariants(sc: Scenario, sel: VariantSelection = {}): Variant[] {
  if (!sel.kernels && !sel.tdp && sc.compare.length > 0) return sc.compare.map(fileVariant);
  return kernelVariants(sc, sel.kernels ?? ERAS.map((e) => e.name), sel.tdp ?? [sc.mmu.tdp]);
}

function fileVariant(v: VariantDecl): Variant {
  return { label: v.label, overrides: v.overrides, notes: [] };
}
