import { parseBudget } from '@policy-lab/core';
import { describe, expect, it } from 'vitest';
import { fakeComparison, registry } from '../test-support/fake-comparison.js';
import {
  describeRun,
  evalTasksWarnings,
  overridesFor,
  PRESETS,
  parseSeeds,
  planComparison,
  presetDeviations,
  runLevel,
} from './plan.js';

const input = { overrides: {}, backend: 'wasm', kernels: 'fast' };

describe('what a comparison says it ran', () => {
  it('parses --seeds as a count or a range, and refuses anything else in one line', () => {
    expect(parseSeeds('3')).toEqual([1, 2, 3]);
    expect(parseSeeds('11-14')).toEqual([11, 12, 13, 14]);
    for (const bad of ['0', '3-2', '0-4', 'x', '1,2', '-3', '1-99999'])
      expect(() => parseSeeds(bad)).toThrow(`bad --seeds '${bad}': expected a positive integer N (seeds 1..N) or a range A-B`);
  });

  it('lists what differs from the preset, envOptions one by one', () => {
    const config = planComparison(registry, {
      ...input,
      methods: ['grpo'],
      seeds: '3',
      budget: 'episodes=3200',
      overrides: { envOptions: { numbers: 3, maxNumber: 20 }, evalTasks: 32, learningRate: 1e-4 },
    });
    expect(presetDeviations(config)).toEqual([
      'seeds 3',
      'episodes 3200',
      'envOptions.numbers 3',
      'envOptions.maxNumber 20',
      'learningRate 0.0001',
    ]);
    expect(describeRun(config)).toBe(
      'quick preset with overrides: seeds 3, episodes 3200, envOptions.numbers 3, envOptions.maxNumber 20, learningRate 0.0001; smoke-level: 3 seeds and 3200 episodes per run (conclusions start at 10 seeds and 8000 episodes per run, the standard preset); use --preset standard or paper for conclusions',
    );
    expect(presetDeviations(planComparison(registry, { ...input, methods: ['grpo'], seeds: '6-10' }))).toEqual(['seeds 6-10']);
    expect(describeRun(planComparison(registry, { ...input, methods: ['grpo'] }))).toMatch(
      /^quick preset; smoke-level: 5 seeds and 1600 episodes per run/,
    );
  });

  it('judges the level from what ran, not from the preset name', () => {
    const seeds = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
    expect(runLevel({ seeds: seeds(10), budget: parseBudget('episodes=8000') }).smoke).toBe(false);
    expect(runLevel({ seeds: seeds(12), budget: parseBudget('episodes=9000') }).text).toBe(
      '12 seeds and 9000 episodes per run (conclusions start at 10 seeds and 8000 episodes per run, the standard preset)',
    );
    expect(runLevel({ seeds: seeds(10), budget: parseBudget('episodes=7999') }).smoke).toBe(true);
    expect(runLevel({ seeds: seeds(9), budget: parseBudget('episodes=20000') }).smoke).toBe(true);
    const tokens = runLevel({ seeds: seeds(10), budget: parseBudget('tokens=50000') });
    expect(tokens.smoke).toBeNull();
    expect(tokens.text).toMatch(/^level not judged: 10 seeds with a budget of tokens 50000 per run/);
    // A standard preset run with --seeds 3 is smoke-level, and says so.
    const config = planComparison(registry, { ...input, methods: ['grpo'], preset: 'standard', seeds: '3' });
    expect(describeRun(config)).toMatch(/^standard preset with overrides: seeds 3; smoke-level: 3 seeds and 8000 episodes/);
  });

  it('records the seeds of a range, and the report states them', async () => {
    const { document } = await fakeComparison(planComparison(registry, { ...input, methods: ['grpo'], seeds: '4-5' }));
    expect(document.config.seeds).toEqual([4, 5]);
    expect(document.runs.map((r) => r.seed)).toEqual([4, 5]);
  });
});

describe('shared options that only some methods read', () => {
  it('apply to the methods that read them; a key no method reads is refused', async () => {
    const { createRegistry } = await import('@policy-lab/core/node');
    const { readersOf, resolveTrainConfig, unreadOptions } = await import('@policy-lab/trainer');
    const root = new URL('../../../..', import.meta.url).pathname;
    const { registry: full } = await createRegistry({ cwd: root, discoverFrom: [root] });
    const plan = (methods: string[], overrides: Record<string, unknown>) =>
      planComparison(full, {
        methods,
        envs: 'countdown',
        overrides,
        backend: 'wasm',
        kernels: 'fast',
        resolveTrainConfig,
        unreadOptions: (unit) => unreadOptions({ registry: full, ...unit, seed: 1 }),
        readersOf: (key) => readersOf(key, full),
      });
    const mixed = plan(['grpo', 'dpo'], { clipLow: 0.1 });
    expect(mixed.partialOptions).toEqual({ clipLow: ['grpo'] });
    expect(overridesFor(mixed, 'grpo')).toMatchObject({ clipLow: 0.1 });
    expect(overridesFor(mixed, 'dpo')).not.toHaveProperty('clipLow');
    expect(() => plan(['dpo'], { clipLow: 0.1 })).toThrow(/--set clipLow: no method of this comparison reads it \(dpo\)/);
    expect(plan(['grpo', 'mc-grpo'], { clipLow: 0.1 }).partialOptions).toBeUndefined();
  });
});

describe('test splits and evalTasks', () => {
  const full = async () => {
    const { createRegistry } = await import('@policy-lab/core/node');
    const root = new URL('../../../..', import.meta.url).pathname;
    return (await createRegistry({ cwd: root, discoverFrom: [root] })).registry;
  };
  // 2 numbers from 1-3: a test split of 3 tasks (as a user's small --data split would be).
  const small = { envOptions: { numbers: 2, maxNumber: 3 } };

  it("records each environment's splits; the standard and paper presets evaluate at least 200 tasks the split holds", async () => {
    const registry = await full();
    const quick = planComparison(registry, { ...input, methods: ['grpo'], envs: 'countdown' });
    const splits = quick.splits?.countdown;
    expect(splits?.test).toBe(500);
    // The quick preset's runs draw 1600 / 4 = 400 tasks: the pool holds at least 10x that.
    expect(splits?.trainDistinct).toBeGreaterThanOrEqual(10 * 400);
    for (const preset of ['standard', 'paper'] as const) {
      const config = planComparison(registry, { ...input, methods: ['grpo'], envs: 'countdown', preset });
      expect(PRESETS[preset].overrides.evalTasks).toBeGreaterThanOrEqual(200);
      expect(config.evalTasksCapped).toBeUndefined();
      expect(overridesFor(config, 'grpo', 'countdown').evalTasks).toBe(PRESETS[preset].overrides.evalTasks);
    }
  });

  it("caps the preset's evalTasks to a small split with a warning; an explicit evalTasks beyond it is bad input", async () => {
    const registry = await full();
    const config = planComparison(registry, { ...input, methods: ['grpo'], envs: 'countdown', overrides: small });
    expect(config.splits?.countdown?.test).toBe(3);
    expect(config.evalTasksCapped).toEqual({ countdown: 3 });
    expect(overridesFor(config, 'grpo', 'countdown').evalTasks).toBe(3);
    expect(overridesFor(config, 'grpo').evalTasks).toBe(32);
    expect(evalTasksWarnings(config)).toEqual([
      "warning: the quick preset evaluates 32 test tasks, but countdown's test split holds 3 under its options: its runs evaluate all 3",
    ]);
    expect(() =>
      planComparison(registry, { ...input, methods: ['grpo'], envs: 'countdown', overrides: { ...small, evalTasks: 4 } }),
    ).toThrow("--set evalTasks=4: environment 'countdown' has 3 test tasks under its options (accepted: 1..3)");
    const fits = planComparison(registry, {
      ...input,
      methods: ['grpo'],
      envs: 'countdown',
      overrides: { ...small, evalTasks: 3 },
    });
    expect(fits.evalTasksCapped).toBeUndefined();
    // The evaluation set may run past the test split's default 500: countdown's default holds 1507 distinct test tasks.
    const many = planComparison(registry, { ...input, methods: ['grpo'], envs: 'countdown', overrides: { evalTasks: 600 } });
    expect(overridesFor(many, 'grpo', 'countdown').evalTasks).toBe(600);
    expect(() =>
      planComparison(registry, { ...input, methods: ['grpo'], envs: 'countdown', overrides: { evalTasks: 2000 } }),
    ).toThrow("--set evalTasks=2000: environment 'countdown' has 1507 test tasks under its options (accepted: 1..1507)");
  });
});
