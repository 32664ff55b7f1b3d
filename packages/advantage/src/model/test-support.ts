/** A scripted stand-in for the trainer's ModelServices, and multi-turn rollouts for the model estimators' tests. */
import {
  type EstimatorContext,
  type ModelServices,
  Rng,
  type Rollout,
  type ScoreRequest,
  type Turn,
  weightedSum,
} from '@policy-lab/core';

export interface ScriptedServices extends ModelServices {
  scoreCalls: { requests: ScoreRequest[]; policy: 'current' | 'reference' | 'teacher' }[];
  rolloutCalls: { groupId: string; count: number; greedy?: boolean; policy?: 'current' | 'reference' }[];
}

export interface Script {
  /** Per-token log-probabilities of a continuation; default: -1 per character. */
  score?(request: ScoreRequest, policy: 'current' | 'reference' | 'teacher'): number[];
  /** The extra rollouts for a request; default: `count` rollouts with reward 0. */
  rollouts?(request: { groupId: string; count: number; greedy?: boolean }, call: number): Rollout[];
}

export function scriptedServices(script: Script = {}): ScriptedServices {
  const scoreCalls: ScriptedServices['scoreCalls'] = [];
  const rolloutCalls: ScriptedServices['rolloutCalls'] = [];
  return {
    scoreCalls,
    rolloutCalls,
    async score(requests, policy) {
      scoreCalls.push({ requests: [...requests], policy });
      return requests.map((r) => (script.score ? script.score(r, policy) : Array.from(r.continuation, () => -1)));
    },
    async rollouts(request) {
      rolloutCalls.push({ ...request });
      if (script.rollouts) return script.rollouts(request, rolloutCalls.length - 1);
      return Array.from({ length: request.count }, (_, i) => rolloutOf(request.groupId, 100 + i, [['x', 'y']], 0));
    },
  };
}

export function contextWith(services?: ModelServices, weights: Record<string, number> = { reward: 1 }): EstimatorContext {
  return {
    rng: Rng.seeded(0),
    weights,
    scalar: (reward) => weightedSum(reward, weights),
    ...(services ? { services } : {}),
  };
}

/** A rollout with turns given as [observation, action] pairs (optionally a state key per turn). */
export function rolloutOf(
  groupId: string,
  index: number,
  turns: readonly (readonly [string, string] | readonly [string, string, string])[],
  reward: number,
  extra: { success?: boolean; meta?: Record<string, unknown> } = {},
): Rollout {
  return {
    id: `${groupId}/${index}`,
    groupId,
    taskId: `task-${groupId}`,
    turns: turns.map(
      ([observation, action, stateKey]): Turn => ({
        observation,
        action,
        promptTokens: [1],
        actionTokens: Array.from(action, () => 5),
        logprobs: Array.from(action, () => -0.5),
        reward: {},
        valid: true,
        truncated: false,
        ...(stateKey !== undefined ? { stateKey } : {}),
      }),
    ),
    reward: { reward },
    success: extra.success ?? reward > 0,
    ...(extra.meta ? { meta: extra.meta } : {}),
  };
}

/** Single-turn groups from rewards (observation 'q', action `a<i>`). */
export function singleTurnGroups(rewards: readonly (readonly number[])[]): Rollout[][] {
  return rewards.map((group, g) => group.map((r, i) => rolloutOf(`g${g}`, i, [['q', `a${i}`]], r)));
}
