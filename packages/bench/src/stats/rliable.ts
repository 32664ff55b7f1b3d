/**
 * The rliable protocol (Agarwal et al., NeurIPS 2021) over score matrices laid out as
 * scores[task][run]: interquartile mean, stratified bootstrap confidence intervals (runs
 * resampled with replacement within each task), probability of improvement and performance
 * profiles. Randomness comes from a seeded Rng, so intervals are reproducible.
 */
import { Rng } from '@policy-lab/core';

/** scipy.stats.trim_mean(x, 0.25): drop floor(n/4) values from each end, average the rest. */
export function iqm(scores: readonly number[]): number {
  if (scores.length === 0) return Number.NaN;
  const sorted = [...scores].sort((a, b) => a - b);
  const cut = Math.floor(0.25 * sorted.length);
  const kept = sorted.slice(cut, sorted.length - cut);
  return kept.reduce((a, b) => a + b, 0) / kept.length;
}

export function mean(scores: readonly number[]): number {
  return scores.length === 0 ? Number.NaN : scores.reduce((a, b) => a + b, 0) / scores.length;
}

/** IQM over every (task, run) score pooled, as rliable's aggregate_iqm. */
export const aggregateIqm = (scoresByTask: readonly (readonly number[])[]): number => iqm(scoresByTask.flat());

export interface Interval {
  estimate: number;
  low: number;
  high: number;
}

export interface BootstrapOptions {
  reps?: number;
  /** Confidence level, 0.95 by default. */
  level?: number;
  seed?: number;
}

/** numpy's default percentile of sorted values. */
export function percentile(sorted: readonly number[], q: number): number {
  // numpy's default (linear interpolation between closest ranks)
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const a = sorted[lower] as number;
  const b = sorted[upper] as number;
  return a + (b - a) * (position - lower);
}

function resample(scoresByTask: readonly (readonly number[])[], rng: Rng): number[][] {
  return scoresByTask.map((runs) => runs.map(() => runs[rng.int(0, runs.length - 1)] as number));
}

/** Percentile stratified-bootstrap CI of `statistic` (each task's runs resampled independently). */
export function stratifiedBootstrapCI(
  scoresByTask: readonly (readonly number[])[],
  statistic: (scoresByTask: readonly (readonly number[])[]) => number = aggregateIqm,
  options: BootstrapOptions = {},
): Interval {
  const { reps = 2000, level = 0.95, seed = 0 } = options;
  if (scoresByTask.length === 0 || scoresByTask.some((runs) => runs.length === 0))
    throw new RangeError('stratifiedBootstrapCI needs at least one run per task');
  const rng = Rng.seeded(seed).split('bootstrap');
  const samples = Array.from({ length: reps }, () => statistic(resample(scoresByTask, rng))).sort((a, b) => a - b);
  return {
    estimate: statistic(scoresByTask),
    low: percentile(samples, (1 - level) / 2),
    high: percentile(samples, 1 - (1 - level) / 2),
  };
}

/** P(X > Y) on one task: Mann-Whitney U / (n_x n_y), ties counted 1/2. */
export function probabilityOfImprovement(x: readonly number[], y: readonly number[]): number {
  if (x.length === 0 || y.length === 0) return Number.NaN;
  let u = 0;
  for (const a of x) for (const b of y) u += a > b ? 1 : a === b ? 0.5 : 0;
  return u / (x.length * y.length);
}

/** Average over tasks of P(X > Y), with an independent stratified bootstrap CI. */
export function probabilityOfImprovementCI(
  xByTask: readonly (readonly number[])[],
  yByTask: readonly (readonly number[])[],
  options: BootstrapOptions = {},
): Interval {
  const { reps = 2000, level = 0.95, seed = 0 } = options;
  const average = (xs: readonly (readonly number[])[], ys: readonly (readonly number[])[]) =>
    mean(xs.map((x, m) => probabilityOfImprovement(x, ys[m] as number[])));
  const rng = Rng.seeded(seed).split('poi');
  const samples = Array.from({ length: reps }, () => average(resample(xByTask, rng), resample(yByTask, rng))).sort(
    (a, b) => a - b,
  );
  return {
    estimate: average(xByTask, yByTask),
    low: percentile(samples, (1 - level) / 2),
    high: percentile(samples, 1 - (1 - level) / 2),
  };
}

/** Run-score distribution: for each threshold tau, the fraction of all scores > tau (strict). */
export function performanceProfile(scoresByTask: readonly (readonly number[])[], thresholds: readonly number[]): number[] {
  const all = scoresByTask.flat();
  return thresholds.map((tau) => all.filter((s) => s > tau).length / all.length);
}

/** Two intervals overlap: then no difference was detected. */
export function overlaps(a: Interval, b: Interval): boolean {
  return a.low <= b.high && b.low <= a.high;
}
