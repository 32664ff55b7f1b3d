import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { context, outcomeGroups } from './test-support.js';
import { taskValue, vspo } from './vspo.js';

const group = (rewards: readonly number[], successes: readonly boolean[]) =>
  rewards.map((reward, i) => ({ reward, success: successes[i] ?? false }));

describe('vspo', () => {
  it('task value p(1-p)^2: zero at p = 0 and 1, largest at 1/3', () => {
    expect(taskValue(0)).toBe(0);
    expect(taskValue(1)).toBe(0);
    expect(taskValue(0.5)).toBe(0.125);
    expect(taskValue(1 / 3)).toBeCloseTo(4 / 27, 12);
    expect(taskValue(0.3)).toBeLessThan(taskValue(1 / 3));
    expect(taskValue(0.4)).toBeLessThan(taskValue(1 / 3));
  });

  it("advantages are GRPO's z-scores (worked example [1, 0, 0, 1])", async () => {
    const result = await vspo().compute(outcomeGroups([group([1, 0, 0, 1], [true, false, false, true])]), context(0));
    // sample std = 0.57735; 0.5 / (0.57735 + 1e-4) = 0.86588
    expect(result.rollout[0]?.map((v) => Number(v.toFixed(5)))).toEqual([0.86588, -0.86588, -0.86588, 0.86588]);
    expect(result.weights).toEqual([[1, 1, 1, 1]]);
    expect(result.diagnostics?.meanTaskValue).toBe(0.125);
  });

  it('keeps groups with signal and task value, drops all-equal groups', () => {
    const estimator = vspo();
    const [mixed, flat] = outcomeGroups([
      group([1, 0, 0, 1], [true, false, false, true]),
      group([1, 1, 1, 1], [true, true, true, true]),
    ]);
    expect(estimator.keepGroup?.(mixed ?? [], context(0))).toBe(true);
    expect(estimator.keepGroup?.(flat ?? [], context(0))).toBe(false);
    // Partial-credit rewards that differ, but every rollout failed: p = 0, value 0.
    const [hopeless] = outcomeGroups([group([0.1, 0.2, 0, 0], [false, false, false, false])]);
    expect(estimator.keepGroup?.(hopeless ?? [], context(0))).toBe(false);
  });

  it("a task's recent success rate decides: three solved groups then one at 1/4 gives p = 0.8125", async () => {
    const estimator = vspo({ minValue: 0.05 });
    const solved = outcomeGroups([group([1, 1, 0.5, 1], [true, true, true, true])]);
    for (let step = 0; step < 3; step++) await estimator.compute(solved, context(step));
    const [late] = outcomeGroups([group([1, 0, 0, 0], [true, false, false, false])]);
    // p = (1 + 1 + 1 + 0.25) / 4 = 0.8125, value 0.8125 * 0.1875^2 = 0.02856 < 0.05
    expect(estimator.keepGroup?.(late ?? [], context(3))).toBe(false);
    expect(estimator.configure?.({ minValue: 0.02 }).keepGroup?.(late ?? [], context(3))).toBe(true); // a fresh instance: p = 0.25
    // A new run (the step counter goes back) forgets the history: p = 0.25, value 0.1406.
    expect(estimator.keepGroup?.(late ?? [], context(0))).toBe(true);
  });

  it('rejects bad options and a group of one, naming them', async () => {
    expect(() => vspo({ minValue: -1 })).toThrow(/'minValue' must be >= 0, got -1/);
    expect(() => vspo({ std: 'unbiased' as never })).toThrow(/'std'/);
    await expect((async () => vspo().compute(outcomeGroups([group([1], [true])]), context()))()).rejects.toThrow(
      /group 0 has 1 rollout/,
    );
  });

  it('zero-sum, invariant to adding a constant, and finite (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        // quarters: exact in floating point, so a shift cannot cancel a tiny spread
        fc.array(
          fc.integer({ min: -200, max: 200 }).map((n) => n / 4),
          { minLength: 2, maxLength: 8 },
        ),
        fc.double({ min: -20, max: 20, noNaN: true }),
        async (rewards, shift) => {
          const estimator = vspo();
          const a = (await estimator.compute(outcomeGroups([group(rewards, [])]), context())).rollout[0] ?? [];
          const b =
            (
              await estimator.compute(
                outcomeGroups([
                  group(
                    rewards.map((r) => r + shift),
                    [],
                  ),
                ]),
                context(),
              )
            ).rollout[0] ?? [];
          for (const v of a) expect(Number.isFinite(v)).toBe(true);
          expect(a.reduce((s, v) => s + v, 0)).toBeCloseTo(0, 6);
          a.forEach((v, i) => expect(b[i]).toBeCloseTo(v, 4));
        },
      ),
      { numRuns: 100 },
    );
  });
});
