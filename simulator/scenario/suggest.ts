// Name suggestions for diagnostics: the "did you mean" hints for misspelt keys, kinds and names.

// ---------------------------------------------------------------------------------------------
// Name suggestions

/** Edit distance where swapping two adjacent characters counts as one edit (`raed` -> `read`). */
function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest option if it is an obvious fix, else null: the only option a few edits away (case
 *  ignored), or failing that the only option that starts with `name`. */
export function closestName(name: string, options: readonly string[]): string | null {
  const lower = name.toLowerCase();
  const limit = Math.max(1, Math.floor(name.length / 3));
  const distances = options.map((o) => editDistance(lower, o.toLowerCase()));
  const best = Math.min(...distances);
  const nearest = options.filter((_, i) => distances[i] === best);
  if (best <= limit && nearest.length === 1) return nearest[0]!;
  const prefixed = options.filter((o) => lower.length >= 2 && o.toLowerCase().startsWith(lower));
  return best > limit && prefixed.length === 1 ? prefixed[0]! : null;
}

export function didYouMean(name: string, options: readonly string[]): string {
  const best = closestName(name, options);
  return best === null ? '' : `; did you mean \`${best}\`?`;
}
