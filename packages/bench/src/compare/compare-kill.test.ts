/**
 * kill -9 of the `bench compare` coordinator alone (built CLI) during the SFT warm start, a
 * stretch in which a worker sends no progress (so a closed IPC channel goes unnoticed): its
 * unit workers must not go on training into --out, and a --resume right after neither waits
 * for the dead worker's SFT lock nor mixes two writers in one metrics.jsonl.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../bin/bench.js', import.meta.url));
const tiny = fileURLToPath(new URL('../../../trainer/src/test-support/tiny.ts', import.meta.url));
// Tiny settings; SFT long enough (a few seconds) to be killed inside it.
const settings =
  'compare reinforce-mean --env echo --seeds 1 --budget episodes=1200 --workers 1 --reps 200 --set evalTasks=4 --set sftSteps=2500 --set tasksPerStep=4 --set groupSize=6 --set checkpointEvery=2 --set evalEvery=50';
const args = (out: string) => [bin, ...settings.split(' '), '--plugin', tiny, '--out', out];
const started: ChildProcess[] = [];
afterAll(() => {
  for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Running and not a zombie (an orphan's parent may be a container init that never reaps). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
/** The pids named by the run folders' lock files (`runs/<id>.lock`). */
function lockHolders(runs: string): number[] {
  if (!existsSync(runs)) return [];
  return readdirSync(runs)
    .filter((f) => f.endsWith('.lock'))
    .flatMap((f) => {
      try {
        return [Number((JSON.parse(readFileSync(path.join(runs, f), 'utf8')) as { pid: number }).pid)];
      } catch {
        return [];
      }
    });
}
const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
async function until(condition: () => boolean, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('bench compare: kill -9 of the coordinator alone (built CLI)', () => {
  it('takes its unit workers down with it; --resume then continues with one writer per run folder', async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'compare-kill-')), 'out');
    const coordinator = spawn(process.execPath, args(out), { stdio: 'ignore' });
    started.push(coordinator);
    const cache = path.join(out, 'sft-cache');
    await until(() => existsSync(cache) && readdirSync(cache).some((f) => f.endsWith('.lock')), 'the SFT warm start');
    const workers = execFileSync('ps', ['-o', 'pid=', '--ppid', String(coordinator.pid)], { encoding: 'utf8' })
      .split('\n')
      .map(Number)
      .filter((pid) => pid > 0);
    expect(workers.length).toBeGreaterThan(0);
    coordinator.kill('SIGKILL');
    await until(() => workers.every((pid) => !running(pid)), 'the orphaned workers to exit', 3_000);
    // A unit the coordinator started after the listing above is an orphan too: every holder of a
    // run folder's lock must be gone (on a loaded machine its parent watch may take a few seconds).
    await until(() => lockHolders(path.join(out, 'runs')).every((pid) => !running(pid)), 'every orphaned unit to exit', 15_000);
    const resumed = await promisify(execFile)(process.execPath, [...args(out), '--resume', '--json'], { timeout: 120_000 });
    expect(resumed.stderr).not.toMatch(/waiting/);
    const doc = JSON.parse(resumed.stdout);
    const run = doc.runs.find((r: { method: string }) => r.method === 'reinforce-mean');
    const metrics = path.join(out, 'runs', 'reinforce-mean__echo__s1', 'metrics.jsonl');
    const steps = lines(metrics).map((line) => JSON.parse(line).step);
    expect(steps).toEqual(Array.from({ length: run.steps }, (_, i) => i + 1));
    expect(existsSync(`${out}.lock`)).toBe(false);
  }, 240_000);
});
