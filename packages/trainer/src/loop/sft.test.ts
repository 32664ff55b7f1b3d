import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { Rng } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it, vi } from 'vitest';
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

function setup() {
  const method = { name: 'm', summary: 'm', estimator: meanBaseline.name, loss: 'ppo-clip' };
  const config = resolveTrainConfig({ method, env: echoEnv, seed: 1, budget: { episodes: 24 } }, { ...TINY, sftSteps: 2 });
  const tokenizer = CharTokenizer.fromAlphabet(echoEnv.alphabet?.() ?? '');
  const policy = createPolicy({ ...config.model, vocabSize: tokenizer.vocabSize }, Rng.seeded(1).split('init'));
  const cacheDir = mkdtempSync(path.join(tmpdir(), 'sft-lock-'));
  const file = path.join(cacheDir, `${echoEnv.name}-${sftCacheKey(echoEnv, tokenizer, config)}.safetensors`);
  return { config, tokenizer, policy, cacheDir, file };
}

describe('SFT warm start lock', () => {
  it('says on stderr what it waits for when a live process builds the same checkpoint', async () => {
    const { config, tokenizer, policy, cacheDir, file } = setup();
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    writeFileSync(
      `${file}.lock`,
      JSON.stringify({ pid: holder.pid, host: hostname(), started: 'then', purpose: 'sft warm start' }),
    );
    const lines: string[] = [];
    const write = vi.spyOn(process.stderr, 'write').mockImplementation((text) => {
      lines.push(String(text));
      holder.kill('SIGKILL'); // the builder dies after the first report; the waiter then takes over
      return true;
    });
    try {
      const result = await sftWarmStart(policy, tokenizer, echoEnv, config, { cacheDir, names: policy.weightNames() });
      expect(result.cached).toBe(false);
    } finally {
      write.mockRestore();
      holder.kill('SIGKILL');
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(
      `waiting ${lines[0]?.match(/^waiting (\d+) s/)?.[1]} s for the SFT warm start ${file}, being built by pid ${holder.pid} on host ${hostname()} since then (sft warm start)\n`,
    );
    expect(Number(lines[0]?.match(/^waiting (\d+) s/)?.[1])).toBeGreaterThanOrEqual(3);
    policy.dispose();
  }, 20_000);

  it('breaks at once the lock left by a killed process (its owner pid is dead) and builds the checkpoint', async () => {
    const { config, tokenizer, policy, cacheDir, file } = setup();
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
    policy.dispose();
  }, 20_000);
});

describe('SFT cache integrity', () => {
  it('a flipped bit in a cached SFT start is refused, naming the file; the intact cache loads', async () => {
    const { config, tokenizer, policy, cacheDir, file } = setup();
    const names = policy.weightNames();
    expect((await sftWarmStart(policy, tokenizer, echoEnv, config, { cacheDir, names })).cached).toBe(false);
    expect((await sftWarmStart(policy, tokenizer, echoEnv, config, { cacheDir, names })).cached).toBe(true);
    const bytes = readFileSync(file);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 5] = (flipped[flipped.length - 5] as number) ^ 0x08;
    writeFileSync(file, flipped);
    await expect(sftWarmStart(policy, tokenizer, echoEnv, config, { cacheDir, names })).rejects.toThrow(
      `${file}: checksum does not match its contents`,
    );
    policy.dispose();
  });
});

describe('SFT start under a soft prompt', () => {
  it('trains under the given starting vectors, held fixed, and caches that start under a key holding their values', async () => {
    const { config, tokenizer, policy, cacheDir, file } = setup();
    const names = policy.weightNames();
    const prefix = tf.tensor2d(
      Array.from({ length: 3 * config.model.dim }, (_, i) => Math.sin(i)),
      [3, config.model.dim],
    );
    const before = Array.from(prefix.dataSync());
    const result = await sftWarmStart(policy, tokenizer, echoEnv, config, { cacheDir, names, prefix });
    expect(result.cached).toBe(false);
    expect(Array.from(prefix.dataSync())).toEqual(before);
    // Its own file, not the start of a run without vectors; the same vectors find it again.
    expect(result.file).not.toBe(file);
    expect(existsSync(file)).toBe(false);
    expect(path.basename(result.file as string)).toBe(`echo-${sftCacheKey(echoEnv, tokenizer, config, prefix)}.safetensors`);
    expect((await sftWarmStart(policy, tokenizer, echoEnv, config, { cacheDir, names, prefix })).cached).toBe(true);
    const other = tf.add(prefix, 0.5) as tf.Tensor2D;
    expect(sftCacheKey(echoEnv, tokenizer, config, other)).not.toBe(sftCacheKey(echoEnv, tokenizer, config, prefix));
    tf.dispose([prefix, other]);
    policy.dispose();
  });
});
