import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../bin/bench.js', import.meta.url));
const tiny = fileURLToPath(new URL('../../../trainer/src/test-support/tiny.ts', import.meta.url));
const args = (out: string) => [
  bin,
  'train',
  'reinforce-mean',
  '--env',
  'echo',
  '--seed',
  '3',
  '--budget',
  'episodes=1200',
  '--out',
  out,
  '--json',
  '--sft',
  'none',
  '--plugin',
  tiny,
  '--set',
  'evalTasks=4',
  '--set',
  'tasksPerStep=4',
  '--set',
  'groupSize=6',
  '--set',
  'checkpointEvery=2',
  '--set',
  'evalEvery=10',
];
const deterministic = (doc: Record<string, any>) => ({
  ...doc,
  timings: undefined,
  budget: { ...doc.budget, consumed: { ...doc.budget.consumed, seconds: 0 } },
});

describe('bench train resume after kill -9 (built CLI)', () => {
  it('continues a run killed mid-way and ends with the same results as an uninterrupted one', async () => {
    const whole = mkdtempSync(path.join(tmpdir(), 'kill-whole-'));
    const { stdout } = await promisify(execFile)(process.execPath, args(whole), { timeout: 120_000 });
    const reference = JSON.parse(stdout);

    const out = mkdtempSync(path.join(tmpdir(), 'kill-'));
    const child = spawn(process.execPath, args(out), { stdio: 'ignore' });
    const metrics = path.join(out, 'metrics.jsonl');
    // Kill as soon as a few steps are logged (after at least one checkpoint).
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        const lines = existsSync(metrics) ? readFileSync(metrics, 'utf8').split('\n').filter(Boolean).length : 0;
        if (lines >= 5) {
          clearInterval(timer);
          child.kill('SIGKILL');
          resolve();
        }
      }, 5);
      child.on('exit', () => {
        clearInterval(timer);
        reject(new Error('the run finished before it could be killed'));
      });
    });
    await new Promise((resolve) => child.on('exit', resolve));
    expect(existsSync(path.join(out, 'result.json'))).toBe(false);
    const resumed = await promisify(execFile)(process.execPath, [...args(out), '--resume'], { timeout: 120_000 });
    expect(deterministic(JSON.parse(resumed.stdout))).toEqual(deterministic(reference));
    const steps = readFileSync(metrics, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).step);
    expect(steps).toEqual(Array.from({ length: reference.steps }, (_, i) => i + 1));
  }, 240_000);
});
