import { type Demonstration, Rng, type Rollout, type ShapeContext } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LrmJudge, stateTrace } from '../models/lrm-judge.js';
import { turnOf } from '../models/test-support.js';
import { judgeTurns, lrmTriple, lrmTurnReward } from './lrm-triple.js';

/** A corridor: the observation names the cell and the goal; the expert walks right to the goal. */
const cellText = (cell: number, goal: number) => `at cell c${cell} of ${goal} cells`;
const walk = (cells: readonly number[], goal: number, id: string, success: boolean): Rollout => ({
  id: `${id}/0`,
  groupId: id,
  taskId: `goal${goal}`,
  turns: cells.map((c) => ({ ...turnOf(cellText(c, goal), 'right'), reward: { won: 0 } })),
  reward: { won: success ? 1 : 0 },
  success,
});
const expert = (goal: number): Demonstration => ({
  taskId: `goal${goal}`,
  turns: Array.from({ length: goal }, (_, k) => ({ observation: cellText(k, goal), action: 'right', reward: { won: 0 } })),
  success: true,
});
const ctx = (log?: (key: string, value: number) => void, charged?: number[]): ShapeContext => ({
  rng: Rng.seeded(1),
  step: 1,
  weights: { won: 1, lrmContrastive: 0.5, lrmProgress: 0.3, lrmCompletion: 0.2 },
  components: ['won'],
  maxNewTokens: 4,
  demonstrations: {
    ofGroup: () => undefined,
    training: (count) => Array.from({ length: count }, (_, k) => expert(4 + (k % 4))),
  },
  ...(log ? { log } : {}),
  ...(charged ? { charge: (c) => charged.push(c.auxScoredTokens ?? 0) } : {}),
});

describe('lrm-triple', () => {
  it('the worked example: weights (0.5, 0.3, 0.2) and terms (0.6, 0, 1) give r = 0.5', () => {
    expect(
      lrmTurnReward({ contrastive: 0.6, progressGain: 0, completion: 1 }, { contrastive: 0.5, progress: 0.3, completion: 0.2 }),
    ).toBeCloseTo(0.5, 12);
  });

  it('the contrastive term is antisymmetric under swapping the two states, and 0 for one state (fast-check)', () => {
    const judge = new LrmJudge({ features: 64, hidden: 8, learningRate: 0.01, seed: 't' });
    judge.train([stateTrace(expert(5).turns)], { epochs: 3, batch: 4, span: 2, rng: Rng.seeded(2) });
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), fc.string({ maxLength: 30 }), (a, b) => {
        expect(judge.contrastive(a, b)).toBeCloseTo(-judge.contrastive(b, a), 12);
        expect(Math.abs(judge.contrastive(a, b))).toBeLessThanOrEqual(1);
        expect(judge.contrastive(a, a)).toBe(0);
      }),
    );
  });

  it('per turn: the three terms are the turn’s components, the totals their sums, the true reward 0, the reading charged', () => {
    const shaper = lrmTriple({ pretrainTasks: 16, pretrainEpochs: 20, hidden: 8, features: 256 });
    const logged: Record<string, number> = {};
    const charged: number[] = [];
    const rollouts = [walk([0, 1, 2, 3, 4], 6, 'g1', true), walk([0, 1, 0, 1], 6, 'g2', false)];
    const shaped = shaper.shape(
      rollouts,
      ctx((k, v) => (logged[k] = v), charged),
    );
    const fresh = lrmTriple({ pretrainTasks: 16, pretrainEpochs: 20, hidden: 8, features: 256 });
    fresh.shape(rollouts, ctx());
    const judge = new LrmJudge({ features: 256, hidden: 8, learningRate: 0.01, seed: 'lrm-triple' });
    const saved = fresh.save?.() as { model: unknown } | undefined;
    judge.load(saved?.model);
    let read = 0;
    shaped.forEach((r, i) => {
      const expected = judgeTurns(judge, (rollouts[i] as Rollout).turns);
      read += expected.characters;
      expect(r.reward.won).toBe(0);
      r.turns.forEach((t, k) => {
        const term = expected.terms[k] as (typeof expected.terms)[number];
        expect(t.reward).toEqual({
          won: 0,
          lrmContrastive: term.contrastive,
          lrmProgress: term.progressGain,
          lrmCompletion: term.completion,
        });
      });
      for (const name of ['lrmContrastive', 'lrmProgress', 'lrmCompletion'])
        expect(r.reward[name]).toBeCloseTo(
          r.turns.reduce((s, t) => s + (t.reward[name] as number), 0),
          12,
        );
      // Progress gains telescope to p(last state) - p(first observation).
      const states = stateTrace((rollouts[i] as Rollout).turns);
      expect(r.reward.lrmProgress).toBeCloseTo(
        judge.progress(states[states.length - 1] as string) - judge.progress(states[0] as string),
        12,
      );
    });
    expect(charged).toEqual([read]);
    expect(logged.scoredTokens).toBe(read);
    expect(logged.turns).toBe(9);
    expect(logged.pretrainTraces).toBe(16);
    for (const key of ['contrastiveMean', 'progressMean', 'completionMean']) expect(Number.isFinite(logged[key])).toBe(true);
  });

  it('refuses bad options (exit 2) and environments without an expert', () => {
    expect(() => lrmTriple({ span: 0 })).toThrow(/option 'span' must be >= 1, got 0/);
    const { demonstrations: _, ...without } = ctx();
    expect(() => lrmTriple().shape([walk([0], 3, 'g', false)], without)).toThrow(/no expert demonstrations/);
  });
});
