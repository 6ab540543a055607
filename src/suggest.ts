/** "did you mean ...?" for a mistyped command, option or configuration key: the closest known name by edit distance. */

/**
 * Edit distance with adjacent transpositions (optimal string alignment): `listne` is one edit from `listen`.
 * Small strings only (command and option names).
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => (d[i] as number[])[j] as number;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = v;
    }
  }
  return at(a.length, b.length);
}

/**
 * The known name closest to `typed`, if it is close enough to be a typo: at most a third of its length
 * (at least 1, at most 3 edits), or `typed` is a prefix of exactly one name.
 */
export function closest(typed: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(typed, k);
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  const limit = Math.min(3, Math.max(1, Math.floor(typed.length / 3)));
  if (best !== undefined && bestD <= limit) return best;
  const prefixed = known.filter((k) => typed.length >= 2 && k.startsWith(typed));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}
