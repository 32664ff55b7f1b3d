/**
 * Aggregates of a comparison, per environment and across environments (success already
 * lives in [0, 1], so the per-environment normalisation is the identity; it is stated in
 * the report). Intervals are 95% stratified bootstrap CIs over seeds and, where the runs
 * recorded per-task outcomes, 95% two-level CIs over seeds and test tasks; overlapping
 * intervals mean no difference was detected, and the report never ranks on point estimates
 * alone. Every pair also gets a paired difference with a bootstrap p-value, Holm-adjusted
 * across all pairs of the comparison.
 */

import { SFT_START } from '../compare/plan.js';
import type { RunCreditMap } from '../diagnostics/credit-map.js';
import { holmAdjust } from '../stats/holm.js';
import {
  type Interval,
  iqm,
  mean,
  overlaps,
  performanceProfile,
  probabilityOfImprovementCI,
  stratifiedBootstrapCI,
} from '../stats/rliable.js';
import { pairedDifference, replicateIntervals, type TwoLevelResult, twoLevelReplicates } from '../stats/two-level.js';

/** Family-wise error rate of the Holm-adjusted verdicts. */
export const ALPHA = 0.05;

export interface Evaluation {
  success: number;
  greedySuccess: number;
  passAtK: number;
  reward: Record<string, number>;
  meanLength?: number;
  /** Each test task's sampled success (absent in results of versions that did not record it). */
  perTask?: number[];
}

export interface RunRecord {
  id: string;
  method: string;
  env: string;
  seed: number;
  budget: { limit: Record<string, number>; consumed: Record<string, number> };
  initial: Evaluation;
  final: Evaluation;
  curve: { step: number; episodes: number; generatedTokens: number; success: number; reward: Record<string, number> }[];
  diagnostics: Record<string, number>;
  steps: number;
  config: Record<string, unknown>;
  /** Diagnostics-only rollouts (sign-flip baseline), outside the RL budget. */
  sideBudget?: { episodes: number; generatedTokens: number };
  /** The run's own clock by phase (sftSeconds, rolloutSeconds, updateSeconds, evalSeconds, totalSeconds). */
  timings?: Record<string, number>;
  /** The per-token credit map of the final policy against its reference, or why the run has none (From r to Q*). */
  creditMap?: RunCreditMap;
  /** The SFT start's rows when a task source added its own (SPARK's judge items): the run started from an SFT of its own. */
  sftStart?: { steps: number; rows: number; extraRows: number; source: string };
  /** A reward model's pre-training on a policy zoo (POLAR), by name: its own side budget, outside the RL budget. */
  rewardModelPretraining?: Record<
    string,
    { episodes: number; generatedTokens: number; auxTrainedTokens: number; seconds: number }
  >;
}

export interface MethodSummary {
  method: string;
  runs: number;
  /** IQM over seeds with the seed-only stratified bootstrap CI. */
  success: Interval;
  /** The same IQM with the two-level (seeds and test tasks) CI, when per-task outcomes exist. */
  successTwoLevel?: Interval;
  greedySuccess: number;
  passAtK: number;
  reward: Record<string, number>;
  diagnostics: Record<string, number>;
  consumed: Record<string, number>;
}

export interface PairComparison {
  x: string;
  y: string;
  probability: Interval;
  /** 'x' or 'y' when the IQM intervals do not overlap, else 'none'. */
  better: 'x' | 'y' | 'none';
  /** IQM(x) - IQM(y) under paired resampling (seeds and, where recorded, test tasks). */
  difference: Interval;
  /** What the paired bootstrap resampled. */
  resampled: 'seeds and tasks' | 'seeds';
  /** Two-sided bootstrap p-value of no difference. */
  p: number;
  /** Holm-adjusted p across every pair of the comparison (all environments). */
  pHolm: number;
  /** 'x' or 'y' when the Holm-adjusted p is below ALPHA, else 'none'. */
  holm: 'x' | 'y' | 'none';
}

export interface CurveSummary {
  method: string;
  points: { index: number; episodes: number; iqm: number; low: number; high: number; reward: Record<string, number> }[];
}

export interface EnvAggregate {
  env: string;
  normalisation: string;
  /** Test tasks every final evaluation ran on (null when the runs did not record per-task outcomes). */
  testTasks: number | null;
  /** Why the two-level intervals are missing, when they are. */
  twoLevelMissing?: string;
  methods: MethodSummary[];
  pairs: PairComparison[];
  curves: CurveSummary[];
  profiles: { method: string; thresholds: number[]; fractions: number[] }[];
}

export interface Aggregates {
  bootstrap: { reps: number; level: number; seed: number };
  /** The multiple-comparison correction of the pairs' verdicts. */
  multipleComparisons: { method: 'holm'; alpha: number; pairs: number };
  envs: EnvAggregate[];
  overall: { method: string; success: Interval }[];
}

const THRESHOLDS = Array.from({ length: 21 }, (_, i) => i / 20);

function meanRecord(records: readonly Record<string, number>[]): Record<string, number> {
  const keys = new Set(records.flatMap((r) => Object.keys(r)));
  return Object.fromEntries([...keys].map((k) => [k, mean(records.map((r) => r[k] ?? 0))]));
}

export function aggregate(
  runs: readonly RunRecord[],
  options: {
    reps?: number;
    seed?: number;
    /**
     * Compare every method with these only (a leaderboard's reference and the SFT start) rather
     * than every pair: with dozens of methods all pairs would be thousands of tests, and Holm
     * across them would detect nothing.
     */
    pairsAgainst?: readonly string[];
  } = {},
): Aggregates {
  const reps = options.reps ?? 2000;
  const seed = options.seed ?? 0;
  const bootstrap = { reps, level: 0.95, seed };
  const envs = [...new Set(runs.map((r) => r.env))];
  const methods = [...new Set(runs.map((r) => r.method))];
  const envAggregates = envs.map((env): EnvAggregate => {
    const envRuns = runs.filter((r) => r.env === env);
    // The SFT start without RL: each seed's initial evaluation, as most of the seed's runs share it.
    const sftBySeed = sftStartBySeed(envRuns);
    // A method without a run here (a leaderboard's skipped pair, or every seed of it failed) is not in this environment.
    const envMethods = methods.filter((m) => envRuns.some((r) => r.method === m));
    const scores = new Map<string, number[]>();
    scores.set(
      SFT_START,
      [...sftBySeed.values()].map((e) => e.success),
    );
    for (const method of envMethods)
      scores.set(
        method,
        envRuns.filter((r) => r.method === method).map((r) => r.final.success),
      );
    const summaries: MethodSummary[] = [
      {
        method: SFT_START,
        runs: sftBySeed.size,
        success: stratifiedBootstrapCI([scores.get(SFT_START) as number[]], (s) => iqm(s.flat()), bootstrap),
        greedySuccess: mean([...sftBySeed.values()].map((e) => e.greedySuccess)),
        passAtK: mean([...sftBySeed.values()].map((e) => e.passAtK)),
        reward: meanRecord([...sftBySeed.values()].map((e) => e.reward)),
        diagnostics: {},
        consumed: {},
      },
      ...envMethods.map((method) => {
        const mine = envRuns.filter((r) => r.method === method);
        return {
          method,
          runs: mine.length,
          success: stratifiedBootstrapCI([scores.get(method) as number[]], (s) => iqm(s.flat()), bootstrap),
          greedySuccess: mean(mine.map((r) => r.final.greedySuccess)),
          passAtK: mean(mine.map((r) => r.final.passAtK)),
          reward: meanRecord(mine.map((r) => r.final.reward)),
          diagnostics: meanRecord(mine.map((r) => r.diagnostics)),
          consumed: meanRecord(mine.map((r) => r.budget.consumed)),
        };
      }),
    ].filter((s) => s.runs > 0);
    const names = summaries.map((s) => s.method);
    const paired = pairedReplicates(envRuns, names, bootstrap);
    if (paired.twoLevel) {
      const intervals = replicateIntervals(paired.result, bootstrap.level);
      summaries.forEach((summary, m) => {
        summary.successTwoLevel = intervals[m] as Interval;
      });
    }
    // Pairs read "method vs the ones after it", with the SFT start always on the right.
    const ordered = [...names.filter((m) => m !== SFT_START), ...names.filter((m) => m === SFT_START)];
    const pairs: PairComparison[] = [];
    for (let i = 0; i < ordered.length; i++) {
      for (let j = i + 1; j < ordered.length; j++) {
        const x = ordered[i] as string;
        const y = ordered[j] as string;
        if (options.pairsAgainst && !options.pairsAgainst.includes(x) && !options.pairsAgainst.includes(y)) continue;
        const a = summaries[names.indexOf(x)] as MethodSummary;
        const b = summaries[names.indexOf(y)] as MethodSummary;
        const better = overlaps(a.success, b.success) ? 'none' : a.success.estimate > b.success.estimate ? 'x' : 'y';
        const { difference, p } = pairedDifference(paired.result, names.indexOf(x), names.indexOf(y), bootstrap.level);
        pairs.push({
          x,
          y,
          probability: probabilityOfImprovementCI([scores.get(x) as number[]], [scores.get(y) as number[]], bootstrap),
          better,
          difference,
          resampled: paired.twoLevel ? 'seeds and tasks' : 'seeds',
          p,
          // Filled in once every environment's pairs are known.
          pHolm: p,
          holm: 'none',
        });
      }
    }
    const curves: CurveSummary[] = envMethods.map((method) => {
      const mine = envRuns.filter((r) => r.method === method);
      const length = Math.min(...mine.map((r) => r.curve.length));
      return {
        method,
        points: Array.from({ length: Number.isFinite(length) ? length : 0 }, (_, index) => {
          const values = mine.map((r) => r.curve[index]?.success ?? 0);
          const ci = stratifiedBootstrapCI([values], (s) => iqm(s.flat()), { ...bootstrap, reps: Math.min(reps, 500) });
          return {
            index,
            episodes: mean(mine.map((r) => r.curve[index]?.episodes ?? 0)),
            iqm: ci.estimate,
            low: ci.low,
            high: ci.high,
            reward: meanRecord(mine.map((r) => r.curve[index]?.reward ?? {})),
          };
        }),
      };
    });
    const profiles = names.map((method) => ({
      method,
      thresholds: THRESHOLDS,
      fractions: performanceProfile([scores.get(method) as number[]], THRESHOLDS),
    }));
    return {
      env,
      normalisation: 'success rate in [0, 1]: used as is (identity normalisation)',
      testTasks: paired.testTasks,
      ...(paired.missing ? { twoLevelMissing: paired.missing } : {}),
      methods: summaries,
      pairs,
      curves,
      profiles,
    };
  });
  // Across environments: each environment is a task (stratum) of the bootstrap.
  const overall = [SFT_START, ...methods].map((method) => {
    const byTask = envAggregates
      .map((e) => {
        const envRuns = runs.filter((r) => r.env === e.env);
        return method === SFT_START
          ? [...sftStartBySeed(envRuns).values()].map((e) => e.success)
          : envRuns.filter((r) => r.method === method).map((r) => r.final.success);
      })
      .filter((s) => s.length > 0);
    return {
      method,
      success: byTask.length
        ? stratifiedBootstrapCI(byTask, (s) => iqm(s.flat()), bootstrap)
        : { estimate: Number.NaN, low: Number.NaN, high: Number.NaN },
    };
  });
  const allPairs = envAggregates.flatMap((e) => e.pairs);
  holmAdjust(allPairs.map((pair) => pair.p)).forEach((pHolm, k) => {
    const pair = allPairs[k] as PairComparison;
    pair.pHolm = pHolm;
    pair.holm = pHolm < ALPHA ? verdictOf(pair.difference) : 'none';
  });
  return {
    bootstrap,
    multipleComparisons: { method: 'holm', alpha: ALPHA, pairs: allPairs.length },
    envs: envAggregates,
    overall,
  };
}

const verdictOf = (difference: Interval): 'x' | 'y' | 'none' =>
  difference.estimate > 0 ? 'x' : difference.estimate < 0 ? 'y' : 'none';

/**
 * Each seed's SFT start in one environment: the initial evaluation most of the seed's runs share.
 * Every method that starts from the shared SFT checkpoint and evaluates it plainly has the same
 * one; a run with a start of its own (a soft prompt, extra warm-start rows) or a decoding of its
 * own (VAS, beam search) has another, whatever its place in the run order. Ties go to a run
 * without a start of its own. Seeds in the order the runs first give them.
 */
/** Whether a run started from a start of its own: a soft prompt, or extra rows in its SFT warm start. */
export function hasOwnStart(r: RunRecord): boolean {
  return Number(r.config.softPrompt ?? 0) > 0 || r.sftStart !== undefined;
}

export function sftStartBySeed(envRuns: readonly RunRecord[]): Map<number, Evaluation> {
  const bySeed = new Map<number, Map<string, { evaluation: Evaluation; count: number; plain: boolean }>>();
  for (const r of envRuns) {
    const groups = bySeed.get(r.seed) ?? new Map<string, { evaluation: Evaluation; count: number; plain: boolean }>();
    bySeed.set(r.seed, groups);
    const { success, greedySuccess, passAtK, perTask } = r.initial;
    const key = JSON.stringify([success, greedySuccess, passAtK, perTask ?? null]);
    const group = groups.get(key) ?? { evaluation: r.initial, count: 0, plain: false };
    group.count += 1;
    group.plain ||= !hasOwnStart(r);
    groups.set(key, group);
  }
  return new Map(
    [...bySeed].map(([seed, groups]) => {
      const [first, ...rest] = [...groups.values()];
      const best = rest.reduce(
        (a, b) => (b.count > a.count || (b.count === a.count && b.plain && !a.plain) ? b : a),
        first as { evaluation: Evaluation; count: number; plain: boolean },
      );
      return [seed, best.evaluation];
    }),
  );
}

/** The evaluation a (method, seed) contributes: the SFT start's is the seed's shared initial evaluation. */
function evaluationOf(envRuns: readonly RunRecord[], method: string, seed: number): Evaluation | undefined {
  return method === SFT_START
    ? sftStartBySeed(envRuns.filter((r) => r.seed === seed)).get(seed)
    : envRuns.find((r) => r.method === method && r.seed === seed)?.final;
}

/**
 * Shared (paired) bootstrap replicates of every method of one environment: over seeds and test
 * tasks when every run recorded the same number of per-task outcomes, else over seeds alone.
 */
function pairedReplicates(
  envRuns: readonly RunRecord[],
  names: readonly string[],
  bootstrap: { reps: number; seed: number },
): { result: TwoLevelResult; twoLevel: boolean; testTasks: number | null; missing?: string } {
  // Seeds every method ran (all of them, in a finished comparison).
  const seeds = [...new Set(envRuns.map((r) => r.seed))]
    .sort((a, b) => a - b)
    .filter((seed) => names.every((m) => evaluationOf(envRuns, m, seed)));
  const evaluations = names.map((m) => seeds.map((seed) => evaluationOf(envRuns, m, seed) as Evaluation));
  const perTask = evaluations.flat().map((e) => e.perTask);
  const lengths = new Set(perTask.map((t) => t?.length ?? 0));
  const missing = perTask.some((t) => !t?.length)
    ? 'the runs did not record per-task outcomes (results of an earlier version)'
    : lengths.size > 1
      ? `the runs were evaluated on different numbers of test tasks (${[...lengths].join(', ')})`
      : undefined;
  const options = { reps: bootstrap.reps, seed: bootstrap.seed };
  if (missing === undefined) {
    const matrices = evaluations.map((rows) => rows.map((e) => e.perTask as number[]));
    return { result: twoLevelReplicates(matrices, options), twoLevel: true, testTasks: [...lengths][0] as number };
  }
  const matrices = evaluations.map((rows) => rows.map((e) => [e.success]));
  return { result: twoLevelReplicates(matrices, { ...options, tasks: false }), twoLevel: false, testTasks: null, missing };
}
