/**
 * A decoder-only transformer policy: pre-LayerNorm blocks, bias-free q/k/v/o projections,
 * ReLU MLP, learned positions, untied output layer, optional value head (the reference
 * PyTorch model of packages/bench/peers, docs/performance.md). Written for tfjs-wasm's fast paths: embeddings as one-hot
 * matMuls in training (gather's gradient has no wasm kernel), no tf.split.
 */
import { Rng } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { fusedAddLayerNorm, fusedAttentionAvailable, fusedCausalAttention, fusedLayerNorm } from '../kernels/fused-ops.js';
import { rowsWithinAttention } from './memory.js';
import type {
  BeamOptions,
  GenerateOptions,
  Generation,
  PolicyConfig,
  PolicyModel,
  ScoredTokens,
  ScoreOptions,
} from './policy.js';
import { drawTokens } from './sampling.js';

const NEG_INF = -1e9;

interface LayerWeights {
  ln1Gain: tf.Variable;
  ln1Bias: tf.Variable;
  wq: tf.Variable;
  wk: tf.Variable;
  wv: tf.Variable;
  wo: tf.Variable;
  ln2Gain: tf.Variable;
  ln2Bias: tf.Variable;
  w1: tf.Variable;
  b1: tf.Variable;
  w2: tf.Variable;
  b2: tf.Variable;
}

interface Weights {
  tokenEmbedding: tf.Variable;
  positionEmbedding: tf.Variable;
  layers: LayerWeights[];
  lnFinalGain: tf.Variable;
  lnFinalBias: tf.Variable;
  output: tf.Variable;
  value?: tf.Variable;
}

/** Normal(0, std) values from our seeded Rng, so initial weights do not depend on the backend. */
function initial(rng: Rng, shape: number[], std: number): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng.normal() * std;
  return out;
}

export function validatePolicyConfig(config: PolicyConfig): void {
  const { vocabSize, dim, layers, heads, contextLength, mlpRatio } = config;
  for (const [key, value] of Object.entries({ vocabSize, dim, layers, heads, contextLength, mlpRatio })) {
    if (!Number.isInteger(value) || value <= 0) throw new RangeError(`model ${key} must be a positive integer, got ${value}`);
  }
  if (dim % heads !== 0) throw new RangeError(`model dim (${dim}) must be divisible by heads (${heads})`);
}

export class TransformerPolicy implements PolicyModel {
  readonly variables: tf.Variable[];
  private readonly causalMask: tf.Tensor2D;

  private constructor(
    readonly config: PolicyConfig,
    private readonly weights: Weights,
    trainable: boolean,
  ) {
    this.variables = collect(weights);
    for (const v of this.variables) v.trainable = trainable;
    const T = config.contextLength;
    const mask = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) mask[i * T + j] = NEG_INF;
    this.causalMask = tf.keep(tf.tensor2d(mask, [T, T]));
  }

  /** A new policy with weights drawn from `rng` (GPT-2 style scales). */
  static create(config: PolicyConfig, rng: Rng): TransformerPolicy {
    validatePolicyConfig(config);
    const { vocabSize: V, dim: D, layers: L, contextLength: T } = config;
    const F = D * config.mlpRatio;
    const std = 0.02;
    const residualStd = 0.02 / Math.sqrt(2 * L);
    const variable = (shape: number[], values: Float32Array, name: string) => tf.variable(tf.tensor(values, shape), true, name);
    const ones = (n: number) => new Float32Array(n).fill(1);
    const zeros = (n: number) => new Float32Array(n);
    let id = 0;
    const unique = (name: string) => `policy${policyCounter}/${name}/${id++}`;
    policyCounter += 1;
    const weights: Weights = {
      tokenEmbedding: variable([V, D], initial(rng, [V, D], std), unique('token_embedding')),
      positionEmbedding: variable([T, D], initial(rng, [T, D], std), unique('position_embedding')),
      layers: Array.from({ length: L }, (_, l) => ({
        ln1Gain: variable([D], ones(D), unique(`layer${l}/ln1_gain`)),
        ln1Bias: variable([D], zeros(D), unique(`layer${l}/ln1_bias`)),
        wq: variable([D, D], initial(rng, [D, D], std), unique(`layer${l}/wq`)),
        wk: variable([D, D], initial(rng, [D, D], std), unique(`layer${l}/wk`)),
        wv: variable([D, D], initial(rng, [D, D], std), unique(`layer${l}/wv`)),
        wo: variable([D, D], initial(rng, [D, D], residualStd), unique(`layer${l}/wo`)),
        ln2Gain: variable([D], ones(D), unique(`layer${l}/ln2_gain`)),
        ln2Bias: variable([D], zeros(D), unique(`layer${l}/ln2_bias`)),
        w1: variable([D, F], initial(rng, [D, F], std), unique(`layer${l}/w1`)),
        b1: variable([F], zeros(F), unique(`layer${l}/b1`)),
        w2: variable([F, D], initial(rng, [F, D], residualStd), unique(`layer${l}/w2`)),
        b2: variable([D], zeros(D), unique(`layer${l}/b2`)),
      })),
      lnFinalGain: variable([D], ones(D), unique('ln_final_gain')),
      lnFinalBias: variable([D], zeros(D), unique('ln_final_bias')),
      output: variable([D, V], initial(rng, [D, V], std), unique('output')),
      ...(config.valueHead ? { value: variable([D, 1], zeros(D), unique('value_head')) } : {}),
    };
    return new TransformerPolicy(config, weights, true);
  }

  /** Names of the weights, in `variables` order (checkpoints use them as keys). */
  weightNames(): string[] {
    const names = ['token_embedding', 'position_embedding'];
    this.weights.layers.forEach((_, l) => {
      for (const key of ['ln1_gain', 'ln1_bias', 'wq', 'wk', 'wv', 'wo', 'ln2_gain', 'ln2_bias', 'w1', 'b1', 'w2', 'b2']) {
        names.push(`layer${l}.${key}`);
      }
    });
    names.push('ln_final_gain', 'ln_final_bias', 'output');
    if (this.weights.value) names.push('value_head');
    return names;
  }

  freeze(): PolicyModel {
    const copy = TransformerPolicy.create(this.config, Rng.seeded(0));
    copy.copyFrom(this);
    for (const v of copy.variables) v.trainable = false;
    return copy;
  }

  copyFrom(other: PolicyModel): void {
    if (other.variables.length !== this.variables.length) throw new RangeError('copyFrom: models differ in shape');
    this.variables.forEach((v, i) => v.assign(other.variables[i] as tf.Variable));
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
    this.causalMask.dispose();
  }

  // -------------------------------------------------------------------------------------
  // Teacher forcing

  score(inputs: tf.Tensor2D, targets: tf.Tensor2D, options: ScoreOptions = {}): ScoredTokens {
    return tf.tidy(() => {
      const [rows, T] = inputs.shape;
      const V = this.config.vocabSize;
      const hidden = this.forward(inputs, options.prefix); // [rows*T, D]
      const logits = tf.matMul(hidden, this.weights.output); // [rows*T, V]
      const logProbsAll = tf.logSoftmax(logits);
      const targetOneHot = tf.oneHot(tf.reshape(targets, [-1]), V);
      const logprobs = tf.reshape(tf.sum(tf.mul(logProbsAll, targetOneHot), -1), [rows, T]) as tf.Tensor2D;
      const out: ScoredTokens = { logprobs };
      if (options.entropy) {
        const probs = tf.exp(logProbsAll);
        out.entropy = tf.reshape(tf.neg(tf.sum(tf.mul(probs, logProbsAll), -1)), [rows, T]) as tf.Tensor2D;
      }
      if (options.squaredMass) {
        out.logSquaredMass = tf.reshape(tf.logSumExp(tf.mul(logProbsAll, 2), -1), [rows, T]) as tf.Tensor2D;
      }
      if (options.distributions) out.distributions = tf.reshape(logProbsAll, [rows, T, V]) as tf.Tensor3D;
      if (options.hidden) out.hidden = tf.reshape(hidden, [rows, T, this.config.dim]) as tf.Tensor3D;
      if (options.values && this.weights.value) {
        out.values = tf.reshape(tf.matMul(hidden, this.weights.value), [rows, T]) as tf.Tensor2D;
      }
      return out as unknown as tf.TensorContainer;
    }) as unknown as ScoredTokens;
  }

  /**
   * Final hidden states [rows*T, D] for right-padded int32 inputs [rows, T], after `prefix`'s P
   * conditioning vectors when given (positions 0..P-1; the tokens' states only are returned).
   */
  private forward(inputs: tf.Tensor2D, prefix?: tf.Tensor): tf.Tensor2D {
    const [rows, T] = inputs.shape;
    const { dim: D, contextLength } = this.config;
    const P = this.prefixLength(prefix, rows, 'score');
    if (P + T > contextLength)
      throw new RangeError(
        P > 0
          ? `a prefix of ${P} vectors and ${T} tokens exceed the context length ${contextLength}`
          : `sequence length ${T} exceeds the context length ${contextLength}`,
      );
    const tokens = tf.reshape(
      tf.matMul(tf.oneHot(tf.reshape(inputs, [-1]), this.config.vocabSize), this.weights.tokenEmbedding),
      [rows, T, D],
    );
    // Without a prefix the ops are exactly those of an unconditioned pass (the same numbers).
    const embedded = P > 0 ? tf.concat([tf.broadcastTo(prefix as tf.Tensor, [rows, P, D]), tokens], 1) : tokens;
    const S = P + T;
    const positions = tf.slice(this.weights.positionEmbedding, [0, 0], [S, D]);
    let x = tf.reshape(tf.add(embedded, positions), [rows * S, D]) as tf.Tensor2D;
    const mask = tf.slice(this.causalMask, [0, 0], [S, S]);
    const { layers, lnFinalGain, lnFinalBias } = this.weights;
    // Each residual add is fused with the layer norm that reads its sum (the next sublayer's,
    // or the final one), so h is always the normalised input of the coming sublayer.
    const normBefore = (i: number) => {
      const layer = layers[i];
      return layer ? { gain: layer.ln1Gain, bias: layer.ln1Bias } : { gain: lnFinalGain, bias: lnFinalBias };
    };
    let h = layerNorm(x, normBefore(0).gain, normBefore(0).bias);
    for (const [i, layer] of layers.entries()) {
      const merged =
        this.fusedAttention(h, layer, rows, S) ??
        (() => {
          const q = this.heads(tf.matMul(h, layer.wq), rows, S);
          const k = this.heads(tf.matMul(h, layer.wk), rows, S);
          const v = this.heads(tf.matMul(h, layer.wv), rows, S);
          const attended = this.attend(q, k, v, mask); // [rows, H, S, dh]
          return tf.reshape(tf.transpose(attended, [0, 2, 1, 3]), [rows * S, D]);
        })();
      const afterAttention = addAndNorm(x, tf.matMul(merged, layer.wo), layer.ln2Gain, layer.ln2Bias);
      const next = normBefore(i + 1);
      const fed = addAndNorm(afterAttention.sum, this.feedForward(afterAttention.normed, layer), next.gain, next.bias);
      x = fed.sum;
      h = fed.normed;
    }
    if (P === 0) return h;
    return tf.reshape(tf.slice(tf.reshape(h, [rows, S, D]), [0, P, 0], [rows, T, D]), [rows * T, D]) as tf.Tensor2D;
  }

  /** P of a [P, D] or [rows, P, D] prefix (0 without one); a wrong shape is a RangeError naming it. */
  private prefixLength(prefix: tf.Tensor | undefined, rows: number, caller: string): number {
    if (!prefix) return 0;
    const D = this.config.dim;
    const shape = prefix.shape;
    const fits = (shape.length === 2 || (shape.length === 3 && shape[0] === rows)) && shape.at(-1) === D;
    if (!fits || prefix.dtype !== 'float32')
      throw new RangeError(
        `${caller}: the prefix must be a float32 [P, ${D}] or [${rows}, P, ${D}] tensor, got ${prefix.dtype} [${shape.join(', ')}]`,
      );
    return shape.at(-2) as number;
  }

  /**
   * Causal self-attention through the fused wasm kernel (fast kernels only), in the
   * projections' [rows, T, H, dh] layout so no head transposes run; undefined otherwise.
   */
  private fusedAttention(h: tf.Tensor2D, layer: LayerWeights, rows: number, T: number): tf.Tensor2D | undefined {
    const { heads: H, dim: D } = this.config;
    if (!fusedAttentionAvailable(D / H)) return undefined;
    const split = (w: tf.Variable) => tf.reshape(tf.matMul(h, w), [rows, T, H, D / H]);
    const scale = 1 / Math.sqrt(D / H);
    const out = fusedCausalAttention(split(layer.wq), split(layer.wk), split(layer.wv), { scale, layout: 'bthd' });
    return out && (tf.reshape(out, [rows * T, D]) as tf.Tensor2D);
  }

  private heads(x: tf.Tensor, rows: number, T: number): tf.Tensor4D {
    const { heads: H, dim: D } = this.config;
    return tf.transpose(tf.reshape(x, [rows, T, H, D / H]), [0, 2, 1, 3]) as tf.Tensor4D;
  }

  /** Softmax attention; `mask` is additive and broadcasts to [rows, H, Tq, Tk]. */
  private attend(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor): tf.Tensor4D {
    const scale = 1 / Math.sqrt(this.config.dim / this.config.heads);
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), scale), mask);
    return tf.matMul(tf.softmax(scores), v) as tf.Tensor4D;
  }

  private mlp(x: tf.Tensor2D, layer: LayerWeights): tf.Tensor2D {
    return this.feedForward(layerNorm(x, layer.ln2Gain, layer.ln2Bias), layer);
  }

  /** The MLP on already normalised rows. */
  private feedForward(h: tf.Tensor2D, layer: LayerWeights): tf.Tensor2D {
    return tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(h, layer.w1), layer.b1)), layer.w2), layer.b2);
  }

  // -------------------------------------------------------------------------------------
  // Sampling with a KV cache

  async generate(prompts: readonly (readonly number[])[], options: GenerateOptions): Promise<Generation> {
    const rows = prompts.length;
    if (rows === 0) return { tokens: [], logprobs: [], truncated: [] };
    const longest = Math.max(...prompts.map((p) => p.length));
    if (longest === 0) throw new RangeError('generate: every prompt needs at least one token');
    const P = this.prefixLength(options.prefix, rows, 'generate');
    const maxNew = Math.min(options.maxNewTokens, this.config.contextLength - P - longest);
    if (maxNew <= 0)
      throw new RangeError(
        `generate: ${P > 0 ? `a prefix of ${P} vectors and ` : ''}prompts of ${longest} tokens leave no room in a context of ${this.config.contextLength}`,
      );
    // Left-pad to a common length; each row's positions start at 0 on its first real token
    // (its first prefix vector when there is a prefix: pads, vectors, then the prompt).
    const pads = prompts.map((p) => longest - p.length);
    const padded = prompts.map((p, r) => [...new Array(pads[r]).fill(0), ...p]);
    const total = P + longest + maxNew;
    const padMask = tf.tidy(() => {
      const values = new Float32Array(rows * total);
      pads.forEach((pad, r) => {
        for (let s = 0; s < pad; s++) values[r * total + s] = NEG_INF;
      });
      return tf.reshape(tf.tensor2d(values, [rows, total]), [rows, 1, 1, total]);
    });
    const vectors = P > 0 ? tf.tidy(() => tf.broadcastTo(options.prefix as tf.Tensor, [rows, P, this.config.dim])) : undefined;
    let cache: Cache;
    try {
      cache = this.prefillInChunks(padded, pads, longest, padMask, vectors as tf.Tensor3D | undefined);
    } catch (error) {
      padMask.dispose();
      throw error;
    } finally {
      vectors?.dispose();
    }
    try {
      return await drawTokens(prompts, options, this.config.vocabSize, maxNew, {
        first: cache.logits,
        advance: (next, step) => {
          const advanced = this.decodeStep(cache, [...next], pads, P + longest + step, padMask);
          disposeCache(cache);
          cache = advanced;
          return cache.logits;
        },
      });
    } finally {
      disposeCache(cache);
      padMask.dispose();
    }
  }

  async beamSearch(prompt: readonly number[], options: BeamOptions): Promise<Generation & { scores: number[] }> {
    const { width, count } = options;
    if (!(Number.isInteger(width) && width >= 1)) throw new RangeError(`beam width must be an integer >= 1, got ${width}`);
    if (!(Number.isInteger(count) && count >= 1 && count <= width))
      throw new RangeError(`beam count must be an integer from 1 to the width ${width}, got ${count}`);
    if (prompt.length === 0) throw new RangeError('beamSearch: the prompt needs at least one token');
    if (options.prefix && options.prefix.rank !== 2)
      throw new RangeError(
        `beamSearch: the prefix must be one [P, ${this.config.dim}] set of vectors, got [${options.prefix.shape.join(', ')}]`,
      );
    const P = this.prefixLength(options.prefix, 1, 'beamSearch');
    const maxNew = Math.min(options.maxNewTokens, this.config.contextLength - P - prompt.length);
    if (maxNew <= 0)
      throw new RangeError(
        `beamSearch: ${P > 0 ? `a prefix of ${P} vectors and ` : ''}a prompt of ${prompt.length} tokens leave${P > 0 ? '' : 's'} no room in a context of ${this.config.contextLength}`,
      );
    const stop = new Set(options.stopTokens);
    const V = this.config.vocabSize;
    const total = P + prompt.length + maxNew;
    // One row per live hypothesis; no padding, so the pad mask is zeros wide enough for `width` rows.
    const padMask = tf.zeros([width, 1, 1, total]);
    const vectors = P > 0 ? tf.expandDims(options.prefix as tf.Tensor2D, 0) : undefined;
    let cache = this.prefill([[...prompt]], [0], prompt.length, padMask, vectors as tf.Tensor3D | undefined);
    vectors?.dispose();
    let live: Hypothesis[] = [{ tokens: [], logprobs: [], score: 0 }];
    const done: Hypothesis[] = [];
    try {
      for (let step = 0; step < maxNew && live.length > 0; step++) {
        const probabilities = tf.softmax(cache.logits);
        const probs = (await probabilities.data()) as Float32Array;
        probabilities.dispose();
        const candidates: { parent: number; token: number; logprob: number; score: number }[] = [];
        live.forEach((hypothesis, b) => {
          for (let v = 0; v < V; v++) {
            const logprob = Math.log(probs[b * V + v] as number);
            if (logprob > Number.NEGATIVE_INFINITY)
              candidates.push({ parent: b, token: v, logprob, score: hypothesis.score + logprob });
          }
        });
        // Best first; ties go to the earlier hypothesis, then the lower token id (argmax's rule), so width 1 is greedy.
        candidates.sort((a, b) => b.score - a.score || a.parent - b.parent || a.token - b.token);
        const next: Hypothesis[] = [];
        const parents: number[] = [];
        for (const c of candidates.slice(0, width)) {
          const parent = live[c.parent] as Hypothesis;
          const grown = { tokens: [...parent.tokens, c.token], logprobs: [...parent.logprobs, c.logprob], score: c.score };
          if (stop.has(c.token)) done.push(grown);
          else {
            next.push(grown);
            parents.push(c.parent);
          }
        }
        live = next;
        // Scores only fall as hypotheses grow: stop once `count` finished ones beat every live one.
        const ranked = [...done].sort((a, b) => b.score - a.score);
        const worstKept = ranked[count - 1]?.score;
        if (worstKept !== undefined && live.every((h) => h.score <= worstKept)) break;
        if (live.length === 0 || step === maxNew - 1) break;
        const reordered = reorderCache(cache, parents);
        disposeCache(cache);
        const last = live.map((h) => h.tokens.at(-1) as number);
        cache = this.decodeStep(reordered, last, new Array(live.length).fill(0), P + prompt.length + step, padMask);
        disposeCache(reordered);
      }
    } finally {
      disposeCache(cache);
      padMask.dispose();
    }
    const finishedCount = done.length;
    const ranked = [...done, ...live]
      .map((h, i) => ({ ...h, truncated: i >= finishedCount }))
      .sort((a, b) => b.score - a.score)
      .slice(0, count);
    return {
      tokens: ranked.map((h) => h.tokens),
      logprobs: ranked.map((h) => h.logprobs),
      truncated: ranked.map((h) => h.truncated),
      scores: ranked.map((h) => h.score),
    };
  }

  /**
   * The KV cache and next-token logits of left-padded prompts (`length` tokens a row), after
   * each row's `vectors` [rows, P, D] when given: a row reads pads, then its P vectors, then its
   * prompt, and its positions start at 0 on the first vector.
   */
  private prefill(padded: number[][], pads: number[], tokenLength: number, padMask: tf.Tensor, vectors?: tf.Tensor3D): Cache {
    return tf.tidy(() => {
      const rows = padded.length;
      const { dim: D, vocabSize: V } = this.config;
      const P = vectors ? (vectors.shape[1] as number) : 0;
      const length = P + tokenLength;
      // Vectors are looked up like tokens, from rows appended to the embedding table (ids V + r*P + j).
      const idOf = (r: number, s: number) => {
        const pad = pads[r] as number;
        if (s < pad + P && s >= pad) return V + r * P + (s - pad);
        return (padded[r] as number[])[s < pad ? s : s - P] as number;
      };
      const ids = tf.tensor2d(
        padded.map((_, r) => Array.from({ length }, (_, s) => idOf(r, s))),
        [rows, length],
        'int32',
      );
      const table = vectors
        ? tf.concat([this.weights.tokenEmbedding, tf.reshape(vectors, [rows * P, D])])
        : this.weights.tokenEmbedding;
      const positions = tf.tensor2d(
        padded.map((_, r) => Array.from({ length }, (_, s) => Math.max(0, s - (pads[r] as number)))),
        [rows, length],
        'int32',
      );
      let x = tf.reshape(tf.add(tf.gather(table, ids), tf.gather(this.weights.positionEmbedding, positions)), [
        rows * length,
        D,
      ]) as tf.Tensor2D;
      const mask = tf.add(
        tf.slice(this.causalMask, [0, 0], [length, length]),
        tf.slice(padMask, [0, 0, 0, 0], [rows, 1, 1, length]),
      );
      const keys: tf.Tensor4D[] = [];
      const values: tf.Tensor4D[] = [];
      for (const layer of this.weights.layers) {
        const h = layerNorm(x, layer.ln1Gain, layer.ln1Bias);
        const q = this.heads(tf.matMul(h, layer.wq), rows, length);
        const k = this.heads(tf.matMul(h, layer.wk), rows, length);
        const v = this.heads(tf.matMul(h, layer.wv), rows, length);
        keys.push(k);
        values.push(v);
        const attended = this.attend(q, k, v, mask);
        x = tf.add(x, tf.matMul(tf.reshape(tf.transpose(attended, [0, 2, 1, 3]), [rows * length, D]), layer.wo));
        x = tf.add(x, this.mlp(x, layer));
      }
      const lastRows = tf.slice(tf.reshape(x, [rows, length, D]), [0, length - 1, 0], [rows, 1, D]);
      const final = layerNorm(tf.reshape(lastRows, [rows, D]) as tf.Tensor2D, this.weights.lnFinalGain, this.weights.lnFinalBias);
      return { keys, values, logits: tf.matMul(final, this.weights.output) as tf.Tensor2D } as unknown as tf.TensorContainer;
    }) as unknown as Cache;
  }

  /**
   * The prefill in row chunks whose attention fits ATTENTION_FLOATS, caches joined on the batch
   * axis: the same numbers as one pass, without a [rows x heads x T x T] tensor that runs the
   * wasm heap out (an evaluation of 160 webshop prompts of 460 tokens did).
   */
  private prefillInChunks(padded: number[][], pads: number[], length: number, padMask: tf.Tensor, vectors?: tf.Tensor3D): Cache {
    const P = vectors ? (vectors.shape[1] as number) : 0;
    const size = rowsWithinAttention(P + length, this.config.heads, padded.length);
    if (size >= padded.length) return this.prefill(padded, pads, length, padMask, vectors);
    const parts: Cache[] = [];
    for (let start = 0; start < padded.length; start += size) {
      const count = Math.min(size, padded.length - start);
      const mask = tf.slice(padMask, [start, 0, 0, 0], [count, 1, 1, padMask.shape[3] as number]);
      const own = vectors ? tf.slice(vectors, [start, 0, 0], [count, P, this.config.dim]) : undefined;
      parts.push(this.prefill(padded.slice(start, start + count), pads.slice(start, start + count), length, mask, own));
      mask.dispose();
      own?.dispose();
    }
    const joined: Cache = {
      keys: parts[0]?.keys.map((_, l) => tf.concat(parts.map((p) => p.keys[l] as tf.Tensor4D))) as tf.Tensor4D[],
      values: parts[0]?.values.map((_, l) => tf.concat(parts.map((p) => p.values[l] as tf.Tensor4D))) as tf.Tensor4D[],
      logits: tf.concat(parts.map((p) => p.logits)) as tf.Tensor2D,
    };
    for (const part of parts) disposeCache(part);
    return joined;
  }

  private decodeStep(cache: Cache, next: number[], pads: number[], position: number, padMask: tf.Tensor): Cache {
    return tf.tidy(() => {
      const rows = next.length;
      const { dim: D } = this.config;
      const ids = tf.tensor1d(next, 'int32');
      const positions = tf.tensor1d(
        pads.map((pad) => position - pad),
        'int32',
      );
      let x = tf.add(
        tf.gather(this.weights.tokenEmbedding, ids),
        tf.gather(this.weights.positionEmbedding, positions),
      ) as tf.Tensor2D;
      const length = position + 1;
      const mask = tf.slice(padMask, [0, 0, 0, 0], [rows, 1, 1, length]);
      const keys: tf.Tensor4D[] = [];
      const values: tf.Tensor4D[] = [];
      this.weights.layers.forEach((layer, l) => {
        const h = layerNorm(x, layer.ln1Gain, layer.ln1Bias);
        const q = this.heads(tf.matMul(h, layer.wq), rows, 1);
        const k = tf.concat([cache.keys[l] as tf.Tensor4D, this.heads(tf.matMul(h, layer.wk), rows, 1)], 2);
        const v = tf.concat([cache.values[l] as tf.Tensor4D, this.heads(tf.matMul(h, layer.wv), rows, 1)], 2);
        keys.push(k);
        values.push(v);
        const attended = this.attend(q, k, v, mask);
        x = tf.add(x, tf.matMul(tf.reshape(tf.transpose(attended, [0, 2, 1, 3]), [rows, D]), layer.wo));
        x = tf.add(x, this.mlp(x, layer));
      });
      const final = layerNorm(x, this.weights.lnFinalGain, this.weights.lnFinalBias);
      return { keys, values, logits: tf.matMul(final, this.weights.output) as tf.Tensor2D } as unknown as tf.TensorContainer;
    }) as unknown as Cache;
  }
}

let policyCounter = 0;

interface Cache {
  keys: tf.Tensor4D[];
  values: tf.Tensor4D[];
  logits: tf.Tensor2D;
}

interface Hypothesis {
  tokens: number[];
  logprobs: number[];
  score: number;
}

/** The cache rows of the kept hypotheses, in order (a parent kept twice is copied). */
function reorderCache(cache: Cache, parents: readonly number[]): Cache {
  return tf.tidy(() => {
    const index = tf.tensor1d(parents as number[], 'int32');
    return {
      keys: cache.keys.map((k) => tf.gather(k, index)),
      values: cache.values.map((v) => tf.gather(v, index)),
      logits: tf.gather(cache.logits, index),
    } as unknown as tf.TensorContainer;
  }) as unknown as Cache;
}

function disposeCache(cache: Cache): void {
  tf.dispose([...cache.keys, ...cache.values, cache.logits]);
}

/** x + delta and the layer norm of that sum, fused on the fast wasm kernels (same ops otherwise). */
function addAndNorm(
  x: tf.Tensor2D,
  delta: tf.Tensor2D,
  gain: tf.Tensor,
  bias: tf.Tensor,
): { sum: tf.Tensor2D; normed: tf.Tensor2D } {
  const fused = fusedAddLayerNorm(x, delta, gain, bias, 1e-5);
  if (fused) return fused as { sum: tf.Tensor2D; normed: tf.Tensor2D };
  const sum = tf.add(x, delta) as tf.Tensor2D;
  return { sum, normed: layerNorm(sum, gain, bias) };
}

function layerNorm(x: tf.Tensor2D, gain: tf.Tensor, bias: tf.Tensor): tf.Tensor2D {
  const fused = fusedLayerNorm(x, gain, bias, 1e-5); // undefined unless the fast wasm kernels are active
  if (fused) return fused as tf.Tensor2D;
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), gain), bias);
}

function collect(weights: Weights): tf.Variable[] {
  const out = [weights.tokenEmbedding, weights.positionEmbedding];
  for (const l of weights.layers)
    out.push(l.ln1Gain, l.ln1Bias, l.wq, l.wk, l.wv, l.wo, l.ln2Gain, l.ln2Bias, l.w1, l.b1, l.w2, l.b2);
  out.push(weights.lnFinalGain, weights.lnFinalBias, weights.output);
  if (weights.value) out.push(weights.value);
  return out;
}

export function createPolicy(config: PolicyConfig, rng: Rng): TransformerPolicy {
  return TransformerPolicy.create(config, rng);
}
