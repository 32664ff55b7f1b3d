/**
 * Holm's step-down adjustment (Holm 1979, "A simple sequentially rejective multiple test
 * procedure", Scandinavian Journal of Statistics 6(2)): it controls the family-wise error rate
 * across every pair of one comparison under any dependence between the tests, which the pairs
 * of a comparison have (they share methods, seeds and tasks). The adjusted values are R's
 * `p.adjust(p, "holm")`: sort ascending, multiply the i-th smallest (from 1) by m - i + 1, make
 * them non-decreasing, cap at 1.
 */
export function holmAdjust(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p);
  const adjusted = new Array<number>(m);
  let running = 0;
  order.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    adjusted[i] = running;
  });
  return adjusted;
}
