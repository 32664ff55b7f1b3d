import { Rng } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { temporaryFolder } from '../test-support/tiny.js';
import { LoraAdapters } from './lora.js';
import { HfCausalLM } from './model.js';
import { HfPolicy } from './policy.js';
import { writeTinyHfCheckpoint } from './tiny-checkpoints.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'stock' });
});

function load(kind: 'llama' | 'gpt2'): HfCausalLM {
  const folder = temporaryFolder(`hf-policy-${kind}-`);
  writeTinyHfCheckpoint(folder, kind, { sharded: false, dtype: 'F32' });
  return HfCausalLM.load(folder);
}

/** Teacher-forced log-probabilities of each row's continuation after its prompt. */
async function scored(policy: HfPolicy, prompts: number[][], continuations: number[][]): Promise<number[][]> {
  const rows = prompts.map((p, r) => [...p, ...(continuations[r] as number[])]);
  const T = Math.max(...rows.map((row) => row.length)) - 1;
  const pad = (row: number[]) => [...row, ...new Array(T + 1 - row.length).fill(0)];
  const inputs = tf.tensor2d(
    rows.map((row) => pad(row).slice(0, T)),
    [rows.length, T],
    'int32',
  );
  const targets = tf.tensor2d(
    rows.map((row) => pad(row).slice(1)),
    [rows.length, T],
    'int32',
  );
  const { logprobs } = policy.score(inputs, targets);
  const values = (await logprobs.array()) as number[][];
  tf.dispose([inputs, targets, logprobs]);
  return prompts.map((p, r) => (values[r] as number[]).slice(p.length - 1, p.length - 1 + (continuations[r] as number[]).length));
}

describe.each(['llama', 'gpt2'] as const)('HfPolicy (%s)', (kind) => {
  it('samples through the KV cache the log-probabilities the teacher-forced score gives, and stops at a stop token', async () => {
    const policy = HfPolicy.create(load(kind), 32);
    const prompts = [
      [1, 17, 42, 5],
      [1, 9, 33, 60, 2, 11],
    ];
    const generation = await policy.generate(prompts, { maxNewTokens: 8, temperature: 1, stopTokens: [3], rng: Rng.seeded(4) });
    expect(generation.tokens.map((t) => t.length).every((n) => n >= 1 && n <= 8)).toBe(true);
    generation.tokens.forEach((tokens, r) => {
      const stop = tokens.indexOf(3);
      expect(generation.truncated[r]).toBe(stop === -1);
      if (stop !== -1) expect(stop).toBe(tokens.length - 1);
    });
    const teacher = await scored(policy, prompts, generation.tokens);
    generation.logprobs.forEach((row, r) =>
      row.forEach((logprob, i) => expect(Math.abs(logprob - (teacher[r]?.[i] as number))).toBeLessThan(1e-4)),
    );
    policy.dispose();
  });

  it('under LoRA trains the adapters only, and its reference is the frozen base itself', async () => {
    const model = load(kind);
    const baseVariables = [...model.baseVariables];
    const targets = kind === 'llama' ? ['q_proj', 'v_proj'] : ['c_attn'];
    const lora = LoraAdapters.attach(model, { rank: 2, alpha: 4, targets }, Rng.seeded(1));
    const policy = HfPolicy.create(model, 32, lora);
    expect(policy.variables).toEqual(lora.variables);
    expect(policy.weightNames()).toHaveLength(lora.variables.length);
    const reference = policy.freeze();
    expect(reference.variables).toEqual([]);
    // B moves off zero: the policy changes, the reference (the base) does not.
    const prompts = [[1, 17, 42, 5]];
    const continuation = [[9, 33, 60]];
    const before = await scored(reference, prompts, continuation);
    for (const [i, v] of lora.variables.entries()) if (i % 2 === 1) v.assign(tf.fill(v.shape, 0.5));
    const after = await scored(policy, prompts, continuation);
    expect(Math.abs((after[0]?.[0] as number) - (before[0]?.[0] as number))).toBeGreaterThan(1e-3);
    expect(await scored(reference, prompts, continuation)).toEqual(before);
    expect(() => reference.copyFrom(policy)).toThrow(/frozen base/);
    reference.dispose();
    expect(baseVariables.every((v) => !v.isDisposed)).toBe(true);
    policy.dispose();
  });
});

it('refuses a context longer than the model positions, naming both', () => {
  const model = load('llama');
  expect(() => HfPolicy.create(model, 65)).toThrow('model.contextLength 65 does not fit the model (accepted: 1 to 64');
  model.dispose();
});
