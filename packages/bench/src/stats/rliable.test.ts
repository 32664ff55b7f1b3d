import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  aggregateIqm,
  iqm,
  overlaps,
  performanceProfile,
  probabilityOfImprovement,
  probabilityOfImprovementCI,
  stratifiedBootstrapCI,
} from './rliable.js';

// rliable's test vector, as scores[task][run].
const X = [
  [1, 2, 1, 2],
  [2, 2, 1, 1],
];
const Y = [
  [1, 2, 3],
  [1, 2, 3],
];

describe('rliable statistics', () => {
  it('matches rliable test vectors: IQM and probability of improvement', () => {
    expect(aggregateIqm(X)).toBe(1.5);
    expect(aggregateIqm(Y)).toBe(2);
    expect(probabilityOfImprovement(X[0] as number[], Y[0] as number[])).toBeCloseTo(1 / 3, 12);
    expect(probabilityOfImprovementCI(X, Y, { reps: 200 }).estimate).toBeCloseTo(1 / 3, 12);
  });

  it('computes IQM with scipy trim_mean floor semantics (hand-computed)', () => {
    expect(iqm([1, 2, 3, 4, 5, 6, 7, 8])).toBe(4.5); // drop 2 each side: mean(3..6)
    expect(iqm([10, 1, 2, 3, 100])).toBeCloseTo((2 + 3 + 10) / 3, 12); // n=5: floor(1.25)=1 each side
    expect(iqm([1, 2, 3])).toBe(2); // floor(0.75) = 0: plain mean
    expect(iqm([0, 0, 1, 1])).toBe(0.5);
  });

  it('gives intervals that contain the estimate, reproducible for a seed', () => {
    const scores = Array.from({ length: 16 }, (_, t) => Array.from({ length: 5 }, (_, r) => ((t * 7 + r * 13) % 11) / 10));
    const ci = stratifiedBootstrapCI(scores, aggregateIqm, { reps: 300, seed: 3 });
    expect(ci.low).toBeLessThan(ci.estimate);
    expect(ci.estimate).toBeLessThan(ci.high);
    expect(stratifiedBootstrapCI(scores, aggregateIqm, { reps: 300, seed: 3 })).toEqual(ci);
  });

  it('P(X > Y) + P(Y > X) = 1, and 0.5 for identical samples', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 8 }),
        (x, y) => {
          return (
            Math.abs(probabilityOfImprovement(x, y) + probabilityOfImprovement(y, x) - 1) < 1e-12 &&
            probabilityOfImprovement(x, x) === 0.5
          );
        },
      ),
    );
  });

  it('performance profiles are non-increasing in the threshold and strict at ties', () => {
    expect(performanceProfile([[0, 0.5, 1]], [0, 0.5, 1])).toEqual([2 / 3, 1 / 3, 0]);
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 5 }), {
          minLength: 1,
          maxLength: 3,
        }),
        (scores) => {
          const profile = performanceProfile(scores, [0, 0.25, 0.5, 0.75, 1]);
          return profile.every((v, i) => i === 0 || v <= (profile[i - 1] as number));
        },
      ),
    );
  });

  it('reports overlap of intervals', () => {
    expect(overlaps({ estimate: 0, low: 0, high: 1 }, { estimate: 1, low: 0.9, high: 2 })).toBe(true);
    expect(overlaps({ estimate: 0, low: 0, high: 1 }, { estimate: 2, low: 1.5, high: 2 })).toBe(false);
  });
});
