// How deeply a scenario may nest collections. The YAML library composes nested collections
// recursively and runs out of stack at about 800 levels (10,000 `[` gave "Maximum call stack size
// exceeded" and a cascade of follow-on errors), and the validators recurse too.

import { isMap, isPair, isSeq, type Node } from 'yaml';

/** Collection levels allowed: 64 nested repeats (the machine's loop stack) need about 130. */
export const MAX_NESTING = 200;

export const TOO_DEEP = `nested more than ${MAX_NESTING} levels deep (no scenario needs that many; the YAML reader would run out of stack)`;

/**
 * The offset of the first `[` or `{` that opens flow level MAX_NESTING + 1, found before the YAML
 * library sees the text. Brackets count only where a flow collection can start (at the start of a
 * token), and quoted strings and comments are skipped, so `a[b` in a plain scalar is not one.
 */
export function flowTooDeep(text: string): number | null {
  let depth = 0;
  let tokenStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '#' && tokenStart) {
      // To the end of the line; the newline itself starts the next token.
      while (i + 1 < text.length && text[i + 1] !== '\n') i++;
      continue;
    } else if ((c === '"' || c === "'") && tokenStart) {
      // A quoted scalar: '' escapes a single quote, a backslash escapes in double quotes.
      for (i++; i < text.length; i++) {
        if (c === '"' && text[i] === '\\') i++;
        else if (text[i] === c && (c === '"' || text[i + 1] !== "'")) break;
        else if (text[i] === c) i++;
      }
    } else if ((c === '[' || c === '{') && tokenStart) {
      if (++depth > MAX_NESTING) return i;
      continue; // a token may start right after an opening bracket
    } else if ((c === ']' || c === '}') && depth > 0) {
      depth--;
      continue;
    }
    // Inside a plain scalar (`a[b`) brackets are text; `,` only separates in flow context.
    tokenStart = /\s/.test(c) || (depth > 0 && c === ',') || ((c === ':' || c === '-' || c === '?') && tokenStart);
  }
  return null;
}

/** The first collection nested deeper than MAX_NESTING in the parsed tree (block or flow), or
 *  null. Aliases are not followed: their targets are in the tree already. */
export function treeTooDeep(root: unknown): Node | null {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (!isMap(node) && !isSeq(node)) continue;
    if (depth > MAX_NESTING) return node;
    // Pushed last first, so that the first too-deep node in document order is found.
    for (const item of [...(node.items as unknown[])].reverse()) {
      if (isPair(item)) stack.push([item.value, depth + 1], [item.key, depth + 1]);
      else stack.push([item, depth + 1]);
    }
  }
  return null;
}
