import { describe, expect, it } from 'vitest';
import { collapsedRewardVectors, phantomAdvantages, signFlips, zeroAdvantageFraction } from './diagnostics.js';

describe('advantage diagnostics (hand-computed)', () => {
  it('counts zero advantages among trained rollouts only', () => {
    expect(zeroAdvantageFraction([[0, 1, -1, 0]])).toBe(0.5);
    expect(zeroAdvantageFraction([[0, 1, -1, 0]], [[0, 1, 1, 1]])).toBeCloseTo(1 / 3, 12);
  });

  it('counts sign flips against a many-rollout baseline, skipping zero signs', () => {
    // baseline 0.5: rewards [1, 0, 0.5] -> reference signs [+, -, 0]; advantages [+, +, -]
    expect(signFlips([[0.3, 0.2, -0.1]], [[1, 0, 0.5]], [0.5])).toBe(0.5);
  });

  it('counts distinct reward vectors collapsed to one advantage (GDPO argument)', () => {
    // (1,0) and (0,1) differ but share an advantage; (1,0) vs (1,1) do not
    expect(
      collapsedRewardVectors(
        [[0.5, 0.5, 1]],
        [
          [
            { a: 1, b: 0 },
            { a: 0, b: 1 },
            { a: 1, b: 1 },
          ],
        ],
      ),
    ).toBeCloseTo(1 / 3, 12);
    expect(collapsedRewardVectors([[0, 0]], [[{ a: 1 }, { a: 1 }]])).toBe(0);
  });

  it('counts phantom advantages in groups whose unshaped rewards are all equal', () => {
    expect(
      phantomAdvantages(
        [
          [0.1, -0.1],
          [0.2, -0.2],
        ],
        [
          [1, 1],
          [0, 1],
        ],
      ),
    ).toBe(2);
  });
});
