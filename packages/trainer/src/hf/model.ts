/**
 * A pretrained causal language model from a Hugging Face folder, on TensorFlow.js: the Llama
 * family and GPT-2 (see config.ts), a full teacher-forced forward (differentiable: the
 * optimizer trains `variables`), and KV-cache decoding whose logits equal the full forward's.
 * The arithmetic follows transformers' modeling_llama.py / modeling_qwen3.py / modeling_gpt2.py:
 * RMSNorm x * rsqrt(mean(x^2) + eps) * w; rotary positions as rotate_half (the two halves of a
 * head, not interleaved pairs); repeat_kv's head grouping (query head h reads key/value head
 * floor(h / (heads / kvHeads))); GELU-new's tanh approximation.
 *
 * Written for tfjs-wasm's fast paths: nn.Linear weights held transposed ([in, out]) so each
 * projection is a plain matMul; embeddings are a gather whose gradient is a scatter-add
 * (gather's own gradient, UnsortedSegmentSum, has no wasm kernel, and a one-hot matMul would be
 * [tokens, vocab] wide: 150k columns for Qwen); rotate_half is a matMul by a fixed signed permutation (tf.split is
 * slow); grouped-query attention folds the query heads of a group into the row axis instead of
 * copying keys and values.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Rng, UsageError } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { encodeSafetensors, type NamedTensor, writeFileAtomic } from '../checkpoint/safetensors.js';
import type { GenerateOptions, Generation } from '../model/policy.js';
import { drawTokens } from '../model/sampling.js';
import { type HfArchitecture, parseHfConfig, rotaryFrequencies } from './config.js';
import { INDEX_FILE, readHfTensors, SINGLE_FILE, storedName, type TensorSpec, tensorSpecs } from './weights.js';

const NEG_INF = -1e9;

/** What the model asks of attached LoRA adapters (lora.ts). */
export interface LowRankAdapters {
  readonly variables: readonly tf.Variable[];
  /** The low-rank update of projection `name` (a tensor spec name without `.weight`) on x, if adapted. */
  update(x: tf.Tensor2D, name: string): tf.Tensor2D | undefined;
  dispose(): void;
}

/** Files of a model folder that are not weights, copied beside a saved checkpoint. */
const COMPANION_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'generation_config.json',
  'vocab.json',
  'merges.txt',
  'chat_template.jinja',
];

/** Keys and values of every layer ([rows, kvHeads, length, headDim]) and the last position's logits. */
export interface HfCache {
  keys: tf.Tensor4D[];
  values: tf.Tensor4D[];
  /** [rows, vocab] next-token logits after the last position. */
  logits: tf.Tensor2D;
  /** Left padding of each row. */
  pads: number[];
  /** Positions held, padding included. */
  length: number;
}

export interface HfGenerateOptions {
  maxNewTokens: number;
  stopTokens?: readonly number[];
  /** Argmax decoding; otherwise sampling at `temperature` from `rng`. */
  greedy?: boolean;
  temperature?: number;
  rng?: Rng;
}

let modelCounter = 0;

export class HfCausalLM {
  /** The model's own weights in tensorSpecs order (frozen while LoRA adapters are attached). */
  readonly baseVariables: tf.Variable[];
  private adapters: LowRankAdapters | undefined;
  private readonly weights: Map<string, tf.Variable>;
  private readonly rotate?: tf.Tensor2D;
  private readonly frequencies?: Float64Array;

  private constructor(
    readonly architecture: HfArchitecture,
    /** config.json as read (saved back with the weights). */
    readonly config: Record<string, unknown>,
    private readonly specs: TensorSpec[],
    /** Stored tensors (transposed here where nn.Linear), or another model's variables to copy as they are. */
    tensors: Map<string, NamedTensor | tf.Tensor>,
    /** GPT-2's trunk prefix in the source file ('transformer.' or ''), kept on save. */
    private readonly prefix: string,
    /** The folder loaded from, whose tokenizer files a save copies. */
    readonly source?: string,
  ) {
    const id = modelCounter++;
    this.weights = new Map();
    this.baseVariables = specs.map((spec) => {
      const tensor = tensors.get(spec.name) as NamedTensor | tf.Tensor;
      if (tensor instanceof tf.Tensor) {
        const variable = tf.variable(tensor, true, `hf${id}/${spec.name}`);
        this.weights.set(spec.name, variable);
        return variable;
      }
      const variable = tf.tidy(() => {
        const stored = tf.tensor(tensor.data, tensor.shape);
        return tf.variable(spec.layout === 'linear' ? tf.transpose(stored) : stored, true, `hf${id}/${spec.name}`);
      });
      this.weights.set(spec.name, variable);
      return variable;
    });
    if (architecture.family === 'llama') {
      this.frequencies = rotaryFrequencies(architecture);
      this.rotate = tf.keep(rotateHalfMatrix(architecture.headDim));
    }
  }

  /** Reads config.json and the safetensors weights of a Hugging Face model folder. */
  static load(folder: string): HfCausalLM {
    const file = path.join(folder, 'config.json');
    let config: unknown;
    try {
      config = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new UsageError(`${file}: cannot read the model's config (${(error as Error).message})`);
    }
    const architecture = parseHfConfig(config, file);
    const { tensors, prefix } = readHfTensors(folder, architecture);
    return new HfCausalLM(architecture, config as Record<string, unknown>, tensorSpecs(architecture), tensors, prefix, folder);
  }

  /**
   * A model from a config.json object and tensors under their transformers names and stored
   * layout, as a checkpoint file holds them (GPT-2's with or without the `transformer.` prefix).
   */
  static fromTensors(config: Record<string, unknown>, tensors: Readonly<Record<string, NamedTensor>>): HfCausalLM {
    const architecture = parseHfConfig(config);
    const specs = tensorSpecs(architecture);
    const bare = architecture.family === 'gpt2' && !('transformer.wte.weight' in tensors) && 'wte.weight' in tensors;
    const prefix = architecture.family === 'gpt2' && !bare ? 'transformer.' : '';
    const bySpec = new Map<string, NamedTensor>();
    for (const spec of specs) {
      const name = storedName(spec, prefix);
      const tensor = tensors[name];
      if (!tensor) throw new UsageError(`tensor '${name}' is missing (${architecture.modelType} with this config needs it)`);
      if (tensor.shape.join(',') !== spec.shape.join(','))
        throw new UsageError(
          `tensor '${name}' has shape [${tensor.shape.join(', ')}], the config implies [${spec.shape.join(', ')}]`,
        );
      bySpec.set(spec.name, tensor);
    }
    return new HfCausalLM(architecture, config, specs, bySpec, prefix);
  }

  /** The weights under their transformers names, in the stored layout (nn.Linear back to [out, in]). */
  async tensors(): Promise<Record<string, NamedTensor>> {
    const out: Record<string, NamedTensor> = {};
    for (const spec of this.specs) {
      const variable = this.weights.get(spec.name) as tf.Variable;
      const stored = spec.layout === 'linear' ? tf.transpose(variable) : variable;
      out[storedName(spec, this.prefix)] = { shape: spec.shape, data: (await stored.data()) as Float32Array };
      if (stored !== variable) stored.dispose();
    }
    return out;
  }

  /**
   * Writes config.json and model.safetensors (float32, transformers' names and layout, metadata
   * format=pt as save_pretrained writes it) into `folder`, and copies the tokenizer files of the
   * folder it was loaded from. A folder holding a sharded checkpoint is refused (its index would
   * shadow the new file).
   */
  async save(folder: string): Promise<void> {
    mkdirSync(folder, { recursive: true });
    const stale = readdirSync(folder).filter((name) => name === INDEX_FILE || /^model-\d+-of-\d+\.safetensors$/.test(name));
    if (stale.length > 0)
      throw new UsageError(`${folder}: holds a sharded checkpoint (${stale.join(', ')}); save into an empty folder`);
    const bytes = encodeSafetensors(await this.tensors(), { format: 'pt' });
    writeFileAtomic(path.join(folder, SINGLE_FILE), bytes);
    writeFileAtomic(path.join(folder, 'config.json'), `${JSON.stringify({ ...this.config, torch_dtype: 'float32' }, null, 2)}\n`);
    if (this.source && path.resolve(this.source) !== path.resolve(folder)) {
      for (const name of COMPANION_FILES) {
        const from = path.join(this.source, name);
        if (existsSync(from)) writeFileAtomic(path.join(folder, name), readFileSync(from));
      }
    }
  }

  /** What the optimizer trains: the attached adapters' weights, else every weight of the model. */
  get variables(): tf.Variable[] {
    return this.adapters ? [...this.adapters.variables] : this.baseVariables;
  }

  /** The tensor specs, in baseVariables order. */
  get tensorSpecs(): readonly TensorSpec[] {
    return this.specs;
  }

  /** The `transformer.` prefix GPT-2's names carry in this model's files ('' when they carry none, and for the Llama family). */
  get namePrefix(): string {
    return this.prefix;
  }

  /** The attached LoRA adapters, if any. */
  get attachedAdapters(): LowRankAdapters | undefined {
    return this.adapters;
  }

  /**
   * The model without its adapters, on the same weight variables (nothing copied): under LoRA the
   * frozen base, which is the reference policy for free. Disposing the model disposes it too.
   */
  baseView(): HfCausalLM {
    const view = Object.create(this) as HfCausalLM;
    view.adapters = undefined;
    return view;
  }

  /** A copy of the base weights (adapters left out) as new variables, not trainable: a frozen reference. */
  frozenCopy(): HfCausalLM {
    const copies = new Map<string, tf.Tensor>(this.specs.map((spec) => [spec.name, this.weight(spec.name)]));
    const copy = new HfCausalLM(this.architecture, this.config, this.specs, copies, this.prefix, this.source);
    for (const variable of copy.baseVariables) variable.trainable = false;
    return copy;
  }

  /** Adds `adapters`' low-rank updates to their projections and freezes the base weights. */
  attachAdapters(adapters: LowRankAdapters): void {
    if (this.adapters) throw new UsageError('this model already has LoRA adapters attached');
    this.adapters = adapters;
    for (const variable of this.baseVariables) variable.trainable = false;
  }

  dispose(): void {
    tf.dispose(this.baseVariables);
    this.adapters?.dispose();
    this.rotate?.dispose();
  }

  // -------------------------------------------------------------------------------------
  // Teacher forcing

  /**
   * Next-token logits [rows, T, vocab] of right-padded int32 ids [rows, T] (positions 0..T-1 in
   * every row); differentiable in `variables`.
   */
  logits(ids: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const [rows, T] = ids.shape;
      const V = this.architecture.vocabSize;
      const embedded = embedRows(this.weight(this.embeddingName()), tf.reshape(ids, [-1]) as tf.Tensor1D);
      const positions = Array.from({ length: rows }, () => Array.from({ length: T }, (_, t) => t));
      const mask = this.attentionMask(T, T, [0], 0);
      const { hidden } = this.trunk(embedded as tf.Tensor2D, rows, T, positions, mask);
      return tf.reshape(this.head(hidden), [rows, T, V]) as tf.Tensor3D;
    });
  }

  /** log p(target | inputs up to t), [rows, T], for right-padded int32 inputs and targets. */
  score(inputs: tf.Tensor2D, targets: tf.Tensor2D): { logprobs: tf.Tensor2D } {
    return tf.tidy(() => {
      const [rows, T] = inputs.shape;
      const V = this.architecture.vocabSize;
      const logProbs = tf.logSoftmax(tf.reshape(this.logits(inputs), [rows * T, V]));
      const picked = tf.sum(tf.mul(logProbs, tf.oneHot(tf.reshape(targets, [-1]), V)), -1);
      return { logprobs: tf.reshape(picked, [rows, T]) as tf.Tensor2D };
    });
  }

  // -------------------------------------------------------------------------------------
  // KV-cache decoding

  /** The cache of left-padded prompts (positions start at 0 on each row's first token). */
  prefill(prompts: readonly (readonly number[])[]): HfCache {
    const rows = prompts.length;
    const longest = Math.max(0, ...prompts.map((p) => p.length));
    if (rows === 0 || prompts.some((p) => p.length === 0)) throw new RangeError('prefill: every prompt needs at least one token');
    const pads = prompts.map((p) => longest - p.length);
    return tf.tidy(() => {
      const ids = tf.tensor2d(
        prompts.map((p, r) => [...new Array(pads[r]).fill(0), ...p]),
        [rows, longest],
        'int32',
      );
      const embedded = embedRows(this.weight(this.embeddingName()), tf.reshape(ids, [-1]) as tf.Tensor1D);
      const positions = pads.map((pad) => Array.from({ length: longest }, (_, s) => Math.max(0, s - pad)));
      const mask = this.attentionMask(longest, longest, pads, 0);
      const { hidden, keys, values } = this.trunk(embedded, rows, longest, positions, mask);
      const last = tf.reshape(tf.slice(tf.reshape(hidden, [rows, longest, -1]), [0, longest - 1, 0], [rows, 1, -1]), [rows, -1]);
      return { keys, values, logits: this.head(last as tf.Tensor2D), pads, length: longest } as unknown as tf.TensorContainer;
    }) as unknown as HfCache;
  }

  /** The cache after one more token per row (the old cache is left to the caller to dispose). */
  decode(cache: HfCache, tokens: readonly number[]): HfCache {
    const rows = tokens.length;
    if (rows !== cache.pads.length) throw new RangeError(`decode: ${rows} tokens for a cache of ${cache.pads.length} rows`);
    const length = cache.length + 1;
    return tf.tidy(() => {
      const embedded = embedRows(this.weight(this.embeddingName()), tf.tensor1d(tokens as number[], 'int32'));
      const positions = cache.pads.map((pad) => [cache.length - pad]);
      const mask = this.attentionMask(1, length, cache.pads, cache.length);
      const { hidden, keys, values } = this.trunk(embedded, rows, 1, positions, mask, cache);
      return { keys, values, logits: this.head(hidden), pads: cache.pads, length } as unknown as tf.TensorContainer;
    }) as unknown as HfCache;
  }

  /** Greedy or sampled continuations through the KV cache, each ending at a stop token or the limit. */
  async generate(prompts: readonly (readonly number[])[], options: HfGenerateOptions): Promise<number[][]> {
    if (!options.greedy && !options.rng) throw new RangeError('generate: sampling needs an rng (or greedy: true)');
    const { tokens } = await this.draw(prompts, {
      maxNewTokens: options.maxNewTokens,
      stopTokens: options.stopTokens ?? [],
      greedy: options.greedy ?? false,
      temperature: options.temperature ?? 1,
      rng: options.rng ?? Rng.seeded(0),
    });
    return tokens;
  }

  /** The policy's sampling (samplers' hooks, top-k, top-p, recorded log-probabilities) through the KV cache. */
  async draw(prompts: readonly (readonly number[])[], options: GenerateOptions): Promise<Generation> {
    if (prompts.length === 0) return { tokens: [], logprobs: [], truncated: [] };
    let cache = this.prefill(prompts);
    try {
      return await drawTokens(prompts, options, this.architecture.vocabSize, options.maxNewTokens, {
        first: cache.logits,
        advance: (next) => {
          const advanced = this.decode(cache, next);
          disposeCache(cache);
          cache = advanced;
          return cache.logits;
        },
      });
    } finally {
      disposeCache(cache);
    }
  }

  // -------------------------------------------------------------------------------------
  // The trunk

  private weight(name: string): tf.Variable {
    const variable = this.weights.get(name);
    if (!variable) throw new Error(`internal: no weight '${name}'`);
    return variable;
  }

  private embeddingName(): string {
    return this.architecture.family === 'gpt2' ? 'wte.weight' : 'model.embed_tokens.weight';
  }

  /**
   * Additive attention mask [pads.length, 1, groupSize * S, Tk] (one row broadcasts to all):
   * query s of a row (index `offset` + s of the cache) sees keys up to itself, never the row's
   * left padding. The query heads of one key/value group are folded into the query axis (see
   * attend), hence the repeat.
   */
  private attentionMask(S: number, Tk: number, pads: readonly number[], offset: number): tf.Tensor4D {
    const group = this.architecture.heads / this.architecture.kvHeads;
    const maskRows = pads.length;
    const values = new Float32Array(maskRows * group * S * Tk);
    for (let r = 0; r < maskRows; r++) {
      const pad = pads[r] ?? 0;
      for (let g = 0; g < group; g++)
        for (let s = 0; s < S; s++) {
          const base = ((r * group + g) * S + s) * Tk;
          for (let k = 0; k < Tk; k++) if (k > offset + s || k < pad) values[base + k] = NEG_INF;
        }
    }
    return tf.tensor4d(values, [maskRows, 1, group * S, Tk]);
  }

  /** Hidden states [rows*S, D] after the final norm, and every layer's keys and values (past included). */
  private trunk(
    embedded: tf.Tensor2D,
    rows: number,
    S: number,
    positions: readonly (readonly number[])[],
    mask: tf.Tensor4D,
    past?: HfCache,
  ): { hidden: tf.Tensor2D; keys: tf.Tensor4D[]; values: tf.Tensor4D[] } {
    const a = this.architecture;
    const furthest = Math.max(...positions.map((p) => p.at(-1) ?? 0));
    if (furthest >= a.maxPositions)
      throw new RangeError(`position ${furthest} is past the model's ${a.maxPositions} positions (max_position_embeddings)`);
    const span = (past?.length ?? 0) + S;
    if (a.slidingWindow !== undefined && span > a.slidingWindow)
      throw new UsageError(
        `${span} positions exceed config.json's sliding_window ${a.slidingWindow}; sliding-window attention is not built (accepted: sequences up to ${a.slidingWindow})`,
      );
    const keys: tf.Tensor4D[] = [];
    const values: tf.Tensor4D[] = [];
    let x = embedded;
    if (a.family === 'gpt2') {
      const table = this.weight('wpe.weight');
      const ids = tf.tensor1d(positions.flat() as number[], 'int32');
      // A slice when every row reads 0..S-1 (the training forward): gather has no wasm gradient.
      const uniform = positions.every((p) => p.every((value, s) => value === s));
      const learned = uniform ? tf.tile(tf.slice(table, [0, 0], [S, a.hiddenSize]), [rows, 1]) : tf.gather(table, ids);
      x = tf.add(x, learned);
      for (let l = 0; l < a.layers; l++) {
        const p = `h.${l}`;
        const h = this.layerNorm(x, `${p}.ln_1`);
        const qkv = this.linear(h, `${p}.attn.c_attn`, true);
        const D = a.hiddenSize;
        const part = (i: number) => tf.slice(qkv, [0, i * D], [rows * S, D]) as tf.Tensor2D;
        const attended = this.attend(part(0), part(1), part(2), rows, S, mask, l, past, keys, values);
        x = tf.add(x, this.linear(attended, `${p}.attn.c_proj`, true));
        const inner = geluNew(this.linear(this.layerNorm(x, `${p}.ln_2`), `${p}.mlp.c_fc`, true));
        x = tf.add(x, this.linear(inner, `${p}.mlp.c_proj`, true));
      }
      return { hidden: this.layerNorm(x, 'ln_f'), keys, values };
    }
    const { cos, sin } = this.rotaryTables(positions);
    for (let l = 0; l < a.layers; l++) {
      const p = `model.layers.${l}`;
      const h = this.rmsNorm(x, `${p}.input_layernorm.weight`);
      let q = this.linear(h, `${p}.self_attn.q_proj`, a.qkvBias);
      let k = this.linear(h, `${p}.self_attn.k_proj`, a.qkvBias);
      const v = this.linear(h, `${p}.self_attn.v_proj`, a.qkvBias);
      q = this.rotary(q, a.heads, cos, sin, a.qkNorm ? `${p}.self_attn.q_norm.weight` : undefined);
      k = this.rotary(k, a.kvHeads, cos, sin, a.qkNorm ? `${p}.self_attn.k_norm.weight` : undefined);
      const attended = this.attend(q, k, v, rows, S, mask, l, past, keys, values);
      x = tf.add(x, this.linear(attended, `${p}.self_attn.o_proj`, a.outputBias));
      const normed = this.rmsNorm(x, `${p}.post_attention_layernorm.weight`);
      const gate = this.linear(normed, `${p}.mlp.gate_proj`, a.mlpBias);
      const up = this.linear(normed, `${p}.mlp.up_proj`, a.mlpBias);
      x = tf.add(x, this.linear(tf.mul(tf.mul(gate, tf.sigmoid(gate)), up) as tf.Tensor2D, `${p}.mlp.down_proj`, a.mlpBias));
    }
    return { hidden: this.rmsNorm(x, 'model.norm.weight'), keys, values };
  }

  /** Logits [N, vocab] of final hidden states [N, D]: the tied embedding or lm_head. */
  private head(hidden: tf.Tensor2D): tf.Tensor2D {
    if (this.architecture.tieWordEmbeddings) return tf.matMul(hidden, this.weight(this.embeddingName()), false, true);
    return tf.matMul(hidden, this.weight('lm_head.weight'));
  }

  private linear(x: tf.Tensor2D, name: string, bias: boolean): tf.Tensor2D {
    let y = tf.matMul(x, this.weight(`${name}.weight`)) as tf.Tensor2D;
    const update = this.adapters?.update(x, name);
    if (update) y = tf.add(y, update);
    return bias ? (tf.add(y, this.weight(`${name}.bias`)) as tf.Tensor2D) : y;
  }

  private layerNorm(x: tf.Tensor2D, name: string): tf.Tensor2D {
    const { mean, variance } = tf.moments(x, -1, true);
    const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.architecture.normEps)));
    return tf.add(tf.mul(normed, this.weight(`${name}.weight`)), this.weight(`${name}.bias`));
  }

  private rmsNorm<T extends tf.Tensor>(x: T, name: string): T {
    const meanSquare = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, this.architecture.normEps))), this.weight(name)) as T;
  }

  /** cos and sin [rows*S, 1, headDim] of each row's positions (rotate_half's duplicated halves). */
  private rotaryTables(positions: readonly (readonly number[])[]): { cos: tf.Tensor3D; sin: tf.Tensor3D } {
    const frequencies = this.frequencies as Float64Array;
    const dh = this.architecture.headDim;
    const half = dh / 2;
    const flat = positions.flat();
    const cos = new Float32Array(flat.length * dh);
    const sin = new Float32Array(flat.length * dh);
    flat.forEach((position, i) => {
      for (let j = 0; j < dh; j++) {
        // transformers multiplies in float32: round the angle as it does.
        const angle = Math.fround(position * Math.fround(frequencies[j % half] as number));
        cos[i * dh + j] = Math.cos(angle);
        sin[i * dh + j] = Math.sin(angle);
      }
    });
    return { cos: tf.tensor3d(cos, [flat.length, 1, dh]), sin: tf.tensor3d(sin, [flat.length, 1, dh]) };
  }

  /** Rotary positions on projections [N, heads*dh] (after Qwen3's per-head RMSNorm when named). */
  private rotary(x: tf.Tensor2D, heads: number, cos: tf.Tensor3D, sin: tf.Tensor3D, norm?: string): tf.Tensor2D {
    const dh = this.architecture.headDim;
    const N = x.shape[0];
    let perHead = tf.reshape(x, [N, heads, dh]) as tf.Tensor3D;
    if (norm) perHead = this.rmsNorm(perHead, norm);
    const rotated = tf.reshape(tf.matMul(tf.reshape(perHead, [N * heads, dh]) as tf.Tensor2D, this.rotate as tf.Tensor2D), [
      N,
      heads,
      dh,
    ]);
    return tf.reshape(tf.add(tf.mul(perHead, cos), tf.mul(rotated, sin)), [N, heads * dh]) as tf.Tensor2D;
  }

  /**
   * Softmax attention of q [rows*S, heads*dh] over this step's k, v [rows*S, kvHeads*dh] after
   * the cached ones; pushes the layer's full keys and values, returns [rows*S, heads*dh].
   * The `heads / kvHeads` query heads of a group are folded into the query axis, so one batched
   * matMul per group reads its keys once (repeat_kv's result without the copy).
   */
  private attend(
    q: tf.Tensor2D,
    k: tf.Tensor2D,
    v: tf.Tensor2D,
    rows: number,
    S: number,
    mask: tf.Tensor4D,
    layer: number,
    past: HfCache | undefined,
    keys: tf.Tensor4D[],
    values: tf.Tensor4D[],
  ): tf.Tensor2D {
    const { heads: H, kvHeads: KV, headDim: dh } = this.architecture;
    const group = H / KV;
    const split = (x: tf.Tensor2D, n: number) => tf.transpose(tf.reshape(x, [rows, S, n, dh]), [0, 2, 1, 3]) as tf.Tensor4D;
    let keysNow = split(k, KV);
    let valuesNow = split(v, KV);
    if (past) {
      keysNow = tf.concat([past.keys[layer] as tf.Tensor4D, keysNow], 2);
      valuesNow = tf.concat([past.values[layer] as tf.Tensor4D, valuesNow], 2);
    }
    keys.push(keysNow);
    values.push(valuesNow);
    const queries = tf.reshape(split(q, H), [rows, KV, group * S, dh]);
    const scores = tf.add(tf.mul(tf.matMul(queries, keysNow, false, true), 1 / Math.sqrt(dh)), mask);
    const attended = tf.reshape(tf.matMul(tf.softmax(scores), valuesNow), [rows, H, S, dh]);
    return tf.reshape(tf.transpose(attended, [0, 2, 1, 3]), [rows * S, H * dh]) as tf.Tensor2D;
  }
}

/**
 * Rows `ids` [N] of `table` [V, D]. The gradient is a scatter-add of the rows' gradients into a
 * [V, D] table (ScatterNd sums repeated ids), which every backend has.
 */
function embedRows(table: tf.Tensor, ids: tf.Tensor1D): tf.Tensor2D {
  const lookup = tf.customGrad(((t: tf.Tensor, save: tf.GradSaveFunc) => {
    save([ids]);
    return {
      value: tf.gather(t, ids),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.scatterND(tf.expandDims(saved[0] as tf.Tensor, 1), dy, t.shape),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return lookup(table) as tf.Tensor2D;
}

/** R with (x R) = rotate_half(x) = concat(-x[half:], x[:half]). */
function rotateHalfMatrix(dh: number): tf.Tensor2D {
  const half = dh / 2;
  const values = new Float32Array(dh * dh);
  for (let j = 0; j < half; j++) {
    values[(j + half) * dh + j] = -1;
    values[j * dh + j + half] = 1;
  }
  return tf.tensor2d(values, [dh, dh]);
}

/** GPT-2's gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
function geluNew(x: tf.Tensor2D): tf.Tensor2D {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

export function disposeCache(cache: HfCache): void {
  tf.dispose([...cache.keys, ...cache.values, cache.logits]);
}

/** Loads a Hugging Face model folder (config.json + safetensors). */
export function loadHfModel(folder: string): HfCausalLM {
  return HfCausalLM.load(folder);
}
