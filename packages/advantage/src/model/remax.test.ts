import type { Advantages } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { remax } from './remax.js';
import { contextWith, rolloutOf, scriptedServices, singleTurnGroups } from './test-support.js';

const greedyWith = (rewards: Record<string, number>) =>
  scriptedServices({ rollouts: (request) => [rolloutOf(`${request.groupId}x`, 0, [['q', 'g']], rewards[request.groupId] ?? 0)] });

describe('remax', () => {
  it('worked example: R = 0.8, b = 0.5 gives A = 0.3', async () => {
    const services = greedyWith({ g0: 0.5 });
    const out = (await remax().compute(singleTurnGroups([[0.8, 0.5, 0]]), contextWith(services))) as Advantages;
    out.rollout[0]?.forEach((a, i) => expect(a).toBeCloseTo([0.3, 0, -0.5][i] as number, 10));
    expect(out.weights).toEqual([[1, 1, 1]]);
    expect(services.rolloutCalls).toEqual([{ groupId: 'g0', count: 1, greedy: true }]);
  });

  it('requests exactly one greedy rollout per group, and a response equal to the greedy reward gets 0', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: -100, max: 100 }), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: -100, max: 100 }), { minLength: 4, maxLength: 4 }),
        async (rewards, greedy) => {
          const services = greedyWith(Object.fromEntries(greedy.map((b, g) => [`g${g}`, b])));
          const out = (await remax().compute(singleTurnGroups(rewards), contextWith(services))) as Advantages;
          expect(services.rolloutCalls).toEqual(rewards.map((_, g) => ({ groupId: `g${g}`, count: 1, greedy: true })));
          rewards.forEach((group, g) =>
            group.forEach((r, i) => {
              const a = out.rollout[g]?.[i] as number;
              expect(Number.isFinite(a)).toBe(true);
              expect(a).toBe(r - (greedy[g] as number));
            }),
          );
        },
      ),
      { numRuns: 50 },
    );
  });

  it('leaves the trainer-added KL component out of the baseline', async () => {
    const services = greedyWith({ g0: 1 });
    const groups = singleTurnGroups([[1, 0]]).map((g) => g.map((r) => ({ ...r, reward: { ...r.reward, klPenalty: -0.25 } })));
    const out = (await remax().compute(groups, contextWith(services, { reward: 1, klPenalty: 1 }))) as Advantages;
    expect(out.rollout[0]).toEqual([-0.25, -1.25]);
  });

  it('needs the model services, and rejects empty and mixed groups', async () => {
    const estimator = remax();
    expect(estimator.needsModel).toBe(true);
    await expect(async () => estimator.compute(singleTurnGroups([[1, 0]]), contextWith())).rejects.toThrow(/model services/);
    await expect(async () => estimator.compute([[]], contextWith(greedyWith({})))).rejects.toThrow(/group 0 has 0 rollout/);
    const mixed = [[rolloutOf('a', 0, [['q', 'x']], 1), rolloutOf('b', 1, [['q', 'x']], 0)]];
    await expect(async () => estimator.compute(mixed, contextWith(greedyWith({})))).rejects.toThrow(
      /mixes group ids 'a' and 'b'/,
    );
  });
});
