/**
 * Reward models, task sources and step hooks inside real runs (test-local plugins; the
 * reference plugins of the other packages are run by bench's tests).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Plugin, RewardModel, StepHook, TaskSource } from '@policy-lab/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { TINY, temporaryFolder, tinyRegistry, tinyStepContext } from '../test-support/tiny.js';
import type { TrainProgress } from './api.js';
import { sample } from './stages/sample.js';
import { taskFeedback } from './task-stream.js';
import { train } from './train.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

const resetEvery2: StepHook = {
  name: 'reset-2',
  summary: 'resets the reference after every second step',
  async onStepEnd(ctx) {
    if (ctx.step % 2 === 0) await ctx.resetReference();
  },
};
const halveDivergence: StepHook = {
  name: 'halve',
  summary: 'halves the divergence coefficient at the start of each step',
  onStepStart(ctx) {
    ctx.coefficients.divergenceCoef /= 2;
  },
};
/** Draws only the first task it was given, and counts what it observed (state kept in checkpoints). */
const firstOnly: TaskSource = {
  name: 'first-only',
  summary: 'always the first training task',
  open(tasks) {
    let observed = 0;
    return {
      draw: (count) => Array.from({ length: count }, () => tasks[0]),
      observe: (feedback) => {
        observed += feedback.length;
      },
      save: () => observed,
      load: (state) => {
        observed = state as number;
      },
      metrics: () => ({ observed }),
    };
  },
};
/** Uniform tasks, every other group under one of two instructions; rollouts counted per instruction. */
const instructed: TaskSource = {
  name: 'instructed',
  summary: 'uniform tasks, each group under one of two instructions',
  open(tasks) {
    const seen: Record<string, number> = {};
    return {
      draw: (count, rng) => Array.from({ length: count }, () => tasks[rng.int(0, tasks.length - 1)]),
      instructions: (drawn) => drawn.map((_, k) => (k % 2 === 0 ? 'say' : 'a')),
      observe: (feedback) => {
        for (const f of feedback) seen[f.instruction ?? 'none'] = (seen[f.instruction ?? 'none'] ?? 0) + f.successes.length;
      },
      metrics: () => ({ ...seen }),
    };
  },
};
const judge: RewardModel = {
  name: 'judge-test',
  summary: 'Bradley-Terry on (correct, incorrect) pairs of each group',
  architecture: { kind: 'transformer', dim: 16, layers: 1, heads: 2 },
  objective: 'bradley-terry',
  learningRate: 0.01,
  component: { name: 'judge', weight: 0 },
  examples: (groups) => ({
    pairs: groups.flatMap((g) =>
      g
        .filter((r) => r.success)
        .flatMap((won) =>
          g
            .filter((r) => !r.success)
            .map((lost) => ({
              context: won.turns[0]?.observation ?? '',
              chosen: won.turns[0]?.action ?? '',
              rejected: lost.turns[0]?.action ?? '',
            })),
        ),
    ),
  }),
};
const extensions: Plugin = {
  name: 'extensions',
  hooks: [resetEvery2, halveDivergence],
  taskSources: [firstOnly, instructed],
  rewardModels: [judge],
};
const registry = () => tinyRegistry(extensions);
const metricsOf = (dir: string) =>
  readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, number> & { consumed: Record<string, number> });

/** A run of `steps` steps of the echo environment from an untrained policy (seed 2). */
const hookRun = (
  steps: number,
  overrides: Record<string, unknown>,
  extra: Partial<Pick<Parameters<typeof train>[0], 'outDir' | 'registry' | 'onProgress' | 'resume'>> = {},
) =>
  train({
    registry: registry(),
    method: 'reinforce-mean',
    env: 'echo',
    seed: 2,
    budget: { episodes: steps * 24 },
    overrides: { ...TINY, ...overrides },
    sft: 'none',
    ...extra,
  });

describe('step hooks', () => {
  it('a reference reset every 2 steps: the divergence to the reference is exactly 0 on the step after each reset, and not otherwise', async () => {
    const outDir = temporaryFolder();
    await hookRun(6, { divergence: 'k2-test', divergenceCoef: 0.05, hooks: ['reset-2'] }, { outDir });
    const kl = metricsOf(outDir).map((m) => m.kl as number);
    expect(kl).toHaveLength(6);
    expect(kl[0]).toBe(0); // the reference starts as the policy
    expect([kl[2], kl[4]]).toEqual([0, 0]); // after the resets at steps 2 and 4
    for (const k of [kl[1], kl[3], kl[5]]) expect(k).toBeGreaterThan(0);
    // Killed after the reset of step 4 was checkpointed and resumed: the same divergences (the checkpoint holds the reset reference).
    const resumedDir = temporaryFolder();
    const overrides = { divergence: 'k2-test', divergenceCoef: 0.05, hooks: ['reset-2'], checkpointEvery: 1 };
    const killAt = (p: TrainProgress) => {
      if (p.phase === 'train' && p.step === 5) throw new Error('simulated kill');
    };
    await expect(hookRun(6, overrides, { outDir: resumedDir, onProgress: killAt })).rejects.toThrow('simulated kill');
    await hookRun(6, overrides, { outDir: resumedDir, resume: true });
    expect(metricsOf(resumedDir).map((m) => m.kl)).toEqual(kl);
  });

  it('a hook that sets a coefficient at the start of a step: that step uses it, and it is kept', async () => {
    const outDir = temporaryFolder();
    await hookRun(3, { divergence: 'k2-test', divergenceCoef: 0.08, hooks: ['halve'] }, { outDir });
    expect(metricsOf(outDir).map((m) => m.divergenceCoef)).toEqual([0.04, 0.02, 0.01]);
  });

  it('a reset in a run without a reference is an error that says so', async () => {
    await expect(hookRun(2, { hooks: ['reset-2'] })).rejects.toThrow(/reset the reference, but this run has none/);
    // A hook that declares the need is refused before the run starts, naming the divergences that would give one.
    const declared = tinyRegistry({
      name: 'declared',
      hooks: [{ ...resetEvery2, name: 'reset-declared', needs: { reference: true } }],
    });
    await expect(hookRun(2, { hooks: ['reset-declared'] }, { registry: declared })).rejects.toThrow(
      /hook 'reset-declared' resets the reference policy, but this run keeps none.*k2-test/,
    );
  });
});

describe('task sources', () => {
  it('the stream decides the tasks, sees every kept group, and its state survives a kill and resume', async () => {
    const base = {
      registry: registry(),
      method: 'reinforce-mean',
      env: 'echo',
      seed: 4,
      budget: { episodes: 6 * 24 },
      overrides: { ...TINY, taskSource: 'first-only', checkpointEvery: 2 },
      sft: 'none' as const,
    };
    const straight = temporaryFolder();
    await train({ ...base, outDir: straight });
    const steps = metricsOf(straight);
    expect(steps.map((m) => m['taskSource.observed'])).toEqual([4, 8, 12, 16, 20, 24]);
    const resumed = temporaryFolder();
    const killAt = (p: TrainProgress) => {
      if (p.phase === 'train' && p.step === 3) throw new Error('simulated kill');
    };
    await expect(train({ ...base, outDir: resumed, onProgress: killAt })).rejects.toThrow('simulated kill');
    await train({ ...base, outDir: resumed, resume: true });
    expect(metricsOf(resumed).map((m) => m['taskSource.observed'])).toEqual([4, 8, 12, 16, 20, 24]);
  });
});

describe('instructions from the task stream', () => {
  it('are shown ahead of the first observation, recorded on the rollout, and given back with the feedback', async () => {
    const ctx = await tinyStepContext({ registry: registry(), overrides: { taskSource: 'instructed' } });
    const sampled = await sample(ctx, async () => ({ rng: ctx.rng, weights: ctx.weights, scalar: ctx.scalar }));
    const used = new Set<string>();
    for (const group of sampled.groups) {
      const instruction = group[0]?.meta?.instruction as string;
      used.add(instruction);
      for (const rollout of group) {
        expect(rollout.meta?.instruction).toBe(instruction);
        expect(rollout.turns[0]?.observation.startsWith(`${instruction} say `)).toBe(true);
      }
    }
    expect([...used].sort()).toEqual(['a', 'say']);
    const feedback = taskFeedback(sampled.requests, sampled.groups, (r) => ctx.envScalar(r.reward));
    expect(feedback.map((f) => f.instruction)).toEqual(sampled.groups.map((g) => g[0]?.meta?.instruction));
    ctx.tasks.observe?.(feedback, 1);
    const counts = ctx.tasks.metrics?.() ?? {};
    expect((counts.a ?? 0) + (counts.say ?? 0)).toBe(sampled.groups.flat().length);
  });
});

describe('reward models in a run', () => {
  it('are scored into their component, trained, charged, evaluated against the untrained model, and resumed to the same numbers', async () => {
    const base = {
      registry: registry(),
      method: 'reinforce-mean',
      env: 'echo',
      seed: 3,
      budget: { episodes: 4 * 24 },
      overrides: { ...TINY, sftSteps: 30, rewardModels: ['judge-test'], checkpointEvery: 1 },
      sftCacheDir: temporaryFolder('sft-'),
    };
    const straightDir = temporaryFolder();
    const straight = await train({ ...base, outDir: straightDir });
    const steps = metricsOf(straightDir);
    expect(steps.some((m) => (m['rewardModel.judge-test.examples'] as number) > 0)).toBe(true);
    expect(straight.budget.consumed.auxTrainedTokens).toBeGreaterThan(0);
    expect(straight.budget.consumed.auxScoredTokens).toBeGreaterThan(0);
    const judged = straight.final.rewardModels?.['judge-test'];
    expect(judged?.pairs).toBeGreaterThan(0);
    expect(judged?.accuracy).toBeGreaterThanOrEqual(0);
    expect(judged?.pValue).toBeLessThanOrEqual(1);
    const resumedDir = temporaryFolder();
    const killAt = (p: TrainProgress) => {
      if (p.phase === 'train' && p.step === 2) throw new Error('simulated kill');
    };
    await expect(train({ ...base, outDir: resumedDir, onProgress: killAt })).rejects.toThrow('simulated kill');
    const resumed = await train({ ...base, outDir: resumedDir, resume: true });
    expect(resumed.final).toEqual(straight.final);
    expect(metricsOf(resumedDir).map((m) => m['rewardModel.judge-test.loss'])).toEqual(
      steps.map((m) => m['rewardModel.judge-test.loss']),
    );
  });

  it("leave the sign-flip diagnostic working: its side rollouts are judged by the environment's own reward", async () => {
    // The comparison presets measure sign flips; side rollouts are not scored by reward models.
    const result = await train({
      registry: registry(),
      method: 'reinforce-mean',
      env: 'echo',
      seed: 3,
      budget: { episodes: 4 * 12 },
      overrides: { ...TINY, sftSteps: 10, rewardModels: ['judge-test'], signFlipEvery: 1, signFlipRollouts: 4 },
      sftCacheDir: temporaryFolder('sft-'),
    });
    expect(result.diagnostics.signFlipRate).toBeGreaterThanOrEqual(0);
    expect(result.diagnostics.signFlipRate).toBeLessThanOrEqual(1);
  });
});
