import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { holmAdjust } from './holm.js';

describe('holmAdjust', () => {
  it("matches R's p.adjust(c(0.01, 0.04, 0.03, 0.005), 'holm') = 0.03 0.06 0.06 0.02", () => {
    const adjusted = holmAdjust([0.01, 0.04, 0.03, 0.005]);
    [0.03, 0.06, 0.06, 0.02].forEach((expected, i) => expect(adjusted[i]).toBeCloseTo(expected, 12));
  });

  it('caps at 1 and leaves a single test alone', () => {
    expect(holmAdjust([0.4, 0.5])).toEqual([0.8, 0.8]);
    expect(holmAdjust([0.3])).toEqual([0.3]);
    expect(holmAdjust([])).toEqual([]);
  });

  it('never lowers a p-value, stays in [0, 1] and keeps the order of the raw values', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 12 }), (p) => {
        const adjusted = holmAdjust(p);
        return p.every(
          (v, i) =>
            (adjusted[i] as number) >= v &&
            (adjusted[i] as number) <= 1 &&
            p.every((w, j) => !(v < w) || (adjusted[i] as number) <= (adjusted[j] as number)),
        );
      }),
    );
  });
});
