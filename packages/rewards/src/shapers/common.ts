/** Helpers every shaper uses: copies that keep the unshaped reward, and group lookup. */
import type { RewardVector, Rollout, Turn } from '@policy-lab/core';

/** A new rollout with a new reward (and optionally new turn rewards); the first shaper's input is kept in meta.unshapedReward. */
export function reshaped(rollout: Rollout, reward: RewardVector, turnRewards?: readonly RewardVector[]): Rollout {
  const unshaped = (rollout.meta?.unshapedReward as RewardVector | undefined) ?? rollout.reward;
  const turns: Turn[] = turnRewards
    ? rollout.turns.map((t, k) => ({ ...t, reward: turnRewards[k] ?? t.reward }))
    : [...rollout.turns];
  return { ...rollout, reward, turns, meta: { ...(rollout.meta ?? {}), unshapedReward: unshaped } };
}

/** Rollouts by groupId, in order of first appearance, with their positions in the input. */
export function byGroup(rollouts: readonly Rollout[]): number[][] {
  const groups = new Map<string, number[]>();
  rollouts.forEach((r, k) => groups.set(r.groupId, [...(groups.get(r.groupId) ?? []), k]));
  return [...groups.values()];
}

export function requireComponent(shaper: string, rollout: Rollout, name: string): number {
  const value = rollout.reward[name];
  if (value === undefined)
    throw new RangeError(
      `${shaper}: rollout ${rollout.id} has no reward component '${name}' (has: ${Object.keys(rollout.reward).join(', ') || 'none'})`,
    );
  return value;
}
