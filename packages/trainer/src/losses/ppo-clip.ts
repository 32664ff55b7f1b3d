import { aggregateLoss, defineLoss, type LossBatch, type RowLoss, resolveOptions } from '@policy-lab/core';
import type * as tf from '@tensorflow/tfjs-core';
import { type LossReference, verlLoss } from './reference.js';

export interface PpoClipOptions {
  ratio?: 'token' | 'sequence';
  clipLow?: number;
  clipHigh?: number;
  /** Dual clip constant c (> 1): for A < 0 the loss is capped at c|A| (verl clip_ratio_c). */
  dualClip?: number;
}

const OPTIONS = {
  ratio: {
    type: 'enum',
    values: ['token', 'sequence'],
    default: 'token',
    doc: "importance ratio per token, or per sequence: GSPO-sequence, exp(mean_t log ratio) on every token (TRL importance_sampling_level='sequence'; verl's gspo is GSPO-token, the loss gspo-token)",
  },
  clipLow: { type: 'number', default: 0.2, doc: 'lower clip range: ratio >= 1 - clipLow' },
  clipHigh: { type: 'number', default: 0.2, doc: 'upper clip range: ratio <= 1 + clipHigh (DAPO clip-higher: 0.28)' },
  dualClip: { type: 'number', doc: 'dual-clip constant c > 1 for negative advantages (off when unset)' },
} as const;

type Tf = typeof tf;
type T = tf.Tensor;

/** The log-ratio is clamped to [-20, 20] before exp, as verl does, so a stale token cannot overflow. */
function ratios(tfjs: Tf, batch: LossBatch<T>, kind: 'token' | 'sequence'): tf.Tensor2D {
  const logRatio = tfjs.clipByValue(tfjs.sub(batch.logprobs, batch.oldLogprobs), -20, 20) as tf.Tensor2D;
  if (kind === 'token') return tfjs.exp(logRatio);
  // GSPO: exp(mean over the row's tokens of the log-ratio), broadcast to its tokens.
  const mask = batch.mask as tf.Tensor2D;
  const mean = tfjs.div(tfjs.sum(tfjs.mul(logRatio, mask), 1, true), tfjs.maximum(tfjs.sum(mask, 1, true), 1));
  return tfjs.mul(tfjs.exp(mean), tfjs.onesLike(logRatio));
}

/**
 * The clip's entropy bias (docs/clipping-bias.md). A token's share of the unclipped surrogate's
 * gradient is w = rho A times grad log pi; the clip removes c = w on tokens where it blocks the
 * gradient. To first order a softmax step moves entropy by -eta Cov(log pi, w) (Cui et al. 2025,
 * arXiv 2505.22617), so the clip shifts the step's entropy change by +eta Cov(log pi, c):
 * `clipEntropyBias` is that covariance over the trained tokens (negative: the clip pushes toward
 * confident tokens, as clip-high does; Chen et al. 2025, arXiv 2512.16912; Park et al. 2025,
 * arXiv 2509.26114). `clipCorrectionShare` is sum |c| / sum |w|, the removed part of the signal.
 */
export function clippingBias(
  tfjs: Tf,
  logprobs: tf.Tensor2D,
  weight: tf.Tensor2D,
  blocked: tf.Tensor2D,
  mask: tf.Tensor2D,
): { clipEntropyBias: tf.Scalar; clipCorrectionShare: tf.Scalar } {
  const count = tfjs.maximum(tfjs.sum(mask), 1);
  const mean = (x: tf.Tensor) => tfjs.div(tfjs.sum(tfjs.mul(x, mask)), count);
  const removed = tfjs.mul(weight, blocked);
  const centred = tfjs.sub(logprobs, mean(logprobs));
  const covariance = mean(tfjs.mul(centred, tfjs.sub(removed, mean(removed)))) as tf.Scalar;
  const total = tfjs.sum(tfjs.mul(tfjs.abs(weight), mask));
  const share = tfjs.div(tfjs.sum(tfjs.mul(tfjs.abs(removed), mask)), tfjs.maximum(total, 1e-12)) as tf.Scalar;
  return { clipEntropyBias: covariance, clipCorrectionShare: share };
}

export function ppoClip(options: PpoClipOptions = {}): RowLoss<Tf, T> {
  const resolved = resolveOptions<Required<Omit<PpoClipOptions, 'dualClip'>> & { dualClip?: number }>(
    'ppo-clip',
    OPTIONS,
    options as Record<string, unknown>,
  );
  if (resolved.clipLow < 0 || resolved.clipLow >= 1)
    throw new RangeError(`ppo-clip: clipLow must be in [0, 1), got ${resolved.clipLow}`);
  if (resolved.clipHigh < 0) throw new RangeError(`ppo-clip: clipHigh must be >= 0, got ${resolved.clipHigh}`);
  if (resolved.dualClip !== undefined && resolved.dualClip <= 1)
    throw new RangeError(`ppo-clip: dualClip must be > 1, got ${resolved.dualClip}`);
  return defineLoss<RowLoss<Tf, T> & { references: readonly LossReference[] }>({
    name: 'ppo-clip',
    kind: 'rows',
    honours: ['clipLow', 'clipHigh'],
    summary: 'PPO clipped surrogate (token or sequence ratio, asymmetric clip, optional dual clip)',
    paper: { title: 'Proximal Policy Optimization Algorithms', arxiv: '1707.06347', year: 2017 },
    references: [
      verlLoss(
        'compute_policy_loss_vanilla',
        'verl-vanilla',
        'dualClip = clip_ratio_c, which verl always applies (3 by default)',
      ),
    ],
    options: OPTIONS,
    resolved,
    math: '$\\ell_t = -\\min(\\rho_t A_t, \\operatorname{clip}(\\rho_t, 1-\\epsilon_{low}, 1+\\epsilon_{high}) A_t)$; dual clip: $\\ell_t \\leftarrow \\min(\\ell_t, -c A_t)$ for $A_t < 0$',
    configure: (next) => ppoClip({ ...resolved, ...next }),
    loss(batch, tfjs) {
      const ratio = ratios(tfjs, batch, resolved.ratio);
      const advantages = batch.advantages as tf.Tensor2D;
      const unclipped = tfjs.mul(ratio, advantages);
      const clippedRatio = tfjs.clipByValue(ratio, 1 - resolved.clipLow, 1 + resolved.clipHigh);
      let perToken = tfjs.neg(tfjs.minimum(unclipped, tfjs.mul(clippedRatio, advantages))) as tf.Tensor2D;
      if (resolved.dualClip !== undefined) {
        const capped = tfjs.minimum(perToken, tfjs.mul(tfjs.neg(advantages), resolved.dualClip));
        perToken = tfjs.where(tfjs.less(advantages, 0), capped, perToken) as tf.Tensor2D;
      }
      const mask = batch.mask as tf.Tensor2D;
      const weights = batch.weights as tf.Tensor1D;
      const loss = aggregateLoss<T>(tfjs, perToken, mask, weights, batch.aggregation, batch.normLength);
      // Fractions of trained tokens where the clip was active, low and high side.
      const clipLow = tfjs.cast(
        tfjs.logicalAnd(tfjs.less(ratio, 1 - resolved.clipLow), tfjs.less(advantages, 0)),
        'float32',
      ) as tf.Tensor2D;
      const clipHigh = tfjs.cast(
        tfjs.logicalAnd(tfjs.greater(ratio, 1 + resolved.clipHigh), tfjs.greater(advantages, 0)),
        'float32',
      ) as tf.Tensor2D;
      const ones = tfjs.onesLike(weights);
      let blocked = tfjs.add(clipLow, clipHigh);
      if (resolved.dualClip !== undefined)
        blocked = tfjs.maximum(
          blocked,
          tfjs.cast(tfjs.logicalAnd(tfjs.less(advantages, 0), tfjs.greater(ratio, resolved.dualClip)), 'float32'),
        );
      return {
        loss,
        metrics: {
          clipFractionLow: aggregateLoss<T>(tfjs, clipLow, mask, ones, 'token-mean', 1),
          clipFractionHigh: aggregateLoss<T>(tfjs, clipHigh, mask, ones, 'token-mean', 1),
          ...clippingBias(tfjs, batch.logprobs as tf.Tensor2D, unclipped as tf.Tensor2D, blocked as tf.Tensor2D, mask),
        },
      };
    },
  });
}

/** REINFORCE: -A log pi, no ratio and no clipping (on-policy). */
export function reinforce(): RowLoss<Tf, T> {
  return defineLoss<RowLoss<Tf, T>>({
    name: 'reinforce',
    kind: 'rows',
    summary: 'REINFORCE: advantage-weighted log-likelihood, no ratio or clipping',
    paper: { title: 'Simple statistical gradient-following algorithms for connectionist reinforcement learning', year: 1992 },
    math: '$\\ell_t = -A_t \\log \\pi_\\theta(a_t \\mid s_t)$',
    loss(batch, tfjs) {
      const perToken = tfjs.neg(tfjs.mul(batch.advantages, batch.logprobs)) as tf.Tensor2D;
      return {
        loss: aggregateLoss<T>(
          tfjs,
          perToken,
          batch.mask as tf.Tensor2D,
          batch.weights as tf.Tensor1D,
          batch.aggregation,
          batch.normLength,
        ),
      };
    },
  });
}
