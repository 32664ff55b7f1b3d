/**
 * A comparison against an earlier results.json of the same protocol (`bench compare --baseline`):
 * per (environment, method) present in both, IQM now minus IQM then, with the statistics of
 * the pairs. The test tasks are the same (the first evalTasks of the test split, same
 * environment options), so one task draw serves both. When both sides ran the same seeds, seed
 * k now and seed k then share their randomness (SFT start, initial evaluation, task draws:
 * common random numbers), so the seeds are paired too and the seed effect cancels from the
 * difference; with other seeds they are different runs, resampled on their own side. Verdicts
 * are Holm-adjusted across every (environment, method) compared.
 */
import { existsSync, readFileSync } from 'node:fs';
import { formatBudget, UsageError } from '@policy-lab/core';
import { type CompareConfig, SFT_START } from '../compare/plan.js';
import { holmAdjust } from '../stats/holm.js';
import type { Interval } from '../stats/rliable.js';
import { pairedDifference, replicateIntervals, twoLevelReplicates } from '../stats/two-level.js';
import { ALPHA, type Evaluation, type RunRecord, sftStartBySeed } from './aggregate.js';
import type { ComparisonDocument } from './render.js';

export interface BaselineVerdict {
  env: string;
  method: string;
  /** IQM over seeds now and in the baseline, with their intervals under the same resampling. */
  current: Interval;
  baseline: Interval;
  /** current - baseline. */
  difference: Interval;
  resampled: 'seeds and tasks' | 'seeds';
  /** Seed k now was compared with seed k then (both sides ran the same seeds). */
  pairedSeeds: boolean;
  p: number;
  pHolm: number;
  verdict: 'improved' | 'no difference' | 'regressed';
}

export interface BaselineComparison {
  file: string;
  gitDescribe: string | null;
  /** Settings in which the two comparisons differ (budget, evaluation and environment options never do). */
  differences: string[];
  bootstrap: { reps: number; level: number; seed: number };
  alpha: number;
  verdicts: BaselineVerdict[];
}

/** Reads a baseline results.json; any problem is bad input (exit 2), named in one line. */
export function loadBaseline(file: string): ComparisonDocument {
  if (!existsSync(file)) throw new UsageError(`--baseline ${file} not found: give the results.json of an earlier comparison`);
  let document: ComparisonDocument;
  try {
    document = JSON.parse(readFileSync(file, 'utf8')) as ComparisonDocument;
  } catch (error) {
    throw new UsageError(`--baseline ${file}: not valid JSON (${(error as Error).message})`);
  }
  if (document?.kind !== 'compare' || !Array.isArray(document.runs) || typeof document.config !== 'object')
    throw new UsageError(`--baseline ${file}: not the results.json of a comparison (kind ${String(document?.kind)})`);
  document.runs.forEach((run, i) => {
    if (typeof run?.final?.success !== 'number' || typeof run.initial?.success !== 'number' || typeof run.seed !== 'number')
      throw new UsageError(`--baseline ${file}: runs[${i}] has no numeric seed, initial.success and final.success`);
  });
  return document;
}

const json = (value: unknown) => JSON.stringify(value ?? null);

/** An environment's own budgets (a preset's per-environment sizes) as text, for comparing protocols. */
const budgetsByEnv = (budgets: CompareConfig['envBudgets']) =>
  budgets && Object.fromEntries(Object.entries(budgets).map(([env, budget]) => [env, formatBudget(budget)]));

/**
 * Checks that a baseline ran the same protocol: the same budget per run, the same evaluation
 * (evalTasks, evalSamples) and the same environment options are required (else its numbers
 * measure something else); other differences (seeds, learning rate, ...) are what a baseline
 * is for, and are listed.
 */
export function baselineDifferences(config: CompareConfig, baseline: ComparisonDocument, file: string): string[] {
  const then = baseline.config as unknown as Partial<CompareConfig> & { budget?: unknown };
  const thenOverrides = (then.overrides ?? {}) as Record<string, unknown>;
  const required: [string, unknown, unknown][] = [
    ['budget', formatBudget(config.budget), then.budget ? formatBudget(then.budget as CompareConfig['budget']) : undefined],
    ['envBudgets', budgetsByEnv(config.envBudgets), budgetsByEnv(then.envBudgets)],
    ['envOverrides', config.envOverrides, then.envOverrides],
    ['evalTasks', config.overrides.evalTasks, thenOverrides.evalTasks],
    ['evalSamples', config.overrides.evalSamples, thenOverrides.evalSamples],
    ['envOptions', config.overrides.envOptions, thenOverrides.envOptions],
  ];
  for (const [name, now, before] of required) {
    if (json(now) !== json(before))
      throw new UsageError(
        `--baseline ${file} ran another protocol: ${name} ${json(before)} there, ${json(now)} here (the budgets, evalTasks, evalSamples and envOptions must match)`,
      );
  }
  const common = (config.envs ?? []).filter((env) => (then.envs ?? []).includes(env));
  if (common.length === 0)
    throw new UsageError(
      `--baseline ${file} shares no environment with this comparison (it ran ${(then.envs ?? []).join(', ') || 'none'})`,
    );
  const differences: string[] = [];
  if ((then.seeds ?? []).length !== config.seeds.length)
    differences.push(`seeds ${config.seeds.length} here, ${(then.seeds ?? []).length} there`);
  const keys = new Set([...Object.keys(config.overrides), ...Object.keys(thenOverrides)]);
  for (const key of [...keys].sort()) {
    if (json(config.overrides[key]) !== json(thenOverrides[key]))
      differences.push(`${key} ${json(config.overrides[key])} here, ${json(thenOverrides[key])} there`);
  }
  if (then.backend !== undefined && then.backend !== config.backend)
    differences.push(`backend ${config.backend} here, ${String(then.backend)} there`);
  return differences;
}

/** Each seed's evaluation of a method in one environment, in seed order (the SFT start: the initial evaluations). */
function evaluations(runs: readonly RunRecord[], env: string, method: string): { seed: number; evaluation: Evaluation }[] {
  const envRuns = runs.filter((r) => r.env === env).sort((a, b) => a.seed - b.seed);
  if (method !== SFT_START) return envRuns.filter((r) => r.method === method).map((r) => ({ seed: r.seed, evaluation: r.final }));
  return [...sftStartBySeed(envRuns).entries()].map(([seed, evaluation]) => ({ seed, evaluation }));
}

const sameSeeds = (a: readonly { seed: number }[], b: readonly { seed: number }[]) =>
  a.length === b.length && a.every((x, i) => x.seed === b[i]?.seed);

export function compareWithBaseline(
  current: Pick<ComparisonDocument, 'runs'>,
  baseline: ComparisonDocument,
  file: string,
  differences: string[],
  bootstrap: { reps: number; level: number; seed: number },
): BaselineComparison {
  const verdicts: Omit<BaselineVerdict, 'pHolm' | 'verdict'>[] = [];
  const envs = [...new Set(current.runs.map((r) => r.env))].filter((env) => baseline.runs.some((r) => r.env === env));
  for (const env of envs) {
    const methods = [SFT_START, ...new Set(current.runs.filter((r) => r.env === env).map((r) => r.method))];
    for (const method of methods) {
      const nowSeeds = evaluations(current.runs, env, method);
      const thenSeeds = evaluations(baseline.runs, env, method);
      if (nowSeeds.length === 0 || thenSeeds.length === 0) continue;
      const pairedSeeds = sameSeeds(nowSeeds, thenSeeds);
      const now = nowSeeds.map((s) => s.evaluation);
      const then = thenSeeds.map((s) => s.evaluation);
      const tasks = new Set([...now, ...then].map((e) => e.perTask?.length ?? 0));
      const twoLevel = tasks.size === 1 && !tasks.has(0);
      const matrix = (side: Evaluation[]) => side.map((e) => (twoLevel ? (e.perTask as number[]) : [e.success]));
      const result = twoLevelReplicates([matrix(now), matrix(then)], {
        reps: bootstrap.reps,
        seed: bootstrap.seed,
        tasks: twoLevel,
        pairSeeds: pairedSeeds,
      });
      const [currentInterval, baselineInterval] = replicateIntervals(result, bootstrap.level) as [Interval, Interval];
      const { difference, p } = pairedDifference(result, 0, 1, bootstrap.level);
      verdicts.push({
        env,
        method,
        current: currentInterval,
        baseline: baselineInterval,
        difference,
        resampled: twoLevel ? 'seeds and tasks' : 'seeds',
        pairedSeeds,
        p,
      });
    }
  }
  const adjusted = holmAdjust(verdicts.map((v) => v.p));
  return {
    file,
    gitDescribe: baseline.gitDescribe ?? null,
    differences,
    bootstrap,
    alpha: ALPHA,
    verdicts: verdicts.map((v, k) => {
      const pHolm = adjusted[k] as number;
      const verdict =
        pHolm >= ALPHA || v.difference.estimate === 0 ? 'no difference' : v.difference.estimate > 0 ? 'improved' : 'regressed';
      return { ...v, pHolm, verdict };
    }),
  };
}
