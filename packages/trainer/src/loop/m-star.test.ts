/**
 * M-STAR's exploration monitor and selection without a model: Reward-Pass@2 on the reference's
 * toy (three queries x four samples), the temperature following the monitor (fast-check), and the
 * selection of correct responses reranked by the reward model.
 */
import { type HookContext, Rng, type Rollout, type TrainConfig } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseTemperature, mstarEstimator, mstarTempBalancer, rewardPassAtK } from './m-star.js';

/** A query's responses: [correct?, reward-model score] each, in the order drawn. */
const group = (query: string, responses: readonly (readonly [boolean, number])[]): Rollout[] =>
  responses.map(([success, score], i) => ({
    id: `${query}/${i}`,
    groupId: query,
    taskId: query,
    turns: [],
    reward: { correct: success ? 1 : 0, rmScore: score },
    success,
  }));

// The toy: at T = 0.5 the third query's only correct response is ranked third by the reward model.
const TOY: Record<string, Rollout[][]> = {
  '0.5': [
    group('a', [
      [true, 0.9],
      [false, 0.5],
      [false, 0.4],
      [false, 0.1],
    ]),
    group('b', [
      [false, 0.8],
      [true, 0.7],
      [false, 0.2],
      [false, 0.1],
    ]),
    group('c', [
      [false, 0.9],
      [false, 0.8],
      [true, 0.3],
      [false, 0.2],
    ]),
  ],
  '1': [
    group('a', [
      [false, 0.6],
      [true, 0.5],
      [false, 0.4],
      [true, 0.1],
    ]),
    group('b', [
      [true, 0.8],
      [false, 0.7],
      [false, 0.2],
      [false, 0.1],
    ]),
    group('c', [
      [false, 0.3],
      [true, 0.9],
      [false, 0.8],
      [false, 0.2],
    ]),
  ],
};

/** A hook context whose `sample` answers from a table by temperature; logs and coefficients are recorded. */
function fakeContext(step: number, temperature: number, table: (t: number) => Rollout[][]) {
  const logged: Record<string, number> = {};
  const asked: number[] = [];
  const ctx: HookContext = {
    step,
    config: { seed: 1, temperature: 1 } as TrainConfig,
    rng: Rng.seeded(1),
    coefficients: { divergenceCoef: 0, entropyCoef: 0, temperature },
    resetReference: async () => {},
    drawTasks: (count) => Array.from({ length: count }, (_, i) => i),
    sample: async (_tasks, { temperature: t }) => {
      asked.push(t);
      return table(t);
    },
    log: (key, value) => {
      logged[key] = value;
    },
  };
  return { ctx, logged, asked };
}

describe('Reward-Pass@k', () => {
  it('the toy: T = 0.5 gives 0.667, T = 1.0 gives 1.0, and the monitor picks 1.0', async () => {
    expect(rewardPassAtK(TOY['0.5'] as Rollout[][], 2, 'rmScore')).toBeCloseTo(2 / 3, 12);
    expect(rewardPassAtK(TOY['1'] as Rollout[][], 2, 'rmScore')).toBe(1);
    // Without the reward model's ranking the first two drawn decide: the third query of T = 0.5 fails there too.
    expect(rewardPassAtK(TOY['0.5'] as Rollout[][], 2, '')).toBeCloseTo(2 / 3, 12);
    expect(rewardPassAtK(TOY['1'] as Rollout[][], 1, '')).toBeCloseTo(1 / 3, 12);
    const hook = mstarTempBalancer({ temperatures: [0.5, 1], probeTasks: 3, samples: 4 });
    const { ctx, logged, asked } = fakeContext(1, 0.7, (t) => TOY[String(t)] as Rollout[][]);
    await hook.onStepStart?.(ctx);
    expect(asked).toEqual([0.5, 1]);
    expect(ctx.coefficients.temperature).toBe(1);
    expect(logged.temperature).toBe(1);
    expect(logged['rewardPass@2.T0.5']).toBeCloseTo(0.667, 3);
    expect(logged['rewardPass@2.T1']).toBe(1);
  });

  it('a response set without the ranking component is an error naming it', () => {
    const bare = [group('a', [[true, 0]]).map((r) => ({ ...r, reward: { correct: 1 } }))];
    expect(() => rewardPassAtK(bare, 1, 'rmScore')).toThrow(/rmScore.*bt-outcome/);
  });

  it('property: the temperature moves in the direction the monitor says, and only between rounds', async () => {
    const grid = [0.5, 0.7, 0.9, 1.1];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 4, maxLength: 4 }),
        fc.constantFrom(...grid),
        async (passed, current) => {
          // Eight probe queries; at grid[i] the first passed[i] have a correct response ranked first.
          const table = (t: number) => {
            const p = passed[grid.indexOf(t)] as number;
            return Array.from({ length: 8 }, (_, q) =>
              group(`q${q}`, [
                [q < p, 0.9],
                [false, 0.5],
                [q < p, 0.1],
              ]),
            );
          };
          const hook = mstarTempBalancer({ temperatures: grid, probeTasks: 8, samples: 3, roundSteps: 3 });
          const { ctx, logged } = fakeContext(4, current, table);
          await hook.onStepStart?.(ctx);
          const chosen = ctx.coefficients.temperature as number;
          const measure = (t: number) => (passed[grid.indexOf(t)] as number) / 8;
          for (const t of grid) expect(logged[`rewardPass@2.T${t}`]).toBe(measure(t));
          const up = Math.max(-1, ...grid.filter((t) => t > current).map(measure));
          const down = Math.max(-1, ...grid.filter((t) => t < current).map(measure));
          const here = measure(current);
          if (up > Math.max(here, down)) expect(chosen).toBeGreaterThan(current);
          else if (down > Math.max(here, up)) expect(chosen).toBeLessThan(current);
          else if (here >= Math.max(up, down)) expect(chosen).toBe(current);
          expect(measure(chosen)).toBe(Math.max(...grid.map(measure)));
          // Inside a round (step 5 with rounds of 3 steps) nothing is probed and nothing moves.
          const inside = fakeContext(5, chosen, table);
          await hook.onStepStart?.(inside.ctx);
          expect(inside.asked).toEqual([]);
          expect(inside.ctx.coefficients.temperature).toBe(chosen);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('ties keep the temperature nearest the current one; nothing measured keeps the current one', () => {
    const flat = [0.5, 0.7, 0.9].map((temperature) => ({ temperature, rewardPass: 0.5 }));
    expect(chooseTemperature(flat, 0.9)).toBe(0.9);
    expect(chooseTemperature(flat, 0.6)).toBe(0.5);
    expect(chooseTemperature([], 0.8)).toBe(0.8);
  });

  it('a probe the budget refuses leaves the temperature where it was', async () => {
    const hook = mstarTempBalancer({ temperatures: [0.5, 1], probeTasks: 3, samples: 4 });
    const { ctx, logged } = fakeContext(1, 0.7, (t) => (t === 1 ? [] : (TOY['0.5'] as Rollout[][])));
    await hook.onStepStart?.(ctx);
    expect(ctx.coefficients.temperature).toBe(0.7);
    expect(logged.temperature).toBe(0.7);
  });
});

describe('m-star selection', () => {
  it('keeps the two correct responses the reward model ranks highest, weight and advantage 1', async () => {
    const groups = [
      group('a', [
        [true, 0.1],
        [false, 0.9],
        [true, 0.8],
        [true, 0.5],
      ]),
      group('b', [
        [false, 0.3],
        [false, 0.2],
        [false, 0.1],
        [true, -1],
      ]),
    ];
    const out = await mstarEstimator().compute(groups, { rng: Rng.seeded(1), weights: {}, scalar: () => 0 });
    expect(out.weights).toEqual([
      [0, 0, 1, 1],
      [0, 0, 0, 1],
    ]);
    expect(out.rollout).toEqual(out.weights);
    const all = await mstarEstimator({ keep: 0 }).compute(groups, { rng: Rng.seeded(1), weights: {}, scalar: () => 0 });
    expect(all.weights[0]).toEqual([1, 0, 1, 1]);
    expect(out.diagnostics).toEqual({ keptResponses: 3, correctFraction: 4 / 8 });
  });
});
