import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contextWith, rolloutOf, scriptedServices } from '../model/test-support.js';
import { denseAdvantages, dpoImplicitDense, turnImplicitRewards } from './dpo-implicit-dense.js';
import { grpo } from './grpo.js';

describe('dpo-implicit-dense', () => {
  it("the reference note's example: token log-ratios [0.3, -0.1, 0.5] sum to the sequence implicit reward 0.7", () => {
    expect(turnImplicitRewards([0.3, -0.1, 0.5], [0, 0, 0], 1)).toBeCloseTo(0.7, 12);
    expect(turnImplicitRewards([-1, -2], [-1.5, -1], 0.1)).toBeCloseTo(0.1 * (0.5 - 1), 12);
  });

  it("per-turn implicit rewards telescope: a rollout's turn-0 return is its outcome plus coef x its whole sequence implicit reward", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            outcome: fc.double({ min: -2, max: 2, noNaN: true }),
            turns: fc.array(
              fc.array(fc.tuple(fc.double({ min: -5, max: 0, noNaN: true }), fc.double({ min: -5, max: 0, noNaN: true })), {
                maxLength: 5,
              }),
              {
                minLength: 1,
                maxLength: 4,
              },
            ),
          }),
          { minLength: 2, maxLength: 5 },
        ),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        (rollouts, beta) => {
          const implicit = rollouts.map((r) =>
            r.turns.map((turn) =>
              turnImplicitRewards(
                turn.map((x) => x[0]),
                turn.map((x) => x[1]),
                beta,
              ),
            ),
          );
          const sequence = rollouts.map((r) => beta * r.turns.flat().reduce((a, [p, q]) => a + p - q, 0));
          implicit.forEach((turns, i) => expect(turns.reduce((a, b) => a + b, 0)).toBeCloseTo(sequence[i] as number, 9));
          // The turn-0 advantage is that whole-episode return, normalised over the group.
          const advantages = denseAdvantages(
            rollouts.map((r) => r.outcome),
            implicit,
            1,
            0,
          );
          const returns = rollouts.map((r, i) => r.outcome + (sequence[i] as number));
          const m = returns.reduce((a, b) => a + b, 0) / returns.length;
          const sd = Math.sqrt(returns.reduce((a, x) => a + (x - m) ** 2, 0) / (returns.length - 1));
          if (sd > 1e-6) advantages.forEach((a, i) => expect(a[0]).toBeCloseTo(((returns[i] as number) - m) / sd, 6));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('coef 0 is GRPO; with coef > 0 the rollout whose tokens the DPO policy prefers gets the higher advantage at equal outcome', async () => {
    const groups = [
      [rolloutOf('g', 0, [['say', 'good']], 1), rolloutOf('g', 1, [['say', 'bad']], 1), rolloutOf('g', 2, [['say', 'meh']], 0)],
    ];
    // The DPO policy (teacher) likes 'good' by 0.5 a token over the reference, dislikes the rest by 0.2.
    const services = scriptedServices({
      score: (request, policy) =>
        Array.from(request.continuation, () => (policy === 'teacher' ? (request.continuation === 'good' ? -0.5 : -1.2) : -1)),
    });
    const ctx = contextWith(services);
    const plain = await grpo().compute(groups, ctx);
    const zero = await dpoImplicitDense({ coef: 0 }).compute(groups, ctx);
    zero.rollout[0]?.forEach((a, i) => expect(a).toBeCloseTo(plain.rollout[0]?.[i] as number, 9));
    const dense = await dpoImplicitDense({ beta: 0.5 }).compute(groups, ctx);
    expect(dense.rollout[0]?.[0]).toBeGreaterThan(dense.rollout[0]?.[1] as number);
    expect(services.scoreCalls.map((c) => c.policy)).toContain('teacher');
    expect(services.scoreCalls.map((c) => c.policy)).toContain('reference');
    expect(dense.diagnostics?.implicitRewardMean).toBeCloseTo((0.5 * 4 * 0.5 + 0.5 * 3 * -0.2 * 2) / 3, 9);
  });

  it('needs the model services and valid options, naming the bad value', async () => {
    await expect(
      Promise.resolve(
        dpoImplicitDense().compute([[rolloutOf('g', 0, [['a', 'b']], 1), rolloutOf('g', 1, [['a', 'c']], 0)]], contextWith()),
      ),
    ).rejects.toThrow(/needs the trainer's model services/);
    expect(() => dpoImplicitDense({ beta: 0 })).toThrow(/beta must be > 0, got 0/);
    expect(() => dpoImplicitDense({ coef: -1 })).toThrow(/coef must be >= 0, got -1/);
  });
});
