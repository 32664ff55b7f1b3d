/**
 * The learned-reward Methods act on a short run: tiny gridnav runs from the installed catalog,
 * each compared with the same run without its learned reward (same seed, so the first step's
 * rollouts are the same ones).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRegistry } from '@policy-lab/core/node';
import { initBackend, train } from '@policy-lab/trainer';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const { registry } = await createRegistry({ cwd: root, discoverFrom: [root] });

const TINY = {
  model: { dim: 16, layers: 1, heads: 2, contextLength: 128 },
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

type Metrics = Record<string, number> & { consumed: Record<string, number> };
async function run(method: string, env = 'gridnav', overrides: Record<string, unknown> = {}): Promise<Metrics[]> {
  const outDir = mkdtempSync(path.join(tmpdir(), `${method}-`));
  await train({
    registry,
    method,
    env,
    seed: 3,
    budget: { episodes: 2 * 16 },
    overrides: { ...TINY, ...overrides },
    outDir,
  });
  return readFileSync(path.join(outDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Metrics);
}

describe('learned rewards on a short gridnav run', () => {
  it('dopamine-pbrs: the progress model pre-trains, shapes the advantages of the same rollouts, trains online, and is charged', async () => {
    const shaped = await run('dopamine-pbrs');
    const plain = await run('gigpo');
    const first = shaped[0] as Metrics;
    expect(first.successRate).toBe(plain[0]?.successRate);
    expect(first.advantageAbsMean).not.toBeCloseTo(plain[0]?.advantageAbsMean as number, 6);
    expect(first['shaper.dopamine-pbrs.pretrainStates']).toBeGreaterThan(32);
    expect(first['shaper.dopamine-pbrs.phiMean']).toBeGreaterThan(0);
    expect(first['shaper.dopamine-pbrs.phiMean']).toBeLessThan(1);
    for (const m of shaped) expect(m['shaper.dopamine-pbrs.trainedStates']).toBeGreaterThan(0);
    expect(shaped[shaped.length - 1]?.consumed.auxScoredTokens).toBeGreaterThan(0);
    expect(shaped[shaped.length - 1]?.consumed.auxTrainedTokens).toBeGreaterThan(0);
    expect(plain[plain.length - 1]?.consumed.auxScoredTokens ?? 0).toBe(0);
  }, 600_000);

  it('multifidelity-reward: a quarter of each batch gets the exact reward, charged as environment steps beside the correction model', async () => {
    const fused = await run('multifidelity-reward', 'code', { model: { dim: 16, layers: 1, heads: 2, contextLength: 160 } });
    const plain = await run('grpo', 'code', { model: { dim: 16, layers: 1, heads: 2, contextLength: 160 } });
    for (const m of fused) {
      expect(m['shaper.multifidelity-reward.exactCalls']).toBe(4);
      expect(m['shaper.multifidelity-reward.cheapCalls']).toBe(16);
    }
    // The first step samples the same rollouts in both runs: the fused one adds its 4 exact evaluations.
    expect(fused[0]?.consumed.envSteps).toBe((plain[0]?.consumed.envSteps as number) + 4);
    expect(fused[fused.length - 1]?.consumed.auxTrainedTokens).toBeGreaterThan(0);
  }, 600_000);

  it('irl-reward-world-model: the policy trains on the learned reward alone while the discriminator learns, charged', async () => {
    const learned = await run('irl-reward-world-model');
    for (const m of learned) {
      expect(Number.isFinite(m['shaper.irl-reward-world-model.loss'])).toBe(true);
      expect(m['reward.won']).toBeDefined();
    }
    expect(learned[0]?.['shaper.irl-reward-world-model.rewardMean']).not.toBe(
      learned[1]?.['shaper.irl-reward-world-model.rewardMean'],
    );
    expect(learned[learned.length - 1]?.consumed.auxTrainedTokens).toBeGreaterThan(0);
  }, 600_000);
});
