/**
 * What a Hugging Face model needs in memory on our forward, before it starts: float32 weights,
 * gradients and Adam's two moments when training, the KV cache of generation, and the tensors
 * the gradient tape keeps for the backward pass. The activation counts are read off the ops of
 * HfCausalLM's forward (model.ts), not measured: an estimate that errs on the large side.
 */
import type { HfArchitecture } from './config.js';
import { tensorSpecs } from './weights.js';

/** tfjs-backend-wasm's heap: its binaries declare at most 65536 pages of 64 KiB (wasm32). */
export const WASM_HEAP_BYTES = 65536 * 65536;

const FLOAT = 4;

export interface HfMemoryPlan {
  /** Sequences processed together (rollouts in a generation batch, rows in an update). */
  rows: number;
  /** Tokens per sequence (prompt + generated). */
  sequenceLength: number;
  /** Training with Adam (gradients and two moments per trained weight); false: generation only. */
  training: boolean;
  /** Parameters trained (LoRA's adapters); every parameter of the model when absent (full fine-tuning). */
  trainedParameters?: number;
}

export interface HfMemoryEstimate {
  parameters: number;
  bytes: {
    weights: number;
    gradients: number;
    optimizer: number;
    /** Keys and values of every layer for `rows` sequences of `sequenceLength`. */
    kvCache: number;
    /** The tape of one training forward (or one layer's transient tensors without training). */
    activations: number;
    /** weights + gradients + optimizer + the larger of the KV cache and the activations (generation and update take turns). */
    total: number;
  };
}

/** Parameters of the architecture (every tensor tensorSpecs lists; a tied head counted once). */
export function parameterCount(architecture: HfArchitecture): number {
  return tensorSpecs(architecture).reduce((total, spec) => total + spec.shape.reduce((a, b) => a * b, 1), 0);
}

export function estimateHfMemory(architecture: HfArchitecture, plan: HfMemoryPlan): HfMemoryEstimate {
  const { rows, sequenceLength: T, training } = plan;
  const a = architecture;
  const D = a.hiddenSize;
  const F = a.intermediateSize;
  const V = a.vocabSize;
  const queryWidth = a.heads * a.headDim;
  const kvWidth = a.kvHeads * a.headDim;
  const parameters = parameterCount(a);
  const weights = parameters * FLOAT;
  const kvCache = rows * a.layers * 2 * kvWidth * T * FLOAT;
  // Per token and layer, the forward's outputs the tape keeps: the residual stream and its norms
  // (about 6 D), q, k, v before and after the rotation (2 q + 4 kv widths), the attended heads and
  // their transposes (2 q widths), the MLP's gate, up, sigmoid, SiLU and product (5 F; GPT-2's
  // c_fc and GELU-new's pieces are about as many), and the attention scores, masked scores and
  // probabilities (3 heads x T).
  const perTokenLayer = 6 * D + 4 * queryWidth + 4 * kvWidth + 5 * F + 3 * a.heads * T;
  // Per token outside the layers: the logits, log-softmax and one-hot targets of the loss (3 V;
  // the embedding is a gather).
  const perToken = a.layers * perTokenLayer + 3 * V + 2 * D;
  const activations = training ? rows * T * perToken * FLOAT : rows * T * (perTokenLayer + 2 * D) * FLOAT;
  const trained = (plan.trainedParameters ?? parameters) * FLOAT;
  const gradients = training ? trained : 0;
  const optimizer = training ? 2 * trained : 0;
  return {
    parameters,
    bytes: {
      weights,
      gradients,
      optimizer,
      kvCache,
      activations,
      total: weights + gradients + optimizer + Math.max(kvCache, activations),
    },
  };
}

/** The adapters' parameters on the chosen targets: rank x (in + out) per adapted projection. */
export function loraParameters(architecture: HfArchitecture, lora: { rank: number; targets: readonly string[] }): number {
  const { hiddenSize: D, heads, kvHeads, headDim, intermediateSize: F, layers } = architecture;
  const q = heads * headDim;
  const kv = kvHeads * headDim;
  // (in + out) of each module a target names in one layer (GPT-2's c_proj: the attention's and the MLP's).
  const widths: Record<string, number> = {
    q_proj: D + q,
    k_proj: D + kv,
    v_proj: D + kv,
    o_proj: q + D,
    gate_proj: D + F,
    up_proj: D + F,
    down_proj: F + D,
    c_attn: D + 3 * D,
    c_proj: D + D + F + D,
    c_fc: D + F,
  };
  return lora.targets.reduce((total, target) => total + layers * lora.rank * (widths[target] ?? 0), 0);
}

const GiB = 1024 ** 3;
const gib = (bytes: number) => `${(bytes / GiB).toFixed(2)} GiB`;

/**
 * Undefined when the plan fits `limitBytes`; otherwise one line that says what does not fit and
 * what would: fewer rows, shorter sequences, or generation only, each checked against the limit.
 */
export function whyItDoesNotFit(architecture: HfArchitecture, plan: HfMemoryPlan, limitBytes: number): string | undefined {
  const estimate = estimateHfMemory(architecture, plan);
  if (estimate.bytes.total <= limitBytes) return undefined;
  const { bytes } = estimate;
  const parts = [
    `weights ${gib(bytes.weights)}`,
    ...(plan.training ? [`gradients ${gib(bytes.gradients)}`, `Adam moments ${gib(bytes.optimizer)}`] : []),
    `KV cache ${gib(bytes.kvCache)}`,
    `activations ${gib(bytes.activations)}`,
  ];
  const options: string[] = [];
  const fits = (change: Partial<HfMemoryPlan>) =>
    estimateHfMemory(architecture, { ...plan, ...change }).bytes.total <= limitBytes;
  let rows = plan.rows - 1;
  while (rows >= 1 && !fits({ rows })) rows -= 1;
  if (rows >= 1) options.push(`${rows} rows at a time instead of ${plan.rows}`);
  let length = plan.sequenceLength - 1;
  while (length >= 1 && !fits({ sequenceLength: length })) length = Math.floor(length * 0.9);
  if (length >= 1) options.push(`sequences of at most ${length} tokens`);
  const targets = architecture.family === 'gpt2' ? ['c_attn'] : ['q_proj', 'v_proj'];
  const lora = loraParameters(architecture, { rank: 8, targets });
  if (plan.training && plan.trainedParameters === undefined) {
    let loraRows = plan.rows;
    while (loraRows >= 1 && !fits({ trainedParameters: lora, rows: loraRows })) loraRows -= 1;
    if (loraRows >= 1)
      options.push(
        `LoRA (--lora rank=8,alpha=16,targets=${targets.join(',')}: ${lora} trained parameters)${loraRows < plan.rows ? ` with ${loraRows} rows at a time` : ''}`,
      );
  }
  if (plan.training && fits({ training: false })) options.push('generation only (no fine-tuning)');
  if (options.length === 0) options.push('a smaller model, or a backend with more memory');
  return `${estimate.parameters} parameters need about ${gib(bytes.total)} (${parts.join(', ')}), more than the ${gib(limitBytes)} available; would fit: ${options.join('; ')}`;
}
