import type { PreferenceBatch } from '@policy-lab/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { oppoContext, tripletLoss } from './oppo.js';
import { gradientCheck, scalar, tf, useCpu, values } from './test-support/index.js';

beforeAll(useCpu);

const CHOSEN = [
  [0.3, 0.4, 0.1],
  [0.9, -0.2, 0.5],
];
const REJECTED = [
  [1.0, 0.0, -0.4],
  [-0.3, 0.6, 0.2],
];
const OPTIMAL = [[0.1, 0.2, -0.1]];

function batch(parts: { chosen?: tf.Tensor; rejected?: tf.Tensor; optimal?: tf.Tensor; chosenLogps?: tf.Tensor } = {}) {
  return {
    chosenLogps: parts.chosenLogps ?? tf.tensor1d([-3, -5]),
    rejectedLogps: tf.tensor1d([-4, -2]),
    chosenLengths: tf.tensor1d([3, 5]),
    rejectedLengths: tf.tensor1d([2, 4]),
    context: {
      chosen: parts.chosen ?? tf.tensor2d(CHOSEN),
      rejected: parts.rejected ?? tf.tensor2d(REJECTED),
      optimal: parts.optimal ?? tf.tensor1d(OPTIMAL[0] as number[]),
    },
  } satisfies PreferenceBatch<tf.Tensor>;
}

describe('oppo-context', () => {
  it('the triplet of the worked case: z* = (0, 0), E(+) = (0.3, 0.4), E(-) = (1, 0), margin 1 gives max(0, 0.5 - 1 + 1) = 0.5', () => {
    const value = tripletLoss(tf, tf.tensor2d([[0, 0]]), tf.tensor2d([[0.3, 0.4]]), tf.tensor2d([[1, 0]]), 1);
    expect(scalar(value)).toBeCloseTo(0.5, 5);
  });

  it('where z* sits, in closed form: z* = (0, 0); pairs E(+) = (0.3, 0.4) vs E(-) = (1, 0) and E(+) = (3, 4) vs E(-) = (0, 1)', () => {
    const out = oppoContext().loss(
      batch({
        optimal: tf.tensor1d([0, 0]),
        chosen: tf.tensor2d([
          [0.3, 0.4],
          [3, 4],
        ]),
        rejected: tf.tensor2d([
          [1, 0],
          [0, 1],
        ]),
      }),
      tf,
    );
    const metric = (name: string) => scalar(out.metrics?.[name] as tf.Tensor);
    // Distances 0.5 and 5 to the preferred contexts, 1 and 1 to the rejected: z* is nearer the preferred in the first pair only.
    expect(metric('contextToPreferred')).toBeCloseTo((0.5 + 5) / 2, 5);
    expect(metric('contextToRejected')).toBeCloseTo(1, 5);
    expect(metric('contextPreferenceAccuracy')).toBe(0.5);
    expect(metric('distanceGap')).toBeCloseTo(1 - 2.75, 5);
  });

  it('the loss: imitation (per-token NLL of both completions) + 0.1 norm + 0.1 triplet + triplet, in closed form', () => {
    const out = oppoContext().loss(batch(), tf);
    const imitation = (3 / 3 + 4 / 2 + (5 / 5 + 2 / 4)) / 2;
    const norm = (v: number[]) => (Math.hypot(...v) - 1) ** 2;
    const normTerm =
      (norm(CHOSEN[0] as number[]) + norm(CHOSEN[1] as number[])) / 2 +
      (norm(REJECTED[0] as number[]) + norm(REJECTED[1] as number[])) / 2;
    const d = (a: number[], b: number[]) => Math.hypot(...a.map((x, i) => x - (b[i] as number) + 1e-6));
    const z = OPTIMAL[0] as number[];
    const triplet =
      [0, 1].map((p) => Math.max(0, d(z, CHOSEN[p] as number[]) - d(z, REJECTED[p] as number[]) + 1)).reduce((a, b) => a + b) / 2;
    expect(scalar(out.loss)).toBeCloseTo(imitation + 0.1 * normTerm + 1.1 * triplet, 4);
    expect(scalar(out.metrics?.imitation as tf.Tensor)).toBeCloseTo(imitation, 5);
  });

  it('gradients match finite differences in z*, in the encodings and in the log-probs; z* moves by the full triplet, the encodings by 0.1 of it plus the norm term', () => {
    const loss = oppoContext();
    // z*'s gradient holds the encodings' triplet constant: the finite difference of the loss without it (weight 0).
    const inOptimal = gradientCheck(
      (x) => oppoContext({ preferenceWeight: 0 }).loss(batch({ optimal: tf.reshape(x, [3]) }), tf).loss,
      OPTIMAL,
      1e-3,
    );
    const analyticFull = values(
      tf.grad((x: tf.Tensor) => loss.loss(batch({ optimal: x }), tf).loss)(tf.tensor1d(OPTIMAL[0] as number[])),
    );
    inOptimal.numeric.forEach((g, i) => expect(analyticFull[i]).toBeCloseTo(g, 2));
    // The encodings' gradient holds z* fixed: it is the finite difference of the loss whose triplet on z* is held constant.
    const heldOptimal = oppoContext({ preferenceWeight: 0.1 });
    const inChosen = gradientCheck((x) => heldOptimal.loss(batch({ chosen: x }), tf).loss, CHOSEN, 1e-3);
    const withoutOwnTriplet = gradientCheck(
      (x) => {
        const b = batch({ chosen: x });
        const full = heldOptimal.loss(b, tf).loss;
        // Subtract the z*-side triplet, whose encoding gradient is stopped.
        const zSide = tripletLoss(tf, tf.expandDims(b.context.optimal, 0), x, b.context.rejected, 1);
        return tf.sub(full, zSide);
      },
      CHOSEN,
      1e-3,
    );
    inChosen.analytic.forEach((g, i) => expect(g).toBeCloseTo(withoutOwnTriplet.numeric[i] as number, 2));
    const inLogps = gradientCheck((x) => loss.loss(batch({ chosenLogps: tf.reshape(x, [2]) }), tf).loss, [[-3, -5]], 1e-2);
    expect(inLogps.analytic).toEqual([expect.closeTo(-1 / 3 / 2, 5), expect.closeTo(-1 / 5 / 2, 5)]);
  });

  it('property: a gradient step on z* never moves it away from the preferred contexts relative to the rejected ones (the triplet on z* does not increase)', () => {
    const vector = fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 3, maxLength: 3 });
    fc.assert(
      fc.property(fc.array(fc.tuple(vector, vector), { minLength: 1, maxLength: 4 }), vector, (pairs, start) => {
        // Away from the distance's kink at zero (a step there may overshoot).
        const far = (v: number[]) => Math.hypot(...v.map((x, i) => x - (start[i] as number))) > 0.2;
        fc.pre(pairs.every(([c, r]) => far(c) && far(r)));
        const chosen = tf.tensor2d(pairs.map((p) => p[0]));
        const rejected = tf.tensor2d(pairs.map((p) => p[1]));
        const zSide = (z: tf.Tensor) => scalar(tripletLoss(tf, tf.expandDims(z, 0), chosen, rejected, 1));
        const grad = tf.grad((z: tf.Tensor) => oppoContext().loss(batch({ chosen, rejected, optimal: z }), tf).loss)(
          tf.tensor1d(start),
        );
        const stepped = tf.sub(tf.tensor1d(start), tf.mul(grad, 1e-4));
        expect(zSide(stepped)).toBeLessThanOrEqual(zSide(tf.tensor1d(start)) + 1e-6);
        // z*'s whole gradient is the triplet's: the imitation and norm terms never reach it.
        const tripletGrad = tf.grad((z: tf.Tensor) => tripletLoss(tf, tf.expandDims(z, 0), chosen, rejected, 1))(
          tf.tensor1d(start),
        );
        values(grad).forEach((g, i) => expect(g).toBeCloseTo(values(tripletGrad)[i] as number, 5));
      }),
      { numRuns: 40 },
    );
  });

  it('refuses a batch without contexts and bad options', () => {
    const { context: _, ...plain } = batch();
    expect(() => oppoContext().loss(plain, tf)).toThrow(/contexts and z\*.*softPrompt/);
    expect(() => oppoContext({ margin: -1 })).toThrow(/margin.*-1/);
    expect(() => oppoContext({ beta: 1 } as never)).toThrow(
      /unknown option 'beta'; accepted: margin, preferenceWeight, normWeight/,
    );
  });
});
