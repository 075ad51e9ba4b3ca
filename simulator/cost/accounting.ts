// Charging cycles: every action charges its cost to the vCPU that performs it (its clock) and to a
// component of the breakdown. Allocation-free: components are indices into a Float64Array.

import { COMPONENTS, type Component, type CostProfile } from './profile';
import { CallPath } from './call_path';

export const C = Object.fromEntries(COMPONENTS.map((n, i) => [n, i])) as { readonly [K in Component]: number };

/** Anything with a cycle clock (a vCPU): its id and the workload line it runs place the charge. */
export interface Clocked {
  clock: number;
  readonly id: number;
  line: number;
}

export class Accounting {
  readonly byComponent = new Float64Array(COMPONENTS.length);
  total = 0;

  /** The call paths every charge is attributed to (cost/call_path.ts). */
  readonly paths: CallPath;

  constructor(
    readonly profile: CostProfile,
    vcpus = 1,
  ) {
    this.paths = new CallPath(vcpus);
  }

  charge(who: Clocked, component: number, cycles: number): void {
    who.clock += cycles;
    this.byComponent[component]! += cycles;
    this.total += cycles;
    this.paths.charge(who.id, who.line, cycles);
  }

  /** charge() to call-path node `node` (CallPath.at / at2 / rootFrame) instead of the current one. */
  chargeAt(who: Clocked, component: number, cycles: number, node: number): void {
    who.clock += cycles;
    this.byComponent[component]! += cycles;
    this.total += cycles;
    this.paths.chargeNode(who.id, who.line, node, cycles);
  }

  reset(): void {
    this.byComponent.fill(0);
    this.total = 0;
    this.paths.reset();
  }

  breakdown(): Record<Component, number> {
    const out = {} as Record<Component, number>;
    COMPONENTS.forEach((n, i) => (out[n] = this.byComponent[i]!));
    return out;
  }
}
