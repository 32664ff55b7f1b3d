/**
 * The one gradient accumulate-and-apply of the trainer: every update (advantage-weighted rows,
 * preference pairs, labelled completions, a verification pass) is a list of chunks whose
 * gradients are summed, clipped by global norm and applied once.
 */
import { RunError } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { type Adam, clipByGlobalNorm } from '../../optim/adam.js';

export interface ChunkGradients {
  grads: tf.Tensor[];
  /** The loss (already weighted by the chunk's loss share) and unweighted metrics, as scalars. */
  scalars: Record<string, tf.Scalar>;
  trainedTokens: number;
}

export interface Chunk<T> {
  items: readonly T[];
  /** The chunk's share of the loss's denominator (its loss is multiplied by it). */
  lossShare: number;
  /** The weight of its metrics in the update's averages. */
  metricShare: number;
}

export type UpdateMetrics = Record<string, number>;

/**
 * Sums the chunks' gradients, clips them by global norm and applies them with the optimizer;
 * returns the loss (sum of the weighted chunk losses), the other metrics averaged with the
 * chunks' metric shares, the gradient norm before clipping and the trained tokens.
 * A non-finite number is an error: the update that made it is reported, not silently applied.
 */
export async function accumulateAndApply<T>(
  chunks: readonly Chunk<T>[],
  gradientsOf: (chunk: Chunk<T>) => ChunkGradients,
  optimizer: Adam,
  learningRate: number,
  gradClip: number,
): Promise<UpdateMetrics> {
  let gradSums: tf.Tensor[] | undefined;
  const sums: UpdateMetrics = {};
  let trainedTokens = 0;
  for (const chunk of chunks) {
    const result = gradientsOf(chunk);
    if (gradSums) {
      const previous = gradSums;
      gradSums = previous.map((g, i) => tf.add(g, result.grads[i] as tf.Tensor));
      tf.dispose([...previous, ...result.grads]);
    } else gradSums = result.grads;
    for (const [key, scalar] of Object.entries(result.scalars)) {
      const [v] = await scalar.data();
      sums[key] = (sums[key] ?? 0) + (key === 'loss' ? (v as number) : (v as number) * chunk.metricShare);
      scalar.dispose();
    }
    trainedTokens += result.trainedTokens;
  }
  const { clipped, norm } = clipByGlobalNorm(gradSums ?? [], gradClip);
  optimizer.apply(clipped, learningRate);
  const out: UpdateMetrics = { ...sums, gradNorm: (await norm.data())[0] as number, trainedTokens };
  tf.dispose([norm, ...clipped, ...(gradSums ?? [])]);
  for (const [key, v] of Object.entries(out))
    if (!Number.isFinite(v)) throw new RunError(`the update produced a non-finite ${key} (${v}); lower the learning rate`);
  return out;
}

/** Equal shares by item count: the objective is a mean over items (pairs, labelled completions). */
export function chunksByCount<T>(groups: readonly (readonly T[])[], total: number): Chunk<T>[] {
  return groups.map((items) => ({ items, lossShare: items.length / total, metricShare: items.length / total }));
}
