import { type LossBatch, Rng } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { roverLoss } from './rover.js';

beforeAll(async () => {
  await initBackend({ name: 'cpu' });
});

const batchOf = (logprobs: tf.Tensor, old: number[][], targets: number[][], mask: number[][]): LossBatch<tf.Tensor> => ({
  logprobs,
  oldLogprobs: tf.tensor2d(old),
  advantages: tf.tensor2d(targets),
  mask: tf.tensor2d(mask),
  weights: tf.ones([old.length]),
  aggregation: 'token-mean',
  normLength: 3,
  rng: Rng.seeded(1),
});

const lossAt = (rho: number, lp: number[][], old: number[][], targets: number[][], mask: number[][]) =>
  roverLoss({ rho })
    .loss(batchOf(tf.tensor2d(lp), old, targets, mask), tf)
    .loss.dataSync()[0] as number;

const cell = fc.double({ min: -2, max: 2, noNaN: true });
const grid = fc.array(fc.array(cell, { minLength: 3, maxLength: 3 }), { minLength: 2, maxLength: 2 });

describe('rover loss', () => {
  it('hand-computed: (rho (log pi - log pi_old) - Q^)^2, token mean', () => {
    // tokens: rho 2, log-ratios 0.5 and -0.25, targets 1 and 0 -> (1 - 1)^2 = 0 and (-0.5 - 0)^2 = 0.25; mean 0.125
    expect(lossAt(2, [[-1, -1.25]], [[-1.5, -1]], [[1, 0]], [[1, 1]])).toBeCloseTo(0.125, 6);
    expect(() => roverLoss({ rho: 0 })).toThrow(/rho' must be > 0, got 0/);
  });

  it('is 0 with a zero gradient exactly where the log-ratio is Q^ / rho, and pushes a sampled token up by 2 rho Q^ at pi = pi_old', () => {
    fc.assert(
      fc.property(grid, grid, fc.double({ min: 0.2, max: 3, noNaN: true }), (old, targets, rho) => {
        const mask = [
          [1, 1, 1],
          [1, 1, 0],
        ];
        const atMinimum = old.map((row, r) => row.map((o, t) => o - 3 + (targets[r]?.[t] as number) / rho));
        const oldShifted = old.map((row) => row.map((o) => o - 3));
        expect(lossAt(rho, atMinimum, oldShifted, targets, mask)).toBeCloseTo(0, 9);
        const gradient = tf.grad(
          (lp: tf.Tensor) => roverLoss({ rho }).loss(batchOf(lp, oldShifted, targets, mask), tf).loss as tf.Scalar,
        );
        const atOld = gradient(tf.tensor2d(oldShifted)).arraySync() as number[][];
        // token-mean over 5 trained tokens: d/dlp (rho x - Q^)^2 / 5 at x = 0 is -2 rho Q^ / 5
        atOld.forEach((row, r) =>
          row.forEach((g, t) =>
            expect(g).toBeCloseTo(((mask[r]?.[t] as number) * -2 * rho * (targets[r]?.[t] as number)) / 5, 4),
          ),
        );
      }),
      { numRuns: 30 },
    );
  });

  it('its gradient matches finite differences', () => {
    fc.assert(
      fc.property(grid, grid, grid, (lp, shift, targets) => {
        const old = lp.map((row, r) => row.map((x, t) => x + (shift[r]?.[t] as number) / 4));
        const mask = [
          [1, 1, 0],
          [1, 1, 1],
        ];
        const analytic = tf
          .grad((x: tf.Tensor) => roverLoss({ rho: 1.5 }).loss(batchOf(x, old, targets, mask), tf).loss as tf.Scalar)(
            tf.tensor2d(lp),
          )
          .arraySync() as number[][];
        const h = 1e-3;
        lp.forEach((row, r) =>
          row.forEach((_, t) => {
            const at = (d: number) =>
              lossAt(
                1.5,
                lp.map((rr, i) => rr.map((x, j) => (i === r && j === t ? x + d : x))),
                old,
                targets,
                mask,
              );
            expect(analytic[r]?.[t]).toBeCloseTo((at(h) - at(-h)) / (2 * h), 2);
          }),
        );
      }),
      { numRuns: 20 },
    );
  });
});
