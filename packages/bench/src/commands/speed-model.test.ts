/**
 * `bench speed --model <folder>`: the train step and decoding of a Hugging Face model folder (a
 * tiny random Llama over GPT-2's vocabulary), its sizes read from its config, LoRA, and the
 * refusals.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, schemaErrors } from '../test-support/run-cli.js';
import { tinyLlama } from '../test-support/tiny-hf.js';

let folder: string;
beforeAll(() => {
  folder = tinyLlama(3);
});

const small = ['--batch', '2', '--context', '8', '--iterations', '2', '--threads', '1'];

describe('bench speed --model', () => {
  it("times a model folder's train step, full and under LoRA, with its sizes from config.json", async () => {
    const full = await runCli(['speed', 'train-step', '--model', folder, ...small, '--json']);
    expect(full.code, full.stderr).toBe(0);
    const doc = JSON.parse(full.stdout);
    expect(schemaErrors('speed', doc)).toEqual([]);
    // The tiny Llama: hidden 32, 2 layers, GPT-2's vocabulary.
    expect(doc).toMatchObject({ suite: 'train-step', dim: 32, layers: 2, context: 8, batch: 2 });
    expect(doc.model.vocabSize).toBeGreaterThan(50_000);
    expect(doc.msPerStep).toBeGreaterThan(0);
    expect(doc.tokensPerSecond).toBeCloseTo((2 * 8 * 1000) / doc.msPerStep, 6);

    const lora = await runCli(['speed', 'train-step', '--model', folder, '--lora', 'rank=2', ...small, '--json']);
    expect(lora.code, lora.stderr).toBe(0);
    const adapted = JSON.parse(lora.stdout);
    // Rank 2 on q_proj and v_proj of 2 layers: far fewer trained parameters than the whole model.
    expect(adapted.model.lora).toMatchObject({ rank: 2 });
    expect(adapted.model.trainedParameters).toBeGreaterThan(0);
    expect(adapted.model.trainedParameters).toBeLessThan(doc.model.trainedParameters / 100);
  });

  it('decodes with the KV cache and says what it timed in the text output', async () => {
    const result = await runCli(['speed', 'decode', '--model', folder, '--batch', '2', '--tokens', '4', '--iterations', '2']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`decode model ${folder} D=32`);
    expect(result.stdout).toMatch(/fast +[\d.]+ ms +\d+ tokens\/s/);
  });

  it('refuses by name what it cannot time (exit 2)', async () => {
    const cases: [string[], RegExp][] = [
      [['speed', 'train-step', '--model', folder, '--peer', 'torch'], /--peer torch implements the reference transformer/],
      [['speed', 'rollout', '--model', folder], /--model times train-step and decode, not rollout/],
      [['speed', 'train-step', '--model', folder, '--dim', '64'], /--dim comes from the model's config.json/],
      [['speed', 'train-step', '--lora'], /--lora needs --model/],
      // 4096 rows of 64 tokens over a 50k vocabulary: the logits alone exceed the wasm heap.
      [
        ['speed', 'train-step', '--model', folder, '--batch', '4096', '--context', '64'],
        /does not fit the wasm backend's memory/,
      ],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
    }
  });
});
