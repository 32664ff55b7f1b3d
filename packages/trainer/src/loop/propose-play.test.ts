/**
 * `ProposeContext.play`: a task stream's verification rollouts (INSPO) are played by the current
 * policy under the given instruction, and every episode, step and token is charged; it plays no
 * task whose episodes the budget cannot afford.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { tinyStepContext } from '../test-support/tiny.js';
import { proposeContext } from './task-stream.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

describe('ProposeContext.play', () => {
  it('plays each task count times, charges what it drew, and stops at the budget', async () => {
    const ctx = await tinyStepContext({ budget: { episodes: 10 } });
    const tasks = ctx.plugins.env.tasks('train', { seed: 1, count: 4 });
    const propose = proposeContext(ctx);
    const played = (await propose.play?.(tasks.slice(0, 2), { instruction: 'a', count: 3 })) ?? [];
    expect(played.map((p) => p.rewards.length)).toEqual([3, 3]);
    for (const p of played) {
      expect(p.successes).toHaveLength(3);
      // echo's reward: correct (1) + 0.1 x format, success when correct.
      p.rewards.forEach((r, i) => {
        expect([0, 0.1, 1, 1.1].some((v) => Math.abs(v - r) < 1e-9)).toBe(true);
        expect(p.successes[i]).toBe(r >= 1);
      });
    }
    expect(ctx.meter.consumed.episodes).toBe(6);
    expect(ctx.meter.consumed.envSteps).toBe(6);
    expect(ctx.meter.consumed.generatedTokens).toBeGreaterThan(0);
    expect(ctx.logged['taskSource.playedEpisodes']).toBe(6);
    // 4 episodes left: one task of 3 episodes is affordable, not two.
    expect(await propose.play?.(tasks, { count: 3 })).toHaveLength(1);
    expect(ctx.meter.consumed.episodes).toBe(9);
    expect(await propose.play?.(tasks, { count: 3 })).toEqual([]);
    expect(await propose.play?.(tasks, { count: 0 })).toEqual([]);
  });
});
