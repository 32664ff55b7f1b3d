import type { Advantages } from '@policy-lab/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../backend/select-backend.js';
import { echoRollout, tinyStepContext } from '../../test-support/tiny.js';
import { estimatorContext } from './estimate.js';
import { measureSignFlips, stepMetrics } from './metrics.js';
import { type Sampled, sample } from './sample.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

describe('metrics stage', () => {
  it('computes the deterministic diagnostics of a step from its groups, advantages and update', async () => {
    const ctx = await tinyStepContext();
    const groups = [
      [echoRollout('a', 1, [5, 5]), echoRollout('b', 0, [5, 5, 5, 5])],
      [echoRollout('c', 1, [5, 5]), echoRollout('d', 1, [5, 5])],
    ];
    const advantages: Advantages = {
      rollout: [
        [0.5, -0.5],
        [0, 0],
      ],
      weights: [
        [1, 1],
        [1, 1],
      ],
      diagnostics: { custom: 7 },
    };
    const sampled = { groups, requests: [], context: {} as Sampled['context'], tokensPerSecond: 123 } as Sampled;
    const metrics = stepMetrics(ctx, sampled, advantages, undefined, { metrics: { loss: 0.25 }, trainedTokens: 10 });
    // rewards: correct + 0.1 format
    expect(metrics.rewardMean).toBeCloseTo((1.1 + 0.1 + 1.1 + 1.1) / 4, 9);
    expect(metrics.successRate).toBe(0.75);
    expect(metrics.zeroStdGroupFraction).toBe(0.5);
    expect(metrics.zeroAdvantageFraction).toBe(0.5);
    expect(metrics.meanActionTokens).toBe(2.5);
    expect(metrics.truncationRate).toBe(0.25);
    expect(metrics['estimator.custom']).toBe(7);
    expect(metrics.loss).toBe(0.25);
    expect(metrics).not.toHaveProperty('tokensPerSecond');
  });

  it('measures sign flips only every signFlipEvery steps, on the side budget, never on the RL budget', async () => {
    const off = await tinyStepContext();
    const sampledOff = await sample(off, (r, g) => estimatorContext(off, r, g));
    expect(
      await measureSignFlips(off, sampledOff, { rollout: sampledOff.groups.map((g) => g.map(() => 0)), weights: [] }),
    ).toBeUndefined();
    const on = await tinyStepContext({ overrides: { signFlipEvery: 1, signFlipRollouts: 4 } });
    const sampled = await sample(on, (r, g) => estimatorContext(on, r, g));
    const episodes = on.meter.consumed.episodes;
    const rate = await measureSignFlips(on, sampled, {
      rollout: sampled.groups.map((g) => g.map((_, i) => (i % 2 ? 1 : -1))),
      weights: [],
    });
    expect(rate).toBeGreaterThanOrEqual(0);
    expect(rate).toBeLessThanOrEqual(1);
    expect(on.side.episodes).toBe(4 * sampled.groups.length);
    expect(on.meter.consumed.episodes).toBe(episodes);
  });
});
