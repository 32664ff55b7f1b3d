import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { runCli, schemaErrors } from '../test-support/run-cli.js';

const small = ['--dim', '16', '--batch', '2', '--iterations', '2'];

function torchAvailable(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('bench speed', () => {
  it('measures stock and fast kernels side by side, as JSON valid against the speed schema', async () => {
    const result = await runCli(['speed', 'train-step', ...small, '--kernels', 'both', '--json']);
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(schemaErrors('speed', doc)).toEqual([]);
    expect(doc).toMatchObject({ kind: 'speed', suite: 'train-step', backend: 'wasm', kernels: 'fast', dim: 16, batch: 2 });
    expect(doc.msPerStep).toBeGreaterThan(0);
    expect(doc.stock.msPerStep).toBeGreaterThan(0);
    expect(doc.speedupOverStock).toBeCloseTo(doc.stock.msPerStep / doc.msPerStep, 6);
  });

  it('measures decoding', async () => {
    const result = await runCli(['speed', 'decode', ...small, '--tokens', '4', '--json']);
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(schemaErrors('speed', doc)).toEqual([]);
    expect(doc.tokensPerSecond).toBeCloseTo((2 * 4 * 1000) / doc.msPerCall, 3);
  });

  it('runs the PyTorch peer when torch is installed, and says how to install it otherwise', async () => {
    const result = await runCli(['speed', 'train-step', ...small, '--peer', 'torch', '--json']);
    if (torchAvailable()) {
      expect(result.code).toBe(0);
      const doc = JSON.parse(result.stdout);
      expect(doc.peer.msPerStep).toBeGreaterThan(0);
      expect(doc.ratioToPeer).toBeCloseTo(doc.msPerStep / doc.peer.msPerStep, 6);
    } else {
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/apt-get install -y python3-torch libopenblas0-pthread/);
    }
  });

  it('measures rollout throughput on an environment and advantage throughput of an estimator', async () => {
    const rollout = await runCli(['speed', 'rollout', '--env', 'countdown', '--batch', '4', '--iterations', '2', '--json']);
    expect(rollout.code).toBe(0);
    const doc = JSON.parse(rollout.stdout);
    expect(schemaErrors('speed', doc)).toEqual([]);
    expect(doc.episodesPerSecond).toBeCloseTo((4 / doc.msPerCall) * 1000, 6);
    const advantages = await runCli([
      'speed',
      'advantages',
      '--estimator',
      'gdpo',
      '--batch',
      '8',
      '--iterations',
      '5',
      '--json',
    ]);
    expect(advantages.code).toBe(0);
    const adv = JSON.parse(advantages.stdout);
    expect(schemaErrors('speed', adv)).toEqual([]);
    expect(adv.groupsPerSecond).toBeCloseTo((8 / adv.msPerCall) * 1000, 6);
    expect((await runCli(['speed', 'advantages', '--estimator', 'nope'])).stderr).toMatch(/unknown estimator 'nope'/);
  });

  it('refuses bad input', async () => {
    expect((await runCli(['speed', 'train-step', '--dim', '10'])).stderr).toMatch(/must be divisible by 4/);
    expect((await runCli(['speed', 'nope'])).code).toBe(2);
    expect((await runCli(['speed', '--peer', 'jax'])).stderr).toMatch(/unknown --peer 'jax': accepted torch/);
  });

  it('refuses --threads it cannot honour instead of silently running 2', async () => {
    for (const threads of ['5', '3', '0']) {
      const result = await runCli(['speed', 'train-step', ...small, '--threads', threads]);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(`bench: bad --threads '${threads}': accepted 1, 2 (threads of the fast wasm kernels)\n`);
    }
  });
});
