/**
 * POLAR (arXiv 2507.05197) end to end from the installed catalog on a tiny model: the polar-rl
 * Method's discriminator is pre-trained on a policy zoo before RL (its own side budget), separates
 * the zoo's policies on held-out prompts, and scores every RL rollout against the expert's
 * reference while staying frozen.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRegistry } from '@policy-lab/core/node';
import { initBackend, type TrainResult, train, whyUnfit } from '@policy-lab/trainer';
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

/** A small discriminator and the smallest zoo: the policy as RL starts (the policy RL trains) and the expert (the reference's policy). */
const ZOO = {
  dim: 32,
  layers: 1,
  heads: 2,
  learningRate: 3e-3,
  prompts: 96,
  heldOut: 0.25,
  updates: 80,
  init: false,
  batch: 32,
  temperatures: [1],
  preferencePairs: 32,
  finetuneUpdates: 5,
};
const ZOO_EPISODES = 96 * 2; // prompts x samples of the one sampled policy (the expert replays, it is not sampled)

describe('polar-rl', () => {
  let result: TrainResult;
  let outDir: string;

  beforeAll(async () => {
    await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
    outDir = mkdtempSync(path.join(tmpdir(), 'polar-'));
    result = await train({
      registry,
      method: 'polar-rl',
      env: 'countdown',
      seed: 1,
      budget: { episodes: 32 },
      overrides: { ...TINY, rewardModelOptions: { polar: ZOO } },
      outDir,
    });
  }, 120_000);

  it('is registered with its estimator and the polar reward model (alias polar-ref-discriminator); multi-turn environments are refused naming what is missing', () => {
    expect(registry.get('methods', 'polar-rl')).toMatchObject({ estimator: 'polar', loss: 'ppo-clip', rewardModels: ['polar'] });
    expect(registry.get('rewardModels', 'polar-ref-discriminator').name).toBe('polar');
    expect(whyUnfit({ registry, method: 'polar-rl', env: 'countdown', seed: 1 })).toBeUndefined();
    expect(whyUnfit({ registry, method: 'polar-rl', env: 'gridnav', seed: 1 })).toMatch(
      /reward model 'polar' needs single-turn episodes, which environment 'gridnav' does not have/,
    );
  });

  it("the pre-trained discriminator separates the policy's and the reference's (expert's) outputs on held-out prompts: a second sample of the reference text's policy above the other policy's, better than untrained (McNemar p < 0.01)", () => {
    const report = result.rewardModelPretraining?.polar;
    expect(report?.policies).toEqual(['start@T1', 'expert']);
    const held = report?.heldOut as NonNullable<typeof report>['heldOut'];
    console.log(
      `polar held-out: ${held.pairs} pairs, pre-trained ${held.accuracy.toFixed(3)}, untrained ${held.untrainedAccuracy.toFixed(3)}, p = ${held.pValue.toExponential(2)}`,
    );
    expect(report?.heldOutPrompts).toBe(24);
    expect(held.pairs).toBeGreaterThanOrEqual(40);
    expect(held.accuracy).toBeGreaterThan(0.75);
    expect(held.accuracy).toBeGreaterThan(held.untrainedAccuracy);
    expect(held.pValue).toBeLessThan(0.01);
  });

  it('charges pre-training to its own report and RL scoring to the RL budget; the discriminator stays frozen in RL', () => {
    const report = result.rewardModelPretraining?.polar as NonNullable<TrainResult['rewardModelPretraining']>['polar'];
    expect(report.episodes).toBe(ZOO_EPISODES);
    expect(report.generatedTokens).toBeGreaterThan(0);
    // The fine-tuning stage runs only when some zoo sample was accepted and some refused on a training prompt.
    expect(report.updates).toBe(ZOO.updates + (report.finetunePairs > 0 ? ZOO.finetuneUpdates : 0));
    expect(report.auxTrainedTokens).toBeGreaterThan(0);
    const consumed = result.budget.consumed;
    // The RL budget holds the RL episodes only, every rollout scored by the discriminator, no training of it.
    expect(consumed.episodes).toBeLessThanOrEqual(32);
    expect(consumed.auxScoredTokens).toBeGreaterThan(0);
    expect(consumed.auxTrainedTokens).toBe(0);
    const metrics = readFileSync(path.join(outDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, number>);
    expect(metrics.length).toBeGreaterThan(0);
    for (const m of metrics) {
      expect(m['rewardModel.polar.examples']).toBe(0);
      expect(Number.isFinite(m['estimator.scoreMean'])).toBe(true);
    }
    const sidecar = JSON.parse(readFileSync(path.join(outDir, 'checkpoint.json'), 'utf8')) as {
      state: { rewardModelPretraining?: unknown };
    };
    expect(sidecar.state.rewardModelPretraining).toEqual(result.rewardModelPretraining);
  });
});
