/**
 * The leaderboard of a multi-environment comparison, in the rliable protocol (Agarwal et al.,
 * "Deep RL at the Edge of the Statistical Precipice", NeurIPS 2021): each run's success is
 * normalised per environment, the aggregate is the interquartile mean of the normalised scores
 * over every (environment, seed) with a stratified bootstrap interval (environments are the
 * strata, seeds are resampled within each), and performance profiles give the fraction of runs
 * above each normalised score.
 *
 * Normalisation: 0 is the environment's SFT start (the mean over seeds of every run's initial
 * evaluation), 1 is every test task solved, so a score is the share of the SFT start's headroom
 * that RL closed (negative: RL made the policy worse). Environments differ in how hard they are
 * and how good their SFT start is; this puts them on one scale.
 */
import { SFT_START } from '../compare/plan.js';
import { hasOwnStart, type RunRecord, sftStartBySeed } from '../report/aggregate.js';
import {
  type BootstrapOptions,
  type Interval,
  iqm,
  mean,
  performanceProfile,
  probabilityOfImprovementCI,
  stratifiedBootstrapCI,
} from '../stats/rliable.js';
import type { SkippedPair } from './select.js';

/** Normalised-score thresholds of the performance profiles (-0.5 to 1 by 0.05). */
export const PROFILE_THRESHOLDS = Array.from({ length: 31 }, (_, i) => Math.round((-0.5 + i * 0.05) * 100) / 100);

export interface EnvNormaliser {
  env: string;
  /** The SFT start's mean success (normalised 0). */
  start: number;
  /** Why the environment is left out of the normalised aggregates (an SFT start that solves everything). */
  excluded?: string;
}

export interface BoardRow {
  method: string;
  /** Environments the method ran on (of the board's). */
  envs: string[];
  runs: number;
  /** IQM of normalised scores over (environment, seed) with the stratified bootstrap CI. */
  normalised: Interval;
  /** Each environment's IQM success over seeds (raw, in [0, 1]). */
  success: Record<string, number>;
  /** P(this method > the reference) averaged over the shared environments, with its CI. */
  improvementOverReference?: Interval;
  profile: number[];
  /**
   * Environments where the method's runs started from a start of their own (extra warm-start rows,
   * a soft prompt): normalised against the board's SFT start, their score mixes that start with the RL.
   */
  ownStart?: string[];
}

export interface Leaderboard {
  normalisation: string;
  reference: string;
  envs: EnvNormaliser[];
  /** Methods that ran on every environment of the board, best aggregate first. */
  ranked: BoardRow[];
  /** Methods that ran on some environments only: their aggregate covers fewer strata, so it is not ranked with the others. */
  partial: BoardRow[];
  skipped: SkippedPair[];
  thresholds: number[];
  bootstrap: { reps: number; level: number; seed: number };
}

export const NORMALISATION =
  "per environment: 0 = the SFT start's mean success, 1 = every test task solved ((success - start) / (1 - start))";

export function normalise(success: number, start: number): number {
  return (success - start) / (1 - start);
}

export function buildLeaderboard(
  runs: readonly RunRecord[],
  options: { skipped?: readonly SkippedPair[]; reference?: string; bootstrap?: BootstrapOptions } = {},
): Leaderboard {
  const bootstrap = {
    reps: options.bootstrap?.reps ?? 2000,
    level: options.bootstrap?.level ?? 0.95,
    seed: options.bootstrap?.seed ?? 0,
  };
  const envNames = [...new Set(runs.map((r) => r.env))];
  const envs: EnvNormaliser[] = envNames.map((env) => {
    // One SFT start per seed: the one most of the seed's runs share.
    const starts = [...sftStartBySeed(runs.filter((r) => r.env === env)).values()].map((e) => e.success);
    const start = mean(starts);
    return start >= 1
      ? { env, start, excluded: 'its SFT start already solves every test task (no headroom to normalise by)' }
      : { env, start };
  });
  const usable = envs.filter((e) => !e.excluded);
  const methods = [...new Set(runs.map((r) => r.method))].filter((m) => m !== SFT_START);
  const scoresOf = (method: string): { env: string; scores: number[] }[] =>
    usable
      .map((e) => ({
        env: e.env,
        scores: runs.filter((r) => r.method === method && r.env === e.env).map((r) => normalise(r.final.success, e.start)),
      }))
      .filter((s) => s.scores.length > 0);
  const reference = options.reference && methods.includes(options.reference) ? options.reference : undefined;
  const referenceScores = reference ? scoresOf(reference) : [];
  const rows: BoardRow[] = methods.map((method) => {
    const byEnv = scoresOf(method);
    const mine = runs.filter((r) => r.method === method);
    const shared = byEnv.filter((s) => referenceScores.some((r) => r.env === s.env));
    const row: BoardRow = {
      method,
      envs: [...new Set(mine.map((r) => r.env))],
      runs: mine.length,
      normalised: byEnv.length
        ? stratifiedBootstrapCI(
            byEnv.map((s) => s.scores),
            (s) => iqm(s.flat()),
            bootstrap,
          )
        : { estimate: Number.NaN, low: Number.NaN, high: Number.NaN },
      success: Object.fromEntries(
        envNames.map((env) => [env, iqm(mine.filter((r) => r.env === env).map((r) => r.final.success))]),
      ),
      profile: performanceProfile(
        byEnv.map((s) => s.scores),
        PROFILE_THRESHOLDS,
      ),
    };
    const ownStart = [...new Set(mine.filter(hasOwnStart).map((r) => r.env))];
    if (ownStart.length) row.ownStart = ownStart;
    if (reference && method !== reference && shared.length)
      row.improvementOverReference = probabilityOfImprovementCI(
        shared.map((s) => s.scores),
        shared.map((s) => referenceScores.find((r) => r.env === s.env)?.scores ?? []),
        bootstrap,
      );
    return row;
  });
  const byScore = (a: BoardRow, b: BoardRow) => b.normalised.estimate - a.normalised.estimate || a.method.localeCompare(b.method);
  const complete = (row: BoardRow) => envNames.every((env) => row.envs.includes(env));
  return {
    normalisation: NORMALISATION,
    reference: reference ?? '',
    envs,
    ranked: rows.filter(complete).sort(byScore),
    partial: rows.filter((row) => !complete(row)).sort(byScore),
    skipped: [...(options.skipped ?? [])],
    thresholds: PROFILE_THRESHOLDS,
    bootstrap,
  };
}
