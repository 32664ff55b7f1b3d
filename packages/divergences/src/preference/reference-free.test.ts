import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { scalar, tf, useCpu, values } from '../test-support/index.js';
import type { PairedPreferenceObjective, PreferenceBatch } from './batch.js';
import { alphapo, cpo, log1mExp, orpo, referenceFreeObjectives, simpo } from './reference-free.js';

beforeAll(useCpu);

const softplus = (x: number): number => Math.log1p(Math.exp(x));

function pairs(chosen: number[], rejected: number[], chosenLengths?: number[], rejectedLengths?: number[]): PreferenceBatch {
  return {
    chosenLogps: tf.tensor1d(chosen),
    rejectedLogps: tf.tensor1d(rejected),
    chosenLengths: tf.tensor1d(chosenLengths ?? chosen.map(() => 1)),
    rejectedLengths: tf.tensor1d(rejectedLengths ?? rejected.map(() => 1)),
  };
}

const lossOf = (objective: PairedPreferenceObjective, batch: PreferenceBatch): number =>
  tf.tidy(() => scalar(objective.loss(batch, tf).loss));

describe('orpo', () => {
  // Worked by hand from TRL's formula: a_w = -0.5, a_l = -1.2, NLL 0.5 -> log-odds 1.2744, log sigma -0.2466, loss 0.5247.
  it('worked example', () => {
    const batch = pairs([-2.5], [-6], [5], [5]);
    const { loss, metrics } = orpo().loss(batch, tf);
    expect(scalar(metrics.nll as tf.Tensor)).toBeCloseTo(0.5, 6);
    expect(scalar(metrics.logOdds as tf.Tensor)).toBeCloseTo(1.2744, 4);
    expect(scalar(metrics.logOddsRatio as tf.Tensor)).toBeCloseTo(-0.2466, 4);
    expect(scalar(loss)).toBeCloseTo(0.5247, 4);
    expect(scalar(metrics.chosenReward)).toBeCloseTo(-0.05, 6);
    expect(orpo().needsReference).toBe(false);
  });

  it('log(1 - e^x) is accurate on both sides of -ln 2 and its gradient is finite everywhere', () => {
    fc.assert(
      fc.property(fc.double({ min: -60, max: -1e-4, noNaN: true }), (x) => {
        expect(scalar(log1mExp(tf.scalar(x), tf))).toBeCloseTo(Math.log(-Math.expm1(x)), 4);
      }),
      { numRuns: 50 },
    );
    const gradient = values(tf.grad((x: tf.Tensor) => tf.sum(log1mExp(x, tf)))(tf.tensor1d([-50, -1, -0.5, -1e-3, 0, 3])));
    for (const value of gradient) expect(Number.isFinite(value)).toBe(true);
    // d/dx log(1 - e^x) = -e^x / (1 - e^x).
    expect(gradient[1]).toBeCloseTo(-Math.exp(-1) / (1 - Math.exp(-1)), 4);
  });

  it('the odds-ratio term is log 2 x lambda at equal averages and falls as chosen pulls ahead', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -5, max: -0.05, noNaN: true }),
        fc.double({ min: 0.01, max: 2, noNaN: true }),
        (average, gap) => {
          const even = orpo().loss(pairs([average * 4], [average * 4], [4], [4]), tf);
          expect(scalar(even.loss) - scalar(even.metrics.nll as tf.Tensor)).toBeCloseTo(0.1 * Math.log(2), 5);
          const apart = orpo().loss(pairs([average * 4], [(average - gap) * 4], [4], [4]), tf);
          expect(scalar(apart.loss)).toBeLessThan(scalar(even.loss));
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe('cpo / simpo / alphapo', () => {
  it('CPO sigmoid worked example: sums -40 / -52, NLL 0.9 -> 1.1633', () => {
    // NLL = 40 / L = 0.9 -> L = 44.44 tokens.
    expect(lossOf(cpo(), pairs([-40], [-52], [40 / 0.9], [60]))).toBeCloseTo(1.1633, 4);
  });

  it('SimPO worked examples: averages -0.8 / -1.3 -> 0.9432 (beta 0.1), 0.4741 (beta 2)', () => {
    const batch = () => pairs([-8], [-13], [10], [10]);
    expect(lossOf(simpo(), batch())).toBeCloseTo(0.9432, 4);
    expect(lossOf(simpo({ beta: 2 }), batch())).toBeCloseTo(0.4741, 4);
    // The same through CPO's loss_type with the NLL switched off.
    expect(lossOf(cpo({ lossType: 'simpo', nllWeight: 0, beta: 2 }), batch())).toBeCloseTo(0.4741, 4);
  });

  it('AlphaPO worked example: alpha 0.25, beta 2, gamma 0.5 -> 0.3708', () => {
    expect(lossOf(alphapo({ alpha: 0.25, beta: 2, gamma: 0.5 }), pairs([-8], [-13], [10], [10]))).toBeCloseTo(0.3708, 4);
    expect(() => alphapo({ alpha: 0 })).toThrow(/alphapo: option 'alpha' must be non-zero \(0 is SimPO\), got 0/);
  });

  it('hinge and ipo forms; the NLL adds cpo_alpha x token-mean NLL', () => {
    const batch = () => pairs([-6, -4], [-9, -3], [3, 2], [3, 3]);
    // hinge on sums: logits [3, -1].
    const hinge = (Math.max(0, 1 - 0.3) + Math.max(0, 1 + 0.1)) / 2;
    expect(lossOf(cpo({ lossType: 'hinge', nllWeight: 0 }), batch())).toBeCloseTo(hinge, 5);
    // ipo on averages: [-2 + 3, -2 + 1] = [1, -1]; target 5.
    const ipo = ((1 - 5) ** 2 + (-1 - 5) ** 2) / 2;
    expect(lossOf(cpo({ lossType: 'ipo', nllWeight: 0 }), batch())).toBeCloseTo(ipo, 4);
    // NLL over every chosen token: 10 / 5.
    expect(lossOf(cpo({ lossType: 'ipo', nllWeight: 0.5 }), batch())).toBeCloseTo(ipo + 0.5 * 2, 4);
  });

  it('SimPO at zero margin costs softplus(gamma); alpha -> 0 approaches SimPO', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -4, max: -0.1, noNaN: true }),
        fc.double({ min: 0, max: 3, noNaN: true }),
        (average, gamma) => {
          expect(lossOf(simpo({ beta: 2, gamma }), pairs([average * 3], [average * 3], [3], [3]))).toBeCloseTo(
            softplus(gamma),
            4,
          );
          const near = lossOf(alphapo({ alpha: 1e-4, beta: 2, gamma }), pairs([average * 3], [(average - 0.5) * 3], [3], [3]));
          const plain = lossOf(simpo({ beta: 2, gamma }), pairs([average * 3], [(average - 0.5) * 3], [3], [3]));
          expect(near).toBeCloseTo(plain, 2);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('bad options name the value and the accepted ones', () => {
    expect(() => cpo({ lossType: 'kto' as never })).toThrow(/sigmoid, hinge, ipo, simpo/);
    expect(() => cpo({ labelSmoothing: 0.7 })).toThrow(/'labelSmoothing' must be in \[0, 0.5\), got 0.7/);
    expect(() => simpo({ nllWeight: -1 })).toThrow(/'nllWeight' must be >= 0, got -1/);
    expect(() => orpo({ beta: 0 })).toThrow(/orpo: option 'beta' must be > 0, got 0/);
    expect(() => simpo({ lossType: 'ipo' } as never)).toThrow(/simpo: unknown option 'lossType'/);
  });
});

describe('all reference-free objectives', () => {
  it('gradients match central finite differences', () => {
    const entry = fc.double({ min: -3, max: -0.2, noNaN: true });
    fc.assert(
      fc.property(fc.array(entry, { minLength: 6, maxLength: 6 }), (numbers) => {
        const lengths = { chosen: [2, 3, 1], rejected: [1, 2, 4] };
        for (const objective of [...referenceFreeObjectives(), cpo({ lossType: 'ipo' }), cpo({ lossType: 'hinge' })]) {
          const fn = (x: tf.Tensor) =>
            objective.loss(
              {
                chosenLogps: tf.slice(x, [0], [3]),
                rejectedLogps: tf.slice(x, [3], [3]),
                chosenLengths: tf.tensor1d(lengths.chosen),
                rejectedLengths: tf.tensor1d(lengths.rejected),
              },
              tf,
            ).loss;
          const analytic = tf.tidy(() => values(tf.grad(fn)(tf.tensor1d(numbers))));
          analytic.forEach((gradient, index) => {
            const at = (shift: number) =>
              tf.tidy(() => scalar(fn(tf.tensor1d(numbers.map((value, i) => (i === index ? value + shift : value))))));
            const numeric = (at(1e-2) - at(-1e-2)) / 2e-2;
            expect(Math.abs(gradient - numeric), `${objective.name} entry ${index}`).toBeLessThanOrEqual(
              2e-3 * Math.max(1, Math.abs(numeric)),
            );
          });
        }
      }),
      { numRuns: 5 },
    );
  });

  it('stay finite, loss and gradient, for finite extreme inputs (including empty completions)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e4, max: 20, noNaN: true }),
        fc.double({ min: -1e4, max: 20, noNaN: true }),
        fc.integer({ min: 0, max: 3000 }),
        (chosen, rejected, length) => {
          for (const objective of [...referenceFreeObjectives(), cpo({ lossType: 'ipo' }), alphapo({ alpha: -0.5 })]) {
            const fn = (x: tf.Tensor) =>
              objective.loss(
                {
                  chosenLogps: tf.slice(x, [0], [1]),
                  rejectedLogps: tf.slice(x, [1], [1]),
                  chosenLengths: tf.tensor1d([length]),
                  rejectedLengths: tf.tensor1d([length + 1]),
                },
                tf,
              ).loss;
            const loss = tf.tidy(() => scalar(fn(tf.tensor1d([chosen, rejected]))));
            const gradient = tf.tidy(() => values(tf.grad(fn)(tf.tensor1d([chosen, rejected]))));
            expect(Number.isFinite(loss), `${objective.name} loss ${loss}`).toBe(true);
            for (const value of gradient) expect(Number.isFinite(value), `${objective.name} gradient`).toBe(true);
          }
        },
      ),
      { numRuns: 30 },
    );
  });
});
