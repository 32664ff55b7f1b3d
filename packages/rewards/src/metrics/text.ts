/**
 * Python's notion of whitespace, which sacreBLEU relies on through `str.split()` and
 * `str.rstrip()`: it includes \x1c-\x1f and \x85, which JavaScript's `\s` does not, and
 * excludes \ufeff, which `\s` includes.
 */
const WS = '\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const RUNS = new RegExp(`[${WS}]+`, 'u');
const TRAILING = new RegExp(`[${WS}]+$`, 'u');

/** `s.split()` in Python: split on runs of whitespace, no empty strings. */
export function pySplit(s: string): string[] {
  return s.split(RUNS).filter((t) => t.length > 0);
}

/** `s.rstrip()` in Python. */
export function pyRstrip(s: string): string {
  return s.replace(TRAILING, '');
}

/** Code points, as Python indexes a str. */
export function codePoints(s: string): string[] {
  return Array.from(s);
}

/** Counts of the n-grams of `items`, joined with `separator` (a space for whitespace-split words, '' for code points: both unambiguous). */
export function ngramCounts(items: readonly string[], n: number, separator = ' '): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= items.length; i++) {
    const key = items.slice(i, i + n).join(separator);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}
