/**
 * The policy model's contract inside the trainer. `model/` implements it (transformer,
 * sampler with KV cache); `loop/` (rollouts, losses, optimizer, evaluation) uses only this.
 */
import type { LogitsRequest, ModelConfig, Rng } from '@policy-lab/core';
import type * as tf from '@tensorflow/tfjs-core';

export interface PolicyConfig extends ModelConfig {
  vocabSize: number;
}

export interface GenerateOptions {
  maxNewTokens: number;
  temperature: number;
  topK?: number;
  topP?: number;
  /** Generation of a row ends after it emits one of these (the stop token is kept). */
  stopTokens: readonly number[];
  /** Argmax decoding (evaluation's greedy success). */
  greedy?: boolean;
  rng: Rng;
  /**
   * A sampler's hook on the next-token distribution: given per-row log-probabilities (after
   * temperature, top-k, top-p) and contexts, returns per-row log-weights to draw from.
   */
  logits?: (request: LogitsRequest) => readonly Float32Array[] | Promise<readonly Float32Array[]>;
  /** What `logprobs` record with a hook: the drawn-from distribution ('proposal', default) or the policy's ('policy'). */
  behaviour?: 'proposal' | 'policy';
  /**
   * Conditioning vectors ahead of each prompt: [P, D] shared by every row, or [rows, P, D] one
   * set per row. They take positions 0..P-1 (right after a row's left padding), the prompt
   * follows; P + prompt + new tokens must fit the context.
   */
  prefix?: tf.Tensor;
}

export interface BeamOptions {
  /** Hypotheses kept at each position. */
  width: number;
  /** Hypotheses returned, best first (at most `width`). */
  count: number;
  maxNewTokens: number;
  stopTokens: readonly number[];
  /** Conditioning vectors [P, D] ahead of the prompt (as in GenerateOptions). */
  prefix?: tf.Tensor2D;
}

export interface ScoreOptions {
  entropy?: boolean;
  values?: boolean;
  squaredMass?: boolean;
  distributions?: boolean;
  /** The final hidden states [rows, T, D] (a head on the trunk reads them). */
  hidden?: boolean;
  /**
   * Conditioning vectors ahead of the first input token: [P, D] shared by every row, or
   * [rows, P, D] one set per row. They take positions 0..P-1 and the tokens follow, so
   * P + T <= contextLength; the outputs cover the T tokens only. Gradients flow into them.
   */
  prefix?: tf.Tensor;
}

export interface Generation {
  /** Per prompt: generated token ids (stop token included when produced). */
  tokens: number[][];
  /** Per prompt: log-probability of each generated token under the sampling distribution
   * actually used (after temperature, top-k/top-p), as recorded at sampling time. */
  logprobs: number[][];
  /** Per prompt: true when maxNewTokens was reached without a stop token. */
  truncated: boolean[];
}

export interface ScoredTokens {
  /** [rows, T] log p(target_t | inputs_<=t), differentiable when called under a gradient. */
  logprobs: tf.Tensor2D;
  /** [rows, T] entropy of the next-token distribution, when requested. */
  entropy?: tf.Tensor2D;
  /** [rows, T] value-head predictions, when the model has one. */
  values?: tf.Tensor2D;
  /** [rows, T] log sum_v pi(v)^2 of the next-token distribution, when requested (WPO). */
  logSquaredMass?: tf.Tensor2D;
  /** [rows, T, V] log-probabilities of every next token, when requested (teacher-forced distributions). */
  distributions?: tf.Tensor3D;
  /** [rows, T, D] final hidden states (after the last layer norm), when requested (a head on the trunk). */
  hidden?: tf.Tensor3D;
}

export interface PolicyModel {
  readonly config: PolicyConfig;
  /** Every trainable variable (the optimizer updates these, checkpoints save them). */
  readonly variables: readonly tf.Variable[];
  /**
   * Teacher-forced scoring: `inputs` and `targets` are int32 [rows, T] (targets = inputs
   * shifted by one), rows padded on the right; padded positions give arbitrary values
   * that callers mask. T (plus the prefix's P vectors) <= contextLength.
   */
  score(inputs: tf.Tensor2D, targets: tf.Tensor2D, options?: ScoreOptions): ScoredTokens;
  /** Batched, seeded sampling with a KV cache. Prompts may differ in length. */
  generate(prompts: readonly (readonly number[])[], options: GenerateOptions): Promise<Generation>;
  /**
   * Beam search from one prompt: the `count` most likely distinct continuations by summed
   * log-probability at temperature 1, best first (a hypothesis ends at a stop token or the
   * token limit). `logprobs` hold each token's log-probability under the policy.
   */
  beamSearch(prompt: readonly number[], options: BeamOptions): Promise<Generation & { scores: number[] }>;
  /** A frozen copy (the reference policy): same weights, its own variables, not trainable. */
  freeze(): PolicyModel;
  /** Copies weights from another model of the same config. */
  copyFrom(other: PolicyModel): void;
  dispose(): void;
}
