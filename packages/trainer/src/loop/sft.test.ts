import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { Rng } from '@policy-lab/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { createPolicy } from '../model/transformer.js';
import { echoEnv, meanBaseline, TINY } from '../test-support/tiny.js';
import { CharTokenizer } from '../tokenizer/char-tokenizer.js';
import { resolveTrainConfig } from './config.js';
import { sftCacheKey, sftWarmStart } from './sft.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

/** The pid of a process that has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('SFT warm start lock', () => {
  it('breaks at once the lock left by a killed process (its owner pid is dead) and builds the checkpoint', async () => {
    const method = { name: 'm', summary: 'm', estimator: meanBaseline.name, loss: 'ppo-clip' };
    const config = resolveTrainConfig({ method, env: echoEnv, seed: 1, budget: { episodes: 24 } }, { ...TINY, sftSteps: 2 });
    const tokenizer = CharTokenizer.fromAlphabet(echoEnv.alphabet?.() ?? '');
    const policy = createPolicy({ ...config.model, vocabSize: tokenizer.vocabSize }, Rng.seeded(1).split('init'));
    const cacheDir = mkdtempSync(path.join(tmpdir(), 'sft-lock-'));
    const file = path.join(cacheDir, `${echoEnv.name}-${sftCacheKey(echoEnv, tokenizer, config)}.safetensors`);
    // What a kill -9 during the warm start leaves: the lock, its owner gone.
    writeFileSync(
      `${file}.lock`,
      JSON.stringify({ pid: deadPid(), host: hostname(), started: new Date().toISOString(), purpose: 'sft' }),
    );
    const started = performance.now();
    const result = await sftWarmStart(policy, tokenizer, echoEnv, config, { cacheDir, names: policy.weightNames() });
    expect(result.cached).toBe(false);
    expect(result.file).toBe(file);
    // The old lock waited 30 minutes for a stale lock; a dead owner's lock is broken without waiting.
    expect(performance.now() - started).toBeLessThan(10_000);
    policy.dispose?.();
  }, 20_000);
});
