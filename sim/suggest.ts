/**
 * "Did you mean" for names typed by people: commands, flags, scenario directives, actions, fault
 * kinds. A suggestion is offered only when it is close (edit distance at most a third of the word,
 * and at least 1), or when the typed word is an unambiguous prefix of one known name.
 */

/** Levenshtein distance, with an early exit once it exceeds `max`. */
export function editDistance(a: string, b: string, max = Infinity): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      rowMin = Math.min(rowMin, current[j]!);
    }
    if (rowMin > max) return max + 1;
    previous = current;
  }
  return previous[b.length]!;
}

/** The known name closest to `word`, or null when none is close enough. */
export function closest(word: string, known: Iterable<string>): string | null {
  const names = [...known];
  const max = Math.max(1, Math.floor(word.length / 3));
  let best: string | null = null;
  let bestDistance = max + 1;
  const common = (a: string, b: string): number => {
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    return i;
  };
  for (const name of names) {
    const d = editDistance(word.toLowerCase(), name.toLowerCase(), max);
    // Ties go to the name sharing the longer prefix: `sped` is `speed` rather than `seed`.
    if (d < bestDistance || (d === bestDistance && best !== null && common(word, name) > common(word, best))) {
      best = name;
      bestDistance = d;
    }
  }
  if (best !== null) return best;
  const prefixed = word.length >= 2 ? names.filter((n) => n.startsWith(word)) : [];
  return prefixed.length === 1 ? prefixed[0]! : null;
}

/** ` (did you mean 'x'?)`, or '' when nothing is close; `prefix` goes before the name (`--`). */
export function didYouMean(word: string, known: Iterable<string>, prefix = ''): string {
  const match = closest(word, known);
  return match === null ? '' : ` (did you mean '${prefix}${match}'?)`;
}
