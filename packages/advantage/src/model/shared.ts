/**
 * Helpers shared by the estimators that need the model (ctx.services): the services check,
 * the text a turn was generated from, answer lookup and the geometric-mean probability of a
 * teacher-forced answer.
 */
import {
  type EstimatorContext,
  type ModelServices,
  type RewardVector,
  type Rollout,
  type ScoreRequest,
  UsageError,
} from '@policy-lab/core';

/** The trainer's model services, or an error saying the estimator cannot run without them. */
export function requireServices(estimator: string, ctx: EstimatorContext): ModelServices {
  if (!ctx.services) {
    throw new UsageError(
      `${estimator} needs the trainer's model services (ctx.services: score and rollouts); it cannot run from rewards alone (e.g. in 'bench advantages')`,
    );
  }
  return ctx.services;
}

/** The group's id; every rollout of a group must carry the same one (extra rollouts are drawn per group id). */
export function groupIdOf(estimator: string, group: readonly Rollout[], index: number): string {
  const first = group[0];
  if (!first) throw new UsageError(`${estimator}: group ${index} is empty`);
  for (const [i, rollout] of group.entries()) {
    if (rollout.groupId !== first.groupId) {
      throw new UsageError(
        `${estimator}: group ${index} mixes group ids '${first.groupId}' and '${rollout.groupId}' (rollout ${i}, ${rollout.id})`,
      );
    }
  }
  return first.groupId;
}

/**
 * The text the policy had read before acting in turn `t` (t = turns.length: after the last
 * action): every earlier observation and action, then the observation of turn t, one per line.
 * With `withAction`, turn t's action is appended too.
 */
export function contextText(rollout: Rollout, t: number, withAction = false): string {
  const parts: string[] = [];
  rollout.turns.forEach((turn, k) => {
    if (k < t) parts.push(turn.observation, turn.action);
    else if (k === t) {
      parts.push(turn.observation);
      if (withAction) parts.push(turn.action);
    }
  });
  return parts.join('\n');
}

export { scalarOf } from '../groups.js';

/**
 * Weighted sum over the components a reward has; a weighted component it lacks is an error
 * unless it is listed in `optional` (e.g. `klPenalty`, which the trainer adds to the sampled
 * rollouts but not to extra ones).
 */
export function partialScalar(
  reward: RewardVector,
  weights: Readonly<Record<string, number>>,
  optional: readonly string[],
  where: string,
): number {
  let total = 0;
  for (const [name, weight] of Object.entries(weights)) {
    const value = reward[name];
    if (value === undefined) {
      if (optional.includes(name)) continue;
      throw new UsageError(`${where} has no reward component '${name}' (has: ${Object.keys(reward).join(', ') || 'none'})`);
    }
    if (!Number.isFinite(value)) throw new UsageError(`${where}: component '${name}' is not finite (${value})`);
    total += weight * value;
  }
  return total;
}

export type AnswerSource = 'auto' | 'meta' | 'best-in-group';
export const ANSWER_SOURCES = ['auto', 'meta', 'best-in-group'] as const;

/**
 * The ground-truth answer of a group, for belief probing (IGPO, GRPO-VPS).
 * - 'meta': `rollout.meta[answerKey]` (a string; the same for the whole group), an error when missing.
 * - 'best-in-group': the last action of the successful rollout with the highest reward (first on ties);
 *   undefined when no rollout succeeded. With a verifier the successful answer is a correct one.
 * - 'auto': 'meta' when the first rollout carries it, else 'best-in-group'.
 */
export function groupAnswer(
  estimator: string,
  group: readonly Rollout[],
  rewards: readonly number[],
  index: number,
  source: AnswerSource,
  answerKey: string,
): string | undefined {
  const fromMeta = group[0]?.meta?.[answerKey];
  if (source === 'meta' || (source === 'auto' && fromMeta !== undefined)) {
    for (const [i, rollout] of group.entries()) {
      const value = rollout.meta?.[answerKey];
      if (typeof value !== 'string' || value.length === 0) {
        throw new UsageError(
          `${estimator}: group ${index}, rollout ${i} (${rollout.id}) has no non-empty string meta.${answerKey} (answerSource '${source}'); use answerSource 'best-in-group' or attach the answer`,
        );
      }
      if (value !== fromMeta) {
        throw new UsageError(
          `${estimator}: group ${index}, rollout ${i} (${rollout.id}): meta.${answerKey} '${value}' differs from the group's '${String(fromMeta)}'`,
        );
      }
    }
    return fromMeta as string;
  }
  let best = -1;
  group.forEach((rollout, i) => {
    if (rollout.success && rollout.turns.length > 0 && (best < 0 || (rewards[i] as number) > (rewards[best] as number))) best = i;
  });
  if (best < 0) return undefined;
  const turns = (group[best] as Rollout).turns;
  return (turns[turns.length - 1] as Rollout['turns'][number]).action;
}

/** exp(mean log-prob): the length-normalised probability of a teacher-forced answer (IGPO's p_t). */
export function geometricMeanProbability(logprobs: readonly number[], where: string): number {
  if (logprobs.length === 0) throw new UsageError(`${where}: the scored answer has no tokens`);
  let sum = 0;
  for (const value of logprobs) {
    if (!Number.isFinite(value) && value !== Number.NEGATIVE_INFINITY)
      throw new UsageError(`${where}: score returned a non-finite log-probability (${value})`);
    sum += value;
  }
  return Math.exp(sum / logprobs.length);
}

/** Scores the requests and checks that one answer came back per request. */
export async function scoreAll(
  estimator: string,
  services: ModelServices,
  requests: readonly ScoreRequest[],
  policy: 'current' | 'reference',
): Promise<number[][]> {
  if (requests.length === 0) return [];
  const scores = await services.score(requests, policy);
  if (scores.length !== requests.length) {
    throw new UsageError(`${estimator}: score returned ${scores.length} results for ${requests.length} requests`);
  }
  return scores;
}

/** Population z-score with IGPO's conventions: std = sqrt(var + 1e-8), 1 for a single value; eps added. */
export function jointZ(values: readonly number[], eps: number): { mean: number; scale: number } {
  if (values.length === 0) return { mean: 0, scale: 1 };
  const m = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, v) => a + (v - m) * (v - m), 0) / values.length;
  const std = values.length > 1 ? Math.sqrt(variance + 1e-8) : 1;
  return { mean: m, scale: std + eps };
}

/** Options of the estimators that probe the answer's probability (IGPO, GRPO-VPS). */
export const ANSWER_OPTION_SPECS = {
  answerSource: {
    type: 'enum',
    values: ANSWER_SOURCES,
    default: 'auto',
    doc: "ground truth to probe: 'meta' = rollout.meta[answerKey]; 'best-in-group' = last action of the best successful rollout; 'auto' = meta when present, else best-in-group",
  },
  answerKey: { type: 'string', default: 'answer', doc: 'key of rollout.meta that holds the ground-truth answer text' },
} as const;
