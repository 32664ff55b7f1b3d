import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contextFor, groupsOf } from '../test-support/rollouts.js';
import { gdpo } from './gdpo.js';
import { drGrpo, grpo, rloo } from './grpo.js';
import { grpoPlusOne, MAD_ZERO_GROUP_FRACTION, madZeroWarning, mcGrpo } from './mc-grpo.js';

const run = (estimator: ReturnType<typeof grpo>, rewards: number[][]) =>
  estimator.compute(groupsOf(rewards), contextFor()) as { rollout: number[][]; weights: number[][] };
const close = (actual: readonly number[], expected: readonly number[], digits = 4) => {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => expect(a).toBeCloseTo(expected[i] as number, digits));
};

// A group of 2..8 finite rewards (G >= 2), several groups. Rewards on a 0.01 grid:
// values like 1e-162 underflow when squared, which would test float64, not the estimators.
const reward = fc.integer({ min: -10_000, max: 10_000 }).map((x) => x / 100);
const group = fc.array(reward, { minLength: 2, maxLength: 8 });
const groups = fc.array(group, { minLength: 1, maxLength: 4 });
const sumsToZero = (values: readonly number[]) =>
  Math.abs(values.reduce((a, b) => a + b, 0)) <= 1e-9 * (1 + values.reduce((a, b) => a + Math.abs(b), 0));

describe('worked examples', () => {
  it.each([
    [
      [1, 0, 0, 1],
      [0.866, -0.866, -0.866, 0.866],
      [0.8659, -0.8659, -0.8659, 0.8659],
      [1, -1, -1, 1],
    ],
    [
      [0, 0, 0, 1],
      [-0.5, -0.5, -0.5, 1.5],
      [-0.4999, -0.4999, -0.4999, 1.4997],
      [-0.5774, -0.5774, -0.5774, 1.7321],
    ],
    [
      [0.2, 0.5, 0.9, 0.9, 0.0],
      [-0.7385, 0, 0.9847, 0.9847, -1.2309],
      [-0.7384, 0, 0.9845, 0.9845, -1.2306],
      [-0.8257, 0, 1.101, 1.101, -1.3762],
    ],
    [
      [1, 1, 1, 1],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ],
  ])('GRPO %j', (rewards, sampleNoEps, sampleTrl, population) => {
    close(run(grpo({ eps: 0 }), [rewards]).rollout[0] as number[], sampleNoEps);
    close(run(grpo(), [rewards]).rollout[0] as number[], sampleTrl);
    close(run(grpo({ std: 'population', eps: 0 }), [rewards]).rollout[0] as number[], population);
  });

  it.each([
    [
      [1, 0, 0, 1],
      [0.5, -0.5, -0.5, 0.5],
      [0.6667, -0.6667, -0.6667, 0.6667],
    ],
    [
      [0, 0, 0, 1],
      [-0.25, -0.25, -0.25, 0.75],
      [-0.3333, -0.3333, -0.3333, 1],
    ],
    [
      [0.2, 0.5, 0.9, 0.9, 0.0],
      [-0.3, 0, 0.4, 0.4, -0.5],
      [-0.375, 0, 0.5, 0.5, -0.625],
    ],
  ])('Dr. GRPO and RLOO %j', (rewards, dr, leaveOneOut) => {
    close(run(drGrpo(), [rewards]).rollout[0] as number[], dr);
    close(run(rloo(), [rewards]).rollout[0] as number[], leaveOneOut);
  });

  it('MC-GRPO by hand: median baseline, MAD scale, pivot excluded', () => {
    // r = [0.2, 0.9, 0.5, 0.0, 0.7]: median 0.5 (index 2), |r - 0.5| = [0.3, 0.4, 0, 0.5, 0.2], MAD = 0.3.
    const { rollout, weights } = run(mcGrpo(), [[0.2, 0.9, 0.5, 0.0, 0.7]]);
    close(rollout[0] as number[], [-0.3 / 0.301, 0.4 / 0.301, 0, -0.5 / 0.301, 0.2 / 0.301]);
    expect(weights[0]).toEqual([1, 1, 0, 1, 1]);
    // binary rewards: MAD = 0, so the code's 1e-3 epsilon gives +-1000
    close(run(mcGrpo(), [[1, 0, 0]]).rollout[0] as number[], [1000, 0, 0], 6);
    close(run(mcGrpo({ scale: 'none' }), [[1, 0, 0]]).rollout[0] as number[], [1, 0, 0]);
    // rescaleNonZero: (G+1)/#non-zero = 3/1
    close(run(mcGrpo({ scale: 'none', rescaleNonZero: true }), [[1, 0, 0]]).rollout[0] as number[], [3, 0, 0]);
  });

  it('GRPO+1 control: GRPO over G+1, the smallest |r| dropped', () => {
    const { rollout, weights } = run(grpoPlusOne({ eps: 0 }), [[0.2, 0.5, 0.9, 0.9, 0.0]]);
    close(rollout[0] as number[], [-0.7385, 0, 0.9847, 0.9847, -1.2309]);
    expect(weights[0]).toEqual([1, 1, 1, 1, 0]);
  });

  it('GDPO collapse example: GRPO maps different totals to the same advantages, GDPO keeps them apart', () => {
    const weights = { a: 1, b: 1 };
    // two groups of G=2 with binary rewards a, b: totals (0,1) and (0,2)
    const rollouts = groupsOf([
      [
        { a: 0, b: 0 },
        { a: 1, b: 0 },
      ],
      [
        { a: 0, b: 0 },
        { a: 1, b: 1 },
      ],
    ]);
    const ctx = contextFor(weights);
    const grpoAdvantages = (grpo({ eps: 0 }).compute(rollouts, ctx) as { rollout: number[][] }).rollout;
    close(grpoAdvantages[0] as number[], [-Math.SQRT1_2, Math.SQRT1_2]);
    close(grpoAdvantages[1] as number[], [-Math.SQRT1_2, Math.SQRT1_2]);
    const gdpoAdvantages = (gdpo({ eps: 0 }).compute(rollouts, ctx) as { rollout: number[][] }).rollout;
    // before the batch step: group 1 -> [-0.7071, 0.7071] (b is constant: 0), group 2 -> [-1.4142, 1.4142];
    // batch mean 0, sample std sqrt((0.5 + 0.5 + 2 + 2) / 3) = 1.2910
    close(gdpoAdvantages[0] as number[], [-0.5477, 0.5477]);
    close(gdpoAdvantages[1] as number[], [-1.0954, 1.0954]);
  });
});

describe('properties', () => {
  it('group advantages sum to zero (GRPO, Dr. GRPO, RLOO) and never NaN', () => {
    fc.assert(
      fc.property(groups, (rewards) => {
        for (const estimator of [grpo(), drGrpo(), rloo(), grpo({ std: 'population' })]) {
          for (const advantages of run(estimator, rewards).rollout) {
            if (!advantages.every(Number.isFinite) || !sumsToZero(advantages)) return false;
          }
        }
        return true;
      }),
    );
  });

  it('is invariant to adding a constant to every reward; GRPO is scale-invariant, Dr. GRPO equivariant', () => {
    fc.assert(
      fc.property(
        group,
        fc.double({ min: -50, max: 50, noNaN: true }),
        fc.double({ min: 0.1, max: 10, noNaN: true }),
        (rewards, shift, scale) => {
          const base = run(grpo({ eps: 0 }), [rewards]).rollout[0] as number[];
          const shifted = run(grpo({ eps: 0 }), [rewards.map((r) => r + shift)]).rollout[0] as number[];
          const scaled = run(grpo({ eps: 0 }), [rewards.map((r) => r * scale)]).rollout[0] as number[];
          const dr = run(drGrpo(), [rewards]).rollout[0] as number[];
          const drScaled = run(drGrpo(), [rewards.map((r) => r * scale)]).rollout[0] as number[];
          const tol = (x: number) => 1e-6 * (1 + Math.abs(x));
          return base.every(
            (a, i) =>
              Math.abs(a - (shifted[i] as number)) <= tol(a) * 100 &&
              Math.abs(a - (scaled[i] as number)) <= tol(a) * 100 &&
              Math.abs((dr[i] as number) * scale - (drScaled[i] as number)) <= tol(drScaled[i] as number) * 100,
          );
        },
      ),
    );
  });

  it('RLOO = G/(G-1) x Dr. GRPO', () => {
    fc.assert(
      fc.property(group, (rewards) => {
        const G = rewards.length;
        const r = run(rloo(), [rewards]).rollout[0] as number[];
        const d = run(drGrpo(), [rewards]).rollout[0] as number[];
        return r.every((a, i) => Math.abs(a - (G / (G - 1)) * (d[i] as number)) <= 1e-9 * (1 + Math.abs(a)) * 100);
      }),
    );
  });

  it('MC-GRPO excludes exactly one rollout: the (lower) median, ties resolved by the stable order; signs follow r - median', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 3, maxLength: 9 }), (rewards) => {
        const { rollout, weights } = run(mcGrpo({ scale: 'none' }), [rewards]);
        const w = weights[0] as number[];
        const excluded = w.flatMap((x, i) => (x === 0 ? [i] : []));
        if (excluded.length !== 1) return false;
        const sorted = [...rewards].sort((a, b) => a - b);
        const median = sorted[Math.floor((rewards.length - 1) / 2)] as number;
        const pivot = excluded[0] as number;
        if (rewards[pivot] !== median) return false;
        // ties resolve by the stable (reward, index) order
        const order = rewards.map((value, index) => ({ value, index })).sort((a, b) => a.value - b.value || a.index - b.index);
        if (order[Math.floor((rewards.length - 1) / 2)]?.index !== pivot) return false;
        return (rollout[0] as number[]).every(
          (a, i) => i === pivot || Math.sign(a) === Math.sign((rewards[i] as number) - median),
        );
      }),
    );
  });

  it('MC-GRPO signs survive an outlier as long as the median rollout is unchanged', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 5, maxLength: 9 }),
        fc.double({ min: 20, max: 1e6, noNaN: true }),
        (rewards, outlier) => {
          const before = run(mcGrpo(), [rewards]).rollout[0] as number[];
          const top = rewards.indexOf(Math.max(...rewards));
          const changed = rewards.map((r, i) => (i === top ? outlier : r));
          const after = run(mcGrpo(), [changed]).rollout[0] as number[];
          return before.every((a, i) => i === top || Math.sign(a) === Math.sign(after[i] as number));
        },
      ),
    );
  });

  it('GDPO with one component equals GRPO followed by batch normalisation; batch mean is 0 for equal group sizes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6 }),
        fc.array(fc.array(reward, { minLength: 6, maxLength: 6 }), { minLength: 1, maxLength: 4 }),
        (g, raw) => {
          const rewards = raw.map((row) => row.slice(0, g));
          const single = gdpo({ eps: 1e-4 }).compute(groupsOf(rewards), contextFor()) as { rollout: number[][] };
          const grouped = run(grpo({ eps: 1e-4 }), rewards).rollout.flat();
          const mean = grouped.reduce((a, b) => a + b, 0) / grouped.length;
          const sd = Math.sqrt(grouped.reduce((a, b) => a + (b - mean) ** 2, 0) / (grouped.length - 1));
          const expected = sd === 0 ? grouped.map(() => 0) : grouped.map((a) => (a - mean) / (sd + 1e-4));
          const flat = single.rollout.flat();
          return flat.every((a, i) => Math.abs(a - (expected[i] as number)) <= 1e-6 * (1 + Math.abs(a))) && sumsToZero(flat);
        },
      ),
    );
  });
});

describe('degenerate input', () => {
  it('refuses groups that are too small, naming the group', () => {
    expect(() => run(grpo(), [[1, 0], [1]])).toThrow(/grpo: group 1 has 1 rollout\(s\); it needs at least 2/);
    expect(() => run(grpo(), [[]])).toThrow(/group 0 has 0 rollout/);
    expect(() => run(mcGrpo(), [[1, 0]])).toThrow(/mc-grpo: group 0 has 2 rollout\(s\); it needs at least 3/);
  });

  it('refuses non-finite and missing rewards, naming the rollout and the component', () => {
    expect(() => run(grpo(), [[1, Number.NaN]])).toThrow(/group 0, rollout 1 \(g0\/1\).*not finite/);
    const vectors = groupsOf([[{ correct: 1, format: 1 }, { correct: 0 }]]);
    expect(() => gdpo().compute(vectors, contextFor({ correct: 1, format: 0.1 }))).toThrow(
      /rollout 1 \(g0\/1\) has no reward component 'format'/,
    );
  });

  it('gives zeros, not NaN, for all-equal rewards, and handles mixed group sizes', () => {
    for (const estimator of [grpo({ eps: 0 }), drGrpo(), rloo(), mcGrpo(), grpoPlusOne()]) {
      expect(
        run(estimator, [
          [2, 2, 2],
          [1, 0, 1, 0, 1],
        ]).rollout[0],
      ).toEqual([0, 0, 0]);
    }
  });

  it('validates options, naming the bad value and the accepted ones', () => {
    expect(() => grpo({ std: 'both' as never })).toThrow(/option 'std' must be one of sample, population/);
    expect(() => mcGrpo({ scale: 'iqr' as never })).toThrow(/must be one of mad, none, std/);
    expect(() => grpo({ eps: -1 })).toThrow(/'eps' must be >= 0/);
    expect(grpo().configure?.({ std: 'population' }).resolved).toMatchObject({ std: 'population', eps: 1e-4 });
  });
});

describe('mc-grpo MAD = 0 diagnostic and warning', () => {
  it('binary rewards: every group has MAD 0, advantages are +-1/madEps, and the warning fires', () => {
    // G + 1 = 5 binary rewards: the median and at least three values agree, so the MAD is 0.
    const result = mcGrpo().compute(
      groupsOf([
        [1, 0, 0, 1, 0],
        [1, 1, 0, 1, 1],
      ]),
      contextFor(),
    ) as {
      rollout: number[][];
      diagnostics: Record<string, number>;
    };
    expect(result.diagnostics[MAD_ZERO_GROUP_FRACTION]).toBe(1);
    expect(result.rollout[0]?.[0]).toBeCloseTo(1000, 9);
    expect(result.rollout[1]?.[2]).toBeCloseTo(-1000, 9);
    const line = madZeroWarning('mc-grpo', result.diagnostics);
    expect(line).toMatch(/^warning: mc-grpo: the MAD was 0 in 100% of groups \(more than 50%\)/);
    // The trainer's metric name, as the compare report averages it.
    expect(madZeroWarning('mc-grpo', { 'estimator.madZeroGroupFraction': 0.75 })).toMatch(/in 75% of groups/);
  });

  it('stays silent at or below half, and without the diagnostic', () => {
    expect(madZeroWarning('mc-grpo', { 'estimator.madZeroGroupFraction': 0.5 })).toBeUndefined();
    expect(madZeroWarning('grpo', { zeroAdvantageFraction: 0.9 })).toBeUndefined();
    const graded = mcGrpo().compute(groupsOf([[0.1, 0.5, 0.2, 0.9, 0.4]]), contextFor()) as {
      diagnostics: Record<string, number>;
    };
    expect(graded.diagnostics[MAD_ZERO_GROUP_FRACTION]).toBe(0);
    expect(madZeroWarning('mc-grpo', graded.diagnostics)).toBeUndefined();
  });
});
