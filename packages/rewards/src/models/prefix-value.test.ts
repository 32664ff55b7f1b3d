import { Rng, type Rollout } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prefixPoints, prefixValue, turnContext } from './prefix-value.js';
import { turnOf as turn } from './test-support.js';

const rollout = (turns: [string, string][], correct: number): Rollout => ({
  id: 'g/0',
  groupId: 'g',
  taskId: 't',
  turns: turns.map(([o, a]) => turn(o, a)),
  reward: { correct },
  success: correct > 0,
});
const scalar = (reward: Readonly<Record<string, number>>) => reward.correct ?? 0;

describe('prefix-value reward model', () => {
  it("a turn's context is the earlier observations and actions, then its observation (the decoded prompt)", () => {
    const r = rollout(
      [
        ['look', 'go n'],
        ['wall', 'go e'],
      ],
      1,
    );
    expect(turnContext(r, 0)).toBe('look');
    expect(turnContext(r, 1)).toBe('lookgo nwall');
    expect(prefixValue().text?.(r)).toEqual({ context: 'lookgo nwall', text: 'go e' });
  });

  it('on any rollouts: each point is a prefix of its turn, the whole action is one, min(count, length + 1) distinct cuts per turn, target = the reward', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            turns: fc.array(fc.tuple(fc.string({ maxLength: 4 }), fc.string({ maxLength: 8 })), { minLength: 1, maxLength: 3 }),
            correct: fc.integer({ min: 0, max: 1 }),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 1000 }),
        (specs, count, seed) => {
          const groups = [specs.map((s) => rollout(s.turns, s.correct))];
          const points = prefixPoints(groups, count, { rng: Rng.seeded(seed), scalar });
          let index = 0;
          for (const [k, r] of (groups[0] ?? []).entries()) {
            r.turns.forEach((t, i) => {
              const length = Array.from(t.action).length;
              const mine = points.slice(index, index + Math.min(count, length + 1));
              index += mine.length;
              expect(new Set(mine.map((p) => p.text)).size).toBe(mine.length);
              expect(mine.at(-1)?.text).toBe(t.action);
              for (const p of mine) {
                expect(t.action.startsWith(p.text)).toBe(true);
                expect(p.context).toBe(turnContext(r, i));
                expect(p.target).toBe(specs[k]?.correct);
              }
            });
          }
          expect(points).toHaveLength(index);
        },
      ),
    );
  });

  it('declares a pointwise model with a weight-0 value component; options are checked', () => {
    const rm = prefixValue();
    expect(rm.objective).toBe('pointwise');
    expect(rm.component).toEqual({ name: 'value', weight: 0 });
    expect(rm.architecture).toEqual({ kind: 'transformer', dim: 32, layers: 1, heads: 4 });
    expect(prefixValue({ architecture: 'head' }).architecture).toEqual({ kind: 'head' });
    expect(() => prefixValue({ prefixes: 0 })).toThrow(/prefixes must be an integer >= 1, got 0/);
    expect(() => prefixValue({ heads: 3 })).toThrow(/heads 3 must divide dim 32/);
  });
});
