import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BOUND_KINDS,
  binomialUpperTail,
  certifiedRadius,
  certify,
  clopperPearsonLower,
  hoeffdingLower,
  smoothingDistance,
} from './certificate.js';

describe('smoothing certificate (closed forms)', () => {
  it('the distance is 1 - rate^radius', () => {
    expect(smoothingDistance(0.5, 1)).toBe(0.5);
    expect(smoothingDistance(0.9, 2)).toBeCloseTo(0.19, 12);
    expect(smoothingDistance(0.3, 0)).toBe(0);
    expect(smoothingDistance(0, 3)).toBe(1);
  });

  it('Clopper-Pearson: alpha^(1/n) at s = n, 0 at s = 0, and the tail equals alpha at the bound', () => {
    expect(clopperPearsonLower(20, 20, 0.95)).toBeCloseTo(0.05 ** (1 / 20), 12);
    expect(clopperPearsonLower(0, 20, 0.95)).toBe(0);
    // n = 10, s = 7 at 95%: the exact one-sided bound is 0.393376 (the Beta(7, 4) 5% quantile, scipy beta.ppf)
    expect(clopperPearsonLower(7, 10, 0.95)).toBeCloseTo(0.393376, 6);
    expect(binomialUpperTail(10, 7, clopperPearsonLower(7, 10, 0.95))).toBeCloseTo(0.05, 8);
    // P(Bin(3, 1/2) >= 2) = 1/2
    expect(binomialUpperTail(3, 2, 0.5)).toBeCloseTo(0.5, 12);
  });

  it('Hoeffding: mean - (max - min) sqrt(ln(1/alpha) / 2n)', () => {
    expect(hoeffdingLower(0.8, 200, 0.99)).toBeCloseTo(0.8 - Math.sqrt(Math.log(100) / 400), 12);
    expect(hoeffdingLower(0.05, 10, 0.99)).toBe(0);
    expect(hoeffdingLower(0.5, 100, 0.9, -1, 1)).toBeCloseTo(0.5 - 2 * Math.sqrt(Math.log(10) / 200), 12);
  });

  it('certifies the clean lower bound minus the distance, and the radius it holds for', () => {
    const values = Array.from({ length: 100 }, (_, k) => (k < 90 ? 1 : 0));
    const c = certify(values, { rate: 0.9, radius: 1, confidence: 0.99, bound: 'clopper-pearson' });
    expect(c.mean).toBe(0.9);
    expect(c.certified).toBeCloseTo(c.cleanLower - 0.1, 12);
    expect(certifiedRadius(0.8, 0.9, 0.5)).toBe(3); // 0.8 - (1 - 0.9^3) = 0.529 >= 0.5; radius 4 gives 0.456
    // below the threshold at radius 0 already: no radius is certified, not even 0
    expect(certifiedRadius(0.4, 0.9, 0.5)).toBe(-1);
    expect(certifiedRadius(0.5, 0, 0.5)).toBe(0);
    expect(() => certify([0.5], { rate: 0.9, radius: 1, confidence: 0.9, bound: 'clopper-pearson' })).toThrow(/0\/1 values/);
  });
});

describe('smoothing certificate (properties)', () => {
  const confidence = fc.double({ min: 0.5, max: 0.999, noNaN: true });

  it('never exceeds the empirical mean, for either bound and any radius', () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 300 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.nat(20),
        confidence,
        fc.constantFrom(...BOUND_KINDS),
        (outcomes, rate, radius, level, bound) => {
          const c = certify(
            outcomes.map((o) => (o ? 1 : 0)),
            { rate, radius, confidence: level, bound },
          );
          expect(c.cleanLower).toBeLessThanOrEqual(c.mean + 1e-12);
          expect(c.certified).toBeLessThanOrEqual(c.cleanLower + 1e-12);
          expect(c.certified).toBeGreaterThanOrEqual(0);
        },
      ),
      { numRuns: 200, seed: 4 },
    );
  });

  it('tightens with N: k times the episodes at the same mean give a bound at least as high', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 2, max: 6 }),
        confidence,
        fc.constantFrom(...BOUND_KINDS),
        (n, s0, k, level, bound) => {
          const s = Math.min(s0, n);
          const values = (m: number) => Array.from({ length: m * n }, (_, i) => (i < m * s ? 1 : 0));
          const small = certify(values(1), { rate: 0.9, radius: 1, confidence: level, bound });
          const large = certify(values(k), { rate: 0.9, radius: 1, confidence: level, bound });
          expect(large.cleanLower).toBeGreaterThanOrEqual(small.cleanLower - 1e-9);
          expect(large.certified).toBeGreaterThanOrEqual(small.certified - 1e-9);
        },
      ),
      { numRuns: 150, seed: 8 },
    );
  });

  it('covers: the Clopper-Pearson bound is below the true p in at least its confidence share of draws', () => {
    // Binomial(60, 0.7) draws from a fixed generator: the bound must fail in at most ~5% of them.
    let state = 12345;
    const uniform = () => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state / 2 ** 32;
    };
    let misses = 0;
    const trials = 400;
    for (let t = 0; t < trials; t++) {
      let s = 0;
      for (let i = 0; i < 60; i++) if (uniform() < 0.7) s++;
      if (clopperPearsonLower(s, 60, 0.95) > 0.7) misses++;
    }
    expect(misses / trials).toBeLessThanOrEqual(0.08);
  });
});
