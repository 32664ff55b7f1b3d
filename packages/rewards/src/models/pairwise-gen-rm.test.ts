import { PAIR_JOIN, Rng, type Rollout, weightedSum } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pairwiseGenRm, swappedPairPoints } from './pairwise-gen-rm.js';

const rollout = (group: number, i: number, answer: string, reward: number): Rollout => ({
  id: `g${group}/${i}`,
  groupId: `g${group}`,
  taskId: `t${group}`,
  turns: [
    {
      observation: `task ${group}`,
      action: answer,
      promptTokens: [],
      actionTokens: [],
      logprobs: [],
      reward: {},
      valid: true,
      truncated: false,
    },
  ],
  reward: { correct: reward },
  success: reward > 0,
});

const ctx = { rng: Rng.seeded(3), scalar: (r: Record<string, number>) => weightedSum(r, { correct: 1 }) };

describe('pairwise-gen-rm (Pairwise-RL)', () => {
  it('trains on every pair of different reward in both orders with opposite verdicts, never on ties (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 20 }),
        (rewards, cap) => {
          const groups = rewards.map((group, g) => group.map((r, i) => rollout(g, i, `answer ${i}`, r)));
          const points = swappedPairPoints(groups, cap, ctx);
          let expected = 0;
          for (const group of rewards) {
            let pairs = 0;
            for (let i = 0; i < group.length; i++) for (let j = i + 1; j < group.length; j++) if (group[i] !== group[j]) pairs++;
            expected += Math.min(cap, pairs);
          }
          expect(points).toHaveLength(2 * expected);
          for (let k = 0; k < points.length; k += 2) {
            const [shown, swapped] = [points[k], points[k + 1]] as const;
            if (!shown || !swapped) throw new Error('a point without its swap');
            const [context, first] = shown.context.split(PAIR_JOIN);
            expect(swapped.context).toBe(`${context}${PAIR_JOIN}${shown.text}`);
            expect(swapped.text).toBe(first);
            expect(swapped.target).toBe(1 - shown.target);
            // the verdict says whether the answer shown first earned more
            const g = Number(context?.split(' ')[1]);
            const rewardOf = (answer: string) => rewards[g]?.[Number(answer.split(' ')[1])] as number;
            expect(shown.target).toBe(rewardOf(first ?? '') > rewardOf(shown.text) ? 1 : 0);
            expect(rewardOf(first ?? '')).not.toBe(rewardOf(shown.text));
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('is a pairwise generative judge whose logged component scores a rollout against itself', () => {
    const model = pairwiseGenRm();
    expect(model).toMatchObject({ objective: 'generative', pairwise: true, component: { name: 'pairSelfLogit', weight: 0 } });
    const r = rollout(0, 0, '3+5', 1);
    expect(model.text?.(r)).toEqual({ context: `task 0${PAIR_JOIN}3+5`, text: '3+5' });
    expect(() => pairwiseGenRm({ maxPairsPerGroup: 0 })).toThrow(/maxPairsPerGroup must be an integer >= 1, got 0/);
  });
});
