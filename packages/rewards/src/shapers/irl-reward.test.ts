import { type Demonstration, Rng, type Rollout, type ShapeContext, type Turn } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { irlRewardWorldModel } from './irl-reward.js';

const turn = (observation: string, action: string, won: number): Turn => ({
  observation,
  action,
  promptTokens: [1],
  actionTokens: [4],
  logprobs: [],
  reward: { won },
  valid: true,
  truncated: false,
});
const rollout = (groupId: string, index: number, actions: readonly string[]): Rollout => ({
  id: `${groupId}/${index}`,
  groupId,
  taskId: groupId,
  turns: actions.map((a, k) => turn(`room ${k}`, a, 0)),
  reward: { won: 0 },
  success: false,
});
const expertDemo = (groupId: string): Demonstration => ({
  taskId: groupId,
  turns: [0, 1, 2].map((k) => ({ observation: `room ${k}`, action: 'north', reward: { won: k === 2 ? 1 : 0 } })),
  success: true,
});
const ctx = (step: number, over: Partial<ShapeContext> = {}): ShapeContext => ({
  rng: Rng.seeded(1).split(`s${step}`),
  step,
  weights: { won: 1, irlReward: 1 },
  components: ['won'],
  maxNewTokens: 4,
  demonstrations: { ofGroup: expertDemo, training: () => [] },
  ...over,
});

describe('irl-reward-world-model', () => {
  it('trains on the learned reward alone: the true components are 0, the learned one sits on the last turn, the true vector is kept (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.constantFrom('north', 'south', 'wait'), { minLength: 1, maxLength: 4 }), {
          minLength: 1,
          maxLength: 5,
        }),
        (paths) => {
          const rollouts = paths.map((p, i) => ({ ...rollout('g0', i, p), reward: { won: 1 } }));
          const shaped = irlRewardWorldModel({ features: 64, hidden: 4 }).shape(rollouts, ctx(0));
          for (const r of shaped) {
            expect(r.reward.won).toBe(0);
            expect(r.meta?.unshapedReward).toEqual({ won: 1 });
            const perTurn = r.turns.map((t) => t.reward.irlReward as number);
            expect(perTurn.slice(0, -1).every((v) => v === 0)).toBe(true);
            expect(perTurn[perTurn.length - 1]).toBe(r.reward.irlReward);
          }
        },
      ),
      { numRuns: 20 },
    );
  });

  it('learns online to reward the expert-like trajectory above the policy’s, and charges its work', () => {
    const shaper = irlRewardWorldModel();
    const charged: Record<string, number> = {};
    const charge = (c: Record<string, number | undefined>) => {
      for (const [k, v] of Object.entries(c)) charged[k] = (charged[k] ?? 0) + (v ?? 0);
    };
    const batch = () => [rollout('g0', 0, ['south', 'wait', 'wait']), rollout('g1', 0, ['wait', 'south', 'wait'])];
    for (let step = 0; step < 10; step++) shaper.shape(batch(), ctx(step, { charge }));
    const [expertLike, policyLike] = shaper.shape(
      [rollout('g2', 0, ['north', 'north', 'north']), rollout('g2', 1, ['south', 'wait', 'wait'])],
      ctx(10),
    );
    expect(expertLike?.reward.irlReward).toBeGreaterThan((policyLike?.reward.irlReward as number) + 1);
    expect(charged.auxScoredTokens).toBeGreaterThan(0);
    expect(charged.auxTrainedTokens).toBeGreaterThan(0);
  });
});
