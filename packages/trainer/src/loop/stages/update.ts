/**
 * Stage 4, update: epochs x minibatches of the step's training items through the one
 * accumulate-and-apply. What the items are depends on the loss's kind: advantage-weighted rows,
 * chosen/rejected pairs, or labelled completions; divergence placement and loss inputs are
 * the same on every path, the verification pass (PIPO) included.
 */
import {
  type Advantages,
  type LabelledLoss,
  type PairLoss,
  type Rollout,
  type RowLoss,
  RunError,
  type UncertaintySelection,
} from '@policy-lab/core';
import type * as tf from '@tensorflow/tfjs-core';
import { rowsFromRollouts, type TrainingRow } from '../batch.js';
import { minibatchesOf, rowGroup } from '../minibatches.js';
import { pairsFromDemonstrations, pairsFromGroups, type TokenPair } from '../pairs.js';
import { optimizePairs } from '../preference.js';
import { scheduledRate } from '../schedules.js';
import { demonstrationRows } from '../sft.js';
import { lossDivergenceCoef, type StepContext } from '../step-context.js';
import { type LabelledCompletion, labelledFromGroups, optimizeUnpaired } from '../unpaired.js';
import type { UpdateMetrics } from '../update/accumulate.js';
import { updateOnRows } from '../update/rows.js';
import { type UncertaintyStep, uncertaintyPairs } from '../upo.js';
import type { Sampled } from './sample.js';

type Tf = typeof tf;

export interface Updated {
  /** Averages over the step's optimizer updates (loss, gradNorm, clip fractions, kl, entropy, ...). */
  metrics: UpdateMetrics;
  /** Action tokens trained on (counted once, not once per epoch); the charge stage charges them. */
  trainedTokens: number;
}

const NOTHING: Updated = { metrics: {}, trainedTokens: 0 };

export async function update(ctx: StepContext, sampled: Sampled, advantages: Advantages): Promise<Updated> {
  const { loss } = ctx.plugins;
  switch (loss.kind) {
    case 'rows':
      return updateRowsStep(ctx, sampled.groups, advantages, loss);
    case 'pairs': {
      const selected = loss.needs?.uncertainty ? selectByUncertainty(ctx, sampled, loss.needs.uncertainty) : undefined;
      const pairs = selected ? selected.pairs : onlinePairs(ctx, sampled, loss);
      const done = await updatePairs(ctx, pairs, loss, 'online');
      return { ...done, metrics: { preferencePairs: pairs.length, ...selected?.metrics, ...done.metrics } };
    }
    case 'labelled': {
      const examples = labelledFromGroups(sampled.groups, (r) => ctx.scalar(r.reward));
      const done = await updateLabelled(ctx, examples, loss);
      return { ...done, metrics: { preferenceExamples: examples.length, ...done.metrics } };
    }
  }
}

/** The step's learning rate: the schedule at the budget's progress, times the loss's own scale. */
export function stepLearningRate(ctx: StepContext): number {
  return scheduledRate(ctx.config, ctx.step, ctx.meter.progress()) * (ctx.plugins.loss.learningRateScale ?? 1);
}

/** Rows of the step's groups, then the verification pass an estimator asks for (PIPO), both through updateOnRows. */
async function updateRowsStep(
  ctx: StepContext,
  groups: readonly Rollout[][],
  advantages: Advantages,
  loss: RowLoss<Tf, tf.Tensor>,
): Promise<Updated> {
  const rowsOf = (g: readonly (readonly Rollout[])[], a: Advantages) =>
    rowsFromRollouts(g, a, loss.needs?.rollouts ? ctx.scalar : undefined);
  const rows = rowsOf(groups, advantages);
  if (rows.length === 0) return NOTHING;
  const learningRate = stepLearningRate(ctx);
  const rowUpdate = (part: readonly TrainingRow[], tag: string) =>
    updateOnRows(part, {
      plugins: { ...ctx.plugins, loss },
      policy: ctx.policy,
      ...(ctx.reference ? { reference: ctx.reference } : {}),
      ...(ctx.teacher ? { teacher: ctx.teacher } : {}),
      optimizer: ctx.optimizer,
      config: ctx.config,
      learningRate,
      divergenceCoef: lossDivergenceCoef(ctx),
      rng: ctx.rng.split(`loss/${tag}`),
    });
  const done = await epochs(
    rows,
    ctx,
    'minibatches',
    (part, epoch, k) => rowUpdate(part, `${epoch}/${k}`),
    loss.needs?.rollouts ? rowGroup : undefined,
  );
  const verification = ctx.plugins.estimator.verification?.();
  if (verification) {
    const again = rowsOf(verification.groups, verification.advantages);
    if (again.length > 0) {
      const values = await rowUpdate(again, 'verification');
      done.trainedTokens += values.trainedTokens ?? 0;
      done.metrics.verificationLoss = values.loss as number;
    }
  }
  return done;
}

/**
 * UPO's online pairs: candidates ranked by the run's reward (the reward model), judged by the pair
 * estimator, drawn by reliability; the estimator's passes and training are charged as the other
 * models' work (characters: the trainer's tokens are characters).
 */
function selectByUncertainty(ctx: StepContext, sampled: Sampled, selection: UncertaintySelection): UncertaintyStep {
  const estimator = ctx.pairEstimator;
  if (!estimator)
    throw new RunError(`loss '${ctx.plugins.loss.name}' selects pairs by uncertainty, but the run built no estimator`);
  const step = uncertaintyPairs(
    estimator,
    sampled.groups,
    (r) => ctx.scalar(r.reward),
    (r) => ctx.envScalar(r.reward),
    selection,
    ctx.rng.split('upo'),
  );
  ctx.charge({ auxScoredTokens: step.scoredCharacters, auxTrainedTokens: step.trainedCharacters });
  return step;
}

/** Online pairs: each group's best and worst rollout, or the expert's demonstration against each rollout. */
function onlinePairs(ctx: StepContext, sampled: Sampled, loss: PairLoss<Tf, tf.Tensor>): TokenPair[] {
  if (loss.needs?.pairsFrom !== 'demonstrations') return pairsFromGroups(sampled.groups, (r) => ctx.scalar(r.reward));
  return pairsFromDemonstrations(sampled.groups, (groupId) => {
    const task = sampled.requests.find((r) => r.groupId === groupId)?.task;
    return task === undefined
      ? []
      : demonstrationRows(
          ctx.plugins.env,
          ctx.tokenizer,
          [task],
          ctx.config,
          ctx.rng.split(`demo/${groupId}`),
          ctx.policy.config.contextLength,
        );
  });
}

export function updatePairs(
  ctx: StepContext,
  pairs: readonly TokenPair[],
  loss: PairLoss<Tf, tf.Tensor>,
  source: 'offline' | 'online',
): Promise<Updated> {
  const learningRate = stepLearningRate(ctx);
  return epochs(pairs, ctx, 'pair-minibatches', (part) =>
    optimizePairs(part, loss, ctx.policy, ctx.reference, ctx.optimizer, learningRate, ctx.config, source),
  );
}

export function updateLabelled(
  ctx: StepContext,
  examples: readonly LabelledCompletion[],
  loss: LabelledLoss<Tf, tf.Tensor>,
): Promise<Updated> {
  const learningRate = stepLearningRate(ctx);
  return epochs(examples, ctx, 'example-minibatches', (part) =>
    optimizeUnpaired(part, loss, ctx.policy, ctx.reference, ctx.optimizer, learningRate, ctx.config),
  );
}

/** Counts of items, not metrics to average. */
const COUNTS = new Set(['trainedTokens', 'pairs', 'examples']);

/** Epochs x minibatches of `items`, one optimizer update per minibatch; averages the metrics over the updates. */
async function epochs<T>(
  items: readonly T[],
  ctx: StepContext,
  stream: string,
  updateOne: (minibatch: readonly T[], epoch: number, index: number) => Promise<UpdateMetrics>,
  groupOf?: (item: T) => string,
): Promise<Updated> {
  if (items.length === 0) return { metrics: {}, trainedTokens: 0 };
  const order = ctx.rng.split(stream);
  const totals: UpdateMetrics = {};
  let updates = 0;
  let trainedTokens = 0;
  for (let epoch = 0; epoch < ctx.config.epochs; epoch++) {
    for (const [k, part] of minibatchesOf(items, ctx.config.minibatches, order, groupOf).entries()) {
      const values = await updateOne(part, epoch, k);
      for (const [key, value] of Object.entries(values)) totals[key] = (totals[key] ?? 0) + value;
      updates += 1;
      if (epoch === 0) trainedTokens += values.trainedTokens ?? 0;
    }
  }
  const metrics: UpdateMetrics = {};
  for (const [key, value] of Object.entries(totals)) if (!COUNTS.has(key)) metrics[key] = value / updates;
  return { metrics, trainedTokens };
}
