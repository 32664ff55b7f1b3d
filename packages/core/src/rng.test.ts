import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rng } from './rng.js';

const draws = (rng: Rng, n: number) => Array.from({ length: n }, () => rng.next());

describe('Rng', () => {
  it('gives the same stream for the same seed and different streams for different seeds', () => {
    expect(draws(Rng.seeded(7), 5)).toEqual(draws(Rng.seeded(7), 5));
    expect(draws(Rng.seeded(7), 5)).not.toEqual(draws(Rng.seeded(8), 5));
  });

  it('splits by purpose independently of how much the parent drew', () => {
    const a = Rng.seeded(1);
    const b = Rng.seeded(1);
    draws(b, 100);
    expect(draws(a.split('decode'), 4)).toEqual(draws(b.split('decode'), 4));
    expect(draws(a.split('decode'), 4)).not.toEqual(draws(a.split('tasks'), 4));
  });

  it('continues exactly from a saved state', () => {
    const rng = Rng.seeded(42).split('x');
    draws(rng, 13);
    const saved = JSON.parse(JSON.stringify(rng.state()));
    const expected = draws(rng, 10);
    expect(draws(Rng.fromState(saved), 10)).toEqual(expected);
  });

  it('draws uniform floats in [0, 1) and integers within bounds', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: -50, max: 50 }), fc.integer({ min: 0, max: 50 }), (seed, from, span) => {
        const rng = Rng.seeded(seed);
        const x = rng.next();
        const k = rng.int(from, from + span);
        return x >= 0 && x < 1 && Number.isInteger(k) && k >= from && k <= from + span;
      }),
    );
  });

  it('shuffles into a permutation and picks categorical indices with non-zero weight', () => {
    fc.assert(
      fc.property(fc.integer(), fc.array(fc.integer(), { maxLength: 30 }), (seed, items) => {
        const shuffled = Rng.seeded(seed).shuffle(items);
        return JSON.stringify([...shuffled].sort()) === JSON.stringify([...items].sort());
      }),
    );
    const rng = Rng.seeded(3);
    for (let i = 0; i < 200; i++) expect([1, 3]).toContain(rng.categorical([0, 2, 0, 5]));
  });

  it('matches the expected frequencies of a categorical draw', () => {
    const rng = Rng.seeded(11);
    const counts = [0, 0, 0];
    for (let i = 0; i < 30_000; i++) counts[rng.categorical([1, 2, 7])]! += 1;
    expect(counts[0]! / 30_000).toBeCloseTo(0.1, 1);
    expect(counts[2]! / 30_000).toBeCloseTo(0.7, 1);
  });

  it('rejects bad seeds and states with a clear error', () => {
    expect(() => Rng.seeded(1.5)).toThrow(/safe integer/);
    expect(() => Rng.fromState({ algorithm: 'nope' } as never)).toThrow(/not an Rng state/);
  });
});
