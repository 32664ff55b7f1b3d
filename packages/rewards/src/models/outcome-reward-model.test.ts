import { Rng, type Rollout } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { outcomePairs, outcomeRewardModel } from './outcome-reward-model.js';
import { turnOf } from './test-support.js';

const rollout = (id: string, success: boolean, action: string): Rollout => ({
  id,
  groupId: id.split('/')[0] as string,
  taskId: 't',
  turns: [turnOf('make 7', action)],
  reward: { correct: success ? 1 : 0 },
  success,
});
const text = (r: Rollout) => ({ context: r.turns[0]?.observation ?? '', text: r.turns[0]?.action ?? '' });

describe('bt-outcome reward model', () => {
  it('pairs every succeeded rollout with every failed one of the same group, never across groups', () => {
    const groups = [
      [rollout('a/0', true, '3+4'), rollout('a/1', false, '3-4'), rollout('a/2', false, '3*4')],
      [rollout('b/0', true, '7'), rollout('b/1', true, '1+6')],
    ];
    const pairs = outcomePairs(groups, text, 16, { rng: Rng.seeded(1) });
    const byRejected = (a: { rejected: string }, b: { rejected: string }) => a.rejected.localeCompare(b.rejected);
    expect([...pairs].sort(byRejected)).toEqual([
      { context: 'make 7', chosen: '3+4', rejected: '3-4' },
      { context: 'make 7', chosen: '3+4', rejected: '3*4' },
    ]);
  });

  it('on any groups: pairs = sum over groups of min(cap, wins x losses), each chosen a success and each rejected a failure of its group', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 1000 }),
        (outcomes, cap, seed) => {
          const groups = outcomes.map((g, k) => g.map((s, i) => rollout(`g${k}/${i}`, s, `${s ? 'w' : 'l'}${k}.${i}`)));
          const pairs = outcomePairs(groups, text, cap, { rng: Rng.seeded(seed) });
          const expected = outcomes.reduce((a, g) => a + Math.min(cap, g.filter(Boolean).length * g.filter((s) => !s).length), 0);
          expect(pairs).toHaveLength(expected);
          for (const p of pairs) {
            expect(p.chosen.startsWith('w')).toBe(true);
            expect(p.rejected.startsWith('l')).toBe(true);
            expect(p.chosen.split('.')[0]?.slice(1)).toBe(p.rejected.split('.')[0]?.slice(1));
          }
          expect(new Set(pairs.map((p) => `${p.chosen}|${p.rejected}`)).size).toBe(pairs.length);
        },
      ),
    );
  });

  it('declares a Bradley-Terry transformer and a weight-0 component by default; options are checked', () => {
    const rm = outcomeRewardModel();
    expect(rm.objective).toBe('bradley-terry');
    expect(rm.architecture).toEqual({ kind: 'transformer', dim: 64, layers: 2, heads: 4 });
    expect(rm.replay).toEqual({ capacity: 8192, batch: 64 });
    expect(rm.component).toEqual({ name: 'rmScore', weight: 0 });
    expect(rm.configure?.({ weight: 0.5 })).toMatchObject({ component: { name: 'rmScore', weight: 0.5 } });
    expect(() => outcomeRewardModel({ heads: 3 })).toThrow(/heads 3 must divide dim 64/);
    expect(() => outcomeRewardModel({ learningRate: 0 })).toThrow(/learningRate must be > 0, got 0/);
    expect(outcomeRewardModel({ architecture: 'head' }).architecture).toEqual({ kind: 'head' });
    expect(() => outcomeRewardModel({ architecture: 'cnn' as never })).toThrow(
      /option 'architecture' must be one of transformer, head, got "cnn"/,
    );
  });
});
