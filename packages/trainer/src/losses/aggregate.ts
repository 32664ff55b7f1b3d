/**
 * Loss aggregation modes (verl's names; methods.md 1.2). `perToken`, `mask` are [rows, T];
 * `weights` is [rows]. Rows with weight 0 (e.g. MC-GRPO's pivot) leave every denominator.
 */
import type { Aggregation } from '@policy-lab/core';
import type * as tf from '@tensorflow/tfjs-core';

export function aggregate(
  tfjs: typeof tf,
  perToken: tf.Tensor2D,
  mask: tf.Tensor2D,
  weights: tf.Tensor1D,
  mode: Aggregation,
  normLength: number,
): tf.Scalar {
  return tfjs.tidy(() => {
    const active = tfjs.cast(tfjs.greater(weights, 0), 'float32'); // [rows]
    const effectiveMask = tfjs.mul(mask, tfjs.expandDims(active, 1));
    const weighted = tfjs.mul(tfjs.mul(perToken, effectiveMask), tfjs.expandDims(weights, 1));
    const rowSums = tfjs.sum(weighted, 1); // [rows]
    const rowTokens = tfjs.sum(effectiveMask, 1);
    const activeRows = tfjs.cast(tfjs.greater(rowTokens, 0), 'float32');
    const rowCount = tfjs.maximum(tfjs.sum(activeRows), 1);
    switch (mode) {
      case 'token-mean':
        return tfjs.div(tfjs.sum(rowSums), tfjs.maximum(tfjs.sum(rowTokens), 1));
      case 'seq-mean-token-sum':
        return tfjs.div(tfjs.sum(rowSums), rowCount);
      case 'seq-mean-token-mean':
        return tfjs.div(tfjs.sum(tfjs.div(rowSums, tfjs.maximum(rowTokens, 1))), rowCount);
      case 'seq-mean-token-sum-norm':
        // Dr. GRPO's constant normaliser: sum over tokens / (rows x a fixed length).
        return tfjs.div(tfjs.sum(rowSums), tfjs.mul(rowCount, normLength));
      default:
        throw new RangeError(`unknown aggregation '${mode as string}'`);
    }
  }) as tf.Scalar;
}
