import { describe, expect, it } from 'vitest';
import type { RunRecord } from './aggregate.js';
import { comparisonCost, costMarkdown } from './cost.js';

const run = (method: string, timings?: Record<string, number>) =>
  ({ method, env: 'e', seed: 1, ...(timings ? { timings } : {}) }) as unknown as RunRecord;

describe('comparisonCost', () => {
  it('splits each run by phase, the rest as other, and sums per method and overall', () => {
    const cost = comparisonCost([
      run('a', { sftSeconds: 10, rolloutSeconds: 20, updateSeconds: 5, evalSeconds: 3, totalSeconds: 40 }),
      run('a', { sftSeconds: 0.5, rolloutSeconds: 18, updateSeconds: 6, evalSeconds: 3, totalSeconds: 28 }),
      run('b', { sftSeconds: 0.5, rolloutSeconds: 30, updateSeconds: 9, evalSeconds: 4, totalSeconds: 44 }),
      // An earlier version's result without phase timings is not counted.
      run('b', { totalSeconds: 50 }),
      run('b'),
    ]);
    expect(cost.runsTimed).toBe(3);
    expect(cost.byMethod).toEqual([
      { method: 'a', runs: 2, seconds: { sft: 10.5, rollouts: 38, updates: 11, evaluation: 6, other: 2.5, total: 68 } },
      { method: 'b', runs: 1, seconds: { sft: 0.5, rollouts: 30, updates: 9, evaluation: 4, other: 0.5, total: 44 } },
    ]);
    expect(cost.total).toEqual({ sft: 11, rollouts: 68, updates: 20, evaluation: 10, other: 3, total: 112 });
    const text = costMarkdown(cost, 5).join('\n');
    expect(text).toMatch(/3 of 5 runs recorded them/);
    expect(text).toMatch(/\| all \| 3 \| 11 \| 68 \| 20 \| 10 \| 3 \| 112 \|/);
    expect(text).toMatch(/\| share \| \| 10% \| 61% \| 18% \| 9% \| 3% \| 100% \|/);
  });

  it('says nothing when no run recorded phase timings', () => {
    expect(costMarkdown(comparisonCost([run('a')]), 1)).toEqual([]);
  });
});
