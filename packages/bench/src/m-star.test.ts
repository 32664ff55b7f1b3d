/**
 * M-STAR end to end from the installed catalog on a tiny model: the exploration monitor's probes
 * are charged, the round samples at the temperature it chose, the self-evolving rounds never read
 * the test split, and a short run from a random policy learns.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AdvantageEstimator, Environment, Method, Plugin, Rollout, StepHook } from '@policy-lab/core';
import { initBackend, train } from '@policy-lab/trainer';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { methodDiagnosticsSection, methodStepDiagnostics } from './report/diagnostics-html.js';
import { letters } from './test-support/letters-env.js';
import { sourceRegistry } from './test-support/source-registry.js';
import { metricsOf, tinyRun } from './test-support/tiny-runs.js';

const registry = await sourceRegistry();
const countdown = registry.get('environments', 'countdown') as Environment;

// Spies: the rollouts the estimator trains on and the ones the monitor probes, as the trainer hands them over.
const seen = { trained: [] as Rollout[][], probed: [] as Rollout[][] };
const PROBE = { probeTasks: 2, samples: 2, roundSteps: 3 };
const GRID = [0.5, 0.7, 0.9, 1.1];
const method = registry.get('methods', 'm-star') as Method;

/**
 * The m-star estimator and monitor (the default grid, a small probe set, rounds of 3 steps) as spies
 * named with `suffix`; rankBy '' ranks by the order drawn, so a method without the reward model runs.
 */
function spies(suffix: string, rankBy?: string): Pick<Plugin, 'estimators' | 'hooks'> {
  const rank = rankBy === undefined ? {} : { rankBy };
  const estimator = (registry.get('estimators', 'm-star') as AdvantageEstimator).configure?.(rank) as AdvantageEstimator;
  const balancer = (registry.get('hooks', 'mstar-temp-balancer') as StepHook).configure?.({ ...PROBE, ...rank }) as StepHook;
  const { configure: _e, ...estimatorRest } = estimator;
  const { configure: _h, ...balancerRest } = balancer;
  return {
    estimators: [
      {
        ...estimatorRest,
        name: `m-star-spy${suffix}`,
        compute(groups, ctx) {
          seen.trained.push(...groups.map((g) => [...g]));
          return estimator.compute(groups, ctx);
        },
      },
    ],
    hooks: [
      {
        ...balancerRest,
        name: `mstar-temp-balancer-spy${suffix}`,
        onStepStart(ctx) {
          const sample = ctx.sample;
          return balancer.onStepStart?.({
            ...ctx,
            ...(sample
              ? {
                  sample: async (tasks: readonly unknown[], options: { count: number; temperature: number }) => {
                    const groups = await sample(tasks, options);
                    seen.probed.push(...groups);
                    return groups;
                  },
                }
              : {}),
          });
        },
      },
    ],
  };
}
const ranked = spies('');
const unranked = spies('-unranked', '');
registry.register(
  {
    name: 'm-star-spies',
    estimators: [...(ranked.estimators ?? []), ...(unranked.estimators ?? [])],
    hooks: [...(ranked.hooks ?? []), ...(unranked.hooks ?? [])],
    environments: [letters],
    methods: [
      { ...method, name: 'm-star-spy', estimator: 'm-star-spy', hooks: ['mstar-temp-balancer-spy'] },
      // Without the reward model (cheaper): ranked by the order drawn.
      {
        ...method,
        name: 'm-star-unranked',
        estimator: 'm-star-spy-unranked',
        hooks: ['mstar-temp-balancer-spy-unranked'],
        rewardModels: [],
      },
      { ...method, name: 'm-star-no-monitor', estimator: 'm-star-spy-unranked', hooks: [], rewardModels: [] },
    ],
  },
  'test',
);

const TINY = { ...tinyRun(48), evalTasks: 4 };
beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

const tokens = (groups: readonly Rollout[][]) =>
  groups.flat().reduce((a, r) => a + r.turns.reduce((b, t) => b + t.actionTokens.length, 0), 0);
const M = 'hook.mstar-temp-balancer-spy.';

describe('m-star', () => {
  it('is registered with its monitor hook, its selection, supervised updates and the reranking reward model', () => {
    expect(registry.get('methods', 'm-star')).toMatchObject({
      estimator: 'm-star',
      loss: 'reinforce',
      hooks: ['mstar-temp-balancer'],
      rewardModels: ['bt-outcome'],
    });
  });

  it('a short run: success rises; the monitor picks the best measured temperature; every probe episode and token is charged', async () => {
    seen.trained.length = 0;
    seen.probed.length = 0;
    const outDir = mkdtempSync(path.join(tmpdir(), 'm-star-'));
    const result = await train({
      registry,
      method: 'm-star-spy',
      env: 'letters',
      seed: 3,
      budget: { episodes: 200 },
      overrides: {
        ...TINY,
        evalTasks: 8,
        evalSamples: 8,
        learningRate: 0.03,
        // A small reward model: the reranking acts the same, the test stays fast.
        rewardModelOptions: { 'bt-outcome': { dim: 16, layers: 1, heads: 2, updatesPerStep: 2, batch: 16 } },
      },
      sft: 'none',
      outDir,
    });
    const metrics = metricsOf(outDir);
    expect(result.steps).toBeGreaterThanOrEqual(6);
    // It acts: fine-tuned on its kept responses, the policy answers with an a more often (64 test samples each).
    expect(result.final.success).toBeGreaterThan(result.initial.success + 0.2);
    // The monitor: at each round's start (steps 1, 4, 7, ...), Reward-Pass@2 at every grid temperature and the argmax chosen.
    const rounds = metrics.filter((m) => (m.step - 1) % PROBE.roundSteps === 0);
    expect(rounds.length).toBeGreaterThanOrEqual(2);
    let probes = 0;
    for (const m of rounds) {
      const measured = GRID.map((t) => m[`${M}rewardPass@2.T${t}`]);
      if (measured.some((v) => v === undefined)) continue; // refused at the budget's end
      probes += 1;
      const chosen = m[`${M}temperature`] as number;
      expect(GRID).toContain(chosen);
      expect(m[`${M}rewardPass@2`]).toBe(Math.max(...(measured as number[])));
    }
    expect(probes).toBeGreaterThanOrEqual(2);
    // Inside a round the temperature is the round's.
    for (const m of metrics)
      if ((m.step - 1) % PROBE.roundSteps !== 0)
        expect(m[`${M}temperature`]).toBe(metrics[m.step - 1 - ((m.step - 1) % PROBE.roundSteps)]?.[`${M}temperature`]);
    // Charged: the training rollouts and every probe rollout, episodes and generated tokens exactly.
    expect(seen.probed.flat()).toHaveLength(probes * GRID.length * PROBE.probeTasks * PROBE.samples);
    expect(result.budget.consumed.episodes).toBe(seen.trained.flat().length + seen.probed.flat().length);
    expect(result.budget.consumed.generatedTokens).toBe(tokens(seen.trained) + tokens(seen.probed));
    // The probes are ranked by the reward model: each carries its score.
    for (const r of seen.probed.flat()) expect(typeof r.reward.rmScore).toBe('number');
    expect(result.budget.consumed.episodes).toBeLessThanOrEqual(200);
  }, 30_000);

  it("the round's rollouts are sampled at the temperature the monitor set", async () => {
    const first = async (name: string, extra: Record<string, unknown>, episodes = 16) => {
      seen.trained.length = 0;
      const outDir = mkdtempSync(path.join(tmpdir(), 'm-star-t-'));
      await train({
        registry,
        method: name,
        env: 'letters',
        seed: 5,
        budget: { episodes },
        overrides: { ...TINY, ...extra },
        sft: 'none',
        outDir,
      });
      return { actions: seen.trained.flat().map((r) => r.turns[0]?.action), metrics: metricsOf(outDir) };
    };
    const monitored = await first('m-star-unranked', {}, 16 + GRID.length * PROBE.probeTasks * PROBE.samples);
    const chosen = monitored.metrics[0]?.['hook.mstar-temp-balancer-spy-unranked.temperature'] as number;
    expect(GRID).toContain(chosen);
    // Step 1's randomness depends on (seed, step) only: without the monitor at its temperature, the same answers.
    const fixed = await first('m-star-no-monitor', { temperature: chosen });
    expect(monitored.actions).toEqual(fixed.actions);
    const other = await first('m-star-no-monitor', { temperature: chosen === 0.5 ? 1.1 : 0.5 });
    expect(other.actions).not.toEqual(monitored.actions);
  }, 30_000);

  it('property: neither a self-training round nor a probe reads the test split', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 50 }), async (seed) => {
        seen.trained.length = 0;
        seen.probed.length = 0;
        const testIds = new Set(countdown.tasks('test', { seed }).map((t) => countdown.taskId(t)));
        await train({
          registry,
          method: 'm-star-spy',
          env: 'countdown',
          seed,
          budget: { episodes: 16 + GRID.length * PROBE.probeTasks * PROBE.samples },
          overrides: { ...TINY },
          sft: 'none',
        });
        expect(seen.trained.flat().length).toBeGreaterThan(0);
        expect(seen.probed.flat().length).toBeGreaterThan(0);
        for (const r of [...seen.trained.flat(), ...seen.probed.flat()]) expect(testIds.has(r.taskId)).toBe(false);
      }),
      { numRuns: 2 },
    );
  }, 30_000);

  it('report.html plots the exploration monitor: its metrics averaged over seeds (hand-computed), one plot', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'm-star-report-'));
    const K = 'hook.mstar-temp-balancer.';
    const rows = (chosen: number, low: number) => [
      { step: 1, [`${K}temperature`]: chosen, [`${K}rewardPass@2.T0.5`]: low, [`${K}rewardPass@2.T1.1`]: 0.5 },
      { step: 2, [`${K}temperature`]: chosen },
    ];
    for (const [id, chosen, low] of [
      ['s1', 0.5, 0.75],
      ['s2', 1.1, 0.25],
    ] as const) {
      mkdirSync(path.join(out, 'runs', id), { recursive: true });
      writeFileSync(
        path.join(out, 'runs', id, 'metrics.jsonl'),
        `${rows(chosen, low)
          .map((r) => JSON.stringify(r))
          .join('\n')}\n`,
      );
    }
    const found = methodStepDiagnostics(out, [
      { id: 's1', method: 'm-star', env: 'countdown', seed: 1 },
      { id: 's2', method: 'm-star', env: 'countdown', seed: 2 },
    ]);
    const at = (metric: string, step: number) =>
      found.filter((d) => d.metric === `${K}${metric}` && d.step === step).map((d) => d.value);
    expect(at('temperature', 2)).toEqual([0.8]);
    expect(at('rewardPass@2.T0.5', 1)).toEqual([0.5]);
    expect(at('rewardPass@2.T1.1', 1)).toEqual([0.5]);
    const html = await methodDiagnosticsSection('countdown', found);
    expect((html.match(/<svg/g) ?? []).length).toBe(1);
    expect(html).toContain('exploration monitor');
  });
});
