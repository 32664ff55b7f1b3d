import type { Episode, RewardVector } from '@policy-lab/core';

/**
 * A single-turn episode: the observation, then one answer scored by `score`; the outcome is the
 * last answer's reward (`empty` before any) and `success` of it. Every step ends the episode.
 */
export function oneAnswerEpisode(
  observation: string,
  score: (answer: string) => RewardVector,
  options: {
    empty: RewardVector;
    success(reward: RewardVector): boolean;
    valid(reward: RewardVector): boolean;
    stateKey: string;
  },
): Episode {
  let answer: string | undefined;
  return {
    observation: () => observation,
    step(action) {
      answer = action;
      const reward = score(action);
      return { reward, done: true, valid: options.valid(reward), stateKey: options.stateKey };
    },
    outcome() {
      const reward = answer === undefined ? options.empty : score(answer);
      return { reward, success: options.success(reward) };
    },
  };
}
