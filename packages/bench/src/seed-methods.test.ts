/**
 * Seed-paper methods whose mechanism lives across plugin kinds, run end to end from the installed
 * catalog on a tiny model: GARDO's gated KL with its reference-reset hook; S-GRPO's serial groups
 * (the serial-exits sampler feeding the s-grpo estimator); ROVER's uniform-policy Q targets and Q-regression loss;
 * VeriRL's trace-back partial credit and sample-balanced weights on the code environment; VA-pi's
 * ELBO terms and OPPO's preference context as logged per step.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Environment, type RewardModel, Rng, type Rollout } from '@policy-lab/core';
import { createRegistry } from '@policy-lab/core/node';
import {
  BOS,
  buildRewardModel,
  CharTokenizer,
  createPolicy,
  EOS,
  initBackend,
  loadSafetensors,
  SEP,
  train,
  whyUnfit,
} from '@policy-lab/trainer';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
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

// Arithmetic's prompts are longer than countdown's; a short SFT start so that paths reach the answer marker.
const SERIAL_TINY = { ...TINY, model: { ...TINY.model, contextLength: 96 }, sftSteps: 30 };

describe('s-grpo', () => {
  it('is registered with the serial-exits sampler', () => {
    expect(registry.get('methods', 's-grpo')).toMatchObject({ estimator: 's-grpo', sampler: 'serial-exits' });
  });

  it('a tiny arithmetic run: every group the estimator sees is serial, and every exit is charged as an episode', async () => {
    const outDir = mkdtempSync(path.join(tmpdir(), 's-grpo-'));
    const result = await train({
      registry,
      method: 's-grpo',
      env: 'arithmetic',
      seed: 2,
      budget: { episodes: 3 * 16 },
      overrides: SERIAL_TINY,
      outDir,
    });
    const metrics = metricsOf(outDir);
    expect(metrics).toHaveLength(result.steps);
    expect(result.steps).toBeGreaterThanOrEqual(1);
    for (const m of metrics) expect(m['estimator.serialGroups']).toBe(1);
    // Groups are a path and its exits: at most the group size, more than the path alone on average.
    const sizes = metrics.map((m) => m.groupSize as number);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(4);
    expect(sizes.reduce((a, b) => a + b, 0) / sizes.length).toBeGreaterThan(1);
    const drawn = sizes.reduce((a, size) => a + size * SERIAL_TINY.tasksPerStep, 0);
    expect(result.budget.consumed.episodes).toBe(drawn);
  });

  it('refuses an environment whose answers follow no marker, with exit code 2 naming what is missing', async () => {
    await expect(
      train({
        registry,
        method: 's-grpo',
        env: 'countdown',
        seed: 1,
        budget: { episodes: 16 },
        overrides: SERIAL_TINY,
        sft: 'none',
      }),
    ).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/serial-exits: .*countdown/) });
  });

  it('is refused before a run starts, so a leaderboard lists the pair as skipped instead of failing mid-run', () => {
    expect(whyUnfit({ registry, method: 's-grpo', env: 'countdown', seed: 1 })).toMatch(
      /serial-exits: exitText ' #### ' has characters outside environment 'countdown''s alphabet/,
    );
    expect(whyUnfit({ registry, method: 's-grpo', env: 'gridnav', seed: 1 })).toMatch(/single-turn environment/);
    expect(whyUnfit({ registry, method: 's-grpo', env: 'arithmetic', seed: 1 })).toBeUndefined();
  });
});

describe('rover', () => {
  it('is registered with its Q-target estimator and its Q-regression loss', () => {
    expect(registry.get('methods', 'rover')).toMatchObject({ estimator: 'rover', loss: 'rover' });
  });

  it('a tiny countdown run: token targets carry the regressed next-state Q, the loss stays finite', async () => {
    const outDir = mkdtempSync(path.join(tmpdir(), 'rover-'));
    const result = await train({
      registry,
      method: 'rover',
      env: 'countdown',
      seed: 3,
      budget: { episodes: 4 * 16 },
      overrides: TINY,
      outDir,
    });
    const metrics = metricsOf(outDir);
    expect(metrics).toHaveLength(4);
    // Rollouts of a group share their first states (the prompt, common prefixes): some targets bootstrap.
    const shares = metrics.map((m) => m['estimator.bootstrappedTokens'] as number);
    expect(Math.max(...shares)).toBeGreaterThan(0);
    for (const share of shares) expect(share).toBeLessThanOrEqual(1);
    for (const m of metrics) expect(Number.isFinite(m.loss)).toBe(true);
    expect(result.budget.consumed.trainedTokens).toBeGreaterThan(0);
  });
});

// The code environment's observations are longer, and a few more SFT steps give the batch mixed rewards.
const CODE = { ...TINY, model: { ...TINY.model, contextLength: 96 }, sftSteps: 40 };

describe('verirl', () => {
  it('is registered with its shaper and estimator', () => {
    expect(registry.get('methods', 'verirl')).toMatchObject({
      estimator: 'sbw-weighting',
      shapers: ['tbr-partial-credit'],
    });
  });

  it('a tiny code run: the reward carries the partial credit and the sample weights leave 1', async () => {
    const outDir = mkdtempSync(path.join(tmpdir(), 'verirl-'));
    await train({ registry, method: 'verirl', env: 'code', seed: 3, budget: { episodes: 4 * 16 }, overrides: CODE, outDir });
    const metrics = metricsOf(outDir);
    expect(metrics).toHaveLength(4);
    for (const m of metrics) {
      // one attempt: the traced-back credit is the share of tests passed, weighted 0.5 beside `passed`
      expect(m.rewardMean).toBeCloseTo((m['reward.passed'] as number) + 0.5 * (m['reward.partial'] as number), 9);
      expect(m['estimator.sbwWeightMin']).toBeLessThanOrEqual(1 + 1e-9);
      expect(m['estimator.sbwWeightMax']).toBeLessThanOrEqual(4 + 1e-9);
    }
    // some step's batch is skewed, and its rare rewards are weighted up
    expect(Math.max(...metrics.map((m) => m['estimator.sbwWeightMax'] as number))).toBeGreaterThan(1.5);
  });

  it('is refused on an environment without per-test components', async () => {
    await expect(
      train({ registry, method: 'verirl', env: 'countdown', seed: 3, budget: { episodes: 16 }, overrides: CODE }),
    ).rejects.toThrow(/tbr-partial-credit.*test\*/);
  });
});

describe('oprl', () => {
  it('is registered with its implicit PRM', () => {
    expect(registry.get('methods', 'oprl')).toMatchObject({ estimator: 'oprl', rewardModels: ['implicit-prm'] });
  });

  it('a tiny countdown run: the PRM trains on the groups (charged) and its step rewards reach the estimator', async () => {
    const outDir = mkdtempSync(path.join(tmpdir(), 'oprl-'));
    await train({ registry, method: 'oprl', env: 'countdown', seed: 4, budget: { episodes: 4 * 16 }, overrides: CODE, outDir });
    const metrics = metricsOf(outDir);
    expect(metrics).toHaveLength(4);
    const examples = metrics.map((m) => m['rewardModel.implicit-prm.examples'] as number);
    expect(Math.max(...examples)).toBeGreaterThan(0);
    // trained after the first pairs: the PRM differs from the policy, so the step rewards are not all 0
    expect(metrics.some((m) => Math.abs(m['estimator.stepRewardMean'] as number) > 0)).toBe(true);
    const last = metrics[metrics.length - 1]?.consumed as unknown as Record<string, number>;
    expect(last.auxTrainedTokens).toBeGreaterThan(0);
    expect(last.auxScoredTokens).toBeGreaterThan(last.auxTrainedTokens);
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
    // Where z* sits among each step's contexts (the report's per-step plot), consistent with the gap.
    for (const m of metrics) {
      expect(m.contextToPreferred).toBeGreaterThan(0);
      expect(m.contextPreferenceAccuracy).toBeGreaterThanOrEqual(0);
      expect(m.contextPreferenceAccuracy).toBeLessThanOrEqual(1);
      expect(m.distanceGap).toBeCloseTo((m.contextToRejected as number) - (m.contextToPreferred as number), 5);
    }
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

describe('upo-dpo', () => {
  it('is registered: the upo loss selecting pairs by uncertainty, the upo-rounds hook', () => {
    expect(registry.get('methods', 'upo-dpo')).toMatchObject({
      estimator: 'grpo',
      loss: { name: 'upo', options: { selection: 'uncertainty' } },
      hooks: ['upo-rounds'],
    });
  });

  it('a tiny countdown run: a quarter of the agreed candidates trained, the estimator charged, the reference moved at each round', async () => {
    const outDir = mkdtempSync(path.join(tmpdir(), 'upo-dpo-'));
    const result = await train({
      registry,
      method: 'upo-dpo',
      env: 'countdown',
      seed: 4,
      budget: { episodes: 9 * 32 },
      overrides: { ...TINY, tasksPerStep: 8, learningRate: 0.02 },
      outDir,
    });
    expect(result.steps).toBe(9);
    const metrics = metricsOf(outDir);
    const sum = (key: string) => metrics.reduce((s, m) => s + (m[key] ?? 0), 0);
    for (const m of metrics) {
      expect(m['upo.kept']).toBe(Math.ceil(0.25 * (m['upo.agreed'] as number)));
      expect(m.preferencePairs).toBe(m['upo.kept']);
    }
    expect(sum('upo.kept')).toBeGreaterThan(0);
    expect(sum('upo.kept')).toBeLessThan(sum('upo.candidates'));
    // Nothing but the estimator trains besides the policy; it read T = 10 passes of every candidate.
    expect(result.budget.consumed.auxTrainedTokens).toBe(sum('upo.trainedCharacters'));
    expect(sum('upo.trainedCharacters')).toBeGreaterThan(0);
    expect(result.budget.consumed.auxScoredTokens).toBeGreaterThan(sum('upo.scoredCharacters'));
    expect(sum('upo.agreed')).toBeLessThan(sum('upo.candidates'));
    // Rounds of 3 steps (96 of 288 episodes): after steps 3 and 6 the reference is the policy, so the
    // next step's DPO margins start at 0 and its loss (one update, measured before it) is log 2.
    const lossAt = (step: number) => metrics[step - 1]?.loss as number;
    for (const step of [1, 4, 7]) expect(lossAt(step)).toBeCloseTo(Math.LN2, 6);
    for (const step of [2, 5, 8]) expect(Math.abs(lossAt(step) - Math.LN2)).toBeGreaterThan(1e-3);
  });

  it('a killed and resumed run ends exactly like an uninterrupted one (the estimator is in the checkpoint)', async () => {
    const options = (outDir: string) => ({
      registry,
      method: 'upo-dpo',
      env: 'countdown',
      seed: 4,
      budget: { episodes: 6 * 32 },
      overrides: { ...TINY, tasksPerStep: 8, learningRate: 0.02, checkpointEvery: 2 },
      outDir,
    });
    const wholeDir = mkdtempSync(path.join(tmpdir(), 'upo-dpo-whole-'));
    const whole = await train(options(wholeDir));
    const outDir = mkdtempSync(path.join(tmpdir(), 'upo-dpo-killed-'));
    const killAt = (p: { phase: string; step: number }) => {
      if (p.phase === 'train' && p.step === 3) throw new Error('simulated kill');
    };
    await expect(train({ ...options(outDir), onProgress: killAt })).rejects.toThrow('simulated kill');
    const resumed = await train({ ...options(outDir), resume: true });
    expect(resumed.final).toEqual(whole.final);
    const upoOf = (dir: string) =>
      metricsOf(dir).map((m) => Object.fromEntries(Object.entries(m).filter(([k]) => k.startsWith('upo.') || k === 'loss')));
    expect(upoOf(outDir)).toEqual(upoOf(wholeDir));
  });
});

describe('reasonflux-prm', () => {
  const tinyGridnav = (beta: number, outDir: string, episodes = 3 * 24) =>
    train({
      registry,
      method: 'reasonflux-prm',
      env: 'gridnav',
      seed: 5,
      budget: { episodes },
      overrides: {
        ...TINY,
        model: { dim: 16, layers: 1, heads: 2 },
        tasksPerStep: 2,
        estimatorOptions: { beta },
      },
      outDir,
    });

  it('is registered with its blend estimator and its quality judge; single-turn environments are refused naming what is missing', () => {
    expect(registry.get('methods', 'reasonflux-prm')).toMatchObject({
      estimator: 'reasonflux-prm',
      loss: 'ppo-clip',
      rewardModels: ['reasonflux-prm'],
    });
    expect(registry.get('estimators', 'reasonflux-prm').resolved).toMatchObject({ beta: 0.75 });
    expect(whyUnfit({ registry, method: 'reasonflux-prm', env: 'countdown', seed: 1 })).toMatch(
      /estimator 'reasonflux-prm' needs episodes of more than one turn, which environment 'countdown' does not have/,
    );
    expect(whyUnfit({ registry, method: 'reasonflux-prm', env: 'gridnav', seed: 1 })).toBeUndefined();
    expect(whyUnfit({ registry, method: 'reasonflux-prm', env: 'translate', seed: 1 })).toBeUndefined();
  });

  it('a tiny gridnav run: template episodes are charged, the judge trains, the hack rate is reported; on the same first rollouts the PRM changes the advantages that beta = 0 gives', async () => {
    const outDir = mkdtempSync(path.join(tmpdir(), 'reasonflux-'));
    const result = await tinyGridnav(0.75, outDir);
    const metrics = metricsOf(outDir);
    expect(metrics.length).toBe(result.steps);
    // 2 groups x 4 rollouts sampled, each followed by 2 template episodes.
    for (const m of metrics) expect(m['estimator.templateEpisodes']).toBe(16);
    expect(result.budget.consumed.episodes).toBe(metrics.length * (8 + 16));
    expect(result.budget.consumed.auxTrainedTokens).toBeGreaterThan(0);
    for (const m of metrics) {
      expect(m['estimator.prmMean']).toBeGreaterThan(0);
      expect(m['estimator.prmMean']).toBeLessThan(1);
      expect(Number.isFinite(m['estimator.judgeLoss'])).toBe(true);
    }
    const hackRate = result.diagnostics['estimator.hackRate'] as number;
    expect(hackRate).toBeGreaterThanOrEqual(0);
    expect(hackRate).toBeLessThanOrEqual(1);
    const ruleOnlyDir = mkdtempSync(path.join(tmpdir(), 'reasonflux-rule-'));
    await tinyGridnav(0, ruleOnlyDir);
    const [blended, ruleOnly] = [metrics[0], metricsOf(ruleOnlyDir)[0]] as Record<string, number>[];
    expect(blended?.rewardMean).toBe(ruleOnly?.rewardMean);
    expect(ruleOnly?.['estimator.templateEpisodes']).toBeUndefined();
    expect(blended?.advantageAbsMean).not.toBeCloseTo(ruleOnly?.advantageAbsMean as number, 6);
  }, 240_000);

  it('never spends more episodes than its budget: the episodes a step draws inside its estimator count before the next step', async () => {
    // 24 episodes a step (8 sampled + 16 template): 60 affords two steps, not a third (8 sampled would still fit).
    const result = await tinyGridnav(0.75, mkdtempSync(path.join(tmpdir(), 'reasonflux-budget-')), 60);
    expect(result.steps).toBe(2);
    expect(result.budget.consumed.episodes).toBe(48);
  }, 240_000);
});

describe('rapl-ot', () => {
  it('is registered with GRPO and its shaper; refused before a run on an environment without a multi-turn expert', () => {
    expect(registry.get('methods', 'rapl-ot')).toMatchObject({ estimator: 'grpo', shapers: ['rapl-ot'] });
    expect(whyUnfit({ registry, method: 'rapl-ot', env: 'countdown', seed: 1 })).toMatch(
      /shaper 'rapl-ot' needs episodes of more than one turn/,
    );
    expect(whyUnfit({ registry, method: 'rapl-ot', env: 'gridnav', seed: 1 })).toBeUndefined();
  });

  it('a tiny gridnav run: the user gives triplets, the encoder fits on them, the OT reward replaces the true one, all charged', async () => {
    const outDir = mkdtempSync(path.join(tmpdir(), 'rapl-ot-'));
    const result = await train({
      registry,
      method: 'rapl-ot',
      env: 'gridnav',
      seed: 3,
      budget: { episodes: 2 * 16 },
      overrides: { ...TINY, model: { dim: 16, layers: 1, heads: 2, contextLength: 160 }, sftSteps: 16 },
      outDir,
    });
    expect(result.steps).toBe(2);
    const metrics = metricsOf(outDir);
    const triplets = metrics.map((m) => m['shaper.rapl-ot.triplets'] as number);
    expect(triplets[1]).toBeGreaterThan(triplets[0] as number);
    for (const m of metrics) {
      expect(m['shaper.rapl-ot.rewardMean']).toBeLessThan(0);
      expect(m['reward.won']).toBe(0); // the true components are 0 in training
    }
    expect(metrics.some((m) => Number.isFinite(m['shaper.rapl-ot.loss']))).toBe(true);
    expect(result.budget.consumed.auxScoredTokens).toBeGreaterThan(0);
    expect(result.budget.consumed.auxTrainedTokens).toBeGreaterThan(0);
  }, 600_000);
});

describe('pairwise-rl', () => {
  it('is registered with its anchor estimator and its pairwise judge', () => {
    expect(registry.get('methods', 'pairwise-rl')).toMatchObject({
      estimator: 'pairwise-anchor',
      loss: 'ppo-clip',
      rewardModels: ['pairwise-gen-rm'],
    });
  });

  it('a tiny countdown run: one anchor episode per task is charged, the judge trains on swapped pairs, and the advantages are r - 1/2', async () => {
    const outDir = mkdtempSync(path.join(tmpdir(), 'pairwise-rl-'));
    // 4 tasks x 4 rollouts + 4 anchors = 20 episodes a step
    const result = await train({
      registry,
      method: 'pairwise-rl',
      env: 'countdown',
      seed: 2,
      budget: { episodes: 60 },
      overrides: TINY,
      outDir,
    });
    expect(result.steps).toBe(3);
    expect(result.budget.consumed.episodes).toBe(60);
    const metrics = metricsOf(outDir);
    for (const m of metrics) {
      const pairReward = m['estimator.pairRewardMean'] as number;
      expect(pairReward).toBeGreaterThanOrEqual(0);
      expect(pairReward).toBeLessThanOrEqual(1);
      expect(m.advantageMean).toBeCloseTo(pairReward - 0.5, 9);
      expect(m['estimator.positionGap']).toBeGreaterThanOrEqual(0);
      expect((m['rewardModel.pairwise-gen-rm.examples'] as number) % 2).toBe(0); // each pair in both orders
    }
    expect(metrics.some((m) => (m['rewardModel.pairwise-gen-rm.examples'] as number) > 0)).toBe(true);
    expect(result.budget.consumed.auxTrainedTokens).toBeGreaterThan(0);
    expect(result.budget.consumed.auxScoredTokens).toBeGreaterThan(0);
  }, 600_000);
});

/** Episodes of the acting run: 32 prompts x 4 rollouts a step. */
const COOPER_EPISODES = 1280;

describe('cooper', () => {
  const rm = registry.get('rewardModels', 'cooper-coevolving-rm') as RewardModel;
  /** The environment's verdict on an answer to a task. */
  const verdict = (task: unknown, answer: string, env: Environment = countdown) => {
    const episode = env.start(task, Rng.seeded(0));
    episode.step(answer);
    return episode.outcome().success;
  };
  /** A one-turn rollout of a task answered with its expert answer, as the trainer records one. */
  const solvedRollout = (task: unknown, g: number, env: Environment = countdown): Rollout => {
    const answer = (task as { solution: string }).solution;
    return {
      id: `${g}/0`,
      groupId: `${g}`,
      taskId: env.taskId(task),
      turns: [
        {
          observation: env.start(task, Rng.seeded(0)).observation(),
          action: answer,
          promptTokens: [],
          actionTokens: [],
          logprobs: [],
          reward: {},
          valid: true,
          truncated: false,
        },
      ],
      reward: {},
      success: verdict(task, answer, env),
    };
  };

  it('is registered with its estimator and its co-evolving reward model; environments without references or a corruption rule are refused naming what is missing', () => {
    expect(registry.get('methods', 'cooper')).toMatchObject({
      estimator: 'cooper',
      loss: 'ppo-clip',
      rewardModels: ['cooper-coevolving-rm'],
    });
    expect(whyUnfit({ registry, method: 'cooper', env: 'countdown', seed: 1 })).toBeUndefined();
    expect(whyUnfit({ registry, method: 'cooper', env: 'arithmetic', seed: 1 })).toBeUndefined();
    expect(whyUnfit({ registry, method: 'cooper', env: 'gridnav', seed: 1 })).toMatch(
      /reward model 'cooper-coevolving-rm' needs single-turn episodes and a corruption rule for negatives \(rules exist for: countdown, arithmetic\)/,
    );
  });

  for (const name of ['countdown', 'arithmetic']) {
    it(`every negative it trains on is wrong by ${name}'s own verifier, and nearly every positive gets one (fast-check over tasks and seeds)`, () => {
      const env = registry.get('environments', name) as Environment;
      const bound = rm.bind?.(env, { seed: 1 }) as RewardModel;
      const tasks = [...env.tasks('test', { seed: 0, count: 60 }), ...env.tasks('train', { seed: 1, count: 60 })] as {
        solution: string;
      }[];
      let pairs = 0;
      fc.assert(
        fc.property(fc.subarray(tasks, { minLength: 1, maxLength: 12 }), fc.integer({ min: 0, max: 1e6 }), (chosen, seed) => {
          const groups = chosen.map((task, g) => [solvedRollout(task, g, env)]);
          const examples = bound.examples(groups, { step: 0, rng: Rng.seeded(seed), scalar: () => 0 }).pairs ?? [];
          expect(examples.length).toBeGreaterThanOrEqual(chosen.length - 1);
          for (const [k, pair] of examples.entries()) {
            const task = chosen.find((t) => pair.chosen === t.solution && pair.context.endsWith(` ${t.solution}`));
            expect(task, `pair ${k}`).toBeDefined();
            expect(verdict(task, pair.chosen, env)).toBe(true);
            expect(verdict(task, pair.rejected, env)).toBe(false);
            pairs++;
          }
        }),
        { numRuns: 60 },
      );
      expect(pairs).toBeGreaterThan(200);
    });
  }

  /** P(X >= k) for X ~ Binomial(n, 1/2): the exact one-sided sign test. */
  const signTest = (k: number, n: number) => {
    let total = 0;
    let logChoose = 0; // log C(n, 0)
    for (let m = 0; m <= n; m++) {
      if (m >= k) total += Math.exp(logChoose - n * Math.LN2);
      logChoose += Math.log(n - m) - Math.log(m + 1);
    }
    return Math.min(1, total);
  };

  it('acts on a short run: on 250 held-out countdown tasks the reward model ranks the correct answer above its corruption more often at the middle of the run than untrained, and at the end than at the middle; the end beats the untrained model (exact sign test, p < 0.01)', async () => {
    const outDir = mkdtempSync(path.join(tmpdir(), 'cooper-'));
    const run = (episodes: number, resume: boolean) =>
      train({
        registry,
        method: 'cooper',
        env: 'countdown',
        seed: 1,
        budget: { episodes },
        overrides: { tasksPerStep: 32, evalTasks: 8, evalSamples: 1, evalEvery: 1000, signFlipEvery: 0 },
        outDir,
        resume,
      });
    const bound = rm.bind?.(countdown, { seed: 1 }) as RewardModel;
    const tokenizer = CharTokenizer.fromAlphabet(countdown.alphabet?.() ?? '');
    /** The reward model of the run's last checkpoint, and the same model untrained (the trainer builds both from the run's seed). */
    const models = () => {
      const sidecar = JSON.parse(readFileSync(path.join(outDir, 'checkpoint.json'), 'utf8')) as {
        weights: string;
        config: Parameters<typeof buildRewardModel>[1];
      };
      const { tensors } = loadSafetensors(path.join(outDir, sidecar.weights));
      const trained = buildRewardModel(bound, sidecar.config, tokenizer, () => {});
      const untrained = buildRewardModel(bound, sidecar.config, tokenizer, () => {});
      trained.weights.variables.forEach((v, i) => {
        const saved = tensors[`rewardModel.cooper-coevolving-rm.${trained.names[i]}`];
        expect(saved, trained.names[i]).toBeDefined();
        v.assign(tf.tensor((saved as { data: Float32Array }).data, v.shape));
      });
      return { trained, untrained };
    };
    // Held-out verified pairs: each test task's expert answer against a corruption countdown's verifier rejects.
    const held = countdown.tasks('test', { seed: 0, count: 250 });
    const groups = held.map((task, g) => [solvedRollout(task, g)]);
    const pairs = bound.examples(groups, { step: 0, rng: Rng.seeded(11), scalar: () => 0 }).pairs ?? [];
    expect(pairs.length).toBeGreaterThanOrEqual(200);
    const texts = pairs.flatMap((p) => [
      { context: p.context, text: p.chosen },
      { context: p.context, text: p.rejected },
    ]);
    const right = async (model: ReturnType<typeof models>['trained']) => {
      const scores = await model.evaluate(texts);
      model.dispose();
      return pairs.map((_, i) => (scores[2 * i] as number) > (scores[2 * i + 1] as number));
    };
    await run(COOPER_EPISODES / 2, false);
    const atMiddle = models();
    const before = await right(atMiddle.untrained);
    const middle = await right(atMiddle.trained);
    await run(COOPER_EPISODES, true);
    const atEnd = models();
    atEnd.untrained.dispose();
    const now = await right(atEnd.trained);
    const onlyNow = now.filter((c, i) => c && !before[i]).length;
    const onlyBefore = before.filter((c, i) => c && !now[i]).length;
    const share = (r: readonly boolean[]) => r.filter(Boolean).length / pairs.length;
    const p = signTest(onlyNow, onlyNow + onlyBefore);
    console.log(
      `cooper-coevolving-rm on ${pairs.length} held-out pairs: untrained ${share(before).toFixed(3)}, after ${COOPER_EPISODES / 2} episodes ${share(middle).toFixed(3)}, after ${COOPER_EPISODES} ${share(now).toFixed(3)}, sign test (end against untrained) p = ${p.toExponential(2)}`,
    );
    expect(share(middle)).toBeGreaterThan(share(before));
    expect(share(now)).toBeGreaterThanOrEqual(share(middle));
    expect(p).toBeLessThan(0.01);
  }, 240_000);
});

describe('spark', () => {
  it('is registered with GRPO and the spark-self-judge task source; refused before a run on a multi-turn environment, naming what is missing', () => {
    expect(registry.get('methods', 'spark')).toMatchObject({
      estimator: 'grpo',
      loss: 'ppo-clip',
      taskSource: 'spark-self-judge',
    });
    expect(whyUnfit({ registry, method: 'spark', env: 'gridnav', seed: 1 })).toMatch(
      /spark-self-judge needs a single-turn environment with a verifier and an expert; environment 'gridnav' lacks single-turn episodes/,
    );
    expect(whyUnfit({ registry, method: 'spark', env: 'countdown', seed: 1 })).toBeUndefined();
  });

  it('a tiny countdown run: auxiliary tasks take places in the draw and are charged as episodes; the SFT start adds judge rows, reported apart; self-judging and self-rerank are in the evaluation', async () => {
    const outDir = mkdtempSync(path.join(tmpdir(), 'spark-'));
    const result = await train({
      registry,
      method: 'spark',
      env: 'countdown',
      seed: 2,
      budget: { episodes: 6 * 16 },
      overrides: { ...TINY, evalTasks: 8, evalSamples: 4 },
      outDir,
    });
    expect(result.steps).toBe(6);
    // Every step draws 4 tasks x 4 rollouts, the auxiliary ones among them: no extra episodes.
    expect(result.budget.consumed.episodes).toBe(6 * 16);
    const metrics = metricsOf(outDir);
    const aux = metrics.map(
      (m) =>
        (m['taskSource.pointwiseRollouts'] as number) +
        (m['taskSource.pairwiseRollouts'] as number) +
        (m['taskSource.reflectionRollouts'] as number),
    );
    expect(aux[0]).toBe(0); // nothing waits before the first step
    expect(aux.slice(1).every((n) => n > 0 && n <= 8)).toBe(true); // share 0.5 of 4 tasks x 4 rollouts
    expect(result.sftStart).toEqual({ steps: 8, rows: 256, extraRows: 256, source: 'spark-self-judge' });
    for (const evaluation of [result.initial, result.final]) {
      expect(evaluation.selfRerank?.samples).toBe(4);
      expect(evaluation.rewardModels?.['spark-self-judge']).toBeDefined();
    }
    // The first evaluation's judge is the start's: the same verdicts on the same pairs.
    const initial = result.initial.rewardModels?.['spark-self-judge'];
    expect(initial?.accuracy).toBe(initial?.untrainedAccuracy);
    expect(result.final.rewardModels?.['spark-self-judge']?.pairs).toBe(initial?.pairs);
  }, 240_000);
});

describe('spark’s warm start', () => {
  it('from the SFT start with judge rows, auxiliary tasks earn reward; from the plain SFT start (warmStart=false) no verdict is right', async () => {
    const run = async (warmStart: boolean) => {
      const outDir = mkdtempSync(path.join(tmpdir(), 'spark-warm-'));
      await train({
        registry,
        method: 'spark',
        env: 'countdown',
        seed: 3,
        budget: { episodes: 8 * 32 },
        overrides: {
          ...TINY,
          model: { dim: 32, layers: 1, heads: 2, contextLength: 48 },
          sftSteps: 100,
          tasksPerStep: 8,
          learningRate: 3e-4,
          taskSourceOptions: { warmStart },
        },
        outDir,
      });
      const metrics = metricsOf(outDir);
      const sum = (key: string) => metrics.reduce((a, m) => a + (m[`taskSource.${key}`] as number), 0);
      return {
        verdicts: sum('pointwiseRollouts') + sum('pairwiseRollouts'),
        right: sum('pointwiseRight') + sum('pairwiseRight'),
      };
    };
    const warm = await run(true);
    const plain = await run(false);
    expect(plain.verdicts).toBeGreaterThan(20);
    expect(plain.right).toBe(0);
    expect(warm.verdicts).toBeGreaterThan(20);
    expect(warm.right / warm.verdicts).toBeGreaterThan(0.3);
  }, 240_000);
});

describe('urpo', () => {
  // Room for a ranking prompt (statement, marker, three candidates) before the answer: the Method's own default.
  const URPO_TINY = { ...TINY, model: { ...TINY.model, contextLength: 64 } };

  it('is registered with its self-referee estimator and its batch mixer; refused before a run where no preference data can be built', () => {
    expect(registry.get('methods', 'urpo')).toMatchObject({
      estimator: 'urpo-self-referee',
      loss: 'ppo-clip',
      taskSource: 'urpo-mix',
      // GRPO's KL term keeps the referee from collapsing onto one order (docs/extensions.md).
      divergence: { name: 'kl', options: { estimator: 'k3' } },
      defaults: { divergenceCoef: 0.04 },
    });
    expect(whyUnfit({ registry, method: 'urpo', env: 'gridnav', seed: 1 })).toMatch(
      /environment 'gridnav' has no preference-data builder .*accepted: countdown/,
    );
    expect(whyUnfit({ registry, method: 'urpo', env: 'countdown', seed: 1 })).toBeUndefined();
  });

  it('a tiny countdown run: the three kinds are drawn, every referee sample is charged as an episode, the self-reward variance is logged, the budget holds', async () => {
    const outDir = mkdtempSync(path.join(tmpdir(), 'urpo-'));
    const budget = 8 * 16;
    const result = await train({
      registry,
      method: 'urpo',
      env: 'countdown',
      seed: 2,
      budget: { episodes: budget },
      overrides: { ...URPO_TINY, taskSourceOptions: { verifiable: 0.25, ranking: 0.25, open: 0.5 } },
      outDir,
    });
    const metrics = metricsOf(outDir);
    const sum = (key: string) => metrics.reduce((a, m) => a + ((m[key] as number | undefined) ?? 0), 0);
    expect(sum('taskSource.verifiable')).toBeGreaterThan(0);
    expect(sum('taskSource.ranking')).toBeGreaterThan(0);
    expect(sum('taskSource.open')).toBeGreaterThan(0);
    expect(sum('estimator.refereeSamples')).toBeGreaterThan(0);
    let before = 0;
    metrics.forEach((m, i) => {
      const consumed = (m.consumed as unknown as { episodes: number }).episodes;
      const referee = m['estimator.refereeSamples'] as number;
      // A step draws 4 tasks x 4 rollouts; its referee samples come on top, all of them unless the budget ran out.
      if (i < metrics.length - 1) expect(consumed - before).toBe(16 + referee);
      else expect(consumed - before).toBeLessThanOrEqual(16 + referee);
      before = consumed;
      expect(m['estimator.selfRewardVariance']).toBeGreaterThanOrEqual(0);
      expect(m['reward.rank']).toBeGreaterThanOrEqual(0);
      expect(m['reward.rank']).toBeLessThanOrEqual(1);
      expect(m['reward.openTruth']).toBeGreaterThanOrEqual(0);
      expect(m.divergenceCoef).toBe(0.04);
    });
    expect(result.budget.consumed.episodes).toBeLessThanOrEqual(budget);
    expect(result.budget.consumed.episodes).toBe(before);
    // Its warm start also learnt the ranking format (64 ranking rows beside the 256 demonstrations):
    // a start of its own, which a comparison must not take for the shared SFT start.
    expect(result.sftStart).toEqual({ steps: 4, rows: 256, extraRows: 64, source: 'urpo-mix' });
    // Every diagnostic is its mean over the steps that logged it (the referee's agreement is absent from steps without a separable pair).
    for (const [key, mean] of Object.entries(result.diagnostics)) {
      const logged = metrics.flatMap((m) => (typeof m[key] === 'number' ? [m[key] as number] : []));
      expect(mean, key).toBeCloseTo(logged.reduce((a, b) => a + b, 0) / logged.length, 9);
    }
    const sparse = Object.keys(result.diagnostics).filter((key) => metrics.some((m) => typeof m[key] !== 'number'));
    expect(sparse).toContain('estimator.selfRewardTruthAgreement');
  }, 600_000);
});
