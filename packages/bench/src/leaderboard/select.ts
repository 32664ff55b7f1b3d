/**
 * Which (method, environment) pairs a leaderboard (`bench compare --all`) runs: every
 * registered method, or a named set, on every environment, or a named set; a pair the trainer
 * would refuse (a teacher or a --data file it needs, a reward component or several turns the
 * environment lacks) is listed as skipped with the refusal's words instead of failing the run.
 */
import { type Registry, UsageError } from '@policy-lab/core';

export interface SkippedPair {
  method: string;
  /** The environment, or '*' when the method runs on none of the leaderboard's environments. */
  env: string;
  reason: string;
}

export interface LeaderboardSelection {
  methods: string[];
  envs: string[];
  skipped: SkippedPair[];
}

/** The trainer's refusal of one pair (its whyUnfit), or undefined when the pair trains. */
export type WhyUnfit = (pair: { method: string; env: string; overrides: Record<string, unknown> }) => string | undefined;

export function selectLeaderboard(
  registry: Registry,
  input: {
    methods: readonly string[];
    envs: readonly string[] | undefined;
    overrides: Record<string, unknown>;
    whyUnfit: WhyUnfit;
  },
): LeaderboardSelection {
  const methods = input.methods.length ? [...input.methods] : registry.names('methods');
  const envs = input.envs?.length ? [...input.envs] : registry.names('environments');
  for (const method of methods) registry.get('methods', method);
  for (const env of envs) registry.get('environments', env);
  const skipped: SkippedPair[] = [];
  const kept: string[] = [];
  for (const method of methods) {
    const refusals = envs.map((env) => ({ env, reason: input.whyUnfit({ method, env, overrides: input.overrides }) }));
    const refused = refusals.filter((r): r is { env: string; reason: string } => r.reason !== undefined);
    if (refused.length === envs.length) {
      // The same refusal everywhere (a teacher, a data file) is said once.
      const reasons = [...new Set(refused.map((r) => r.reason))];
      skipped.push({ method, env: '*', reason: reasons.length === 1 ? (reasons[0] as string) : reasons.join('; ') });
      continue;
    }
    kept.push(method);
    for (const r of refused) skipped.push({ method, env: r.env, reason: r.reason });
  }
  if (kept.length === 0)
    throw new UsageError(
      `no method of the leaderboard trains on ${envs.join(', ')}: ${skipped.map((s) => `${s.method} (${s.reason})`).join('; ')}`,
    );
  return { methods: kept, envs, skipped };
}
