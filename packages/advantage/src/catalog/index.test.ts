import { describe, expect, it } from 'vitest';
import { groupsOf } from '../test-support/rollouts.js';
import { catalogEstimators } from './index.js';
import { context } from './test-support.js';

describe('catalogEstimators', () => {
  const estimators = catalogEstimators();

  it('lists each estimator once, by kebab-case name, with its documentation', () => {
    expect(estimators.map((e) => e.name)).toEqual(['optimal-token-baseline', 'tir-optimal-token-baseline', 'vspo', 'pipo']);
    for (const e of estimators) {
      expect(e.name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(e.summary.length).toBeGreaterThan(20);
      expect(e.math).toMatch(/\$/);
      expect(e.unverified?.length).toBeGreaterThan(0);
      expect(e.needsModel ?? false).toBe(false);
      expect(e.needsCritic ?? false).toBe(false);
    }
  });

  it.each(estimators.map((e) => [e.name, e] as const))('%s answers reward-only groups with finite numbers', async (_, e) => {
    const result = await e.compute(
      groupsOf([
        [1, 0, 0, 1, 0.5],
        [0, 1, 1, 0, 2],
      ]),
      context(),
    );
    expect(result.rollout.map((g) => g.length)).toEqual([5, 5]);
    expect(result.weights.map((g) => g.length)).toEqual([5, 5]);
    for (const v of [...result.rollout.flat(), ...result.weights.flat()]) expect(Number.isFinite(v)).toBe(true);
  });

  it('configure rebuilds with new options and rejects unknown ones by name', () => {
    for (const e of estimators) {
      expect(() => e.configure?.({ nonsense: 1 })).toThrow(new RegExp(`${e.name}: unknown option 'nonsense'; accepted: `));
      expect(e.configure?.({}).resolved).toEqual(e.resolved);
    }
  });
});
