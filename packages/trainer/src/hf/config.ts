/**
 * A Hugging Face `config.json` read into the architecture our forward pass runs. Two families:
 * the Llama family (Llama, Mistral, Qwen2/2.5, Qwen3, SmolLM: RMSNorm, rotary positions,
 * SwiGLU, grouped-query attention; transformers' models/llama/modeling_llama.py and its
 * qwen2/qwen3/mistral siblings) and GPT-2 (learned positions, LayerNorm, GELU-new, Conv1D
 * weights; models/gpt2/modeling_gpt2.py). Anything the forward pass would silently get wrong
 * (an unknown rope scaling, another activation, a sliding window it cannot apply) is refused
 * here by name.
 */
import { UsageError } from '@policy-lab/core';

/** The `model_type`s we run, by family. */
export const HF_MODEL_TYPES = { llama: ['llama', 'mistral', 'qwen2', 'qwen3'], gpt2: ['gpt2'] } as const;
export const ACCEPTED_MODEL_TYPES: readonly string[] = [...HF_MODEL_TYPES.llama, ...HF_MODEL_TYPES.gpt2];
/** rope_scaling types applied to the rotary frequencies ('default' means none). */
export const ROPE_SCALING_TYPES = ['default', 'linear', 'llama3'] as const;

export type RopeScaling =
  | { type: 'linear'; factor: number }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositions: number;
    };

export interface HfArchitecture {
  family: 'llama' | 'gpt2';
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  layers: number;
  heads: number;
  /** Key/value heads (grouped-query attention); equal to `heads` without it. */
  kvHeads: number;
  headDim: number;
  intermediateSize: number;
  /** Longest sequence the positions cover (max_position_embeddings / n_positions). */
  maxPositions: number;
  /** RMSNorm eps (Llama family) or LayerNorm eps (GPT-2). */
  normEps: number;
  tieWordEmbeddings: boolean;
  /** Llama family only. */
  ropeTheta: number;
  ropeScaling?: RopeScaling;
  /** Bias on the q, k and v projections (Qwen2 always; Llama's attention_bias). */
  qkvBias: boolean;
  /** Bias on o_proj (Llama's attention_bias). */
  outputBias: boolean;
  /** Bias on gate, up and down projections (Llama's mlp_bias). */
  mlpBias: boolean;
  /** Qwen3: RMSNorm over each head's queries and keys before the rotation. */
  qkNorm: boolean;
  /** Mistral/Qwen2 sliding-window attention: sequences longer than this are refused. */
  slidingWindow?: number;
}

type Json = Record<string, unknown>;

function bad(file: string, key: string, value: unknown, accepted: string): never {
  throw new UsageError(`${file}: ${key} ${JSON.stringify(value)} is not supported (accepted: ${accepted})`);
}

function positiveInteger(config: Json, file: string, key: string, fallback?: number): number {
  const value = config[key] ?? fallback;
  if (!(Number.isInteger(value) && (value as number) > 0)) {
    if (value === undefined) throw new UsageError(`${file}: ${key} is missing (a positive integer is needed)`);
    bad(file, key, value, 'a positive integer');
  }
  return value as number;
}

function positiveNumber(config: Json, file: string, key: string, fallback: number): number {
  const value = config[key] ?? fallback;
  if (!(typeof value === 'number' && value > 0)) bad(file, key, value, 'a positive number');
  return value;
}

function flag(config: Json, file: string, key: string, fallback: boolean): boolean {
  const value = config[key] ?? fallback;
  if (typeof value !== 'boolean') bad(file, key, value, 'true or false');
  return value;
}

/** Parses a config.json object; `file` names it in errors. */
export function parseHfConfig(config: unknown, file = 'config.json'): HfArchitecture {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new UsageError(`${file}: not a JSON object`);
  const json = config as Json;
  const modelType = json.model_type;
  if ((HF_MODEL_TYPES.gpt2 as readonly unknown[]).includes(modelType)) return parseGpt2(json, file);
  if ((HF_MODEL_TYPES.llama as readonly unknown[]).includes(modelType)) return parseLlama(json, file, modelType as string);
  throw new UsageError(
    `${file}: model_type ${JSON.stringify(modelType)} is not supported (accepted: ${ACCEPTED_MODEL_TYPES.join(', ')})`,
  );
}

function parseLlama(json: Json, file: string, modelType: string): HfArchitecture {
  const hiddenSize = positiveInteger(json, file, 'hidden_size');
  const heads = positiveInteger(json, file, 'num_attention_heads');
  const kvHeads = positiveInteger(json, file, 'num_key_value_heads', heads);
  if (heads % kvHeads !== 0) bad(file, 'num_key_value_heads', kvHeads, `a divisor of num_attention_heads (${heads})`);
  const defaultHeadDim = hiddenSize / heads;
  const headDim = positiveInteger(json, file, 'head_dim', Number.isInteger(defaultHeadDim) ? defaultHeadDim : undefined);
  if (headDim % 2 !== 0) bad(file, 'head_dim', headDim, 'an even number (rotary positions rotate pairs)');
  const activation = json.hidden_act ?? 'silu';
  if (activation !== 'silu') bad(file, 'hidden_act', activation, 'silu');
  const partial = json.partial_rotary_factor ?? 1;
  if (partial !== 1) bad(file, 'partial_rotary_factor', partial, '1');
  const attentionBias = flag(json, file, 'attention_bias', false);
  const maxPositions = positiveInteger(json, file, 'max_position_embeddings');
  const useSlidingWindow = json.use_sliding_window;
  const window = json.sliding_window;
  // Qwen2 ships a sliding_window with use_sliding_window false; Mistral's null means full attention.
  const slidingWindow =
    useSlidingWindow === false || window === null || window === undefined
      ? undefined
      : positiveInteger(json, file, 'sliding_window');
  const ropeScaling = parseRopeScaling(json.rope_scaling, file);
  return {
    family: 'llama',
    modelType,
    vocabSize: positiveInteger(json, file, 'vocab_size'),
    hiddenSize,
    layers: positiveInteger(json, file, 'num_hidden_layers'),
    heads,
    kvHeads,
    headDim,
    intermediateSize: positiveInteger(json, file, 'intermediate_size'),
    maxPositions,
    normEps: positiveNumber(json, file, 'rms_norm_eps', 1e-6),
    tieWordEmbeddings: flag(json, file, 'tie_word_embeddings', false),
    ropeTheta: positiveNumber(json, file, 'rope_theta', 10000),
    ...(ropeScaling ? { ropeScaling } : {}),
    qkvBias: modelType === 'qwen2' || attentionBias,
    outputBias: modelType !== 'qwen2' && attentionBias,
    mlpBias: flag(json, file, 'mlp_bias', false),
    qkNorm: modelType === 'qwen3',
    ...(slidingWindow !== undefined && slidingWindow < maxPositions ? { slidingWindow } : {}),
  };
}

function parseRopeScaling(value: unknown, file: string): RopeScaling | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) bad(file, 'rope_scaling', value, 'null or an object');
  const scaling = value as Json;
  // transformers reads rope_type, and type in older configs.
  const type = scaling.rope_type ?? scaling.type;
  const where = `${file} rope_scaling`;
  if (type === 'default') return undefined;
  if (type === 'linear') return { type, factor: positiveNumber(scaling, where, 'factor', Number.NaN) };
  if (type === 'llama3') {
    const lowFreqFactor = positiveNumber(scaling, where, 'low_freq_factor', Number.NaN);
    const highFreqFactor = positiveNumber(scaling, where, 'high_freq_factor', Number.NaN);
    if (!(highFreqFactor > lowFreqFactor))
      bad(where, 'high_freq_factor', highFreqFactor, `a number above low_freq_factor (${lowFreqFactor})`);
    return {
      type,
      factor: positiveNumber(scaling, where, 'factor', Number.NaN),
      lowFreqFactor,
      highFreqFactor,
      originalMaxPositions: positiveInteger(scaling, where, 'original_max_position_embeddings'),
    };
  }
  throw new UsageError(
    `${file}: rope_scaling type ${JSON.stringify(type)} is not supported (accepted: ${ROPE_SCALING_TYPES.join(', ')})`,
  );
}

function parseGpt2(json: Json, file: string): HfArchitecture {
  const hiddenSize = positiveInteger(json, file, 'n_embd');
  const heads = positiveInteger(json, file, 'n_head');
  if (hiddenSize % heads !== 0) bad(file, 'n_head', heads, `a divisor of n_embd (${hiddenSize})`);
  const activation = json.activation_function ?? 'gelu_new';
  if (activation !== 'gelu_new' && activation !== 'gelu_pytorch_tanh')
    bad(file, 'activation_function', activation, 'gelu_new, gelu_pytorch_tanh');
  for (const key of ['scale_attn_by_inverse_layer_idx', 'add_cross_attention']) {
    if (json[key] === true) bad(file, key, true, 'false');
  }
  if (json.scale_attn_weights === false) bad(file, 'scale_attn_weights', false, 'true');
  const inner = json.n_inner ?? null;
  return {
    family: 'gpt2',
    modelType: 'gpt2',
    vocabSize: positiveInteger(json, file, 'vocab_size'),
    hiddenSize,
    layers: positiveInteger(json, file, 'n_layer'),
    heads,
    kvHeads: heads,
    headDim: hiddenSize / heads,
    intermediateSize: inner === null ? 4 * hiddenSize : positiveInteger(json, file, 'n_inner'),
    maxPositions: positiveInteger(json, file, 'n_positions'),
    normEps: positiveNumber(json, file, 'layer_norm_epsilon', 1e-5),
    tieWordEmbeddings: flag(json, file, 'tie_word_embeddings', true),
    ropeTheta: 0,
    qkvBias: true,
    outputBias: true,
    mlpBias: true,
    qkNorm: false,
  };
}

/**
 * Inverse rotary frequencies theta^(-2i/d), i < d/2, after the config's scaling: linear divides
 * every frequency by the factor; llama3 (transformers' _compute_llama3_parameters, from Meta's
 * Llama 3.1 release) divides the low frequencies, keeps the high ones and blends in between.
 */
export function rotaryFrequencies(architecture: HfArchitecture): Float64Array {
  const { headDim, ropeTheta, ropeScaling } = architecture;
  const half = headDim / 2;
  const out = new Float64Array(half);
  for (let i = 0; i < half; i++) out[i] = 1 / ropeTheta ** ((2 * i) / headDim);
  if (!ropeScaling) return out;
  if (ropeScaling.type === 'linear') return out.map((f) => f / ropeScaling.factor);
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositions } = ropeScaling;
  const lowFreqWavelength = originalMaxPositions / lowFreqFactor;
  const highFreqWavelength = originalMaxPositions / highFreqFactor;
  return out.map((frequency) => {
    const wavelength = (2 * Math.PI) / frequency;
    if (wavelength < highFreqWavelength) return frequency;
    if (wavelength > lowFreqWavelength) return frequency / factor;
    const smooth = (originalMaxPositions / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    return (1 - smooth) * (frequency / factor) + smooth * frequency;
  });
}
