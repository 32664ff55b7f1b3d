/**
 * A Hugging Face causal LM as the trainer's policy (model/policy.ts): the training loop, every
 * update and the samplers run on it unchanged. Teacher-forced scoring through the full forward,
 * sampling through the KV cache with the loop's sampling rules (model/sampling.ts). Under LoRA
 * the trainable variables are the adapters' and the reference is the frozen base itself (the same
 * weight variables read without the adapters: no copy); without LoRA the reference is a copy.
 */
import { UsageError } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import type * as Policy from '../model/policy.js';
import type { LoraAdapters } from './lora.js';
import type { HfCausalLM } from './model.js';

export class HfPolicy implements Policy.PolicyModel {
  readonly config: Policy.PolicyConfig;

  private constructor(
    readonly model: HfCausalLM,
    contextLength: number,
    /** The adapters the model trains (LoRA), if any. */
    readonly lora: LoraAdapters | undefined,
    /** 'own': disposes the model; 'copy': a frozen copy it disposes; 'view': LoRA's base, shares the model's weights. */
    private readonly role: 'own' | 'copy' | 'view',
  ) {
    const a = model.architecture;
    this.config = {
      vocabSize: a.vocabSize,
      dim: a.hiddenSize,
      layers: a.layers,
      heads: a.heads,
      contextLength,
      mlpRatio: a.intermediateSize / a.hiddenSize,
      valueHead: false,
    };
  }

  /** The policy over `model` (adapters already attached when `lora` is given), reading at most `contextLength` tokens. */
  static create(model: HfCausalLM, contextLength: number, lora?: LoraAdapters): HfPolicy {
    const a = model.architecture;
    const longest = Math.min(a.maxPositions, a.slidingWindow ?? a.maxPositions);
    if (!(Number.isInteger(contextLength) && contextLength > 0 && contextLength <= longest))
      throw new UsageError(
        `model.contextLength ${contextLength} does not fit the model (accepted: 1 to ${longest}, its ${a.slidingWindow !== undefined && a.slidingWindow < a.maxPositions ? 'sliding_window' : 'max_position_embeddings'})`,
      );
    return new HfPolicy(model, contextLength, lora, 'own');
  }

  /** What the optimizer trains: the adapters under LoRA, else every weight; nothing for a frozen policy. */
  get variables(): tf.Variable[] {
    return this.role === 'view' ? [] : this.model.variables;
  }

  /** Names of `variables`, in order (checkpoints and the SFT cache key by them). */
  weightNames(): string[] {
    if (this.role === 'view') return [];
    if (this.lora && this.role === 'own') return this.lora.modules.flatMap((m) => [`${m}.lora_A`, `${m}.lora_B`]);
    return this.model.tensorSpecs.map((spec) => spec.name);
  }

  score(inputs: tf.Tensor2D, targets: tf.Tensor2D, options: Policy.ScoreOptions = {}): Policy.ScoredTokens {
    for (const key of ['prefix', 'hidden', 'values'] as const)
      if (options[key])
        throw new UsageError(
          `a Hugging Face policy does not provide score option '${key}' (accepted: entropy, squaredMass, distributions)`,
        );
    const [rows, T] = inputs.shape;
    if (T > this.config.contextLength)
      throw new RangeError(`sequence length ${T} exceeds the context length ${this.config.contextLength}`);
    return tf.tidy(() => {
      const V = this.config.vocabSize;
      const logProbsAll = tf.logSoftmax(tf.reshape(this.model.logits(inputs), [rows * T, V]));
      const picked = tf.sum(tf.mul(logProbsAll, tf.oneHot(tf.reshape(targets, [-1]), V)), -1);
      const out: Policy.ScoredTokens = { logprobs: tf.reshape(picked, [rows, T]) as tf.Tensor2D };
      if (options.entropy)
        out.entropy = tf.reshape(tf.neg(tf.sum(tf.mul(tf.exp(logProbsAll), logProbsAll), -1)), [rows, T]) as tf.Tensor2D;
      if (options.squaredMass)
        out.logSquaredMass = tf.reshape(tf.logSumExp(tf.mul(logProbsAll, 2), -1), [rows, T]) as tf.Tensor2D;
      if (options.distributions) out.distributions = tf.reshape(logProbsAll, [rows, T, V]) as tf.Tensor3D;
      return out as unknown as tf.TensorContainer;
    }) as unknown as Policy.ScoredTokens;
  }

  async generate(prompts: readonly (readonly number[])[], options: Policy.GenerateOptions): Promise<Policy.Generation> {
    if (options.prefix) throw new UsageError('a Hugging Face policy does not read prefix vectors (soft prompts)');
    if (prompts.length === 0) return { tokens: [], logprobs: [], truncated: [] };
    const longest = Math.max(...prompts.map((p) => p.length));
    if (longest === 0) throw new RangeError('generate: every prompt needs at least one token');
    const maxNewTokens = Math.min(options.maxNewTokens, this.config.contextLength - longest);
    if (maxNewTokens <= 0)
      throw new RangeError(`generate: prompts of ${longest} tokens leave no room in a context of ${this.config.contextLength}`);
    return this.model.draw(prompts, { ...options, maxNewTokens });
  }

  beamSearch(_prompt: readonly number[], _options: Policy.BeamOptions): Promise<Policy.Generation & { scores: number[] }> {
    return Promise.reject(
      new UsageError('beam search is not built for Hugging Face policies (accepted samplers with --model: token-by-token ones)'),
    );
  }

  /** The reference: LoRA's frozen base (no copy), else a frozen copy of the weights. */
  freeze(): HfPolicy {
    if (this.lora) return new HfPolicy(this.model.baseView(), this.config.contextLength, undefined, 'view');
    const copy = this.model.frozenCopy();
    return new HfPolicy(copy, this.config.contextLength, undefined, 'copy');
  }

  copyFrom(other: Policy.PolicyModel): void {
    if (this.role === 'view')
      throw new UsageError("LoRA's reference is the frozen base; it cannot be reset to the trained policy");
    const from = other.variables;
    if (from.length !== this.variables.length) throw new RangeError('copyFrom: models differ in shape');
    this.variables.forEach((v, i) => v.assign(from[i] as tf.Variable));
  }

  dispose(): void {
    if (this.role !== 'view') this.model.dispose();
  }
}
