import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { fDivergenceValue, k2Generator, reverseKlGenerator } from './generators.js';
import { K3_CLAMP, KL_ESTIMATOR_NAMES, klEstimators, klEstimatorTensor } from './kl-estimators.js';
import { distributionPair, finiteDifference, tf, useCpu, values } from './test-support/index.js';

beforeAll(useCpu);

// Hand-computed, with log r = logq - logp:
// (logp, logq) = (-1, -2): log r = -1, k1 = 1, k2 = 0.5, k3 = e^-1 - 1 + 1 = 0.367879
// (-2, -1): log r = 1, k1 = -1, k2 = 0.5, k3 = e - 1 - 1 = 0.718282
// (-0.5, -0.5): all 0
// (-0.1, -0.4): log r = -0.3, k1 = 0.3, k2 = 0.045, k3 = e^-0.3 - 1 + 0.3 = 0.040818
// (-3, -0.5): log r = 2.5, k1 = -2.5, k2 = 3.125, k3 = e^2.5 - 3.5 = 8.682494
const HAND_TABLE: [number, number, number, number, number][] = [
  [-1, -2, 1, 0.5, 0.367879],
  [-2, -1, -1, 0.5, 0.718282],
  [-0.5, -0.5, 0, 0, 0],
  [-0.1, -0.4, 0.3, 0.045, 0.040818],
  [-3, -0.5, -2.5, 3.125, 8.682494],
];

const expectationUnderP = (
  estimate: (logp: number, logq: number) => number,
  p: readonly number[],
  q: readonly number[],
): number => p.reduce((sum, pi, i) => sum + pi * estimate(Math.log(pi), Math.log(q[i] as number)), 0);

describe('klEstimators', () => {
  it.each(HAND_TABLE)('logp=%d logq=%d: k1=%d k2=%d k3=%d', (logp, logq, k1, k2, k3) => {
    expect(klEstimators.k1(logp, logq)).toBeCloseTo(k1, 6);
    expect(klEstimators.k2(logp, logq)).toBeCloseTo(k2, 6);
    expect(klEstimators.k3(logp, logq)).toBeCloseTo(k3, 6);
    expect(klEstimators['k3+'](logp, logq)).toBeCloseTo(k3, 6);
    expect(klEstimators['k3-clamped'](logp, logq)).toBeCloseTo(Math.min(k3, K3_CLAMP), 6);
  });

  it('k1 and k3 are unbiased for KL(P||Q): exact expectation on discrete pairs', () => {
    fc.assert(
      fc.property(distributionPair, ([p, q]) => {
        const exact = fDivergenceValue(reverseKlGenerator, p, q);
        expect(expectationUnderP(klEstimators.k1, p, q)).toBeCloseTo(exact, 10);
        expect(expectationUnderP(klEstimators.k3, p, q)).toBeCloseTo(exact, 10);
      }),
    );
  });

  it('k2 is biased: its expectation is the f-divergence of t (log t)^2 / 2, not KL', () => {
    fc.assert(
      fc.property(distributionPair, ([p, q]) => {
        const expectation = expectationUnderP(klEstimators.k2, p, q);
        expect(expectation).toBeCloseTo(fDivergenceValue(k2Generator, p, q), 10);
      }),
    );
    // On the reference pair the bias is visible: 0.2419 vs 0.2238.
    const p = [0.5, 0.3, 0.2];
    const q = [0.2, 0.5, 0.3];
    const bias = expectationUnderP(klEstimators.k2, p, q) - fDivergenceValue(reverseKlGenerator, p, q);
    expect(Math.abs(bias)).toBeGreaterThan(0.01);
  });

  it('k2 and k3 are never negative; k3 >= 0 even far from 1', () => {
    fc.assert(
      fc.property(fc.double({ min: -30, max: 0, noNaN: true }), fc.double({ min: -30, max: 0, noNaN: true }), (logp, logq) => {
        expect(klEstimators.k2(logp, logq)).toBeGreaterThanOrEqual(0);
        expect(klEstimators.k3(logp, logq)).toBeGreaterThanOrEqual(-1e-15);
        expect(klEstimators['k3-clamped'](logp, logq)).toBeLessThanOrEqual(K3_CLAMP);
      }),
    );
  });

  it('the log-ratio is clamped to [-20, 20] before exp', () => {
    expect(klEstimators.k3(-100, 0)).toBeCloseTo(Math.exp(20) - 1 - 20, 0);
    expect(Number.isFinite(klEstimators.k3(-1000, 0))).toBe(true);
  });
});

describe('tensor estimators', () => {
  const logp = [-1, -2, -0.5, -0.1, -3];
  const logq = [-2, -1, -0.6, -0.4, -0.5];

  it.each(KL_ESTIMATOR_NAMES)('%s: tensor equals number, gradient equals finite differences', (name) => {
    const estimate = klEstimators[name];
    const tensor = klEstimatorTensor(name, tf.tensor1d(logp), tf.tensor1d(logq), tf);
    values(tensor).forEach((value, i) => {
      expect(value).toBeCloseTo(estimate(logp[i] as number, logq[i] as number), 4);
    });
    if (name === 'k3+') return; // its gradient is k2's on purpose (next test)
    const gradient = tf.grad((input: tf.Tensor) => tf.sum(klEstimatorTensor(name, input, tf.tensor1d(logq), tf)))(
      tf.tensor1d(logp),
    );
    values(gradient).forEach((value, i) => {
      const numeric = finiteDifference((x) => estimate(x, logq[i] as number), logp[i] as number);
      expect(value).toBeCloseTo(numeric, 2);
    });
  });

  it('k3+ has the value of k3 and the gradient of k2', () => {
    const gradientOf = (name: 'k2' | 'k3+') =>
      values(tf.grad((input: tf.Tensor) => tf.sum(klEstimatorTensor(name, input, tf.tensor1d(logq), tf)))(tf.tensor1d(logp)));
    const k2 = gradientOf('k2');
    gradientOf('k3+').forEach((value, i) => {
      expect(value).toBeCloseTo(k2[i] as number, 5);
    });
  });

  /**
   * Exact expectation over x ~ pi_theta (softmax of logits) of the gradient of the estimator
   * as a loss: sum_x stop(pi(x)) k(log pi(x), log ref(x)), differentiated in the logits.
   */
  function expectedLossGradient(name: 'k1' | 'k2' | 'k3' | 'k3+', logits: number[], reference: number[]): number[] {
    const logRef = tf.log(tf.tensor1d(reference));
    return values(
      tf.grad((input: tf.Tensor) => {
        const logPolicy = tf.logSoftmax(input);
        const weights = tf.exp(logPolicy).dataSync();
        return tf.sum(tf.mul(tf.tensor1d(Array.from(weights)), klEstimatorTensor(name, logPolicy, logRef, tf)));
      })(tf.tensor1d(logits)),
    );
  }
  const exactGradient = (kind: 'reverse' | 'forward', logits: number[], reference: number[]): number[] =>
    values(
      tf.grad((input: tf.Tensor) => {
        const logPolicy = tf.logSoftmax(input);
        const logRef = tf.log(tf.tensor1d(reference));
        return kind === 'reverse'
          ? tf.sum(tf.mul(tf.exp(logPolicy), tf.sub(logPolicy, logRef)))
          : tf.sum(tf.mul(tf.tensor1d(reference), tf.sub(logRef, logPolicy)));
      })(tf.tensor1d(logits)),
    );

  it('as a loss: k2 and k3+ give the reverse-KL gradient, k3 the forward-KL gradient, k1 zero', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 4, maxLength: 4 }),
        fc.array(fc.double({ min: 0.05, max: 1, noNaN: true }), { minLength: 4, maxLength: 4 }),
        (logits, weights) => {
          const total = weights.reduce((sum, weight) => sum + weight, 0);
          const reference = weights.map((weight) => weight / total);
          const reverse = exactGradient('reverse', logits, reference);
          const forward = exactGradient('forward', logits, reference);
          const close = (actual: number[], expected: number[]) =>
            actual.forEach((value, i) => {
              expect(value).toBeCloseTo(expected[i] as number, 4);
            });
          close(expectedLossGradient('k2', logits, reference), reverse);
          close(expectedLossGradient('k3+', logits, reference), reverse);
          close(expectedLossGradient('k3', logits, reference), forward);
          close(expectedLossGradient('k1', logits, reference), [0, 0, 0, 0]);
        },
      ),
      { numRuns: 30 },
    );
  });
});
