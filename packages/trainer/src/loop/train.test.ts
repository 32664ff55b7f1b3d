import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { TINY, temporaryFolder, tinyRegistry } from '../test-support/tiny.js';
import type { TrainProgress, TrainResult } from './api.js';
import { adaptEntropyCoef, appliedEntropyCoef } from './schedules.js';
import { diagnosticMeans, train } from './train.js';
import { linearQuantile } from './update/rows.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

const temp = () => temporaryFolder();
/** Starts a run that is killed when training step `step` reports progress; the run folder keeps what it saved. */
async function crashAtStep(options: Parameters<typeof train>[0], step: number): Promise<void> {
  const killAt = (p: TrainProgress) => {
    if (p.phase === 'train' && p.step === step) throw new Error('simulated kill');
  };
  await expect(train({ ...options, onProgress: killAt })).rejects.toThrow('simulated kill');
}
const deterministic = (r: TrainResult) => ({
  ...r,
  timings: undefined,
  budget: { ...r.budget, consumed: { ...r.budget.consumed, seconds: 0 } },
});

describe('train on a test-local environment', () => {
  it('improves sampled success over the SFT start with a fixed seed', async () => {
    const result = await train({
      registry: tinyRegistry(),
      method: 'reinforce-mean',
      env: 'echo',
      seed: 3,
      budget: { episodes: 480 },
      overrides: TINY,
      sftCacheDir: temp(),
    });
    expect(result.initial.success).toBeLessThan(0.9);
    expect(result.final.success).toBeGreaterThan(result.initial.success + 0.15);
    expect(result.steps).toBe(20);
    expect(result.budget.consumed.episodes).toBe(480);
  });

  it('gives identical results for the same seed and config, and different ones for another seed', async () => {
    const run = (seed: number) =>
      train({
        registry: tinyRegistry(),
        method: 'reinforce-mean',
        env: 'echo',
        seed,
        budget: { episodes: 96 },
        overrides: TINY,
        sft: 'none',
      });
    const a = await run(1);
    const b = await run(1);
    expect(deterministic(a)).toEqual(deterministic(b));
    expect(deterministic(await run(2)).curve).not.toEqual(deterministic(a).curve);
  });

  it('measures sign flips on a side budget without changing the training trajectory', async () => {
    const run = (signFlipEvery: number) =>
      train({
        registry: tinyRegistry(),
        method: 'reinforce-mean',
        env: 'echo',
        seed: 2,
        budget: { episodes: 96 },
        overrides: { ...TINY, signFlipEvery, signFlipRollouts: 8 },
        sft: 'none',
      });
    const plain = await run(0);
    const measured = await run(2);
    expect(measured.diagnostics.signFlipRate).toBeGreaterThanOrEqual(0);
    expect(plain.diagnostics.signFlipRate).toBeUndefined();
    expect(measured.sideBudget).toMatchObject({ episodes: 2 * 4 * 8 }); // steps 2 and 4, 4 tasks x 8 rollouts
    expect(measured.curve).toEqual(plain.curve);
    expect(measured.final).toEqual(plain.final);
    expect(measured.budget.consumed.episodes).toBe(plain.budget.consumed.episodes);
  });

  it('stops before a step that could exceed the budget and charges discarded groups', async () => {
    const result = await train({
      registry: tinyRegistry(),
      method: 'reinforce-mean',
      env: 'echo',
      seed: 1,
      budget: { episodes: 100 },
      overrides: TINY,
      sft: 'none',
    });
    expect(result.steps).toBe(4); // 24 episodes a step: a fifth would reach 120 > 100
    expect(result.budget.consumed.episodes).toBe(96);
    const picky = await train({
      registry: tinyRegistry(),
      method: 'picky',
      env: 'echo',
      seed: 1,
      budget: { episodes: 48 },
      overrides: TINY,
      sft: 'none',
    });
    // nearly every group is discarded by an untrained policy, and every episode is still charged
    expect(picky.budget.consumed.episodes).toBe(48);
    expect(picky.budget.consumed.generatedTokens).toBeGreaterThan(0);
    expect(picky.diagnostics.discardedGroups).toBeGreaterThan(2);
  });

  it('replaces discarded groups within the step for resampleRounds rounds, charging each, within the budget', async () => {
    const run = (resampleRounds: number) =>
      train({
        registry: tinyRegistry(),
        method: 'picky',
        env: 'echo',
        seed: 1,
        budget: { episodes: 240 },
        overrides: { ...TINY, resampleRounds },
        sft: 'none',
      });
    const once = await run(0);
    const resampled = await run(2);
    // resampling spends the same budget in fewer steps, and discards more groups per step
    expect(resampled.steps).toBeLessThan(once.steps);
    expect(resampled.diagnostics.discardedGroups).toBeGreaterThan(once.diagnostics.discardedGroups as number);
    expect(resampled.budget.consumed.episodes).toBeLessThanOrEqual(240);
    await expect(run(-1)).rejects.toThrow(/resampleRounds must be an integer from 0 to 100, got -1/);
  });

  it('accumulates gradients over micro-batches: the same run, up to float rounding', async () => {
    const run = (microBatchRows: number) =>
      train({
        registry: tinyRegistry(),
        method: 'reinforce-mean',
        env: 'echo',
        seed: 2,
        budget: { episodes: 72 },
        overrides: { ...TINY, microBatchRows, divergence: 'k2-test', divergenceCoef: 0.1 },
        sft: 'none',
      });
    const whole = await run(64);
    const chunked = await run(5);
    for (const key of ['loss', 'gradNorm', 'kl', 'entropy', 'rewardMean'])
      expect(chunked.diagnostics[key], key).toBeCloseTo(whole.diagnostics[key] as number, 4);
    await expect(run(0)).rejects.toThrow(/microBatchRows must be an integer from 1 to 65536, got 0/);
  });

  it("replaces the Method's estimator with --set estimator=<name>", async () => {
    const run = (overrides: Record<string, unknown>) =>
      train({
        registry: tinyRegistry(),
        method: 'reinforce-mean',
        env: 'echo',
        seed: 1,
        budget: { episodes: 24 },
        overrides: { ...TINY, ...overrides },
        sft: 'none',
      });
    expect((await run({})).diagnostics.discardedGroups).toBeUndefined();
    expect((await run({ estimator: 'picky' })).diagnostics.discardedGroups).toBeGreaterThan(0);
    await expect(run({ estimator: 'pickyy' })).rejects.toThrow(/unknown estimator 'pickyy': did you mean picky/);
  });

  it('resumes after a crash at several points and ends exactly like an uninterrupted run', async () => {
    const options = {
      registry: tinyRegistry(),
      method: 'reinforce-mean',
      env: 'echo',
      seed: 5,
      budget: { episodes: 144 },
      overrides: { ...TINY, checkpointEvery: 2 },
      sft: 'none' as const,
    };
    const whole = await train({ ...options, outDir: temp() });
    for (const crashAt of [1, 3, 4]) {
      const outDir = temp();
      await crashAtStep({ ...options, outDir }, crashAt);
      const resumed = await train({ ...options, outDir, resume: true });
      expect(deterministic(resumed)).toEqual(deterministic(whole));
      const steps = readFileSync(path.join(outDir, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).step);
      expect(steps).toEqual([1, 2, 3, 4, 5, 6]);
    }
  });

  it('keeps the starting policy as the reference across a resume (a KL penalty run ends like an uninterrupted one)', async () => {
    const options = {
      registry: tinyRegistry(),
      method: 'reinforce-mean',
      env: 'echo',
      seed: 6,
      budget: { episodes: 96 },
      overrides: { ...TINY, checkpointEvery: 1, divergence: 'k2-test', divergenceCoef: 0.5, learningRate: 0.03 },
      sft: 'none' as const,
    };
    const whole = await train({ ...options, outDir: temp() });
    const outDir = temp();
    await crashAtStep({ ...options, outDir }, 3);
    const resumed = await train({ ...options, outDir, resume: true });
    expect(deterministic(resumed)).toEqual(deterministic(whole));
  });

  it('refuses bad input with messages that name it', async () => {
    const registry = tinyRegistry();
    await expect(train({ registry, method: 'nope', env: 'echo', seed: 1, budget: { episodes: 10 } })).rejects.toThrow(
      /unknown method 'nope'/,
    );
    await expect(train({ registry, method: 'reinforce-mean', env: 'echoo', seed: 1, budget: { episodes: 10 } })).rejects.toThrow(
      /unknown environment 'echoo': did you mean echo/,
    );
    await expect(
      train({
        registry,
        method: 'reinforce-mean',
        env: 'echo',
        seed: 1,
        budget: { episodes: 10 },
        overrides: { learningrate: 1 },
      }),
    ).rejects.toThrow(/unknown option 'learningrate'/);
    await expect(train({ registry, method: 'reinforce-mean', env: 'echo', seed: -1, budget: { episodes: 10 } })).rejects.toThrow(
      /bad seed/,
    );
    // --set envOptions.<key> reaches the environment's factory, which names what it does not take
    await expect(
      train({
        registry,
        method: 'reinforce-mean',
        env: 'echo',
        seed: 1,
        budget: { episodes: 10 },
        overrides: { envOptions: { size: 3 } },
      }),
    ).rejects.toThrow(/environment 'echo' takes no options, got size/);
  });
});

describe('schedules, divergence placement, adaptive coefficient and the critic', () => {
  it('warms up linearly and decays with a cosine over the budget', async () => {
    const { scheduledRate, adaptCoefficient } = await import('./schedules.js');
    const config = { learningRate: 1, warmupSteps: 4, schedule: 'cosine' } as never;
    expect(scheduledRate(config, 2, 0)).toBeCloseTo(0.5, 12);
    expect(scheduledRate(config, 8, 0.5)).toBeCloseTo(0.5, 12);
    expect(scheduledRate(config, 8, 1)).toBeCloseTo(0, 12);
    expect(scheduledRate({ learningRate: 1, warmupSteps: 0 } as never, 8, 0.9)).toBe(1);
    expect(adaptCoefficient(0.1, 0.2, 0.1)).toBeCloseTo(0.15, 12);
    expect(adaptCoefficient(0.1, 0.01, 0.1)).toBeCloseTo(0.1 / 1.5, 12);
    expect(adaptCoefficient(0.1, 0.1, 0.1)).toBe(0.1);
    expect(adaptCoefficient(0.1, 0.2, undefined)).toBe(0.1);
  });

  it('puts the divergence in the loss or in the reward, and adapts its coefficient', async () => {
    const run = (overrides: Record<string, unknown>, episodes = 72) =>
      train({
        registry: tinyRegistry(),
        method: 'reinforce-mean',
        env: 'echo',
        seed: 4,
        budget: { episodes },
        overrides: { ...TINY, divergence: 'k2-test', divergenceCoef: 0.5, ...overrides },
        sftCacheDir: temp(),
      });
    const inLoss = await run({});
    expect(inLoss.diagnostics.kl).toBeDefined();
    const inReward = await run({ divergencePlacement: 'reward' });
    expect(inReward.diagnostics.kl).toBeDefined();
    expect(inReward.diagnostics.rewardMean).not.toBe(inLoss.diagnostics.rewardMean);
    const adaptive = await run({ targetDivergence: 1e-9 }, 144);
    // the first step measures exactly 0 (the policy is the reference), then a divergence far
    // above the target raises the coefficient x1.5 every step: 0.5, 0.33, 0.5, 0.75, 1.13, 1.69
    expect(adaptive.diagnostics.divergenceCoef).toBeGreaterThan(0.5);
    await expect(run({ divergencePlacement: 'sideways' })).rejects.toThrow(/divergencePlacement must be one of loss, reward/);
  });

  it("multiplies the learning rate by the loss's learningRateScale", async () => {
    const run = (loss: string) =>
      train({
        registry: tinyRegistry(),
        method: 'reinforce-mean',
        env: 'echo',
        seed: 4,
        budget: { episodes: 72 },
        overrides: { ...TINY, loss, divergence: 'k2-test', divergenceCoef: 0 },
        sftCacheDir: temp(),
      });
    // at scale 0 the policy never leaves the reference: the measured divergence stays exactly 0
    expect((await run('ppo-frozen')).diagnostics.kl).toBe(0);
    expect((await run('ppo-clip')).diagnostics.kl).toBeGreaterThan(0);
  });

  it('uses a finished run as the teacher (the reference), and refuses one that does not fit', async () => {
    const teacherDir = temp();
    await train({
      registry: tinyRegistry(),
      method: 'reinforce-mean',
      env: 'echo',
      seed: 5,
      budget: { episodes: 48 },
      overrides: TINY,
      sft: 'none',
      outDir: teacherDir,
    });
    const student = (overrides: Record<string, unknown>) =>
      train({
        registry: tinyRegistry(),
        method: 'reinforce-mean',
        env: 'echo',
        seed: 6,
        budget: { episodes: 24 },
        overrides: { ...TINY, divergence: 'k2-test', divergenceCoef: 0, ...overrides },
        sftCacheDir: temp(),
      });
    // one step: without a teacher the policy is its own reference (0); the teacher differs
    expect((await student({})).diagnostics.kl).toBe(0);
    expect((await student({ teacher: teacherDir })).diagnostics.kl).toBeGreaterThan(0);
    await expect(student({ teacher: temp() })).rejects.toThrow(/teacher .*: cannot read .*checkpoint\.json/);
    await expect(student({ teacher: teacherDir, model: { dim: 8 } })).rejects.toThrow(/model\.dim is 16, this run's is 8/);
  });

  it("follows TRL's adaptive entropy coefficient trace (trl/trainer/grpo_trainer.py)", () => {
    const config = { entropyCoef: 0, entropyTarget: 0.2, entropyCoefMin: 0, entropyCoefMax: 1, entropyCoefDelta: 0.005 } as never;
    let state = { coef: 0, last: null as number | null };
    const applied: number[] = [];
    const coefs: number[] = [];
    for (const measured of [0.5, 0.18, 0.15, 0.19, 0.25, 0.3]) {
      applied.push(appliedEntropyCoef(config, state));
      state = adaptEntropyCoef(state, measured, config);
      coefs.push(state.coef);
    }
    expect(applied.map((v) => Number(v.toFixed(6)))).toEqual([0, 0, 0.005, 0.01, 0.015, 0]);
    expect(coefs.map((v) => Number(v.toFixed(6)))).toEqual([0, 0.005, 0.01, 0.015, 0.01, 0.005]);
    // the 80/20 threshold: the 0.8 quantile of ten entropies keeps only 3.0 and 4.0
    expect(linearQuantile([0.1, 2, 0.5, 3, 0.05, 1.2, 0.3, 0.8, 4, 0.2], 0.8)).toBeCloseTo(2.2, 12);
  });

  it('trains with the adaptive entropy bonus and with top-entropy masking', async () => {
    const run = (overrides: Record<string, unknown>) =>
      train({
        registry: tinyRegistry(),
        method: 'reinforce-mean',
        env: 'echo',
        seed: 2,
        budget: { episodes: 72 },
        overrides: { ...TINY, ...overrides },
        sft: 'none',
      });
    const adaptive = await run({ entropyTarget: 5 });
    expect(adaptive.diagnostics.entropyCoef).toBeGreaterThan(0); // entropy stays below 5 nats: the bonus turns on
    const plain = await run({});
    const masked = await run({ topEntropyQuantile: 0.2 });
    expect(Number.isFinite(masked.diagnostics.loss)).toBe(true);
    expect(masked.diagnostics.loss).not.toBe(plain.diagnostics.loss);
    await expect(run({ topEntropyQuantile: 2 })).rejects.toThrow(/topEntropyQuantile must be a number >= 0 and <= 1, got 2/);
  });

  it('trains a value head on the estimator returns', async () => {
    const result = await train({
      registry: tinyRegistry(),
      method: 'critic',
      env: 'echo',
      seed: 1,
      budget: { episodes: 72 },
      overrides: { ...TINY, valueCoef: 0.5 },
      sft: 'none',
    });
    expect(result.config.model.valueHead).toBe(true);
    expect(result.diagnostics.valueLoss).toBeGreaterThan(0);
  });
});

describe('run diagnostics', () => {
  it('each key is the mean over the steps that logged it, not over every step; a checkpoint without counts counts every step', () => {
    // Three steps; `agreement` was logged on one of them only (a step without a pair to judge leaves it out).
    const sums = { kl: 0.6, agreement: 0.9 };
    expect(diagnosticMeans({ sums, counts: { kl: 3, agreement: 1 }, step: 3 })).toEqual({ kl: 0.6 / 3, agreement: 0.9 });
    expect(diagnosticMeans({ sums, step: 3 })).toEqual({ kl: 0.6 / 3, agreement: 0.3 });
    expect(diagnosticMeans({ sums: {}, counts: {}, step: 0 })).toEqual({});
  });
});
