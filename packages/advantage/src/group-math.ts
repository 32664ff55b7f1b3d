/** Small statistics over plain numbers, shared by the group estimators. */

export function mean(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** 'sample' divides by n - 1 (Bessel, as TRL and verl); 'population' by n. */
export function std(values: readonly number[], kind: 'sample' | 'population'): number {
  const m = mean(values);
  let squares = 0;
  for (const v of values) squares += (v - m) * (v - m);
  const denominator = kind === 'sample' ? values.length - 1 : values.length;
  return denominator > 0 ? Math.sqrt(squares / denominator) : 0;
}

/**
 * The pivot of a group: position floor((n - 1) / 2) of a stable sort by (value, index).
 * Its value is the median for odd n and the lower median for even n (torch's rule),
 * and ties resolve deterministically by original index (the sort is stable).
 */
export function medianPivot(values: readonly number[]): { index: number; value: number } {
  const order = values.map((value, index) => ({ value, index })).sort((a, b) => a.value - b.value || a.index - b.index);
  const pivot = order[Math.floor((values.length - 1) / 2)] as { value: number; index: number };
  return pivot;
}

export function lowerMedian(values: readonly number[]): number {
  return medianPivot(values).value;
}

/** z-score with `eps` added to the deviation; a constant group gives zeros, never NaN. */
export function zScores(values: readonly number[], kind: 'sample' | 'population', eps: number): number[] {
  const m = mean(values);
  const s = std(values, kind);
  if (s === 0) return values.map(() => 0);
  return values.map((v) => (v - m) / (s + eps));
}
