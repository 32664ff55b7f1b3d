/**
 * The smoothing certificate (docs/robustness-certificates.md has the proof). Policy Smoothing
 * (Kumar et al., ICLR 2022, arXiv 2106.11420) certifies the total reward of a policy that reads
 * noisy observations against an adaptive adversary with an episode-wide budget. For text we use
 * character substitution noise at rate p and an adversary that substitutes at most B characters
 * per episode (Hamming distance): a coupling shows the attacked and the clean episode coincide
 * with probability at least p^B, so every bounded episode statistic moves by at most
 * (max - min) (1 - p^B). A Monte Carlo lower bound on the clean smoothed mean, minus that,
 * is a lower bound on the attacked mean at the same confidence.
 */

export type BoundKind = 'clopper-pearson' | 'hoeffding';
export const BOUND_KINDS: readonly BoundKind[] = ['clopper-pearson', 'hoeffding'];

/** Total variation between the episode distributions with and without an adversary of budget `radius`: 1 - rate^radius. */
export function smoothingDistance(rate: number, radius: number): number {
  return radius === 0 ? 0 : 1 - rate ** radius;
}

/** log of the binomial coefficient, by log-gamma through sums of logs (n is at most a few million episodes). */
function logChoose(n: number, k: number): number {
  let out = 0;
  const small = Math.min(k, n - k);
  for (let i = 1; i <= small; i++) out += Math.log(n - small + i) - Math.log(i);
  return out;
}

/** P(Binomial(n, p) >= s), summed in log space from the tail's largest term down. */
export function binomialUpperTail(n: number, s: number, p: number): number {
  if (s <= 0) return 1;
  if (s > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  const logp = Math.log(p);
  const logq = Math.log1p(-p);
  let term = logChoose(n, s) + s * logp + (n - s) * logq;
  let total = 0;
  for (let k = s; k <= n; k++) {
    total += Math.exp(term);
    // term(k + 1) / term(k) = (n - k) / (k + 1) * p / q
    term += Math.log(n - k) - Math.log(k + 1) + logp - logq;
  }
  return Math.min(1, total);
}

/**
 * One-sided Clopper-Pearson lower bound: the smallest p with P(Bin(n, p) >= s) >= 1 - confidence,
 * found by bisection (the tail grows with p). Exact for iid Bernoulli episodes.
 */
export function clopperPearsonLower(successes: number, n: number, confidence: number): number {
  if (successes === 0) return 0;
  const alpha = 1 - confidence;
  // Closed form at s = n: p^n = alpha.
  if (successes === n) return alpha ** (1 / n);
  let low = 0;
  let high = successes / n;
  for (let i = 0; i < 60; i++) {
    const mid = (low + high) / 2;
    if (binomialUpperTail(n, successes, mid) < alpha) low = mid;
    else high = mid;
  }
  return low;
}

/** Hoeffding lower bound on the mean of n independent values in [min, max] (they need not share a distribution). */
export function hoeffdingLower(mean: number, n: number, confidence: number, min = 0, max = 1): number {
  return Math.max(min, mean - (max - min) * Math.sqrt(Math.log(1 / (1 - confidence)) / (2 * n)));
}

export interface Certificate {
  /** Episodes the estimate rests on. */
  episodes: number;
  /** The empirical mean of the statistic under smoothing, without an adversary. */
  mean: number;
  /** Lower confidence bound on that mean. */
  cleanLower: number;
  /** Total variation bound 1 - rate^radius. */
  distance: number;
  /** Lower bound on the statistic's mean under any adversary within the radius. */
  certified: number;
  bound: BoundKind;
  confidence: number;
}

/**
 * Certifies the mean of a statistic in [min, max] from n iid episode values (Clopper-Pearson
 * needs 0/1 values: success). Never above the empirical mean; higher with more episodes at the
 * same mean; 0 (min) when nothing can be said.
 */
export function certify(
  values: readonly number[],
  options: { rate: number; radius: number; confidence: number; bound: BoundKind; min?: number; max?: number },
): Certificate {
  const { rate, radius, confidence, bound } = options;
  const min = options.min ?? 0;
  const max = options.max ?? 1;
  const n = values.length;
  if (n === 0) throw new RangeError('certify: no episodes');
  const mean = values.reduce((a, b) => a + b, 0) / n;
  let cleanLower: number;
  if (bound === 'clopper-pearson') {
    if (values.some((v) => v !== 0 && v !== 1))
      throw new RangeError('certify: the Clopper-Pearson bound needs 0/1 values (success); use hoeffding for rewards');
    cleanLower = clopperPearsonLower(values.filter((v) => v === 1).length, n, confidence);
  } else cleanLower = hoeffdingLower(mean, n, confidence, min, max);
  const distance = smoothingDistance(rate, radius);
  return {
    episodes: n,
    mean,
    cleanLower,
    distance,
    certified: Math.max(min, cleanLower - (max - min) * distance),
    bound,
    confidence,
  };
}

/** The largest radius whose certified value stays at or above `threshold`; -1 when even radius 0 falls below it. */
export function certifiedRadius(cleanLower: number, rate: number, threshold: number, span = 1): number {
  if (cleanLower < threshold) return -1;
  if (rate <= 0) return 0;
  if (rate >= 1) return Number.POSITIVE_INFINITY;
  // cleanLower - span (1 - rate^B) >= threshold  <=>  B <= log(1 - (cleanLower - threshold) / span) / log(rate)
  const room = 1 - (cleanLower - threshold) / span;
  return room <= 0 ? Number.POSITIVE_INFINITY : Math.floor(Math.log(room) / Math.log(rate) + 1e-9);
}
