import { aggregateLoss } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { Adam } from '../optim/adam.js';
import { clippingBias, ppoClip, reinforce } from './ppo-clip.js';

beforeAll(async () => {
  await initBackend({ name: 'cpu' });
});

const value = async (t: tf.Tensor) => (await t.data())[0] as number;

describe('aggregation modes (hand-computed)', () => {
  // two rows of 3 and 5 trained tokens (padded to 5), per-token losses 1..5
  const perToken = () =>
    tf.tensor2d([
      [1, 2, 3, 0, 0],
      [1, 2, 3, 4, 5],
    ]);
  const mask = () =>
    tf.tensor2d([
      [1, 1, 1, 0, 0],
      [1, 1, 1, 1, 1],
    ]);
  it.each([
    ['token-mean', (6 + 15) / 8],
    ['seq-mean-token-sum', (6 + 15) / 2],
    ['seq-mean-token-mean', (2 + 3) / 2],
    ['seq-mean-token-sum-norm', (6 + 15) / (2 * 8)],
  ] as const)('%s', async (mode, expected) => {
    expect(await value(aggregateLoss<tf.Tensor>(tf, perToken(), mask(), tf.tensor1d([1, 1]), mode, 8))).toBeCloseTo(expected, 6);
  });

  it('drops weight-0 rows from every denominator (MC-GRPO pivot)', async () => {
    expect(await value(aggregateLoss<tf.Tensor>(tf, perToken(), mask(), tf.tensor1d([0, 1]), 'token-mean', 8))).toBeCloseTo(
      15 / 5,
      6,
    );
    expect(
      await value(aggregateLoss<tf.Tensor>(tf, perToken(), mask(), tf.tensor1d([0, 1]), 'seq-mean-token-mean', 8)),
    ).toBeCloseTo(3, 6);
  });
});

describe('ppo-clip (hand-computed)', () => {
  // ratios exp(logp - old) = [1.5, 0.5, 1.0]; advantages [1, -1, 2]
  const batch = (advantages: number[]) => ({
    logprobs: tf.tensor2d([[Math.log(1.5), Math.log(0.5), 0]]),
    oldLogprobs: tf.zeros([1, 3]),
    advantages: tf.tensor2d([advantages]),
    mask: tf.ones([1, 3]),
    weights: tf.ones([1]),
    aggregation: 'token-mean' as const,
    normLength: 3,
  });

  it('clips symmetric and asymmetric ranges, and reports clip fractions', async () => {
    // symmetric 0.2: token losses -min(1.5, 1.2) = -1.2; -min(-0.5, -0.8) = 0.8; -min(2, 2) = -2
    const symmetric = ppoClip().loss(batch([1, -1, 2]), tf);
    expect(await value(symmetric.loss)).toBeCloseTo((-1.2 + 0.8 - 2) / 3, 6);
    expect(await value(symmetric.metrics?.clipFractionHigh as tf.Tensor)).toBeCloseTo(1 / 3, 6);
    expect(await value(symmetric.metrics?.clipFractionLow as tf.Tensor)).toBeCloseTo(1 / 3, 6);
    // clip-higher 0.28 on the upper side only: -min(1.5, 1.28) = -1.28
    expect(await value(ppoClip({ clipHigh: 0.28 }).loss(batch([1, -1, 2]), tf).loss)).toBeCloseTo((-1.28 + 0.8 - 2) / 3, 6);
  });

  it('reports the clip entropy bias and correction share (closed form)', async () => {
    // w = rho A = [1.5, -0.5, 2]; the clip blocks tokens 1 (high side) and 2 (low side): c = [1.5, -0.5, 0]
    const metrics = ppoClip().loss(batch([1, -1, 2]), tf).metrics ?? {};
    const logp = [Math.log(1.5), Math.log(0.5), 0];
    const removed = [1.5, -0.5, 0];
    const mean = (x: number[]) => x.reduce((a, b) => a + b, 0) / x.length;
    const covariance = mean(logp.map((l, i) => (l - mean(logp)) * ((removed[i] as number) - mean(removed))));
    expect(await value(metrics.clipEntropyBias as tf.Tensor)).toBeCloseTo(covariance, 5);
    expect(await value(metrics.clipCorrectionShare as tf.Tensor)).toBeCloseTo(2 / 4, 6);
    // a clip range wide enough to block nothing removes nothing and biases nothing
    const wide = ppoClip({ clipLow: 0.9, clipHigh: 9 }).loss(batch([1, -1, 2]), tf).metrics ?? {};
    expect(await value(wide.clipEntropyBias as tf.Tensor)).toBe(0);
    expect(await value(wide.clipCorrectionShare as tf.Tensor)).toBe(0);
  });

  it('clip-high alone lowers entropy: the bias is <= 0 when only positive-advantage tokens are clipped', () => {
    // Rows of positive advantages whose ratios grow as their probabilities shrink, as a small
    // token's ratio does: the clip removes the push on the least likely tokens first.
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -6, max: -0.01, noNaN: true }), { minLength: 2, maxLength: 12 }),
        fc.double({ min: 0.1, max: 3, noNaN: true }),
        (logps, advantage) => {
          const ratios = logps.map((l) => 1 + 0.1 * -l);
          const out = tf.tidy(() => {
            const weight = tf.tensor2d([ratios.map((r) => r * advantage)]);
            const blocked = tf.tensor2d([ratios.map((r) => (r > 1.2 ? 1 : 0))]);
            const m = clippingBias(tf, tf.tensor2d([logps]), weight, blocked, tf.ones([1, logps.length]) as tf.Tensor2D);
            return [m.clipEntropyBias.dataSync()[0] as number, m.clipCorrectionShare.dataSync()[0] as number];
          });
          expect(out[0]).toBeLessThanOrEqual(1e-6);
          expect(out[1]).toBeGreaterThanOrEqual(0);
          expect(out[1]).toBeLessThanOrEqual(1 + 1e-6);
        },
      ),
      { numRuns: 50, seed: 3 },
    );
  });

  it('dual clip caps the loss of negative advantages at c|A|', async () => {
    // ratio 3 with A = -1: unclipped loss -min(-3, -1.2) = 3; dual clip c = 2 caps it at 2
    const big = { ...batch([-1, -1, 2]), logprobs: tf.tensor2d([[Math.log(3), Math.log(0.5), 0]]) };
    expect(await value(ppoClip().loss(big, tf).loss)).toBeCloseTo((3 + 0.8 - 2) / 3, 6);
    expect(await value(ppoClip({ dualClip: 2 }).loss(big, tf).loss)).toBeCloseTo((2 + 0.8 - 2) / 3, 6);
  });

  it('sequence ratio uses the geometric mean of the token ratios (GSPO)', async () => {
    // mean log-ratio = (ln 1.5 + ln 0.5 + 0) / 3; one ratio s for every token
    const s = Math.exp((Math.log(1.5) + Math.log(0.5)) / 3);
    const expected = [1, -1, 2].map((a) => -Math.min(s * a, Math.min(Math.max(s, 0.8), 1.2) * a));
    expect(await value(ppoClip({ ratio: 'sequence' }).loss(batch([1, -1, 2]), tf).loss)).toBeCloseTo(
      expected.reduce((x, y) => x + y) / 3,
      6,
    );
  });

  it('reinforce is -A log pi', async () => {
    expect(await value(reinforce().loss(batch([1, -1, 2]), tf).loss)).toBeCloseTo(-(Math.log(1.5) - Math.log(0.5) + 0) / 3, 6);
  });

  it('validates its options', () => {
    expect(() => ppoClip({ clipLow: 1 })).toThrow(/clipLow must be in \[0, 1\)/);
    expect(() => ppoClip({ dualClip: 0.5 })).toThrow(/dualClip must be > 1/);
    expect(() => ppoClip({ ratio: 'row' as never })).toThrow(/must be one of token, sequence/);
  });
});

describe('Adam', () => {
  it('restores its state exactly: steps after a restore equal uninterrupted steps', async () => {
    const run = async (restoreAfter?: number) => {
      const w = tf.variable(tf.tensor1d([1, -2, 3]));
      let adam = new Adam([w], { learningRate: 0.1, weightDecay: 0.01 });
      for (let step = 0; step < 6; step++) {
        if (step === restoreAfter) {
          const saved = JSON.parse(
            JSON.stringify({
              ...(await adam.state()),
              m: (await adam.state()).m.map((x) => Array.from(x)),
              v: (await adam.state()).v.map((x) => Array.from(x)),
            }),
          );
          adam.dispose();
          adam = new Adam([w], { learningRate: 0.1, weightDecay: 0.01 });
          adam.restore({
            step: saved.step,
            m: saved.m.map((x: number[]) => Float32Array.from(x)),
            v: saved.v.map((x: number[]) => Float32Array.from(x)),
          });
        }
        const grad = tf.tidy(() => tf.mul(w, 2));
        adam.apply([grad]);
        grad.dispose();
      }
      return Array.from(await w.data());
    };
    expect(await run(3)).toEqual(await run());
  });

  it('matches the Adam update by hand on the first step', async () => {
    const w = tf.variable(tf.tensor1d([1]));
    new Adam([w], { learningRate: 0.1 }).apply([tf.tensor1d([0.5])]);
    // m = 0.05, v = 0.00025; bias-corrected 0.5 / sqrt(0.25) = 1, so w = 1 - 0.1
    expect((await w.data())[0]).toBeCloseTo(0.9, 5);
  });
});
