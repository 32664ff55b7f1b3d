/**
 * Loss aggregation modes (methods.md 1.2, verl's names). Rows with no trained token are
 * left out of the sequence count, as verl does. The trainer has its own copy for ppo-clip;
 * this one serves the losses of this package.
 */
import type { Aggregation } from '@policy-lab/core';
import { RunError } from '@policy-lab/core';
import type { Tensor, Tf } from './tensor-types.js';

/**
 * Reduces [rows, T] per-token losses to a scalar.
 * - token-mean: sum(M l) / sum(M)
 * - seq-mean-token-sum: (1/B) sum_i sum_t M l
 * - seq-mean-token-mean: (1/B) sum_i (sum_t M l / sum_t M)
 * - seq-mean-token-sum-norm: sum(M l) / (B * normLength) (Dr. GRPO's constant normaliser)
 */
export function aggregate(perToken: Tensor, mask: Tensor, mode: Aggregation, normLength: number, tf: Tf): Tensor {
  const masked = tf.mul(perToken, mask);
  const rowTokens = tf.sum(mask, 1);
  const rows = tf.maximum(tf.sum(tf.cast(tf.greater(rowTokens, 0), 'float32')), 1);
  switch (mode) {
    case 'token-mean':
      return tf.div(tf.sum(masked), tf.maximum(tf.sum(mask), 1));
    case 'seq-mean-token-sum':
      return tf.div(tf.sum(masked), rows);
    case 'seq-mean-token-mean':
      return tf.div(tf.sum(tf.div(tf.sum(masked, 1), tf.maximum(rowTokens, 1))), rows);
    case 'seq-mean-token-sum-norm':
      if (!(normLength > 0)) throw new RunError(`seq-mean-token-sum-norm needs normLength > 0, got ${normLength}`);
      return tf.div(tf.sum(masked), tf.mul(rows, normLength));
    default:
      throw new RunError(`unknown aggregation '${String(mode)}'`);
  }
}

/** Multiplies [rows, T] per-token values by the [rows] rollout weights. */
export function weighRows(perToken: Tensor, weights: Tensor, tf: Tf): Tensor {
  return tf.mul(perToken, tf.expandDims(weights, 1));
}
