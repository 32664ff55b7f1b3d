import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { scalar, tf, useCpu, values } from '../test-support/index.js';
import type { KtoBatch } from './batch.js';
import { kto, ktoApoZeroUnpaired, ktoMismatchedCompletions, ktoPair } from './kto.js';

beforeAll(useCpu);

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** z = logps - refLogps with refLogps = 0. */
function ktoBatch(z: number[], desirable: boolean[], anchor: { kl?: number; klLogps?: number[] } = {}): KtoBatch {
  return {
    logps: tf.tensor1d(z),
    refLogps: tf.zeros([z.length]),
    desirable,
    ...(anchor.kl === undefined ? {} : { kl: anchor.kl }),
    ...(anchor.klLogps ? { klLogps: tf.tensor1d(anchor.klLogps), klRefLogps: tf.zeros([anchor.klLogps.length]) } : {}),
  };
}

describe('kto (unpaired)', () => {
  // Worked by hand from TRL's formula: desirable z = [1, -0.2], undesirable z = [0.4], z0 = 0.3, beta 0.1.
  it('worked example: losses [0.4825, 0.5125, 0.5025], mean 0.4992; the anchor from mismatched completions', () => {
    const batch = ktoBatch([1, -0.2, 0.4], [true, true, false], { klLogps: [0.5, 0.1] });
    const result = kto().loss(batch, tf);
    expect(scalar(result.metrics.kl as tf.Tensor)).toBeCloseTo(0.3, 6);
    expect(scalar(result.loss)).toBeCloseTo((0.4825 + 0.5125 + 0.5025) / 3, 4);
    expect(scalar(result.loss)).toBeCloseTo(0.4992, 4);
    expect(scalar(kto().loss(ktoBatch([1, -0.2, 0.4], [true, true, false], { kl: 0.3 }), tf).loss)).toBeCloseTo(0.4992, 4);
  });

  it('apo-zero-unpaired worked example: 0.4967, and it needs no KL anchor', () => {
    const objective = ktoApoZeroUnpaired();
    expect(objective.needs.klAnchor).toBe(false);
    expect(scalar(objective.loss(ktoBatch([1, -0.2, 0.4], [true, true, false]), tf).loss)).toBeCloseTo(0.4967, 4);
  });

  it('the anchor is clamped at 0 and held constant (no gradient into the KL pass)', () => {
    const negative = kto().loss(ktoBatch([0.2], [true], { klLogps: [-3, -1] }), tf);
    expect(scalar(negative.metrics.kl as tf.Tensor)).toBe(0);
    const gradient = tf.grad(
      (klLogps: tf.Tensor) => kto().loss({ ...ktoBatch([0.2, -1], [true, false]), klLogps, klRefLogps: tf.zeros([2]) }, tf).loss,
    )(tf.tensor1d([0.4, 0.8]));
    expect(values(gradient)).toEqual([0, 0]);
  });

  it('label weights scale each side (lambda_D, lambda_U)', () => {
    const batch = ktoBatch([1, -0.2, 0.4], [true, true, false], { kl: 0.3 });
    const weighted = scalar(kto({ desirableWeight: 2, undesirableWeight: 0.5 }).loss(batch, tf).loss);
    const losses = [1 - sigmoid(0.07), 1 - sigmoid(-0.05), 1 - sigmoid(-0.01)];
    expect(weighted).toBeCloseTo((2 * (losses[0] as number) + 2 * (losses[1] as number) + 0.5 * (losses[2] as number)) / 3, 5);
  });

  it('at z = z0 every example costs 1/2; desirable losses fall and undesirable ones rise with z', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 5, noNaN: true }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        fc.double({ min: 0.01, max: 3, noNaN: true }),
        fc.boolean(),
        (anchor, beta, step, desirable) => {
          const objective = kto({ beta });
          const at = (z: number) => scalar(objective.loss(ktoBatch([z], [desirable], { kl: anchor }), tf).loss);
          expect(at(anchor)).toBeCloseTo(0.5, 6);
          if (desirable) expect(at(anchor + step)).toBeLessThan(at(anchor));
          else expect(at(anchor + step)).toBeGreaterThan(at(anchor));
        },
      ),
      { numRuns: 30 },
    );
  });

  it('gradient matches central finite differences and the closed form', () => {
    const z = [0.7, -1.2, 0.3, 2];
    const desirable = [true, false, true, false];
    const loss = (x: tf.Tensor) => kto({ beta: 0.5 }).loss({ ...ktoBatch(z, desirable, { kl: 0.2 }), logps: x }, tf).loss;
    const analytic = values(tf.grad(loss)(tf.tensor1d(z)));
    z.forEach((value, i) => {
      const at = (shift: number) => scalar(loss(tf.tensor1d(z.map((v, j) => (j === i ? v + shift : v)))));
      expect(analytic[i]).toBeCloseTo((at(1e-2) - at(-1e-2)) / 2e-2, 3);
      // d/dz of 1 - sigma(+-beta (z - z0)) is -+beta sigma(1 - sigma), over n examples.
      const s = sigmoid(0.5 * (value - 0.2));
      expect(analytic[i]).toBeCloseTo(((desirable[i] ? -1 : 1) * 0.5 * s * (1 - s)) / z.length, 5);
    });
  });

  it('metrics: mean reward per label and the share on the right side of the anchor', () => {
    const { metrics } = kto().loss(ktoBatch([1, -0.2, 0.4], [true, true, false], { kl: 0.3 }), tf);
    expect(scalar(metrics.chosenReward)).toBeCloseTo(0.04, 6);
    expect(scalar(metrics.rejectedReward)).toBeCloseTo(0.04, 6);
    expect(scalar(metrics.margin)).toBeCloseTo(0, 6);
    // 1 > 0.3 (right), -0.2 < 0.3 (wrong), 0.4 > 0.3 (wrong for undesirable).
    expect(scalar(metrics.rewardAccuracy)).toBeCloseTo(1 / 3, 6);
  });

  it('errors say what the trainer must supply', () => {
    expect(() => kto().loss(ktoBatch([0.1], [true]), tf)).toThrow(/kto needs the KL anchor: klLogps and klRefLogps/);
    expect(() => kto().loss(ktoBatch([0.1, 0.2], [true]), tf)).toThrow(/2 log-probabilities but 1 desirable labels/);
    expect(() => kto({ desirableWeight: 0 })).toThrow(/kto: option 'desirableWeight' must be > 0, got 0/);
    expect(() => kto({ beta: -1 })).toThrow(/kto: option 'beta' must be > 0, got -1/);
  });

  it('mismatched completions pair example i with completion i - 1, cyclically', () => {
    expect(ktoMismatchedCompletions(4)).toEqual([3, 0, 1, 2]);
    expect(ktoMismatchedCompletions(1)).toEqual([0]);
    expect(ktoMismatchedCompletions(0)).toEqual([]);
    expect(() => ktoMismatchedCompletions(-1)).toThrow(/got -1/);
  });
});

describe('kto-pair', () => {
  const pairBatch = (c: number[], r: number[]) => ({
    chosenLogps: tf.tensor1d(c),
    rejectedLogps: tf.tensor1d(r),
    refChosenLogps: tf.zeros([c.length]),
    refRejectedLogps: tf.zeros([r.length]),
    chosenLengths: tf.ones([c.length]),
    rejectedLengths: tf.ones([r.length]),
  });

  it("each side's anchor comes from the other side's mean log-ratio", () => {
    // z0_w = max(0, mean r) = 0; z0_l = max(0, mean c) = 0.6.
    const expected =
      (1 - sigmoid(0.1) + (1 - sigmoid(0.02)) + (1 - sigmoid(0.1 * (0.6 + 0.5))) + (1 - sigmoid(0.1 * (0.6 - 0.4)))) / 4;
    expect(scalar(ktoPair().loss(pairBatch([1, 0.2], [-0.5, 0.4]), tf).loss)).toBeCloseTo(expected, 6);
  });

  it('is 1/2 when the policy equals the reference, and finite for extreme inputs', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e4, max: 1e3, noNaN: true }), { minLength: 2, maxLength: 2 }), ([c, r]) => {
        expect(scalar(ktoPair().loss(pairBatch([0, 0], [0, 0]), tf).loss)).toBeCloseTo(0.5, 6);
        const gradient = tf.grad(
          (x: tf.Tensor) => ktoPair().loss({ ...pairBatch([c as number], [r as number]), chosenLogps: x }, tf).loss,
        )(tf.tensor1d([c as number]));
        expect(Number.isFinite(values(gradient)[0])).toBe(true);
      }),
      { numRuns: 20 },
    );
  });
});
