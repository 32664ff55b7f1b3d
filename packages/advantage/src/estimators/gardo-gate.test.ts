import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contextFor, groupsOf } from '../test-support/rollouts.js';
import { gardo } from './gardo.js';
import { descendingRanks, gate, riskCompensator, uncertainties } from './gardo-gate.js';

const finite = fc.double({ min: -5, max: 5, noNaN: true });

describe('gardo gate: uncertainty and gate', () => {
  it('ranks descending with ties sharing their mean rank', () => {
    expect(descendingRanks([3, 1, 3, 2])).toEqual([1.5, 4, 1.5, 3]);
    expect(descendingRanks([0, 0, 0])).toEqual([2, 2, 2]);
    // With a tie order, tied values are ranked in it (lower first), as a sort's order breaks ties.
    expect(descendingRanks([3, 1, 3, 2], [0.9, 0, 0.1, 0.5])).toEqual([2, 4, 1, 3]);
  });

  it('worked example: a proxy that reverses its auxiliary gates only the sample it ranks furthest below the auxiliary', () => {
    // proxy ranks [1, 2, 3, 4], auxiliary ranks [4, 3, 2, 1]: u = [-3, -1, 1, 3]
    const u = uncertainties([4, 3, 2, 1], [[1, 2, 3, 4]]);
    expect(u).toEqual([-3, -1, 1, 3]);
    // non-negative u = [1, 3]; their 90th percentile is 1 + 0.9 * 2 = 2.8
    expect(gate(u, 0.1)).toEqual([0, 0, 0, 1]);
    expect(gate(u, 0.6)).toEqual([0, 0, 0, 1]); // threshold 1.8
    expect(gate([-1, 0, 0, 1], 0.1)).toEqual([0, 0, 0, 1]);
  });

  it('the gate is 0 on every certain sample: when the auxiliaries rank the batch as the proxy does, or when u <= 0', () => {
    fc.assert(
      fc.property(
        fc.array(finite, { minLength: 2, maxLength: 40 }),
        fc.double({ min: 0.02, max: 0.2, noNaN: true }),
        (r, kappa) => {
          // Auxiliaries that are increasing transforms of the proxy agree on every rank: no uncertainty.
          const aux = [r.map((x) => 2 * x), r.map((x) => 4 * x)]; // exact in floating point
          for (const tieOrder of [undefined, r.map((_, i) => (i * 7919) % 101)]) {
            const u = uncertainties(r, aux, tieOrder);
            expect(u.every((x) => x === 0)).toBe(true);
            expect(gate(u, kappa).every((g) => g === 0)).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(finite, fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 1 })), {
          minLength: 2,
          maxLength: 60,
        }),
        fc.double({ min: 0.02, max: 0.2, noNaN: true }),
        (rows, kappa) => {
          const u = uncertainties(
            rows.map((row) => row[0]),
            [rows.map((row) => row[1]), rows.map((row) => row[2])],
          );
          const g = gate(u, kappa);
          const nonNegative = u.filter((x) => x >= 0);
          // Only samples the proxy ranks below the auxiliaries (u > 0) can be gated ...
          g.forEach((gi, i) => {
            if (gi === 1) expect(u[i] as number).toBeGreaterThan(0);
          });
          // ... every gated sample is more uncertain than every ungated one ...
          const gatedMin = Math.min(...u.filter((_, i) => g[i] === 1));
          const ungatedMax = Math.max(...u.filter((_, i) => g[i] === 0));
          if (g.some((x) => x === 1)) expect(gatedMin).toBeGreaterThan(ungatedMax);
          // ... and at most the top kappa share of the non-negative ones is gated.
          expect(g.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(kappa * (nonNegative.length - 1) + 1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("kappa follows GARDO's RiskCompensator: x1.1 above the window's max, x0.9 below its min, clipped", () => {
    const k = riskCompensator({ initial: 0.1, min: 0.02, max: 0.2, rate: 0.1, window: 20 });
    expect(k.update([1, 3])).toBe(0.1); // first step: the initial share
    expect(k.update([4, 4])).toBeCloseTo(0.11, 12); // mean 4 > max(2)
    expect(k.update([3])).toBeCloseTo(0.11, 12); // inside [2, 4]: unchanged
    expect(k.update([0, 0])).toBeCloseTo(0.099, 12); // below min(2, 4, 3)
    for (let step = 0; step < 40; step++) k.update([100 + step]);
    expect(k.kappa).toBe(0.2);
    k.reset();
    expect(k.kappa).toBe(0.1);
  });
});

describe('gardo estimator: divergence weights', () => {
  const components = contextFor({ correct: 1, format: 0.1 });

  it('gives no rollout a KL when the reward has one component (nothing to disagree with)', async () => {
    const result = await gardo().compute(
      groupsOf([
        [1, 0, 0.5, 0.2],
        [0, 1, 1, 0],
      ]),
      contextFor(),
    );
    expect(result.divergenceWeights).toEqual([
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ]);
    expect(result.diagnostics?.gatedFraction).toBe(0);
  });

  it('gates rollouts the proxy ranks below its auxiliary components; gated weights average the KL over the gated rollouts', async () => {
    const groups = groupsOf([
      [
        { correct: 1, format: 0 },
        { correct: 1, format: 1 },
        { correct: 0, format: 1 },
        { correct: 0, format: 1 },
      ],
      [
        { correct: 0, format: 0 },
        { correct: 0, format: 1 },
        { correct: 0, format: 1 },
        { correct: 1, format: 1 },
      ],
    ]);
    // Proxy (correct + 0.1 format) ranks the unformatted wrong rollout last (8), 'correct' ranks it
    // 6 (tied with every wrong one) and 'format' 7.5: u = 1.25. The formatted wrong ones have
    // u = 5.5 - (6 + 3.5) / 2 = 0.75 and the correct ones u < 0; the 90th percentile of the
    // non-negative u is 0.75 + 0.6 * 0.5 = 1.05, so only the unformatted rollout is gated.
    const all = await gardo({ normalize: 'all', ties: 'mean' }).compute(groups, components);
    expect(all.divergenceWeights).toEqual([
      [0, 0, 0, 0],
      [1, 0, 0, 0],
    ]);
    const gated = await gardo({ ties: 'mean' }).compute(groups, components);
    expect(gated.divergenceWeights).toEqual([
      [0, 0, 0, 0],
      [8, 0, 0, 0],
    ]);
    expect(gated.diagnostics?.gatedFraction).toBe(0.125);
    const only = await gardo({ auxiliaries: ['correct'], ties: 'mean' }).compute(groups, components);
    expect(only.divergenceWeights?.flat().some((w) => w > 0)).toBe(true);
  });

  it("with random tie-breaking (the default) a verifier's tied classes are gated in part, reproducibly per seed", async () => {
    const rows = Array.from({ length: 8 }, (_, g) =>
      Array.from({ length: 4 }, (_, i) => ({ correct: (g + i) % 3 === 0 ? 1 : 0, format: (g * i) % 2 })),
    );
    const a = await gardo({ normalize: 'all' }).compute(groupsOf(rows), components);
    const b = await gardo({ normalize: 'all' }).compute(groupsOf(rows), components);
    expect(a.divergenceWeights).toEqual(b.divergenceWeights);
    const count = a.divergenceWeights?.flat().reduce((x, y) => x + y, 0) as number;
    expect(count).toBeGreaterThan(0);
    expect(count).toBeLessThanOrEqual(0.1 * 32);
    const tied = await gardo({ normalize: 'all', ties: 'mean' }).compute(groupsOf(rows), components);
    expect(tied.divergenceWeights?.flat().reduce((x, y) => x + y, 0)).toBe(0);
  });

  it('refuses an auxiliary that is not a reward component, and kappa bounds out of order, naming them', async () => {
    await expect(async () => gardo({ auxiliaries: ['judge'] }).compute(groupsOf([[1, 0]]), contextFor())).rejects.toThrow(
      /auxiliary reward 'judge' is not a reward component; accepted: reward/,
    );
    expect(() => gardo({ kappa: 0.5 })).toThrow(/kappaMin <= kappa <= kappaMax/);
  });
});
