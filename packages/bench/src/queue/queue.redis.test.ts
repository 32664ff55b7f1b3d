/**
 * BullMQ fan-out against a real redis-server (started by .ci/stages/redis.sh on a loopback port,
 * REDIS_URL). Two workers; the first is killed (SIGKILL) while it holds a job, which then
 * completes on the second. Nothing is lost or duplicated.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { schemaErrors } from '../test-support/run-cli.js';
import { connectionOptions, parseQueueUrl, QUEUE_NAME } from './connection.js';

const url = process.env.REDIS_URL;
const bin = fileURLToPath(new URL('../../bin/bench.js', import.meta.url));
const tiny = fileURLToPath(new URL('../../../trainer/src/test-support/tiny.ts', import.meta.url));
const children: ChildProcess[] = [];

function start(args: string[], cwd: string): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [bin, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return { child, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
}

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('bench compare --queue with bench worker', () => {
  it('needs REDIS_URL (the CI stage provides it)', () => {
    expect(url, 'REDIS_URL is not set: run through .ci/stages/redis.sh').toBeTruthy();
  });

  it('fans units out to two workers; a worker killed mid-job loses nothing', async () => {
    const connection = parseQueueUrl(url as string);
    const queue = new Queue(QUEUE_NAME, { connection: connectionOptions(connection) as never });
    await queue.obliterate({ force: true });
    const dir = mkdtempSync(path.join(tmpdir(), 'queue-'));
    const out = path.join(dir, 'out');
    const coordinator = start(
      [
        'compare',
        'reinforce-mean',
        'picky',
        '--env',
        'echo',
        '--seeds',
        '2',
        '--budget',
        'episodes=240',
        '--queue',
        url as string,
        '--out',
        out,
        '--reps',
        '200',
        '--plugin',
        tiny,
        '--set',
        'evalTasks=4',
        '--set',
        'sftSteps=2',
        '--set',
        'tasksPerStep=4',
        '--set',
        'groupSize=6',
      ],
      dir,
    );
    const workerArgs = ['worker', '--queue', url as string, '--lock-duration', '2000', '--stalled-interval', '1000'];
    const first = start(workerArgs, dir);
    // Wait until the first worker holds a job, then start the second and kill the first.
    const deadline = Date.now() + 60_000;
    while ((await queue.getActiveCount()) === 0) {
      if (Date.now() > deadline) throw new Error('no job became active');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const second = start(workerArgs, dir);
    first.child.kill('SIGKILL');
    expect(await coordinator.exited).toBe(0);
    second.child.kill('SIGTERM');
    await second.exited;
    const doc = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(schemaErrors('compare', doc)).toEqual([]);
    const ids = doc.runs.map((r: { id: string }) => r.id).sort();
    expect(ids).toEqual(['picky__echo__s1', 'picky__echo__s2', 'reinforce-mean__echo__s1', 'reinforce-mean__echo__s2']);
    for (const run of doc.runs) expect(run.budget.consumed.episodes).toBe(240);
    expect(await queue.getCompletedCount()).toBe(4);
    expect(await queue.getFailedCount()).toBe(0);
    for (const id of ids) expect(existsSync(path.join(out, 'runs', id, 'result.json'))).toBe(true);
    await queue.close();
  }, 240_000);

  it('refuses an unreachable Redis with exit 2 and one line', async () => {
    const { child, exited } = start(['compare', 'grpo', '--queue', 'redis://127.0.0.1:1', '--seeds', '1'], tmpdir());
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    expect(await exited).toBe(2);
    expect(stderr).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
  });
});
