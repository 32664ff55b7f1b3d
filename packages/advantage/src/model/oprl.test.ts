import type { Advantages, ScoreRequest } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { zScores } from '../group-math.js';
import { oprl } from './oprl.js';
import { contextWith, rolloutOf, scriptedServices, singleTurnGroups } from './test-support.js';

// The reference finds 'good' unlikely (-2 per character), the policy does not (-1): log-ratio +4 on 'good'.
const scores = (request: ScoreRequest, policy: 'current' | 'reference') =>
  Array.from(request.continuation, () => (policy === 'reference' && request.continuation === 'good' ? -2 : -1));
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
  it('hand-computed: step rewards [2, 0, 0, 0] give A_S = [1.5, -0.5, -0.5, -0.5]; A_E = +-0.7071', async () => {
    const services = scriptedServices({ score: scores });
    const out = (await oprl({ beta: 0.5, eps: 0 }).compute(twoTurnGroup(), contextWith(services))) as Advantages;
    // step rewards 0.5 * (-4 - -8) = 2 and 0: mean 0.5, sample std sqrt((2.25 + 3 * 0.25) / 3) = 1
    const [good, bad] = (out.turns ?? [])[0] as number[][];
    good?.forEach((a, t) => expect(a).toBeCloseTo([Math.SQRT1_2 + 1.5, Math.SQRT1_2 - 0.5][t] as number, 10));
    bad?.forEach((a) => expect(a).toBeCloseTo(-Math.SQRT1_2 - 0.5, 10));
    expect(out.rollout[0]?.[0]).toBeCloseTo(Math.SQRT1_2, 10);
    // one request per turn, to the policy and to the reference
    expect(services.scoreCalls.map((c) => c.policy).sort()).toEqual(['current', 'reference']);
    expect(services.scoreCalls[0]?.requests).toEqual([
      { context: 'q\n', continuation: 'good' },
      { context: 'q\ngood\no\n', continuation: 'x' },
      { context: 'q\n', continuation: 'bad' },
      { context: 'q\nbad\no\n', continuation: 'x' },
    ]);
    expect(services.rolloutCalls).toHaveLength(0);
  });

  it('alpha = 0, or a reference equal to the policy, gives GRPO on every turn', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: -20, max: 20 }), { minLength: 2, maxLength: 6 }), { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        async (rewards, alphaZero) => {
          const services = scriptedServices(alphaZero ? { score: scores } : {});
          const estimator = oprl(alphaZero ? { alpha: 0 } : {});
          const groups = singleTurnGroups(rewards).map((g) => g.map((r, i) => ({ ...r, turns: i % 2 ? r.turns : [] })));
          const out = (await estimator.compute(groups, contextWith(services))) as Advantages;
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
          const out = (await oprl({ stepScope, eps: 0 }).compute(
            [group],
            contextWith(scriptedServices({ score: scores })),
          )) as Advantages;
          const all = (out.turns?.[0] ?? []).flat();
          expect(all).toHaveLength(2 * spec.length);
          expect(all.every(Number.isFinite)).toBe(true);
          expect(Math.abs(all.reduce((a, b) => a + b, 0))).toBeLessThan(1e-9);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('errors: missing services, G < 2 naming the group, bad beta', async () => {
    await expect(async () => oprl().compute(twoTurnGroup(), contextWith())).rejects.toThrow(
      /oprl needs the trainer's model services/,
    );
    await expect(async () => oprl().compute([[], ...twoTurnGroup()], contextWith(scriptedServices()))).rejects.toThrow(
      /group 0 has 0 rollout/,
    );
    expect(() => oprl({ beta: 0 })).toThrow(/beta.*0/);
    expect(() => oprl({ stepScope: 'episode' as never })).toThrow(/stepScope.*episode/);
  });
});
