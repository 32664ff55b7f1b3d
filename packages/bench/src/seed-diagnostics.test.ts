/**
 * The diagnostics of OPPO's and VA-pi's mechanisms on real runs: VA-pi's prior term on the first
 * step equals the reference's cross-entropy under the starting policy, computed directly (one
 * fixed task, so one fixed reference); OPPO logs where z* sits among the step's contexts.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Environment, Rng } from '@policy-lab/core';
import { createRegistry } from '@policy-lab/core/node';
import { BOS, CharTokenizer, createPolicy, EOS, initBackend, SEP, train } from '@policy-lab/trainer';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { registry } = await createRegistry({ cwd: root, discoverFrom: [root] });
const countdown = registry.get('environments', 'countdown') as Environment;
// Countdown with one task in every split: every group of every step reads the same reference y*.
const oneTask = countdown.tasks('train', { seed: 5, count: 1 })[0];
registry.register(
  {
    name: 'one-task',
    environments: [
      { ...countdown, name: 'countdown-one', tasks: (_split, { count = 256 }) => Array.from({ length: count }, () => oneTask) },
    ],
  },
  'test',
);

const TINY = {
  model: { dim: 16, layers: 1, heads: 2, contextLength: 48 },
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

describe("VA-pi's ELBO terms per step", () => {
  it('the prior term of the first step is -mean_j log pi0(y*_j | x, y*_<j) of the starting policy (computed directly); the reconstruction terms are logged', async () => {
    const outDir = mkdtempSync(path.join(tmpdir(), 'va-pi-elbo-'));
    const result = await train({
      registry,
      method: 'va-pi-tf-grpo',
      env: 'countdown-one',
      seed: 6,
      budget: { episodes: 3 * 16 },
      overrides: TINY,
      sft: 'none',
      outDir,
    });
    const metrics = metricsOf(outDir);
    expect(metrics).toHaveLength(3);
    // The starting policy, as train() builds it with --sft none, and y* after the prompt.
    const tokenizer = CharTokenizer.fromAlphabet(countdown.alphabet?.() ?? '');
    const policy = createPolicy({ ...result.config.model, vocabSize: tokenizer.vocabSize }, Rng.seeded(6).split('init'));
    const prompt = [BOS, ...tokenizer.encode(countdown.start(oneTask, Rng.seeded(0)).observation()), SEP];
    const reference = [...tokenizer.encode(countdown.demonstrate?.(oneTask)[0] as string), EOS];
    const sequence = [...prompt, ...reference];
    const logprobs = tf.tidy(() => {
      const inputs = tf.tensor2d([sequence.slice(0, -1)], [1, sequence.length - 1], 'int32');
      const targets = tf.tensor2d([sequence.slice(1)], [1, sequence.length - 1], 'int32');
      return Array.from(policy.score(inputs, targets).logprobs.dataSync());
    });
    const forced = logprobs.slice(prompt.length - 1);
    expect(forced).toHaveLength(reference.length);
    const crossEntropy = -forced.reduce((a, b) => a + b, 0) / forced.length;
    expect(metrics[0]?.referenceCrossEntropy).toBeCloseTo(crossEntropy, 4);
    for (const m of metrics) {
      expect(m.referenceTokenMatch).toBeGreaterThanOrEqual(0);
      expect(m.referenceTokenMatch).toBeLessThanOrEqual(1);
      expect(Number.isFinite(m.rewardMean)).toBe(true);
    }
    policy.dispose();
  });
});

describe("OPPO's preference context per step", () => {
  it('logs z*’s distances to the preferred and rejected contexts and its pair accuracy at every step, consistent with the distance gap', async () => {
    const outDir = mkdtempSync(path.join(tmpdir(), 'oppo-context-'));
    await train({
      registry,
      method: 'oppo-context',
      env: 'countdown',
      seed: 4,
      budget: { episodes: 4 * 16 },
      overrides: { ...TINY, sftSteps: 4 },
      outDir,
    });
    const metrics = metricsOf(outDir);
    expect(metrics).toHaveLength(4);
    for (const m of metrics) {
      expect(m.contextToPreferred).toBeGreaterThan(0);
      expect(m.contextToRejected).toBeGreaterThan(0);
      expect(m.contextPreferenceAccuracy).toBeGreaterThanOrEqual(0);
      expect(m.contextPreferenceAccuracy).toBeLessThanOrEqual(1);
      expect(m.distanceGap).toBeCloseTo((m.contextToRejected as number) - (m.contextToPreferred as number), 5);
    }
  });
});
