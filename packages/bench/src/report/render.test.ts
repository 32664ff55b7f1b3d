import { Rng } from '@policy-lab/core';
import { describe, expect, it } from 'vitest';
import { planComparison } from '../compare/plan.js';
import { fakeComparison, registry } from '../test-support/fake-comparison.js';
import { renderMarkdown, renderTable, repeatedDraws } from './render.js';

describe('how often training draws repeat', () => {
  it('matches cases counted by hand', () => {
    // Pool {a, b}, 2 draws: aa ab ba bb, equally likely; the second draw repeats in aa and bb: 1 of 4 draws.
    expect(repeatedDraws(2, 2).perTask).toBe(1);
    expect(repeatedDraws(2, 2).repeatFraction).toBeCloseTo(0.25, 12);
    // A pool of one task: every draw after the first repeats.
    expect(repeatedDraws(1, 4).repeatFraction).toBeCloseTo(0.75, 12);
    expect(repeatedDraws(10, 0)).toEqual({ perTask: 0, repeatFraction: 0 });
  });

  it('agrees with simulated uniform draws (countdown: 2000 draws from 6216 tasks)', () => {
    const rng = Rng.seeded(5);
    const trials = 200;
    let repeats = 0;
    for (let t = 0; t < trials; t++) {
      const seen = new Set<number>();
      for (let k = 0; k < 2000; k++) seen.add(rng.int(0, 6215));
      repeats += 1 - seen.size / 2000;
    }
    expect(Math.abs(repeats / trials - repeatedDraws(6216, 2000).repeatFraction)).toBeLessThan(0.005);
  });
});

describe('what the report says about the test and training splits', () => {
  const input = { methods: ['grpo'], seeds: '3', overrides: {}, backend: 'wasm', kernels: 'fast' };

  it('states how many of the test split were evaluated, and how often training tasks repeat when the pool is small', async () => {
    const { document } = await fakeComparison(planComparison(registry, input));
    const config = document.config as Record<string, unknown>;
    config.splits = { countdown: { test: 500, train: 60, trainDistinct: 60 } };
    // 15 steps x 8 tasks = 120 draws from 60 tasks: 2 draws per task; 1 - 60 (1 - (59/60)^120) / 120 = 56.7% repeat.
    for (const run of document.runs) run.config.tasksPerStep = 8;
    const markdown = renderMarkdown(document);
    expect(markdown).toContain('Evaluation on countdown: 8 test tasks per run, of the 500 of its test split (evalTasks 32)');
    expect(markdown).toContain(
      'Training tasks on countdown: a run draws up to 120 (steps x tasksPerStep) from a pool of 60 distinct tasks; the pool is only 0.5x the draws (below 10x), so tasks repeat: each task is drawn 2.00 times on average and about 57% of a run',
    );
    expect(renderTable(document)).toContain('on 8 test tasks (of the 500 of its test split)');
    config.splits = { countdown: { test: 500, train: 5000, trainDistinct: 5000 } };
    expect(renderMarkdown(document)).toContain('the pool is 41.7x the draws (at least 10x): each task is drawn 0.02 times');
  });

  it("says when the preset's evalTasks was capped to a small test split", async () => {
    const { document } = await fakeComparison(planComparison(registry, input));
    Object.assign(document.config, {
      splits: { countdown: { test: 8, train: 9, trainDistinct: 9 } },
      evalTasksCapped: { countdown: 8 },
    });
    expect(renderMarkdown(document)).toContain(
      'Evaluation on countdown: 8 test tasks per run (evalTasks 32 in the quick preset; the test split holds 8 under these options, so all 8 are evaluated)',
    );
  });
});
