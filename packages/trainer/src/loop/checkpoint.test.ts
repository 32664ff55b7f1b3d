import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isUsageError } from '@policy-lab/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { TINY, temporaryFolder, tinyRegistry } from '../test-support/tiny.js';
import type { TrainOptions } from './api.js';
import { firstDifference } from './checkpoint.js';
import { train } from './train.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

const base = (outDir: string): TrainOptions => ({
  registry: tinyRegistry(),
  method: 'reinforce-mean',
  env: 'echo',
  seed: 1,
  budget: { episodes: 48 },
  overrides: { ...TINY, checkpointEvery: 1 },
  sft: 'none',
  outDir,
});

/** The UsageError message of a run that must be refused. */
async function refusal(options: TrainOptions): Promise<string> {
  const error = await train(options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isUsageError(error), String(error)).toBe(true);
  return (error as Error).message;
}

describe('firstDifference', () => {
  it('names the first differing key path, in sorted order, with both values', () => {
    expect(firstDifference({ a: 1, b: { c: 2, d: 3 } }, { a: 1, b: { c: 2, d: 4 } })).toEqual({ key: 'b.d', saved: 3, now: 4 });
    expect(firstDifference({ method: 'grpo', seed: 1 }, { method: 'mc-grpo', seed: 2 })?.key).toBe('method');
    expect(firstDifference({ a: [1, 2] }, { a: [1, 2] })).toBeUndefined();
    expect(firstDifference({ a: 1 }, { a: 1, extra: true })).toEqual({ key: 'extra', saved: undefined, now: true });
  });
});

describe('--resume continues only the same run', () => {
  it('refuses another method, seed or option, naming the first difference; a larger budget is allowed', async () => {
    const outDir = temporaryFolder();
    await train(base(outDir));
    expect(await refusal({ ...base(outDir), method: 'picky', resume: true })).toMatch(/method was "reinforce-mean", now "picky"/);
    expect(await refusal({ ...base(outDir), seed: 2, resume: true })).toMatch(/seed was 1, now 2/);
    expect(
      await refusal({ ...base(outDir), overrides: { ...TINY, checkpointEvery: 1, learningRate: 0.5 }, resume: true }),
    ).toMatch(/learningRate was 0.01, now 0.5/);
    const longer = await train({ ...base(outDir), budget: { episodes: 72 }, resume: true });
    expect(longer.budget.consumed.episodes).toBe(72);
  });
});

describe('the run folder', () => {
  it('refuses a folder that holds a run without --resume or --force; --force starts afresh', async () => {
    const outDir = temporaryFolder();
    const first = await train(base(outDir));
    expect(await refusal(base(outDir))).toMatch(/holds a run .*--resume.*--force/);
    const again = await train({ ...base(outDir), force: true });
    expect(again.final).toEqual(first.final);
    const steps = readFileSync(path.join(outDir, 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(steps).toHaveLength(first.steps);
  });

  it('says so when --resume finds no checkpoint, and starts afresh', async () => {
    const notices: string[] = [];
    const outDir = temporaryFolder();
    const result = await train({ ...base(outDir), resume: true, onNotice: (m) => notices.push(m) });
    expect(result.steps).toBe(2);
    expect(notices.join('\n')).toMatch(/holds no checkpoint; starting a fresh run/);
  });

  it('keeps wall-clock figures out of metrics.jsonl, so two identical runs write identical metrics', async () => {
    const a = temporaryFolder();
    const b = temporaryFolder();
    await train(base(a));
    await train(base(b));
    const metrics = (dir: string) => readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8');
    expect(metrics(a)).toBe(metrics(b));
    expect(metrics(a)).not.toMatch(/tokensPerSecond|seconds/);
    expect(readFileSync(path.join(a, 'timings.jsonl'), 'utf8')).toMatch(/tokensPerSecond/);
  });
});

describe('damaged files', () => {
  it('a partial last line in metrics.jsonl (a kill during an append) is dropped on resume', async () => {
    const outDir = temporaryFolder();
    const whole = await train(base(temporaryFolder()));
    await train({ ...base(outDir), budget: { episodes: 24 } });
    appendFileSync(path.join(outDir, 'metrics.jsonl'), '{"step": 2, "rewardMe');
    const resumed = await train({ ...base(outDir), resume: true });
    expect(resumed.final).toEqual(whole.final);
    const steps = readFileSync(path.join(outDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { step: number }).step);
    expect(steps).toEqual([1, 2]);
  });

  it('a deleted metrics.jsonl, a flipped bit in the weights, and malformed sidecars are refused, naming the file', async () => {
    const outDir = temporaryFolder();
    await train({ ...base(outDir), budget: { episodes: 24 } });
    const sidecar = path.join(outDir, 'checkpoint.json');
    const saved = readFileSync(sidecar, 'utf8');
    const weights = path.join(outDir, (JSON.parse(saved) as { weights: string }).weights);

    rmSync(path.join(outDir, 'metrics.jsonl'));
    expect(await refusal({ ...base(outDir), resume: true })).toMatch(/metrics\.jsonl: missing/);
    writeFileSync(path.join(outDir, 'metrics.jsonl'), '');

    const bytes = readFileSync(weights);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 3] = (flipped[flipped.length - 3] as number) ^ 0x10;
    writeFileSync(weights, flipped);
    expect(await refusal({ ...base(outDir), resume: true })).toMatch(/checksum .* does not match/);
    writeFileSync(weights, bytes);

    writeFileSync(sidecar, '{}');
    expect(await refusal({ ...base(outDir), resume: true })).toMatch(/checkpoint\.json: field 'version'/);
    writeFileSync(sidecar, saved.replace(/"step": 1,/, '"step": "1",'));
    expect(await refusal({ ...base(outDir), resume: true })).toMatch(/checkpoint\.json: field 'step'/);
    writeFileSync(sidecar, '{"version": 2, "step"');
    expect(await refusal({ ...base(outDir), resume: true })).toMatch(/checkpoint\.json: cannot read/);
    expect(existsSync(weights)).toBe(true);
  });
});

describe('budgets', () => {
  it('a budget smaller than one step is refused up front', async () => {
    expect(await refusal({ ...base(temporaryFolder()), budget: { episodes: 5 } })).toMatch(
      /the budget affords no training step: one step may use 24 episodes/,
    );
  });
});

describe('evaluation tasks', () => {
  it('an explicit evalTasks beyond the test split is refused; a default beyond it is capped and said', async () => {
    const registry = tinyRegistry();
    const echo = registry.get('environments', 'echo');
    // echo's test split of 3 tasks, like a user's small --data split.
    const few = {
      ...echo,
      name: 'echo-few',
      tasks: (split: 'train' | 'test', o: { seed: number; count?: number }) =>
        echo.tasks(split, { ...o, count: split === 'test' ? Math.min(3, o.count ?? 3) : o.count }),
    };
    registry.register({ name: 'few', environments: [few] }, 'test:few');
    const options = { ...base(temporaryFolder()), registry, env: 'echo-few' };
    expect(await refusal({ ...options, overrides: { ...TINY, evalTasks: 10 } })).toMatch(
      /--set evalTasks=10: environment 'echo-few' has 3 test tasks \(at most 3\)/,
    );
    const notices: string[] = [];
    const { evalTasks: _default, ...tinyWithoutEvalTasks } = TINY;
    const result = await train({ ...options, overrides: tinyWithoutEvalTasks, onNotice: (m) => notices.push(m) });
    expect(result.steps).toBe(2);
    expect(notices.join('\n')).toMatch(/evalTasks is 32 by default, but environment 'echo-few' has 3 test tasks: evaluating 3/);
  });
});
