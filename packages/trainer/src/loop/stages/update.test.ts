import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../backend/select-backend.js';
import { tinyStepContext } from '../../test-support/tiny.js';
import { estimate, estimatorContext } from './estimate.js';
import { sample } from './sample.js';
import { update } from './update.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

async function stepUpTo(method: string) {
  const ctx = await tinyStepContext({ method, reference: method !== 'reinforce-mean' });
  const sampled = await sample(ctx, (requests, groups) => estimatorContext(ctx, requests, groups));
  const advantages = await estimate(ctx, sampled);
  const before = await Promise.all(ctx.policy.variables.map((v) => v.data()));
  const updated = await update(ctx, sampled, advantages);
  const after = await Promise.all(ctx.policy.variables.map((v) => v.data()));
  const moved = before.some((b, i) => b.some((x, j) => x !== after[i]?.[j]));
  return { updated, moved, sampled };
}

describe('update stage: one path for every loss kind', () => {
  it('rows: one optimizer step on advantage-weighted rows, with its loss, gradient norm and trained tokens', async () => {
    const { updated, moved, sampled } = await stepUpTo('reinforce-mean');
    expect(moved).toBe(true);
    expect(Number.isFinite(updated.metrics.loss)).toBe(true);
    expect(updated.metrics.gradNorm).toBeGreaterThan(0);
    expect(updated.trainedTokens).toBe(sampled.groups.flat().reduce((n, r) => n + (r.turns[0]?.actionTokens.length ?? 0), 0));
  });

  it("pairs: each group's best and worst rollout through the pair loss", async () => {
    const { updated } = await stepUpTo('dpo-online');
    expect(updated.metrics.preferencePairs).toBeGreaterThan(0);
    expect(Number.isFinite(updated.metrics.loss)).toBe(true);
    expect(updated.trainedTokens).toBeGreaterThan(0);
  });

  it('labelled: rollouts above and below their group mean through the labelled loss', async () => {
    const { updated } = await stepUpTo('kto-online');
    expect(updated.metrics.preferenceExamples).toBeGreaterThan(0);
    expect(Number.isFinite(updated.metrics.loss)).toBe(true);
    expect(updated.trainedTokens).toBeGreaterThan(0);
  });
});
