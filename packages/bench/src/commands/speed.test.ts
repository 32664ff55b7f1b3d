import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, schemaErrors } from '../test-support/run-cli.js';

const small = ['--dim', '16', '--batch', '2', '--iterations', '2'];

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

  /**
   * A stand-in for the peer's Python: prints one JSON line as the peers do, with the thread count
   * it was given (train-step's 3rd argument after the script) and its OMP_NUM_THREADS.
   */
  function stubPeer(json: Record<string, unknown>): string {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'stub-peer-')), 'python3');
    // An unquoted here-document: the shell fills in $4 and $OMP_NUM_THREADS.
    const template = JSON.stringify({ ...json, threads: '@T@', omp: '@O@' })
      .replace('"@T@"', '$4')
      .replace('@O@', '$OMP_NUM_THREADS');
    writeFileSync(file, `#!/bin/sh\ncat <<EOF\n${template}\nEOF\n`);
    chmodSync(file, 0o755);
    return file;
  }

  it('refuses a PyTorch peer on the reference BLAS, naming the library and the install line', async () => {
    const python = stubPeer({ blas: 'reference', blasLibraries: ['/usr/lib/x86_64-linux-gnu/blas/libblas.so.3'], msPerStep: 5 });
    const result = await runCli(['speed', 'train-step', ...small, '--threads', '1', '--peer', 'torch'], {
      env: { POLICY_LAB_PEER_PYTHON: python },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/runs? on the reference BLAS \(\/usr\/lib\/x86_64-linux-gnu\/blas\/libblas\.so\.3\)/);
    expect(result.stderr).toMatch(/apt-get install -y python3-torch libopenblas0-pthread/);
  });

  it('takes a peer on an optimised BLAS, with as many threads as ours, and prints the CPU', async () => {
    const python = stubPeer({
      blas: 'openblas',
      blasLibraries: ['/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3'],
      msPerStep: 5,
    });
    const result = await runCli(['speed', 'train-step', ...small, '--threads', '2', '--peer', 'torch', '--json'], {
      env: { POLICY_LAB_PEER_PYTHON: python },
    });
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc.peer).toMatchObject({ blas: 'openblas', threads: 2, omp: '2' });
    expect(doc.ratioToPeer).toBeCloseTo(doc.msPerStep / 5, 6);
    expect(doc.machine.cpuFlags).toEqual(expect.any(Array));
    const missing = await runCli(['speed', 'train-step', ...small, '--peer', 'torch'], {
      env: { POLICY_LAB_PEER_PYTHON: path.join(tmpdir(), 'no-such-python') },
    });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      /--peer torch needs .*no-such-python with torch: apt-get install -y python3-torch libopenblas0-pthread/,
    );
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
