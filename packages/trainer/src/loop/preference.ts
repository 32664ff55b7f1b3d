/**
 * Preference training: pairs of (chosen, rejected) completions scored under the policy and
 * the frozen reference, then a preference objective (a `PairLoss`). Pairs come
 * from a JSONL dataset (offline) or from the best and worst rollout of each group (online).
 */
import { type PairLoss, type PreferenceBatch, type Rollout, RunError, type TrainConfig, UsageError } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import type { Adam } from '../optim/adam.js';
import { type CharTokenizer, EOS } from '../tokenizer/char-tokenizer.js';
import { disposeBatch, microBatchSize, type TrainingRow, toTensors } from './batch.js';
import type { PreferencePair, UnpairedExample } from './data.js';
import { promptFor } from './rollouts.js';
import { accumulateAndApply, type ChunkGradients, chunksByCount } from './update/accumulate.js';

/** One completion as training rows (one per turn); its log-probability is the sum over them. */
export type Completion = readonly TrainingRow[];

export interface TokenPair {
  chosen: Completion;
  rejected: Completion;
  /** How reliable the pair's label is, in [0, 1] (UPO); absent = trusted. */
  reliability?: number;
}

type Tf = typeof tf;

/** Checks that every character of the dataset is one the tokenizer knows, naming the first that is not. */
export function checkAlphabet(
  records: readonly (PreferencePair | UnpairedExample)[],
  tokenizer: CharTokenizer,
  file: string,
  env: string,
): void {
  records.forEach((record, i) => {
    const fields = record as unknown as Record<string, unknown>;
    for (const key of ['prompt', 'chosen', 'rejected', 'completion'] as const) {
      if (typeof fields[key] !== 'string') continue;
      for (const ch of fields[key] as string) {
        if (!tokenizer.has(ch))
          throw new UsageError(
            `${file}: record ${i + 1}, field '${key}': character ${JSON.stringify(ch)} is not in environment '${env}''s alphabet`,
          );
      }
    }
  });
}

/** A dataset pair as rows: the prompt as the environment's first observation would be, the completion + eos. */
export function pairRows(pair: PreferencePair, tokenizer: CharTokenizer, config: TrainConfig): TokenPair {
  const limit = config.model.contextLength - config.maxNewTokens;
  const prompt = promptFor([1], tokenizer.encode(pair.prompt), limit);
  const row = (text: string): TrainingRow => {
    const action = [...tokenizer.encode(text), EOS].slice(0, config.maxNewTokens);
    return { tokens: [...prompt, ...action], actionStart: prompt.length, oldLogprobs: [], advantage: 0, weight: 1 };
  };
  return {
    chosen: [row(pair.chosen)],
    rejected: [row(pair.rejected)],
    ...(pair.reliability !== undefined ? { reliability: pair.reliability } : {}),
  };
}

/** A rollout's turns as rows (turns without action tokens are skipped). */
export function rolloutRows(rollout: Rollout): TrainingRow[] {
  return rollout.turns
    .filter((t) => t.actionTokens.length > 0)
    .map((t) => ({
      tokens: [...t.promptTokens, ...t.actionTokens],
      actionStart: t.promptTokens.length,
      oldLogprobs: [...t.logprobs],
      advantage: 0,
      weight: 1,
    }));
}

/**
 * Online pairs: in each group the rollout with the highest scalar reward (the first on ties)
 * against the one with the lowest (the last on ties); groups whose rewards are all equal give
 * no pair.
 */
export function pairsFromGroups(groups: readonly (readonly Rollout[])[], scalar: (r: Rollout) => number): TokenPair[] {
  const pairs: TokenPair[] = [];
  for (const group of groups) {
    if (group.length < 2) continue;
    const scores = group.map(scalar);
    let best = 0;
    let worst = 0;
    scores.forEach((s, i) => {
      if (s > (scores[best] as number)) best = i;
      if (s <= (scores[worst] as number)) worst = i;
    });
    if (scores[best] === scores[worst]) continue;
    const chosen = rolloutRows(group[best] as Rollout);
    const rejected = rolloutRows(group[worst] as Rollout);
    if (chosen.length > 0 && rejected.length > 0) pairs.push({ chosen, rejected });
  }
  return pairs;
}

/**
 * Online pairs against the expert: for each group, the environment's demonstration of its
 * task (chosen) against every rollout of the group (rejected). Groups without a
 * demonstration give none.
 */
export function pairsFromDemonstrations(
  groups: readonly (readonly Rollout[])[],
  demonstration: (groupId: string) => Completion,
): TokenPair[] {
  const pairs: TokenPair[] = [];
  for (const group of groups) {
    const first = group[0];
    if (!first) continue;
    const chosen = demonstration(first.groupId);
    if (chosen.length === 0) continue;
    for (const rollout of group) {
      const rejected = rolloutRows(rollout);
      if (rejected.length > 0) pairs.push({ chosen, rejected });
    }
  }
  return pairs;
}

/** [pairs, rows] 0/1 matrix that sums each completion's rows. */
function selector(pairs: readonly TokenPair[], side: 'chosen' | 'rejected', rowCount: number): tf.Tensor2D {
  const matrix = new Float32Array(pairs.length * rowCount);
  let offset = 0;
  pairs.forEach((pair, p) => {
    const chosenRows = pair.chosen.length;
    const start = side === 'chosen' ? offset : offset + chosenRows;
    const count = side === 'chosen' ? chosenRows : pair.rejected.length;
    for (let r = start; r < start + count; r++) matrix[p * rowCount + r] = 1;
    offset += chosenRows + pair.rejected.length;
  });
  return tf.tensor2d(matrix, [pairs.length, rowCount]);
}

function tokenCount(completion: Completion): number {
  return completion.reduce((n, row) => n + row.tokens.length - row.actionStart, 0);
}

interface Scorer {
  score(
    inputs: tf.Tensor2D,
    targets: tf.Tensor2D,
    options?: { squaredMass?: boolean },
  ): { logprobs: tf.Tensor; logSquaredMass?: tf.Tensor };
}

/**
 * [rows, T] 0/1 mask of the action tokens past each pair's shared length min(|y_w|, |y_l|),
 * counting a completion's tokens across its rows in order (LD-DPO's verbose tail). The
 * layout is toTensors': position t predicts token t + 1.
 */
export function tailMask(pairs: readonly TokenPair[], T: number): tf.Tensor2D {
  const rows = pairs.flatMap((p) => [...p.chosen, ...p.rejected]);
  const out = new Float32Array(rows.length * T);
  let r = 0;
  for (const pair of pairs) {
    const shared = Math.min(tokenCount(pair.chosen), tokenCount(pair.rejected));
    for (const completion of [pair.chosen, pair.rejected]) {
      let offset = 0;
      for (const row of completion) {
        for (let t = 0; t < row.tokens.length - 1; t++) {
          const position = t + 1 - row.actionStart;
          if (position >= 0 && offset + position >= shared) out[r * T + t] = 1;
        }
        offset += row.tokens.length - row.actionStart;
        r += 1;
      }
    }
  }
  return tf.tensor2d(out, [rows.length, T]);
}

/**
 * One optimizer update on a minibatch of pairs; returns its metrics. Long multi-turn pairs
 * are scored in chunks of pairs whose gradients add up (each chunk's loss weighted by its
 * share of the pairs: the objectives are means over pairs), except for objectives that couple
 * the pairs of a batch (AOT sorts them), which see the whole minibatch.
 */
export async function optimizePairs(
  pairs: readonly TokenPair[],
  loss: PairLoss<Tf, tf.Tensor>,
  policy: Scorer & { variables: tf.Variable[] },
  reference: Scorer | undefined,
  optimizer: Adam,
  learningRate: number,
  config: TrainConfig,
  source: 'offline' | 'online' = 'online',
): Promise<Record<string, number>> {
  if (loss.needs?.reference && !reference) throw new RunError(`loss '${loss.name}' needs the reference policy`);
  const chunks = loss.needs?.batchCoupled
    ? [pairs]
    : chunksOf(pairs, (p) => [...p.chosen, ...p.rejected], config.model.heads, config.microBatchRows ?? 64);
  const out = await accumulateAndApply(
    chunksByCount(chunks, pairs.length),
    (chunk) => pairGradients(chunk.items, loss, policy, reference, source, chunk.lossShare),
    optimizer,
    learningRate,
    config.gradClip,
  );
  return { ...out, pairs: pairs.length };
}

/**
 * Consecutive chunks of items whose rows stay within one micro-batch (batch.ts
 * `microBatchSize`); an item larger than that is a chunk of its own.
 */
export function chunksOf<T>(items: readonly T[], rowsOf: (item: T) => readonly TrainingRow[], heads: number, cap: number): T[][] {
  const size = microBatchSize(items.flatMap(rowsOf), heads, cap);
  const out: T[][] = [];
  let current: T[] = [];
  let count = 0;
  for (const item of items) {
    const n = rowsOf(item).length;
    if (current.length > 0 && count + n > size) {
      out.push(current);
      current = [];
      count = 0;
    }
    current.push(item);
    count += n;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** Gradients of one chunk of pairs (its loss weighted by `share`) and its metrics as scalars. */
function pairGradients(
  pairs: readonly TokenPair[],
  loss: PairLoss<Tf, tf.Tensor>,
  policy: Scorer & { variables: tf.Variable[] },
  reference: Scorer | undefined,
  source: 'offline' | 'online',
  share: number,
): ChunkGradients {
  const needs = loss.needs ?? {};
  const rows = pairs.flatMap((p) => [...p.chosen, ...p.rejected]);
  const batch = toTensors(rows);
  const pickChosen = selector(pairs, 'chosen', rows.length);
  const pickRejected = selector(pairs, 'rejected', rows.length);
  const tails = needs.tails ? tailMask(pairs, batch.mask.shape[1]) : undefined;
  const perCompletion = (rowLogprobs: tf.Tensor, pick: tf.Tensor2D, mask: tf.Tensor = batch.mask) =>
    tf.reshape(tf.matMul(pick, tf.reshape(tf.sum(tf.mul(rowLogprobs, mask), 1), [-1, 1])), [-1]);
  const held: tf.Tensor[] = [pickChosen, pickRejected, ...(tails ? [tails] : [])];
  const extra: Partial<PreferenceBatch<tf.Tensor>> = { source };
  let refRows: tf.Tensor | undefined;
  if (reference) {
    const scored = reference.score(batch.inputs, batch.targets).logprobs;
    refRows = scored;
    Object.assign(
      extra,
      tf.tidy(() => ({
        refChosenLogps: perCompletion(scored, pickChosen),
        refRejectedLogps: perCompletion(scored, pickRejected),
        ...(tails
          ? {
              refChosenTailLogps: perCompletion(scored, pickChosen, tails),
              refRejectedTailLogps: perCompletion(scored, pickRejected, tails),
            }
          : {}),
      })),
    );
  }
  const chosenLengths = tf.tensor1d(pairs.map((p) => tokenCount(p.chosen)));
  const rejectedLengths = tf.tensor1d(pairs.map((p) => tokenCount(p.rejected)));
  if (needs.aligned) {
    // WPO's weights come from the policy before this update and carry no gradient (TRL: no_grad).
    const scored = policy.score(batch.inputs, batch.targets, { squaredMass: true });
    const { logSquaredMass } = scored;
    if (!logSquaredMass) throw new RunError(`loss '${loss.name}' needs log sum pi^2, which this policy does not give`);
    Object.assign(
      extra,
      tf.tidy(() => {
        const aligned = tf.sub(scored.logprobs, logSquaredMass);
        return {
          chosenAlignedLogps: tf.div(perCompletion(aligned, pickChosen), tf.maximum(chosenLengths, 1)),
          rejectedAlignedLogps: tf.div(perCompletion(aligned, pickRejected), tf.maximum(rejectedLengths, 1)),
        };
      }),
    );
    tf.dispose([scored.logprobs, logSquaredMass]);
  }
  if (pairs.some((p) => p.reliability !== undefined)) extra.reliability = tf.tensor1d(pairs.map((p) => p.reliability ?? 1));
  for (const value of Object.values(extra)) if (value instanceof tf.Tensor) held.push(value);
  if (refRows && !needs.tokens) {
    refRows.dispose();
    refRows = undefined;
  }
  const scalars: Record<string, tf.Scalar> = {};
  const { value, grads } = tf.variableGrads(() => {
    const { logprobs } = policy.score(batch.inputs, batch.targets);
    const preference: PreferenceBatch<tf.Tensor> = {
      chosenLogps: perCompletion(logprobs, pickChosen),
      rejectedLogps: perCompletion(logprobs, pickRejected),
      chosenLengths,
      rejectedLengths,
      ...extra,
      ...(tails
        ? {
            chosenTailLogps: perCompletion(logprobs, pickChosen, tails),
            rejectedTailLogps: perCompletion(logprobs, pickRejected, tails),
          }
        : {}),
      ...(needs.tokens
        ? {
            tokens: {
              logprobs,
              ...(refRows ? { refLogprobs: refRows } : {}),
              mask: batch.mask,
              chosenRows: pickChosen,
              rejectedRows: pickRejected,
            },
          }
        : {}),
    };
    const result = loss.loss(preference, tf);
    for (const [key, metric] of Object.entries(result.metrics ?? {})) scalars[key] = tf.keep(tf.mean(metric)) as tf.Scalar;
    return tf.mul(result.loss, share) as tf.Scalar;
  }, policy.variables);
  scalars.loss = value;
  const gradients = policy.variables.map((v) => grads[v.name] ?? tf.zerosLike(v));
  const trainedTokens = batch.trainedTokens;
  tf.dispose([...held, chosenLengths, rejectedLengths, ...(refRows ? [refRows] : [])]);
  disposeBatch(batch);
  return { grads: gradients, scalars, trainedTokens };
}
