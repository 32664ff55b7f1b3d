/** Shared by the tests only (not exported from the package index). */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core alone registers no gradients; the trainer loads them through @tensorflow/tfjs.
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import fc from 'fast-check';

export { tf };

export async function useCpu(): Promise<void> {
  await tf.setBackend('cpu');
}

/** A strictly positive distribution over `size` outcomes. */
export const distribution = (size: number): fc.Arbitrary<number[]> =>
  fc.array(fc.double({ min: 0.01, max: 1, noNaN: true }), { minLength: size, maxLength: size }).map((weights) => {
    const total = weights.reduce((sum, weight) => sum + weight, 0);
    return weights.map((weight) => weight / total);
  });

/** Two strictly positive distributions over the same support. */
export const distributionPair = fc.integer({ min: 2, max: 6 }).chain((size) => fc.tuple(distribution(size), distribution(size)));

/** Central finite difference of a scalar function of one number. */
export function finiteDifference(fn: (x: number) => number, x: number, step = 1e-5): number {
  return (fn(x + step) - fn(x - step)) / (2 * step);
}

export const scalar = (tensor: tf.Tensor): number => tensor.dataSync()[0] as number;
export const values = (tensor: tf.Tensor): number[] => Array.from(tensor.dataSync());

/**
 * Gradient check of a tensor function of one [rows, T] input: tf.grad against central
 * differences of the same function (float32, so a coarse step and a loose tolerance).
 */
export function gradientCheck(
  fn: (input: tf.Tensor) => tf.Tensor,
  input: number[][],
  step = 1e-2,
): { analytic: number[]; numeric: number[] } {
  const analytic = values(tf.grad((x: tf.Tensor) => fn(x))(tf.tensor2d(input)));
  const flat = input.flat();
  const columns = input[0]?.length ?? 0;
  const at = (shift: number, index: number): number => {
    const moved = flat.map((value, i) => (i === index ? value + shift : value));
    const rows: number[][] = [];
    for (let r = 0; r < input.length; r++) rows.push(moved.slice(r * columns, (r + 1) * columns));
    return tf.tidy(() => scalar(fn(tf.tensor2d(rows))));
  };
  const numeric = flat.map((_, index) => (at(step, index) - at(-step, index)) / (2 * step));
  return { analytic, numeric };
}
