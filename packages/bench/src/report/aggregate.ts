/**
 * Aggregates of a comparison, per environment and across environments (success already
 * lives in [0, 1], so the per-environment normalisation is the identity; it is stated in
 * the report). Intervals are 95% stratified bootstrap CIs; overlapping intervals mean no
 * difference was detected, and the report never ranks on point estimates alone.
 */

import { SFT_START } from '../compare/plan.js';
import {
  type Interval,
  iqm,
  mean,
  overlaps,
  performanceProfile,
  probabilityOfImprovementCI,
  stratifiedBootstrapCI,
} from '../stats/rliable.js';

export interface RunRecord {
  id: string;
  method: string;
  env: string;
  seed: number;
  budget: { limit: Record<string, number>; consumed: Record<string, number> };
  initial: { success: number; greedySuccess: number; passAtK: number; reward: Record<string, number>; meanLength?: number };
  final: { success: number; greedySuccess: number; passAtK: number; reward: Record<string, number>; meanLength?: number };
  curve: { step: number; episodes: number; generatedTokens: number; success: number; reward: Record<string, number> }[];
  diagnostics: Record<string, number>;
  steps: number;
  config: Record<string, unknown>;
  /** Diagnostics-only rollouts (sign-flip baseline), outside the RL budget. */
  sideBudget?: { episodes: number; generatedTokens: number };
}

export interface MethodSummary {
  method: string;
  runs: number;
  success: Interval;
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
}

export interface CurveSummary {
  method: string;
  points: { index: number; episodes: number; iqm: number; low: number; high: number; reward: Record<string, number> }[];
}

export interface EnvAggregate {
  env: string;
  normalisation: string;
  methods: MethodSummary[];
  pairs: PairComparison[];
  curves: CurveSummary[];
  profiles: { method: string; thresholds: number[]; fractions: number[] }[];
}

export interface Aggregates {
  bootstrap: { reps: number; level: number; seed: number };
  envs: EnvAggregate[];
  overall: { method: string; success: Interval }[];
}

const THRESHOLDS = Array.from({ length: 21 }, (_, i) => i / 20);

function meanRecord(records: readonly Record<string, number>[]): Record<string, number> {
  const keys = new Set(records.flatMap((r) => Object.keys(r)));
  return Object.fromEntries([...keys].map((k) => [k, mean(records.map((r) => r[k] ?? 0))]));
}

export function aggregate(runs: readonly RunRecord[], options: { reps?: number; seed?: number } = {}): Aggregates {
  const reps = options.reps ?? 2000;
  const seed = options.seed ?? 0;
  const bootstrap = { reps, level: 0.95, seed };
  const envs = [...new Set(runs.map((r) => r.env))];
  const methods = [...new Set(runs.map((r) => r.method))];
  const envAggregates = envs.map((env): EnvAggregate => {
    const envRuns = runs.filter((r) => r.env === env);
    // The SFT start without RL: each seed's initial evaluation (identical across methods of a seed).
    const sftBySeed = new Map(envRuns.map((r) => [r.seed, r.initial]));
    const scores = new Map<string, number[]>();
    scores.set(
      SFT_START,
      [...sftBySeed.values()].map((e) => e.success),
    );
    for (const method of methods)
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
      ...methods.map((method) => {
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
    // Pairs read "method vs the ones after it", with the SFT start always on the right.
    const ordered = [...summaries.filter((s) => s.method !== SFT_START), ...summaries.filter((s) => s.method === SFT_START)];
    const pairs: PairComparison[] = [];
    for (let i = 0; i < ordered.length; i++) {
      for (let j = i + 1; j < ordered.length; j++) {
        const a = ordered[i] as MethodSummary;
        const b = ordered[j] as MethodSummary;
        const x = a.method;
        const y = b.method;
        const better = overlaps(a.success, b.success) ? 'none' : a.success.estimate > b.success.estimate ? 'x' : 'y';
        pairs.push({
          x,
          y,
          probability: probabilityOfImprovementCI([scores.get(x) as number[]], [scores.get(y) as number[]], bootstrap),
          better,
        });
      }
    }
    const curves: CurveSummary[] = methods.map((method) => {
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
          ? [...new Map(envRuns.map((r) => [r.seed, r.initial.success])).values()]
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
  return { bootstrap, envs: envAggregates, overall };
}
