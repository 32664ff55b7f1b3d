/**
 * The envs package's evolving-pool and judge-tasks task sources inside real (tiny) countdown runs,
 * found through the registry as the CLI finds them.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRegistry } from '@policy-lab/core/node';
import { initBackend, train } from '@policy-lab/trainer';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { registry } = await createRegistry({ cwd: root, discoverFrom: [root] });

const TINY = {
  model: { dim: 16, layers: 1, heads: 2, contextLength: 48 },
  tasksPerStep: 2,
  groupSize: 4,
  evalTasks: 8,
  evalSamples: 2,
  evalEvery: 100,
  signFlipEvery: 0,
};

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

const run = async (overrides: Record<string, unknown>, episodes: number) => {
  const outDir = mkdtempSync(path.join(tmpdir(), 'task-source-'));
  const result = await train({
    registry,
    method: 'grpo',
    env: 'countdown',
    seed: 3,
    budget: { episodes },
    overrides: { ...TINY, ...overrides },
    sft: 'none',
    outDir,
  });
  const steps = readFileSync(path.join(outDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, number>);
  return { result, steps };
};
const total = (steps: readonly Record<string, number>[], key: string) => steps.reduce((a, m) => a + (m[key] ?? 0), 0);

describe('evolving-pool in a countdown run', () => {
  it('adds and retires tasks, asks the policy to write every step, and records it all per step', async () => {
    const { result, steps } = await run(
      { taskSource: 'evolving-pool', taskSourceOptions: { size: 4, patience: 1, write: 3 } },
      48,
    );
    expect(steps).toHaveLength(6);
    expect(total(steps, 'taskSource.added')).toBeGreaterThan(0);
    expect(total(steps, 'taskSource.retired')).toBeGreaterThan(0);
    for (const m of steps) {
      expect(m['taskSource.poolSize']).toBeLessThanOrEqual(4);
      expect(m['taskSource.writtenAccepted'] + m['taskSource.writtenRejected'] + m['taskSource.writtenDuplicates']).toBe(3);
      expect(m['taskSource.generatedTokens']).toBeGreaterThan(0);
    }
    // The writing is charged: more generated tokens than the rollouts' own.
    const rolloutTokens = steps.reduce((a, m) => a + m.meanActionTokens * TINY.tasksPerStep * TINY.groupSize, 0);
    expect(result.budget.consumed.generatedTokens).toBeCloseTo(rolloutTokens + total(steps, 'taskSource.generatedTokens'), 6);
    expect(result.diagnostics['taskSource.poolSize']).toBeLessThanOrEqual(4);
  });
});

describe('judge-tasks in a countdown run', () => {
  it('injects judge tasks built from earlier rollouts; evaluation stays the environment’s own', async () => {
    const judged = await run({ taskSource: 'judge-tasks', taskSourceOptions: { share: 0.5 } }, 48);
    const plain = await run({}, 48);
    const [first, ...later] = judged.steps as [Record<string, number>, ...Record<string, number>[]];
    expect(first['taskSource.judgeGroups']).toBe(0); // nothing observed before step 1
    expect(first['taskSource.judgeBuilt']).toBeGreaterThan(0);
    expect(total(later, 'taskSource.judgeGroups')).toBeGreaterThan(0);
    expect(total(later, 'taskSource.judgeRollouts')).toBe(total(later, 'taskSource.judgeGroups') * TINY.groupSize);
    for (const m of judged.steps) expect(m['reward.judge']).toBeGreaterThanOrEqual(0);
    // Same environment name and test tasks: the evaluation before any training is the plain run's, number for number.
    expect(judged.result.env).toBe('countdown');
    for (const key of ['success', 'greedySuccess', 'passAtK'] as const)
      expect(judged.result.initial[key]).toBe(plain.result.initial[key]);
    expect(judged.result.initial.reward.correct).toBe(plain.result.initial.reward.correct);
    expect(judged.result.initial.reward.judge).toBe(0);
  });
});
