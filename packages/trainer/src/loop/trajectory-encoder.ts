/**
 * OPPO's trajectory encoder E (Kang et al., ICML 2023, "Beyond Reward: Offline Preference-guided
 * Policy Optimization"; public code bkkgbkjb/decision-transformer, `pdt_trainer.py`): it maps a
 * completion to a context z of P vectors of the policy's width, which the policy reads as a
 * per-row prefix (hindsight information matching: reproduce the completion given its own z).
 * OPPO's encoder is a transformer over (state, action) steps; ours is a bag of action tokens
 * (learned embeddings averaged over the completion's tokens, one tanh layer, a linear map to
 * P x D), small enough to train beside the policy. Embeddings are a one-hot matMul, not a gather:
 * gather's gradient has no wasm kernel.
 */
import { Rng } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';

export interface TrajectoryEncoder {
  readonly variables: tf.Variable[];
  readonly names: string[];
  /** [rows, P, D] contexts of the rows' trained tokens (`tokens` int32 [rows, T], `mask` 1 on the completion's tokens). */
  encode(tokens: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor3D;
  dispose(): void;
}

let created = 0;

export function createTrajectoryEncoder(
  sizes: { vocabSize: number; length: number; dim: number; hidden?: number },
  seed: number,
): TrajectoryEncoder {
  const { vocabSize, length, dim } = sizes;
  const hidden = sizes.hidden ?? 32;
  const rng = Rng.seeded(seed).split('trajectory-encoder');
  const normal = (rows: number, columns: number, std: number) =>
    tf.tensor2d(
      Float32Array.from({ length: rows * columns }, () => rng.normal() * std),
      [rows, columns],
    );
  created += 1;
  const scope = `trajectory-encoder${created}`;
  const embedding = tf.variable(normal(vocabSize, hidden, 0.1), true, `${scope}/embedding`);
  const inner = tf.variable(normal(hidden, hidden, 1 / Math.sqrt(hidden)), true, `${scope}/inner`);
  const bias = tf.variable(tf.zeros([hidden]), true, `${scope}/bias`);
  const out = tf.variable(normal(hidden, length * dim, 1 / Math.sqrt(hidden)), true, `${scope}/out`);
  const variables = [embedding, inner, bias, out];
  return {
    variables,
    names: ['embedding', 'inner', 'bias', 'out'],
    encode(tokens, mask) {
      const [rows, T] = tokens.shape;
      const oneHot = tf.reshape(tf.oneHot(tf.reshape(tokens, [rows * T]), vocabSize), [rows * T, vocabSize]);
      const embedded = tf.reshape(tf.matMul(tf.cast(oneHot, 'float32'), embedding), [rows, T, hidden]);
      const weights = tf.div(mask, tf.maximum(tf.sum(mask, 1, true), 1));
      const pooled = tf.sum(tf.mul(embedded, tf.expandDims(weights, 2)), 1) as tf.Tensor2D;
      const h = tf.tanh(tf.add(tf.matMul(pooled, inner), bias)) as tf.Tensor2D;
      return tf.reshape(tf.matMul(h, out), [rows, length, dim]) as tf.Tensor3D;
    },
    dispose: () => tf.dispose(variables),
  };
}
