// Charging cycles: every action charges its cost to the vCPU that performs it (its clock) and to a
// component of the breakdown. Allocation-free: components are indices into a Float64Array.

import { COMPONENTS, type Component, type CostProfile } from './profile';

export const C = Object.fromEntries(COMPONENTS.map((n, i) => [n, i])) as { readonly [K in Component]: number };

/** Anything with a cycle clock (a vCPU). */
export interface Clocked {
  clock: number;
}

export class Accounting {
  readonly byComponent = new Float64Array(COMPONENTS.length);
  total = 0;

  constructor(readonly profile: CostProfile) {}

  charge(who: Clocked, component: number, cycles: number): void {
    who.clock += cycles;
    this.byComponent[component]! += cycles;
    this.total += cycles;
  }

  reset(): void {
    this.byComponent.fill(0);
    this.total = 0;
  }

  breakdown(): Record<Component, number> {
    const out = {} as Record<Component, number>;
    COMPONENTS.forEach((n, i) => (out[n] = this.byComponent[i]!));
    return out;
  }
}
