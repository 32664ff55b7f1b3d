/**
 * Schulman's per-sample estimators of KL(pi_theta || pi_ref) for x ~ pi_theta (his note
 * "Approximating KL Divergence", 2020). `logp` = log pi_theta(x), `logq` = log pi_ref(x), log r = logq - logp.
 *
 * | name     | value                 | E[value]              | gradient as a loss (expectation)  |
 * |----------|-----------------------|-----------------------|-----------------------------------|
 * | k1       | -log r                | KL (unbiased)         | 0: useless as a loss, fine as reward |
 * | k2       | (log r)^2 / 2         | D_f, f = t(log t)^2/2 | grad KL(pi_theta||pi_ref)         |
 * | k3       | r - 1 - log r         | KL (unbiased), >= 0   | grad KL(pi_ref||pi_theta) (forward!) |
 * | k3+      | value of k3           | KL                    | gradient of k2 (straight-through) |
 * | k3-clamped | k3 clamped to [-10, 10] | KL when in range   | as k3                             |
 */
import { stopGradient, type Tensor, type Tf } from './tensor-types.js';

/** verl clamps the log-ratio to [-20, 20] before exp; so do we. */
export const LOG_RATIO_CLAMP = 20;
/** verl's `low_var_kl` clamps k3 itself to [-10, 10]. */
export const K3_CLAMP = 10;

const clampLogRatio = (logRatio: number): number => Math.min(LOG_RATIO_CLAMP, Math.max(-LOG_RATIO_CLAMP, logRatio));

export type KlEstimatorName = 'k1' | 'k2' | 'k3' | 'k3+' | 'k3-clamped';
export const KL_ESTIMATOR_NAMES: readonly KlEstimatorName[] = ['k1', 'k2', 'k3', 'k3+', 'k3-clamped'];

function k3(logp: number, logq: number): number {
  const logRatio = clampLogRatio(logq - logp);
  // expm1 keeps k3 accurate (and non-negative) when the log-ratio is tiny.
  return Math.expm1(logRatio) - logRatio;
}

export const klEstimators: Readonly<Record<KlEstimatorName, (logp: number, logq: number) => number>> = {
  k1: (logp, logq) => logp - logq,
  k2: (logp, logq) => 0.5 * (logq - logp) ** 2,
  k3,
  // k3+ differs from k3 only in its gradient; as a number it is k3.
  'k3+': k3,
  'k3-clamped': (logp, logq) => Math.min(K3_CLAMP, Math.max(-K3_CLAMP, k3(logp, logq))),
};

/** Per-token tensor form of each estimator ([rows, T] in, [rows, T] out). */
export function klEstimatorTensor(name: KlEstimatorName, logp: Tensor, logq: Tensor, tf: Tf): Tensor {
  const logRatio = tf.sub(logq, logp);
  const k3Tensor = (): Tensor => {
    const clamped = tf.clipByValue(logRatio, -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP);
    return tf.sub(tf.expm1(clamped), clamped);
  };
  switch (name) {
    case 'k1':
      return tf.neg(logRatio);
    case 'k2':
      return tf.mul(0.5, tf.square(logRatio));
    case 'k3':
      return k3Tensor();
    case 'k3+': {
      // Value of k3, gradient of k2: k2 + stop(k3 - k2).
      const k2 = tf.mul(0.5, tf.square(logRatio));
      return tf.add(k2, stopGradient(tf, tf.sub(k3Tensor(), k2)));
    }
    case 'k3-clamped':
      return tf.clipByValue(k3Tensor(), -K3_CLAMP, K3_CLAMP);
  }
}
