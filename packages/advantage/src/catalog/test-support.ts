import { type EstimatorContext, Rng, type Rollout, type Turn, weightedSum } from '@policy-lab/core';

export function context(step?: number, weights: Record<string, number> = { reward: 1 }): EstimatorContext {
  return {
    rng: Rng.seeded(0),
    weights,
    scalar: (reward) => weightedSum(reward, weights),
    ...(step === undefined ? {} : { step }),
  };
}

export interface TurnSpec {
  /** One log-probability per action token. */
  logprobs: readonly number[];
  /** Observation tokens the environment appends before this turn's action (turns after the first). */
  observation?: number;
}

/**
 * A multi-turn rollout whose contexts grow by appending: turn k's prompt is turn k-1's prompt,
 * its action and `observation` new tokens (the layout verl's multi-turn response has).
 */
export function tokenRollout(
  id: string,
  reward: number,
  turns: readonly TurnSpec[],
  extra: { success?: boolean; taskId?: string; meta?: Record<string, unknown> } = {},
): Rollout {
  let prompt: number[] = [1, 2];
  const built: Turn[] = turns.map((spec, k) => {
    if (k > 0) prompt = [...prompt, ...Array.from({ length: spec.observation ?? 0 }, () => 9)];
    const actionTokens = spec.logprobs.map((_, s) => 100 + s);
    const turn: Turn = {
      observation: 'o',
      action: 'a',
      promptTokens: prompt,
      actionTokens,
      logprobs: spec.logprobs,
      reward: {},
      valid: true,
      truncated: false,
    };
    prompt = [...prompt, ...actionTokens];
    return turn;
  });
  return {
    id,
    groupId: id.split('/')[0] ?? 'g',
    taskId: extra.taskId ?? 't',
    turns: built,
    reward: { reward },
    success: extra.success ?? false,
    ...(extra.meta ? { meta: extra.meta } : {}),
  };
}

/** Rollouts carrying only a reward and a success flag, one group per task. */
export function outcomeGroups(groups: readonly (readonly { reward: number; success: boolean }[])[]): Rollout[][] {
  return groups.map((group, g) =>
    group.map((r, i) => ({
      id: `g${g}/${i}`,
      groupId: `g${g}`,
      taskId: `t${g}`,
      turns: [],
      reward: { reward: r.reward },
      success: r.success,
    })),
  );
}
