import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli, schemaErrors } from '../test-support/run-cli.js';

const bin = fileURLToPath(new URL('../../bin/bench.js', import.meta.url));

describe('bench env', () => {
  it('runs the expert at 100% success and a random policy far below, as JSON valid against the env schema', async () => {
    const expert = await runCli(['env', 'run', 'countdown', '--policy', 'expert', '--episodes', '40', '--seed', '2', '--json']);
    expect(expert.code).toBe(0);
    const doc = JSON.parse(expert.stdout);
    expect(schemaErrors('env', doc)).toEqual([]);
    expect(doc).toMatchObject({
      kind: 'env',
      env: 'countdown',
      policy: 'expert',
      episodes: 40,
      successRate: 1,
      invalidRate: 0,
      meanSteps: 1,
    });
    expect(doc.meanReward).toEqual({ correct: 1, format: 1 });
    const random = JSON.parse(
      (await runCli(['env', 'run', 'countdown', '--policy', 'random', '--episodes', '40', '--json'])).stdout,
    );
    expect(random.successRate).toBeLessThan(0.2);
    expect(random.invalidRate).toBeGreaterThan(0.5);
  });

  it("passes --set to the environment's options and names a bad one", async () => {
    const hard = JSON.parse(
      (await runCli(['env', 'run', 'code', '--set', 'level=hard', '--set', 'attempts=2', '--json'])).stdout,
    );
    expect(hard.successRate).toBe(1);
    const bad = await runCli(['env', 'run', 'gridnav', '--set', 'sizee=3']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown option 'sizee'/);
  });

  it('plays a task from stdin with a JSON transcript (built CLI)', () => {
    const out = execFileSync(process.execPath, [bin, 'env', 'play', 'countdown', '--seed', '1', '--task', '0', '--json'], {
      input: 'not an answer\n',
      encoding: 'utf8',
    });
    const doc = JSON.parse(out);
    expect(schemaErrors('env', doc)).toEqual([]);
    expect(doc.transcript).toHaveLength(1);
    expect(doc.transcript[0]).toMatchObject({
      action: 'not an answer',
      valid: false,
      done: true,
      reward: { correct: 0, format: 0 },
    });
    expect(doc.outcome.success).toBe(false);
  });

  it('reports the test and training split sizes at the chosen difficulty', async () => {
    const doc = JSON.parse((await runCli(['env', 'run', 'countdown', '--episodes', '4', '--json'])).stdout);
    expect(schemaErrors('env', doc)).toEqual([]);
    expect(doc.splits.test).toBeGreaterThanOrEqual(200);
    expect(doc.splits.trainDistinct).toBeGreaterThan(6000);
    const small = JSON.parse(
      (await runCli(['env', 'run', 'countdown', '--set', 'numbers=2', '--set', 'maxNumber=9', '--episodes', '4', '--json']))
        .stdout,
    );
    expect(small.splits.test).toBeLessThan(60);
    expect((await runCli(['env', 'run', 'countdown', '--episodes', '4'])).stdout).toMatch(/test split 500 tasks/);
  });

  it('refuses a --task beyond the test split at once, naming the valid range', async () => {
    const started = performance.now();
    const far = await runCli(['env', 'play', 'countdown', '--task', '1000000000']);
    expect(performance.now() - started).toBeLessThan(20_000);
    expect(far.code).toBe(2);
    expect(far.stderr).toMatch(/--task 1000000000: countdown has 500 test tasks \(valid: 0\.\.499\)/);
  });

  it('runs next-segment on your own text file, and names an unreadable one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-env-'));
    const file = join(dir, 'book.txt');
    writeFileSync(file, Array.from({ length: 20 }, (_, i) => `Day ${i} begins. The sun is up ${i}. Night falls.`).join('\n\n'));
    const doc = JSON.parse((await runCli(['env', 'run', 'next-segment', '--data', file, '--episodes', '8', '--json'])).stdout);
    expect(doc).toMatchObject({ env: 'next-segment', successRate: 1, meanReward: { match: 1, f1: 1 } });
    expect(doc.splits.test + doc.splits.trainDistinct).toBe(40);
    const missing = await runCli(['env', 'run', 'next-segment', '--data', join(dir, 'nope.txt')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*nope\.txt/);
  });

  it('refuses unknown environments and bad counts', async () => {
    expect((await runCli(['env', 'run', 'countdwn'])).stderr).toMatch(/unknown environment 'countdwn': did you mean countdown/);
    expect((await runCli(['env', 'run', 'countdown', '--episodes', '0'])).stderr).toMatch(/bad --episodes '0'/);
  });
});
