import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { alpha, builtInDivergences, type FDivergence, hellinger, kl, neyman, pearson } from './divergences.js';
import { alphaGenerator, fDivergenceValue, type Generator, reverseKlGenerator } from './generators.js';
import { distribution, distributionPair, finiteDifference, tf, useCpu, values } from './test-support/index.js';

beforeAll(useCpu);

const P = [0.5, 0.3, 0.2];
const Q = [0.2, 0.5, 0.3];
const byName = (name: string): FDivergence => {
  const found = builtInDivergences().find((divergence) => divergence.name === name);
  if (!found) throw new Error(`no divergence ${name}`);
  return found;
};

// Exact D on the test pair, computed by hand from each generator.
const TABLE: [string, FDivergence, number][] = [
  ['kl', byName('kl'), 0.223805],
  ['forward-kl', byName('forward-kl'), 0.193794],
  ['js', byName('js'), 0.050875],
  ['tv', byName('tv'), 0.3],
  ['pearson', byName('pearson'), 0.563333],
  ['neyman', byName('neyman'), 0.363333],
  ['hellinger', byName('hellinger'), 0.10305],
  ['alpha 1/2', alpha({ alpha: 0.5 }), 0.2061],
  ['alpha 2', alpha({ alpha: 2 }), 0.281667],
  ['alpha -1', alpha({ alpha: -1 }), 0.181667],
  ['jeffreys', byName('jeffreys'), 0.223805 + 0.193794],
];

/** Exact expectations over x ~ P of a per-sample estimator (sums, not sampling). */
const expectationUnderP = (
  estimate: (logp: number, logq: number) => number,
  p: readonly number[],
  q: readonly number[],
): number => p.reduce((sum, pi, i) => sum + pi * estimate(Math.log(pi), Math.log(q[i] as number)), 0);

const generators = (): [string, Generator][] => [
  ...builtInDivergences().map((divergence): [string, Generator] => [divergence.name, divergence.generator]),
  ['alpha 2', alphaGenerator(2)],
  ['alpha -1', alphaGenerator(-1)],
  ['alpha 0', alphaGenerator(0)],
  ['alpha 1', alphaGenerator(1)],
];

describe('closed forms on the reference pair', () => {
  it.each(TABLE)('%s matches the hand-computed value', (_name, divergence, expected) => {
    expect(divergence.value(P, Q)).toBeCloseTo(expected, 5);
  });

  it.each(TABLE)('%s: E_P[e1] and E_P[e3] equal the closed form', (_name, divergence, expected) => {
    const { generator } = divergence;
    const naive = expectationUnderP((logp, logq) => generator.reverse(Math.exp(logq - logp)), P, Q);
    expect(naive).toBeCloseTo(expected, 5);
    expect(expectationUnderP(divergence.estimate, P, Q)).toBeCloseTo(expected, 5);
  });

  it('alpha limits and special cases', () => {
    expect(alpha({ alpha: 1 }).value(P, Q)).toBeCloseTo(kl().value(P, Q), 10);
    expect(alpha({ alpha: 0 }).value(P, Q)).toBeCloseTo(byName('forward-kl').value(P, Q), 10);
    expect(alpha({ alpha: 1 - 1e-6 }).value(P, Q)).toBeCloseTo(kl().value(P, Q), 5);
    expect(alpha({ alpha: 1e-6 }).value(P, Q)).toBeCloseTo(byName('forward-kl').value(P, Q), 5);
    expect(alpha({ alpha: 0.5 }).value(P, Q)).toBeCloseTo(2 * hellinger().value(P, Q), 10);
    expect(alpha({ alpha: 2 }).value(P, Q)).toBeCloseTo(0.5 * pearson().value(P, Q), 10);
    expect(alpha({ alpha: -1 }).value(P, Q)).toBeCloseTo(0.5 * neyman().value(P, Q), 10);
  });

  it('a zero in Q makes reverse KL infinite and TV finite', () => {
    expect(kl().value([0.5, 0.5], [1, 0])).toBe(Number.POSITIVE_INFINITY);
    expect(byName('tv').value([0.5, 0.5], [1, 0])).toBeCloseTo(0.5, 12);
    expect(byName('forward-kl').value([0.5, 0.5], [1, 0])).toBeCloseTo(Math.log(2), 12);
  });
});

describe('generator properties', () => {
  const positive = fc.double({ min: 1e-3, max: 50, noNaN: true });

  it.each(generators())('%s: f(1) = 0', (_name, generator) => {
    expect(Math.abs(generator.f(1))).toBeLessThan(1e-12);
    expect(Math.abs(generator.reverse(1))).toBeLessThan(1e-12);
  });

  it.each(generators())('%s: midpoint convexity of f and of its reverse', (_name, generator) => {
    fc.assert(
      fc.property(positive, positive, (a, b) => {
        const mid = (a + b) / 2;
        const slack = 1e-9 * (1 + Math.abs(generator.f(a)) + Math.abs(generator.f(b)));
        expect(generator.f(mid)).toBeLessThanOrEqual((generator.f(a) + generator.f(b)) / 2 + slack);
        const reverseSlack = 1e-9 * (1 + Math.abs(generator.reverse(a)) + Math.abs(generator.reverse(b)));
        expect(generator.reverse(mid)).toBeLessThanOrEqual((generator.reverse(a) + generator.reverse(b)) / 2 + reverseSlack);
      }),
    );
  });

  it.each(generators())('%s: the reverse of the reverse is f', (_name, generator) => {
    fc.assert(
      fc.property(positive, (t) => {
        const twice = t * generator.reverse(1 / t);
        expect(twice).toBeCloseTo(generator.f(t), 8);
      }),
    );
  });

  it.each(generators().filter(([, generator]) => generator.conjugate))(
    '%s: Fenchel-Young f(t) + f*(y) >= t y',
    (_name, generator) => {
      const conjugate = generator.conjugate as (y: number) => number;
      fc.assert(
        fc.property(positive, fc.double({ min: -5, max: 5, noNaN: true }), (t, y) => {
          const value = conjugate(y);
          fc.pre(Number.isFinite(value));
          expect(generator.f(t) + value).toBeGreaterThanOrEqual(t * y - 1e-9 * (1 + Math.abs(t * y)));
        }),
      );
    },
  );

  it.each(generators().filter(([, generator]) => generator.conjugate))(
    '%s: conjugate equals a grid supremum',
    (_name, generator) => {
      const conjugate = generator.conjugate as (y: number) => number;
      for (const y of [-1.5, -0.4, 0, 0.2]) {
        const value = conjugate(y);
        if (!Number.isFinite(value)) continue;
        let best = Number.NEGATIVE_INFINITY;
        for (let logT = -12; logT <= 6; logT += 1e-3) best = Math.max(best, Math.exp(logT) * y - generator.f(Math.exp(logT)));
        expect(best).toBeCloseTo(value, 4);
      }
    },
  );
});

describe('divergence properties on random distributions', () => {
  it.each(builtInDivergences().map((divergence) => [divergence.name, divergence] as const))(
    '%s: D(P||P) = 0 and D(P||Q) >= 0',
    (_name, divergence) => {
      fc.assert(
        fc.property(distributionPair, ([p, q]) => {
          expect(Math.abs(divergence.value(p, p))).toBeLessThan(1e-12);
          expect(divergence.value(p, q)).toBeGreaterThanOrEqual(-1e-12);
        }),
      );
    },
  );

  it.each(builtInDivergences().map((divergence) => [divergence.name, divergence] as const))(
    '%s: e3 >= 0 and E_P[e3] = D',
    (_name, divergence) => {
      fc.assert(
        fc.property(distributionPair, ([p, q]) => {
          for (let i = 0; i < p.length && divergence.name !== 'kl-k1'; i++) {
            expect(divergence.estimate(Math.log(p[i] as number), Math.log(q[i] as number))).toBeGreaterThanOrEqual(-1e-12);
          }
          if (divergence.name === 'kl-k1') return; // k1 is signed; its unbiasedness is tested below
          if (divergence.name === 'kl-k2') return; // k2 is biased (kl-estimators.test.ts)
          expect(expectationUnderP(divergence.estimate, p, q)).toBeCloseTo(divergence.value(p, q), 9);
        }),
      );
    },
  );

  it('symmetric where the generator is self-dual, not elsewhere', () => {
    for (const divergence of builtInDivergences()) {
      const swapped = divergence.value(Q, P);
      if (divergence.generator.symmetric) {
        fc.assert(
          fc.property(distributionPair, ([p, q]) => {
            expect(divergence.value(p, q)).toBeCloseTo(divergence.value(q, p), 10);
          }),
        );
      } else {
        expect(Math.abs(divergence.value(P, Q) - swapped), divergence.name).toBeGreaterThan(1e-3);
      }
    }
    const symmetricNames = builtInDivergences()
      .filter((divergence) => divergence.generator.symmetric)
      .map((divergence) => divergence.name);
    expect(symmetricNames.sort()).toEqual(['alpha', 'hellinger', 'jeffreys', 'js', 'tv']);
  });

  it('D = 0 only when P = Q', () => {
    fc.assert(
      fc.property(distribution(4), distribution(4), (p, q) => {
        const gap = p.reduce((sum, pi, i) => sum + Math.abs(pi - (q[i] as number)), 0);
        fc.pre(gap > 1e-3);
        for (const divergence of builtInDivergences()) expect(divergence.value(p, q), divergence.name).toBeGreaterThan(0);
      }),
    );
  });
});

describe('tensor penalty', () => {
  const logp = [-0.3, -1.2, -2.5, -0.05, -4];
  const logq = [-0.9, -0.4, -2.5, -3.1, -1.5];

  it.each(builtInDivergences().map((divergence) => [divergence.name, divergence] as const))(
    '%s: penalty equals estimate token by token',
    (_name, divergence) => {
      const penalty = divergence.penalty(
        tf.tensor2d([logp.slice(0, 3), logp.slice(2)]),
        tf.tensor2d([logq.slice(0, 3), logq.slice(2)]),
        tf,
      );
      expect(penalty.shape).toEqual([2, 3]);
      const expected = [0, 1, 2, 2, 3, 4].map((i) => divergence.estimate(logp[i] as number, logq[i] as number));
      values(penalty).forEach((value, i) => {
        expect(value).toBeCloseTo(expected[i] as number, 4);
      });
    },
  );

  it.each(builtInDivergences().map((divergence) => [divergence.name, divergence] as const))(
    '%s: gradient in logp matches finite differences',
    (_name, divergence) => {
      // Shifted so that no token sits on TV's kink at logp = logq.
      const shifted = logq.map((value) => value + 0.013);
      const gradient = tf.grad((input: tf.Tensor) => tf.sum(divergence.penalty(input, tf.tensor1d(shifted), tf)))(
        tf.tensor1d(logp),
      );
      values(gradient).forEach((value, i) => {
        const numeric = finiteDifference((x) => divergence.estimate(x, shifted[i] as number), logp[i] as number);
        // float32 tensors against float64 numbers
        expect(value).toBeCloseTo(numeric, 2);
      });
    },
  );

  it('option validation names the bad value and the accepted ones', () => {
    expect(() => kl({ estimator: 'k4' as never })).toThrow(/k4.*|must be one of k1, k2, k3, k3\+, k3-clamped/);
    expect(() => alpha({ alpha: 'x' as never })).toThrow(/alpha.*finite number/);
    expect(kl().configure?.({ estimator: 'k2' }).resolved).toEqual({ estimator: 'k2' });
  });

  it('reverse KL generator closed form is the sum formula', () => {
    expect(fDivergenceValue(reverseKlGenerator, P, Q)).toBeCloseTo(
      0.5 * Math.log(2.5) + 0.3 * Math.log(0.6) + 0.2 * Math.log(2 / 3),
      12,
    );
  });
});
