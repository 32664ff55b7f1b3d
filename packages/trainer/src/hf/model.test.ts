import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Rng } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { decodeSafetensors, loadSafetensors, saveSafetensors } from '../checkpoint/safetensors.js';
import { fixedBatchLosses } from '../test-support/hf.js';
import { temporaryFolder } from '../test-support/tiny.js';
import { parseHfConfig, rotaryFrequencies } from './config.js';
import { disposeCache, HfCausalLM } from './model.js';
import { TINY_HF_KINDS, type TinyHfKind, tinyHfConfig, tinyHfTensors, writeTinyHfCheckpoint } from './tiny-checkpoints.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'stock' });
});

function tiny(kind: TinyHfKind, options: Parameters<typeof writeTinyHfCheckpoint>[2] = {}): string {
  const folder = temporaryFolder(`hf-${kind}-`);
  writeTinyHfCheckpoint(folder, kind, options);
  return folder;
}

const IDS = [
  [1, 17, 42, 5, 9, 33, 60, 2, 11, 48],
  [1, 3, 3, 63, 20, 7, 31, 0, 25, 14],
];

async function logitsOf(model: HfCausalLM, ids: number[][] = IDS): Promise<Float32Array> {
  const input = tf.tensor2d(ids, [ids.length, (ids[0] as number[]).length], 'int32');
  const logits = model.logits(input);
  const values = (await logits.data()) as Float32Array;
  tf.dispose([input, logits]);
  return values;
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

describe.each(TINY_HF_KINDS)('HfCausalLM (%s)', (kind) => {
  it('gives the same logits on two loads, and a row the same alone as in a batch', async () => {
    const folder = tiny(kind);
    const first = HfCausalLM.load(folder);
    const second = HfCausalLM.load(folder);
    const a = await logitsOf(first);
    expect(a.every(Number.isFinite)).toBe(true);
    expect(Array.from(await logitsOf(second))).toEqual(Array.from(a));
    const alone = await logitsOf(first, [IDS[1] as number[]]);
    expect(maxDifference(alone, a.subarray(a.length / 2))).toBeLessThan(1e-5);
    // A change of one early token changes later logits (attention reads the past).
    const changed = await logitsOf(first, [[1, 18, ...(IDS[0] as number[]).slice(2)]]);
    expect(maxDifference(changed.subarray(-64), a.subarray(9 * 64, 10 * 64))).toBeGreaterThan(1e-3);
    first.dispose();
    second.dispose();
  });

  it('decodes through the KV cache with the full forward logits, for left-padded ragged prompts', async () => {
    const model = HfCausalLM.load(tiny(kind));
    const prompts = [(IDS[0] as number[]).slice(0, 6), (IDS[1] as number[]).slice(0, 3)];
    const continuation = [
      [8, 13, 21, 34],
      [55, 4, 19, 40],
    ];
    let cache = model.prefill(prompts);
    const cached: Float32Array[][] = [[], []];
    for (let step = 0; step <= continuation[0].length; step++) {
      const values = (await cache.logits.data()) as Float32Array;
      for (let r = 0; r < 2; r++) cached[r]?.push(values.slice(r * 64, (r + 1) * 64));
      if (step === continuation[0].length) break;
      const next = model.decode(
        cache,
        continuation.map((row) => row[step] as number),
      );
      disposeCache(cache);
      cache = next;
    }
    disposeCache(cache);
    for (let r = 0; r < 2; r++) {
      const sequence = [...(prompts[r] as number[]), ...(continuation[r] as number[])];
      const full = await logitsOf(model, [sequence]);
      const start = (prompts[r] as number[]).length - 1;
      (cached[r] as Float32Array[]).forEach((logits, step) => {
        const offset = (start + step) * 64;
        expect(maxDifference(logits, full.subarray(offset, offset + 64))).toBeLessThan(1e-4);
      });
    }
    model.dispose();
  });

  it('saves in the same names and layout and reloads to identical logits', async () => {
    const source = tiny(kind, { sharded: false, dtype: 'F32' });
    writeFileSync(path.join(source, 'tokenizer.json'), '{"model":{}}');
    const model = HfCausalLM.load(source);
    const saved = temporaryFolder('hf-saved-');
    await model.save(saved);
    expect(readdirSync(saved).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    const original = loadSafetensors(path.join(source, 'model.safetensors'));
    const written = loadSafetensors(path.join(saved, 'model.safetensors'));
    expect(written.metadata).toEqual({ format: 'pt' });
    expect(Object.keys(written.tensors).sort()).toEqual(Object.keys(original.tensors).sort());
    for (const [name, tensor] of Object.entries(original.tensors)) {
      expect(written.tensors[name]?.shape).toEqual(tensor.shape);
      expect(written.tensors[name]?.data).toEqual(tensor.data);
    }
    const reloaded = HfCausalLM.load(saved);
    expect(Array.from(await logitsOf(reloaded))).toEqual(Array.from(await logitsOf(model)));
    expect(JSON.parse(readFileSync(path.join(saved, 'config.json'), 'utf8')).model_type).toBe(kind);
    model.dispose();
    reloaded.dispose();
  });

  it('lowers the loss of one fixed batch in a few Adam steps, every weight reached by the loss', async () => {
    const model = HfCausalLM.load(tiny(kind));
    const losses = await fixedBatchLosses(model, IDS, 6, 0.01);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1) as number).toBeLessThan((losses[0] as number) * 0.8);
    model.dispose();
  });
});

describe('HF checkpoints: files', () => {
  it('reads a sharded checkpoint as the same model as one file', async () => {
    const sharded = HfCausalLM.load(tiny('qwen2', { sharded: true }));
    const single = HfCausalLM.load(tiny('qwen2', { sharded: false }));
    expect(Array.from(await logitsOf(sharded))).toEqual(Array.from(await logitsOf(single)));
    sharded.dispose();
    single.dispose();
  });

  it('builds from tensors in memory the model the files hold, and names a missing one', async () => {
    for (const kind of ['gpt2', 'llama'] as const) {
      const config = tinyHfConfig(kind);
      const fromFile = HfCausalLM.load(tiny(kind, { sharded: false, dtype: 'F32' }));
      const inMemory = HfCausalLM.fromTensors(config, tinyHfTensors(config));
      expect(Array.from(await logitsOf(inMemory))).toEqual(Array.from(await logitsOf(fromFile)));
      fromFile.dispose();
      inMemory.dispose();
    }
    const config = tinyHfConfig('qwen2');
    const tensors = tinyHfTensors(config);
    delete tensors['model.layers.0.self_attn.k_proj.bias'];
    expect(() => HfCausalLM.fromTensors(config, tensors)).toThrow(
      "tensor 'model.layers.0.self_attn.k_proj.bias' is missing (qwen2 with this config needs it)",
    );
  });

  it('reads bf16 and f16 weights as the float32 values they hold', async () => {
    for (const dtype of ['BF16', 'F16'] as const) {
      const folder = tiny('qwen3', { dtype });
      const reduced = HfCausalLM.load(folder);
      const exact = HfCausalLM.load(tiny('qwen3', { dtype: 'F32' }));
      const fromFile = decodeSafetensors(readFileSync(path.join(folder, 'model.safetensors'))).tensors;
      const loaded = await reduced.tensors();
      for (const [name, tensor] of Object.entries(fromFile)) expect(loaded[name]?.data).toEqual(tensor.data);
      // bf16 keeps 8 significant bits, f16 11: the logits move, a little.
      const difference = maxDifference(await logitsOf(reduced), await logitsOf(exact));
      expect(difference).toBeGreaterThan(0);
      expect(difference).toBeLessThan(dtype === 'BF16' ? 0.2 : 0.02);
      reduced.dispose();
      exact.dispose();
    }
  });

  it('reads GPT-2 tensors stored without the transformer. prefix (the original upload) and saves them so', async () => {
    const folder = tiny('gpt2');
    const file = path.join(folder, 'model.safetensors');
    const { tensors } = loadSafetensors(file);
    const bare = Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name.replace(/^transformer\./, ''), t]));
    saveSafetensors(file, bare, { format: 'pt' });
    const model = HfCausalLM.load(folder);
    const saved = temporaryFolder('hf-saved-');
    await model.save(saved);
    expect(Object.keys(loadSafetensors(path.join(saved, 'model.safetensors')).tensors).sort()).toEqual(Object.keys(bare).sort());
    model.dispose();
  });

  it('names a missing tensor and the file it was looked for in', () => {
    const single = tiny('llama');
    const file = path.join(single, 'model.safetensors');
    const { tensors } = loadSafetensors(file);
    delete tensors['model.layers.1.mlp.up_proj.weight'];
    saveSafetensors(file, tensors);
    expect(() => HfCausalLM.load(single)).toThrow(
      `${file}: tensor 'model.layers.1.mlp.up_proj.weight' is missing (llama with this config.json needs it)`,
    );
    expect(() => HfCausalLM.load(single)).toThrow(expect.objectContaining({ exitCode: 2 }));

    const sharded = tiny('qwen2', { sharded: true });
    const index = path.join(sharded, 'model.safetensors.index.json');
    const json = JSON.parse(readFileSync(index, 'utf8'));
    const shard = json.weight_map['model.norm.weight'];
    delete json.weight_map['model.norm.weight'];
    writeFileSync(index, JSON.stringify(json));
    expect(() => HfCausalLM.load(sharded)).toThrow(`${index} (its weight_map): tensor 'model.norm.weight' is missing`);
    // Listed in the index, absent from the shard it names.
    const other = readdirSync(sharded).find((name) => name.startsWith('model-') && name !== shard) as string;
    json.weight_map['model.norm.weight'] = other;
    writeFileSync(index, JSON.stringify(json));
    expect(() => HfCausalLM.load(sharded)).toThrow(
      `${path.join(sharded, other)}: tensor 'model.norm.weight' is missing (model.safetensors.index.json names this file for it)`,
    );
    expect(() => HfCausalLM.load(temporaryFolder('hf-empty-'))).toThrow(/cannot read the model's config/);
  });

  it('refuses a model_type, rope scaling or activation it would run wrongly, by name', () => {
    expect(() => parseHfConfig({ ...tinyHfConfig('llama'), model_type: 'bert' })).toThrow(
      'config.json: model_type "bert" is not supported (accepted: llama, mistral, qwen2, qwen3, gpt2)',
    );
    expect(() => parseHfConfig({ ...tinyHfConfig('llama'), rope_scaling: { rope_type: 'yarn', factor: 4 } })).toThrow(
      'config.json: rope_scaling type "yarn" is not supported (accepted: default, linear, llama3)',
    );
    expect(() => parseHfConfig({ ...tinyHfConfig('llama'), hidden_act: 'gelu' })).toThrow(
      'config.json: hidden_act "gelu" is not supported (accepted: silu)',
    );
    expect(() => parseHfConfig({ ...tinyHfConfig('llama'), num_key_value_heads: 3 })).toThrow(/num_key_value_heads 3/);
    expect(() => parseHfConfig({ ...tinyHfConfig('llama'), model_type: 'bert' })).toThrow(
      expect.objectContaining({ exitCode: 2 }),
    );
  });

  it('reads the Llama-family flags from config.json', () => {
    const llama = parseHfConfig(tinyHfConfig('llama'));
    expect(llama).toMatchObject({ family: 'llama', heads: 4, kvHeads: 2, headDim: 8, tieWordEmbeddings: false, qkvBias: false });
    expect(parseHfConfig(tinyHfConfig('qwen2'))).toMatchObject({ qkvBias: true, outputBias: false, tieWordEmbeddings: true });
    expect(parseHfConfig(tinyHfConfig('qwen2')).slidingWindow).toBeUndefined();
    expect(parseHfConfig(tinyHfConfig('qwen3'))).toMatchObject({ qkNorm: true, headDim: 12 });
    expect(parseHfConfig({ ...tinyHfConfig('llama'), model_type: 'mistral', sliding_window: 16 }).slidingWindow).toBe(16);
    expect(parseHfConfig(tinyHfConfig('gpt2'))).toMatchObject({ family: 'gpt2', intermediateSize: 128, tieWordEmbeddings: true });
  });

  it('scales rotary frequencies as linear and llama3 do', () => {
    const base = { ...tinyHfConfig('llama'), rope_scaling: null, rope_theta: 10000 };
    const plain = rotaryFrequencies(parseHfConfig(base));
    expect(plain[0]).toBe(1);
    expect(plain[1]).toBeCloseTo(10000 ** (-2 / 8), 12);
    const linear = rotaryFrequencies(parseHfConfig({ ...base, rope_scaling: { type: 'linear', factor: 4 } }));
    linear.forEach((f, i) => expect(f).toBeCloseTo((plain[i] as number) / 4, 12));
    // llama3 with wavelengths 2 pi / f: below 64 / 4 = 16 kept, above 64 / 1 = 64 divided by 8, between blended.
    const scaling = {
      rope_type: 'llama3',
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 64,
    };
    const llama3 = rotaryFrequencies(parseHfConfig({ ...base, rope_scaling: scaling }));
    plain.forEach((f, i) => {
      const wavelength = (2 * Math.PI) / f;
      const got = llama3[i] as number;
      if (wavelength < 16) expect(got).toBe(f);
      else if (wavelength > 64) expect(got).toBeCloseTo(f / 8, 12);
      else {
        const smooth = (64 / wavelength - 1) / 3;
        expect(got).toBeCloseTo((1 - smooth) * (f / 8) + smooth * f, 12);
      }
    });
    // The wavelengths (6.3, 63, 628, 6283) fall in all three bands.
    const bands = Array.from(plain, (f) => (2 * Math.PI) / f).map((w) => (w < 16 ? 'kept' : w > 64 ? 'divided' : 'blended'));
    expect(new Set(bands)).toEqual(new Set(['kept', 'blended', 'divided']));
  });

  it('generates greedily through the cache the tokens the full forward picks', async () => {
    const model = HfCausalLM.load(tiny('llama'));
    const [generated] = await model.generate([[1, 17, 42]], { maxNewTokens: 5, greedy: true });
    const sequence = [1, 17, 42];
    for (let i = 0; i < 5; i++) {
      const logits = await logitsOf(model, [sequence]);
      const last = logits.subarray(-64);
      sequence.push(last.indexOf(Math.max(...last)));
    }
    expect(generated).toEqual(sequence.slice(3));
    const sampled = await model.generate([[1, 17, 42]], { maxNewTokens: 5, rng: Rng.seeded(3) });
    const again = await model.generate([[1, 17, 42]], { maxNewTokens: 5, rng: Rng.seeded(3) });
    expect(sampled).toEqual(again);
    model.dispose();
  });
});
