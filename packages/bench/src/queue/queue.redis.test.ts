/**
 * BullMQ fan-out against a real redis-server (started by .ci/stages/redis.sh on a loopback port,
 * REDIS_URL; REDIS_AUTH_URL is a second one that requires a password). Two workers; the first
 * is killed (SIGKILL) while it holds a job, which then completes on the second. Nothing is lost
 * or duplicated. Injected jobs that name code or paths are refused; secrets are never printed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { schemaErrors } from '../test-support/run-cli.js';
import { connectionOptions, parseQueueUrl, QUEUE_NAME } from './connection.js';

const url = process.env.REDIS_URL;
const authUrl = process.env.REDIS_AUTH_URL;
const bin = fileURLToPath(new URL('../../bin/bench.js', import.meta.url));
const tiny = fileURLToPath(new URL('../../../trainer/src/test-support/tiny.ts', import.meta.url));
const children: ChildProcess[] = [];

function start(args: string[], cwd: string): { child: ChildProcess; exited: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, [bin, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  return { child, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))), stderr: () => stderr };
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
    // A folder of this test's own: the default one is shared by every worker on the machine.
    const workerDir = mkdtempSync(path.join(tmpdir(), 'worker-'));
    const workerArgs = [
      'worker',
      '--queue',
      url as string,
      '--dir',
      workerDir,
      '--plugin',
      tiny,
      '--lock-duration',
      '2000',
      '--stalled-interval',
      '1000',
    ];
    const first = start(workerArgs, dir);
    // Wait until the first worker holds a job, then start the second and kill the first.
    const deadline = Date.now() + 60_000;
    while ((await queue.getActiveCount()) === 0) {
      if (Date.now() > deadline) throw new Error('no job became active');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const second = start(workerArgs, dir);
    first.child.kill('SIGKILL');
    const code = await coordinator.exited;
    expect(code, `${coordinator.stderr()}\n--- worker ---\n${second.stderr()}`).toBe(0);
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
    const { exited, stderr } = start(['compare', 'grpo', '--queue', 'redis://127.0.0.1:1', '--seeds', '1'], tmpdir());
    expect(await exited).toBe(2);
    expect(stderr()).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
  });

  it('a bad database index is one line and exit 2, not an endless stream of ReplyErrors', async () => {
    const bad = `${(url as string).replace(/\/\d+$/, '')}/99`;
    const { exited, stderr } = start(['worker', '--queue', bad], tmpdir());
    expect(await exited).toBe(2);
    expect(stderr().trim().split('\n')).toEqual([
      `bench: bad --queue '${bad}': Redis refuses database 99 (ERR DB index is out of range)`,
    ]);
  });

  it('refuses injected jobs that name plugin modules, config files or paths outside its folder; --max-jobs counts them', async () => {
    const target = authUrl ?? (url as string);
    const connection = parseQueueUrl(target);
    const queue = new Queue(QUEUE_NAME, { connection: connectionOptions(connection) as never });
    await queue.obliterate({ force: true });
    const dir = mkdtempSync(path.join(tmpdir(), 'queue-evil-'));
    const evil = path.join(dir, 'evil.mjs');
    const marker = path.join(dir, 'evil-ran');
    writeFileSync(
      evil,
      `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(marker)}, 'x'); export const plugin = { name: 'evil' };`,
    );
    const unit = { id: 'reinforce-mean__echo__s1', method: 'reinforce-mean', env: 'echo', seed: 1 };
    const base = {
      unit,
      fingerprint: '0123456789abcdef',
      backend: 'wasm',
      kernels: 'fast',
      threads: 1,
      budget: { episodes: 24 },
      overrides: {},
    };
    await queue.add('unit', { ...base, plugins: [evil] }, { jobId: 'evil-plugin' });
    await queue.add('unit', { ...base, unit: { ...unit, id: '../../../x' } }, { jobId: 'evil-id' });
    await queue.add('unit', { ...base, overrides: { teacher: '/etc' } }, { jobId: 'evil-teacher' });
    const folder = path.join(dir, 'worker');
    const worker = start(['worker', '--queue', target, '--plugin', tiny, '--dir', folder, '--max-jobs', '3'], dir);
    expect(await worker.exited).toBe(0);
    expect(existsSync(marker)).toBe(false);
    const failed = await queue.getFailed();
    expect(Object.fromEntries(failed.map((job) => [job.id, job.failedReason.replace(/:.*/, '')]))).toEqual({
      'evil-plugin': 'job refused',
      'evil-id': 'job refused',
      'evil-teacher': 'job refused',
    });
    expect(failed.every((job) => job.attemptsMade === 1)).toBe(true);
    if (connection.password) expect(worker.stderr()).not.toContain(connection.password);
    await queue.obliterate({ force: true });
    await queue.close();
  }, 120_000);
});
