import { Rng } from '@policy-lab/core';
import fc from 'fast-check';
import { chiSquaredDistributionTable } from 'simple-statistics';
import { describe, expect, it } from 'vitest';
import { prioritized, priorityOf } from './prioritized.js';

const tasks = ['t0', 't1', 't2', 't3', 't4', 't5'];
const open = (options: Parameters<typeof prioritized>[0] = {}) => prioritized(options).open(tasks, { taskId: String });
/** Success rates observed once per task (a group of 4), so the fast average moves from 0.5 halfway to each. */
const rates = [0, 0.25, 0.5, 0.75, 1, 0.5];
const feedback = rates.map((rate, i) => ({
  taskId: `t${i}`,
  task: `t${i}`,
  rewards: [0, 0, 0, 0],
  successes: [0, 1, 2, 3].map((k) => k < rate * 4),
}));

/** Pearson's statistic of observed counts against expected probabilities. */
function chiSquare(counts: readonly number[], probabilities: readonly number[]): number {
  const n = counts.reduce((a, b) => a + b, 0);
  return counts.reduce((a, c, i) => a + (c - n * (probabilities[i] as number)) ** 2 / (n * (probabilities[i] as number)), 0);
}
const critical = (df: number, alpha: number) =>
  (chiSquaredDistributionTable as unknown as Record<number, Record<number, number>>)[df]?.[alpha] as number;

describe('prioritized task source', () => {
  it('draws in proportion to its scores (chi-square at alpha 0.01, seed 1), and not uniformly', () => {
    const stream = open({ score: 'learnability', floor: 0.01 });
    stream.observe?.(feedback, 1);
    const p = rates.map((r) => 0.5 + 0.5 * (r - 0.5));
    const weights = p.map((x) => x * (1 - x) + 0.01);
    const total = weights.reduce((a, b) => a + b, 0);
    const expected = weights.map((w) => w / total);
    const n = 12000;
    const drawn = stream.draw(n, Rng.seeded(1));
    const counts = tasks.map((t) => drawn.filter((d) => d === t).length);
    const df = tasks.length - 1;
    // Follows the scores: the statistic stays below the 1% critical value.
    expect(chiSquare(counts, expected)).toBeLessThan(critical(df, 0.01));
    // Does not follow a uniform draw: far above the 0.5% critical value.
    expect(
      chiSquare(
        counts,
        tasks.map(() => 1 / tasks.length),
      ),
    ).toBeGreaterThan(critical(df, 0.005));
  });

  it('each score: learnability peaks at p = 1/2, difficulty falls with p, progress is 0 until success moves', () => {
    expect(priorityOf('learnability', { fast: 0.5, slow: 0.5 })).toBe(0.25);
    expect(priorityOf('learnability', { fast: 1, slow: 1 })).toBe(0);
    expect(priorityOf('difficulty', { fast: 0.25, slow: 0.5 })).toBe(0.75);
    expect(priorityOf('progress', { fast: 0.7, slow: 0.5 })).toBeCloseTo(0.2);
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (a, b) => {
        const lo = Math.min(a, b);
        const hi = Math.max(a, b);
        expect(priorityOf('difficulty', { fast: hi, slow: 0 })).toBeLessThanOrEqual(
          priorityOf('difficulty', { fast: lo, slow: 0 }),
        );
        expect(priorityOf('learnability', { fast: a, slow: 0 })).toBeLessThanOrEqual(0.25);
      }),
    );
  });

  it('never draws outside the training tasks it was given, keeps every task possible with a floor, and is deterministic per seed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), fc.constantFrom('learnability', 'difficulty', 'progress'), (seed, score) => {
        const stream = open({ score: score as 'learnability' });
        stream.observe?.(feedback, 1);
        const a = stream.draw(50, Rng.seeded(seed));
        expect(a.every((t) => tasks.includes(t as string))).toBe(true);
        expect(stream.draw(50, Rng.seeded(seed))).toEqual(a);
      }),
      { numRuns: 30 },
    );
    const solved = open({ score: 'learnability', floor: 0.05 });
    solved.observe?.(
      tasks.map((t) => ({ taskId: t, task: t, rewards: [1], successes: [true] })),
      1,
    );
    solved.observe?.(
      tasks.map((t) => ({ taskId: t, task: t, rewards: [1], successes: [true] })),
      2,
    );
    expect(new Set(solved.draw(400, Rng.seeded(3))).size).toBe(tasks.length);
  });

  it('saves and loads its scores: a loaded stream draws as the saved one', () => {
    const a = open();
    a.observe?.(feedback, 1);
    const b = open();
    b.load?.(JSON.parse(JSON.stringify(a.save?.())));
    expect(b.draw(100, Rng.seeded(9))).toEqual(a.draw(100, Rng.seeded(9)));
    expect(b.metrics?.()).toEqual(a.metrics?.());
    expect(a.metrics?.().seenTasks).toBe(6);
  });

  it('refuses bad options, naming the value', () => {
    expect(() => prioritized({ temperature: 0 })).toThrow(/temperature must be > 0, got 0/);
    expect(() => prioritized({ rate: 2 })).toThrow(/rate must be in \(0, 1\], got 2/);
    expect(() => prioritized({ score: 'value' as never })).toThrow(/value/);
  });
});
