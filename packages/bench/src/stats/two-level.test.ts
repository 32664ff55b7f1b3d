import { describe, expect, it } from 'vitest';
import { mean } from './rliable.js';
import { bootstrapPValue, pairedDifference, replicateIntervals, twoLevelReplicates } from './two-level.js';

// Two seeds (rows) x two test tasks (columns). Computed by hand: the 4 equally likely seed draws
// (1,1) (1,2) (2,1) (2,2) times the 4 task draws give 16 equally likely replicates of the mean.
//   task draw (1,1): seed 1 scores 0,   seed 2 scores 1
//   task draw (1,2) or (2,1): seed 1 scores 0.5, seed 2 scores 1
//   task draw (2,2): both score 1
// seed draw (1,1): 0, 0.5, 0.5, 1; (1,2) and (2,1): 0.5, 0.75, 0.75, 1 each; (2,2): 1, 1, 1, 1.
// So P(0) = 1/16, P(0.5) = 4/16, P(0.75) = 4/16, P(1) = 7/16 (mean 0.75, the point estimate).
// Seed-only: run scores 0.5 and 1, so P(0.5) = 1/4, P(0.75) = 1/2, P(1) = 1/4.
const Y = [
  [0, 1],
  [1, 1],
];
const frequencies = (values: readonly number[]) => {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return Object.fromEntries([...counts].map(([v, c]) => [v, c / values.length]));
};

describe('two-level (seeds x tasks) paired bootstrap', () => {
  it("draws the hand-computed bootstrap distribution, and its intervals are that distribution's percentiles", () => {
    const reps = 16_000;
    const two = twoLevelReplicates([Y], { reps, seed: 1, statistic: mean });
    expect(two.estimates).toEqual([0.75]);
    const seen = frequencies(two.replicates[0] as number[]);
    expect(Object.keys(seen).map(Number).sort()).toEqual([0, 0.5, 0.75, 1]);
    for (const [value, p] of [
      [0, 1 / 16],
      [0.5, 4 / 16],
      [0.75, 4 / 16],
      [1, 7 / 16],
    ])
      expect(Math.abs((seen[value as number] as number) - (p as number))).toBeLessThan(0.015);
    // 95%: P(0) = 6.25% > 2.5%, so the interval runs from 0 to 1.
    expect(replicateIntervals(two)[0]).toEqual({ estimate: 0.75, low: 0, high: 1 });
    // 80%: the 10th percentile is 0.5 (P(<= 0) = 6.25%, P(<= 0.5) = 31.25%).
    expect(replicateIntervals(two, 0.8)[0]).toEqual({ estimate: 0.75, low: 0.5, high: 1 });

    const seedOnly = twoLevelReplicates([Y], { reps, seed: 1, statistic: mean, tasks: false });
    const seedSeen = frequencies(seedOnly.replicates[0] as number[]);
    expect(Object.keys(seedSeen).map(Number).sort()).toEqual([0.5, 0.75, 1]);
    expect(Math.abs((seedSeen[0.75] as number) - 0.5)).toBeLessThan(0.015);
    expect(replicateIntervals(seedOnly)[0]).toEqual({ estimate: 0.75, low: 0.5, high: 1 });
  });

  it('pairs methods: a constant lift on every (seed, task) is an exact difference, unpaired draws blur it', () => {
    const lifted = Y.map((row) => row.map((v) => v + 0.25));
    const paired = twoLevelReplicates([lifted, Y], { reps: 2000, seed: 2, statistic: mean });
    const { difference, p } = pairedDifference(paired, 0, 1);
    expect(difference).toEqual({ estimate: 0.25, low: 0.25, high: 0.25 });
    expect(p).toBeCloseTo(2 / 2001, 12);
    // The same two methods resampled independently: the interval of the difference spans 0.
    const a = twoLevelReplicates([lifted], { reps: 2000, seed: 3, statistic: mean }).replicates[0] as number[];
    const b = twoLevelReplicates([Y], { reps: 2000, seed: 4, statistic: mean }).replicates[0] as number[];
    const unpaired = a.map((v, r) => v - (b[r] as number)).sort((x, y) => x - y);
    expect(unpaired[50]).toBeLessThan(0);
    expect(unpaired[1950]).toBeGreaterThan(0.25);
  });

  it('gives p = 1 for identical methods and is reproducible for a seed', () => {
    const scores = Array.from({ length: 5 }, (_, s) => Array.from({ length: 7 }, (_, t) => ((s * 3 + t * 5) % 4) / 4));
    const result = twoLevelReplicates([scores, scores], { reps: 300, seed: 9 });
    expect(pairedDifference(result, 0, 1).p).toBe(1);
    expect(twoLevelReplicates([scores, scores], { reps: 300, seed: 9 })).toEqual(result);
  });

  it('refuses methods that do not share seeds and tasks', () => {
    expect(() => twoLevelReplicates([Y, [[1, 1]]])).toThrow(/same 2 seeds x 2 tasks/);
    expect(() => twoLevelReplicates([[]])).toThrow(/at least one seed and one task/);
  });

  it('computes the two-sided bootstrap p-value with the (1 + count) / (1 + reps) correction', () => {
    expect(bootstrapPValue([-1, 1, 2, 3])).toBeCloseTo((2 * 2) / 5, 12);
    expect(bootstrapPValue([1, 2, 3, 4])).toBeCloseTo((2 * 1) / 5, 12);
    expect(bootstrapPValue([0, 0, 0])).toBe(1);
  });
});
