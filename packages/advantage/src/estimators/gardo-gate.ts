/**
 * GARDO's gate on the KL penalty (He et al. 2025, arXiv 2512.24138; released code
 * tinnerhrhe/GARDO, scripts/train_sd3_grpo_gardo.py): only samples whose proxy reward is
 * uncertain are regularised towards the reference.
 *
 * - Uncertainty of sample i over the whole step's batch: u_i = rank_proxy(i) - mean_k rank_k(i),
 *   ranks descending (1 = the best reward), the auxiliaries k being other reward signals.
 * - Gate: u_i above the (100 - 100 kappa)-th percentile of the non-negative u (the top kappa
 *   share of them); every other sample gets no KL.
 * - kappa adapts: up 10% when the step's mean non-negative u exceeds every one of the last 20
 *   steps', down 10% when it is below all of them, clipped to [0.02, 0.2].
 */
import { quantile } from './riskpo.js';

/**
 * Ranks 1..n, 1 for the largest value. Ties: with `tieOrder` (a priority per sample, lower first)
 * they are ranked in that order, as the released code's sort order breaks them; without it, tied
 * samples share the mean of their ranks.
 */
export function descendingRanks(values: readonly number[], tieOrder?: readonly number[]): number[] {
  const order = values
    .map((v, i) => ({ v, i }))
    .sort((a, b) => b.v - a.v || (tieOrder ? (tieOrder[a.i] as number) - (tieOrder[b.i] as number) : 0));
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start;
    if (!tieOrder)
      while (end + 1 < order.length && (order[end + 1] as { v: number }).v === (order[start] as { v: number }).v) end++;
    const shared = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[(order[k] as { i: number }).i] = shared;
    start = end + 1;
  }
  return ranks;
}

/** u_i = rank of i under the proxy minus its mean rank under the auxiliaries (one tie order for all rankings). */
export function uncertainties(
  proxy: readonly number[],
  auxiliaries: readonly (readonly number[])[],
  tieOrder?: readonly number[],
): number[] {
  if (auxiliaries.length === 0) throw new RangeError('gardo: the uncertainty needs at least one auxiliary reward');
  const proxyRanks = descendingRanks(proxy, tieOrder);
  const auxiliaryRanks = auxiliaries.map((a) => descendingRanks(a, tieOrder));
  return proxyRanks.map((r, i) => r - auxiliaryRanks.reduce((a, ranks) => a + (ranks[i] as number), 0) / auxiliaryRanks.length);
}

export interface KappaSchedule {
  initial: number;
  min: number;
  max: number;
  /** Relative change of kappa per step (GARDO: 0.1). */
  rate: number;
  /** Steps of mean uncertainty the rule compares against (GARDO: 20). */
  window: number;
}

/** The adaptive share kappa of gated samples: GARDO's RiskCompensator. */
export function riskCompensator(schedule: KappaSchedule) {
  let kappa = schedule.initial;
  let recent: number[] = [];
  return {
    /** Updates kappa from this step's non-negative uncertainties and returns it. */
    update(nonNegative: readonly number[]): number {
      const level = nonNegative.length ? nonNegative.reduce((a, b) => a + b, 0) / nonNegative.length : 0;
      if (recent.length === 0) kappa = schedule.initial;
      else if (level > Math.max(...recent)) kappa *= 1 + schedule.rate;
      else if (level < Math.min(...recent)) kappa *= 1 - schedule.rate;
      kappa = Math.min(schedule.max, Math.max(schedule.min, kappa));
      recent = [...recent, level].slice(-schedule.window);
      return kappa;
    },
    reset(): void {
      kappa = schedule.initial;
      recent = [];
    },
    get kappa(): number {
      return kappa;
    },
  };
}

/** 1 where u_i is above the (1 - kappa) percentile of the non-negative uncertainties, else 0. */
export function gate(u: readonly number[], kappa: number): number[] {
  const nonNegative = u.filter((x) => x >= 0);
  if (nonNegative.length === 0) return u.map(() => 0);
  const threshold = quantile(nonNegative, 1 - kappa); // numpy's percentile, linear interpolation
  return u.map((x) => (x > threshold ? 1 : 0));
}
