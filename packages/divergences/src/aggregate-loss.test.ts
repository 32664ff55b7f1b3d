import { AGGREGATIONS, aggregateLoss } from '@policy-lab/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { scalar, tf, useCpu } from './test-support/index.js';

beforeAll(useCpu);

describe('aggregateLoss (core), on TensorFlow.js', () => {
  // A hand-computed example (Dr. GRPO's constant normaliser, arXiv 2503.20783): sequences of 3 and 5 tokens, L_max = 8, every per-token loss c.
  const c = 0.7;
  const perToken = tf.fill([2, 8], c);
  const mask = tf.tensor2d([
    [1, 1, 1, 0, 0, 0, 0, 0],
    [1, 1, 1, 1, 1, 0, 0, 0],
  ]);

  it('reproduces the hand-computed constant-normaliser example', () => {
    expect(scalar(aggregateLoss(tf, perToken, mask, undefined, 'seq-mean-token-sum-norm', 8))).toBeCloseTo(0.5 * c, 6);
    expect(scalar(aggregateLoss(tf, perToken, mask, undefined, 'seq-mean-token-mean', 8))).toBeCloseTo(c, 6);
    expect(scalar(aggregateLoss(tf, perToken, mask, undefined, 'token-mean', 8))).toBeCloseTo(c, 6);
    expect(scalar(aggregateLoss(tf, perToken, mask, undefined, 'seq-mean-token-sum', 8))).toBeCloseTo(4 * c, 6);
  });

  it('weights tokens and sequences as each mode says', () => {
    const losses = tf.tensor2d([
      [1, 1, 1, 0],
      [4, 0, 0, 0],
    ]);
    const twoMask = tf.tensor2d([
      [1, 1, 1, 0],
      [1, 0, 0, 0],
    ]);
    // token-mean: 7 / 4; seq-mean-token-mean: (1 + 4) / 2; seq-mean-token-sum: (3 + 4) / 2; norm: 7 / (2 * 4)
    expect(scalar(aggregateLoss(tf, losses, twoMask, undefined, 'token-mean', 4))).toBeCloseTo(1.75, 6);
    expect(scalar(aggregateLoss(tf, losses, twoMask, undefined, 'seq-mean-token-mean', 4))).toBeCloseTo(2.5, 6);
    expect(scalar(aggregateLoss(tf, losses, twoMask, undefined, 'seq-mean-token-sum', 4))).toBeCloseTo(3.5, 6);
    expect(scalar(aggregateLoss(tf, losses, twoMask, undefined, 'seq-mean-token-sum-norm', 4))).toBeCloseTo(0.875, 6);
  });

  it('ignores padding and fully masked rows in every mode', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 6, maxLength: 6 }),
        fc.constantFrom(...AGGREGATIONS),
        (row, mode) => {
          const base = tf.tensor2d([row.slice(0, 3), row.slice(3)]);
          const masked = tf.tensor2d([
            [1, 1, 0],
            [1, 0, 0],
          ]);
          const withEmpty = tf.concat([tf.tensor2d([[99, 99, 99]]), base]);
          const emptyMask = tf.concat([tf.zeros([1, 3]), masked]);
          const changed = tf.tensor2d([
            [row[0] as number, row[1] as number, 123],
            [row[3] as number, -50, 7],
          ]);
          const expected = scalar(aggregateLoss(tf, base, masked, undefined, mode, 3));
          expect(scalar(aggregateLoss(tf, withEmpty, emptyMask, undefined, mode, 3))).toBeCloseTo(expected, 4);
          expect(scalar(aggregateLoss(tf, changed, masked, undefined, mode, 3))).toBeCloseTo(expected, 4);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("rows = 'all' (TRL) counts an empty completion of weight > 0 in B, never a weight-0 row; token-mean is unchanged", () => {
    // Rows: sum 7 over 4 tokens, an empty completion, a weight-0 row of 2 tokens.
    const losses: tf.Tensor = tf.tensor2d([
      [1, 1, 1, 4],
      [5, 5, 5, 5],
      [9, 9, 0, 0],
    ]);
    const mask3: tf.Tensor = tf.tensor2d([
      [1, 1, 1, 1],
      [0, 0, 0, 0],
      [1, 1, 0, 0],
    ]);
    const weights: tf.Tensor = tf.tensor1d([1, 1, 0]);
    const agg = (mode: (typeof AGGREGATIONS)[number], rows: 'trained' | 'all') =>
      scalar(aggregateLoss(tf, losses, mask3, weights, mode, 4, rows));
    // verl: B = 1 non-empty row; TRL: B = 2 (the empty completion counts, the weight-0 row does not).
    expect(agg('seq-mean-token-sum', 'trained')).toBeCloseTo(7, 6);
    expect(agg('seq-mean-token-sum', 'all')).toBeCloseTo(3.5, 6);
    expect(agg('seq-mean-token-mean', 'trained')).toBeCloseTo(1.75, 6);
    expect(agg('seq-mean-token-mean', 'all')).toBeCloseTo(0.875, 6);
    expect(agg('seq-mean-token-sum-norm', 'trained')).toBeCloseTo(7 / 4, 6);
    expect(agg('seq-mean-token-sum-norm', 'all')).toBeCloseTo(7 / 8, 6);
    expect(agg('token-mean', 'all')).toBeCloseTo(agg('token-mean', 'trained'), 6);
    // Without weights every row counts: B = 3.
    expect(scalar(aggregateLoss(tf, losses, mask3, undefined, 'seq-mean-token-sum', 4, 'all'))).toBeCloseTo(25 / 3, 5);
  });

  it('an all-padding batch gives 0, not NaN', () => {
    for (const mode of AGGREGATIONS)
      expect(scalar(aggregateLoss(tf, tf.ones([2, 3]), tf.zeros([2, 3]), undefined, mode, 3))).toBe(0);
  });
});
