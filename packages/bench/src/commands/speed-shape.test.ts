import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, schemaErrors } from '../test-support/run-cli.js';

const small = ['--dim', '16', '--batch', '2', '--iterations', '2'];

/** A stand-in for the peer's Python that logs its arguments and answers with `ms` a step. */
function loggingPeer(ms: number): { python: string; log: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'stub-peer-'));
  const log = path.join(dir, 'args.log');
  const python = path.join(dir, 'python3');
  const json = JSON.stringify({
    blas: 'openblas',
    blasLibraries: ['libopenblas.so'],
    threads: 1,
    msPerStep: ms,
    msPerCall: ms,
    cpuMsPerStep: ms / 2,
    cpuMsPerCall: ms / 2,
  });
  writeFileSync(python, `#!/bin/sh\nshift\necho "$*" >> ${log}\ncat <<'EOF'\n${json}\nEOF\n`);
  chmodSync(python, 0o755);
  return { python, log };
}

describe('bench speed: model shape, repeats and profile', () => {
  it('trains the shape asked for, alternates ours and the peer per repeat, and tells the peer the shape', async () => {
    const { python, log } = loggingPeer(4);
    const args = ['speed', 'train-step', ...small, '--layers', '3', '--context', '8', '--threads', '1', '--peer', 'torch'];
    const result = await runCli([...args, '--repeats', '3', '--json'], { env: { POLICY_LAB_PEER_PYTHON: python } });
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(schemaErrors('speed', doc)).toEqual([]);
    expect(doc).toMatchObject({ dim: 16, batch: 2, layers: 3, context: 8 });
    // The peer ran once a repeat, with DIM BATCH THREADS LAYERS CONTEXT.
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['16 2 1 3 8', '16 2 1 3 8', '16 2 1 3 8']);
    expect(doc.repeats).toBe(3);
    expect(doc.ours.values).toHaveLength(3);
    expect(doc.msPerStep).toBe(doc.ours.median);
    expect(doc.peer.msPerRepeat).toEqual([4, 4, 4]);
    expect(doc.ratioPerRepeat.values).toEqual(doc.ours.values.map((ms: number) => ms / 4));
    expect(doc.ratioToPeer).toBeCloseTo(doc.ours.median / 4, 9);
    // CPU time of our process a step, beside the peer's (2 ms here).
    expect(doc.oursCpu.values).toHaveLength(3);
    expect(doc.cpuMsPerStep).toBe(doc.oursCpu.median);
    expect(doc.cpuMsPerStep).toBeGreaterThan(0);
    expect(doc.cpuRatioPerRepeat.values).toEqual(doc.oursCpu.values.map((ms: number) => ms / 2));
    expect(doc.cpuRatioToPeer).toBeCloseTo(doc.oursCpu.median / 2, 9);
    expect(doc.loadAverage.before).toHaveLength(3);
    const text = await runCli([...args, '--repeats', '2'], { env: { POLICY_LAB_PEER_PYTHON: python } });
    expect(text.stdout).toMatch(/train-step D=16 batch=2 layers=3 context=8/);
    expect(text.stdout).toMatch(/ours \/ torch per repeat: median [\d.]+ \([\d.]+-[\d.]+\)/);
    expect(text.stdout).toMatch(/CPU time a step: ours [\d.]+ ms, torch 2\.0 ms; ours \/ torch = [\d.]+/);
  });

  it('decodes after a prompt that fills the context, and tells the peer', async () => {
    const { python, log } = loggingPeer(3);
    const result = await runCli(
      [
        'speed',
        'decode',
        ...small,
        '--tokens',
        '4',
        '--context',
        '10',
        '--layers',
        '1',
        '--threads',
        '1',
        '--peer',
        'torch',
        '--json',
      ],
      { env: { POLICY_LAB_PEER_PYTHON: python } },
    );
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc).toMatchObject({ suite: 'decode', layers: 1, context: 10, tokens: 4 });
    expect(readFileSync(log, 'utf8').trim()).toBe('16 2 4 1 1 10');
  });

  it('profiles our runs by kernel and input shapes', async () => {
    const result = await runCli(['speed', 'train-step', ...small, '--layers', '1', '--context', '8', '--profile', '--json']);
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc.profile.runs).toBe(2);
    expect(doc.profile.kernels.find((k: { name: string }) => k.name === 'BatchMatMul').calls).toBe(23);
    const text = await runCli(['speed', 'train-step', ...small, '--layers', '1', '--context', '8', '--profile']);
    expect(text.stdout).toMatch(/profile \(2 runs, every kernel timed\)/);
    expect(text.stdout).toMatch(/ms +[\d.]+ ms +23 calls .* BatchMatMul\n/);
  });

  it('refuses a shape it cannot run, and the shape flags where they do not apply', async () => {
    const cases: [string[], string][] = [
      [['train-step', '--layers', '0'], "bench: bad --layers '0': expected a positive integer\n"],
      [['train-step', '--context', 'x'], "bench: bad --context 'x': expected a positive integer\n"],
      [
        ['decode', '--tokens', '8', '--context', '8'],
        "bench: bad --context '8': decode needs at least --tokens + 1 = 9 (a prompt token and the new ones)\n",
      ],
      [['rollout', '--layers', '3'], 'bench: --layers exists for train-step and decode, not rollout\n'],
      [['rl-step', '--context', '64'], 'bench: --context exists for train-step and decode, not rl-step\n'],
      [['train-step', '--repeats', '0'], "bench: bad --repeats '0': expected a positive integer\n"],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(['speed', ...args]);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(message);
    }
  });
});
