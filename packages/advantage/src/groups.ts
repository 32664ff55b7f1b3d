import type { EstimatorContext, RewardVector, Rollout } from '@policy-lab/core';
import { UsageError } from '@policy-lab/core';

/**
 * Checks the degenerate inputs (too small groups, non-finite rewards) and returns each group's scalar rewards.
 * Errors name the group, the rollout and the bad value.
 */
export function scalarRewards(
  estimator: string,
  groups: readonly (readonly Rollout[])[],
  ctx: EstimatorContext,
  minimum = 2,
): number[][] {
  return groups.map((group, g) => {
    checkGroupSize(estimator, group, g, minimum);
    return group.map((rollout, i) => scalarOf(estimator, rollout, ctx, g, i));
  });
}

/** Finite scalar reward of a rollout, with an error naming the group and rollout. */
export function scalarOf(estimator: string, rollout: Rollout, ctx: EstimatorContext, g: number, i: number): number {
  let value: number;
  try {
    value = ctx.scalar(rollout.reward);
  } catch (error) {
    throw new UsageError(`${estimator}: group ${g}, rollout ${i} (${rollout.id}): ${(error as Error).message}`);
  }
  if (!Number.isFinite(value))
    throw new UsageError(`${estimator}: group ${g}, rollout ${i} (${rollout.id}): reward is not finite (${value})`);
  return value;
}

export function checkGroupSize(estimator: string, group: readonly unknown[], index: number, minimum = 2): void {
  if (group.length < minimum) {
    throw new UsageError(
      `${estimator}: group ${index} has ${group.length} rollout(s); it needs at least ${minimum} (group size G >= ${minimum})`,
    );
  }
}

/** The named components of every rollout, in the order of `components`; missing ones are errors. */
export function componentRewards(
  estimator: string,
  groups: readonly (readonly Rollout[])[],
  components: readonly string[],
): number[][][] {
  return groups.map((group, g) => {
    checkGroupSize(estimator, group, g);
    return group.map((rollout, i) => components.map((name) => componentValue(estimator, rollout.reward, name, g, i, rollout.id)));
  });
}

function componentValue(estimator: string, reward: RewardVector, name: string, g: number, i: number, id: string): number {
  const value = reward[name];
  if (value === undefined) {
    throw new UsageError(
      `${estimator}: group ${g}, rollout ${i} (${id}) has no reward component '${name}' (has: ${Object.keys(reward).join(', ') || 'none'})`,
    );
  }
  if (!Number.isFinite(value))
    throw new UsageError(`${estimator}: group ${g}, rollout ${i} (${id}): component '${name}' is not finite (${value})`);
  return value;
}

export const ones = (groups: readonly (readonly unknown[])[]): number[][] => groups.map((group) => group.map(() => 1));
