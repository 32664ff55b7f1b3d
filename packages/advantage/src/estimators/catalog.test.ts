import { type EstimatorContext, type RewardVector, Rng, type Rollout, weightedSum } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupsOf } from '../test-support/rollouts.js';
import { gardo } from './gardo.js';
import { gdpo } from './gdpo.js';
import { pfPpo } from './pf-ppo.js';
import { quantile, riskpo } from './riskpo.js';
import { decayingRewards, exitOrder, sGrpo } from './s-grpo.js';
import { gpg, grpoPassk, opo, rlooVectorized } from './verl-catalog.js';

const ctx = (weights: Record<string, number> = { reward: 1 }): EstimatorContext => ({
  rng: Rng.seeded(0),
  weights,
  scalar: (r) => weightedSum(r, weights),
});

/** Rollouts with one turn of `length` action tokens and the given action text. */
function withLengths(
  rewards: readonly (number | RewardVector)[],
  lengths: readonly number[],
  actions?: readonly string[],
): Rollout[] {
  return rewards.map((r, i) => ({
    id: `g/${i}`,
    groupId: 'g',
    taskId: 't',
    reward: typeof r === 'number' ? { reward: r } : r,
    success: false,
    turns: [
      {
        observation: '',
        action: actions?.[i] ?? 'a',
        promptTokens: [1],
        actionTokens: Array.from({ length: lengths[i] as number }, () => 5),
        logprobs: [],
        reward: {},
        valid: true,
        truncated: false,
      },
    ],
  }));
}

const close = (values: readonly number[] | undefined, expected: readonly number[], digits = 4) =>
  expect(values?.map((v) => Number(v.toFixed(digits)))).toEqual(expected.map((v) => Number(v.toFixed(digits))));

describe('verl catalog estimators: hand-computed worked examples', () => {
  it('OPO: length-weighted baseline', async () => {
    const result = await opo().compute([withLengths([1, 0, 1, 0], [10, 30, 20, 40])], ctx());
    close(result.rollout[0], [0.7, -0.3, 0.7, -0.3]);
    expect((await opo().compute(groupsOf([[0.7]]), ctx())).rollout).toEqual([[0.7]]); // singleton: baseline 0
  });

  it('GPG: alpha over the whole batch counts non-zero rewards', async () => {
    const two = await gpg().compute(
      groupsOf([
        [1, 0, 0, 1],
        [0, 0, 0, 0],
      ]),
      ctx(),
    );
    expect(two.rollout).toEqual([
      [2, -2, -2, 2],
      [0, 0, 0, 0],
    ]);
    close((await gpg().compute(groupsOf([[1, 0.5, 0, 1]]), ctx())).rollout[0], [0.5, -0.1667, -0.8333, 0.5]);
  });

  it('GRPO pass@k: only the best gets (best - second) / (std + 1e-6)', async () => {
    close((await grpoPassk().compute(groupsOf([[1, 0, 0, 0]]), ctx())).rollout[0], [2, 0, 0, 0]);
    close((await grpoPassk().compute(groupsOf([[0.2, 0.9, 0.5, 0.1]]), ctx())).rollout[0], [0, 1.113, 0, 0]);
    close((await grpoPassk({ normalise: false }).compute(groupsOf([[0.2, 0.9, 0.5, 0.1]]), ctx())).rollout[0], [0, 0.4, 0, 0]);
    expect((await grpoPassk().compute(groupsOf([[1, 1, 0, 0]]), ctx())).rollout).toEqual([[0, 0, 0, 0]]);
  });

  it('RLOO vectorized: the same for G >= 2, 0 for a singleton', async () => {
    close((await rlooVectorized().compute(groupsOf([[1, 0, 0, 1]]), ctx())).rollout[0], [0.6667, -0.6667, -0.6667, 0.6667]);
    expect((await rlooVectorized().compute(groupsOf([[0.7]]), ctx())).rollout).toEqual([[0]]);
  });

  it('GDPO flavours: verl whitens over tokens, TRL over sequences (A.9)', async () => {
    const rewards = [
      { a: 1, b: 1 },
      { a: 0, b: 1 },
      { a: 0, b: 1 },
      { a: 1, b: 0 },
    ];
    const groups = [withLengths(rewards, [2, 4, 2, 4])];
    close((await gdpo({ flavour: 'verl' }).compute(groups, ctx({ a: 1, b: 1 }))).rollout[0], [2.1089, -0.2743, -0.2743, -0.643]);
    close((await gdpo({ flavour: 'trl' }).compute(groups, ctx({ a: 1, b: 1 }))).rollout[0], [1.4856, -0.3981, -0.3981, -0.6894]);
    // NVlabs ignores the weights
    const nv = await gdpo({ flavour: 'nvlabs' }).compute(groups, ctx({ a: 5, b: 1 }));
    close(nv.rollout[0], [2.1089, -0.2743, -0.2743, -0.643]);
  });
});

describe('riskpo', () => {
  it('uses torch-style linear quantiles', () => {
    expect(quantile([0, 1, 2, 3, 4], 0.2)).toBeCloseTo(0.8, 12);
    expect(quantile([3, 1], 0.9)).toBeCloseTo(2.8, 12);
  });

  it('pushes papers below the upper quantile down and never up (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 5 }),
        fc.integer({ min: 1, max: 7 }),
        fc.constantFrom('std', 'uniform', 'score'),
        fc.infiniteStream(fc.constantFrom(0, 1, 0.5)),
        async (n, groupCount, credit, stream) => {
          const it = stream[Symbol.iterator]();
          const rewards = Array.from({ length: groupCount }, () => Array.from({ length: n }, () => it.next().value as number));
          const result = await riskpo({ credit, bundleSize: 3 }).compute(groupsOf(rewards), ctx());
          for (const a of result.rollout.flat()) {
            expect(Number.isFinite(a)).toBe(true);
            expect(a).toBeLessThanOrEqual(0);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('gives 0 when every paper scores the same, and names unequal group sizes in a bundle', async () => {
    expect(
      (
        await riskpo().compute(
          groupsOf([
            [1, 1],
            [0, 0],
          ]),
          ctx(),
        )
      ).rollout,
    ).toEqual([
      [0, 0],
      [0, 0],
    ]);
    await expect(async () =>
      riskpo().compute(
        groupsOf([
          [1, 0],
          [1, 0, 1],
        ]),
        ctx(),
      ),
    ).rejects.toThrow(/group 1 has 3 rollouts but its bundle's first group has 2/);
  });
});

describe('s-grpo', () => {
  it('decays by correct exits so far (or by position), and centres', async () => {
    expect(decayingRewards([false, true, true], 'n-right')).toEqual([0, 1, 0.5]);
    expect(decayingRewards([false, true, true], 'index')).toEqual([0, 0.5, 0.25]);
    const groups = [
      [false, true, true].map((success, i) => ({ ...(groupsOf([[0]])[0]?.[0] as Rollout), id: `g/${i}`, success })),
    ];
    close((await sGrpo().compute(groups, ctx())).rollout[0], [-0.5, 0.5, 0]);
  });

  it("orders a serial group's exits by their position (meta.serialExit), whatever the rollout order", async () => {
    const base = groupsOf([[0]])[0]?.[0] as Rollout;
    // exits at 9 (path), 2, 5: correctness by position 2 -> false, 5 -> true, 9 -> true
    const group = [
      { ...base, id: 'g/0', success: true, meta: { serialExit: 9 } },
      { ...base, id: 'g/1', success: false, meta: { serialExit: 2 } },
      { ...base, id: 'g/2', success: true, meta: { serialExit: 5 } },
    ];
    const result = await sGrpo().compute([group], ctx());
    close(result.rollout[0], [0.5 - 0.5, 0 - 0.5, 1 - 0.5]);
    expect(result.diagnostics?.serialGroups).toBe(1);
    expect(exitOrder(group)).toEqual([1, 2, 0]);
    expect(exitOrder([group[0] as Rollout, base])).toBeUndefined();
  });
});

describe('gardo', () => {
  it('amplifies only above-mean rollouts, by their distance to the nearest neighbour', async () => {
    const groups = [withLengths([1, 1, 0, 0], [1, 1, 1, 1], ['abcabc', 'abcabc', 'xyzxyz', 'qqqqqq'])];
    const result = await gardo().compute(groups, ctx());
    // the two winners are identical (distance 0): their diversity multiplier is 0
    expect(result.rollout[0]?.slice(0, 2)).toEqual([0, 0]);
    expect(result.rollout[0]?.slice(2)).toEqual([-0.5, -0.5]); // below the mean: multiplier 1
    const distinct = await gardo().compute(
      [withLengths([1, 1, 0, 0], [1, 1, 1, 1], ['abcabc', 'uvwuvw', 'xyzxyz', 'qqqqqq'])],
      ctx(),
    );
    expect(distinct.rollout[0]?.[0]).toBeGreaterThan(0);
  });
});

describe('pf-ppo', () => {
  it('trains the best and the worst of each group (BW), all generated', async () => {
    const result = await pfPpo().compute(groupsOf([[0.2, 0.9, 0.5, 0.1]]), ctx());
    expect(result.weights).toEqual([[0, 1, 0, 1]]);
    const bon = await pfPpo({ strategy: 'bon' }).compute(groupsOf([[0.2, 0.9, 0.5, 0.1]]), ctx());
    expect(bon.weights).toEqual([[0, 1, 0, 0]]);
    const br = await pfPpo({ strategy: 'br' }).compute(groupsOf([[0.2, 0.9, 0.5, 0.1]]), ctx());
    expect(br.weights[0]?.filter((w) => w === 1)).toHaveLength(2);
    expect(br.weights[0]?.[1]).toBe(1);
  });

  it("verl's modes give expected resampling counts that sum to the batch size", async () => {
    const result = await pfPpo({ strategy: 'pow' }).compute(
      groupsOf([
        [1, -2],
        [0, 1],
      ]),
      ctx(),
    );
    expect(result.weights.flat().reduce((a, b) => a + b, 0)).toBeCloseTo(4, 12);
    expect(result.weights).toEqual([
      [4 / 6, 16 / 6],
      [0, 4 / 6],
    ]);
  });
});

describe('no NaN for finite input (fast-check)', () => {
  const estimators = [
    opo(),
    gpg(),
    grpoPassk(),
    rlooVectorized(),
    riskpo(),
    sGrpo(),
    gardo(),
    pfPpo(),
    gdpo({ flavour: 'verl' }),
  ];
  it.each(estimators.map((e) => [e.name, e] as const))('%s', async (_, estimator) => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 6 }).chain((n) =>
          fc.array(fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: n, maxLength: n }), {
            minLength: 1,
            maxLength: 4,
          }),
        ),
        async (rewards) => {
          const groups = rewards.map((g, k) =>
            withLengths(
              g,
              g.map((_, i) => 1 + ((i + k) % 3)),
            ).map((r, i) => ({ ...r, id: `g${k}/${i}`, groupId: `g${k}` })),
          );
          const result = await estimator.compute(groups, ctx());
          for (const v of [...result.rollout.flat(), ...result.weights.flat()]) expect(Number.isFinite(v)).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
  });
});
