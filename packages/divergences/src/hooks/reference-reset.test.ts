import { type HookContext, Rng } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { referenceReset } from './reference-reset.js';

/** The steps at which the hook resets the reference over a run of `steps` steps. */
async function resetsOver(every: number, steps: number): Promise<number[]> {
  const hook = referenceReset({ every });
  const resets: number[] = [];
  for (let step = 1; step <= steps; step++) {
    const ctx: HookContext = {
      step,
      config: {} as HookContext['config'],
      rng: Rng.seeded(1),
      coefficients: { divergenceCoef: 0.1, entropyCoef: 0 },
      resetReference: async () => {
        resets.push(step);
      },
    };
    await hook.onStepStart?.(ctx);
    await hook.onStepEnd?.(ctx);
    expect(ctx.coefficients).toEqual({ divergenceCoef: 0.1, entropyCoef: 0 });
  }
  return resets;
}

describe('reference-reset hook', () => {
  it('resets exactly after steps K, 2K, ... and never changes a coefficient', async () => {
    expect(await resetsOver(3, 10)).toEqual([3, 6, 9]);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 60 }), async (every, steps) => {
        const resets = await resetsOver(every, steps);
        expect(resets).toHaveLength(Math.floor(steps / every));
        for (const step of resets) expect(step % every).toBe(0);
      }),
      { numRuns: 40 },
    );
  });

  it('with a KL threshold, also resets after any step whose measured KL exceeded it (and only then)', async () => {
    const hook = referenceReset({ every: 100, klThreshold: 0.01 });
    const kl = [0.001, 0.02, 0.005, 0.011, 0.01];
    const resets: number[] = [];
    for (const [i, value] of kl.entries()) {
      await hook.onStepEnd?.({
        step: i + 1,
        config: {} as HookContext['config'],
        rng: Rng.seeded(1),
        metrics: { kl: value },
        coefficients: { divergenceCoef: 0.1, entropyCoef: 0 },
        resetReference: async () => {
          resets.push(i + 1);
        },
      });
    }
    expect(resets).toEqual([2, 4]);
    expect(() => referenceReset({ klThreshold: -1 })).toThrow(/klThreshold must be >= 0 \(0 = off\), got -1/);
  });

  it('refuses a period that is not a positive integer, naming it', () => {
    expect(() => referenceReset({ every: 0 })).toThrow(/every must be an integer >= 1, got 0/);
    expect(() => referenceReset({ every: 2.5 })).toThrow(/got 2.5/);
    expect(referenceReset().configure?.({ every: 4 })).toMatchObject({ resolved: { every: 4 } });
  });
});
