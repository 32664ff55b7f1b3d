/**
 * Preference training: pairs of (chosen, rejected) completions scored under the policy and
 * the frozen reference, then a preference objective (`PolicyLoss.pairwise`). Pairs come
 * from a JSONL dataset (offline) or from the best and worst rollout of each group (online).
 */
import { type PolicyLoss, type PreferenceBatch, type Rollout, RunError, type TrainConfig, UsageError } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import type { Adam } from '../optim/adam.js';
import { clipByGlobalNorm } from '../optim/adam.js';
import { type CharTokenizer, EOS } from '../tokenizer/char-tokenizer.js';
import { disposeBatch, type TrainingRow, toTensors } from './batch.js';
import { promptFor } from './rollouts.js';

export interface PreferencePair {
  prompt: string;
  chosen: string;
  rejected: string;
}

/** One completion as training rows (one per turn); its log-probability is the sum over them. */
export type Completion = readonly TrainingRow[];

export interface TokenPair {
  chosen: Completion;
  rejected: Completion;
}

type Tf = typeof tf;

/**
 * Reads a JSONL preference dataset: one `{"prompt", "chosen", "rejected"}` object per line
 * (blank lines skipped). Errors name the file, the line and what is wrong with it.
 */
export function parsePreferenceJsonl(text: string, file: string): PreferencePair[] {
  const pairs: PreferencePair[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${file}:${i + 1}`;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (error) {
      throw new UsageError(`${where}: not valid JSON (${(error as Error).message})`);
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record))
      throw new UsageError(`${where}: expected an object with prompt, chosen and rejected`);
    const fields = record as Record<string, unknown>;
    for (const key of ['prompt', 'chosen', 'rejected'] as const) {
      if (!(key in fields)) throw new UsageError(`${where}: missing field '${key}'`);
      if (typeof fields[key] !== 'string')
        throw new UsageError(`${where}: field '${key}' must be a string, got ${JSON.stringify(fields[key])}`);
    }
    if ((fields.chosen as string).length === 0 || (fields.rejected as string).length === 0)
      throw new UsageError(`${where}: chosen and rejected must not be empty`);
    pairs.push({ prompt: fields.prompt as string, chosen: fields.chosen as string, rejected: fields.rejected as string });
  });
  if (pairs.length === 0) throw new UsageError(`${file}: no preference pairs`);
  return pairs;
}

/** Checks that every character of the dataset is one the tokenizer knows, naming the first that is not. */
export function checkAlphabet(pairs: readonly PreferencePair[], tokenizer: CharTokenizer, file: string, env: string): void {
  pairs.forEach((pair, i) => {
    for (const key of ['prompt', 'chosen', 'rejected'] as const) {
      for (const ch of pair[key]) {
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
  return { chosen: [row(pair.chosen)], rejected: [row(pair.rejected)] };
}

/** A rollout's turns as rows (turns without action tokens are skipped). */
function rolloutRows(rollout: Rollout): TrainingRow[] {
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
  score(inputs: tf.Tensor2D, targets: tf.Tensor2D): { logprobs: tf.Tensor };
}

/** One optimizer update on a minibatch of pairs; returns its metrics. */
export async function optimizePairs(
  pairs: readonly TokenPair[],
  loss: PolicyLoss<Tf, tf.Tensor>,
  policy: Scorer & { variables: tf.Variable[] },
  reference: Scorer | undefined,
  optimizer: Adam,
  learningRate: number,
  config: TrainConfig,
): Promise<Record<string, number>> {
  if (!loss.pairwise) throw new RunError(`loss '${loss.name}' is not a preference objective`);
  if (loss.needsReference && !reference) throw new RunError(`loss '${loss.name}' needs the reference policy`);
  const rows = pairs.flatMap((p) => [...p.chosen, ...p.rejected]);
  const batch = toTensors(rows);
  const pickChosen = selector(pairs, 'chosen', rows.length);
  const pickRejected = selector(pairs, 'rejected', rows.length);
  const perCompletion = (rowLogprobs: tf.Tensor, pick: tf.Tensor2D) =>
    tf.reshape(tf.matMul(pick, tf.reshape(tf.sum(tf.mul(rowLogprobs, batch.mask), 1), [-1, 1])), [-1]);
  let refChosen: tf.Tensor | undefined;
  let refRejected: tf.Tensor | undefined;
  if (reference) {
    const refRows = reference.score(batch.inputs, batch.targets).logprobs;
    refChosen = perCompletion(refRows, pickChosen);
    refRejected = perCompletion(refRows, pickRejected);
    refRows.dispose();
  }
  const chosenLengths = tf.tensor1d(pairs.map((p) => tokenCount(p.chosen)));
  const rejectedLengths = tf.tensor1d(pairs.map((p) => tokenCount(p.rejected)));
  const scalars: Record<string, tf.Scalar> = {};
  const { value, grads } = tf.variableGrads(() => {
    const { logprobs } = policy.score(batch.inputs, batch.targets);
    const preference: PreferenceBatch<tf.Tensor> = {
      chosenLogps: perCompletion(logprobs, pickChosen),
      rejectedLogps: perCompletion(logprobs, pickRejected),
      ...(refChosen && refRejected ? { refChosenLogps: refChosen, refRejectedLogps: refRejected } : {}),
      chosenLengths,
      rejectedLengths,
    };
    const result = loss.pairwise?.(preference, tf) as { loss: tf.Tensor; metrics?: Record<string, tf.Tensor> };
    for (const [key, metric] of Object.entries(result.metrics ?? {})) scalars[key] = tf.keep(tf.mean(metric)) as tf.Scalar;
    return result.loss as tf.Scalar;
  }, policy.variables);
  const gradients = policy.variables.map((v) => grads[v.name] ?? tf.zerosLike(v));
  const { clipped, norm } = clipByGlobalNorm(gradients, config.gradClip);
  optimizer.apply(clipped, learningRate);
  const out: Record<string, number> = {
    loss: (await value.data())[0] as number,
    gradNorm: (await norm.data())[0] as number,
    pairs: pairs.length,
    trainedTokens: batch.trainedTokens,
  };
  for (const [key, scalar] of Object.entries(scalars)) out[key] = (await scalar.data())[0] as number;
  tf.dispose([
    value,
    norm,
    ...clipped,
    ...Object.values(grads),
    ...Object.values(scalars),
    pickChosen,
    pickRejected,
    chosenLengths,
    rejectedLengths,
    ...(refChosen ? [refChosen] : []),
    ...(refRejected ? [refRejected] : []),
  ]);
  disposeBatch(batch);
  for (const [key, v] of Object.entries(out))
    if (!Number.isFinite(v)) throw new RunError(`preference step produced a non-finite ${key} (${v}); lower the learning rate`);
  return out;
}
