import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../backend/select-backend.js';
import { tinyStepContext } from '../../test-support/tiny.js';
import { estimate, estimatorContext } from './estimate.js';
import { sample } from './sample.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

describe('estimate stage', () => {
  it("returns the estimator's advantages for the sampled groups (mean baseline: each group sums to 0)", async () => {
    const ctx = await tinyStepContext();
    const sampled = await sample(ctx, (requests, groups) => estimatorContext(ctx, requests, groups));
    const advantages = await estimate(ctx, sampled);
    expect(advantages.rollout.map((g) => g.length)).toEqual(sampled.groups.map((g) => g.length));
    for (const group of advantages.rollout) expect(group.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 9);
  });

  it("gives model services: extra rollouts of a group's task, charged; scoring; unknown groups refused", async () => {
    const ctx = await tinyStepContext();
    const sampled = await sample(ctx, (requests, groups) => estimatorContext(ctx, requests, groups));
    const before = ctx.meter.consumed.episodes;
    const groupId = sampled.requests[0]?.groupId as string;
    const extra = await sampled.context.services?.rollouts({ groupId, count: 3 });
    expect(extra).toHaveLength(3);
    expect(extra?.every((r) => r.taskId === sampled.groups[0]?.[0]?.taskId)).toBe(true);
    expect(ctx.meter.consumed.episodes).toBe(before + 3);
    await expect(sampled.context.services?.rollouts({ groupId: 'nope', count: 1 })).rejects.toThrow(/unknown group 'nope'/);
    const [scores] = (await sampled.context.services?.score([{ context: 'a', continuation: 'ab' }], 'current')) ?? [];
    expect(scores).toHaveLength(2);
    expect(scores?.every((lp) => lp < 0)).toBe(true);
  });

  it('no groups (every one discarded): no advantages, no estimator call', async () => {
    const ctx = await tinyStepContext();
    const sampled = await sample(ctx, (requests, groups) => estimatorContext(ctx, requests, groups));
    expect(await estimate(ctx, { ...sampled, groups: [] })).toEqual({ rollout: [], weights: [] });
  });
});
