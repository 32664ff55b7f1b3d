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

/** The option naming per-test components, shared by the shapers that read per-test pass vectors. */
export const TEST_PREFIX_OPTION = {
  type: 'string',
  default: 'test',
  doc: "per-test components are named <prefix>1..N (the code environment's test1..N)",
} as const;

/** The names `<prefix>1..N` present in a reward vector, in test order. */
export function testComponents(reward: RewardVector, prefix: string): string[] {
  const pattern = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\d+)$`);
  return Object.keys(reward)
    .map((k) => ({ k, n: Number(pattern.exec(k)?.[1]) }))
    .filter((t) => Number.isInteger(t.n))
    .sort((a, b) => a.n - b.n)
    .map((t) => t.k);
}
