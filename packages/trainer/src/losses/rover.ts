/**
 * ROVER's loss (He et al. 2025, arXiv 2509.24981; released code yuxiaooye/ROVER,
 * core_algos.compute_rover_loss): the Q-value is the policy's own log-ratio to the sampling
 * policy, Q(s_t, a_t) = rho (log pi_theta - log pi_old), regressed by squared error onto the
 * estimator's targets (`rover`: r~ plus the vocabulary mean of the uniform policy's Q at the next
 * state). At the minimum pi_theta = pi_old exp(Q / rho) / Z on the sampled tokens: the policy
 * samples by a softmax over the Q-values at temperature rho.
 */
import { aggregateLoss, defineLoss, type RowLoss, resolveOptions } from '@policy-lab/core';
import type * as tf from '@tensorflow/tfjs-core';

type Tf = typeof tf;
type T = tf.Tensor;

export interface RoverLossOptions {
  rho?: number;
}

const OPTIONS = {
  rho: {
    type: 'number',
    default: 1,
    doc: "temperature of the Q parameterisation, Q = rho log(pi/pi_old) (ROVER's rover_t: 1.0)",
  },
} as const;

export function roverLoss(options: RoverLossOptions = {}): RowLoss<Tf, T> {
  const o = resolveOptions<Required<RoverLossOptions>>('rover', OPTIONS, options as Record<string, unknown>);
  if (!(o.rho > 0)) throw new RangeError(`rover: option 'rho' must be > 0, got ${o.rho}`);
  return defineLoss<RowLoss<Tf, T>>({
    name: 'rover',
    kind: 'rows',
    summary:
      "ROVER: the policy's log-ratio to the sampling policy, as a Q-value, regressed onto the estimator's Q targets (squared error)",
    paper: {
      title: 'Random Policy Valuation is Enough for LLM Reasoning with Verifiable Rewards',
      arxiv: '2509.24981',
      year: 2025,
    },
    options: OPTIONS,
    resolved: o,
    math: "$\\ell_t = \\big(\\rho(\\log\\pi_\\theta(a_t \\mid s_t) - \\log\\pi_{old}(a_t \\mid s_t)) - \\hat Q_t\\big)^2$, $\\hat Q_t$ the estimator's target (the advantage tensor), aggregated by the run's mode",
    unverified: [
      "The released code's options (a response-level MSE, log-ratio clipping at +-log(1 +- eps)) are not built: the token MSE is the paper's default.",
      'The target is taken as given (stop-gradient): the bootstrapped vocabulary mean comes from the estimator, not from the network during the update.',
    ],
    configure: (next) => roverLoss({ ...o, ...next }),
    loss(batch, tfjs) {
      const q = tfjs.mul(tfjs.sub(batch.logprobs, batch.oldLogprobs), o.rho);
      const perToken = tfjs.square(tfjs.sub(q, batch.advantages)) as tf.Tensor2D;
      return {
        loss: aggregateLoss<T>(tfjs, perToken, batch.mask, batch.weights, batch.aggregation, batch.normLength),
      };
    },
  });
}
