import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupsOf } from '../test-support/rollouts.js';
import { improvementSignal, pipo } from './pipo.js';
import { context } from './test-support.js';

const settings = { std: 'sample', xiEps: 0.01, xiClip: 5 } as const;

describe('pipo', () => {
  it('improvement signal: worked example, clip and sign', () => {
    // history [0.2, 0.4]: mean 0.3, sample std 0.141421; (0.5 - 0.3) / 0.151421 = 1.32082
    expect(improvementSignal(0.5, [0.2, 0.4], settings)).toBeCloseTo(1.32082, 5);
    expect(improvementSignal(0.1, [0.2, 0.4], settings)).toBeCloseTo(-1.32082, 5);
    // a flat history: 0.2 / 0.01 = 20, clipped to 5 unless the clip is off
    expect(improvementSignal(0.5, [0.3, 0.3], settings)).toBe(5);
    expect(improvementSignal(0.5, [0.3, 0.3], { ...settings, xiClip: 0 })).toBeCloseTo(20, 9);
  });

  it('verifies the previous batch once two batch means are known', async () => {
    const estimator = pipo();
    const batches = [
      [[1, 0, 0, 0, 0]], // mean 0.2
      [[1, 1, 0, 0, 0]], // mean 0.4
      [[1, 1, 1, 0, 0]], // mean 0.6
    ];
    const first = await estimator.compute(groupsOf(batches[0] ?? []), context(0));
    expect(estimator.verification()).toBeUndefined();
    expect(first.diagnostics?.batchMean).toBeCloseTo(0.2, 12);
    const second = await estimator.compute(groupsOf(batches[1] ?? []), context(1));
    expect(estimator.verification()).toBeUndefined(); // one past mean: below minHistory
    const third = await estimator.compute(groupsOf(batches[2] ?? []), context(2));
    const verification = estimator.verification();
    // (0.6 - 0.3) / (0.141421 + 0.01) = 1.98123
    expect(verification?.xi).toBeCloseTo(1.98123, 5);
    expect(third.diagnostics?.xi).toBe(verification?.xi);
    expect(verification?.groups[0]?.map((r) => r.reward.reward)).toEqual([1, 1, 0, 0, 0]);
    verification?.advantages.rollout[0]?.forEach((a, i) =>
      expect(a).toBeCloseTo((verification.xi as number) * (second.rollout[0]?.[i] as number), 12),
    );
    // phase 1 is GRPO: [1, 1, 1, 0, 0] -> mean 0.6, sample std 0.547723
    expect(third.rollout[0]?.[0]).toBeCloseTo(0.4 / (0.547723 + 1e-4), 5);
  });

  it('a worse batch reverses the previous advantages; a new run forgets the history', async () => {
    const estimator = pipo();
    for (const [step, batch] of [[[1, 1, 0, 0]], [[1, 1, 1, 0]], [[1, 0, 0, 0]]].entries())
      await estimator.compute(groupsOf(batch), context(step));
    const verification = estimator.verification();
    expect(verification?.xi).toBeLessThan(0);
    // the batch [1, 1, 1, 0] had a positive advantage on rollout 0; it is now pushed down
    expect(verification?.advantages.rollout[0]?.[0]).toBeLessThan(0);
    await estimator.compute(groupsOf([[1, 0]]), context(0));
    expect(estimator.verification()).toBeUndefined();
  });

  it('rejects bad options and degenerate groups, naming them', async () => {
    expect(() => pipo({ minHistory: 6 })).toThrow(/'minHistory' must be in \[1, window = 5\], got 6/);
    expect(() => pipo({ window: 2.5 })).toThrow(/'window' must be an integer/);
    await expect((async () => pipo().compute(groupsOf([[1]]), context()))()).rejects.toThrow(/group 0 has 1 rollout/);
    await expect((async () => pipo().compute(groupsOf([[1, Number.NaN]]), context()))()).rejects.toThrow(
      /group 0, rollout 1 \(g0\/1\): reward component .reward. is not finite/,
    );
  });

  it('shifting every reward of every batch changes neither the advantages nor xi (fast-check)', async () => {
    const batch = fc.array(
      fc.array(
        fc.integer({ min: -40, max: 40 }).map((n) => n / 4),
        { minLength: 2, maxLength: 5 },
      ),
      { minLength: 1, maxLength: 3 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(batch, { minLength: 3, maxLength: 5 }),
        fc.integer({ min: -20, max: 20 }),
        async (batches, shift) => {
          const plain = pipo();
          const shifted = pipo();
          for (const [step, b] of batches.entries()) {
            const a = await plain.compute(groupsOf(b), context(step));
            const c = await shifted.compute(groupsOf(b.map((g) => g.map((r) => r + shift))), context(step));
            a.rollout.forEach((g, k) => {
              expect(g.reduce((s, v) => s + v, 0)).toBeCloseTo(0, 9);
              g.forEach((v, i) => expect(c.rollout[k]?.[i]).toBeCloseTo(v, 9));
            });
            const xi = plain.verification()?.xi;
            if (xi === undefined) expect(shifted.verification()).toBeUndefined();
            else expect(shifted.verification()?.xi).toBeCloseTo(xi, 6);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
