import { type Environment, Rng } from '@policy-lab/core';
import { policyJudge } from '@policy-lab/envs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pairDistance, perturbedWeights, regularisedPolicy, styleBit, totalVariation, withStyle } from './policy-cliff.js';

describe('policy cliff (closed form)', () => {
  it('two tied actions, a reward gap of 0.01: tau 0.1 gives 0.475 / 0.525, tau 0.01 gives 0.269 / 0.731, tau 0 jumps', () => {
    const tied = [0, 0];
    const nudged = [0, 0.01];
    expect(regularisedPolicy(nudged, 0.1).map((p) => Number(p.toFixed(3)))).toEqual([0.475, 0.525]);
    expect(regularisedPolicy(nudged, 0.01).map((p) => Number(p.toFixed(3)))).toEqual([0.269, 0.731]);
    expect(totalVariation(regularisedPolicy(tied, 0), regularisedPolicy(nudged, 0))).toBe(0.5);
    expect(totalVariation(regularisedPolicy(tied, 0), regularisedPolicy([0, -0.01], 0))).toBe(0.5);
  });

  it('with entropy regularisation the map is Lipschitz: TV <= |delta gap| / (4 tau) for two actions', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1, max: 1, noNaN: true }),
        fc.double({ min: -0.05, max: 0.05, noNaN: true }),
        fc.double({ min: 0.01, max: 2, noNaN: true }),
        (gap, delta, tau) => {
          const moved = totalVariation(regularisedPolicy([0, gap], tau), regularisedPolicy([0, gap + delta], tau));
          expect(moved).toBeLessThanOrEqual(Math.abs(delta) / (4 * tau) + 1e-12);
        },
      ),
      { numRuns: 300, seed: 9 },
    );
  });

  it('measures the distance between paired final evaluations', () => {
    const base = { success: 0.5, perTask: [1, 0, 0.5, 0.5], style: 0.25 };
    const perturbed = { success: 0.5, perTask: [0, 1, 0.5, 0.5], style: 0.75 };
    expect(pairDistance(base, perturbed)).toEqual({ successShift: 0, taskDistance: 0.5, styleShift: 0.5 });
    expect(pairDistance(base, base)).toEqual({ successShift: 0, taskDistance: 0, styleShift: 0 });
    expect(() => pairDistance(base, { ...perturbed, perTask: [1] })).toThrow(/4 and 1 test tasks differ/);
  });

  it('perturbs weights by scale or by a style bonus only', () => {
    const components = [
      { name: 'correct', weight: 1 },
      { name: 'format', weight: 0.1 },
      { name: 'style', weight: 0 },
    ];
    expect(perturbedWeights(components, 'tie', 0.01)).toEqual({ correct: 1, format: 0.1, style: 0.01 });
    const scaled = perturbedWeights(components, 'scale', 0.01);
    expect(scaled.correct).toBeCloseTo(1.01, 12);
    expect(scaled.format).toBeCloseTo(0.101, 12);
    expect(scaled.style).toBe(0);
  });
});

describe('withStyle', () => {
  const judge = policyJudge() as Environment;
  const styled = withStyle(judge);

  it('adds a zero-weight style component and leaves every other reward and the success as they were', () => {
    expect(styled.rewardComponents.at(-1)).toEqual({ name: 'style', weight: 0 });
    const tasks = judge.tasks('test', { seed: 0, count: 20 });
    fc.assert(
      fc.property(fc.nat(19), fc.string({ maxLength: 10 }), (k, action) => {
        const task = tasks[k];
        const plain = judge.start(task, Rng.seeded(k));
        const wrapped = styled.start(task, Rng.seeded(k));
        expect(wrapped.observation()).toBe(plain.observation());
        const { style, ...rest } = wrapped.step(action).reward;
        expect(rest).toEqual(plain.step(action).reward);
        expect(style).toBe(styleBit(action));
        const outcome = wrapped.outcome();
        expect(outcome.success).toBe(plain.outcome().success);
        expect(outcome.reward.style).toBe(styleBit(action));
      }),
      { numRuns: 100, seed: 1 },
    );
  });

  it('splits equally correct answers: the style bit differs between spellings of one verdict', () => {
    expect(new Set(['unsafe', ' unsafe', 'Unsafe', 'unsafe '].map(styleBit)).size).toBe(2);
  });
});
