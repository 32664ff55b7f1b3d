import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DRPO_DEFAULTS, drpoLoss, drpoPositiveWeights } from './drpo.js';
import { gradientCheck, scalar, tf, useCpu } from './test-support/index.js';

beforeAll(useCpu);

describe('drpoPositiveWeights', () => {
  const lengths = fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 8 });
  const lambda = fc.double({ min: 0.01, max: 100, noNaN: true });

  it('hand example: lengths 100 and 200 of 1000, lambda 0.1 -> e/(e+1), 1/(e+1)', () => {
    const weights = drpoPositiveWeights([100, 200], 1000, 0.1);
    expect(weights[0]).toBeCloseTo(Math.E / (Math.E + 1), 10);
    expect(weights[1]).toBeCloseTo(1 / (Math.E + 1), 10);
  });

  it('sum to 1 over the positives, shorter gets more, lambda = Infinity is uniform', () => {
    fc.assert(
      fc.property(lengths, lambda, (values, l) => {
        const weights = drpoPositiveWeights(values, 1000, l);
        expect(weights.reduce((sum, w) => sum + w, 0)).toBeCloseTo(1, 10);
        for (let i = 0; i < values.length; i++)
          for (let j = 0; j < values.length; j++)
            if ((values[i] as number) < (values[j] as number)) expect(weights[i]).toBeGreaterThanOrEqual(weights[j] as number);
        const uniform = drpoPositiveWeights(values, 1000, Number.POSITIVE_INFINITY);
        for (const weight of uniform) expect(weight).toBeCloseTo(1 / values.length, 12);
      }),
    );
  });

  it('stays finite at lambda = 0.1 with e^10 spreads', () => {
    const weights = drpoPositiveWeights([1, 8192], 8192, 0.01);
    expect(weights.every(Number.isFinite)).toBe(true);
    expect(weights[0]).toBeCloseTo(1, 10);
  });
});

describe('drpoLoss', () => {
  // Group a: rows 0 (correct, 2 tokens), 1 (wrong), 2 (correct, 1 token). Group b: rows 3, 4 both correct.
  const LOGP = [
    [-0.5, -1.0, 0],
    [-2.0, -1.0, -0.5],
    [-0.2, 0, 0],
    [-1.0, -1.0, 0],
    [-3.0, 0, 0],
  ];
  const MASK = [
    [1, 1, 0],
    [1, 1, 1],
    [1, 0, 0],
    [1, 1, 0],
    [1, 0, 0],
  ];
  const base = (logprobs: tf.Tensor, extra: Partial<Parameters<typeof drpoLoss>[0]> = {}) =>
    drpoLoss(
      {
        logprobs,
        oldLogprobs: tf.tensor2d(LOGP),
        mask: tf.tensor2d(MASK),
        correct: [1, 0, 1, 1, 1],
        groupIds: ['a', 'a', 'a', 'b', 'b'],
        maxLength: 4,
        lambda: 0.5,
        tau: 2,
        ...extra,
      },
      tf,
    );

  it('hand computation: only mixed groups add, every group counts in the divisor', () => {
    // scores: row 0 = -0.75, row 1 = -3.5 / 3, row 2 = -0.2
    // weights of rows 0 (length 2) and 2 (length 1): softmax of (1 - 2/4)/0.5 = 1 and (1 - 1/4)/0.5 = 1.5
    const w0 = 1 / (1 + Math.exp(0.5));
    const positive = w0 * -0.75 + (1 - w0) * -0.2;
    const negative = 2 * (-3.5 / 3 / 2); // tau log exp(s / tau) for one negative = s
    const result = base(tf.tensor2d(LOGP));
    expect(result.questions).toBe(2);
    expect(scalar(result.klToOld)).toBeCloseTo(0, 6);
    expect(scalar(result.loss)).toBeCloseTo(-(positive - negative) / 2, 5);
  });

  it('gradient matches finite differences (trust region inactive at pi_theta = pi_old)', () => {
    const { analytic, numeric } = gradientCheck((logprobs) => base(logprobs, { beta: 0 }).loss, LOGP, 1e-2);
    analytic.forEach((value, i) => {
      expect(value).toBeCloseTo(numeric[i] as number, 2);
    });
  });

  it('the length of a negative does not change the positive weights (decoupling)', () => {
    const longerNegativeMask = tf.tensor2d([
      [1, 1, 0],
      [1, 0, 0],
      [1, 0, 0],
      [1, 1, 0],
      [1, 0, 0],
    ]);
    const gradientOnPositives = (mask: tf.Tensor) =>
      Array.from(
        tf
          .grad(
            (logprobs: tf.Tensor) =>
              drpoLoss(
                {
                  logprobs,
                  oldLogprobs: tf.tensor2d(LOGP),
                  mask,
                  correct: [1, 0, 1, 1, 1],
                  groupIds: ['a', 'a', 'a', 'b', 'b'],
                  maxLength: 4,
                  beta: 0,
                },
                tf,
              ).loss,
          )(tf.tensor2d(LOGP))
          .dataSync(),
      ).filter((_, i) => [0, 1, 6].includes(i));
    const before = gradientOnPositives(tf.tensor2d(MASK));
    gradientOnPositives(longerNegativeMask).forEach((value, i) => {
      expect(value).toBeCloseTo(before[i] as number, 6);
    });
  });

  it('the trust-region hinge switches on once KL exceeds delta', () => {
    const moved = tf.tensor2d(LOGP.map((row) => row.map((value) => value - 0.3)));
    const withHinge = base(moved, { beta: DRPO_DEFAULTS.beta, delta: DRPO_DEFAULTS.delta });
    const without = base(moved, { beta: 0 });
    const kl = scalar(withHinge.klToOld);
    expect(kl).toBeGreaterThan(DRPO_DEFAULTS.delta);
    expect(scalar(withHinge.loss) - scalar(without.loss)).toBeCloseTo(DRPO_DEFAULTS.beta * (kl - DRPO_DEFAULTS.delta) * kl, 2);
  });

  it('rejects mismatched labels', () => {
    expect(() => base(tf.tensor2d(LOGP), { groupIds: ['a'] })).toThrow(/5 correctness labels but 1 group ids/);
  });
});
