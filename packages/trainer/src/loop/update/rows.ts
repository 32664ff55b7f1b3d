/**
 * Updates on advantage-weighted rows: chunks sized to the wasm heap, each chunk's loss weighted
 * by its share of the aggregation's denominator, so that accumulating over chunks gives the
 * one-pass update for every aggregation mode.
 */
import { type Rng, type RowLoss, RunError, type TrainConfig } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import type { PolicyModel } from '../../model/policy.js';
import type { Adam } from '../../optim/adam.js';
import { disposeBatch, microBatchSize, type TrainingRow, toTensors } from '../batch.js';
import { activeCounts, groupMicroBatches, groupsOf, microBatches, rowGroup, rowRollouts } from '../minibatches.js';
import type { Resolved } from '../plugins.js';
import { accumulateAndApply, type Chunk, type ChunkGradients, type UpdateMetrics } from './accumulate.js';

type Tf = typeof tf;
type Scorer = Pick<PolicyModel, 'score'>;

export interface RowUpdate {
  plugins: Resolved & { loss: RowLoss<Tf, tf.Tensor> };
  policy: PolicyModel;
  reference?: Scorer;
  teacher?: Scorer;
  optimizer: Adam;
  /** The run's configuration with this step's entropy coefficient. */
  config: TrainConfig;
  learningRate: number;
  /** The divergence coefficient in the loss (0 when the divergence sits in the reward). */
  divergenceCoef: number;
  rng: Rng;
}

/** One optimizer update on a minibatch of rows. */
export function updateOnRows(rows: readonly TrainingRow[], update: RowUpdate): Promise<UpdateMetrics> {
  const { config, plugins } = update;
  const all = activeCounts(rows);
  const byGroup = plugins.loss.needs?.rollouts === true;
  const allGroups = byGroup ? groupsOf(rows, rowGroup).length : 0;
  const size = microBatchSize(rows, config.model.heads, config.microBatchRows ?? 64);
  const parts = byGroup ? groupMicroBatches(rows, size) : microBatches(rows, size);
  const chunks: Chunk<TrainingRow>[] = parts.map((items) => {
    const part = activeCounts(items);
    const tokenShare = all.tokens > 0 ? part.tokens / all.tokens : 0;
    const rowShare = all.rows > 0 ? part.rows / all.rows : 0;
    // A loss over whole groups (DRPO: a mean over questions) is weighted by its share of the groups.
    const lossShare = byGroup
      ? groupsOf(items, rowGroup).length / Math.max(1, allGroups)
      : config.aggregation === 'token-mean'
        ? tokenShare
        : rowShare;
    return { items, lossShare, metricShare: tokenShare };
  });
  return accumulateAndApply(
    chunks,
    (chunk) => rowGradients(chunk, update, chunks.indexOf(chunk)),
    update.optimizer,
    update.learningRate,
    config.gradClip,
  );
}

/** torch.quantile with linear interpolation. */
export function linearQuantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const position = q * (sorted.length - 1);
  const low = Math.floor(position);
  const high = Math.min(low + 1, sorted.length - 1);
  return (sorted[low] as number) + (position - low) * ((sorted[high] as number) - (sorted[low] as number));
}

/**
 * The "80/20" rule (Wang et al. 2025, high-entropy minority tokens): 1 on trained tokens whose
 * entropy is at or above the (1 - rho) quantile of the trained tokens' entropies, else 0; no
 * gradient flows through it.
 */
function entropyMask(entropy: tf.Tensor, mask: tf.Tensor, rho: number): tf.Tensor {
  const h = entropy.dataSync();
  const m = mask.dataSync();
  const trained: number[] = [];
  for (let i = 0; i < m.length; i++) if ((m[i] as number) > 0) trained.push(h[i] as number);
  if (trained.length === 0) return tf.zerosLike(mask);
  const tau = linearQuantile(trained, 1 - rho);
  const out = new Float32Array(m.length);
  for (let i = 0; i < m.length; i++) out[i] = (m[i] as number) > 0 && (h[i] as number) >= tau ? 1 : 0;
  return tf.tensor(out, mask.shape);
}

/**
 * The divergence penalty's mean over the trained tokens with each row's tokens weighted by its
 * divergence weight (GARDO's gate: 0 on a rollout whose reward is certain). The denominator
 * counts every trained token, so chunks accumulate like the unweighted penalty.
 */
export function weightedPenalty(perToken: tf.Tensor, mask: tf.Tensor, rowWeights: tf.Tensor): tf.Scalar {
  const weighted = tf.mul(tf.mul(perToken, mask), tf.expandDims(rowWeights, 1));
  return tf.div(tf.sum(weighted), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
}

/** Gradients of one chunk's weighted loss (loss share on the loss, token share on the extras) and its metrics. */
function rowGradients(chunk: Chunk<TrainingRow>, update: RowUpdate, index: number): ChunkGradients {
  const { config, plugins, policy, reference, teacher, divergenceCoef } = update;
  const { loss, divergence } = plugins;
  const rows = chunk.items;
  const tokenShare = chunk.metricShare;
  const batch = toTensors(rows);
  const refLogprobs = reference ? reference.score(batch.inputs, batch.targets).logprobs : undefined;
  const teacherLogprobs = loss.needs?.teacher && teacher ? teacher.score(batch.inputs, batch.targets).logprobs : undefined;
  const rollouts = loss.needs?.rollouts ? rowRollouts(rows) : undefined;
  const rng = update.rng.split(`chunk/${index}`);
  const scalars: Record<string, tf.Scalar> = {};
  const { value, grads } = tf.variableGrads(() => {
    const valueLoss = (config.valueCoef ?? 0) > 0 && batch.returns !== undefined;
    const forced = loss.needs?.forced === true;
    if (forced && !batch.forcedTargets)
      throw new RunError(
        `loss '${loss.name}' trains on teacher-forced rows, and this batch has none (run it with --set sampler=teacher-forced)`,
      );
    const scored = policy.score(batch.inputs, batch.targets, { entropy: true, values: valueLoss, distributions: forced });
    // One pass gives both: the drawn tokens' log-probs (targets) and the reference tokens' (VA-pi's cross-entropy).
    const forcedLogprobs =
      forced && scored.distributions && batch.forcedTargets
        ? tf.sum(tf.mul(scored.distributions, tf.oneHot(batch.forcedTargets, scored.distributions.shape[2] as number)), 2)
        : undefined;
    const advantages =
      (config.topEntropyQuantile ?? 1) < 1 && scored.entropy
        ? tf.mul(batch.advantages, entropyMask(scored.entropy, batch.mask, config.topEntropyQuantile as number))
        : batch.advantages;
    const result = loss.loss(
      {
        logprobs: scored.logprobs,
        oldLogprobs: batch.oldLogprobs,
        ...(refLogprobs ? { refLogprobs } : {}),
        ...(scored.entropy ? { entropy: scored.entropy } : {}),
        advantages,
        mask: batch.mask,
        weights: batch.weights,
        aggregation: config.aggregation,
        normLength: config.maxNewTokens,
        ...(teacherLogprobs ? { teacherLogprobs } : {}),
        ...(rollouts ? { rollouts } : {}),
        ...(forcedLogprobs ? { forcedLogprobs } : {}),
        rng,
      },
      tf,
    );
    let total = tf.mul(result.loss as tf.Scalar, chunk.lossShare) as tf.Scalar;
    const masked = (x: tf.Tensor) => tf.div(tf.sum(tf.mul(x, batch.mask)), tf.maximum(tf.sum(batch.mask), 1)) as tf.Scalar;
    let extras = tf.scalar(0);
    if (divergence?.penalty && refLogprobs) {
      const perToken = divergence.penalty(scored.logprobs, refLogprobs, tf);
      const penalty = masked(perToken);
      scalars.kl = tf.keep(tf.clone(penalty));
      const applied = batch.divergenceWeights ? weightedPenalty(perToken, batch.mask, batch.divergenceWeights) : penalty;
      if (divergenceCoef > 0) extras = tf.add(extras, tf.mul(applied, divergenceCoef));
    }
    if (valueLoss && scored.values && batch.returns) {
      // The critic regresses the estimator's return targets on the trained tokens.
      const valueError = masked(tf.square(tf.sub(scored.values, batch.returns)));
      scalars.valueLoss = tf.keep(tf.clone(valueError));
      extras = tf.add(extras, tf.mul(valueError, config.valueCoef ?? 0));
    }
    const entropy = masked(scored.entropy as tf.Tensor);
    scalars.entropy = tf.keep(tf.clone(entropy));
    if (config.entropyCoef > 0) extras = tf.sub(extras, tf.mul(entropy, config.entropyCoef));
    for (const [key, metric] of Object.entries(result.metrics ?? {})) scalars[key] = tf.keep(tf.clone(metric as tf.Scalar));
    total = tf.add(total, tf.mul(extras, tokenShare)) as tf.Scalar;
    return total;
  }, [...policy.variables]);
  scalars.loss = value;
  const gradients = policy.variables.map((v) => grads[v.name] ?? tf.zerosLike(v));
  const trainedTokens = batch.trainedTokens;
  tf.dispose([...(refLogprobs ? [refLogprobs] : []), ...(teacherLogprobs ? [teacherLogprobs] : [])]);
  disposeBatch(batch);
  return { grads: gradients, scalars, trainedTokens };
}
