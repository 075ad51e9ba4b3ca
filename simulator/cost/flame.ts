// The call-path tree as RunResult.flame: one FlameGraph for the whole run, one per fault class (the
// exits of that class, kvm_exit to kvm_entry plus the hardware transition), one per workload line.
// Built once at the end of a run, so plain objects are fine here.

import type { FlameGraph, FlameNode, RunFlame } from '../run/result';
import { CALL_PATH_CAPACITY, CLASS_NONE, CLASS_NONE_NAME, type CallPath } from './call_path';
import { FAULT_CLASSES } from '../kvm/fault_class';
import { FRAME_NAMES } from '../kvm/kernel_functions';

/** Pre-order FlameGraph of the nodes with cycles in `self` (offset `at`); zero subtrees are left out. */
export function flameGraph(cp: CallPath, self: Float64Array, at = 0): FlameGraph {
  const n = cp.nodes;
  const total = new Float64Array(n);
  for (let i = 0; i < n; i++) total[i] = self[at + i]!;
  // Children are created after their parent: a reverse sweep adds every subtree into its parent.
  for (let i = n - 1; i > 0; i--) total[cp.parent[i]!]! += total[i]!;
  const nodes: FlameNode[] = [];
  const walk = (node: number, parentIndex: number): void => {
    const index = nodes.length;
    nodes.push({ fn: cp.fn[node]!, parent: parentIndex, self: self[at + node]!, total: total[node]! });
    // Children in creation order (the sibling list holds them newest first).
    const kids: number[] = [];
    for (let c = cp.firstChild[node]!; c >= 0; c = cp.nextSibling[c]!) if (total[c]! > 0) kids.push(c);
    for (let k = kids.length - 1; k >= 0; k--) walk(kids[k]!, index);
  };
  walk(0, -1);
  return { functions: [...FRAME_NAMES], nodes };
}

export function runFlame(cp: CallPath): RunFlame {
  cp.flushAll();
  const by_class: Record<string, FlameGraph> = {};
  for (let c = 0; c <= CLASS_NONE; c++) {
    const g = flameGraph(cp, cp.byClass, c * CALL_PATH_CAPACITY);
    if (g.nodes[0]!.total > 0) by_class[c === CLASS_NONE ? CLASS_NONE_NAME : FAULT_CLASSES[c]!] = g;
  }
  const by_line: Record<string, FlameGraph> = {};
  cp.byLine.forEach((a, line) => {
    if (a === undefined) return;
    const g = flameGraph(cp, a);
    if (g.nodes[0]!.total > 0) by_line[String(line)] = g;
  });
  return { all: flameGraph(cp, cp.self()), by_class, by_line };
}

/**
 * Brendan Gregg's folded stacks (stackcollapse format): `frame;frame;frame count`, root-most frame
 * first, the root "all" left out (flamegraph.pl adds its own; it appears only for cycles charged
 * outside every frame, which the simulator never does), one line per node with self cycles, in
 * pre-order. Counts are integers that sum to round(root total): each is floored, and the remaining
 * units go to the largest fractional parts (ties: the earlier line). Lines whose count is 0 are omitted.
 */
export function foldedStacks(g: FlameGraph): string[] {
  const names: string[] = [];
  const stacks: string[] = [];
  const exact: number[] = [];
  for (let i = 0; i < g.nodes.length; i++) {
    const nd = g.nodes[i]!;
    names[i] = i === 0 ? 'all' : (nd.parent > 0 ? names[nd.parent] + ';' : '') + (g.functions[nd.fn] ?? `fn${nd.fn}`);
    if (nd.self > 0) {
      stacks.push(names[i]!);
      exact.push(nd.self);
    }
  }
  const counts = exact.map(Math.floor);
  let missing = Math.round(g.nodes[0]!.total) - counts.reduce((s, x) => s + x, 0);
  const order = exact.map((_x, i) => i).sort((a, b) => exact[b]! - Math.floor(exact[b]!) - (exact[a]! - Math.floor(exact[a]!)) || a - b);
  for (let k = 0; missing > 0 && k < order.length; k++, missing--) counts[order[k]!]!++;
  const out: string[] = [];
  stacks.forEach((s, i) => {
    if (counts[i]! > 0) out.push(`${s} ${counts[i]}`);
  });
  return out;
}
