import { execFileSync } from 'node:child_process';
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

  it('refuses unknown environments and bad counts', async () => {
    expect((await runCli(['env', 'run', 'countdwn'])).stderr).toMatch(/unknown environment 'countdwn': did you mean countdown/);
    expect((await runCli(['env', 'run', 'countdown', '--episodes', '0'])).stderr).toMatch(/bad --episodes '0'/);
  });
});
