/**
 * Tensor functions of the pair objectives with explicit inputs (DPO, token-level DPO, VPO,
 * UPO); the registered losses in objectives.ts call them on the trainer's PreferenceBatch.
 * Sequence log-probabilities are sums of token log-probabilities, shape [pairs].
 */
import { RunError } from '@policy-lab/core';
import type { Tensor, Tf } from './tensor-types.js';

export interface PairLogprobs {
  /** log pi_theta(y_w | x), [pairs] (differentiable). */
  policyChosen: Tensor;
  /** log pi_theta(y_l | x), [pairs] (differentiable). */
  policyRejected: Tensor;
  /** log pi_ref(y_w | x), [pairs]. */
  refChosen: Tensor;
  /** log pi_ref(y_l | x), [pairs]. */
  refRejected: Tensor;
}

export interface DpoInputs extends PairLogprobs {
  beta: number;
  /** Optional [pairs] weights (UPO's reliability weights); the loss is their weighted mean. */
  weights?: Tensor;
}

/** beta [(log pi_w - log ref_w) - (log pi_l - log ref_l)], [pairs]. */
export function dpoMargin(inputs: PairLogprobs & { beta: number }, tf: Tf): Tensor {
  const chosen = tf.sub(inputs.policyChosen, inputs.refChosen);
  const rejected = tf.sub(inputs.policyRejected, inputs.refRejected);
  return tf.mul(inputs.beta, tf.sub(chosen, rejected));
}

/**
 * DPO (Rafailov et al. 2023): mean over pairs of -log sigmoid(margin), computed as
 * softplus(-margin) to stay finite for large margins.
 */
export function dpoLoss(inputs: DpoInputs, tf: Tf): Tensor {
  if (!(inputs.beta > 0)) throw new RunError(`dpoLoss: beta must be > 0, got ${inputs.beta}`);
  const perPair = tf.softplus(tf.neg(dpoMargin(inputs, tf)));
  if (!inputs.weights) return tf.mean(perPair);
  return tf.div(tf.sum(tf.mul(perPair, inputs.weights)), tf.maximum(tf.sum(inputs.weights), 1e-12));
}

// ---------------------------------------------------------------------------------------
// From r to Q*: the token-level view

/** Per-token implicit rewards beta (log pi_theta - log pi_ref) x mask, [rows, T] (a credit map). */
export function tokenImplicitRewards(policy: Tensor, reference: Tensor, mask: Tensor, beta: number, tf: Tf): Tensor {
  return tf.mul(tf.mul(beta, tf.sub(policy, reference)), mask);
}

export interface TokenDpoInputs {
  /** Per-token log-probabilities, [pairs, T], with their masks. */
  policyChosen: Tensor;
  policyRejected: Tensor;
  refChosen: Tensor;
  refRejected: Tensor;
  maskChosen: Tensor;
  maskRejected: Tensor;
  beta: number;
}

/**
 * DPO written as a token-level Q-function objective: the per-token implicit rewards
 * telescope to the sequence reward (minus V*(s_0), a per-prompt constant that cancels in
 * the pair), so the loss equals DPO on masked sums of the token log-probabilities.
 */
export function tokenDpoLoss(inputs: TokenDpoInputs, tf: Tf): Tensor {
  const chosen = tf.sum(tokenImplicitRewards(inputs.policyChosen, inputs.refChosen, inputs.maskChosen, inputs.beta, tf), 1);
  const rejected = tf.sum(
    tokenImplicitRewards(inputs.policyRejected, inputs.refRejected, inputs.maskRejected, inputs.beta, tf),
    1,
  );
  return tf.mean(tf.softplus(tf.neg(tf.sub(chosen, rejected))));
}

// ---------------------------------------------------------------------------------------
// VPO

export interface VpoInputs extends DpoInputs {
  /** log pi_theta of calibration samples (reference samples or chosen responses), [n]. */
  calibrationLogprobs: Tensor;
  alpha: number;
  /** Pessimism (offline) adds the calibration NLL; optimism (online) subtracts it. */
  mode: 'pessimistic' | 'optimistic';
}

/**
 * VPO (Cen et al., arXiv 2405.19320) with a calibrated reward: DPO +/- alpha x NLL of the
 * calibration samples. The sign, scale and calibration source are our reading of the
 * abstract and summaries [unverified].
 */
export function vpoLoss(inputs: VpoInputs, tf: Tf): Tensor {
  const nll = tf.neg(tf.mean(inputs.calibrationLogprobs));
  const sign = inputs.mode === 'pessimistic' ? 1 : -1;
  return tf.add(dpoLoss(inputs, tf), tf.mul(sign * inputs.alpha, nll));
}

// ---------------------------------------------------------------------------------------
// UPO

const entropy = (probabilities: readonly number[]): number =>
  -probabilities.reduce((sum, p) => (p > 0 ? sum + p * Math.log(p) : sum), 0);

/**
 * BALD epistemic uncertainty of one pair from T Monte-Carlo dropout passes of the pair
 * classifier: H[mean_t p_t] - mean_t H[p_t], in nats (0 when every pass agrees).
 */
export function bald(passes: readonly (readonly number[])[]): number {
  const first = passes[0];
  if (!first) throw new RunError('bald: needs at least one Monte-Carlo pass');
  const mean = first.map((_, k) => passes.reduce((sum, pass) => sum + (pass[k] as number), 0) / passes.length);
  const meanEntropy = passes.reduce((sum, pass) => sum + entropy(pass), 0) / passes.length;
  return Math.max(0, entropy(mean) - meanEntropy);
}

/**
 * UPO's reliability weight of a pair, 1 - BALD / log K (K classes), in [0, 1]. The paper
 * samples reliable pairs in proportion to 1 - BALD; using the same number as the DPO weight
 * is our instantiation [unverified].
 */
export function upoWeight(passes: readonly (readonly number[])[]): number {
  const classes = passes[0]?.length ?? 2;
  return Math.min(1, Math.max(0, 1 - bald(passes) / Math.log(Math.max(classes, 2))));
}

/** UPO: DPO weighted by the pairs' reliability (from `upoWeight`). */
export function upoLoss(inputs: PairLogprobs & { beta: number; reliability: readonly number[] }, tf: Tf): Tensor {
  return dpoLoss({ ...inputs, weights: tf.tensor1d([...inputs.reliability]) }, tf);
}
