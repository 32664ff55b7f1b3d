import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { installFastKernels, restoreStockKernels } from './fast-kernels.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
});

/** d/dx of sum(x * w, axis) * scale, with stock kernels (tfjs's Sum gradient) and with ours. */
async function gradients(shape: number[], axis: number | number[] | null, keepDims: boolean) {
  const size = shape.reduce((a, b) => a * b, 1);
  const x = tf.tensor(
    Array.from({ length: size }, (_, i) => Math.sin(i * 1.7) * 3),
    shape,
  );
  const w = tf.tensor(
    Array.from({ length: size }, (_, i) => Math.cos(i * 0.3)),
    shape,
  );
  const f = (t: tf.Tensor) => tf.mul(tf.sum(tf.mul(t, w), axis ?? undefined, keepDims), tf.scalar(1.37));
  restoreStockKernels(tf);
  const stock = tf.grad(f)(x);
  expect(installFastKernels(tf).kernels).toBe('fast');
  const fast = tf.grad(f)(x);
  const result = { stock: await stock.data(), fast: await fast.data(), shape: fast.shape };
  tf.dispose([x, w, stock, fast]);
  return result;
}

describe("Sum's gradient on the fast kernels", () => {
  it('equals the stock gradient exactly, for leading, trailing, negative, several and all axes', async () => {
    const cases: [number[], number | number[] | null, boolean][] = [
      [[2048, 64], -1, false],
      [[2048, 64], 1, true],
      [[32, 64], 0, false],
      [[4, 5, 6], [0, 2], false],
      [[4, 5, 6], [-1, -3], true],
      [[3, 4], null, false],
      [[7], 0, false],
    ];
    for (const [shape, axis, keepDims] of cases) {
      const { stock, fast, shape: outShape } = await gradients(shape, axis, keepDims);
      expect(outShape).toEqual(shape);
      expect(Array.from(fast)).toEqual(Array.from(stock));
    }
  });

  it('broadcasts dy with a copy (Tile) instead of a multiplication by a ones tensor', async () => {
    const x = tf.ones([64, 16]);
    const kernelsOf = async () => {
      const info = await tf.profile(() => tf.grad((t: tf.Tensor) => tf.sum(t, -1))(x));
      tf.dispose(info.result as tf.Tensor);
      return info.kernels.map((k) => k.name);
    };
    restoreStockKernels(tf);
    const stock = await kernelsOf();
    installFastKernels(tf);
    const fast = await kernelsOf();
    expect(stock).toContain('Multiply');
    expect(stock).not.toContain('Tile');
    expect(fast).toContain('Tile');
    expect(fast).not.toContain('Multiply');
    x.dispose();
  });
});
