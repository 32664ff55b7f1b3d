import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { builtInDivergences } from './divergences.js';
import { CONJUGATES, fDivergenceSftLoss } from './f-sft.js';
import { distributionPair, gradientCheck, scalar, tf, useCpu, values } from './test-support/index.js';

beforeAll(useCpu);

const divergence = (name: string) => builtInDivergences().find((candidate) => candidate.name === name);

describe('conjugate tensors', () => {
  it.each(Object.keys(CONJUGATES))('%s: tensor conjugate equals the generator conjugate', (name) => {
    const generator = divergence(name)?.generator;
    const ys = [-0.4, -0.1, 0.2, 0.3].filter((y) => Number.isFinite(generator?.conjugate?.(y) ?? Number.NaN));
    const tensor = values(CONJUGATES[name]?.tensor(tf.tensor1d(ys), tf) as tf.Tensor);
    ys.forEach((y, i) => {
      expect(tensor[i]).toBeCloseTo(generator?.conjugate?.(y) as number, 5);
    });
  });
});

describe('fDivergenceSftLoss', () => {
  it('hand value for KL: mean exp(T_sample - 1) - mean T_data', () => {
    const loss = fDivergenceSftLoss(
      {
        dataPolicy: tf.tensor1d([-2, -4]),
        dataReference: tf.tensor1d([-3, -3]),
        samplePolicy: tf.tensor1d([-1]),
        sampleReference: tf.tensor1d([-1.5]),
        beta: 0.5,
        divergence: 'kl',
      },
      tf,
    );
    // T_data = [0.5, -0.5] (mean 0), T_sample = 0.25
    expect(scalar(loss)).toBeCloseTo(Math.exp(0.25 - 1), 5);
  });

  it('variational bound behind the loss: E_P[T] - E_Q[f*(T)] <= D_f(P || Q) for any critic', () => {
    for (const name of Object.keys(CONJUGATES)) {
      const bound = divergence(name);
      fc.assert(
        fc.property(
          distributionPair,
          fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 6, maxLength: 6 }),
          ([p, q], logRatios) => {
            // E_P[T] - E_Q[f*(T)] with exact sums over the support, the critic clamped as the loss clamps it.
            const critic = tf.tensor1d(logRatios.slice(0, p.length));
            const conjugate = CONJUGATES[name];
            const [low, high] = conjugate?.domain ?? [0, 0];
            const clamped = tf.clipByValue(critic, Math.max(low + 1e-3, -1e6), Math.min(high - 1e-3, 1e6));
            const variational = scalar(
              tf.sub(
                tf.sum(tf.mul(tf.tensor1d(p), clamped)),
                tf.sum(tf.mul(tf.tensor1d(q), conjugate?.tensor(clamped, tf) as tf.Tensor)),
              ),
            );
            expect(variational).toBeLessThanOrEqual((bound?.value(p, q) as number) + 1e-4);
          },
        ),
        { numRuns: 20 },
      );
    }
  });

  it("the bound is tight at the optimal critic T = f'(P/Q) (KL: 1 + log(P/Q))", () => {
    const p = [0.5, 0.3, 0.2];
    const q = [0.2, 0.5, 0.3];
    const optimal = p.map((pi, i) => 1 + Math.log(pi / (q[i] as number)));
    const variational =
      p.reduce((sum, pi, i) => sum + pi * (optimal[i] as number), 0) -
      q.reduce((sum, qi, i) => sum + qi * Math.exp((optimal[i] as number) - 1), 0);
    expect(variational).toBeCloseTo(divergence('kl')?.value(p, q) as number, 10);
  });

  it('gradient matches finite differences', () => {
    for (const name of ['kl', 'js', 'hellinger', 'pearson']) {
      const { analytic, numeric } = gradientCheck(
        (both) =>
          fDivergenceSftLoss(
            {
              dataPolicy: tf.squeeze(tf.slice(both, [0, 0], [1, 2]), [0]),
              dataReference: tf.tensor1d([-2, -2]),
              samplePolicy: tf.squeeze(tf.slice(both, [1, 0], [1, 2]), [0]),
              sampleReference: tf.tensor1d([-2, -2]),
              beta: 0.3,
              divergence: name,
            },
            tf,
          ),
        [
          [-1.5, -2.5],
          [-2.2, -1.8],
        ],
      );
      analytic.forEach((value, i) => {
        expect(value, name).toBeCloseTo(numeric[i] as number, 2);
      });
    }
  });

  it('names the accepted divergences for an unknown one', () => {
    const zero = tf.zeros([1]);
    expect(() =>
      fDivergenceSftLoss(
        { dataPolicy: zero, dataReference: zero, samplePolicy: zero, sampleReference: zero, beta: 1, divergence: 'jeffreys' },
        tf,
      ),
    ).toThrow(/no conjugate for 'jeffreys'; accepted: kl, forward-kl, js, tv, pearson, neyman, hellinger/);
  });
});
