/**
 * SFT warm start from the environment's expert demonstrations, cached per (environment,
 * model config, tokenizer, SFT settings, seed) so that every method of a comparison starts
 * from the same checkpoint and parallel workers never build it twice (a lock file naming its
 * owner: a killed builder's lock is broken at once, see run-lock.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Environment, Rng, type TrainConfig, UsageError } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { loadSafetensors, saveSafetensors, tensorsDigest } from '../checkpoint/safetensors.js';
import type { PolicyModel } from '../model/policy.js';
import { Adam } from '../optim/adam.js';
import type { PolicyTokenizer } from '../tokenizer/policy-tokenizer.js';
import { disposeBatch, microBatchSize, type TrainingRow, toTensors } from './batch.js';
import { turnPrompt } from './rollouts.js';
import { describeOwner, waitForLock } from './run-lock.js';
import { readWeights, writeWeights } from './weights.js';

export interface SftResult {
  steps: number;
  /** Rows trained on: the expert's demonstrations, and a task source's extra warm-start rows (SPARK's judge items). */
  rows?: number;
  extraRows?: number;
  finalLoss: number;
  seconds: number;
  cached: boolean;
  file?: string;
}

/**
 * Rows of (context, expert action + eos) from replaying demonstrations on train tasks, cut as a
 * rollout cuts its prompts: `contextLength` is the room the policy leaves for tokens (less than
 * the model's when a soft prompt's vectors come first).
 */
/** Training tasks the SFT warm start demonstrates (the first of the seeded training split). */
export const SFT_TASKS = 256;

export function demonstrationRows(
  env: Environment,
  tokenizer: PolicyTokenizer,
  tasks: readonly unknown[],
  config: TrainConfig,
  rng: Rng,
  contextLength = config.model.contextLength,
): TrainingRow[] {
  if (!env.demonstrate) throw new Error(`environment '${env.name}' has no expert demonstrate(); run with --sft none`);
  const limit = contextLength - config.maxNewTokens;
  const rows: TrainingRow[] = [];
  tasks.forEach((task, k) => {
    const episode = env.start(task, rng.split(`demo/${k}`));
    let history = [tokenizer.specials.bos];
    const turns: { observation: string; action: string }[] = [];
    for (const action of env.demonstrate?.(task) ?? []) {
      const observation = episode.observation();
      const prompt = turnPrompt(history, turns, observation, limit, tokenizer);
      const actionTokens = [...tokenizer.encode(action), tokenizer.specials.eos].slice(0, config.maxNewTokens);
      rows.push({ tokens: [...prompt, ...actionTokens], actionStart: prompt.length, oldLogprobs: [], advantage: 1, weight: 1 });
      history = [...prompt, ...actionTokens];
      turns.push({ observation, action });
      if (episode.step(action).done) break;
    }
  });
  return rows;
}

/**
 * The cache key of an SFT start. With a soft prompt the start is trained under its starting
 * vectors, so their values enter the key (a run without one keeps the key it always had).
 */
export function sftCacheKey(
  env: Environment,
  tokenizer: PolicyTokenizer,
  config: TrainConfig,
  prefix?: tf.Tensor2D,
  extraKey?: string,
  modelKey?: string,
): string {
  const key = {
    version: 1,
    env: env.name,
    envOptions: env.resolved ?? {},
    model: config.model,
    maxNewTokens: config.maxNewTokens,
    tokenizer: tokenizer.toJSON(),
    steps: config.sftSteps,
    lr: config.sftLearningRate,
    batch: config.sftBatch,
    seed: config.seed,
    ...(prefix
      ? {
          softPrompt: {
            shape: prefix.shape,
            sha256: createHash('sha256')
              .update(new Uint8Array((prefix.dataSync() as Float32Array).buffer))
              .digest('hex'),
          },
        }
      : {}),
    ...(extraKey !== undefined ? { extra: extraKey } : {}),
    ...(modelKey !== undefined ? { hfModel: modelKey } : {}),
  };
  return createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 24);
}

/**
 * One optimizer step of token-mean cross-entropy over `rows`' action tokens, accumulated over
 * micro-batches that fit the wasm heap (long contexts): each chunk divides by the batch's token
 * count. Returns the loss (per token; NaN-free 0 when `readLoss` is false) and the tokens trained on.
 */
export async function crossEntropyStep(
  policy: PolicyModel,
  optimizer: Adam,
  rows: readonly TrainingRow[],
  options: { prefix?: tf.Tensor2D; batchCap: number; learningRate?: number; readLoss?: boolean },
): Promise<{ loss: number; tokens: number }> {
  const tokens = Math.max(
    1,
    rows.reduce((n, row) => n + row.tokens.length - row.actionStart, 0),
  );
  const size = microBatchSize(rows, policy.config.heads, options.batchCap);
  let gradSums: tf.Tensor[] | undefined;
  let loss = 0;
  for (let start = 0; start < rows.length; start += size) {
    const batch = toTensors(rows.slice(start, start + size));
    const { value, grads } = tf.variableGrads(() => {
      const { logprobs } = policy.score(batch.inputs, batch.targets, options.prefix ? { prefix: options.prefix } : {});
      return tf.div(tf.neg(tf.sum(tf.mul(logprobs, batch.mask))), tokens) as tf.Scalar;
    }, policy.variables as tf.Variable[]);
    const list = policy.variables.map((v) => grads[v.name] ?? tf.zerosLike(v));
    if (gradSums) {
      const previous = gradSums;
      gradSums = previous.map((g, i) => tf.add(g, list[i] as tf.Tensor));
      tf.dispose([...previous, ...list]);
    } else gradSums = list;
    // Reading the loss waits for the backend: the SFT warm start reads it at its last step only.
    if (options.readLoss !== false) loss += (await value.data())[0] as number;
    value.dispose();
    disposeBatch(batch);
  }
  optimizer.apply(gradSums ?? [], options.learningRate);
  tf.dispose(gradSums ?? []);
  return { loss, tokens };
}

async function trainSft(
  policy: PolicyModel,
  rows: readonly TrainingRow[],
  { steps, learningRate, batchSize }: { steps: number; learningRate: number; batchSize: number },
  rng: Rng,
  prefix: tf.Tensor2D | undefined,
): Promise<number> {
  const optimizer = new Adam(policy.variables as tf.Variable[], { learningRate });
  let last = Number.NaN;
  try {
    for (let step = 0; step < steps; step++) {
      const stepRng = rng.split(`step/${step}`);
      const chosen = Array.from(
        { length: Math.min(batchSize, rows.length) },
        () => rows[stepRng.int(0, rows.length - 1)] as TrainingRow,
      );
      const lastStep = step === steps - 1;
      const { loss } = await crossEntropyStep(policy, optimizer, chosen, {
        ...(prefix ? { prefix } : {}),
        batchCap: batchSize,
        readLoss: lastStep,
      });
      if (step === steps - 1) last = loss;
    }
  } finally {
    optimizer.dispose();
  }
  return last;
}

/**
 * Trains `policy`'s weights on the expert's demonstrations. `prefix`: a soft prompt's starting
 * vectors [P, D], read ahead of every row and held fixed, so that the start is trained on the
 * input RL and evaluation give it (prompt tuning: Lester et al. 2021, arXiv 2104.08691).
 */
export async function sftWarmStart(
  policy: PolicyModel,
  tokenizer: PolicyTokenizer,
  env: Environment,
  config: TrainConfig,
  options: {
    cacheDir?: string;
    names: string[];
    prefix?: tf.Tensor2D;
    extra?: WarmStartExtra;
    /** The environment before a task source wrapped it: tasks the wrapper adds to the split are the start's own rows too. */
    base?: Environment;
    /** A Hugging Face model's start: its fingerprint (files and LoRA settings), part of the cache key. */
    modelKey?: string;
  },
): Promise<SftResult> {
  const started = performance.now();
  const rng = Rng.seeded(config.seed).split('sft');
  if (config.sftSteps === 0) return { steps: 0, finalLoss: Number.NaN, seconds: 0, cached: false };
  const { prefix, extra } = options;
  const contextLength = config.model.contextLength - (prefix?.shape[0] ?? 0);
  const train = env.tasks('train', { seed: config.seed, count: SFT_TASKS });
  const demonstrations = demonstrationRows(env, tokenizer, train, config, rng, contextLength);
  const added = extra
    ? demonstrationRows(
        env,
        tokenizer,
        extra(env, train, rng.split('extra')).tasks,
        config,
        rng.split('extra-rows'),
        contextLength,
      )
    : [];
  // Extra rows come with proportionally more steps, so the expert's demonstrations are seen as often as without them.
  const steps = Math.round((config.sftSteps * (demonstrations.length + added.length)) / Math.max(1, demonstrations.length));
  // Tasks a wrapping source added to the training split (URPO's ranking items) come after the environment's own.
  const own = options.base ? options.base.tasks('train', { seed: config.seed, count: SFT_TASKS }).length : train.length;
  const addedBySplit =
    own < train.length
      ? demonstrationRows(env, tokenizer, train.slice(own), config, rng.split('added'), contextLength).length
      : 0;
  const counts = { rows: demonstrations.length - addedBySplit, extraRows: added.length + addedBySplit };
  const rows = () => [...demonstrations, ...added];
  const settings = { steps, learningRate: config.sftLearningRate, batchSize: config.sftBatch };
  if (!options.cacheDir) {
    const finalLoss = await trainSft(policy, rows(), settings, rng, prefix);
    return { steps, finalLoss, seconds: (performance.now() - started) / 1000, cached: false, ...counts };
  }
  mkdirSync(options.cacheDir, { recursive: true });
  const extraKey = extra ? extra(env, train, rng.split('extra')).key : undefined;
  const key = sftCacheKey(env, tokenizer, config, prefix, extraKey, options.modelKey);
  const file = path.join(options.cacheDir, `${env.name}-${key}.safetensors`);
  const cached = (): SftResult => {
    const { tensors, metadata } = loadSafetensors(file);
    // A flipped bit would silently start every run of this (environment, seed) elsewhere.
    if (metadata.dataSha256 !== undefined && metadata.dataSha256 !== tensorsDigest(tensors))
      throw new UsageError(`${file}: checksum does not match its contents (a damaged SFT cache; delete the file to rebuild it)`);
    for (const [name, tensor] of Object.entries(tensors))
      if (tensor.data.some((x) => !Number.isFinite(x)))
        throw new UsageError(
          `${file}: tensor '${name}' holds a non-finite value (a damaged SFT cache; delete the file to rebuild it)`,
        );
    writeWeights(policy, options.names, tensors, file);
    return {
      steps,
      finalLoss: Number(metadata.finalLoss),
      seconds: (performance.now() - started) / 1000,
      cached: true,
      file,
      ...counts,
    };
  };
  if (existsSync(file)) return cached();
  // Another process may be building the same checkpoint: wait for it (saying so), unless it is dead.
  const lock = await waitForLock(`${file}.lock`, 'sft warm start', {
    onWait: (holder, seconds) =>
      process.stderr.write(`waiting ${seconds} s for the SFT warm start ${file}, being built by ${describeOwner(holder)}\n`),
  });
  try {
    if (existsSync(file)) return cached();
    const finalLoss = await trainSft(policy, rows(), settings, rng, prefix);
    const weights = await readWeights(policy, options.names);
    saveSafetensors(file, weights, { finalLoss: String(finalLoss), key, dataSha256: tensorsDigest(weights) });
    return { steps, finalLoss, seconds: (performance.now() - started) / 1000, cached: false, file, ...counts };
  } finally {
    lock.release();
  }
}

/** A task source's extra warm-start tasks (TaskSource.warmStart), played by the run's environment. */
export type WarmStartExtra = (
  env: Environment,
  train: readonly unknown[],
  rng: Rng,
) => { tasks: readonly unknown[]; key: string };
