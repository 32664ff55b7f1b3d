import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { installFastKernels, restoreStockKernels } from './fast-kernels.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
});

/** Runs `op` with the stock kernels, then with the fast ones, and returns both results. */
async function bothWays(op: () => tf.Tensor): Promise<{ stock: Float32Array; fast: Float32Array; shape: number[] }> {
  restoreStockKernels(tf);
  const s = op();
  const stock = (await s.data()) as Float32Array;
  const status = installFastKernels(tf);
  expect(status.kernels).toBe('fast');
  const f = op();
  const fast = (await f.data()) as Float32Array;
  expect(f.shape).toEqual(s.shape);
  const shape = f.shape;
  tf.dispose([s, f]);
  return { stock, fast, shape };
}

function maxRelativeError(a: Float32Array, b: Float32Array): number {
  let scale = 1e-6;
  for (const v of a) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)) / scale);
  return worst;
}

const dim = fc.integer({ min: 1, max: 13 });

describe('fast BatchMatMul on wasm', () => {
  it('matches the stock kernel for random shapes, batches and transpose flags', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          batch: fc.integer({ min: 1, max: 3 }),
          m: dim,
          k: dim,
          n: dim,
          ta: fc.boolean(),
          tb: fc.boolean(),
          share: fc.constantFrom('none', 'a', 'b'),
          seed: fc.integer(),
        }),
        async ({ batch, m, k, n, ta, tb, share, seed }) => {
          const aShape = ta ? [k, m] : [m, k];
          const bShape = tb ? [n, k] : [k, n];
          const a = tf.randomNormal([share === 'a' ? 1 : batch, ...aShape], 0, 1, 'float32', seed);
          const b = tf.randomNormal([share === 'b' ? 1 : batch, ...bShape], 0, 1, 'float32', seed + 1);
          const { stock, fast } = await bothWays(() => tf.matMul(a, b, ta, tb));
          tf.dispose([a, b]);
          // both transposed goes to the stock kernel: results must be identical then
          if (ta && tb) expect(fast).toEqual(stock);
          expect(maxRelativeError(stock, fast)).toBeLessThan(1e-5);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('handles the model shapes (2-D and 4-D attention) ', async () => {
    const x = tf.randomNormal([256, 64], 0, 1, 'float32', 1);
    const w = tf.randomNormal([64, 256], 0, 1, 'float32', 2);
    for (const [ta, tb] of [
      [false, false],
      [false, true],
      [true, false],
    ] as const) {
      const left = ta ? tf.transpose(x) : x;
      const right = tb ? tf.transpose(w) : w;
      const { stock, fast } = await bothWays(() => tf.matMul(left, right, ta, tb));
      expect(maxRelativeError(stock, fast)).toBeLessThan(1e-5);
    }
    const q = tf.randomNormal([2, 4, 64, 16], 0, 1, 'float32', 3);
    const k = tf.randomNormal([2, 4, 64, 16], 0, 1, 'float32', 4);
    const scores = await bothWays(() => tf.matMul(q, k, false, true));
    expect(scores.shape).toEqual([2, 4, 64, 64]);
    expect(maxRelativeError(scores.stock, scores.fast)).toBeLessThan(1e-5);
    tf.dispose([x, w, q, k]);
  });

  it('blocks long inner dimensions over several B panels (k > 32768 / n) without changing results', async () => {
    for (const [m, k, n, ta] of [
      [9, 700, 200, false],
      [12, 1500, 64, true],
      [5, 333, 1030, true],
    ] as const) {
      const a = tf.randomNormal(ta ? [k, m] : [m, k], 0, 1, 'float32', m);
      const b = tf.randomNormal([k, n], 0, 1, 'float32', k);
      const { stock, fast } = await bothWays(() => tf.matMul(a, b, ta, false));
      expect(maxRelativeError(stock, fast)).toBeLessThan(1e-5);
      tf.dispose([a, b]);
    }
  });

  it('gives gradients equal to the stock path', async () => {
    const a = tf.randomNormal([3, 8, 12], 0, 1, 'float32', 5);
    const b = tf.randomNormal([3, 12, 16], 0, 1, 'float32', 6);
    const grads = () => {
      const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y))));
      const [ga, gb] = g([a, b]);
      return tf.concat([tf.reshape(ga as tf.Tensor, [-1]), tf.reshape(gb as tf.Tensor, [-1])]);
    };
    const { stock, fast } = await bothWays(grads);
    expect(maxRelativeError(stock, fast)).toBeLessThan(1e-5);
    tf.dispose([a, b]);
  });

  it('shares data for Identity and same-dtype Cast without changing values', async () => {
    restoreStockKernels(tf);
    const copied = tf.tensor1d([1, 2]);
    const copy = tf.clone(copied);
    expect(copy.dataId).not.toBe(copied.dataId); // stock copies: the check below is meaningful
    tf.dispose([copied, copy]);
    installFastKernels(tf);
    const x = tf.tensor1d([1.5, -2, 3]);
    const y = tf.cast(x, 'float32');
    const z = tf.clone(x);
    expect(y.dataId).toBe(x.dataId);
    expect(z.dataId).toBe(x.dataId);
    expect(Array.from(await z.data())).toEqual([1.5, -2, 3]);
    tf.dispose([x, y]);
    expect(Array.from(await z.data())).toEqual([1.5, -2, 3]);
    const asInt = tf.cast(z, 'int32');
    expect(Array.from(await asInt.data())).toEqual([1, -2, 3]);
    tf.dispose([z, asInt]);
  });
});

describe('fast kernels on the full policy', () => {
  it('give the same loss gradients as the stock kernels (1e-5 relative per tensor)', async () => {
    const { Rng } = await import('@policy-lab/core');
    const { createPolicy } = await import('../model/transformer.js');
    const policy = createPolicy(
      { vocabSize: 20, dim: 32, layers: 2, heads: 4, contextLength: 16, mlpRatio: 4, valueHead: false },
      Rng.seeded(4),
    );
    const rng = Rng.seeded(5);
    const ids = tf.tensor2d(
      Array.from({ length: 6 * 16 }, () => rng.int(0, 19)),
      [6, 16],
      'int32',
    );
    const targets = tf.tensor2d(
      Array.from({ length: 6 * 16 }, () => rng.int(0, 19)),
      [6, 16],
      'int32',
    );
    const gradients = async () => {
      const { grads } = tf.variableGrads(
        () => tf.neg(tf.mean(policy.score(ids, targets).logprobs)) as tf.Scalar,
        policy.variables,
      );
      const out = await Promise.all(
        policy.variables.map(async (v) => (await (grads[v.name] as tf.Tensor).data()) as Float32Array),
      );
      tf.dispose(Object.values(grads));
      return out;
    };
    restoreStockKernels(tf);
    const stock = await gradients();
    installFastKernels(tf);
    const fast = await gradients();
    stock.forEach((s, i) => expect(maxRelativeError(s, fast[i] as Float32Array)).toBeLessThan(1e-5));
    policy.dispose();
  });
});
