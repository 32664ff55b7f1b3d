/**
 * Seed-paper methods whose mechanism lives across plugin kinds, run end to end from the installed
 * catalog on a tiny model: GARDO's gated KL with its reference-reset hook.
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
  sftSteps: 4,
  tasksPerStep: 4,
  groupSize: 4,
  evalTasks: 2,
  evalSamples: 1,
  evalEvery: 100,
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
    .map((line) => JSON.parse(line) as Record<string, number>);

describe('gardo', () => {
  it('is registered with its gated KL, its divergence and its reference-reset hook', () => {
    const method = registry.get('methods', 'gardo');
    expect(method).toMatchObject({
      estimator: 'gardo',
      divergence: { name: 'kl' },
      hooks: [{ name: 'reference-reset', options: { every: 15 } }],
      defaults: { divergenceCoef: 0.04 },
    });
  });

  it('a tiny countdown run: the KL to the reference is exactly 0 on the step after each reset and not otherwise; the gate is logged', async () => {
    const outDir = mkdtempSync(path.join(tmpdir(), 'gardo-'));
    await train({
      registry,
      method: 'gardo',
      env: 'countdown',
      seed: 4,
      budget: { episodes: 6 * 16 },
      overrides: { ...TINY, hookOptions: { 'reference-reset': { every: 2 } } },
      outDir,
    });
    const metrics = metricsOf(outDir);
    const kl = metrics.map((m) => m.kl as number);
    expect(kl).toHaveLength(6);
    expect(kl[0]).toBe(0); // the reference starts as the policy
    expect([kl[2], kl[4]]).toEqual([0, 0]); // the resets after steps 2 and 4
    for (const k of [kl[1], kl[3], kl[5]]) expect(k).toBeGreaterThan(0);
    for (const m of metrics) {
      expect(m['estimator.gatedFraction']).toBeGreaterThanOrEqual(0);
      expect(m['estimator.gatedFraction']).toBeLessThanOrEqual(0.2);
      expect(m['estimator.kappa']).toBeGreaterThanOrEqual(0.02);
    }
  });
});

/** Eight steps of a method on countdown with the tiny model (16 episodes a step), in a fresh folder. */
async function eightTinySteps(method: string) {
  const outDir = mkdtempSync(path.join(tmpdir(), `${method}-`));
  const result = await train({
    registry,
    method,
    env: 'countdown',
    seed: 4,
    budget: { episodes: 8 * 16 },
    overrides: { ...TINY, learningRate: 0.02 },
    outDir,
  });
  return { outDir, result };
}

describe('va-pi-tf-grpo', () => {
  it('is registered with the teacher-forced sampler, its loss and GRPO advantages', () => {
    expect(registry.get('methods', 'va-pi-tf-grpo')).toMatchObject({
      estimator: 'grpo',
      loss: 'va-pi-tf-grpo',
      sampler: 'teacher-forced',
      defaults: { aggregation: 'seq-mean-token-mean', temperature: 1 },
    });
  });

  it('a tiny countdown run: the reference cross-entropy is logged and falls; one drawn token per trained token', async () => {
    const { outDir, result } = await eightTinySteps('va-pi-tf-grpo');
    expect(result.steps).toBe(8);
    const metrics = metricsOf(outDir);
    const ce = metrics.map((m) => m.referenceCrossEntropy as number);
    for (const value of ce) expect(value).toBeGreaterThan(0);
    expect(ce.at(-1)).toBeLessThan(ce[0] as number);
    // Teacher forcing draws exactly one token per reference token: generated = trained tokens, none truncated by the limit.
    expect(result.budget.consumed.generatedTokens).toBe(result.budget.consumed.trainedTokens);
  });
});

describe('oppo-context', () => {
  it('a tiny countdown run: z* (the soft prompt) moves toward the expert answers’ contexts and away from the sampled ones’; the encoder is saved', async () => {
    const { outDir, result } = await eightTinySteps('oppo-context');
    expect(result.steps).toBe(8);
    expect(result.softPrompt?.length).toBe(4);
    expect(result.softPrompt?.finalNorm).not.toBeCloseTo(result.softPrompt?.initialNorm as number, 3);
    const metrics = metricsOf(outDir);
    const gap = metrics.map((m) => m.distanceGap as number);
    const triplet = metrics.map((m) => m.tripletLoss as number);
    expect(gap.at(-1)).toBeGreaterThan(gap[0] as number);
    expect(triplet.at(-1)).toBeLessThan(triplet[0] as number);
    // The checkpoint's tensors: a safetensors header (8-byte length, then JSON keyed by tensor name).
    const sidecar = JSON.parse(readFileSync(path.join(outDir, 'checkpoint.json'), 'utf8')) as { weights: string };
    const bytes = readFileSync(path.join(outDir, sidecar.weights));
    const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8')) as Record<
      string,
      unknown
    >;
    expect(Object.keys(header)).toEqual(
      expect.arrayContaining(['softPrompt.vectors', 'trajectoryEncoder.embedding', 'trajectoryEncoder.out']),
    );
  });

  it('refuses a run without a soft prompt for z* (bad input)', async () => {
    await expect(
      train({
        registry,
        method: 'oppo-context',
        env: 'countdown',
        seed: 4,
        budget: { episodes: 64 },
        overrides: { ...TINY, softPrompt: 0 },
      }),
    ).rejects.toThrow(
      /loss 'oppo-context' learns an optimal context z\* as the run's soft prompt; give it one with --set softPrompt=P/,
    );
  });
});
