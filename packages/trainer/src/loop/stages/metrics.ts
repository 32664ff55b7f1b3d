/**
 * Stage 6, metrics: the step's deterministic diagnostics (rewards, success, advantage
 * statistics, the estimator's own numbers, the update's averages). Wall-clock figures are kept
 * apart (the timing log), so the metrics of two identical runs are byte-identical.
 */
import { type Advantages, collapsedRewardVectors, signFlips } from '@policy-lab/core';
import { collectRollouts, generatedTokens } from '../rollouts.js';
import type { StepContext } from '../step-context.js';
import { referenceTokenMatch } from '../teacher-forced.js';
import type { Sampled } from './sample.js';
import type { Updated } from './update.js';

export type StepMetrics = Record<string, number>;

export function stepMetrics(
  ctx: StepContext,
  sampled: Sampled,
  advantages: Advantages,
  signFlipRate: number | undefined,
  updated: Updated,
): StepMetrics {
  const { groups } = sampled;
  const all = groups.flat();
  const rewards = all.map((r) => ctx.scalar(r.reward));
  const turns = all.flatMap((r) => r.turns);
  const metrics: StepMetrics = {
    rewardMean: mean(rewards),
    rewardStd: std(rewards),
    successRate: mean(all.map((r) => (r.success ? 1 : 0))),
    zeroStdGroupFraction: mean(groups.map((g) => (std(g.map((r) => ctx.scalar(r.reward))) === 0 ? 1 : 0))),
    zeroAdvantageFraction: zeroFraction(advantages),
    advantageMean: mean(advantages.rollout.flat()),
    advantageAbsMean: mean(advantages.rollout.flat().map(Math.abs)),
    meanActionTokens: mean(turns.map((t) => t.actionTokens.length)),
    truncationRate: mean(turns.map((t) => (t.truncated ? 1 : 0))),
    invalidRate: mean(turns.map((t) => (t.valid ? 0 : 1))),
    ...(sampled.divergences ? { kl: mean(sampled.divergences) } : {}),
    ...(sampled.discardedGroups !== undefined ? { discardedGroups: sampled.discardedGroups } : {}),
    collapsedRewardVectors: collapsedRewardVectors(
      advantages.rollout,
      groups.map((g) => g.map((r) => r.reward)),
    ),
    ...(signFlipRate !== undefined ? { signFlipRate } : {}),
  };
  const match = referenceTokenMatch(turns);
  if (match !== undefined) metrics.referenceTokenMatch = match;
  for (const { name } of ctx.plugins.env.rewardComponents) metrics[`reward.${name}`] = mean(all.map((r) => r.reward[name] ?? 0));
  for (const [key, value] of Object.entries(advantages.diagnostics ?? {})) metrics[`estimator.${key}`] = value;
  Object.assign(metrics, updated.metrics, ctx.logged);
  for (const [key, value] of Object.entries(ctx.tasks.metrics?.() ?? {})) metrics[`taskSource.${key}`] = value;
  if (ctx.plugins.sampler && ctx.plugins.sampler.strategy !== 'sample') metrics.groupSize = mean(groups.map((g) => g.length));
  metrics.divergenceCoef = ctx.divergenceCoef;
  return metrics;
}

/**
 * Advantage sign flips against a many-rollout baseline per task, every signFlipEvery steps, on
 * a side budget and from its own random stream: the training trajectory is the same with or
 * without it. Measured before the update, since it judges the policy that sampled the groups.
 * Shapers and reward models do not run on side rollouts, so both the groups and the baselines
 * are read on the environment's own components.
 */
export async function measureSignFlips(ctx: StepContext, sampled: Sampled, advantages: Advantages): Promise<number | undefined> {
  const every = ctx.config.signFlipEvery ?? 0;
  const { groups, requests } = sampled;
  if (!(every > 0) || ctx.step % every !== 0 || groups.length === 0) return undefined;
  const count = ctx.config.signFlipRollouts ?? 16;
  const sideRollouts = await collectRollouts(
    ctx.policy,
    ctx.tokenizer,
    ctx.plugins.env,
    groups.map((g, k) => ({
      task: requests.find((r) => r.groupId === g[0]?.groupId)?.task ?? requests[k]?.task,
      groupId: `side${k}`,
      count,
    })),
    { maxNewTokens: ctx.config.maxNewTokens, temperature: ctx.config.temperature, rng: ctx.rng.split('side') },
  );
  ctx.side.episodes += sideRollouts.flat().length;
  ctx.side.generatedTokens += generatedTokens(sideRollouts.flat());
  const baselines = sideRollouts.map((g) => mean(g.map((r) => ctx.envScalar(r.reward))));
  return signFlips(
    advantages.rollout,
    groups.map((g) => g.map((r) => ctx.envScalar(r.reward))),
    baselines,
  );
}

function zeroFraction(advantages: Advantages): number {
  const trained = advantages.rollout.flatMap((g, i) => g.filter((_, j) => (advantages.weights[i]?.[j] ?? 1) > 0));
  return trained.length ? trained.filter((a) => Math.abs(a) <= 1e-9).length / trained.length : 0;
}

export const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
export const std = (xs: readonly number[]): number => {
  const m = mean(xs);
  return xs.length ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length) : 0;
};
