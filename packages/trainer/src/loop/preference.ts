/**
 * Preference training: pairs of (chosen, rejected) completions (pairs.ts) scored under the
 * policy and the frozen reference, then a preference objective (a `PairLoss`), through the one
 * accumulate-and-apply.
 */
import { type PairLoss, type PreferenceBatch, RunError, type TrainConfig } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import type { Adam } from '../optim/adam.js';
import { disposeBatch, microBatchSize, packByRows, type TrainingRow, toTensors } from './batch.js';
import type { Completion, TokenPair } from './pairs.js';
import type { ContextConditioning } from './soft-prompt.js';
import { accumulateAndApply, type ChunkGradients, chunksByCount } from './update/accumulate.js';

type Tf = typeof tf;

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
  return packByRows(items, (item) => rowsOf(item).length, microBatchSize(items.flatMap(rowsOf), heads, cap));
}

/** The policy's OPPO conditioning (encoder, bare policy, z*), or an error naming what the run lacks. */
function contextOf(policy: object, lossName: string): ContextConditioning {
  const context = (policy as { context?: ContextConditioning }).context;
  if (!context)
    throw new RunError(
      `loss '${lossName}' conditions the policy on a trajectory encoder's contexts; the run needs a soft prompt (--set softPrompt=P) for z*`,
    );
  return context;
}

/** Each completion's context (the mean of its rows' encodings, flattened to [pairs, P x D]) and z* flattened to [P x D]. */
function completionContexts(
  encoded: tf.Tensor3D,
  pickChosen: tf.Tensor2D,
  pickRejected: tf.Tensor2D,
  optimal: tf.Variable,
): { chosen: tf.Tensor; rejected: tf.Tensor; optimal: tf.Tensor } {
  const [rows, length, dim] = encoded.shape;
  const flat = tf.reshape(encoded, [rows, length * dim]);
  const mean = (pick: tf.Tensor2D) => tf.div(tf.matMul(pick, flat), tf.maximum(tf.sum(pick, 1, true), 1));
  return { chosen: mean(pickChosen), rejected: mean(pickRejected), optimal: tf.reshape(optimal, [length * dim]) };
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
  const conditioning = needs.context ? contextOf(policy, loss.name) : undefined;
  const { value, grads } = tf.variableGrads(() => {
    // OPPO: each completion scored under its own encoder context (hindsight information matching).
    const encoded = conditioning ? conditioning.encoder.encode(batch.targets, batch.mask) : undefined;
    const { logprobs } =
      conditioning && encoded
        ? conditioning.bare.score(batch.inputs, batch.targets, { prefix: encoded })
        : policy.score(batch.inputs, batch.targets);
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
      ...(conditioning && encoded
        ? { context: completionContexts(encoded, pickChosen, pickRejected, conditioning.optimal) }
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
