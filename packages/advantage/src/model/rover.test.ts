import type { Advantages } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rover } from './rover.js';
import { contextWith, rolloutOf, scriptedServices, singleTurnGroups } from './test-support.js';

describe('rover', () => {
  it('hand-computed: mean-centred by default, z-score on request, broadcast to every turn and used as the Q target', async () => {
    const groups = [
      [
        rolloutOf(
          'g0',
          0,
          [
            ['q', 'a'],
            ['o', 'b'],
          ],
          1,
        ),
        ...singleTurnGroups([[0, 0, 1]])[0]!.slice(1),
      ],
    ];
    const out = (await rover().compute(groups, contextWith())) as Advantages;
    // r = [1, 0, 1]: mean 2/3
    out.rollout[0]?.forEach((a, i) => expect(a).toBeCloseTo([1 / 3, -2 / 3, 1 / 3][i] as number, 12));
    expect(out.turns?.[0]?.[0]).toEqual([out.rollout[0]?.[0], out.rollout[0]?.[0]]);
    // One target per action token of every turn.
    expect(out.tokens?.[0]?.map((turns) => turns.map((t) => t.length))).toEqual(
      groups[0]?.map((r) => r.turns.map((t) => t.actionTokens.length)),
    );
    const reward = await rover({ target: 'reward' }).compute(groups, contextWith());
    expect(reward.tokens).toBeUndefined();
    expect(reward.turns).toEqual(out.turns);
    // z-score: sample std 0.57735 -> [0.57735, -1.1547, 0.57735]
    const z = (await rover({ center: 'z-score', eps: 0 }).compute(groups, contextWith())) as Advantages;
    z.rollout[0]?.forEach((a, i) => expect(a).toBeCloseTo([0.57735, -1.1547, 0.57735][i] as number, 4));
  });

  it('sums to zero per group, is shift-invariant and finite; asks nothing of the model', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: -100, max: 100 }), { minLength: 2, maxLength: 7 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: -50, max: 50 }),
        async (rewards, shift) => {
          const services = scriptedServices();
          const base = (await rover().compute(singleTurnGroups(rewards), contextWith(services))) as Advantages;
          const moved = (await rover().compute(
            singleTurnGroups(rewards.map((g) => g.map((r) => r + shift))),
            contextWith(services),
          )) as Advantages;
          base.rollout.forEach((row, g) => {
            expect(Math.abs(row.reduce((a, b) => a + b, 0))).toBeLessThan(1e-9);
            row.forEach((a, i) => {
              expect(Number.isFinite(a)).toBe(true);
              expect(a).toBeCloseTo(moved.rollout[g]?.[i] as number, 9);
            });
          });
          expect(services.scoreCalls.length + services.rolloutCalls.length).toBe(0);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('errors: G < 2 naming the group; a bad centring option', () => {
    expect(() => rover().compute(singleTurnGroups([[1, 0], [1]]), contextWith())).toThrow(/group 1 has 1 rollout/);
    expect(() => rover({ center: 'median' as never })).toThrow(/center.*median/);
  });
});
