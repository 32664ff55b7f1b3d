import { type Demonstration, type Demonstrations, Rng, type Rollout, type ShapeContext, type Turn } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dopaminePbrs } from './dopamine.js';

/** A corridor of cells 0..L: the state text names the cell and the goal; the expert walks right. */
const cellText = (cell: number, goal: number) => `at cell c${cell} goal c${goal}`;
const turn = (observation: string, won: number): Turn => ({
  observation,
  action: 'r',
  promptTokens: [1],
  actionTokens: [4],
  logprobs: [],
  reward: { won },
  valid: true,
  truncated: false,
});
const walk = (cells: readonly number[], goal: number, groupId: string, index: number): Rollout => {
  const won = cells[cells.length - 1] === goal - 1 ? 1 : 0;
  return {
    id: `${groupId}/${index}`,
    groupId,
    taskId: `goal${goal}`,
    turns: cells.map((c, k) => turn(cellText(c, goal), k === cells.length - 1 ? won : 0)),
    reward: { won },
    success: won === 1,
  };
};
const expert = (goal: number): Demonstration => ({
  taskId: `goal${goal}`,
  turns: Array.from({ length: goal }, (_, k) => ({
    observation: cellText(k, goal),
    action: 'r',
    reward: { won: k === goal - 1 ? 1 : 0 },
  })),
  success: true,
});
const demonstrations = (goals: readonly number[]): Demonstrations => ({
  ofGroup: (groupId) => expert(Number(groupId.slice(1))),
  training: (count) => Array.from({ length: count }, (_, k) => expert(goals[k % goals.length] as number)),
});
const ctx = (over: Partial<ShapeContext> = {}): ShapeContext => ({
  rng: Rng.seeded(1),
  step: 0,
  weights: { won: 1, shaping: 1 },
  components: ['won'],
  maxNewTokens: 4,
  demonstrations: demonstrations([5, 6, 7, 8]),
  ...over,
});
const discounted = (r: Rollout, gamma: number, key: string) =>
  r.turns.reduce((sum, t, k) => sum + gamma ** k * ((t.reward[key] as number | undefined) ?? 0), 0);

describe('dopamine-pbrs', () => {
  it('per rollout, the discounted shaping telescopes to -Phi(s_0), so returns from one start keep their order (fast-check)', () => {
    const shaper = dopaminePbrs({ pretrainTasks: 8, pretrainEpochs: 4, hidden: 8, features: 64 });
    fc.assert(
      fc.property(
        fc.double({ min: 0.5, max: 1, noNaN: true }),
        fc.array(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 8 }), { minLength: 2, maxLength: 6 }),
        (gamma, paths) => {
          const rollouts = paths.map((cells, i) => walk([0, ...cells], 6, 'g6', i));
          const shaped = shaper.shape(rollouts, ctx({ gamma }));
          const start = shaped.map((r) => discounted(r, gamma, 'shaping'));
          for (const s of start) expect(s).toBeCloseTo(start[0] as number, 9);
          expect(start[0]).toBeLessThanOrEqual(0);
          expect(start[0]).toBeGreaterThanOrEqual(-1);
          const before = rollouts.map((r) => discounted(r, gamma, 'won'));
          const after = shaped.map((r) => discounted(r, gamma, 'won') + discounted(r, gamma, 'shaping'));
          for (let i = 0; i < before.length; i++)
            for (let j = 0; j < before.length; j++)
              if ((before[i] as number) > (before[j] as number) + 1e-12) expect(after[i]).toBeGreaterThan(after[j] as number);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("uses the run's gamma unless given one, and learns progress: a step towards the goal earns a positive shaping term", () => {
    const rollouts = [walk([0, 1, 2, 3], 8, 'g8', 0)];
    const small = { pretrainTasks: 32 };
    const run = dopaminePbrs(small).shape(rollouts, ctx({ gamma: 0.9 }));
    const fixed = dopaminePbrs({ ...small, gamma: 1 }).shape(rollouts, ctx({ gamma: 0.9 }));
    const terms = (r: Rollout) => r.turns.map((t) => t.reward.shaping as number);
    expect(terms(run[0] as Rollout)).not.toEqual(terms(fixed[0] as Rollout));
    // Phi rises along the corridor, so every non-final forward step's term is positive at gamma 1.
    for (const term of terms(fixed[0] as Rollout).slice(0, -1)) expect(term).toBeGreaterThan(0);
  });

  it('charges what the progress model reads and trains, logs the pre-training, and refuses a run without demonstrations', () => {
    const charged: Record<string, number> = {};
    const logged: Record<string, number> = {};
    const c = ctx({
      charge: (cost) => {
        for (const [k, v] of Object.entries(cost)) charged[k] = (charged[k] ?? 0) + (v as number);
      },
      log: (k, v) => {
        logged[k] = v;
      },
    });
    dopaminePbrs({ pretrainTasks: 4 }).shape([walk([0, 1], 5, 'g5', 0)], c);
    expect(charged.auxScoredTokens).toBe(cellText(0, 5).length + cellText(1, 5).length);
    expect(charged.auxTrainedTokens).toBeGreaterThan(0);
    expect(logged.pretrainStates).toBe(5 + 6 + 7 + 8);
    const { demonstrations: _, ...bare } = c;
    expect(() => dopaminePbrs().shape([walk([0], 5, 'g5', 0)], bare)).toThrow(/no expert demonstrations/);
    expect(() => dopaminePbrs({ gamma: 2 })).toThrow(/'gamma' must be in \[0, 1\], got 2/);
  });
});
