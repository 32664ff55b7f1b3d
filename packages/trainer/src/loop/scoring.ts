/**
 * Teacher-forced scoring outside the update: texts for the model services of estimators,
 * sequence divergences for the divergence-in-reward placement, and the critic's turn values.
 */
import { type Divergence, type Rollout, RunError, type ScoreRequest } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import type { PolicyModel } from '../model/policy.js';
import type { PolicyTokenizer } from '../tokenizer/policy-tokenizer.js';
import { disposeBatch, microBatchSize, type TrainingRow, toTensors } from './batch.js';
import { microBatches } from './minibatches.js';

type Scorer = Pick<PolicyModel, 'score'> & { config: { contextLength: number } };

/**
 * The token sequence that scores `continuation` after `context`: [bos] context continuation,
 * with the oldest context tokens dropped (the bos stays) when it is longer than the model's
 * context, the same rule rollouts follow, so multi-turn transcripts can be scored.
 */
export function scoringSequence(
  context: readonly number[],
  continuation: readonly number[],
  contextLength: number,
  bos: number,
): { sequence: number[]; contextTokens: number } {
  if (continuation.length > contextLength - 1)
    throw new RunError(
      `cannot score a continuation of ${continuation.length} tokens with a context length of ${contextLength} (at most ${contextLength - 1})`,
    );
  const room = contextLength - continuation.length;
  const full = [bos, ...context];
  const kept = full.length <= room ? full : [bos, ...full.slice(full.length - (room - 1))];
  return { sequence: [...kept, ...continuation], contextTokens: kept.length };
}

/** Per-token log-probabilities of each continuation after its context (teacher forcing). */
export async function scoreTexts(
  policy: Scorer,
  tokenizer: PolicyTokenizer,
  requests: readonly ScoreRequest[],
): Promise<number[][]> {
  return teacherForced(policy, tokenizer, requests, false, async ({ logprobs }, from) =>
    Array.from(await logprobs.data()).slice(from),
  );
}

/**
 * The whole next-token distribution (log-probabilities over the vocabulary, ids as the
 * tokenizer's `vocabulary()`) before each token of each continuation, teacher-forced.
 */
export async function textDistributions(
  policy: Scorer,
  tokenizer: PolicyTokenizer,
  requests: readonly ScoreRequest[],
): Promise<number[][][]> {
  return teacherForced(policy, tokenizer, requests, true, async ({ distributions }, from) => {
    const rows = (await (distributions as tf.Tensor3D).array())[0] as number[][];
    return rows.slice(from);
  });
}

/** One teacher-forced pass per request; `read` takes what it needs from the continuation's positions on. */
async function teacherForced<T>(
  policy: Scorer,
  tokenizer: PolicyTokenizer,
  requests: readonly ScoreRequest[],
  distributions: boolean,
  read: (scored: ReturnType<Scorer['score']>, from: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = [];
  for (const request of requests) {
    const continuation = tokenizer.encode(request.continuation);
    if (continuation.length === 0) {
      out.push([] as unknown as T);
      continue;
    }
    const { sequence, contextTokens } = scoringSequence(
      tokenizer.encode(request.context),
      continuation,
      policy.config.contextLength,
      tokenizer.specials.bos,
    );
    const inputs = tf.tensor2d([sequence.slice(0, -1)], [1, sequence.length - 1], 'int32');
    const targets = tf.tensor2d([sequence.slice(1)], [1, sequence.length - 1], 'int32');
    const scored = policy.score(inputs, targets, distributions ? { distributions: true } : {});
    out.push(await read(scored, contextTokens - 1));
    tf.dispose([inputs, targets, scored.logprobs, ...(scored.distributions ? [scored.distributions] : [])]);
  }
  return out;
}

/** Per rollout, the sum over its action tokens of the divergence estimate between sampling and reference log-probs. */
export async function sequenceDivergence(
  rollouts: readonly Rollout[],
  reference: Pick<PolicyModel, 'score'>,
  divergence: Divergence<typeof tf, tf.Tensor>,
): Promise<number[]> {
  const out: number[] = [];
  for (const rollout of rollouts) {
    let total = 0;
    for (const turn of rollout.turns) {
      if (turn.actionTokens.length === 0) continue;
      const sequence = [...turn.promptTokens, ...turn.actionTokens];
      const inputs = tf.tensor2d([sequence.slice(0, -1)], [1, sequence.length - 1], 'int32');
      const targets = tf.tensor2d([sequence.slice(1)], [1, sequence.length - 1], 'int32');
      const { logprobs } = reference.score(inputs, targets);
      const ref = Array.from(await logprobs.data()).slice(turn.promptTokens.length - 1);
      tf.dispose([inputs, targets, logprobs]);
      turn.logprobs.forEach((lp, i) => {
        total += divergence.estimate(lp, ref[i] as number);
      });
    }
    out.push(total);
  }
  return out;
}

/**
 * The critic's value of the state each turn starts from: the value head's prediction at the
 * last prompt position (where the first action token is predicted), per rollout id.
 */
export async function turnValues(
  policy: Pick<PolicyModel, 'score'> & { config: { heads: number } },
  rollouts: readonly Rollout[],
  eos: number,
): Promise<Map<string, number[]>> {
  const rows: TrainingRow[] = [];
  const owners: { id: string; turn: number }[] = [];
  for (const rollout of rollouts)
    rollout.turns.forEach((turn, t) => {
      rows.push({
        tokens: [...turn.promptTokens, ...(turn.actionTokens.length ? turn.actionTokens : [eos])],
        actionStart: turn.promptTokens.length,
        oldLogprobs: [],
        advantage: 0,
        weight: 1,
      });
      owners.push({ id: rollout.id, turn: t });
    });
  const out = new Map<string, number[]>(rollouts.map((r) => [r.id, r.turns.map(() => 0)]));
  let offset = 0;
  for (const chunk of microBatches(rows, microBatchSize(rows, policy.config.heads, 64))) {
    const batch = toTensors(chunk);
    const scored = policy.score(batch.inputs, batch.targets, { values: true });
    const values = scored.values ? await scored.values.array() : undefined;
    tf.dispose([scored.logprobs, ...(scored.values ? [scored.values] : []), ...(scored.entropy ? [scored.entropy] : [])]);
    disposeBatch(batch);
    if (!values) throw new RunError('the estimator needs a critic, but the model has no value head');
    chunk.forEach((row, i) => {
      const owner = owners[offset + i] as { id: string; turn: number };
      (out.get(owner.id) as number[])[owner.turn] = values[i]?.[row.actionStart - 1] ?? 0;
    });
    offset += chunk.length;
  }
  return out;
}
