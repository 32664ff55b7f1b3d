import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isUsageError, Rng, type StepHook, type TrainConfig } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { loadSafetensors, type NamedTensor } from '../checkpoint/safetensors.js';
import { createPolicy } from '../model/transformer.js';
import { echoEnv, TINY, temporaryFolder, tinyRegistry } from '../test-support/tiny.js';
import { CharTokenizer } from '../tokenizer/char-tokenizer.js';
import type { TrainOptions, TrainProgress, TrainResult } from './api.js';
import { loadCheckpointPolicy } from './checkpoint-policy.js';
import { collectRollouts } from './rollouts.js';
import { conditionedPolicy, createSoftPrompt } from './soft-prompt.js';
import { train } from './train.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

const options = (overrides: Record<string, unknown>, outDir?: string): TrainOptions => ({
  registry: tinyRegistry(),
  method: 'reinforce-mean',
  env: 'echo',
  seed: 7,
  budget: { episodes: 96 },
  overrides: { ...TINY, checkpointEvery: 1, ...overrides },
  sft: 'none',
  ...(outDir ? { outDir } : {}),
});
const deterministic = (r: TrainResult) => ({
  ...r,
  timings: undefined,
  budget: { ...r.budget, consumed: { ...r.budget.consumed, seconds: 0 } },
});
const tokenizer = CharTokenizer.fromAlphabet(echoEnv.alphabet?.() ?? '');
/** The tiny run's configuration, as train() resolves it (the echo environment's sizes). */
const tinyConfig = (overrides: Partial<TrainConfig>): TrainConfig =>
  ({
    seed: 7,
    model: { dim: 16, layers: 1, heads: 2, contextLength: 16, mlpRatio: 4, valueHead: false },
    ...overrides,
  }) as TrainConfig;
/** The policy every tiny run with sft 'none' starts from. */
const startingPolicy = () =>
  createPolicy({ ...tinyConfig({}).model, vocabSize: tokenizer.vocabSize }, Rng.seeded(7).split('init'));
const checkpointTensors = (outDir: string): Record<string, NamedTensor> => {
  const sidecar = JSON.parse(readFileSync(path.join(outDir, 'checkpoint.json'), 'utf8')) as { weights: string };
  return loadSafetensors(path.join(outDir, sidecar.weights)).tensors;
};
/** The message of a run refused as bad input (anything else is reported as such, failing the match). */
const refusal = (run: TrainOptions): Promise<string> =>
  train(run).then(
    () => 'accepted',
    (e: unknown) => (isUsageError(e) ? (e as Error).message : `not a usage error: ${String(e)}`),
  );

describe('the conditioned policy', () => {
  it('rolls out under the soft prompt: recorded log-probs equal its teacher forcing, not the bare policy’s', async () => {
    const policy = startingPolicy();
    const prompt = createSoftPrompt(tinyConfig({ softPrompt: 3 }), 16);
    expect(prompt).toBeDefined();
    const conditioned = conditionedPolicy(policy, prompt as NonNullable<typeof prompt>);
    // Large vectors, so that conditioning visibly moves the policy.
    prompt?.vectors.assign(tf.mul(prompt.vectors, 100));
    expect(conditioned.config.contextLength).toBe(16 - 3);
    const tasks = echoEnv.tasks('train', { seed: 7, count: 3 });
    const groups = await collectRollouts(
      conditioned,
      tokenizer,
      echoEnv,
      tasks.map((task, k) => ({ task, groupId: `g${k}`, count: 2 })),
      { maxNewTokens: 4, temperature: 1, rng: Rng.seeded(3) },
    );
    let compared = 0;
    let largestGap = 0;
    for (const turn of groups.flat().flatMap((r) => r.turns)) {
      const sequence = [...turn.promptTokens, ...turn.actionTokens];
      const inputs = tf.tensor2d([sequence.slice(0, -1)], [1, sequence.length - 1], 'int32');
      const targets = tf.tensor2d([sequence.slice(1)], [1, sequence.length - 1], 'int32');
      const from = turn.promptTokens.length - 1;
      const mine = Array.from(await conditioned.score(inputs, targets).logprobs.data()).slice(from);
      const bare = Array.from(await policy.score(inputs, targets).logprobs.data()).slice(from);
      turn.logprobs.forEach((lp, i) => {
        expect(lp).toBeCloseTo(mine[i] as number, 5);
        largestGap = Math.max(largestGap, Math.abs(lp - (bare[i] as number)));
        compared += 1;
      });
      tf.dispose([inputs, targets]);
    }
    expect(compared).toBeGreaterThan(6);
    expect(largestGap).toBeGreaterThan(1e-2);
    // Its trained variables: the policy's and the vectors (joint); a frozen copy has the policy's alone.
    expect(conditioned.variables).toHaveLength(policy.variables.length + 1);
    const frozen = conditioned.freeze();
    expect(frozen.variables).toHaveLength(policy.variables.length);
    frozen.dispose();
    conditioned.dispose();
  });

  it('starts from seeded small vectors: the same seed gives the same vectors, another seed others', async () => {
    const a = createSoftPrompt(tinyConfig({ softPrompt: 4 }), 16);
    const b = createSoftPrompt(tinyConfig({ softPrompt: 4 }), 16);
    const c = createSoftPrompt(tinyConfig({ softPrompt: 4, seed: 8 }), 16);
    const values = async (p: typeof a) => Array.from(await (p as NonNullable<typeof a>).vectors.data());
    expect(await values(a)).toEqual(await values(b));
    expect(await values(a)).not.toEqual(await values(c));
    const std = Math.sqrt((await values(a)).reduce((s, x) => s + x * x, 0) / 64);
    expect(std).toBeGreaterThan(0.005);
    expect(std).toBeLessThan(0.05);
    expect(createSoftPrompt(tinyConfig({ softPrompt: 0 }), 16)).toBeUndefined();
    for (const p of [a, b, c]) p?.vectors.dispose();
  });
});

describe('a run with a soft prompt', () => {
  it('joint: trains the vectors and the policy, reports them, and saves the vectors with the checkpoint', async () => {
    const outDir = temporaryFolder();
    const result = await train(options({ softPrompt: 4 }, outDir));
    expect(result.softPrompt?.length).toBe(4);
    expect(result.softPrompt?.training).toBe('joint');
    expect(result.softPrompt?.finalNorm).not.toBe(result.softPrompt?.initialNorm);
    const tensors = checkpointTensors(outDir);
    const initial = createSoftPrompt(tinyConfig({ softPrompt: 4 }), 16);
    const saved = tensors['softPrompt.vectors'] as NamedTensor;
    expect(saved.shape).toEqual([4, 16]);
    expect(Array.from(saved.data)).not.toEqual(Array.from(await (initial as NonNullable<typeof initial>).vectors.data()));
    expect(tensors['adam.m.softPrompt.vectors']?.shape).toEqual([4, 16]);
    const start = startingPolicy();
    const unchanged = start.weightNames().filter((name, i) => {
      const now = tensors[`model.${name}`] as NamedTensor;
      return Array.from(now.data).join() === Array.from(start.variables[i]?.dataSync() ?? []).join();
    });
    expect(unchanged.length).toBeLessThan(start.weightNames().length);
    start.dispose();
    initial?.vectors.dispose();
  });

  it("a finished run's checkpoint is played under its learned vectors (as bench certify loads it)", async () => {
    const outDir = temporaryFolder();
    await train(options({ softPrompt: 4 }, outDir));
    const tensors = checkpointTensors(outDir);
    const loaded = loadCheckpointPolicy(outDir);
    expect(loaded.softPrompt).toBe(4);
    // The same policy and vectors built by hand from the checkpoint's tensors play the same episodes.
    const policy = startingPolicy();
    policy.variables.forEach((v, i) => {
      const saved = tensors[`model.${policy.weightNames()[i]}`] as NamedTensor;
      v.assign(tf.tensor(saved.data, v.shape));
    });
    const prompt = createSoftPrompt(tinyConfig({ softPrompt: 4 }), 16) as NonNullable<ReturnType<typeof createSoftPrompt>>;
    const vectors = tensors['softPrompt.vectors'] as NamedTensor;
    prompt.vectors.assign(tf.tensor(vectors.data, prompt.vectors.shape));
    const tasks = echoEnv.tasks('test', { seed: 0, count: 6 });
    const byHand = await collectRollouts(
      conditionedPolicy(policy, prompt),
      tokenizer,
      echoEnv,
      tasks.map((task, k) => ({ task, groupId: `play${k}`, count: 1 })),
      { maxNewTokens: loaded.config.maxNewTokens, temperature: 1, rng: Rng.seeded(11).split('checkpoint-play') },
    );
    const bare = await collectRollouts(
      policy,
      tokenizer,
      echoEnv,
      tasks.map((task, k) => ({ task, groupId: `play${k}`, count: 1 })),
      { maxNewTokens: loaded.config.maxNewTokens, temperature: 1, rng: Rng.seeded(11).split('checkpoint-play') },
    );
    expect(await loaded.play(echoEnv, tasks, 11)).toEqual(byHand.map((g) => (g[0]?.success ? 1 : 0)));
    // Not the bare policy's episodes: the vectors change what is played.
    expect(byHand.map((g) => g[0]?.turns[0]?.logprobs)).not.toEqual(bare.map((g) => g[0]?.turns[0]?.logprobs));
    loaded.dispose();
    policy.dispose();
    prompt.vectors.dispose();
  });

  it('prompt-only: the vectors change and every policy weight stays bit-identical', async () => {
    const outDir = temporaryFolder();
    const result = await train(options({ softPrompt: 4, softPromptTraining: 'prompt-only' }, outDir));
    expect(result.steps).toBeGreaterThan(1);
    expect(result.softPrompt?.training).toBe('prompt-only');
    expect(result.softPrompt?.finalNorm).not.toBe(result.softPrompt?.initialNorm);
    const tensors = checkpointTensors(outDir);
    const start = startingPolicy();
    start.weightNames().forEach((name, i) => {
      const now = tensors[`model.${name}`] as NamedTensor;
      expect(Array.from(now.data), name).toEqual(Array.from(start.variables[i]?.dataSync() ?? []));
    });
    // Only the vectors have Adam moments: the policy is not in the optimizer.
    expect(Object.keys(tensors).filter((k) => k.startsWith('adam.'))).toEqual([
      'adam.m.softPrompt.vectors',
      'adam.v.softPrompt.vectors',
    ]);
    start.dispose();
  });

  it('the reference is the start as deployed (weights and vectors): the divergence is 0 on the first update and after each reset, > 0 otherwise; a resumed run repeats it', async () => {
    const resetEvery2: StepHook = {
      name: 'reset-2',
      summary: 'resets the reference after every second step',
      async onStepEnd(ctx) {
        if (ctx.step % 2 === 0) await ctx.resetReference();
      },
    };
    const overrides = { softPrompt: 4, divergence: 'k2-test', divergenceCoef: 0.1, hooks: ['reset-2'], checkpointEvery: 1 };
    const run = (outDir: string, extra: Partial<TrainOptions> = {}) =>
      train({
        ...options(overrides, outDir),
        registry: tinyRegistry({ name: 'reset', hooks: [resetEvery2] }),
        budget: { episodes: 6 * 24 },
        ...extra,
      });
    const klOf = (outDir: string) =>
      readFileSync(path.join(outDir, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).kl as number);
    const outDir = temporaryFolder();
    const whole = await run(outDir);
    expect(whole.steps).toBe(6);
    const kl = klOf(outDir);
    expect(kl[0]).toBe(0); // the reference reads the starting vectors, as the policy does at step 0
    // After the resets at steps 2 and 4 the reference holds the policy's weights and its trained vectors.
    expect([kl[2], kl[4]]).toEqual([0, 0]);
    for (const k of [kl[1], kl[3], kl[5]]) expect(k).toBeGreaterThan(0);
    expect(Array.from(checkpointTensors(outDir)['reference.softPrompt.vectors']?.data ?? [])).toHaveLength(4 * 16);
    // Killed after the reset of step 4 was checkpointed: the resumed run's reference reads the reset vectors.
    const resumedDir = temporaryFolder();
    const killAt = (p: TrainProgress) => {
      if (p.phase === 'train' && p.step === 5) throw new Error('simulated kill');
    };
    await expect(run(resumedDir, { onProgress: killAt })).rejects.toThrow('simulated kill');
    await run(resumedDir, { resume: true });
    expect(klOf(resumedDir)).toEqual(kl);
  });

  for (const training of ['joint', 'prompt-only'] as const)
    it(`${training}: resumes after a kill and ends exactly like an uninterrupted run`, async () => {
      const overrides = { softPrompt: 4, softPromptTraining: training, checkpointEvery: 2 };
      const whole = await train(options(overrides, temporaryFolder()));
      const outDir = temporaryFolder();
      const killAt = (p: TrainProgress) => {
        if (p.phase === 'train' && p.step === 3) throw new Error('simulated kill');
      };
      await expect(train({ ...options(overrides, outDir), onProgress: killAt })).rejects.toThrow('simulated kill');
      const resumed = await train({ ...options(overrides, outDir), resume: true });
      expect(deterministic(resumed)).toEqual(deterministic(whole));
      expect(resumed.softPrompt?.finalNorm).toBe(whole.softPrompt?.finalNorm);
    });

  it('softPrompt=0 is today’s run: the same numbers as the default configuration', async () => {
    const plain = await train(options({}));
    const zero = await train(options({ softPrompt: 0 }));
    expect(zero.softPrompt).toBeUndefined();
    expect({ ...deterministic(zero), config: undefined }).toEqual({ ...deterministic(plain), config: undefined });
  });

  it('refuses bad values, naming them and what is accepted', async () => {
    expect(await refusal(options({ softPrompt: -1 }))).toMatch(/softPrompt must be an integer from 0 to 4096, got -1/);
    expect(await refusal(options({ softPrompt: 2.5 }))).toMatch(/softPrompt must be an integer .* got 2.5/);
    expect(await refusal(options({ softPrompt: 12 }))).toMatch(
      /softPrompt \(12\) \+ maxNewTokens \(4\) must be smaller than model.contextLength \(16\); accepted softPrompt: 0 to 11/,
    );
    expect(await refusal(options({ softPrompt: 2, softPromptTraining: 'vectors' }))).toMatch(
      /softPromptTraining must be one of joint, prompt-only, got "vectors"/,
    );
    expect(await refusal(options({ softPromptTraining: 'prompt-only' }))).toMatch(
      /--set softPromptTraining: no active plugin of this run reads it.*softPrompt=<P>/,
    );
  });
});
