import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { bald, dpoLoss, dpoMargin, tokenDpoLoss, tokenImplicitRewards, upoLoss, upoWeight, vpoLoss } from './preference.js';
import { gradientCheck, scalar, tf, useCpu, values } from './test-support/index.js';

beforeAll(useCpu);

const softplus = (x: number): number => Math.log1p(Math.exp(x));
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

// A hand-computed pair: chosen (policy, ref) = (-10, -11), rejected (-12, -11.5), beta = 0.1.
const EXAMPLE = () => ({
  policyChosen: tf.tensor1d([-10]),
  refChosen: tf.tensor1d([-11]),
  policyRejected: tf.tensor1d([-12]),
  refRejected: tf.tensor1d([-11.5]),
  beta: 0.1,
});

describe('dpo', () => {
  it('matches the worked example: margin 0.15, loss 0.621', () => {
    expect(scalar(dpoMargin(EXAMPLE(), tf))).toBeCloseTo(0.15, 6);
    expect(scalar(dpoLoss(EXAMPLE(), tf))).toBeCloseTo(softplus(-0.15), 6);
    expect(scalar(dpoLoss(EXAMPLE(), tf))).toBeCloseTo(0.621, 3);
  });

  it('gradient is -beta sigmoid(-z) on the chosen and +beta sigmoid(-z) on the rejected log-prob', () => {
    const pairs = [
      [-10, -12],
      [-3, -2],
      [-7, -7.5],
    ];
    const refs = [
      [-11, -11.5],
      [-2.5, -2.2],
      [-7, -7],
    ];
    const beta = 0.5;
    const loss = (both: tf.Tensor) =>
      dpoLoss(
        {
          policyChosen: tf.squeeze(tf.slice(both, [0, 0], [3, 1]), [1]),
          policyRejected: tf.squeeze(tf.slice(both, [0, 1], [3, 1]), [1]),
          refChosen: tf.tensor1d(refs.map((r) => r[0] as number)),
          refRejected: tf.tensor1d(refs.map((r) => r[1] as number)),
          beta,
        },
        tf,
      );
    const { analytic, numeric } = gradientCheck(loss, pairs);
    pairs.forEach(([chosen, rejected], i) => {
      const z = beta * ((chosen as number) - (refs[i]?.[0] as number) - ((rejected as number) - (refs[i]?.[1] as number)));
      expect(analytic[2 * i]).toBeCloseTo((-beta * sigmoid(-z)) / 3, 5);
      expect(analytic[2 * i + 1]).toBeCloseTo((beta * sigmoid(-z)) / 3, 5);
    });
    analytic.forEach((value, i) => {
      expect(value).toBeCloseTo(numeric[i] as number, 3);
    });
  });

  it('swapping chosen and rejected changes the loss by exactly the margin', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -20, max: 0, noNaN: true }),
        fc.double({ min: -20, max: 0, noNaN: true }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        (chosen, rejected, beta) => {
          const inputs = {
            policyChosen: tf.tensor1d([chosen]),
            policyRejected: tf.tensor1d([rejected]),
            refChosen: tf.tensor1d([-5]),
            refRejected: tf.tensor1d([-5]),
            beta,
          };
          const swapped = { ...inputs, policyChosen: inputs.policyRejected, policyRejected: inputs.policyChosen };
          const margin = beta * (chosen - rejected);
          expect(scalar(dpoLoss(swapped, tf)) - scalar(dpoLoss(inputs, tf))).toBeCloseTo(margin, 3);
          expect(scalar(dpoLoss(inputs, tf))).toBeGreaterThan(0);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('rejects beta <= 0', () => {
    expect(() => dpoLoss({ ...EXAMPLE(), beta: 0 }, tf)).toThrow(/beta must be > 0, got 0/);
  });
});

describe('token-level DPO (From r to Q*)', () => {
  it('per-token implicit rewards sum to the sequence implicit reward', () => {
    const rewards = tokenImplicitRewards(
      tf.tensor2d([[-1.2, -0.4, -2.0, -9]]),
      tf.tensor2d([[-1.5, -0.3, -2.5, 0]]),
      tf.tensor2d([[1, 1, 1, 0]]),
      1,
      tf,
    );
    expect(values(rewards)).toEqual([
      expect.closeTo(0.3, 5),
      expect.closeTo(-0.1, 5),
      expect.closeTo(0.5, 5),
      expect.closeTo(0, 9),
    ]);
    expect(scalar(tf.sum(rewards))).toBeCloseTo(0.7, 5);
  });

  it('equals DPO on masked sums of token log-probabilities', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -4, max: 0, noNaN: true }), { minLength: 16, maxLength: 16 }), (numbers) => {
        const block = (offset: number) => tf.tensor2d([numbers.slice(offset, offset + 2), numbers.slice(offset + 2, offset + 4)]);
        const maskChosen = tf.tensor2d([
          [1, 1],
          [1, 0],
        ]);
        const maskRejected = tf.tensor2d([
          [1, 0],
          [1, 1],
        ]);
        const token = tokenDpoLoss(
          {
            policyChosen: block(0),
            refChosen: block(4),
            policyRejected: block(8),
            refRejected: block(12),
            maskChosen,
            maskRejected,
            beta: 0.3,
          },
          tf,
        );
        const sum = (tensor: tf.Tensor, mask: tf.Tensor) => tf.sum(tf.mul(tensor, mask), 1);
        const sequence = dpoLoss(
          {
            policyChosen: sum(block(0), maskChosen),
            refChosen: sum(block(4), maskChosen),
            policyRejected: sum(block(8), maskRejected),
            refRejected: sum(block(12), maskRejected),
            beta: 0.3,
          },
          tf,
        );
        expect(scalar(token)).toBeCloseTo(scalar(sequence), 5);
      }),
      { numRuns: 30 },
    );
  });
});

describe('vpo', () => {
  it('pessimistic example: 0.621 + 0.01 x 10 = 0.721', () => {
    const loss = vpoLoss({ ...EXAMPLE(), calibrationLogprobs: tf.tensor1d([-10]), alpha: 0.01, mode: 'pessimistic' }, tf);
    expect(scalar(loss)).toBeCloseTo(0.721, 3);
    const optimistic = vpoLoss({ ...EXAMPLE(), calibrationLogprobs: tf.tensor1d([-10]), alpha: 0.01, mode: 'optimistic' }, tf);
    expect(scalar(optimistic)).toBeCloseTo(0.521, 3);
  });

  it('alpha = 0 is exactly DPO', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -30, max: 0, noNaN: true }),
        fc.constantFrom('pessimistic' as const, 'optimistic' as const),
        (calibration, mode) => {
          const loss = vpoLoss({ ...EXAMPLE(), calibrationLogprobs: tf.tensor1d([calibration]), alpha: 0, mode }, tf);
          expect(scalar(loss)).toBe(scalar(dpoLoss(EXAMPLE(), tf)));
        },
      ),
      { numRuns: 20 },
    );
  });
});

describe('upo', () => {
  it('BALD: agreeing passes give 0, alternating confident passes give 0.4946 nats', () => {
    expect(bald(Array.from({ length: 10 }, () => [0.9, 0.1]))).toBeCloseTo(0, 12);
    const alternating = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? [0.95, 0.05] : [0.05, 0.95]));
    expect(bald(alternating)).toBeCloseTo(0.4946, 4);
    expect(upoWeight(alternating)).toBeCloseTo(1 - 0.4946 / Math.log(2), 4);
    expect(() => bald([])).toThrow(/at least one/);
  });

  it('BALD is non-negative and at most log K; the weight lies in [0, 1]', () => {
    const pass = fc.double({ min: 0, max: 1, noNaN: true }).map((p) => [p, 1 - p]);
    fc.assert(
      fc.property(fc.array(pass, { minLength: 1, maxLength: 10 }), (passes) => {
        const uncertainty = bald(passes);
        expect(uncertainty).toBeGreaterThanOrEqual(0);
        expect(uncertainty).toBeLessThanOrEqual(Math.log(2) + 1e-12);
        const weight = upoWeight(passes);
        expect(weight).toBeGreaterThanOrEqual(0);
        expect(weight).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('reliability 1 everywhere is DPO; a pair of reliability 0 is ignored', () => {
    const two = {
      policyChosen: tf.tensor1d([-10, -3]),
      refChosen: tf.tensor1d([-11, -3]),
      policyRejected: tf.tensor1d([-12, -1]),
      refRejected: tf.tensor1d([-11.5, -4]),
      beta: 0.1,
    };
    expect(scalar(upoLoss({ ...two, reliability: [1, 1] }, tf))).toBeCloseTo(scalar(dpoLoss(two, tf)), 6);
    expect(scalar(upoLoss({ ...two, reliability: [1, 0] }, tf))).toBeCloseTo(softplus(-0.15), 6);
  });
});
