import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { acceptJob } from '../queue/job.js';
import { runCli, schemaErrors } from '../test-support/run-cli.js';
import { TINY_MODEL_RUN, tinyLlama } from '../test-support/tiny-hf.js';

const bin = fileURLToPath(new URL('../../bin/bench.js', import.meta.url));

// One seed, one step per run.
const tiny = [
  '--env',
  'countdown',
  '--seeds',
  '1',
  '--budget',
  'episodes=8',
  '--workers',
  '1',
  '--reps',
  '100',
  ...TINY_MODEL_RUN,
];

describe('bench compare --model', () => {
  it('runs every method on the model folder with LoRA, names the model in results.json and report.md, and refuses a changed folder on --resume', async () => {
    const model = tinyLlama();
    const out = mkdtempSync(path.join(tmpdir(), 'compare-hf-out-'));
    const argv = ['compare', 'grpo', '--model', model, '--lora', 'rank=2,alpha=4', ...tiny, '--out', out];
    // The built CLI: the local pool forks its worker script from dist.
    await promisify(execFile)(process.execPath, [bin, ...argv, '--json'], { timeout: 150_000 });
    const doc = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(schemaErrors('compare', doc)).toEqual([]);
    expect(doc.config.model).toMatchObject({
      folder: model,
      name: path.basename(model),
      modelType: 'llama',
      lora: { rank: 2, alpha: 4, targets: ['q_proj', 'v_proj'] },
      sft: 'none',
    });
    expect(Object.keys(doc.config.model.files).sort()).toEqual([
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    // The run trained the model, through its adapters only, from the pretrained weights (no SFT start).
    const run = doc.runs[0];
    expect(run.method).toBe('grpo');
    const result = JSON.parse(readFileSync(path.join(out, 'runs', run.id, 'result.json'), 'utf8'));
    expect(result.model.modelType).toBe('llama');
    expect(result.model.trainedParameters).toBeGreaterThan(0);
    expect(result.model.trainedParameters).toBeLessThan(result.model.parameters / 100);
    expect(result.timings.sftSeconds ?? 0).toBe(0);
    expect(existsSync(path.join(out, 'runs', run.id, 'adapter', 'adapter_model.safetensors'))).toBe(true);
    // The credit map's loader rebuilds the character transformer: a model run gets a reason, not a crash.
    if (run.creditMap) expect(run.creditMap.status).toBe('absent');
    const report = readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(report).toMatch(
      new RegExp(
        `Model: ${path.basename(model)} \\(llama, ${doc.config.model.parameters} parameters; LoRA rank 2, alpha 4 on q_proj, v_proj`,
      ),
    );
    expect(report).toMatch(/sft-start \(the pretrained model .* without RL: no SFT start\)/);

    // Other weights in the same folder: --resume names the changed file (exit 2) instead of resuming.
    tinyLlama(2, model);
    const resumed = await runCli([...argv, '--resume'], { cwd: out });
    expect(resumed.code).toBe(2);
    expect(resumed.stderr).toMatch(/model\.safetensors \(changed\)/);
    expect(resumed.stderr).not.toMatch(/config\.json/);
  }, 180_000);

  it('refuses, before any run, what bench train --model refuses, by the same message (exit 2)', async () => {
    const model = tinyLlama();
    const out = mkdtempSync(path.join(tmpdir(), 'compare-hf-refused-'));
    // PPO needs a value head, which a Hugging Face model does not have here.
    const train = await runCli(['train', 'ppo', '--env', 'countdown', '--model', model], { cwd: out });
    expect(train.code).toBe(2);
    expect(train.stderr).toMatch(/estimator ppo-gae/);
    const compare = await runCli(['compare', 'grpo', 'ppo', '--model', model, ...tiny, '--out', path.join(out, 'c')], {
      cwd: out,
    });
    expect(compare.code).toBe(2);
    expect(compare.stderr).toContain(train.stderr.trim().replace(/^error: /, ''));
    expect(existsSync(path.join(out, 'c'))).toBe(false);
    const sft = await runCli(['compare', 'grpo', '--sft', 'cache', ...tiny, '--out', path.join(out, 'd')], { cwd: out });
    expect(sft.code).toBe(2);
    expect(sft.stderr).toMatch(/--sft needs --model/);
    const lora = await runCli(['compare', 'grpo', '--lora', 'rank=2', ...tiny, '--out', path.join(out, 'e')], { cwd: out });
    expect(lora.code).toBe(2);
    expect(lora.stderr).toMatch(/--lora needs --model/);
  }, 60_000);

  it("carries the model to a queue worker: a folder inside the worker's folder with its file hashes; others refused by field", () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'worker-folder-'));
    const setup = { cwd: '/project', folder, plugins: [] };
    const model = {
      folder: path.join(folder, 'my-model'),
      name: 'my-model',
      modelType: 'llama',
      parameters: 1000,
      lora: { rank: 2, alpha: 4, targets: ['q_proj', 'v_proj'] },
      sft: 'none',
      files: { 'config.json': 'a'.repeat(64) },
    };
    const job = (extra: Record<string, unknown>) => ({
      unit: { id: 'grpo__countdown__s1', method: 'grpo', env: 'countdown', seed: 1 },
      fingerprint: '0123456789abcdef',
      backend: 'wasm',
      kernels: 'fast',
      threads: 1,
      budget: { episodes: 8 },
      overrides: {},
      ...extra,
    });
    expect(acceptJob(job({ model }), setup).model).toEqual(model);
    expect(() => acceptJob(job({ model: { ...model, folder: '/etc' } }), setup)).toThrow(/model\.folder .* outside/);
    expect(() => acceptJob(job({ model: { ...model, files: { 'config.json': 'x' } } }), setup)).toThrow(
      /model\.files\.config\.json/,
    );
    expect(() => acceptJob(job({ model: { ...model, sft: 'maybe' } }), setup)).toThrow(/model\.sft .*accepted cache, none/);
  });
});
