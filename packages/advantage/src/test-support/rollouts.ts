import { type EstimatorContext, type RewardVector, Rng, type Rollout, weightedSum } from '@policy-lab/core';

/** Rollouts carrying only rewards: what reward-only estimators read. */
export function groupsOf(rewards: readonly (readonly (number | RewardVector)[])[]): Rollout[][] {
  return rewards.map((group, g) =>
    group.map((r, i) => ({
      id: `g${g}/${i}`,
      groupId: `g${g}`,
      taskId: `t${g}`,
      turns: [],
      reward: typeof r === 'number' ? { reward: r } : r,
      success: false,
    })),
  );
}

export function contextFor(weights: Record<string, number> = { reward: 1 }): EstimatorContext {
  return { rng: Rng.seeded(0), weights, scalar: (reward) => weightedSum(reward, weights) };
}
