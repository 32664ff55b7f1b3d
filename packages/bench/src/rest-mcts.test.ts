/**
 * ReST-MCTS* end to end from the installed catalog on a tiny model: the search's traces and the
 * tree's inferred values self-train the policy and the value model every step, charged; the
 * training never reads the test split; multi-turn environments are refused before a run.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AdvantageEstimator, Environment, Method, RewardModel } from '@policy-lab/core';
import { initBackend, train, whyUnfit } from '@policy-lab/trainer';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { letters } from './test-support/letters-env.js';
import { sourceRegistry } from './test-support/source-registry.js';

const registry = await sourceRegistry();
const countdown = registry.get('environments', 'countdown') as Environment;

// Spies: the value model's examples and the estimator's groups, as the trainer hands them over.
const seen = { contexts: [] as string[], taskIds: [] as string[] };
const value = registry.get('rewardModels', 'restmcts-value') as RewardModel;
const estimator = registry.get('estimators', 'rest-mcts') as AdvantageEstimator;
const { configure: _valueConfigure, ...valueRest } = value;
const { configure: _estimatorConfigure, ...estimatorRest } = estimator;
registry.register(
  {
    name: 'rest-mcts-spies',
    rewardModels: [
      {
        ...valueRest,
        name: 'restmcts-value-spy',
        examples(groups, ctx) {
          const examples = value.examples(groups, ctx);
          for (const p of examples.points ?? []) seen.contexts.push(p.context);
          return examples;
        },
      },
    ],
    estimators: [
      {
        ...estimatorRest,
        name: 'rest-mcts-spy',
        compute(groups, ctx) {
          for (const r of groups.flat()) seen.taskIds.push(r.taskId);
          return estimator.compute(groups, ctx);
        },
      },
    ],
    environments: [letters],
    methods: [
      {
        ...(registry.get('methods', 'rest-mcts') as Method),
        name: 'rest-mcts-spy',
        estimator: 'rest-mcts-spy',
        sampler: { name: 'rest-mcts', options: { valueModel: 'restmcts-value-spy', simulations: 6 } },
        rewardModels: ['restmcts-value-spy'],
      },
    ],
  },
  'test',
);

const TINY = {
  model: { dim: 16, layers: 1, heads: 2, contextLength: 48 },
  sftSteps: 4,
  tasksPerStep: 4,
  groupSize: 4,
  evalTasks: 4,
  evalSamples: 1,
  evalEvery: 1,
  signFlipEvery: 0,
  learningRate: 0.01,
};

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

const metricsOf = (dir: string) =>
  readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, number> & { consumed: Record<string, number> });

/** A short run of a method on the letters environment from a random tiny policy (seed 3, 160 episodes). */
async function lettersRun(method: string) {
  const outDir = mkdtempSync(path.join(tmpdir(), `${method}-`));
  const result = await train({
    registry,
    method,
    env: 'letters',
    seed: 3,
    budget: { episodes: 160 },
    overrides: { ...TINY, evalTasks: 8, evalSamples: 8, evalEvery: 100, learningRate: 0.03, samplerOptions: { simulations: 6 } },
    sft: 'none',
    outDir,
  });
  return { result, metrics: metricsOf(outDir) };
}

describe('rest-mcts', () => {
  it('is registered with its search, its trace selection, supervised updates and its value model', () => {
    expect(registry.get('methods', 'rest-mcts')).toMatchObject({
      estimator: 'rest-mcts',
      loss: 'reinforce',
      sampler: 'rest-mcts',
      rewardModels: ['restmcts-value'],
    });
  });

  it('a tiny run: success rises; every trace charged as an episode, the value model trains on the trees, the policy only on kept traces', async () => {
    const { result, metrics } = await lettersRun('rest-mcts');
    expect(metrics).toHaveLength(result.steps);
    expect(result.steps).toBeGreaterThanOrEqual(5);
    // It acts: the policy fine-tuned on its kept traces answers with an a more often (64 test samples each).
    expect(result.final.success).toBeGreaterThan(result.initial.success + 0.2);
    // Episodes: every finished trace of every tree (tasksPerStep trees a step).
    const traces = metrics.reduce((a, m) => a + m['estimator.tracesPerTree'] * TINY.tasksPerStep, 0);
    expect(result.budget.consumed.episodes).toBeCloseTo(traces, 9);
    let previous = 0;
    for (const m of metrics) {
      const trained = m.consumed.trainedTokens - previous;
      previous = m.consumed.trainedTokens;
      // The policy learns from kept traces only: no kept trace, no trained token.
      if (m['estimator.keptTraces'] === 0) expect(trained).toBe(0);
      else expect(trained).toBeGreaterThan(0);
    }
    // The tree's targets reach the value model whenever a tree found a correct answer.
    expect(metrics.some((m) => m['estimator.correctFraction'] > 0)).toBe(true);
    for (const m of metrics)
      if (m['estimator.correctFraction'] > 0) expect(m['rewardModel.restmcts-value.examples']).toBeGreaterThan(0);
    const last = metrics[metrics.length - 1]?.consumed as Record<string, number>;
    expect(last.auxScoredTokens).toBeGreaterThan(0);
    expect(last.auxTrainedTokens).toBeGreaterThan(0);
    // Search tokens (expansions, roll-forwards) are charged beyond the traces' own.
    expect(last.generatedTokens).toBeGreaterThan(0);
  });

  it('property: a self-training round never trains on the test split (evaluation between every step)', async () => {
    const testTasks = countdown.tasks('test', { seed: 0 });
    const testObservations = new Set(testTasks.map((t) => countdown.start(t, undefined as never).observation()));
    const testIds = new Set(testTasks.map((t) => countdown.taskId(t)));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 50 }), async (seed) => {
        seen.contexts.length = 0;
        seen.taskIds.length = 0;
        const runTests = countdown.tasks('test', { seed, count: TINY.evalTasks });
        for (const t of runTests) {
          testIds.add(countdown.taskId(t));
          testObservations.add(countdown.start(t, undefined as never).observation());
        }
        await train({
          registry,
          method: 'rest-mcts-spy',
          env: 'countdown',
          seed,
          budget: { episodes: 32 },
          overrides: TINY,
          sft: 'none',
        });
        expect(seen.taskIds.length).toBeGreaterThan(0);
        for (const id of seen.taskIds) expect(testIds.has(id)).toBe(false);
        for (const context of seen.contexts) expect(testObservations.has(context)).toBe(false);
      }),
      { numRuns: 2 },
    );
  });

  it('is refused before a run on a multi-turn environment, naming what it needs', () => {
    expect(whyUnfit({ registry, method: 'rest-mcts', env: 'gridnav', seed: 1 })).toMatch(
      /sampler 'rest-mcts' searches the steps of one action: .*gridnav.*single-turn environment/,
    );
    expect(whyUnfit({ registry, method: 'rest-mcts', env: 'countdown', seed: 1 })).toBeUndefined();
  });
});

describe('o1-recipe', () => {
  it("is registered with the roadmap's parts: ReST-MCTS*'s search and value model, outcome + process advantages, PPO", () => {
    expect(registry.get('methods', 'o1-recipe')).toMatchObject({
      estimator: 'o1-recipe',
      loss: 'ppo-clip',
      sampler: 'rest-mcts',
      rewardModels: ['restmcts-value'],
    });
    expect(whyUnfit({ registry, method: 'o1-recipe', env: 'gridnav', seed: 1 })).toMatch(/single-turn environment/);
  });

  it('a tiny run: success rises; every trace is trained, with the process reward in its tokens; the search is charged', async () => {
    const { result, metrics } = await lettersRun('o1-recipe');
    expect(result.steps).toBeGreaterThanOrEqual(5);
    expect(result.final.success).toBeGreaterThan(result.initial.success + 0.2);
    // The value model's steps differ, so the process reward moves the token advantages.
    expect(metrics.some((m) => m['estimator.processRewardAbsMean'] > 0)).toBe(true);
    for (const m of metrics) expect(m['estimator.stepsPerTrace']).toBeGreaterThanOrEqual(1);
    const last = metrics[metrics.length - 1]?.consumed as Record<string, number>;
    expect(last.trainedTokens).toBeGreaterThan(0);
    expect(last.auxScoredTokens).toBeGreaterThan(0);
    expect(last.auxTrainedTokens).toBeGreaterThan(0);
  });
});
