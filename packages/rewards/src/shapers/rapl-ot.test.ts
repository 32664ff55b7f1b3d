import { type Demonstration, Rng, type Rollout, type ShapeContext, type Turn } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sinkhorn, squaredDistances } from '../models/sinkhorn.js';
import { objectsNearby, raplOt, tripletOf, userScore } from './rapl-ot.js';

const turn = (observation: string): Turn => ({
  observation,
  action: '0',
  promptTokens: [1],
  actionTokens: [4],
  logprobs: [],
  reward: { won: 0 },
  valid: true,
  truncated: false,
});
const rollout = (groupId: string, index: number, observations: readonly string[], won = 0): Rollout => ({
  id: `${groupId}/${index}`,
  groupId,
  taskId: groupId,
  turns: observations.map(turn),
  reward: { won },
  success: won > 0,
});
const DEMO = [
  'goal red ball; t0; start; red ball f4',
  'goal red ball; t1; ok 0; red ball f3',
  'goal red ball; t2; ok 0; red ball f2',
];
const demo =
  (observations: readonly string[]) =>
  (groupId: string): Demonstration => ({
    taskId: groupId,
    turns: observations.map((observation) => ({ observation, action: '0', reward: { won: 0 } })),
    success: true,
  });
const ctx = (step: number, observations: readonly string[] = DEMO, over: Partial<ShapeContext> = {}): ShapeContext => ({
  rng: Rng.seeded(1).split(`s${step}`),
  step,
  weights: { won: 1, raplReward: 1 },
  components: ['won'],
  maxNewTokens: 4,
  demonstrations: { ofGroup: demo(observations), training: () => [] },
  ...over,
});
const words = fc.array(fc.constantFrom('red', 'ball', 'f1', 'f2', 'wall', 'ok', 'blue', 'box', 'l1', 'r2'), {
  minLength: 1,
  maxLength: 6,
});
const trajectory = fc.array(
  words.map((w) => w.join(' ')),
  { minLength: 1, maxLength: 6 },
);

describe('sinkhorn (log domain)', () => {
  it('the worked example: agent [0, 0.5, 1] against expert [0, 0.4, 1], eps 0.05, squared Euclidean: reward -<P, C> = -0.0062', () => {
    const result = sinkhorn(squaredDistances([[0], [0.5], [1]], [[0], [0.4], [1]]), { epsilon: 0.05 });
    expect(-result.cost).toBeCloseTo(-0.0062, 4);
    // The unregularised optimum is the identity matching, 0.1^2 / 3: entropy only adds to it.
    expect(result.cost).toBeGreaterThan(0.01 / 3);
  });

  it('the plan has the uniform marginals, and its row costs sum to its cost (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.double({ min: 0.02, max: 2, noNaN: true }),
        fc.array(fc.double({ min: 0, max: 4, noNaN: true }), { minLength: 36, maxLength: 36 }),
        (n, m, epsilon, values) => {
          const cost = Array.from({ length: n }, (_, i) => values.slice(i * 6, i * 6 + m));
          const result = sinkhorn(cost, { epsilon, iterations: 5000, tolerance: 1e-10 });
          // Columns are exact after the last update; rows meet the tolerance when converged, and
          // a nearly degenerate problem stopped at the cap is still within 1e-4.
          const rowError = Math.max(...result.plan.map((row) => Math.abs(row.reduce((a, b) => a + b, 0) - 1 / n)));
          expect(rowError).toBeLessThanOrEqual(result.converged ? 1e-10 : 1e-4);
          for (let j = 0; j < m; j++) expect(result.plan.reduce((a, row) => a + (row[j] as number), 0)).toBeCloseTo(1 / m, 12);
          expect(result.rowCosts.reduce((a, b) => a + b, 0)).toBeCloseTo(result.cost, 10);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('refuses an empty matrix and a non-positive epsilon', () => {
    expect(() => sinkhorn([], { epsilon: 1 })).toThrow(/non-empty cost matrix/);
    expect(() => sinkhorn([[1]], { epsilon: 0 })).toThrow(/epsilon must be > 0, got 0/);
  });
});

describe('rapl-ot', () => {
  it('per-turn rewards sum to the trajectory reward; the true components are 0 in training, kept in meta (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(trajectory, { minLength: 1, maxLength: 4 }), trajectory, (paths, anchor) => {
        const rollouts = paths.map((p, i) => rollout('g0', i, p, 1));
        const shaped = raplOt({ features: 64, dimension: 4, triplets: 0 }).shape(rollouts, ctx(0, anchor));
        for (const r of shaped) {
          const perTurn = r.turns.map((t) => t.reward.raplReward as number);
          expect(perTurn.reduce((a, b) => a + b, 0)).toBeCloseTo(r.reward.raplReward as number, 10);
          for (const v of perTurn) expect(v).toBeLessThanOrEqual(0);
          expect(r.reward.won).toBe(0);
          expect(r.meta?.unshapedReward).toEqual({ won: 1 });
        }
      }),
      { numRuns: 40 },
    );
  });

  it('the demonstration itself gets the largest reward, up to the entropy term 2 eps log n (fast-check)', () => {
    fc.assert(
      fc.property(trajectory, trajectory, fc.double({ min: 0.01, max: 0.5, noNaN: true }), (anchor, other, epsilon) => {
        const shaper = raplOt({ features: 64, dimension: 8, triplets: 0, epsilon });
        const [same, different] = shaper.shape([rollout('g0', 0, anchor), rollout('g0', 1, other)], ctx(0, anchor));
        const slack = 2 * epsilon * Math.log(anchor.length) + 1e-7;
        expect(same?.reward.raplReward as number).toBeGreaterThanOrEqual(-slack);
        expect(same?.reward.raplReward as number).toBeGreaterThanOrEqual((different?.reward.raplReward as number) - slack);
      }),
      { numRuns: 40 },
    );
  });

  it('gathers one triplet per group up to its budget, fits the encoder on them, and charges its work', () => {
    const shaper = raplOt({ triplets: 3, epochs: 2 });
    const charged: Record<string, number> = {};
    const logged: Record<string, number> = {};
    const charge = (c: Record<string, number | undefined>) => {
      for (const [k, v] of Object.entries(c)) charged[k] = (charged[k] ?? 0) + (v ?? 0);
    };
    const near = ['goal red ball; t0; start; blue box f1', 'goal red ball; t1; ok 0; blue box f0 r1'];
    const batch = ['g0', 'g1'].flatMap((g) => [rollout(g, 0, DEMO.slice(0, 2)), rollout(g, 1, near)]);
    shaper.shape(batch, ctx(0, DEMO, { charge, log: (k, v) => (logged[k] = v) }));
    expect(logged.triplets).toBe(2);
    expect(Number.isFinite(logged.loss)).toBe(true);
    shaper.shape(batch, ctx(1, DEMO, { charge, log: (k, v) => (logged[k] = v) }));
    expect(logged.triplets).toBe(3);
    expect(charged.auxScoredTokens).toBeGreaterThan(0);
    expect(charged.auxTrainedTokens).toBeGreaterThan(0);
  });

  it('saves its encoder and triplets; a restored copy scores as the original and saves the same state', () => {
    const shaper = raplOt({ triplets: 4, epochs: 3, features: 128 });
    const batch = ['g0', 'g1'].flatMap((g) => [rollout(g, 0, DEMO.slice(0, 2)), rollout(g, 1, ['wall f1', 'blue box f1'])]);
    expect(shaper.save?.()).toBeUndefined();
    shaper.shape(batch, ctx(0));
    const saved = JSON.parse(JSON.stringify(shaper.save?.()));
    const restored = raplOt({ triplets: 4, epochs: 3, features: 128 });
    restored.load?.(saved);
    expect(JSON.parse(JSON.stringify(restored.save?.()))).toEqual(saved);
    const probe = [rollout('g2', 0, ['red ball f3', 'blue box f1 r1'])];
    // Scoring at a later step (the resumed run's next) uses the restored encoder, not a fresh one.
    const a = shaper.shape(probe, ctx(1, DEMO, { rng: Rng.seeded(9) }))[0]?.reward.raplReward;
    const b = restored.shape(probe, ctx(1, DEMO, { rng: Rng.seeded(9) }))[0]?.reward.raplReward;
    expect(b).toBe(a);
    expect(b).not.toBe(raplOt({ triplets: 4, epochs: 3, features: 128 }).shape(probe, ctx(1))[0]?.reward.raplReward);
  });

  it('the simulated user: objects within one cell, in both gridnav renderings; walls and the goal line are not objects', () => {
    expect(objectsNearby('goal red ball; t1; ok 0; blue box f1 r1, wall f1')).toBe(1);
    expect(objectsNearby('goal red ball; t1; ok 0; blue box f2, red ball f0 l1, wall l1')).toBe(1);
    expect(objectsNearby('goal red ball; t0; start; wall f1, wall r1')).toBe(0);
    expect(objectsNearby('step 1/20. ok. you see a blue box 1 step forward and 1 step left.')).toBe(1);
    expect(objectsNearby('step 1/20. ok. you see a blue box 2 steps forward.')).toBe(0);
    const scored = userScore(rollout('g', 0, ['blue box f1', 'wall f1'], 1), ctx(0), 0.5);
    expect(scored).toBe(0.5);
    const group = [rollout('g', 0, ['x']), rollout('g', 1, ['y']), rollout('g', 2, ['z'])];
    expect(tripletOf(['a'], group, [0, 1, -1])).toEqual({ anchor: ['a'], preferred: ['y'], lessPreferred: ['z'] });
    expect(tripletOf(['a'], group, [1, 1, 1])).toBeUndefined();
  });

  it('refuses bad options and an environment without demonstrations', () => {
    expect(() => raplOt({ epsilon: 0 })).toThrow(/rapl-ot: option 'epsilon' must be > 0, got 0/);
    expect(() => raplOt().shape([rollout('g', 0, ['x'])], ctx(0, DEMO, { demonstrations: undefined }))).toThrow(
      /rapl-ot: the environment has no expert demonstrations/,
    );
  });
});
