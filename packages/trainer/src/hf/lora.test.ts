import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Rng } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { loadSafetensors, type NamedTensor } from '../checkpoint/safetensors.js';
import { fixedBatchLosses } from '../test-support/hf.js';
import { temporaryFolder } from '../test-support/tiny.js';
import { LoraAdapters } from './lora.js';
import { HfCausalLM } from './model.js';
import { tinyHfConfig, writeTinyHfCheckpoint } from './tiny-checkpoints.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'stock' });
});

const IDS = [
  [1, 17, 42, 5, 9, 33, 60, 2, 11, 48],
  [1, 3, 3, 63, 20, 7, 31, 0, 25, 14],
];

function tiny(kind: 'llama' | 'gpt2'): string {
  const folder = temporaryFolder(`lora-${kind}-`);
  writeTinyHfCheckpoint(folder, kind, { sharded: false, dtype: 'F32' });
  return folder;
}

async function logitsOf(model: HfCausalLM): Promise<Float32Array> {
  const input = tf.tensor2d(IDS, [2, 10], 'int32');
  const logits = model.logits(input);
  const values = (await logits.data()) as Float32Array;
  tf.dispose([input, logits]);
  return values;
}

const train = (model: HfCausalLM, steps: number) => fixedBatchLosses(model, IDS, steps, 0.02);

function maxDifference(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

describe.each(['llama', 'gpt2'] as const)('LoRA (%s)', (kind) => {
  const targets = kind === 'llama' ? ['q_proj', 'v_proj', 'down_proj'] : ['c_attn', 'c_proj'];

  it('starts at the base model, trains the adapters only (base bit-identical), and lowers the loss', async () => {
    const model = HfCausalLM.load(tiny(kind));
    const before = await logitsOf(model);
    const baseBefore = await Promise.all(model.baseVariables.map(async (v) => (await v.data()).slice()));
    const lora = LoraAdapters.attach(model, { rank: 4, alpha: 8, targets }, Rng.seeded(2));
    expect(model.variables).toEqual(lora.variables);
    expect(lora.modules.length).toBe(6); // 2 layers x 3 projections
    expect(Array.from(await logitsOf(model))).toEqual(Array.from(before)); // B = 0
    const losses = await train(model, 8);
    expect(losses.at(-1) as number).toBeLessThan((losses[0] as number) * 0.9);
    const baseAfter = await Promise.all(model.baseVariables.map(async (v) => await v.data()));
    baseAfter.forEach((values, i) => expect(values).toEqual(baseBefore[i]));
    const bs = lora.variables.filter((_, i) => i % 2 === 1);
    for (const b of bs) expect(Math.max(...Array.from(await b.data()).map(Math.abs))).toBeGreaterThan(0);
    model.dispose();
  });

  it('saves in PEFT layout, reloads onto a fresh base to identical logits, and equals the merged weights', async () => {
    const folder = tiny(kind);
    const model = HfCausalLM.load(folder);
    const lora = LoraAdapters.attach(model, { rank: 4, alpha: 8, targets }, Rng.seeded(2));
    await train(model, 3);
    const adapterFolder = temporaryFolder('lora-saved-');
    await lora.save(adapterFolder, folder);
    const config = JSON.parse(readFileSync(path.join(adapterFolder, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({
      peft_type: 'LORA',
      r: 4,
      lora_alpha: 8,
      target_modules: targets,
      fan_in_fan_out: kind === 'gpt2',
    });
    const { tensors } = loadSafetensors(path.join(adapterFolder, 'adapter_model.safetensors'));
    const first =
      kind === 'llama' ? 'base_model.model.model.layers.0.self_attn.q_proj' : 'base_model.model.transformer.h.0.attn.c_attn';
    expect(tensors[`${first}.lora_A.weight`]?.shape).toEqual([4, 32]);
    expect(tensors[`${first}.lora_B.weight`]?.shape).toEqual(kind === 'llama' ? [32, 4] : [96, 4]);

    const trained = await logitsOf(model);
    const fresh = HfCausalLM.load(folder);
    LoraAdapters.load(fresh, adapterFolder);
    expect(Array.from(await logitsOf(fresh))).toEqual(Array.from(trained));

    // Merged as PEFT merges: W [out, in] += scale B A (Conv1D's [in, out]: the transpose).
    const base = loadSafetensors(path.join(folder, 'model.safetensors')).tensors;
    const merged: Record<string, NamedTensor> = { ...base };
    for (const name of Object.keys(tensors).filter((n) => n.endsWith('.lora_A.weight'))) {
      const module = name.slice('base_model.model.'.length, -'.lora_A.weight'.length);
      const a = tensors[name] as NamedTensor;
      const b = tensors[name.replace('lora_A', 'lora_B')] as NamedTensor;
      const delta = tf.tidy(() => {
        const product = tf.mul(
          tf.matMul(tf.tensor2d(b.data, b.shape as [number, number]), tf.tensor2d(a.data, a.shape as [number, number])),
          8 / 4,
        );
        return kind === 'gpt2' ? tf.transpose(product) : product;
      });
      const weight = base[`${module}.weight`] as NamedTensor;
      const values = (await delta.data()) as Float32Array;
      delta.dispose();
      merged[`${module}.weight`] = { shape: weight.shape, data: weight.data.map((w, i) => w + (values[i] as number)) };
    }
    const mergedModel = HfCausalLM.fromTensors(tinyHfConfig(kind), merged);
    expect(maxDifference(await logitsOf(mergedModel), trained)).toBeLessThan(1e-4);
    for (const m of [model, fresh, mergedModel]) m.dispose();
  });
});

describe('LoRA options', () => {
  it('refuses an unknown target, a bad rank and a second attachment by name (exit 2)', () => {
    const model = HfCausalLM.load(tiny('llama'));
    expect(() => LoraAdapters.attach(model, { rank: 4, alpha: 8, targets: ['c_attn'] }, Rng.seeded(1))).toThrow(
      'LoRA options: target "c_attn" is not a llama projection (accepted: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)',
    );
    expect(() => LoraAdapters.attach(model, { rank: 0, alpha: 8, targets: ['q_proj'] }, Rng.seeded(1))).toThrow(
      expect.objectContaining({ exitCode: 2, message: 'LoRA options: rank 0 is not a positive integer' }),
    );
    LoraAdapters.attach(model, { rank: 2, alpha: 2, targets: ['q_proj'] }, Rng.seeded(1));
    expect(() => LoraAdapters.attach(model, { rank: 2, alpha: 2, targets: ['v_proj'] }, Rng.seeded(1))).toThrow(
      'this model already has LoRA adapters attached',
    );
    model.dispose();
  });
});
