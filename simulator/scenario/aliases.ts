// YAML aliases, resolved once for the whole file, with the number of nodes each one expands to.
// Each use of an alias is validated again (it may sit at a different path), so what costs work is
// the nodes an alias brings, not the number of uses: 999 uses of a 2,000-step anchor took 9 s.

import { isAlias, isMap, isNode, isPair, isSeq, type Alias, type Node } from 'yaml';

export interface Aliases {
  /** The anchored node each alias names (the last anchor before it), or null when none does. */
  target: Map<Alias, Node | null>;
  /** Nodes in each collection or scalar, aliases counted as what they expand to (Infinity when an
   *  alias names a node that contains it). */
  size: Map<unknown, number>;
}

function children(node: unknown): unknown[] {
  if (isMap(node)) return node.items.flatMap((p) => [p.key, p.value]);
  if (isSeq(node)) return node.items.flatMap((item) => (isPair(item) ? [item.key, item.value] : [item]));
  return [];
}

/** One walk in document order, with an explicit stack so that nesting cannot overflow it. */
export function resolveAliases(root: unknown): Aliases {
  const target = new Map<Alias, Node | null>();
  const size = new Map<unknown, number>();
  const anchors = new Map<string, Node>();
  const frames: { node: unknown; kids: unknown[]; next: number; total: number }[] = [];
  const enter = (node: unknown) => {
    if (isNode(node) && node.anchor) anchors.set(node.anchor, node);
    if (isAlias(node)) target.set(node, anchors.get(node.source) ?? null);
    frames.push({ node, kids: children(node), next: 0, total: 1 });
  };
  enter(root);
  while (frames.length > 0) {
    const top = frames[frames.length - 1]!;
    if (top.next < top.kids.length) {
      enter(top.kids[top.next++]);
      continue;
    }
    frames.pop();
    let n = top.total;
    if (isAlias(top.node)) {
      const t = target.get(top.node);
      // A target still being walked contains this alias: expanding it would never end.
      n = t ? (size.get(t) ?? Infinity) : 1;
    }
    size.set(top.node, n);
    if (frames.length > 0) frames[frames.length - 1]!.total += n;
  }
  return { target, size };
}
