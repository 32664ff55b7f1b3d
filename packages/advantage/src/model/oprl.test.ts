import type { Advantages, RewardModelHandle, ScoredText } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { zScores } from '../group-math.js';
import { oprl } from './oprl.js';
import { contextWith, rolloutOf, singleTurnGroups } from './test-support.js';

/** A scripted implicit PRM: its step reward is `reward(step)`; every call is recorded. */
const scriptedPrm = (reward: (step: ScoredText) => number) => {
  const calls: ScoredText[][] = [];
  const handle: RewardModelHandle = {
    name: 'implicit-prm',
    async score(texts) {
      calls.push([...texts]);
      return texts.map(reward);
    },
    async train() {
      return { loss: 0, examples: 0 };
    },
  };
  return { calls, handle };
};
const withPrm = (handle: RewardModelHandle) => ({ ...contextWith(), rewardModels: { [handle.name]: handle } });
// The PRM gives the step 'good' an implicit reward of 2 and every other step 0.
const goodIsTwo = (step: ScoredText) => (step.text === 'good' ? 2 : 0);
const twoTurnGroup = () => [
  [
    rolloutOf(
      'g0',
      0,
      [
        ['q', 'good'],
        ['o', 'x'],
      ],
      1,
    ),
    rolloutOf(
      'g0',
      1,
      [
        ['q', 'bad'],
        ['o', 'x'],
      ],
      0,
    ),
  ],
];

describe('oprl', () => {
  it("hand-computed: the PRM's step rewards [2, 0, 0, 0] give A_S = [1.5, -0.5, -0.5, -0.5]; A_E = +-0.7071", async () => {
    const prm = scriptedPrm(goodIsTwo);
    const out = (await oprl({ eps: 0 }).compute(twoTurnGroup(), withPrm(prm.handle))) as Advantages;
    // step rewards 2, 0, 0, 0: mean 0.5, sample std sqrt((2.25 + 3 * 0.25) / 3) = 1
    const [good, bad] = (out.turns ?? [])[0] as number[][];
    good?.forEach((a, t) => expect(a).toBeCloseTo([Math.SQRT1_2 + 1.5, Math.SQRT1_2 - 0.5][t] as number, 10));
    bad?.forEach((a) => expect(a).toBeCloseTo(-Math.SQRT1_2 - 0.5, 10));
    expect(out.rollout[0]?.[0]).toBeCloseTo(Math.SQRT1_2, 10);
    // one PRM call for the batch, one step per turn: the context it was taken in, and its action
    expect(prm.calls).toEqual([
      [
        { context: 'q', text: 'good' },
        { context: 'qgoodo', text: 'x' },
        { context: 'q', text: 'bad' },
        { context: 'qbado', text: 'x' },
      ],
    ]);
    expect(out.diagnostics?.stepRewardMean).toBe(0.5);
  });

  it('alpha = 0, or a PRM that scores every step alike (its start, a copy of the policy), gives GRPO on every turn', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: -20, max: 20 }), { minLength: 2, maxLength: 6 }), { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        async (rewards, alphaZero) => {
          const prm = scriptedPrm(alphaZero ? goodIsTwo : () => 0);
          const groups = singleTurnGroups(rewards).map((g) => g.map((r, i) => ({ ...r, turns: i % 2 ? r.turns : [] })));
          const out = (await oprl(alphaZero ? { alpha: 0 } : {}).compute(groups, withPrm(prm.handle))) as Advantages;
          rewards.forEach((group, g) => {
            const expected = zScores(group, 'sample', 1e-4);
            out.turns?.[g]?.forEach((row, i) => row.forEach((a) => expect(a).toBeCloseTo(expected[i] as number, 10)));
          });
        },
      ),
      { numRuns: 40 },
    );
  });

  it('with equal turn counts the advantages of a group sum to zero over all turns, and are finite', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom('a', 'bb', 'good', 'ccc')), {
          minLength: 2,
          maxLength: 6,
        }),
        fc.constantFrom<'group' | 'batch'>('group', 'batch'),
        async (spec, stepScope) => {
          const group = spec.map(([reward, action], i) =>
            rolloutOf(
              'g0',
              i,
              [
                ['q', action],
                ['o', action.slice(1) || 'z'],
              ],
              reward,
            ),
          );
          const out = (await oprl({ stepScope, eps: 0 }).compute([group], withPrm(scriptedPrm(goodIsTwo).handle))) as Advantages;
          const all = (out.turns?.[0] ?? []).flat();
          expect(all).toHaveLength(2 * spec.length);
          expect(all.every(Number.isFinite)).toBe(true);
          expect(Math.abs(all.reduce((a, b) => a + b, 0))).toBeLessThan(1e-9);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('errors: no PRM in the run (naming the reward models it has), G < 2 naming the group, bad options', async () => {
    await expect(async () => oprl().compute(twoTurnGroup(), contextWith())).rejects.toThrow(
      /oprl needs the implicit PRM 'implicit-prm' among the run's reward models \(it has: none\)/,
    );
    const prm = scriptedPrm(goodIsTwo);
    await expect(async () => oprl().compute([[], ...twoTurnGroup()], withPrm(prm.handle))).rejects.toThrow(
      /group 0 has 0 rollout/,
    );
    await expect(async () => oprl({ prm: 'other' }).compute(twoTurnGroup(), withPrm(prm.handle))).rejects.toThrow(
      /'other'.*it has: implicit-prm/,
    );
    expect(() => oprl({ eps: -1 })).toThrow(/eps.*-1/);
    expect(() => oprl({ stepScope: 'episode' as never })).toThrow(/stepScope.*episode/);
  });
});
