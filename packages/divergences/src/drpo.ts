/**
 * DRPO (Li et al. 2025, arXiv 2510.04474): a discriminative, length-decoupled
 * loss over groups of rollouts with binary correctness. It needs group structure and
 * correctness per rollout: these functions take them explicitly; the registered loss 'drpo'
 * (objectives.ts) reads them from LossBatch.rollouts.
 */
import { RunError } from '@policy-lab/core';
import { klEstimatorTensor } from './kl-estimators.js';
import type { Tensor, Tf } from './tensor-types.js';
import { stopGradient } from './tensor-types.js';

/**
 * Closed-form positive weights: w(o) = exp((1 - |o| / maxLength) / lambda), normalised over
 * the positives. Computed as a softmax so that lambda = 0.1 (e^10 spreads) stays finite;
 * lambda = Infinity gives uniform weights (DisCO).
 */
export function drpoPositiveWeights(lengths: readonly number[], maxLength: number, lambda: number): number[] {
  if (!(maxLength > 0)) throw new RunError(`drpo: maxLength must be > 0, got ${maxLength}`);
  if (!(lambda > 0)) throw new RunError(`drpo: lambda must be > 0 (Infinity for DisCO), got ${lambda}`);
  if (lengths.length === 0) return [];
  const logits = lengths.map((length) => (lambda === Number.POSITIVE_INFINITY ? 0 : (1 - length / maxLength) / lambda));
  const top = Math.max(...logits);
  const exps = logits.map((logit) => Math.exp(logit - top));
  const total = exps.reduce((sum, value) => sum + value, 0);
  return exps.map((value) => value / total);
}

export interface DrpoInputs {
  /** Per-token log pi_theta of each rollout, [n, T] (differentiable). */
  logprobs: Tensor;
  /** Per-token log pi_old, [n, T] (trust region). */
  oldLogprobs: Tensor;
  mask: Tensor;
  /** Per rollout: 1 correct, 0 wrong. */
  correct: readonly number[];
  /** Per rollout: its prompt's group. */
  groupIds: readonly string[];
  /** L_max of the length reward (verl: max_response_length). */
  maxLength: number;
  lambda?: number;
  tau?: number;
  delta?: number;
  beta?: number;
}

/** Defaults of the released script: lambda 0.1, tau 10, delta 1e-4, beta 1e3. */
export const DRPO_DEFAULTS = { lambda: 0.1, tau: 10, delta: 1e-4, beta: 1e3 } as const;

/**
 * Loss = -(1/numQuestions) sum_q [sum_pos w s - tau logsumexp(s_neg / tau)]
 *        + stop(max(beta (KL - delta), 0)) x KL,
 * with s(o) the mean token log-probability and KL the token-mean k3 of pi_theta vs pi_old.
 * Groups without both a correct and a wrong rollout add nothing but count in numQuestions.
 */
export function drpoLoss(inputs: DrpoInputs, tf: Tf): { loss: Tensor; klToOld: Tensor; questions: number } {
  const { lambda, tau, delta, beta } = { ...DRPO_DEFAULTS, ...definedOnly(inputs) };
  const rows = inputs.correct.length;
  if (inputs.groupIds.length !== rows)
    throw new RunError(`drpo: ${rows} correctness labels but ${inputs.groupIds.length} group ids`);
  const lengths = Array.from(tf.sum(inputs.mask, 1).dataSync());
  const scores = tf.div(tf.sum(tf.mul(inputs.logprobs, inputs.mask), 1), tf.maximum(tf.sum(inputs.mask, 1), 1));
  const groups = new Map<string, number[]>();
  inputs.groupIds.forEach((id, row) => groups.set(id, [...(groups.get(id) ?? []), row]));
  let objective: Tensor = tf.scalar(0);
  for (const members of groups.values()) {
    const positives = members.filter((row) => inputs.correct[row] === 1);
    const negatives = members.filter((row) => inputs.correct[row] !== 1);
    if (positives.length === 0 || negatives.length === 0) continue;
    const weights = drpoPositiveWeights(
      positives.map((row) => lengths[row] as number),
      inputs.maxLength,
      lambda,
    );
    const positiveTerm = tf.sum(tf.mul(tf.tensor1d(weights), tf.gather(scores, tf.tensor1d(positives, 'int32'))));
    const negativeTerm = tf.mul(tau, tf.logSumExp(tf.div(tf.gather(scores, tf.tensor1d(negatives, 'int32')), tau)));
    objective = tf.add(objective, tf.sub(positiveTerm, negativeTerm));
  }
  const questions = groups.size;
  const k3 = klEstimatorTensor('k3', inputs.logprobs, inputs.oldLogprobs, tf);
  const klToOld = tf.div(tf.sum(tf.mul(k3, inputs.mask)), tf.maximum(tf.sum(inputs.mask), 1));
  const hinge = stopGradient(tf, tf.relu(tf.mul(beta, tf.sub(klToOld, delta))));
  const loss = tf.add(tf.neg(tf.div(objective, Math.max(questions, 1))), tf.mul(hinge, klToOld));
  return { loss, klToOld, questions };
}

function definedOnly(inputs: DrpoInputs): Partial<typeof DRPO_DEFAULTS> {
  const out: Record<string, number> = {};
  for (const key of ['lambda', 'tau', 'delta', 'beta'] as const) if (inputs[key] !== undefined) out[key] = inputs[key];
  return out;
}
