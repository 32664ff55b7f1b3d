import type { Advantages } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bestOfKValue, pav, proverAdvantage } from './pav.js';
import { contextWith, rolloutOf, scriptedServices, singleTurnGroups } from './test-support.js';

const extraWith = (successes: readonly boolean[]) =>
  scriptedServices({
    rollouts: (request) =>
      Array.from({ length: request.count }, (_, i) =>
        rolloutOf(`${request.groupId}x`, i, [['q', 'e']], 0, { success: successes[i % successes.length] as boolean }),
      ),
  });

describe('pav', () => {
  it("hand-worked example: V(s) = 0.3, V(s') = 0.5, K = 4 gives A^mu = 0.1776; effective reward 0.5888 at alpha 0.5", () => {
    expect(bestOfKValue(0.3, 4)).toBeCloseTo(0.7599, 10);
    expect(proverAdvantage(0.3, 0.5, 4)).toBeCloseTo(0.1776, 4);
    expect(0.5 + 0.5 * proverAdvantage(0.3, 0.5, 4)).toBeCloseTo(0.5888, 4);
  });

  it('single turn, hand-computed: 2 extra rollouts, V(s0) = 0.5, V^mu(s0) = 0.9375', async () => {
    const services = extraWith([true, false]);
    const out = (await pav({ extra: 2 }).compute(singleTurnGroups([[1, 0]]), contextWith(services))) as Advantages;
    // A^pi = +-0.5; A^mu = 1 - 0.9375 and 0 - 0.9375
    const expected = [0.5 + 0.5 * 0.0625, -0.5 - 0.5 * 0.9375];
    out.turns?.[0]?.forEach((row, i) => expect(row[0]).toBeCloseTo(expected[i] as number, 12));
    out.rollout[0]?.forEach((a, i) => expect(a).toBeCloseTo(expected[i] as number, 12));
    expect(services.rolloutCalls).toEqual([{ groupId: 'g0', count: 2 }]);
  });

  it('multi-turn with state keys, hand-computed (K = 1, alpha = 1, no extra rollouts)', async () => {
    const group = [
      rolloutOf(
        'g0',
        0,
        [
          ['q', 'a', 'S'],
          ['o', 'x', 'A'],
        ],
        1,
      ),
      rolloutOf(
        'g0',
        1,
        [
          ['q', 'a', 'S'],
          ['o', 'y', 'A'],
        ],
        0,
      ),
      rolloutOf(
        'g0',
        2,
        [
          ['q', 'b', 'S'],
          ['o', 'x', 'B'],
        ],
        0,
      ),
    ];
    const services = extraWith([true]);
    const out = (await pav({ k: 1, alpha: 1, extra: 0 }).compute([group], contextWith(services))) as Advantages;
    // V(S) = 1/3, V(A) = 1/2, V(B) = 0; A^pi = [2/3, -1/3, -1/3]
    const expected = [
      [2 / 3 + 1 / 6, 2 / 3 + 1 / 2],
      [-1 / 3 + 1 / 6, -1 / 3 - 1 / 2],
      [-1 / 3 - 1 / 3, -1 / 3 + 0],
    ];
    out.turns?.[0]?.forEach((row, i) => row.forEach((a, h) => expect(a).toBeCloseTo(expected[i]?.[h] as number, 12)));
    expect(services.rolloutCalls).toHaveLength(0);
    // without state keys the action history identifies the states: rollouts 0 and 1 share 'a'
    const unkeyed = group.map((r) => ({ ...r, turns: r.turns.map(({ stateKey: _key, ...t }) => t) }));
    const same = (await pav({ k: 1, alpha: 1, extra: 0 }).compute([unkeyed], contextWith(services))) as Advantages;
    same.turns?.[0]?.forEach((row, i) => row.forEach((a, h) => expect(a).toBeCloseTo(expected[i]?.[h] as number, 12)));
  });

  it('alpha = 0 is the centred outcome and asks nothing of the model; otherwise exactly one call of `extra` per group', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 2, maxLength: 6 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
        async (rewards, extra, k, successes) => {
          const services = extraWith(successes);
          const zero = (await pav({ alpha: 0, extra }).compute(singleTurnGroups(rewards), contextWith(services))) as Advantages;
          expect(services.rolloutCalls).toHaveLength(0);
          rewards.forEach((group, g) => {
            const m = group.reduce((a, b) => a + b, 0) / group.length;
            zero.rollout[g]?.forEach((a, i) => expect(a).toBeCloseTo((group[i] as number) - m, 12));
            expect(Math.abs((zero.rollout[g] as number[]).reduce((a, b) => a + b, 0))).toBeLessThan(1e-9);
          });
          const out = (await pav({ extra, k }).compute(singleTurnGroups(rewards), contextWith(services))) as Advantages;
          expect(services.rolloutCalls).toEqual(extra > 0 ? rewards.map((_, g) => ({ groupId: `g${g}`, count: extra })) : []);
          out.rollout.forEach((row, g) =>
            row.forEach((a, i) => {
              expect(Number.isFinite(a)).toBe(true);
              // |A^mu| <= 1, so the advantage stays within alpha of the outcome advantage
              const m = (rewards[g] as number[]).reduce((x, y) => x + y, 0) / (rewards[g] as number[]).length;
              expect(Math.abs(a - ((rewards[g]?.[i] as number) - m))).toBeLessThanOrEqual(0.5 + 1e-12);
            }),
          );
        },
      ),
      { numRuns: 40 },
    );
  });

  it('errors: missing services, G < 2 naming the group, reward outside [0, 1] with value reward, bad options', async () => {
    await expect(async () => pav().compute(singleTurnGroups([[1, 0]]), contextWith())).rejects.toThrow(
      /pav needs the trainer's model services/,
    );
    await expect(async () => pav().compute(singleTurnGroups([[1]]), contextWith(extraWith([true])))).rejects.toThrow(
      /group 0 has 1 rollout/,
    );
    await expect(async () =>
      pav({ value: 'reward', extra: 0 }).compute(singleTurnGroups([[2, 0]]), contextWith(extraWith([true]))),
    ).rejects.toThrow(/group 0, rollout 0 \(g0\/0\) has reward 2 outside \[0, 1\]/);
    expect(() => pav({ k: 0 })).toThrow(/'k'.*0/);
    expect(() => pav({ value: 'score' as never })).toThrow(/value.*score/);
  });
});
