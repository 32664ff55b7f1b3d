import type { Aggregation, LossBatch } from '@policy-lab/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { gradientCheck, scalar, tf, useCpu, values } from './test-support/index.js';
import { vaPiTfGrpo } from './va-pi.js';

beforeAll(useCpu);

const LOGP = [
  [-0.5, -1.5, -0.2],
  [-2.0, -0.1, -3.0],
];
// Ratios away from the clip edges (|log ratio| 0.1 < log 1.2), so central differences see a smooth loss.
const OLD = [
  [-0.6, -1.4, -0.3],
  [-1.9, -0.2, -2.8],
];
const FORCED = [
  [-0.3, -0.9, -0.7],
  [-1.2, -0.4, -2.2],
];
const MASK = [
  [1, 1, 1],
  [1, 1, 0],
];

function batch(
  parts: {
    logprobs?: tf.Tensor;
    old?: number[][];
    forcedLogprobs?: tf.Tensor;
    advantages?: number[];
    mask?: number[][];
    weights?: number[];
    aggregation?: Aggregation;
  } = {},
): LossBatch<tf.Tensor> {
  const mask = parts.mask ?? MASK;
  const advantages = parts.advantages ?? [1.2, -0.8];
  return {
    logprobs: parts.logprobs ?? tf.tensor2d(LOGP),
    oldLogprobs: tf.tensor2d(parts.old ?? OLD),
    forcedLogprobs: parts.forcedLogprobs ?? tf.tensor2d(FORCED),
    advantages: tf.tensor2d(mask.map((row, r) => row.map(() => advantages[r] as number))),
    mask: tf.tensor2d(mask),
    weights: tf.tensor1d(parts.weights ?? mask.map(() => 1)),
    aggregation: parts.aggregation ?? 'seq-mean-token-mean',
    normLength: 3,
  };
}

describe('va-pi-tf-grpo', () => {
  it('a worked case: one token, A = 2 clipped by the ratio 1.5 to 1.2, plus 0.1 x the reference cross-entropy', () => {
    const loss = vaPiTfGrpo().loss(
      {
        ...batch({ advantages: [2], mask: [[1]] }),
        logprobs: tf.tensor2d([[Math.log(1.5) - 1]]),
        oldLogprobs: tf.tensor2d([[-1]]),
        forcedLogprobs: tf.tensor2d([[-1]]),
      },
      tf,
    );
    // max(-2 x 1.5, -2 x 1.2) = -2.4; cross-entropy 1, weight 0.1.
    expect(scalar(loss.loss)).toBeCloseTo(-2.3, 5);
    expect(scalar(loss.metrics?.clipFraction as tf.Tensor)).toBe(1);
  });

  it('gradient in the drawn and in the reference log-probabilities matches finite differences', () => {
    const loss = vaPiTfGrpo();
    const inDrawn = gradientCheck((logprobs) => loss.loss(batch({ logprobs }), tf).loss, LOGP);
    inDrawn.analytic.forEach((g, i) => expect(g).toBeCloseTo(inDrawn.numeric[i] as number, 2));
    const inReference = gradientCheck((forcedLogprobs) => loss.loss(batch({ forcedLogprobs }), tf).loss, FORCED);
    inReference.analytic.forEach((g, i) => expect(g).toBeCloseTo(inReference.numeric[i] as number, 2));
    // The reference term: -0.1 / (trained tokens) on each trained token, 0 on padding.
    expect(inReference.analytic).toEqual(MASK.flat().map((m) => expect.closeTo((-0.1 * m) / 5, 6)));
  });

  const rows = fc.integer({ min: 1, max: 4 }).chain((count) =>
    fc.record({
      advantages: fc.array(fc.double({ min: -9, max: 9, noNaN: true }), { minLength: count, maxLength: count }),
      lengths: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: count, maxLength: count }),
      logprobs: fc.array(fc.array(fc.double({ min: -4, max: -0.05, noNaN: true }), { minLength: 3, maxLength: 3 }), {
        minLength: count,
        maxLength: count,
      }),
      forced: fc.array(fc.array(fc.double({ min: -4, max: -0.05, noNaN: true }), { minLength: 3, maxLength: 3 }), {
        minLength: count,
        maxLength: count,
      }),
      ceWeight: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  );

  it('on-policy (ratio 1): each drawn token is pushed by -clip(A, 5) / (its sequence length x sequences), each reference token by -ceWeight / tokens', () => {
    fc.assert(
      fc.property(rows, ({ advantages, lengths, logprobs, forced, ceWeight }) => {
        const mask = lengths.map((n) => [0, 1, 2].map((t) => (t < n ? 1 : 0)));
        const tokens = lengths.reduce((a, b) => a + b, 0);
        const loss = vaPiTfGrpo({ ceWeight });
        const parts = (x: tf.Tensor, f: tf.Tensor) =>
          loss.loss({ ...batch({ advantages, mask, old: logprobs }), logprobs: x, forcedLogprobs: f }, tf).loss;
        const [drawn, reference] = tf.grads(parts)([tf.tensor2d(logprobs), tf.tensor2d(forced)]) as [tf.Tensor, tf.Tensor];
        const clipped = advantages.map((a) => Math.max(-5, Math.min(5, a)));
        const expectedDrawn = mask.flatMap((row, r) =>
          row.map((m) => (m * -(clipped[r] as number)) / ((lengths[r] as number) * lengths.length)),
        );
        values(drawn).forEach((g, i) => expect(g).toBeCloseTo(expectedDrawn[i] as number, 4));
        values(reference).forEach((g, i) => expect(g).toBeCloseTo(((mask.flat()[i] as number) * -ceWeight) / tokens, 4));
        // The value: -mean of the clipped advantages plus ceWeight x the reference's mean cross-entropy.
        const ce = -forced.flat().reduce((sum, x, i) => sum + x * (mask.flat()[i] as number), 0) / tokens;
        const expected = -clipped.reduce((a, b) => a + b, 0) / clipped.length + ceWeight * ce;
        expect(scalar(parts(tf.tensor2d(logprobs), tf.tensor2d(forced)))).toBeCloseTo(expected, 4);
      }),
      { numRuns: 40 },
    );
  });

  it('a row of weight 0 changes neither term', () => {
    const one = (rows: number) => (table: number[][]) => tf.tensor2d(table.slice(0, rows));
    const lossOf = (rows: number, weights: number[]) =>
      scalar(
        vaPiTfGrpo().loss(
          {
            ...batch({
              weights,
              old: OLD.slice(0, rows),
              advantages: [1.2, 3],
              mask: [
                [1, 1, 1],
                [1, 1, 1],
              ].slice(0, rows),
            }),
            logprobs: one(rows)(LOGP),
            forcedLogprobs: one(rows)(FORCED),
          },
          tf,
        ).loss,
      );
    expect(lossOf(2, [1, 0])).toBeCloseTo(lossOf(1, [1]), 5);
    expect(lossOf(2, [1, 1])).not.toBeCloseTo(lossOf(1, [1]), 2);
  });

  it('refuses rows that were not drawn under teacher forcing, and bad options', () => {
    const { forcedLogprobs: _, ...plain } = batch();
    expect(() => vaPiTfGrpo().loss(plain, tf)).toThrow(/forcedLogprobs.*teacher-forced/);
    expect(() => vaPiTfGrpo({ clip: 1 })).toThrow(/clip.*\(0, 1\).*1/);
    expect(() => vaPiTfGrpo({ ceWeight: -1 })).toThrow(/ceWeight.*-1/);
    expect(() => vaPiTfGrpo({ beta: 1 } as never)).toThrow(/unknown option 'beta'; accepted: clip, advantageClip, ceWeight/);
  });
});
