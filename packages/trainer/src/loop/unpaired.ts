/**
 * Unpaired preference training (KTO): single completions labelled desirable or undesirable,
 * scored under the policy and the frozen reference, plus KTO's KL anchor from mismatched
 * completions (example i's prompt with example i-1's completion, cyclically). Examples come
 * from a JSONL dataset (offline) or from rollouts above and below their group's mean reward
 * (online).
 */
import { type LabelledLoss, type Rollout, RunError, type TrainConfig, type UnpairedBatch } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import type { Adam } from '../optim/adam.js';
import type { PolicyTokenizer } from '../tokenizer/policy-tokenizer.js';
import { disposeBatch, microBatchSize, type TrainingRow, toTensors } from './batch.js';
import type { PreferencePair, UnpairedExample } from './data.js';
import { type Completion, rolloutRows } from './pairs.js';
import { chunksOf } from './preference.js';
import { firstPrompt } from './rollouts.js';
import { accumulateAndApply, type ChunkGradients, chunksByCount } from './update/accumulate.js';

export interface LabelledCompletion {
  rows: Completion;
  desirable: boolean;
}

type Tf = typeof tf;

/** TRL's unpair_preference_dataset: each pair gives a desirable chosen and an undesirable rejected example. */
export function unpair(pairs: readonly PreferencePair[]): UnpairedExample[] {
  return pairs.flatMap((p) => [
    { prompt: p.prompt, completion: p.chosen, desirable: true },
    { prompt: p.prompt, completion: p.rejected, desirable: false },
  ]);
}

/** A dataset example as one row: the prompt as the environment's first observation, the completion + eos. */
export function exampleRows(example: UnpairedExample, tokenizer: PolicyTokenizer, config: TrainConfig): LabelledCompletion {
  // A soft prompt's vectors take positions of the policy's context too.
  const limit = config.model.contextLength - (config.softPrompt ?? 0) - config.maxNewTokens;
  const prompt = firstPrompt(example.prompt, limit, tokenizer);
  const action = [...tokenizer.encode(example.completion), tokenizer.specials.eos].slice(0, config.maxNewTokens);
  return {
    rows: [{ tokens: [...prompt, ...action], actionStart: prompt.length, oldLogprobs: [], advantage: 0, weight: 1 }],
    desirable: example.desirable,
  };
}

/**
 * Online labels: in each group, rollouts whose scalar reward is above the group's mean are
 * desirable and those below it undesirable; rollouts at the mean (all of a group whose
 * rewards are equal) give no example.
 */
export function labelledFromGroups(
  groups: readonly (readonly Rollout[])[],
  scalar: (r: Rollout) => number,
): LabelledCompletion[] {
  const out: LabelledCompletion[] = [];
  for (const group of groups) {
    const scores = group.map(scalar);
    const mean = scores.reduce((a, b) => a + b, 0) / Math.max(1, scores.length);
    group.forEach((rollout, i) => {
      const score = scores[i] as number;
      if (score === mean) return;
      const rows = rolloutRows(rollout);
      if (rows.length > 0) out.push({ rows, desirable: score > mean });
    });
  }
  return out;
}

/**
 * KTO's mismatched completions: example i's first prompt followed by example i-1's first
 * action (cyclically). For multi-turn rollouts only the first turn is mismatched: the anchor
 * is an estimate of KL(pi_theta || pi_ref), and the first turn is where prompts differ.
 */
export function mismatchedRows(examples: readonly LabelledCompletion[]): TrainingRow[] {
  const n = examples.length;
  return examples.map((example, i) => {
    const own = example.rows[0] as TrainingRow;
    const other = examples[(i - 1 + n) % n]?.rows[0] as TrainingRow;
    const prompt = own.tokens.slice(0, own.actionStart);
    const action = other.tokens.slice(other.actionStart);
    return { tokens: [...prompt, ...action], actionStart: prompt.length, oldLogprobs: [], advantage: 0, weight: 1 };
  });
}

/** [examples, rows] 0/1 matrix that sums each example's rows (rows are laid out example by example). */
function selector(counts: readonly number[], rowCount: number): tf.Tensor2D {
  const matrix = new Float32Array(counts.length * rowCount);
  let offset = 0;
  counts.forEach((count, e) => {
    for (let r = offset; r < offset + count; r++) matrix[e * rowCount + r] = 1;
    offset += count;
  });
  return tf.tensor2d(matrix, [counts.length, rowCount]);
}

interface Scorer {
  score(inputs: tf.Tensor2D, targets: tf.Tensor2D): { logprobs: tf.Tensor };
}

/** Summed action log-probabilities of single-row completions under a scorer, in chunks that fit the heap. */
function scoreRows(scorer: Scorer, rows: readonly TrainingRow[], heads: number): tf.Tensor1D {
  const parts: tf.Tensor[] = [];
  const size = microBatchSize(rows, heads, 64);
  for (let start = 0; start < rows.length; start += size) {
    const batch = toTensors(rows.slice(start, start + size));
    const logprobs = scorer.score(batch.inputs, batch.targets).logprobs;
    parts.push(tf.tidy(() => tf.sum(tf.mul(logprobs, batch.mask), 1)));
    logprobs.dispose();
    disposeBatch(batch);
  }
  const out = tf.concat(parts) as tf.Tensor1D;
  tf.dispose(parts);
  return out;
}

/**
 * One optimizer update on labelled completions; returns its metrics. KTO's anchor is computed
 * once over the whole minibatch (no gradient); the loss, a mean over examples, is accumulated
 * over chunks of examples that fit the wasm heap.
 */
export async function optimizeUnpaired(
  examples: readonly LabelledCompletion[],
  loss: LabelledLoss<Tf, tf.Tensor>,
  policy: Scorer & { variables: tf.Variable[] },
  reference: Scorer | undefined,
  optimizer: Adam,
  learningRate: number,
  config: TrainConfig,
): Promise<Record<string, number>> {
  if (loss.needs?.reference && !reference) throw new RunError(`loss '${loss.name}' needs the reference policy`);
  const heads = config.model.heads;
  const anchor: Partial<UnpairedBatch<tf.Tensor>> = {};
  if (examples.length > 1) {
    const mismatched = mismatchedRows(examples);
    anchor.klLogps = scoreRows(policy, mismatched, heads);
    if (reference) anchor.klRefLogps = scoreRows(reference, mismatched, heads);
  }
  const chunks = chunksOf(examples, (e) => e.rows, heads, config.microBatchRows ?? 64);
  const out = await accumulateAndApply(
    chunksByCount(chunks, examples.length),
    (chunk) => unpairedGradients(chunk.items, loss, policy, reference, anchor, chunk.lossShare),
    optimizer,
    learningRate,
    config.gradClip,
  );
  tf.dispose(Object.values(anchor).filter((v): v is tf.Tensor => v instanceof tf.Tensor));
  return {
    ...out,
    examples: examples.length,
    desirableFraction: examples.filter((e) => e.desirable).length / Math.max(1, examples.length),
  };
}

/** Gradients of one chunk of examples (its loss weighted by `share`) and its metrics. */
function unpairedGradients(
  examples: readonly LabelledCompletion[],
  loss: LabelledLoss<Tf, tf.Tensor>,
  policy: Scorer & { variables: tf.Variable[] },
  reference: Scorer | undefined,
  anchor: Partial<UnpairedBatch<tf.Tensor>>,
  share: number,
): ChunkGradients {
  const rows = examples.flatMap((e) => e.rows);
  const batch = toTensors(rows);
  const pick = selector(
    examples.map((e) => e.rows.length),
    rows.length,
  );
  const perExample = (rowLogprobs: tf.Tensor) =>
    tf.reshape(tf.matMul(pick, tf.reshape(tf.sum(tf.mul(rowLogprobs, batch.mask), 1), [-1, 1])), [-1]);
  const held: tf.Tensor[] = [pick];
  let refLogps: tf.Tensor | undefined;
  if (reference) {
    const scored = reference.score(batch.inputs, batch.targets).logprobs;
    refLogps = tf.tidy(() => perExample(scored));
    scored.dispose();
    held.push(refLogps);
  }
  const lengths = tf.tensor1d(examples.map((e) => e.rows.reduce((n, row) => n + row.tokens.length - row.actionStart, 0)));
  held.push(lengths);
  const scalars: Record<string, tf.Scalar> = {};
  const { value, grads } = tf.variableGrads(() => {
    const { logprobs } = policy.score(batch.inputs, batch.targets);
    const unpaired: UnpairedBatch<tf.Tensor> = {
      logps: perExample(logprobs),
      desirable: examples.map((e) => e.desirable),
      lengths,
      ...(refLogps ? { refLogps } : {}),
      ...anchor,
    };
    const result = loss.loss(unpaired, tf);
    for (const [key, metric] of Object.entries(result.metrics ?? {})) scalars[key] = tf.keep(tf.mean(metric)) as tf.Scalar;
    return tf.mul(result.loss, share) as tf.Scalar;
  }, policy.variables);
  scalars.loss = value;
  const gradients = policy.variables.map((v) => grads[v.name] ?? tf.zerosLike(v));
  const trainedTokens = batch.trainedTokens;
  tf.dispose(held);
  disposeBatch(batch);
  return { grads: gradients, scalars, trainedTokens };
}
