// Where each frame of an icicle goes: pure geometry (no DOM), so that it is unit-tested. A frame's
// width is its share of the zoomed frame's width; children sit side by side under their parent,
// in the order the graph lists them, from the parent's left edge.

import type { FlameGraph } from '../simulator/run/result';

/** A tree in pre-order: node 0 is the root, every other node's parent comes before it. */
export interface SizedTree {
  parent: readonly number[];
  /** What a node's width is proportional to (cycles); never less than its children's sum. */
  size: readonly number[];
}

export interface FlameFrame {
  /** The node's index in the tree. */
  node: number;
  /** Row, 0 = the zoomed frame at the top. */
  depth: number;
  /** Left edge and width, as fractions of the drawing's width. */
  x: number;
  w: number;
  /** The parent's index in `frames`, -1 for the top frame. */
  parentFrame: number;
}

export interface FlameLayout {
  frames: FlameFrame[];
  /** Rows drawn. */
  rows: number;
  /** Frames left out because they would be narrower than `minFraction` (with their subtrees). */
  hidden: number;
}

export function treeOf(g: FlameGraph): SizedTree {
  return { parent: g.nodes.map((n) => n.parent), size: g.nodes.map((n) => n.total) };
}

/** Each node's children, in tree order. */
export function childrenOf(t: Pick<SizedTree, 'parent'>): number[][] {
  const kids: number[][] = t.parent.map(() => []);
  for (let i = 1; i < t.parent.length; i++) {
    const p = t.parent[i]!;
    if (p >= 0 && p < i) kids[p]!.push(i);
  }
  return kids;
}

/** The nodes from the root down to `node`, both included. */
export function ancestry(t: Pick<SizedTree, 'parent'>, node: number): number[] {
  const path: number[] = [];
  for (let n = node; n >= 0 && path.length <= t.parent.length; n = n === 0 ? -1 : t.parent[n]!) path.push(n);
  return path.reverse();
}

/** The frames of the subtree under `root`, `root` filling the width. */
export function layoutFlame(t: SizedTree, root = 0, minFraction = 0): FlameLayout {
  const frames: FlameFrame[] = [];
  const kids = childrenOf(t);
  const whole = t.size[root] ?? 0;
  let hidden = 0;
  let rows = 0;
  if (root < 0 || root >= t.size.length) return { frames, rows, hidden };
  // Depth-first with an explicit stack (deep call paths must not overflow the JS stack).
  const stack: { node: number; depth: number; x: number; parentFrame: number }[] = [{ node: root, depth: 0, x: 0, parentFrame: -1 }];
  while (stack.length > 0) {
    const { node, depth, x, parentFrame } = stack.pop()!;
    const w = whole > 0 ? t.size[node]! / whole : node === root ? 1 : 0;
    if (node !== root && (w <= 0 || w < minFraction)) {
      hidden++;
      continue;
    }
    const index = frames.length;
    frames.push({ node, depth, x, w, parentFrame });
    rows = Math.max(rows, depth + 1);
    // Push children right to left so they come off the stack in order.
    const cs = kids[node]!;
    const xs: number[] = [];
    let at = x;
    for (const c of cs) {
      xs.push(at);
      at += whole > 0 ? t.size[c]! / whole : 0;
    }
    for (let i = cs.length - 1; i >= 0; i--) stack.push({ node: cs[i]!, depth: depth + 1, x: xs[i]!, parentFrame: index });
  }
  return { frames, rows, hidden };
}
