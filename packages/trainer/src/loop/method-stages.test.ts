/**
 * A Method's earlier stages (EVA's KTO before GRPO): each stage's loss trains until the budget's
 * progress reaches its share, then the Method's loss; a stage's needs (a reference) are the run's.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Plugin } from '@policy-lab/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { TINY, temporaryFolder, tinyRegistry } from '../test-support/tiny.js';
import { resolvePlugins } from './plugins.js';
import { train } from './train.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

const staged = (until: number[]): Plugin => ({
  name: `staged-${until.join('-')}`,
  methods: [
    {
      name: 'staged',
      summary: 'KTO stages, then PPO clip',
      estimator: 'mean-baseline',
      loss: 'ppo-clip',
      stages: until.map((u) => ({ loss: 'kto-test', until: u })),
    },
  ],
});

describe('method stages', () => {
  it('trains with the stage loss while the budget progress is below its share, then with the Method loss', async () => {
    const outDir = temporaryFolder();
    const result = await train({
      registry: tinyRegistry(staged([0.5])),
      method: 'staged',
      env: 'echo',
      seed: 2,
      budget: { episodes: 6 * 24 },
      overrides: { ...TINY },
      sft: 'none',
      outDir,
    });
    const steps = readFileSync(path.join(outDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, number>);
    // 24 episodes a step of 144: progress 0, 1/6, 2/6 before steps 1-3 (KTO), 3/6 from step 4 on.
    expect(steps.map((m) => m.lossStage)).toEqual([0, 0, 0, 1, 1, 1]);
    for (const m of steps.slice(0, 3)) expect(m.preferenceExamples).toBeTypeOf('number');
    for (const m of steps.slice(3)) expect(m.preferenceExamples).toBeUndefined();
    // KTO reads the reference, which the run kept for it (the Method's own loss needs none).
    expect(steps.slice(0, 3).some((m) => typeof m.kl === 'number')).toBe(true);
    expect(result.budget.consumed.episodes).toBe(144);
  });

  it('refuses stage shares that do not increase within (0, 1)', () => {
    for (const until of [[0], [1], [0.6, 0.4]])
      expect(() =>
        resolvePlugins({
          registry: tinyRegistry(staged(until)),
          method: 'staged',
          env: 'echo',
          seed: 1,
          budget: { episodes: 10 },
          overrides: TINY,
        }),
      ).toThrow(/shares must increase within \(0, 1\)/);
    expect(
      resolvePlugins({
        registry: tinyRegistry(staged([0.2, 0.6])),
        method: 'staged',
        env: 'echo',
        seed: 1,
        budget: { episodes: 10 },
        overrides: TINY,
      }).stages?.map((s) => s.until),
    ).toEqual([0.2, 0.6]);
  });
});
