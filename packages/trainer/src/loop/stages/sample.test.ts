import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../backend/select-backend.js';
import { tinyStepContext } from '../../test-support/tiny.js';
import { estimatorContext } from './estimate.js';
import { sample } from './sample.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

describe('sample stage', () => {
  it('draws tasksPerStep groups of G rollouts, charges every episode as drawn, and repeats exactly for the same step', async () => {
    const ctx = await tinyStepContext();
    const sampled = await sample(ctx, (requests, groups) => estimatorContext(ctx, requests, groups));
    expect(sampled.groups).toHaveLength(4);
    expect(sampled.groups.every((g) => g.length === 6)).toBe(true);
    expect(ctx.meter.consumed.episodes).toBe(24);
    expect(ctx.meter.consumed.generatedTokens).toBe(
      sampled.groups.flat().reduce((n, r) => n + (r.turns[0]?.actionTokens.length ?? 0), 0),
    );
    const again = await tinyStepContext();
    const repeat = await sample(again, (requests, groups) => estimatorContext(again, requests, groups));
    expect(repeat.groups.map((g) => g.map((r) => r.turns[0]?.action))).toEqual(
      sampled.groups.map((g) => g.map((r) => r.turns[0]?.action)),
    );
  });

  it('replaces groups the estimator discards for resampleRounds rounds, each charged, within the budget', async () => {
    const ctx = await tinyStepContext({ method: 'picky', overrides: { resampleRounds: 2 } });
    const sampled = await sample(ctx, (requests, groups) => estimatorContext(ctx, requests, groups));
    expect(sampled.discardedGroups).toBeGreaterThan(0);
    expect(sampled.requests.length).toBeGreaterThan(4);
    // every drawn group was charged, kept or not
    expect(ctx.meter.consumed.episodes).toBe(sampled.requests.length * 6);
    expect(sampled.groups.every((g) => g[0]?.success === true)).toBe(true);
  });
});
