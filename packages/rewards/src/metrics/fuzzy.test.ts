import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tokenSetRatio } from './fuzzy.js';

describe('tokenSetRatio (fuzzball, thefuzz semantics)', () => {
  it('scores set overlap regardless of order and duplicates', () => {
    expect(tokenSetRatio('fuzzy wuzzy was a bear', 'wuzzy fuzzy was a bear')).toBe(100);
    expect(tokenSetRatio('red cotton shirt', 'shirt, red')).toBe(100); // one set contains the other
    expect(tokenSetRatio('blue jeans', 'red shirt')).toBeLessThan(50);
  });

  it('stays in [0, 100] and is symmetric (fast-check)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), fc.string({ maxLength: 30 }), (a, b) => {
        const s = tokenSetRatio(a, b);
        expect(s >= 0 && s <= 100).toBe(true);
        expect(tokenSetRatio(b, a)).toBe(s);
      }),
    );
  });
});
