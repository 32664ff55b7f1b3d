import { describe, expect, it } from 'vitest';
import { type CompareConfig, planComparison } from '../compare/plan.js';
import { fakeComparison, registry } from '../test-support/fake-comparison.js';
import { baselineDifferences, compareWithBaseline } from './baseline.js';

const plan = (overrides: Record<string, unknown> = {}) =>
  planComparison(registry, { methods: ['grpo', 'gdpo'], seeds: '5', overrides, backend: 'wasm', kernels: 'fast' });

const run = async (config: CompareConfig, shift: Record<string, number> = {}) =>
  (await fakeComparison(config, { reps: 2000, shift })).document;
const bootstrap = { reps: 2000, level: 0.95, seed: 0 };
const verdicts = (comparison: ReturnType<typeof compareWithBaseline>) =>
  Object.fromEntries(comparison.verdicts.map((v) => [v.method, v.verdict]));

describe('compare --baseline', () => {
  it('flags a planted regression and calls a rerun with other seeds no difference', async () => {
    const baseline = await run(plan());
    // The stand-in's seed effect looks like noise: seeds 6-10 differ from seeds 1-5 by chance only.
    const reseeded = await run(
      planComparison(registry, { methods: ['grpo', 'gdpo'], seeds: '6-10', overrides: {}, backend: 'wasm', kernels: 'fast' }),
    );
    expect(verdicts(compareWithBaseline(reseeded, baseline, 'b.json', [], bootstrap))).toEqual({
      'sft-start': 'no difference',
      grpo: 'no difference',
      gdpo: 'no difference',
    });
    const planted = await run(plan(), { grpo: -0.15 });
    const comparison = compareWithBaseline(planted, baseline, 'b.json', [], bootstrap);
    expect(verdicts(comparison)).toEqual({ 'sft-start': 'no difference', grpo: 'regressed', gdpo: 'no difference' });
    const grpo = comparison.verdicts.find((v) => v.method === 'grpo');
    expect(grpo?.difference.estimate).toBeCloseTo(-0.15, 12);
    expect(grpo?.resampled).toBe('seeds and tasks');
    expect(grpo?.pHolm).toBeLessThan(0.05);
    const improved = compareWithBaseline(baseline, planted, 'b.json', [], bootstrap);
    expect(verdicts(improved).grpo).toBe('improved');
  });

  it('pairs seeds when both comparisons ran the same seeds, so a small regression under a large seed effect is caught', async () => {
    // The stand-in's seed effect spans 0.10; a drop of 0.04 on every seed hides in it when the
    // seeds are resampled on each side, and stands out when seed k now is compared with seed k then.
    const baseline = await run(plan());
    const planted = await run(plan(), { grpo: -0.04 });
    const comparison = compareWithBaseline(planted, baseline, 'b.json', [], bootstrap);
    const grpo = comparison.verdicts.find((v) => v.method === 'grpo');
    expect(grpo?.pairedSeeds).toBe(true);
    expect(grpo?.difference.estimate).toBeCloseTo(-0.04, 12);
    expect(grpo?.verdict).toBe('regressed');
    expect(verdicts(comparison)['sft-start']).toBe('no difference');
    // Other seeds share no randomness with the baseline: resampled on their own side, as before.
    const reseeded = await run(
      planComparison(registry, { methods: ['grpo', 'gdpo'], seeds: '6-10', overrides: {}, backend: 'wasm', kernels: 'fast' }),
      { grpo: -0.04 },
    );
    const unpaired = compareWithBaseline(reseeded, baseline, 'b.json', [], bootstrap).verdicts.find((v) => v.method === 'grpo');
    expect(unpaired?.pairedSeeds).toBe(false);
    expect(unpaired?.verdict).toBe('no difference');
  });

  it('requires the same budget, evaluation and environment options, and lists other differences', async () => {
    const baseline = await run(plan());
    expect(baselineDifferences(plan({ learningRate: 3e-5 }), baseline, 'b.json')).toEqual([
      'learningRate 0.00003 here, null there',
    ]);
    expect(() => baselineDifferences(plan({ evalTasks: 16 }), baseline, 'b.json')).toThrow(
      /b\.json ran another protocol: evalTasks 32 there, 16 here/,
    );
    expect(() => baselineDifferences({ ...plan(), envs: ['translate'] }, baseline, 'b.json')).toThrow(
      /shares no environment with this comparison/,
    );
  });
});
