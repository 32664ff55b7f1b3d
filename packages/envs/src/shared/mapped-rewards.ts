import type { Episode, RewardVector } from '@policy-lab/core';

/**
 * An episode whose step and outcome rewards pass through `map` (a wrapper environment adding or
 * hiding components); observations, validity and snapshots are the episode's own.
 */
export function withMappedRewards(episode: Episode, map: (reward: RewardVector) => RewardVector): Episode {
  return {
    observation: () => episode.observation(),
    step(action) {
      const result = episode.step(action);
      return { ...result, reward: map(result.reward) };
    },
    outcome() {
      const outcome = episode.outcome();
      return { ...outcome, reward: map(outcome.reward) };
    },
    ...(episode.snapshot && episode.restore
      ? { snapshot: () => episode.snapshot?.(), restore: (state: unknown) => episode.restore?.(state) }
      : {}),
  };
}
