/**
 * f-divergence SFT (Implicit Reward as the Bridge, [inferred shape]): the
 * variational form D_f(P_data || pi_theta) = sup_T E_data[T] - E_{pi_theta}[f*(T)] with the
 * critic tied to the implicit reward, T = beta (log pi_theta - log pi_ref) clamped into
 * dom f*. Needs sequences from the data and samples from pi_theta: the registered loss
 * 'f-sft' (objectives.ts) gets them as pairs of (demonstration, rollout).
 */
import { RunError } from '@policy-lab/core';
import type { Tensor, Tf } from './tensor-types.js';

interface Conjugate {
  /** f*(y) on tensors. */
  tensor(y: Tensor, tf: Tf): Tensor;
  /** Open interval of dom f*, with a margin applied when clamping. */
  domain: readonly [number, number];
}

/** Convex conjugates f* of the generators (each checked against a grid supremum in the tests). */
export const CONJUGATES: Readonly<Record<string, Conjugate>> = {
  kl: { tensor: (y, tf) => tf.exp(tf.sub(y, 1)), domain: [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY] },
  'forward-kl': { tensor: (y, tf) => tf.sub(-1, tf.log(tf.neg(y))), domain: [Number.NEGATIVE_INFINITY, 0] },
  js: {
    tensor: (y, tf) => tf.mul(-0.5, tf.log(tf.sub(2, tf.exp(tf.mul(2, y))))),
    domain: [Number.NEGATIVE_INFINITY, 0.5 * Math.LN2],
  },
  tv: { tensor: (y) => y, domain: [-0.5, 0.5] },
  pearson: { tensor: (y, tf) => tf.add(tf.div(tf.square(y), 4), y), domain: [-2, Number.POSITIVE_INFINITY] },
  neyman: { tensor: (y, tf) => tf.sub(2, tf.mul(2, tf.sqrt(tf.sub(1, y)))), domain: [Number.NEGATIVE_INFINITY, 1] },
  hellinger: { tensor: (y, tf) => tf.div(y, tf.sub(1, y)), domain: [Number.NEGATIVE_INFINITY, 1] },
};

/** Keeps the critic strictly inside dom f* (the conjugates blow up at open ends). */
const MARGIN = 1e-3;

export interface FDivergenceSftInputs {
  /** Sequence log-probabilities of data responses under pi_theta (differentiable) and pi_ref, [n]. */
  dataPolicy: Tensor;
  dataReference: Tensor;
  /** Sequence log-probabilities of samples from pi_theta under pi_theta and pi_ref, [m]. */
  samplePolicy: Tensor;
  sampleReference: Tensor;
  beta: number;
  /** A divergence name with a conjugate: kl, forward-kl, js, tv, pearson, neyman, hellinger. */
  divergence: string;
}

/** L_f = -mean_data[T] + mean_samples[f*(T)], T = clamp(beta log(pi_theta / pi_ref)). */
export function fDivergenceSftLoss(inputs: FDivergenceSftInputs, tf: Tf): Tensor {
  const conjugate = CONJUGATES[inputs.divergence];
  if (!conjugate) {
    throw new RunError(
      `fDivergenceSftLoss: no conjugate for '${inputs.divergence}'; accepted: ${Object.keys(CONJUGATES).join(', ')}`,
    );
  }
  if (!(inputs.beta > 0)) throw new RunError(`fDivergenceSftLoss: beta must be > 0, got ${inputs.beta}`);
  const [low, high] = conjugate.domain;
  const critic = (policy: Tensor, reference: Tensor): Tensor =>
    tf.clipByValue(tf.mul(inputs.beta, tf.sub(policy, reference)), Math.max(low + MARGIN, -1e6), Math.min(high - MARGIN, 1e6));
  const dataTerm = tf.mean(critic(inputs.dataPolicy, inputs.dataReference));
  const sampleTerm = tf.mean(conjugate.tensor(critic(inputs.samplePolicy, inputs.sampleReference), tf));
  return tf.sub(sampleTerm, dataTerm);
}
