import { describe, expect, it } from 'vitest';
import { planComparison, SFT_START } from '../compare/plan.js';
import { fakeComparison, registry } from '../test-support/fake-comparison.js';
import { aggregate } from './aggregate.js';
import { renderMarkdown } from './render.js';

const comparison = async (reps: number) =>
  (
    await fakeComparison(
      planComparison(registry, {
        methods: ['grpo', 'mc-grpo', 'gdpo'],
        seeds: '3',
        overrides: {},
        backend: 'wasm',
        kernels: 'fast',
      }),
      { reps },
    )
  ).document;

describe('aggregate: two-level intervals and Holm-adjusted verdicts', () => {
  it('shows what the tasks add, pairs methods on shared seeds and tasks, and adjusts across all pairs', async () => {
    const doc = await comparison(2000);
    const env = doc.aggregates.envs[0];
    if (!env) throw new Error('no environment aggregate');
    expect(env.testTasks).toBe(8);
    // The 8 tasks differ by up to 0.4 in success: resampling them widens every interval.
    for (const m of env.methods) {
      const seedOnly = m.success.high - m.success.low;
      const twoLevel = (m.successTwoLevel?.high ?? 0) - (m.successTwoLevel?.low ?? 0);
      expect(twoLevel, m.method).toBeGreaterThan(seedOnly);
    }
    // 5 methods (with the sft-start and grpo-plus-one controls): 10 pairs in the Holm family.
    expect(doc.aggregates.multipleComparisons).toEqual({ method: 'holm', alpha: 0.05, pairs: 10 });
    const pair = (x: string, y: string) => env.pairs.find((p) => p.x === x && p.y === y);
    // The stand-in lifts mc-grpo by 0.2 and gdpo by 0.15 over the same seed and task effects: paired, the
    // difference is exactly 0.05 in every replicate, although the methods' own intervals overlap.
    const mcGdpo = pair('mc-grpo', 'gdpo');
    expect(mcGdpo?.better).toBe('none');
    expect(mcGdpo?.difference.low).toBeCloseTo(0.05, 12);
    expect(mcGdpo?.difference.high).toBeCloseTo(0.05, 12);
    expect(mcGdpo?.p).toBeCloseTo(2 / 2001, 12);
    expect(mcGdpo?.holm).toBe('x');
    // grpo and grpo-plus-one get the same lift: p = 1, no difference after adjustment.
    expect(pair('grpo', 'grpo-plus-one')).toMatchObject({ p: 1, pHolm: 1, holm: 'none' });
    for (const p of env.pairs) {
      expect(p.resampled).toBe('seeds and tasks');
      expect(p.pHolm).toBeGreaterThanOrEqual(p.p);
      expect(p.holm === 'none').toBe(!(p.pHolm < 0.05));
    }
    expect(renderMarkdown(doc)).toMatch(
      /- mc-grpo vs gdpo: no difference detected \(IQM intervals overlap\); paired difference \+5\.0% \[\+5\.0%, \+5\.0%\] over seeds and tasks, p < 0\.001; Holm over 10 pairs: p 0\.010, mc-grpo higher/,
    );
  });

  it('says when --reps is too small for any Holm-adjusted p to fall below alpha', async () => {
    const doc = await comparison(200);
    expect(doc.aggregates.envs[0]?.pairs.every((p) => p.holm === 'none')).toBe(true);
    expect(renderMarkdown(doc)).toMatch(/with 200 resamples and 10 pairs no Holm-adjusted p can fall below 0.05/);
  });

  it('falls back to seed-only pairing for runs without per-task outcomes, and says so', async () => {
    const doc = await comparison(500);
    const runs = doc.runs.map((r) => ({
      ...r,
      final: { ...r.final, perTask: undefined },
      initial: { ...r.initial, perTask: undefined },
    }));
    const older = aggregate(runs, { reps: 500 });
    const env = older.envs[0];
    expect(env?.testTasks).toBeNull();
    expect(env?.twoLevelMissing).toMatch(/did not record per-task outcomes/);
    expect(env?.methods.every((m) => m.successTwoLevel === undefined)).toBe(true);
    expect(env?.pairs.every((p) => p.resampled === 'seeds')).toBe(true);
    expect(renderMarkdown({ ...doc, aggregates: older })).toMatch(/No interval over seeds and tasks: the runs did not record/);
  });

  it("the SFT start control is a run's start without a soft prompt, whatever the order of the runs", async () => {
    const doc = await comparison(200);
    const plain = aggregate(doc.runs, { reps: 200 }).envs[0]?.methods.find((m) => m.method === SFT_START);
    // A soft-prompt method's runs start elsewhere (their own SFT start): here at 0, listed last and first.
    const prompted = doc.runs
      .filter((r) => r.method === 'gdpo')
      .map((r) => ({
        ...r,
        method: 'oppo-context',
        config: { ...r.config, softPrompt: 4 },
        initial: { ...r.initial, success: 0, perTask: r.initial.perTask?.map(() => 0) },
      }));
    for (const runs of [
      [...doc.runs, ...prompted],
      [...prompted, ...doc.runs],
    ]) {
      const start = aggregate(runs, { reps: 200 }).envs[0]?.methods.find((m) => m.method === SFT_START);
      expect(start?.success).toEqual(plain?.success);
      expect(start?.success.estimate).toBeGreaterThan(0);
    }
    // Only soft-prompt runs: their own starts.
    const alone = aggregate(prompted, { reps: 200 }).envs[0]?.methods.find((m) => m.method === SFT_START);
    expect(alone?.success.estimate).toBe(0);
  });
});

describe('aggregate: a method that has no run on an environment', () => {
  it('is left out of that environment (a leaderboard pair skipped, or every seed of it failed) and kept on the others', async () => {
    const doc = await comparison(200);
    // gdpo on a second environment only through a copy of countdown's runs, less gdpo's.
    const other = doc.runs.filter((r) => r.method !== 'gdpo').map((r) => ({ ...r, env: 'other', id: `${r.id}-other` }));
    const aggregates = aggregate([...doc.runs, ...other], { reps: 200 });
    const methodsOf = (env: string) => aggregates.envs.find((e) => e.env === env)?.methods.map((m) => m.method);
    expect(methodsOf('countdown')).toContain('gdpo');
    expect(methodsOf('other')).toEqual(['sft-start', 'grpo', 'mc-grpo', 'grpo-plus-one']);
  });
});
