/** Pieces shared by the preference objectives: option checks, log-ratios, metrics. */
import { type OptionSpec, RunError, UsageError } from '@policy-lab/core';
import type { Tensor, Tf } from '../tensor-types.js';
import type { PreferenceBatch, PreferenceMetrics } from './batch.js';

/** The provenance caveat every objective carries. */
export const CATALOG_NOTE =
  "Formula and defaults from TRL's code at the commit this page names (checked by its fixture), not re-read from the paper.";

/** TRL's exponent cap for the alpha-divergence score (float32; 11 for fp16). */
export const EXPONENT_CAP = 80;

export const BETA_OPTION: OptionSpec = {
  type: 'number',
  default: 0.1,
  doc: 'inverse temperature of the implicit reward (TRL default 0.1); must be > 0',
};

/** Throws a UsageError naming the option, the bad value and the accepted range. */
export function check(owner: string, key: string, value: number, ok: boolean, accepted: string): void {
  if (!ok) throw new UsageError(`${owner}: option '${key}' must be ${accepted}, got ${value}`);
}

export function checkBeta(owner: string, beta: number): void {
  check(owner, 'beta', beta, beta > 0, '> 0');
}

/** log sigma(x), computed as -softplus(-x) so that it stays finite for large |x|. */
export function logSigmoid(x: Tensor, tf: Tf): Tensor {
  return tf.neg(tf.softplus(tf.neg(x)));
}

/** e^x with x clamped to [-80, 80]: finite in float32 for every finite input. */
export function cappedExp(x: Tensor, tf: Tf): Tensor {
  return tf.exp(tf.clipByValue(x, -EXPONENT_CAP, EXPONENT_CAP));
}

/** Lengths clamped to >= 1, so that an empty completion does not divide by zero. */
export function safeLengths(lengths: Tensor, tf: Tf): Tensor {
  return tf.maximum(lengths, 1);
}

/**
 * Token-mean NLL of the chosen completions over the whole batch, -sum(lp_w) / sum(L_w): the
 * cross-entropy TRL's SFT / ORPO / CPO terms take over every chosen token.
 */
export function chosenNll(batch: PreferenceBatch, tf: Tf): Tensor {
  return tf.div(tf.neg(tf.sum(batch.chosenLogps)), tf.maximum(tf.sum(batch.chosenLengths), 1));
}

/** Reference log-probabilities, or a RunError that says what the trainer must supply. */
export function referenceLogps(batch: PreferenceBatch, owner: string): { refChosen: Tensor; refRejected: Tensor } {
  if (!batch.refChosenLogps || !batch.refRejectedLogps) {
    throw new RunError(
      `${owner} needs refChosenLogps and refRejectedLogps (the frozen reference's summed log-probabilities); ` +
        'the trainer supplies them when the objective sets needsReference (or set referenceFree=true)',
    );
  }
  return { refChosen: batch.refChosenLogps, refRejected: batch.refRejectedLogps };
}

/**
 * TRL's reward metrics from per-pair implicit rewards (already scaled by beta): the mean of
 * each side, their difference, and the fraction of pairs where chosen beats rejected.
 */
export function pairMetrics(chosenRewards: Tensor, rejectedRewards: Tensor, tf: Tf): PreferenceMetrics {
  const chosenReward = tf.mean(chosenRewards);
  const rejectedReward = tf.mean(rejectedRewards);
  return {
    rewardAccuracy: tf.mean(tf.cast(tf.greater(chosenRewards, rejectedRewards), 'float32')),
    chosenReward,
    rejectedReward,
    margin: tf.sub(chosenReward, rejectedReward),
  };
}

/** Indices that sort `values` ascending (a permutation; ties keep their order). */
export function argsort(values: ArrayLike<number>): number[] {
  return Array.from({ length: values.length }, (_, i) => i).sort(
    (a, b) => (values[a] as number) - (values[b] as number) || a - b,
  );
}

/**
 * `values` sorted ascending, differentiably: the permutation is read once and applied as a
 * constant permutation matrix (a matMul, whose gradient every backend has; gather's gradient
 * has no kernel on the wasm backend).
 */
export function sortedDifferentiable(values: Tensor, tf: Tf): Tensor {
  const order = argsort(values.dataSync());
  const n = order.length;
  const permutation = new Float32Array(n * n);
  order.forEach((from, to) => {
    permutation[to * n + from] = 1;
  });
  return tf.reshape(tf.matMul(tf.tensor2d(permutation, [n, n]), tf.reshape(values, [n, 1])), [n]);
}
