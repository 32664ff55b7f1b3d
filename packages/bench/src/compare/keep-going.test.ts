import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TrainResult } from '@policy-lab/trainer';
import { describe, expect, it } from 'vitest';
import { compareOptions, fakeResult, registry } from '../test-support/fake-comparison.js';
import { schemaErrors } from '../test-support/run-cli.js';
import { planComparison } from './plan.js';
import { type PoolEvents, UnitFailure, type UnitRequest } from './pool.js';
import { runComparison } from './run-compare.js';

const plan = (leaderboard: boolean) =>
  planComparison(registry, {
    methods: ['grpo', 'gdpo'],
    seeds: '3',
    overrides: {},
    backend: 'wasm',
    kernels: 'fast',
    ...(leaderboard ? { leaderboard: { reference: 'grpo' } } : {}),
  });

/** A runner whose unit `failing` fails (as a worker reports an aborted wasm heap); the others finish. */
const failingRunner =
  (failing: string, calls: string[]) =>
  async (requests: UnitRequest[], events: PoolEvents): Promise<void> => {
    for (const request of requests) {
      calls.push(request.unit.id);
      if (request.unit.id !== failing) {
        events.onDone(request.unit.id, fakeResult(request, {}) as TrainResult);
        continue;
      }
      const failure = new UnitFailure(request.unit.id, 'Aborted()', false);
      if (!events.onFailed) throw failure;
      events.onFailed(failure);
    }
  };

describe('a failed unit', () => {
  it('a leaderboard reports it, goes on with the others, exits failed, and --resume trains it alone', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'keep-going-'));
    const calls: string[] = [];
    await expect(
      runComparison(plan(true), { ...compareOptions(out), runUnits: failingRunner('gdpo__countdown__s2', calls) }),
    ).rejects.toThrow('1 of 6 runs failed (gdpo__countdown__s2); results.json and the reports cover the others');
    expect(calls).toHaveLength(6);
    const document = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(schemaErrors('compare', document)).toEqual([]);
    expect(document.failed).toEqual([
      { id: 'gdpo__countdown__s2', method: 'gdpo', env: 'countdown', seed: 2, message: 'Aborted()' },
    ]);
    expect(document.runs.map((r: { id: string }) => r.id)).not.toContain('gdpo__countdown__s2');
    expect(document.runs).toHaveLength(5);
    expect(readFileSync(path.join(out, 'report.md'), 'utf8')).toContain(
      'Failed runs (1; left out of every figure above; `--resume` trains them again):\n\n- gdpo on countdown, seed 2: Aborted()',
    );
    const again: string[] = [];
    const resumed = await runComparison(plan(true), {
      ...compareOptions(out, { resume: true }),
      runUnits: failingRunner('none', again),
    });
    expect(again).toEqual(['gdpo__countdown__s2']);
    expect(resumed.runs).toHaveLength(6);
    expect(resumed.failed).toBeUndefined();
  });

  it('a plain comparison stops at it and writes no results', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'keep-going-'));
    const calls: string[] = [];
    await expect(
      runComparison(plan(false), { ...compareOptions(out), runUnits: failingRunner('grpo__countdown__s1', calls) }),
    ).rejects.toThrow('run grpo__countdown__s1 failed: Aborted()');
    expect(calls).toEqual(['grpo__countdown__s1']);
    expect(existsSync(path.join(out, 'results.json'))).toBe(false);
  });

  it('the local pool replaces the worker process of a failed unit and goes on (real worker processes)', () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
    const out = mkdtempSync(path.join(tmpdir(), 'keep-going-'));
    // The built pool in a plain Node process (vitest's loader would follow the forked workers), on units
    // no worker can train (their method is not registered): each fails at once, in its own worker process.
    const script = `
      import path from 'node:path';
      const { runOnPool } = await import(${JSON.stringify(path.join(root, 'packages/bench/dist/compare/pool.js'))});
      const request = (id) => ({
        unit: { id, method: 'no-such-method-' + id, env: 'countdown', seed: 1 },
        cwd: ${JSON.stringify(root)}, plugins: [], backend: 'wasm', kernels: 'fast', threads: 1,
        budget: { episodes: 8 }, overrides: {},
        outDir: path.join(${JSON.stringify(out)}, id), sftCacheDir: path.join(${JSON.stringify(out)}, 'sft-cache'),
      });
      const failed = [];
      await runOnPool([request('a'), request('b'), request('c')], 1, {
        onProgress() {}, onDone() {},
        onFailed: (f) => failed.push(f.unitId + ': ' + (f.usage ? 'usage' : 'run') + ': ' + f.message),
      });
      let stopped = '';
      await runOnPool([request('a'), request('b')], 1, { onProgress() {}, onDone() {} }).catch((e) => { stopped = e.message; });
      console.log(JSON.stringify({ failed, stopped }));
    `;
    const file = path.join(out, 'pool-script.mjs');
    writeFileSync(file, script);
    const run = spawnSync(process.execPath, [file], {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    expect(run.status, run.stderr).toBe(0);
    const { failed, stopped } = JSON.parse(run.stdout.trim().split('\n').pop() as string);
    expect(failed.map((f: string) => f.split(': ').slice(0, 2).join(': '))).toEqual(['a: usage', 'b: usage', 'c: usage']);
    expect(failed[0]).toMatch(/no-such-method-a/);
    expect(stopped).toMatch(/^run a failed: .*no-such-method-a/);
  });
});
