import type { Advantages } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { zScores } from '../group-math.js';
import { contextFor, groupsOf } from '../test-support/rollouts.js';
import { sbwBuckets, sbwWeighting, sbwWeights } from './sbw.js';

describe('sbw-weighting (hand-computed)', () => {
  it('a skewed batch [1 x 6, 0.5, 0]: weights 4/9 for the six 1s and 8/3 for the rare rewards, mean 1', () => {
    // buckets: r=1 holds 6 samples, r=0.5 and r=0 one each; raw 1/n = 1/6 (x6), 1, 1; their mean is 3/8,
    // so w = (1/6) / (3/8) = 4/9 = 0.444 and 1 / (3/8) = 8/3 = 2.667. Each bucket's total weight: 6 * 4/9 = 8/3.
    const rewards = [1, 1, 1, 1, 1, 1, 0.5, 0];
    const weights = sbwWeights(sbwBuckets(rewards, [], 10, 1), 4);
    weights.slice(0, 6).forEach((w) => expect(w).toBeCloseTo(4 / 9, 12));
    expect(weights[6]).toBeCloseTo(8 / 3, 12);
    expect(weights[7]).toBeCloseTo(8 / 3, 12);
    expect(weights.reduce((a, b) => a + b, 0) / weights.length).toBeCloseTo(1, 12);
  });

  it('the cap: with cap 2 the rare weights are clipped to 2 and the six others rise to (8 - 4) / 6 = 2/3', () => {
    const weights = sbwWeights(sbwBuckets([1, 1, 1, 1, 1, 1, 0.5, 0], [], 10, 1), 2);
    weights.slice(0, 6).forEach((w) => expect(w).toBeCloseTo(2 / 3, 12));
    expect(weights.slice(6)).toEqual([2, 2]);
  });

  it("the estimator multiplies GRPO's advantages by the weights: groups [1,1,1,0.5] and [1,1,1,0]", async () => {
    const groups = groupsOf([
      [1, 1, 1, 0.5],
      [1, 1, 1, 0],
    ]);
    const out = (await sbwWeighting({ base: 'grpo' }).compute(groups, contextFor())) as Advantages;
    const w = [4 / 9, 4 / 9, 4 / 9, 8 / 3];
    [zScores([1, 1, 1, 0.5], 'sample', 1e-4), zScores([1, 1, 1, 0], 'sample', 1e-4)].forEach((base, g) =>
      base.forEach((a, i) => expect(out.rollout[g]?.[i]).toBeCloseTo(a * (w[i] as number), 10)),
    );
    expect(out.weights).toEqual([
      [1, 1, 1, 1],
      [1, 1, 1, 1],
    ]);
    expect(out.diagnostics?.sbwWeightMax).toBeCloseTo(8 / 3, 12);
    expect(out.diagnostics?.sbwBuckets).toBe(3);
  });

  it('probability bins split a reward bucket by the quantile of the mean token log-probability', () => {
    // two reward bins x two probability bins: rewards [1, 1, 1, 0], probabilities [-1, -2, -3, -4]:
    // ranks 3, 2, 1, 0 -> probability bins 1, 1, 0, 0 -> buckets 19, 19, 18, 0.
    expect(sbwBuckets([1, 1, 1, 0], [-1, -2, -3, -4], 10, 2)).toEqual([19, 19, 18, 0]);
  });

  it('bad options exit as usage errors naming the value', () => {
    expect(() => sbwWeighting({ cap: 0.5 })).toThrow(/cap' must be >= 1.*0.5/);
    expect(() => sbwWeighting({ bins: 0 })).toThrow(/bins' must be >= 1, got 0/);
    expect(() => sbwWeighting({ base: 'ppo' as never })).toThrow(/base/);
  });
});

describe('sbw-weighting (properties)', () => {
  it('weights average 1, never exceed the cap, and every occupied bucket carries the same total weight when the cap does not bind', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 40 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        (buckets, cap) => {
          const weights = sbwWeights(buckets, cap);
          expect(weights.reduce((a, b) => a + b, 0) / weights.length).toBeCloseTo(1, 9);
          expect(Math.max(...weights)).toBeLessThanOrEqual(cap + 1e-9);
          const uncapped = sbwWeights(buckets, Number.POSITIVE_INFINITY);
          const totals = new Map<number, number>();
          buckets.forEach((b, i) => totals.set(b, (totals.get(b) ?? 0) + (uncapped[i] as number)));
          const expected = buckets.length / totals.size;
          for (const total of totals.values()) expect(total).toBeCloseTo(expected, 9);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a batch of one reward bucket keeps the base advantages unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 2, maxLength: 6 }), async (group) => {
        const out = (await sbwWeighting({ bins: 1, base: 'grpo' }).compute(groupsOf([group]), contextFor())) as Advantages;
        zScores(group, 'sample', 1e-4).forEach((a, i) => expect(out.rollout[0]?.[i]).toBeCloseTo(a, 12));
      }),
      { numRuns: 50 },
    );
  });
});
