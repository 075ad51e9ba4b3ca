// Duplicate mapping keys, found in one pass with a Set per mapping. The YAML library's own check
// (`uniqueKeys`) compares every key with every earlier one: 40,000 keys took 10 s, on every keystroke.

import { isMap, isPair, isScalar, isSeq, type Node } from 'yaml';

/** The second (third, ...) occurrence of each scalar key, in every mapping under `root`. Walks with
 *  an explicit stack, so deep nesting cannot overflow the call stack. */
export function duplicateKeys(root: unknown): Node[] {
  const found: Node[] = [];
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const key = pair.key;
        // The same rule as the library's: scalars are equal when their values are (0x10 and 16 are).
        if (isScalar(key)) {
          const id = `${typeof key.value}:${String(key.value)}`;
          if (seen.has(id)) found.push(key);
          else seen.add(id);
        }
        stack.push(pair.key, pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) {
        if (isPair(item)) stack.push(item.key, item.value);
        else stack.push(item);
      }
    }
  }
  return found;
}
