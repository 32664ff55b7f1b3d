/**
 * The reference workloads of `bench speed` (docs/performance.md): V=64, H=4, L=2 and T=64 unless
 * given, the
 * trainer's own transformer (pre-LN, bias-free q/k/v/o, ReLU MLP 4D, learned positions,
 * untied output), a PPO-clip step with our Adam, and KV-cache decoding.
 */
import { Rng } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { collectRollouts, generatedTokens } from '../loop/rollouts.js';
import { ppoClip } from '../losses/ppo-clip.js';
import type { PolicyModel } from '../model/policy.js';
import { createPolicy } from '../model/transformer.js';
import { Adam } from '../optim/adam.js';
import { CharTokenizer } from '../tokenizer/char-tokenizer.js';

const VOCAB = 64;
const LAYERS = 2;
const LENGTH = 64;

export interface Workload {
  run(): Promise<void>;
  dispose(): void;
  /** Tokens processed by one run (for tokens per second). */
  tokens: number;
}

export interface ModelShape {
  dim: number;
  /** Transformer blocks (default 2). */
  layers?: number;
  /** Train step: the sequence length T; decode: the context the cache may fill (default 64). */
  context?: number;
  /**
   * A policy to time instead of the reference transformer (`bench speed --model`: a Hugging Face
   * model folder's), made for `context` tokens; its vocabulary replaces V and its sizes dim and
   * layers. The workload disposes it.
   */
  policy?: PolicyModel;
}

export function referenceTrainStep(options: ModelShape & { batch: number; seed?: number }): Workload {
  const { dim, batch } = options;
  const layers = options.layers ?? LAYERS;
  const length = options.context ?? LENGTH;
  const rng = Rng.seeded(options.seed ?? 0);
  const policy =
    options.policy ??
    createPolicy(
      { vocabSize: VOCAB, dim, layers, heads: 4, contextLength: length, mlpRatio: 4, valueHead: false },
      rng.split('init'),
    );
  const vocab = policy.config.vocabSize;
  const data = rng.split('data');
  const ids = tf.tensor2d(
    Array.from({ length: batch * length }, () => data.int(0, vocab - 1)),
    [batch, length],
    'int32',
  );
  const targets = tf.tensor2d(
    Array.from({ length: batch * length }, () => data.int(0, vocab - 1)),
    [batch, length],
    'int32',
  );
  const advantages = tf.tile(
    tf.tensor2d(
      Array.from({ length: batch }, () => data.normal()),
      [batch, 1],
    ),
    [1, length],
  );
  const old = tf.zeros([batch, length]);
  const mask = tf.ones([batch, length]);
  const weights = tf.ones([batch]);
  const loss = ppoClip();
  const optimizer = new Adam(policy.variables, { learningRate: 1e-3 });
  return {
    tokens: batch * length,
    async run() {
      const { value, grads } = tf.variableGrads(() => {
        const { logprobs } = policy.score(ids as tf.Tensor2D, targets as tf.Tensor2D);
        const result = loss.loss(
          { logprobs, oldLogprobs: old, advantages, mask, weights, aggregation: 'token-mean', normLength: length },
          tf,
        );
        tf.dispose(Object.values(result.metrics ?? {}));
        return result.loss as tf.Scalar;
      }, [...policy.variables]);
      optimizer.apply(policy.variables.map((v) => grads[v.name] as tf.Tensor));
      await value.data();
      tf.dispose([value, ...Object.values(grads)]);
    },
    dispose() {
      tf.dispose([ids, targets, advantages, old, mask, weights]);
      optimizer.dispose();
      policy.dispose();
    },
  };
}

/**
 * KV-cache decoding of `tokens` new tokens for `batch` rows. The model's context is `context`
 * (default tokens + 1) and each row's prompt fills what the new tokens leave of it (one token by
 * default), so the cache ends full.
 */
export function referenceDecode(options: ModelShape & { batch: number; tokens: number; seed?: number }): Workload {
  const { dim, batch, tokens } = options;
  const context = options.context ?? tokens + 1;
  if (tokens + 1 > context)
    throw new RangeError(`decode: ${tokens} new tokens and a prompt of at least one token exceed the context ${context}`);
  const rng = Rng.seeded(options.seed ?? 0);
  const policy =
    options.policy ??
    createPolicy(
      {
        vocabSize: VOCAB,
        dim,
        layers: options.layers ?? LAYERS,
        heads: 4,
        contextLength: context,
        mlpRatio: 4,
        valueHead: false,
      },
      rng.split('init'),
    );
  const vocab = policy.config.vocabSize;
  const promptRng = rng.split('prompts');
  // The default one-token prompt is token 1 (as before --context existed).
  const prompts = Array.from({ length: batch }, () =>
    context === tokens + 1 ? [1] : Array.from({ length: context - tokens }, () => promptRng.int(0, vocab - 1)),
  );
  let call = 0;
  return {
    tokens: batch * tokens,
    async run() {
      await policy.generate(prompts, {
        maxNewTokens: tokens,
        temperature: 1,
        stopTokens: [],
        rng: rng.split(`decode/${call++}`),
      });
    },
    dispose() {
      policy.dispose();
    },
  };
}

/** Rollout throughput on an environment: `batch` episodes of its train tasks, decoded together. */
export function referenceRollouts(options: {
  env: import('@policy-lab/core').Environment;
  batch: number;
  seed?: number;
}): Workload {
  const { env, batch } = options;
  const rng = Rng.seeded(options.seed ?? 0);
  const tokenizer = CharTokenizer.fromAlphabet(env.alphabet?.() ?? '');
  const recommended = env.recommended ?? {};
  const maxNewTokens = recommended.maxNewTokens ?? 16;
  const policy = createPolicy(
    {
      vocabSize: tokenizer.vocabSize,
      dim: recommended.dim ?? 64,
      layers: recommended.layers ?? 2,
      heads: recommended.heads ?? 4,
      contextLength: recommended.contextLength ?? 64,
      mlpRatio: 4,
      valueHead: false,
    },
    rng.split('init'),
  );
  const tasks = env.tasks('train', { seed: 0, count: batch });
  let call = 0;
  let tokens = 0;
  return {
    get tokens() {
      return tokens;
    },
    async run() {
      const groups = await collectRollouts(
        policy,
        tokenizer,
        env,
        tasks.map((task, k) => ({ task, groupId: `speed${k}`, count: 1 })),
        { maxNewTokens, temperature: 1, rng: rng.split(`rollouts/${call++}`) },
      );
      tokens = generatedTokens(groups.flat());
    },
    dispose() {
      policy.dispose();
    },
  };
}
