// Charging cycles: every action charges its cost to the vCPU that performs it (its clock) and to a
// component of the breakdown. Allocation-free: components are indices into a Float64Array.

import { COMPONENTS, type Component, type CostProfile } from './profile';
import { CallPath, type CallCursor } from './call_path';

export const C = Object.fromEntries(COMPONENTS.map((n, i) => [n, i])) as { readonly [K in Component]: number };

/** Anything with a cycle clock (a vCPU): its cursor in the call-path tree places the charge. */
export interface Clocked {
  clock: number;
  readonly path: CallCursor;
}

export class Accounting {
  readonly byComponent = new Float64Array(COMPONENTS.length);
  total = 0;

  /** The call paths every charge is attributed to (cost/call_path.ts). */
  readonly paths: CallPath;

  constructor(
    readonly profile: CostProfile,
    callPaths = true,
  ) {
    this.paths = new CallPath(callPaths);
  }

  charge(who: Clocked, component: number, cycles: number): void {
    who.clock += cycles;
    this.byComponent[component]! += cycles;
    this.total += cycles; // (the call path reads it off the clock: CallCursor.flush)
  }

  /** charge() to call-path node `node` (CallCursor.at / at2, CallPath.rootFrame) instead of the current one. */
  chargeAt(who: Clocked, component: number, cycles: number, node: number): void {
    who.path.leaf(node, cycles);
    who.clock += cycles;
    this.byComponent[component]! += cycles;
    this.total += cycles;
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
