/**
 * The token-drawing loop every policy's `generate` shares: from the next-token logits after the
 * prompts, draw one token per row (temperature, top-k, top-p, a sampler's logits hook, or argmax),
 * record its log-probability, and ask the model's KV cache for the logits after it, until every
 * row has emitted a stop token or the limit is reached. The model supplies only the logits.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GenerateOptions, Generation } from './policy.js';

const NEG_INF = -1e9;

export interface TokenSource {
  /** Next-token logits [rows, V] after the prompts (owned by the source). */
  first: tf.Tensor2D;
  /** Logits [rows, V] after one more token per row, written at `step` (0-based) of the generation. */
  advance(next: readonly number[], step: number): tf.Tensor2D;
}

/** Draws up to `maxNew` tokens per prompt from `source`; the caller disposes the source's cache. */
export async function drawTokens(
  prompts: readonly (readonly number[])[],
  options: GenerateOptions,
  vocabSize: number,
  maxNew: number,
  source: TokenSource,
): Promise<Generation> {
  const rows = prompts.length;
  const tokens: number[][] = prompts.map(() => []);
  const logprobs: number[][] = prompts.map(() => []);
  const finished = prompts.map(() => false);
  const stop = new Set(options.stopTokens);
  const V = vocabSize;
  let last = source.first;
  for (let step = 0; step < maxNew; step++) {
    const probabilities = tf.tidy(() => samplingDistribution(last, options, V));
    const probs = (await probabilities.data()) as Float32Array;
    probabilities.dispose();
    const policyRows = Array.from({ length: rows }, (_, r) => probs.subarray(r * V, (r + 1) * V));
    const drawRows = options.logits ? await hooked(policyRows, prompts, tokens, step, options, V) : policyRows;
    const next: number[] = [];
    for (let r = 0; r < rows; r++) {
      const row = drawRows[r] as Float32Array;
      const token = options.greedy ? argmax(row) : options.rng.categorical(row);
      next.push(token);
      if (!finished[r]) {
        const recorded = options.behaviour === 'policy' ? (policyRows[r] as Float32Array) : row;
        tokens[r]?.push(token);
        logprobs[r]?.push(Math.log(recorded[token] as number));
        if (stop.has(token)) finished[r] = true;
      }
    }
    if (finished.every(Boolean) || step === maxNew - 1) break;
    last = source.advance(next, step);
  }
  return { tokens, logprobs, truncated: finished.map((done) => !done) };
}

/** The distribution a sampler's logits hook returns, normalised per row. */
async function hooked(
  policyRows: readonly Float32Array[],
  prompts: readonly (readonly number[])[],
  tokens: readonly number[][],
  position: number,
  options: GenerateOptions,
  vocabSize: number,
): Promise<Float32Array[]> {
  const hook = options.logits as NonNullable<GenerateOptions['logits']>;
  const weights = await hook({
    logprobs: policyRows.map((row) => row.map((p) => Math.log(p))),
    contexts: prompts.map((p, r) => [...p, ...(tokens[r] as number[])]),
    position,
  });
  if (weights.length !== policyRows.length)
    throw new RangeError(`the sampler's logits hook returned ${weights.length} rows for ${policyRows.length}`);
  return weights.map((row, r) => {
    if (row.length !== vocabSize)
      throw new RangeError(`the sampler's logits hook returned ${row.length} values in row ${r}, expected ${vocabSize}`);
    return normalisedFromLogs(row, r);
  });
}

/** Probabilities [rows, V] of the distribution actually sampled from (temperature, top-k, top-p). */
export function samplingDistribution(logits: tf.Tensor2D, options: GenerateOptions, V: number): tf.Tensor2D {
  if (options.greedy) return tf.softmax(logits);
  const temperature = options.temperature;
  if (!(temperature > 0)) throw new RangeError(`temperature must be > 0, got ${temperature}`);
  let scaled = temperature === 1 ? logits : tf.div(logits, temperature);
  if (options.topK !== undefined && options.topK > 0 && options.topK < V) {
    const { values } = tf.topk(scaled, options.topK);
    const threshold = tf.slice(values, [0, options.topK - 1], [-1, 1]);
    scaled = tf.where(tf.less(scaled, threshold), tf.fill(scaled.shape, NEG_INF), scaled);
  }
  let probs = tf.softmax(scaled) as tf.Tensor2D;
  if (options.topP !== undefined && options.topP < 1) {
    // Keep the smallest set of most likely tokens whose mass reaches topP (always at least one).
    const { values } = tf.topk(probs, V);
    const cumulative = tf.cumsum(values, 1);
    const keep = tf.sum(tf.cast(tf.less(tf.sub(cumulative, values), options.topP), 'int32'), 1, true);
    const cutoff = tf.gather(values, tf.sub(keep, 1), 1, 1);
    const kept = tf.where(tf.less(probs, cutoff), tf.zerosLike(probs), probs);
    probs = tf.div(kept, tf.sum(kept, 1, true));
  }
  return probs;
}

/** Probabilities from per-row log-weights (any scale; -Infinity removes a token). */
function normalisedFromLogs(row: Float32Array, index: number): Float32Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const x of row) if (x > max) max = x;
  if (!(max > Number.NEGATIVE_INFINITY) || Number.isNaN(max))
    throw new RangeError(`the sampler's logits hook left no token with a finite weight in row ${index}`);
  const out = new Float32Array(row.length);
  let total = 0;
  for (let v = 0; v < row.length; v++) {
    const w = Math.exp((row[v] as number) - max);
    out[v] = w;
    total += w;
  }
  for (let v = 0; v < row.length; v++) out[v] = (out[v] as number) / total;
  return out;
}

export function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}
