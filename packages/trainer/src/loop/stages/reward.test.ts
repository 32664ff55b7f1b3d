import type { Plugin, Rollout } from '@policy-lab/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../backend/select-backend.js';
import { echoRollout, tinyRegistry, tinyStepContext } from '../../test-support/tiny.js';
import { rewardAndShape } from './reward.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

describe('reward and shape stage', () => {
  it('runs the shapers in order and keeps the groups as given', async () => {
    const calls: string[] = [];
    const shapers: Plugin = {
      name: 'shapers-in-order',
      shapers: ['double', 'plus-one'].map((name) => ({
        name,
        summary: name,
        shape: (rollouts: readonly Rollout[]) => {
          calls.push(name);
          return rollouts.map((r) => ({
            ...r,
            reward: { ...r.reward, correct: name === 'double' ? (r.reward.correct ?? 0) * 2 : (r.reward.correct ?? 0) + 1 },
          }));
        },
      })),
    };
    const ctx = await tinyStepContext({ registry: tinyRegistry(shapers), overrides: { shapers: 'double,plus-one' } });
    const { groups } = await rewardAndShape(ctx, [[echoRollout('a', 1), echoRollout('b', 0)], [echoRollout('c', 1)]], '');
    expect(calls).toEqual(['double', 'plus-one']);
    expect(groups.map((g) => g.map((r) => r.reward.correct))).toEqual([[3, 1], [3]]);
  });

  it('with the divergence in the reward, adds -coef x the sequence k1 sum as a component weighted 1', async () => {
    const ctx = await tinyStepContext({
      overrides: { divergence: 'k2-test', divergenceCoef: 0.5, divergencePlacement: 'reward' },
      reference: true,
    });
    const { groups, divergences } = await rewardAndShape(ctx, [[echoRollout('a', 1)]], '');
    expect(divergences).toHaveLength(1);
    expect(groups[0]?.[0]?.reward.klPenalty).toBeCloseTo(-0.5 * (divergences?.[0] as number), 9);
    expect(ctx.weights.klPenalty).toBe(1);
  });
});
