import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type QPath, qSoftmax, uniformQ } from './rover-q.js';

/** Every token sequence of length `depth` over `vocabulary` tokens (the leaves of a full tree). */
function leaves(vocabulary: number, depth: number): number[][] {
  let out: number[][] = [[]];
  for (let d = 0; d < depth; d++) out = out.flatMap((prefix) => Array.from({ length: vocabulary }, (_, a) => [...prefix, a]));
  return out;
}

const pathOf = (tokens: readonly number[], reward: number): QPath => ({
  steps: tokens.map((action, t) => ({ state: tokens.slice(0, t).join(','), action })),
  reward,
});

describe('uniform-policy Q regressed from rollouts', () => {
  it('on a tiny tree of tokens, every rollout once, matches the closed form of uniform-policy valuation', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 27, maxLength: 27 }),
        (vocabulary, depth, table) => {
          const all = leaves(vocabulary, depth);
          const raw = all.map((_, i) => table[i] as number);
          const mean = raw.reduce((a, b) => a + b, 0) / raw.length;
          const centred = raw.map((r) => r - mean);
          const fitted = uniformQ(
            all.map((tokens, i) => pathOf(tokens, centred[i] as number)),
            vocabulary,
          );
          // Closed form: Q(s_t, a_t) = E over uniform continuations of the target summed from t to the
          // end, i.e. (depth - t) x the mean centred reward of the leaves below (s_t, a_t), each
          // continuation weighing vocabulary^-(depth - t - 1).
          for (let t = 0; t < depth; t++)
            for (const prefix of leaves(vocabulary, t + 1)) {
              let expected = 0;
              all.forEach((leaf, i) => {
                if (leaf.slice(0, t + 1).join(',') !== prefix.join(',')) return;
                expected += (depth - t) * (centred[i] as number) * vocabulary ** -(depth - t - 1);
              });
              const q = fitted.q.get(prefix.slice(0, t).join(','))?.get(prefix[t] as number);
              expect(q).toBeCloseTo(expected, 9);
            }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('with binary rewards, the action of largest uniform Q leads to a success whenever one is reachable (the paper’s claim)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.boolean(), { minLength: 27, maxLength: 27 }),
        (vocabulary, depth, wins) => {
          const all = leaves(vocabulary, depth);
          const raw = all.map((_, i) => (wins[i] ? 1 : 0));
          const { q } = uniformQ(
            all.map((tokens, i) => pathOf(tokens, raw[i] as number)),
            vocabulary,
          );
          // Greedy descent over Q from the root.
          let state: number[] = [];
          for (let t = 0; t < depth; t++) {
            const row = q.get(state.join(',')) as Map<number, number>;
            const best = [...row.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0] as number;
            state = [...state, best];
          }
          const reached = raw[all.findIndex((leaf) => leaf.join(',') === state.join(','))];
          expect(reached).toBe(raw.some((r) => r === 1) ? 1 : 0);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('hand-computed, partial coverage: actions no rollout took count 0 in the vocabulary mean', () => {
    // Vocabulary of 4; rollouts "0 1" (r 1) and "0 2" (r -1) share the state after "0".
    const fitted = uniformQ([pathOf([0, 1], 1), pathOf([0, 2], -1)], 4);
    expect(fitted.q.get('0')?.get(1)).toBe(1);
    expect(fitted.q.get('0')?.get(2)).toBe(-1);
    // mean over 4 tokens of Q(after "0", .) = (1 - 1 + 0 + 0) / 4 = 0: each first token's target is its own r~
    expect(fitted.targets).toEqual([
      [1, 1],
      [-1, -1],
    ]);
    // a third rollout "0 1" with r 1 moves the next-state mean to (1 + -1) / 4 still 0; "0 3" with 3 moves it to 3/4
    const more = uniformQ([pathOf([0, 1], 1), pathOf([0, 2], -1), pathOf([0, 3], 3)], 4);
    expect(more.bootstraps.map((b) => b[0])).toEqual([0.75, 0.75, 0.75]);
    expect(more.q.get('')?.get(0)).toBeCloseTo((1 + -1 + 3) / 3 + 0.75, 12);
    expect(() => uniformQ([], 0)).toThrow(/at least 1 token, got 0/);
  });

  it('sampling by a softmax over Q: a distribution that keeps the order of Q, sharper at a lower temperature', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 2, maxLength: 6 }),
        fc.double({ min: 0.1, max: 5, noNaN: true }),
        (values, temperature) => {
          const p = qSoftmax(values, temperature);
          expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
          const best = values.indexOf(Math.max(...values));
          expect(Math.max(...p)).toBe(p[best]);
          const colder = qSoftmax(values, temperature / 2);
          expect(colder[best]).toBeGreaterThanOrEqual((p[best] as number) - 1e-12);
          p.forEach((x, i) =>
            expect(x).toBeCloseTo(
              Math.exp((values[i] as number) / temperature) / values.reduce((a, v) => a + Math.exp(v / temperature), 0),
              9,
            ),
          );
        },
      ),
    );
    expect(() => qSoftmax([0], 0)).toThrow(/temperature must be > 0/);
  });
});
