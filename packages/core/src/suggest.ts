import { distance } from 'fastest-levenshtein';

/** The known names closest to `name` (edit distance, then prefix match), best first. */
export function closestNames(name: string, known: readonly string[], max = 3): string[] {
  const lower = name.toLowerCase();
  const scored = known.map((candidate) => {
    const c = candidate.toLowerCase();
    const editDistance = distance(lower, c);
    const related = c.startsWith(lower) || lower.startsWith(c) || c.includes(lower);
    return { candidate, score: related ? Math.min(editDistance, 1) : editDistance };
  });
  const limit = Math.max(2, Math.ceil(name.length / 3));
  return scored
    .filter((s) => s.score <= limit)
    .sort((a, b) => a.score - b.score || a.candidate.localeCompare(b.candidate))
    .slice(0, max)
    .map((s) => s.candidate);
}

/** "did you mean a, b?" or the full list when nothing is close. */
export function suggestionText(name: string, known: readonly string[]): string {
  const close = closestNames(name, known);
  if (close.length > 0) return `did you mean ${close.join(', ')}?`;
  return known.length === 0 ? 'none are registered' : `known: ${[...known].sort().join(', ')}`;
}
