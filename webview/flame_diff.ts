// Two flame graphs merged by call path, for the differential view: the second run's graph, each
// frame with its change against the first, and the frames only the first has inserted as
// "removed". Pure (no DOM).
//
// Widths: a frame present in the second run is as wide as its cycles there plus the cycles of the
// removed paths below it; a removed frame as wide as its cycles in the first. A parent is then
// never narrower than its children (its second-run cycles cover its present children's, and the
// removed paths are added on both sides).

import type { FlameGraph } from '../simulator/run/result';
import type { SizedTree } from './flame_layout';

export type Change = 'same' | 'rose' | 'fell' | 'new' | 'removed';

export interface DiffNode {
  name: string;
  parent: number;
  /** Total cycles on this call path in the first graph (0: absent) and in the second. */
  before: number;
  after: number;
  change: Change;
}

export interface FlameDiff extends SizedTree {
  nodes: DiffNode[];
  /** The largest |after - before| of any frame below the root (0 when nothing changed). */
  maxDelta: number;
}

function nameOf(g: FlameGraph, node: number): string {
  const fn = g.nodes[node]!.fn;
  return fn < 0 ? 'all' : (g.functions[fn] ?? `#${fn}`);
}

function kidsOf(g: FlameGraph): number[][] {
  const kids: number[][] = g.nodes.map(() => []);
  g.nodes.forEach((n, i) => {
    if (i > 0 && n.parent >= 0 && n.parent < i) kids[n.parent]!.push(i);
  });
  return kids;
}

/** Siblings keyed by name; a name that repeats under one parent is told apart by its occurrence. */
function keyed(g: FlameGraph, nodes: readonly number[]): Map<string, number> {
  const seen = new Map<string, number>();
  const out = new Map<string, number>();
  for (const n of nodes) {
    const name = nameOf(g, n);
    const k = seen.get(name) ?? 0;
    seen.set(name, k + 1);
    out.set(`${name}\u0000${k}`, n);
  }
  return out;
}

function changeOf(before: number | null, after: number | null): Change {
  if (before === null) return 'new';
  if (after === null) return 'removed';
  return after > before ? 'rose' : after < before ? 'fell' : 'same';
}

export function diffFlame(a: FlameGraph, b: FlameGraph): FlameDiff {
  const ka = kidsOf(a);
  const kb = kidsOf(b);
  const nodes: DiffNode[] = [];
  const present: boolean[] = [];
  // Pre-order, explicitly stacked: [node in a or -1, node in b or -1, merged parent].
  const stack: [number, number, number][] = [[a.nodes.length > 0 ? 0 : -1, b.nodes.length > 0 ? 0 : -1, -1]];
  while (stack.length > 0) {
    const [na, nb, parent] = stack.pop()!;
    const before = na >= 0 ? a.nodes[na]!.total : null;
    const after = nb >= 0 ? b.nodes[nb]!.total : null;
    const index = nodes.length;
    nodes.push({ name: nb >= 0 ? nameOf(b, nb) : na >= 0 ? nameOf(a, na) : 'all', parent, before: before ?? 0, after: after ?? 0, change: parent < 0 ? changeOf(before ?? 0, after ?? 0) : changeOf(before, after) });
    present.push(nb >= 0 || parent < 0);
    // The second graph's children in its order, then those only the first has, in its order.
    const fromA = na >= 0 ? keyed(a, ka[na]!) : new Map<string, number>();
    const fromB = nb >= 0 ? keyed(b, kb[nb]!) : new Map<string, number>();
    const pairs: [number, number][] = [];
    for (const [k, c] of fromB) pairs.push([fromA.get(k) ?? -1, c]);
    for (const [k, c] of fromA) if (!fromB.has(k)) pairs.push([c, -1]);
    for (let i = pairs.length - 1; i >= 0; i--) stack.push([pairs[i]![0], pairs[i]![1], index]);
  }
  // Sizes bottom-up (reverse pre-order visits children before their parent).
  const size = nodes.map((n, i) => (present[i] ? n.after : n.before));
  const extra = nodes.map(() => 0);
  for (let i = nodes.length - 1; i > 0; i--) {
    const p = nodes[i]!.parent;
    if (!present[p]) continue; // a removed parent's own cycles already cover its subtree
    extra[p]! += present[i] ? extra[i]! : nodes[i]!.before;
  }
  for (let i = 0; i < nodes.length; i++) if (present[i]) size[i]! += extra[i]!;
  let maxDelta = 0;
  for (let i = 1; i < nodes.length; i++) maxDelta = Math.max(maxDelta, Math.abs(nodes[i]!.after - nodes[i]!.before));
  return { nodes, parent: nodes.map((n) => n.parent), size, maxDelta };
}
