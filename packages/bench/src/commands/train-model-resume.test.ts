import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../test-support/run-cli.js';
import { TINY_MODEL_RUN, tinyLlama } from '../test-support/tiny-hf.js';

// A checkpoint and an evaluation after every step.
const tiny = [...TINY_MODEL_RUN, '--set', 'checkpointEvery=1', '--set', 'evalEvery=1', '--seed', '3'];
const bin = fileURLToPath(new URL('../../bin/bench.js', import.meta.url));

/** What a run's result.json must share with an uninterrupted one: everything but wall-clock time and its own paths. */
const deterministic = (doc: Record<string, any>) => ({
  steps: doc.steps,
  initial: doc.initial,
  final: doc.final,
  curve: doc.curve,
  diagnostics: doc.diagnostics,
  consumed: { ...doc.budget.consumed, seconds: 0 },
  trainedParameters: doc.model.trainedParameters,
});

/** A resumed run's result against an uninterrupted one's: the same numbers, and the same bytes of `saved` (the model or adapters). */
function expectSameRun(
  resumed: { code: number; stdout: string },
  reference: { stdout: string },
  saved: [string, string],
  steps: number,
) {
  expect(resumed.code).toBe(0);
  const doc = JSON.parse(resumed.stdout);
  expect(doc.steps).toBe(steps);
  expect(deterministic(doc)).toEqual(deterministic(JSON.parse(reference.stdout)));
  // Buffer.equals: a deep toEqual of a 13 MB buffer takes minutes.
  expect(readFileSync(saved[0]).equals(readFileSync(saved[1]))).toBe(true);
}

const train = (model: string, out: string, episodes: number, extra: string[] = []) =>
  runCli(
    [
      'train',
      'grpo',
      '--env',
      'countdown',
      '--model',
      model,
      ...tiny,
      '--budget',
      `episodes=${episodes}`,
      '--out',
      out,
      '--json',
      ...extra,
    ],
    {
      cwd: out,
    },
  );

describe('bench train --model --resume', () => {
  it('refuses to resume against a model folder whose weights, config or tokenizer changed, naming the file (exit 2)', async () => {
    const model = tinyLlama();
    const out = mkdtempSync(path.join(tmpdir(), 'resume-hf-changed-'));
    expect((await train(model, out, 8)).code).toBe(0);
    // Other weights of the same shapes: the character of a user who re-downloaded or re-trained the folder.
    tinyLlama(2, model);
    const weights = await train(model, out, 16, ['--resume']);
    expect(weights.code).toBe(2);
    expect(weights.stderr).toMatch(/model\.safetensors/);
    expect(weights.stderr).not.toMatch(/config\.json/);
    // Back to the original weights, but a changed tokenizer file: that file is named.
    tinyLlama(1, model);
    const configFile = path.join(model, 'tokenizer_config.json');
    writeFileSync(configFile, JSON.stringify({ ...JSON.parse(readFileSync(configFile, 'utf8')), model_max_length: 77 }));
    const tokenizer = await train(model, out, 16, ['--resume']);
    expect(tokenizer.code).toBe(2);
    expect(tokenizer.stderr).toMatch(/tokenizer_config\.json/);
    expect(tokenizer.stderr).not.toMatch(/model\.safetensors/);
  }, 120_000);

  it('refuses to resume a LoRA run with another LoRA rank, naming it (exit 2)', async () => {
    const model = tinyLlama();
    const out = mkdtempSync(path.join(tmpdir(), 'resume-hf-lora-'));
    expect((await train(model, out, 8, ['--lora', 'rank=2,alpha=4'])).code).toBe(0);
    const rank = await train(model, out, 16, ['--resume', '--lora', 'rank=4,alpha=4']);
    expect(rank.code).toBe(2);
    expect(rank.stderr).toMatch(/lora/i);
    expect(rank.stderr).toMatch(/rank/);
  }, 120_000);

  it('a full fine-tune stopped after its step-1 checkpoint and resumed ends where an uninterrupted run ends', async () => {
    const model = tinyLlama();
    const whole = mkdtempSync(path.join(tmpdir(), 'resume-hf-whole-'));
    const reference = await train(model, whole, 16);
    expect(reference.code).toBe(0);
    const out = mkdtempSync(path.join(tmpdir(), 'resume-hf-part-'));
    expect((await train(model, out, 8)).code).toBe(0);
    const resumed = await train(model, out, 16, ['--resume']);
    expect(resumed.stderr).toBe('');
    const file = path.join('model', 'model.safetensors');
    expectSameRun(resumed, reference, [path.join(out, file), path.join(whole, file)], 2);
  }, 120_000);

  it('a LoRA run killed (SIGKILL) after a checkpoint and resumed ends where an uninterrupted run ends (built CLI)', async () => {
    const model = tinyLlama();
    const lora = ['--lora', 'rank=4,alpha=8,targets=q_proj,v_proj'];
    const whole = mkdtempSync(path.join(tmpdir(), 'resume-hf-lora-whole-'));
    const reference = await train(model, whole, 32, lora);
    expect(reference.code).toBe(0);
    const out = mkdtempSync(path.join(tmpdir(), 'resume-hf-lora-kill-'));
    const argv = [bin, 'train', 'grpo', '--env', 'countdown', '--model', model, ...tiny, ...lora, '--budget', 'episodes=32'];
    const child = spawn(process.execPath, [...argv, '--out', out, '--json'], { stdio: 'ignore' });
    const sidecar = path.join(out, 'checkpoint.json');
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => {
      const timer = setInterval(() => {
        if (existsSync(sidecar)) {
          clearInterval(timer);
          child.kill('SIGKILL');
        }
      }, 10);
      child.on('exit', (_code, signal) => {
        clearInterval(timer);
        resolve(signal);
      });
    });
    // Killed mid-run: a checkpoint, no result.
    expect(signal).toBe('SIGKILL');
    expect(existsSync(path.join(out, 'result.json'))).toBe(false);
    const killedAt = JSON.parse(readFileSync(sidecar, 'utf8')).step as number;
    expect(killedAt).toBeGreaterThanOrEqual(1);
    expect(killedAt).toBeLessThan(4);
    const resumed = await train(model, out, 32, [...lora, '--resume']);
    const file = path.join('adapter', 'adapter_model.safetensors');
    expectSameRun(resumed, reference, [path.join(out, file), path.join(whole, file)], 4);
  }, 180_000);
});
