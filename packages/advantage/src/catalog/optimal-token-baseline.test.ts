import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { optimalTokenBaseline, tirOptimalTokenBaseline, tokenBaselineAdvantages } from './optimal-token-baseline.js';
import { context, tokenRollout } from './test-support.js';

const round = (values: readonly number[] | undefined, digits = 4) => values?.map((v) => Number(v.toFixed(digits)));

// A hand-computed example: pi = [[.9, .5, .8], [.6, .7]], S = [[.82, .4, .7], [.5, .55]] -> w = [[.02, .4, .1], [.3, .15]].
const example = [
  { mask: [1, 1, 1], returns: [1, 1, 1], w: [0.02, 0.4, 0.1] },
  { mask: [1, 1, 0], returns: [0, 0, 0], w: [0.3, 0.15, 0] },
];

describe('tokenBaselineAdvantages: hand-computed worked examples', () => {
  it('A.7 absolute positions, with and without the zero tail', () => {
    const plain = tokenBaselineAdvantages(example, { positions: 'absolute', zeroTail: false, eps: 1e-8 });
    expect(round(plain.baselines[0])).toEqual([0.0625, 0.4828, 1]);
    expect(round(plain.advantages[0])).toEqual([0.9375, 0.5172, 0]);
    expect(round(plain.advantages[1])).toEqual([-0.0625, -0.4828, 0]);
    const tail = tokenBaselineAdvantages(example, { positions: 'absolute', zeroTail: true, eps: 1e-8 });
    expect(round(tail.advantages[0])).toEqual([0.9375, 0.5172, 1]);
    expect(round(tail.advantages[1])).toEqual([-0.0625, -0.4828, 0]);
  });

  it('A.8 compact positions skip the tool token', () => {
    const group = [
      { mask: [1, 0, 1, 1], returns: [1, 1, 1, 1], w: [0.02, 0, 0.4, 0.1] },
      { mask: [1, 1, 0, 0], returns: [0, 0, 0, 0], w: [0.3, 0.15, 0, 0] },
    ];
    const result = tokenBaselineAdvantages(group, { positions: 'compact', zeroTail: true, eps: 1e-8 });
    expect(round(result.advantages[0])).toEqual([0.9375, 0, 0.5172, 1]);
    expect(round(result.advantages[1])).toEqual([-0.0625, -0.4828, 0, 0]);
  });

  it('a singleton group has baseline 0 (A = Ret); a compact group ignores empty trajectories', () => {
    const single = tokenBaselineAdvantages([example[0] as (typeof example)[0]], {
      positions: 'absolute',
      zeroTail: true,
      eps: 1e-8,
    });
    expect(single.advantages).toEqual([[1, 1, 1]]);
    const withEmpty = tokenBaselineAdvantages([example[0] as (typeof example)[0], { mask: [0, 0], returns: [0, 0], w: [0, 0] }], {
      positions: 'compact',
      zeroTail: true,
      eps: 1e-8,
    });
    expect(withEmpty.advantages).toEqual([
      [1, 1, 1],
      [0, 0],
    ]);
  });
});

/** The A.7 example as rollouts with the exact sum pi^2 recorded in meta. */
function exampleRollouts(multiTurn: boolean) {
  const first = multiTurn
    ? tokenRollout('g/0', 1, [{ logprobs: [Math.log(0.9)] }, { logprobs: [Math.log(0.5), Math.log(0.8)], observation: 1 }], {
        meta: { sumPiSquared: [[0.82], [0.4, 0.7]] },
      })
    : tokenRollout('g/0', 1, [{ logprobs: [Math.log(0.9), Math.log(0.5), Math.log(0.8)] }], {
        meta: { sumPiSquared: [[0.82, 0.4, 0.7]] },
      });
  const second = tokenRollout('g/1', 0, [{ logprobs: [Math.log(0.6), Math.log(0.7)] }], {
    meta: { sumPiSquared: [[0.5, 0.55]] },
  });
  return [[first, second]];
}

describe('optimal-token-baseline estimator', () => {
  it('averages the token advantages of the A.7 example over each turn', async () => {
    const result = await optimalTokenBaseline({ sumPiSquared: 'meta' }).compute(exampleRollouts(false), context());
    // (0.9375 + 0.5172 + 1) / 3 and (-0.0625 - 0.4828) / 2
    expect(round(result.rollout[0])).toEqual([0.8182, -0.2726]);
    expect(round(result.turns?.[0]?.[0])).toEqual([0.8182]);
    expect(result.returns).toEqual([[[1], [0]]]);
    expect(result.weights).toEqual([[1, 1]]);
  });

  it('multi-turn: absolute positions count the observation token, TIR skips it', async () => {
    // Absolute: trajectory 0 sits at [0, 2, 3], trajectory 1 at [0, 1]; B = [.0625, 0, 1, 1], zero tail from 2.
    const absolute = await optimalTokenBaseline({ sumPiSquared: 'meta' }).compute(exampleRollouts(true), context());
    expect(absolute.turns?.[0]?.[0]?.map((v) => Number(v.toFixed(4)))).toEqual([0.9375, 1]);
    expect(absolute.turns?.[0]?.[1]?.[0]).toBeCloseTo(-0.03125, 8);
    // TIR: the A.8 example, A0 = [0.9375 | 0.5172, 1], A1 = [-0.0625, -0.4828].
    const tir = await tirOptimalTokenBaseline({ sumPiSquared: 'meta' }).compute(exampleRollouts(true), context());
    expect(tir.turns?.[0]?.map((turns) => round(turns))).toEqual([[0.9375, 0.7586], [-0.2726]]);
  });

  it('the proxy weights (1 - pi)^2 give a different but finite baseline', async () => {
    const result = await optimalTokenBaseline().compute(exampleRollouts(false), context());
    // w0 = [.01, .25, .04] -> W0 = [.01, .26, .30]; w1 = [.16, .09] -> W1 = [.16, .25]
    // B = [.01/.17, .26/.51, 1], tail zeroed at t = 2
    const expected0 = (1 - 0.01 / 0.17 + 1 - 0.26 / 0.51 + 1) / 3;
    const expected1 = (-0.01 / 0.17 - 0.26 / 0.51) / 2;
    expect(result.rollout[0]?.[0]).toBeCloseTo(expected0, 6);
    expect(result.rollout[0]?.[1]).toBeCloseTo(expected1, 6);
  });

  it('rejects a turn whose logprobs do not match its tokens, and a missing meta, naming the rollout', async () => {
    const bad = tokenRollout('g/1', 0, [{ logprobs: [-0.1] }]);
    const broken = { ...bad, turns: [{ ...(bad.turns[0] as (typeof bad.turns)[0]), logprobs: [] }] };
    await expect(
      (async () => optimalTokenBaseline().compute([[tokenRollout('g/0', 1, [{ logprobs: [-0.1] }]), broken]], context()))(),
    ).rejects.toThrow(/group 0, rollout 1 \(g\/1\), turn 0 has 1 action token\(s\) but 0 logprob/);
    await expect((async () => optimalTokenBaseline({ sumPiSquared: 'meta' }).compute([[bad]], context()))()).rejects.toThrow(
      /group 0, rollout 0 \(g\/1\) has no meta.sumPiSquared/,
    );
    await expect((async () => optimalTokenBaseline().compute([[]], context()))()).rejects.toThrow(/group 0 has 0 rollout/);
    expect(() => optimalTokenBaseline({ sumPiSquared: 'exact' as never })).toThrow(/'sumPiSquared'/);
  });

  it('rollouts without tokens (reward-only input) get 0, not NaN', async () => {
    const empty = { ...tokenRollout('g/0', 1, []), turns: [] };
    const result = await tirOptimalTokenBaseline().compute([[empty, { ...empty, id: 'g/1', reward: { reward: 0 } }]], context());
    expect(result.rollout).toEqual([[0, 0]]);
    expect(result.diagnostics?.emptyRollouts).toBe(2);
  });
});

const logprob = fc.double({ min: -6, max: -0.01, noNaN: true });
const trajectory = fc.record({
  reward: fc.double({ min: -10, max: 10, noNaN: true }),
  turns: fc.array(
    fc.record({ logprobs: fc.array(logprob, { minLength: 0, maxLength: 4 }), observation: fc.integer({ min: 0, max: 3 }) }),
    { minLength: 1, maxLength: 3 },
  ),
});
const groupOf = (specs: readonly { reward: number; turns: { logprobs: number[]; observation: number }[] }[]) => [
  specs.map((spec, i) => tokenRollout(`g/${i}`, spec.reward, spec.turns)),
];

describe('optimal token baseline properties (fast-check)', () => {
  it('finite advantages for any finite input, both layouts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(trajectory, { minLength: 1, maxLength: 5 }), fc.boolean(), async (specs, tail) => {
        for (const estimator of [optimalTokenBaseline({ zeroTail: tail }), tirOptimalTokenBaseline({ zeroTail: tail })]) {
          const result = await estimator.compute(groupOf(specs), context());
          for (const v of [...result.rollout.flat(), ...(result.turns?.flat(2) ?? [])]) expect(Number.isFinite(v)).toBe(true);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('adding a constant to every reward leaves the advantages unchanged (no zero tail, eps 0)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(trajectory, { minLength: 2, maxLength: 5 }),
        fc.double({ min: -5, max: 5, noNaN: true }),
        async (specs, shift) => {
          // A lone non-empty trajectory has baseline 0 (verl's singleton rule): A = Ret moves with the shift.
          fc.pre(specs.filter((s) => s.turns.some((t) => t.logprobs.length > 0)).length >= 2);
          for (const make of [optimalTokenBaseline, tirOptimalTokenBaseline]) {
            const estimator = make({ zeroTail: false, eps: 0 });
            const base = await estimator.compute(groupOf(specs), context());
            const shifted = await estimator.compute(groupOf(specs.map((s) => ({ ...s, reward: s.reward + shift }))), context());
            // A position held by one trajectory has baseline Ret (A = 0) either way; all other
            // positions shift baseline and return by the same constant.
            shifted.turns?.flat(2).forEach((v, k) => expect(v).toBeCloseTo(base.turns?.flat(2)[k] as number, 6));
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it('equal token weights across the group reduce it to the group-mean baseline (Dr. GRPO, zero-sum)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 2, maxLength: 6 }),
        fc.array(logprob, { minLength: 1, maxLength: 5 }),
        async (rewards, logprobs) => {
          const group = [rewards.map((r, i) => tokenRollout(`g/${i}`, r, [{ logprobs }]))];
          // eps 0: with pi near 1 the energies are tiny and verl's 1e-8 would bias the ratio
          const result = await optimalTokenBaseline({ eps: 0 }).compute(group, context());
          const m = rewards.reduce((a, b) => a + b, 0) / rewards.length;
          result.rollout[0]?.forEach((a, i) => expect(a).toBeCloseTo((rewards[i] as number) - m, 5));
          expect(result.rollout[0]?.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 5);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('single-turn rollouts: absolute and TIR layouts agree', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            reward: fc.double({ min: -10, max: 10, noNaN: true }),
            logprobs: fc.array(logprob, { minLength: 0, maxLength: 5 }),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        async (specs) => {
          const group = [specs.map((s, i) => tokenRollout(`g/${i}`, s.reward, [{ logprobs: s.logprobs }]))];
          const absolute = await optimalTokenBaseline().compute(group, context());
          const compact = await tirOptimalTokenBaseline().compute(group, context());
          compact.rollout[0]?.forEach((v, i) => expect(v).toBeCloseTo(absolute.rollout[0]?.[i] as number, 9));
        },
      ),
      { numRuns: 50 },
    );
  });
});
