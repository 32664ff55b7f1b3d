/**
 * A paired two-level bootstrap over seeds and test tasks.
 *
 * The data of one environment are, per method, a matrix scores[seed][task]: the fraction of a
 * test task's samples that succeeded in the final evaluation of that seed's run. Every method
 * of a comparison is evaluated on the same test tasks, and every seed shares its SFT start
 * across methods, so seeds and tasks are crossed factors shared by all methods.
 *
 * One replicate draws n seeds with replacement and, independently, k tasks with replacement
 * (the two stages of a two-stage bootstrap, Davison & Hinkley 1997, "Bootstrap Methods and
 * their Application", section 3.8; rliable's `task_bootstrap=True` resamples tasks and runs the
 * same way, Agarwal et al. 2021). The same draw is used for every method, which is what makes
 * differences between methods paired. A run's score under the replicate is the mean over the
 * drawn tasks; the statistic (IQM by default) is taken over the drawn seeds. With the tasks left
 * as they are (`tasks: false`) this is the seed-only paired bootstrap.
 *
 * Resampling both factors of a crossed design is known to overstate the variance somewhat
 * (McCullagh 2000, "Resampling and exchangeable arrays", Bernoulli 6(2)): the two-level interval
 * errs on the wide side, which is the side a conclusion can afford.
 */
import { Rng } from '@policy-lab/core';
import { type Interval, iqm, percentile } from './rliable.js';

export interface TwoLevelOptions {
  reps?: number;
  /** Confidence level, 0.95 by default. */
  level?: number;
  seed?: number;
  /** Resample test tasks as well as seeds (default true); false gives the seed-only paired bootstrap. */
  tasks?: boolean;
  /** The statistic over run scores (IQM by default, as the rest of the report). */
  statistic?: (runScores: readonly number[]) => number;
  /**
   * Draw the same seeds for every method (default true: the methods of one comparison share
   * each seed's SFT start). False draws each method's seeds on their own, which lets the seed
   * counts differ (two comparisons run at different times); tasks stay shared.
   */
  pairSeeds?: boolean;
}

/** Percentile interval of bootstrap replicates around a point estimate. */
export function percentileInterval(estimate: number, replicates: readonly number[], level = 0.95): Interval {
  const sorted = [...replicates].sort((a, b) => a - b);
  return { estimate, low: percentile(sorted, (1 - level) / 2), high: percentile(sorted, 1 - (1 - level) / 2) };
}

function checkShape(scoresByMethod: readonly (readonly (readonly number[])[])[], pairSeeds: boolean): number {
  const first = scoresByMethod[0];
  const seeds = first?.length ?? 0;
  const tasks = first?.[0]?.length ?? 0;
  if (seeds === 0 || tasks === 0 || scoresByMethod.some((matrix) => matrix.length === 0))
    throw new RangeError('the two-level bootstrap needs at least one seed and one task');
  for (const matrix of scoresByMethod) {
    if ((pairSeeds && matrix.length !== seeds) || matrix.some((row) => row.length !== tasks))
      throw new RangeError(
        pairSeeds
          ? `every method needs the same ${seeds} seeds x ${tasks} tasks to be paired`
          : `every method needs the same ${tasks} tasks to be paired`,
      );
  }
  return tasks;
}

/** Run scores (mean over the given task indices) of each seed index, for one method. */
function runScores(matrix: readonly (readonly number[])[], seedIndices: readonly number[], taskIndices: readonly number[]) {
  return seedIndices.map((s) => {
    const row = matrix[s] as readonly number[];
    let sum = 0;
    for (const t of taskIndices) sum += row[t] as number;
    return sum / taskIndices.length;
  });
}

export interface TwoLevelResult {
  /** The statistic on the data as observed, per method. */
  estimates: number[];
  /** replicates[method][rep], every method under the same seed and task draws. */
  replicates: number[][];
}

/** Replicates of the statistic for every method under shared (paired) seed and task draws. */
export function twoLevelReplicates(
  scoresByMethod: readonly (readonly (readonly number[])[])[],
  options: TwoLevelOptions = {},
): TwoLevelResult {
  const { reps = 2000, seed = 0, tasks: resampleTasks = true, statistic = iqm, pairSeeds = true } = options;
  const tasks = checkShape(scoresByMethod, pairSeeds);
  const rng = Rng.seeded(seed).split(`${resampleTasks ? 'two-level' : 'seeds'}${pairSeeds ? '' : '/unpaired-seeds'}`);
  const indices = (n: number) => Array.from({ length: n }, (_, i) => i);
  const draw = (n: number) => indices(n).map(() => rng.int(0, n - 1));
  const allTasks = indices(tasks);
  const replicates: number[][] = scoresByMethod.map(() => new Array<number>(reps));
  for (let r = 0; r < reps; r++) {
    const seedDraw = pairSeeds ? draw(scoresByMethod[0]?.length ?? 0) : undefined;
    const taskDraw = resampleTasks ? draw(tasks) : allTasks;
    scoresByMethod.forEach((matrix, m) => {
      (replicates[m] as number[])[r] = statistic(runScores(matrix, seedDraw ?? draw(matrix.length), taskDraw));
    });
  }
  return {
    estimates: scoresByMethod.map((matrix) => statistic(runScores(matrix, indices(matrix.length), allTasks))),
    replicates,
  };
}

/**
 * Two-sided bootstrap p-value of "no difference" from replicates of a difference: twice the
 * smaller tail beyond 0, with the (1 + count) / (1 + reps) Monte Carlo correction
 * (Davison & Hinkley 1997, chapter 4), capped at 1. A difference whose percentile interval at
 * level 1 - alpha excludes 0 has p <= alpha (up to that correction).
 */
export function bootstrapPValue(differences: readonly number[]): number {
  let atOrBelow = 0;
  let atOrAbove = 0;
  for (const d of differences) {
    if (d <= 0) atOrBelow++;
    if (d >= 0) atOrAbove++;
  }
  const tail = (1 + Math.min(atOrBelow, atOrAbove)) / (1 + differences.length);
  return Math.min(1, 2 * tail);
}

export interface PairedDifference {
  /** statistic(x) - statistic(y), with its percentile interval. */
  difference: Interval;
  p: number;
}

/** The paired difference of methods i and j from shared replicates. */
export function pairedDifference(result: TwoLevelResult, i: number, j: number, level = 0.95): PairedDifference {
  const x = result.replicates[i] as number[];
  const y = result.replicates[j] as number[];
  const differences = x.map((v, r) => v - (y[r] as number));
  const estimate = (result.estimates[i] as number) - (result.estimates[j] as number);
  return { difference: percentileInterval(estimate, differences, level), p: bootstrapPValue(differences) };
}

/** Per-method percentile intervals from shared replicates. */
export function replicateIntervals(result: TwoLevelResult, level = 0.95): Interval[] {
  return result.estimates.map((estimate, m) => percentileInterval(estimate, result.replicates[m] as number[], level));
}
