/**
 * Generators f of the f-divergence family D_f(P||Q) = sum_x Q(x) f(P(x)/Q(x)) (Csiszar 1967;
 * Ali and Silvey 1966). Each generator also carries its reverse generator f◇(u) = u f(1/u) in a
 * number and a tensor form, because per-sample estimates draw x from P = pi_theta and read
 * u = Q/P = exp(logq - logp).
 */
import type { Tensor, Tf } from './tensor-types.js';

export interface Generator {
  name: string;
  /** Convex, f(1) = 0. */
  f(t: number): number;
  /** f'(1) (a subgradient for TV): the control-variate slope of the estimator. */
  slopeAtOne: number;
  /** f◇(u) = u f(1/u). */
  reverse(u: number): number;
  /** f◇ on tensors, from log u (so that u = exp(log u) is computed once, clamped upstream). */
  reverseTensor(logU: Tensor, tf: Tf): Tensor;
  /** Fenchel conjugate f*(y) = sup_t (t y - f(t)); NaN outside its domain. */
  conjugate?(y: number): number;
  /** True when D_f(P||Q) = D_f(Q||P) for all P, Q (f◇ = f). */
  symmetric: boolean;
}

const xLogX = (x: number): number => (x === 0 ? 0 : x * Math.log(x));

export const reverseKlGenerator: Generator = {
  name: 'kl',
  f: (t) => xLogX(t),
  slopeAtOne: 1,
  reverse: (u) => -Math.log(u),
  reverseTensor: (logU, tf) => tf.neg(logU),
  conjugate: (y) => Math.exp(y - 1),
  symmetric: false,
};

export const forwardKlGenerator: Generator = {
  name: 'forward-kl',
  f: (t) => -Math.log(t),
  slopeAtOne: -1,
  reverse: (u) => xLogX(u),
  reverseTensor: (logU, tf) => tf.mul(tf.exp(logU), logU),
  conjugate: (y) => (y < 0 ? -1 - Math.log(-y) : Number.NaN),
  symmetric: false,
};

/** JS with the 1/2 convention: 0 <= JS <= log 2. */
const jsF = (t: number): number => 0.5 * (xLogX(t) - (t + 1) * Math.log((t + 1) / 2));
export const jensenShannonGenerator: Generator = {
  name: 'js',
  f: jsF,
  slopeAtOne: 0,
  reverse: jsF,
  reverseTensor: (logU, tf) => {
    const u = tf.exp(logU);
    // log((1 + u) / 2) = softplus(log u) - log 2, stable for large and small u.
    const logMean = tf.sub(tf.softplus(logU), Math.LN2);
    return tf.mul(0.5, tf.sub(tf.mul(u, logU), tf.mul(tf.add(u, 1), logMean)));
  },
  conjugate: (y) => (y < 0.5 * Math.LN2 ? -0.5 * Math.log(2 - Math.exp(2 * y)) : Number.NaN),
  symmetric: true,
};

/** TV with the 1/2 convention: 0 <= TV <= 1. */
export const totalVariationGenerator: Generator = {
  name: 'tv',
  f: (t) => 0.5 * Math.abs(t - 1),
  slopeAtOne: 0,
  reverse: (u) => 0.5 * Math.abs(1 - u),
  reverseTensor: (logU, tf) => tf.mul(0.5, tf.abs(tf.sub(tf.exp(logU), 1))),
  conjugate: (y) => (Math.abs(y) <= 0.5 ? y : Number.NaN),
  symmetric: true,
};

export const pearsonGenerator: Generator = {
  name: 'pearson',
  f: (t) => (t - 1) ** 2,
  slopeAtOne: 0,
  reverse: (u) => (1 - u) ** 2 / u,
  reverseTensor: (logU, tf) => tf.mul(tf.square(tf.sub(1, tf.exp(logU))), tf.exp(tf.neg(logU))),
  // Over t >= 0 the supremum sits at t = 0 once y < -2.
  conjugate: (y) => (y < -2 ? -1 : (y * y) / 4 + y),
  symmetric: false,
};

export const neymanGenerator: Generator = {
  name: 'neyman',
  f: (t) => (1 - t) ** 2 / t,
  slopeAtOne: 0,
  reverse: (u) => (u - 1) ** 2,
  reverseTensor: (logU, tf) => tf.square(tf.sub(tf.exp(logU), 1)),
  conjugate: (y) => (y < 1 ? 2 - 2 * Math.sqrt(1 - y) : Number.NaN),
  symmetric: false,
};

/** Squared Hellinger without the 1/2: sum (sqrt P - sqrt Q)^2, in [0, 2]. */
export const hellingerGenerator: Generator = {
  name: 'hellinger',
  f: (t) => (Math.sqrt(t) - 1) ** 2,
  slopeAtOne: 0,
  reverse: (u) => (1 - Math.sqrt(u)) ** 2,
  reverseTensor: (logU, tf) => tf.square(tf.sub(1, tf.exp(tf.mul(0.5, logU)))),
  conjugate: (y) => (y < 1 ? y / (1 - y) : Number.NaN),
  symmetric: true,
};

/** Jeffreys = KL(P||Q) + KL(Q||P), f(t) = (t - 1) log t. */
export const jeffreysGenerator: Generator = {
  name: 'jeffreys',
  f: (t) => (t - 1) * Math.log(t),
  slopeAtOne: 0,
  reverse: (u) => (u - 1) * Math.log(u),
  reverseTensor: (logU, tf) => tf.mul(tf.sub(tf.exp(logU), 1), logU),
  symmetric: true,
};

/** The generator whose divergence is E_P[k2] (k2's bias): f(t) = t (log t)^2 / 2. */
export const k2Generator: Generator = {
  name: 'kl-k2',
  f: (t) => 0.5 * t * Math.log(t) ** 2,
  slopeAtOne: 0,
  reverse: (u) => 0.5 * Math.log(u) ** 2,
  reverseTensor: (logU, tf) => tf.mul(0.5, tf.square(logU)),
  symmetric: false,
};

/**
 * Amari alpha family f_a(t) = (t^a - a t - (1 - a)) / (a (a - 1)); its reverse generator is
 * f_{1-a}. a -> 1 is KL(P||Q) and a -> 0 is KL(Q||P): both limits use the closed forms.
 */
export function alphaGenerator(alpha: number): Generator {
  const f = (a: number, t: number): number => {
    if (a === 1) return xLogX(t) - t + 1;
    if (a === 0) return -Math.log(t) + t - 1;
    return (t ** a - a * t - (1 - a)) / (a * (a - 1));
  };
  const tensor = (a: number, logT: Tensor, tf: Tf): Tensor => {
    const t = tf.exp(logT);
    if (a === 1) return tf.add(tf.sub(tf.mul(t, logT), t), 1);
    if (a === 0) return tf.sub(tf.add(tf.neg(logT), t), 1);
    const power = tf.exp(tf.mul(a, logT));
    return tf.div(tf.sub(tf.sub(power, tf.mul(a, t)), 1 - a), a * (a - 1));
  };
  return {
    name: 'alpha',
    f: (t) => f(alpha, t),
    slopeAtOne: 0,
    reverse: (u) => f(1 - alpha, u),
    reverseTensor: (logU, tf) => tensor(1 - alpha, logU, tf),
    conjugate: (y) => {
      if (alpha === 1) return Math.exp(y) - 1;
      if (alpha === 0) return -Math.log(1 - y);
      const base = 1 + (alpha - 1) * y;
      return base > 0 ? (base ** (alpha / (alpha - 1)) - 1) / alpha : Number.NaN;
    },
    symmetric: alpha === 0.5,
  };
}

/** D_f(P||Q) = sum_x Q f(P/Q); where Q(x) = 0 the term is P(x) f◇(0) (the limit of Q f(P/Q)). */
export function fDivergenceValue(generator: Generator, p: readonly number[], q: readonly number[]): number {
  if (p.length !== q.length) throw new RangeError(`distributions differ in size: ${p.length} vs ${q.length}`);
  let total = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i] as number;
    const qi = q[i] as number;
    if (pi === 0 && qi === 0) continue;
    total += qi > 0 ? qi * generator.f(pi / qi) : pi * generator.reverse(0);
  }
  return total;
}
