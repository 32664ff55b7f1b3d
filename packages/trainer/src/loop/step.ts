/**
 * One training step, top to bottom:
 *   sample (tasks, rollouts, reward and shape) -> estimate -> update -> charge -> metrics.
 * Each stage is a module under stages/; they share one StepContext.
 */
import { RunError, type TrainConfig } from '@policy-lab/core';
import type { TrainOptions } from './api.js';
import type { PreferencePair, UnpairedExample } from './data.js';
import { pairRows } from './pairs.js';
import { chargeStep } from './stages/charge.js';
import { estimate, estimatorContext } from './stages/estimate.js';
import { measureSignFlips, type StepMetrics, stepMetrics } from './stages/metrics.js';
import { rolloutsPerGroup, sample } from './stages/sample.js';
import { update, updateLabelled, updatePairs } from './stages/update.js';
import type { StepContext } from './step-context.js';
import { proposeContext, taskFeedback } from './task-stream.js';
import { exampleRows, unpair } from './unpaired.js';

export interface StepOutcome {
  metrics: StepMetrics;
  /**
   * Wall clock, for the timing log and the cost report only: the whole step, and its sampling
   * (rollouts, scoring, reward models) and update stages; the rest is advantages and diagnostics.
   */
  timing: { seconds: number; tokensPerSecond: number; rolloutSeconds?: number; updateSeconds?: number };
}

export async function runStep(ctx: StepContext): Promise<StepOutcome> {
  const started = performance.now();
  const sampled = await sample(ctx, (requests, groups) => estimatorContext(ctx, requests, groups));
  const sampledAt = performance.now();
  const advantages = await estimate(ctx, sampled);
  ctx.tasks.observe?.(
    taskFeedback(sampled.requests, sampled.groups, (r) => ctx.envScalar(r.reward)),
    ctx.step,
  );
  if (ctx.tasks.propose) await ctx.tasks.propose(proposeContext(ctx));
  const signFlipRate = await measureSignFlips(ctx, sampled, advantages);
  const updateFrom = performance.now();
  const updated = await update(ctx, sampled, advantages);
  const ended = performance.now();
  const seconds = (ended - started) / 1000;
  chargeStep(ctx, updated, seconds);
  return {
    metrics: stepMetrics(ctx, sampled, advantages, signFlipRate, updated),
    timing: {
      seconds,
      tokensPerSecond: sampled.tokensPerSecond,
      rolloutSeconds: (sampledAt - started) / 1000,
      updateSeconds: (ended - updateFrom) / 1000,
    },
  };
}

/**
 * One offline step (`--data`): pairs (2 episodes charged each) or labelled examples (1 each)
 * drawn from the dataset with replacement instead of sampled; a paired dataset feeds a
 * labelled objective unpaired, as TRL does. Then the same update and charge stages.
 */
export async function runOfflineStep(ctx: StepContext, dataset: NonNullable<TrainOptions['preferences']>): Promise<StepOutcome> {
  const started = performance.now();
  const { loss } = ctx.plugins;
  const episodes = ctx.config.tasksPerStep * rolloutsPerGroup(ctx);
  const draw = ctx.rng.split('pairs');
  const pick = <T>(pool: readonly T[]): T => pool[draw.int(0, pool.length - 1)] as T;
  let metrics: StepMetrics;
  let trainedTokens: number;
  if (loss.kind === 'labelled') {
    const pool: readonly UnpairedExample[] = dataset.examples ?? unpair(dataset.pairs ?? []);
    const examples = Array.from({ length: episodes }, () => exampleRows(pick(pool), ctx.tokenizer, ctx.config));
    ctx.charge({ episodes });
    const done = await updateLabelled(ctx, examples, loss);
    metrics = { preferenceExamples: episodes, ...done.metrics };
    trainedTokens = done.trainedTokens;
  } else if (loss.kind === 'pairs') {
    const count = Math.max(1, Math.floor(episodes / 2));
    const pairs = Array.from({ length: count }, () =>
      pairRows(pick(dataset.pairs ?? ([] as PreferencePair[])), ctx.tokenizer, ctx.config),
    );
    ctx.charge({ episodes: 2 * count });
    const done = await updatePairs(ctx, pairs, loss, 'offline');
    metrics = { preferencePairs: count, ...done.metrics };
    trainedTokens = done.trainedTokens;
  } else {
    throw new RunError(`loss '${loss.name}' trains on rollout rows; an offline dataset needs a preference loss`);
  }
  const seconds = (performance.now() - started) / 1000;
  chargeStep(ctx, { metrics, trainedTokens }, seconds);
  metrics.divergenceCoef = ctx.divergenceCoef;
  return { metrics, timing: { seconds, tokensPerSecond: 0, updateSeconds: seconds } };
}

/** The worst case of one step, for "stop before a step that could exceed the budget". */
export function worstCaseStep(config: TrainConfig, episodesPerStep: number, maxTurns: number) {
  return { episodes: episodesPerStep, generatedTokens: episodesPerStep * maxTurns * config.maxNewTokens };
}
