import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam } from '../optim/adam.js';
import { installFastKernels, restoreStockKernels } from './fast-kernels.js';
import { fusedKernels, type Kernels } from './fused-kernels.js';
import { type AttentionLayout, fusedAdamUpdate, fusedAddLayerNorm, fusedCausalAttention, fusedLayerNorm } from './fused-ops.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
});

/** Largest difference relative to the largest magnitude of the reference. */
function maxRelativeError(reference: Float32Array, other: Float32Array): number {
  let scale = 1e-6;
  for (const v of reference) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < reference.length; i++)
    worst = Math.max(worst, Math.abs((reference[i] as number) - (other[i] as number)) / scale);
  return worst;
}

const stockLayerNorm = (x: tf.Tensor, gain: tf.Tensor, bias: tf.Tensor, eps: number) => {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), gain), bias);
};

const stockAttention = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, scale: number, layout: AttentionLayout) => {
  const toHeads = (t: tf.Tensor) => (layout === 'bthd' ? tf.transpose(t, [0, 2, 1, 3]) : t);
  const T = q.shape[layout === 'bthd' ? 1 : 2] as number;
  const mask = tf.linalg.bandPart(tf.ones([T, T]), -1, 0);
  const scores = tf.add(tf.mul(tf.matMul(toHeads(q), toHeads(k), false, true), scale), tf.mul(tf.sub(1, mask), -1e9));
  const out = tf.matMul(tf.softmax(scores), toHeads(v));
  return layout === 'bthd' ? tf.transpose(out, [0, 2, 1, 3]) : out;
};

/** Value and gradients of sum(f(inputs) * w) for a fixed random w, flattened. */
async function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], seed: number): Promise<Float32Array[]> {
  const out = tf.tidy(() => {
    const y = f(...inputs);
    const w = tf.randomNormal(y.shape, 0, 1, 'float32', seed);
    const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), w)))(inputs);
    return [y, ...grads];
  });
  const values = await Promise.all(out.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose(out);
  return values;
}

describe('fused layer norm', () => {
  it('matches the stock ops in value and gradients on random shapes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          rows: fc.integer({ min: 1, max: 150 }),
          d4: fc.integer({ min: 1, max: 40 }),
          lead: fc.boolean(),
          shift: fc.double({ min: -3, max: 3, noNaN: true }),
          seed: fc.integer({ min: 0, max: 1e6 }),
        }),
        async ({ rows, d4, lead, shift, seed }) => {
          const d = 4 * d4;
          const shape = lead && rows % 2 === 0 ? [2, rows / 2, d] : [rows, d];
          const x = tf.add(tf.randomNormal(shape, 0, 2, 'float32', seed), shift);
          const gain = tf.randomNormal([d], 1, 0.5, 'float32', seed + 1);
          const bias = tf.randomNormal([d], 0, 0.5, 'float32', seed + 2);
          restoreStockKernels(tf);
          expect(fusedLayerNorm(x, gain, bias, 1e-5)).toBeUndefined();
          const stock = await valueAndGrads((a, g, b) => stockLayerNorm(a, g, b, 1e-5), [x, gain, bias], seed + 3);
          installFastKernels(tf);
          const fused = await valueAndGrads((a, g, b) => fusedLayerNorm(a, g, b, 1e-5) as tf.Tensor, [x, gain, bias], seed + 3);
          stock.forEach((s, i) => expect(maxRelativeError(s, fused[i] as Float32Array)).toBeLessThan(1e-5));
          tf.dispose([x, gain, bias]);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('hands back shapes it does not take (d % 4 != 0, other dtypes, mismatched gain)', () => {
    installFastKernels(tf);
    const x = tf.ones([3, 6]);
    expect(fusedLayerNorm(x, tf.ones([6]), tf.zeros([6]), 1e-5)).toBeUndefined();
    const y = tf.ones([3, 8]);
    expect(fusedLayerNorm(y, tf.ones([4]), tf.zeros([8]), 1e-5)).toBeUndefined();
    expect(fusedLayerNorm(tf.ones([3, 8], 'int32'), tf.ones([8]), tf.zeros([8]), 1e-5)).toBeUndefined();
    expect(fusedLayerNorm(y, tf.ones([8]), tf.zeros([8]), 1e-5)?.shape).toEqual([3, 8]);
  });
});

describe('fused residual add + layer norm', () => {
  type Use = 'both' | 'normed';
  // What the caller reads decides which outputs carry a gradient: the transformer reads both,
  // except after its last layer, where the stream is unread (its gradient comes in as zeros).
  const pick = (use: Use, sum: tf.Tensor, normed: tf.Tensor) => (use === 'both' ? tf.concat([sum, normed]) : normed);
  const stockAddNorm = (use: Use) => (x: tf.Tensor, delta: tf.Tensor, gain: tf.Tensor, bias: tf.Tensor) => {
    const sum = tf.add(x, delta);
    return pick(use, sum, stockLayerNorm(sum, gain, bias, 1e-5));
  };
  const fusedAddNorm = (use: Use) => (x: tf.Tensor, delta: tf.Tensor, gain: tf.Tensor, bias: tf.Tensor) => {
    const out = fusedAddLayerNorm(x, delta, gain, bias, 1e-5);
    if (!out) throw new Error('the fused kernel did not take the shape');
    return pick(use, out.sum, out.normed);
  };

  it('matches add then layer norm in value and in the gradients of x, delta, gain and bias', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          rows: fc.integer({ min: 1, max: 300 }),
          d4: fc.integer({ min: 1, max: 40 }),
          use: fc.constantFrom<Use>('both', 'normed'),
          seed: fc.integer({ min: 0, max: 1e6 }),
        }),
        async ({ rows, d4, use, seed }) => {
          const d = 4 * d4;
          const x = tf.randomNormal([rows, d], 0, 2, 'float32', seed);
          const delta = tf.randomNormal([rows, d], 0.5, 1, 'float32', seed + 1);
          const gain = tf.randomNormal([d], 1, 0.5, 'float32', seed + 2);
          const bias = tf.randomNormal([d], 0, 0.5, 'float32', seed + 3);
          restoreStockKernels(tf);
          expect(fusedAddLayerNorm(x, delta, gain, bias, 1e-5)).toBeUndefined();
          const stock = await valueAndGrads(stockAddNorm(use), [x, delta, gain, bias], seed + 4);
          installFastKernels(tf);
          const fused = await valueAndGrads(fusedAddNorm(use), [x, delta, gain, bias], seed + 4);
          stock.forEach((s, i) => expect(maxRelativeError(s, fused[i] as Float32Array)).toBeLessThan(1e-5));
          tf.dispose([x, delta, gain, bias]);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('hands back what it does not take (d % 4 != 0, delta of another shape, other dtypes)', () => {
    installFastKernels(tf);
    const gain = tf.ones([8]);
    const bias = tf.zeros([8]);
    expect(fusedAddLayerNorm(tf.ones([3, 6]), tf.ones([3, 6]), tf.ones([6]), tf.zeros([6]), 1e-5)).toBeUndefined();
    expect(fusedAddLayerNorm(tf.ones([3, 8]), tf.ones([1, 8]), gain, bias, 1e-5)).toBeUndefined();
    expect(fusedAddLayerNorm(tf.ones([3, 8]), tf.ones([3, 8], 'int32'), gain, bias, 1e-5)).toBeUndefined();
    const out = fusedAddLayerNorm(tf.ones([3, 8]), tf.ones([3, 8]), gain, bias, 1e-5);
    expect(out?.sum.shape).toEqual([3, 8]);
    expect(Array.from(out?.sum.dataSync() ?? [])).toEqual(new Array(24).fill(2));
  });

  it('leaks no tensor in a forward and backward pass', () => {
    installFastKernels(tf);
    const x = tf.randomNormal([64, 16], 0, 1, 'float32', 1);
    const delta = tf.randomNormal([64, 16], 0, 1, 'float32', 2);
    const gain = tf.ones([16]);
    const bias = tf.zeros([16]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(fusedAddNorm('both')(a, b, gain, bias)))([x, delta]);
      tf.dispose(grads);
      tf.tidy(() => {
        fusedAddNorm('normed')(x, delta, gain, bias);
      });
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('fused causal attention', () => {
  it('matches the stock ops in value and gradients on random shapes and both layouts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          batch: fc.integer({ min: 1, max: 3 }),
          heads: fc.integer({ min: 1, max: 4 }),
          time: fc.integer({ min: 1, max: 37 }),
          dh4: fc.integer({ min: 1, max: 9 }),
          layout: fc.constantFrom<AttentionLayout>('bhtd', 'bthd'),
          seed: fc.integer({ min: 0, max: 1e6 }),
        }),
        async ({ batch, heads, time, dh4, layout, seed }) => {
          const dh = 4 * dh4;
          const shape = layout === 'bhtd' ? [batch, heads, time, dh] : [batch, time, heads, dh];
          const [q, k, v] = [0, 1, 2].map((i) => tf.randomNormal(shape, 0, 1, 'float32', seed + i)) as [
            tf.Tensor,
            tf.Tensor,
            tf.Tensor,
          ];
          const scale = 1 / Math.sqrt(dh);
          restoreStockKernels(tf);
          expect(fusedCausalAttention(q, k, v, { scale, layout })).toBeUndefined();
          const stock = await valueAndGrads((a, b, c) => stockAttention(a, b, c, scale, layout), [q, k, v], seed + 3);
          installFastKernels(tf);
          const fused = await valueAndGrads(
            (a, b, c) => fusedCausalAttention(a, b, c, { scale, layout }) as tf.Tensor,
            [q, k, v],
            seed + 3,
          );
          stock.forEach((s, i) => expect(maxRelativeError(s, fused[i] as Float32Array)).toBeLessThan(1e-5));
          tf.dispose([q, k, v]);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('hands back shapes it does not take (dh % 4 != 0, mismatched or non-4-D inputs)', () => {
    installFastKernels(tf);
    const opts = { scale: 0.5, layout: 'bhtd' as const };
    const odd = tf.ones([1, 2, 5, 6]);
    expect(fusedCausalAttention(odd, odd, odd, opts)).toBeUndefined();
    const a = tf.ones([1, 2, 5, 8]);
    expect(fusedCausalAttention(a, tf.ones([1, 2, 4, 8]), a, opts)).toBeUndefined();
    const three = tf.ones([2, 5, 8]);
    expect(fusedCausalAttention(three, three, three, opts)).toBeUndefined();
    expect(fusedCausalAttention(a, a, a, opts)?.shape).toEqual([1, 2, 5, 8]);
  });
});

describe('fused Adam update', () => {
  /** Parameters and moments after `steps` Adam updates of random tensors with random gradients. */
  async function train(shapes: number[][], weightDecay: number, steps: number, seed: number): Promise<number[][]> {
    // tfjs treats seed 0 as "no seed", so every seed here is at least 1 (both calls draw the same tensors).
    const variables = shapes.map((shape, i) => tf.variable(tf.randomNormal(shape, 0, 1, 'float32', seed + i)));
    const adam = new Adam(variables, { learningRate: 3e-3, weightDecay });
    for (let step = 0; step < steps; step++) {
      const grads = shapes.map((shape, i) => tf.randomNormal(shape, 0, 0.1, 'float32', seed + 100 * (step + 1) + i));
      adam.apply(grads, 3e-3 / (step + 1)); // a schedule: the rate may change every step
      tf.dispose(grads);
    }
    const state = await adam.state();
    const out = [...(await Promise.all(variables.map(async (v) => Array.from(await v.data())))), ...state.m, ...state.v].map(
      (a) => Array.from(a),
    );
    adam.dispose();
    tf.dispose(variables);
    return out;
  }

  it("gives exactly the stock optimizer's parameters and moments, with and without weight decay", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          shapes: fc.array(fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 }), {
            minLength: 1,
            maxLength: 4,
          }),
          weightDecay: fc.constantFrom(0, 0.01, 0.1),
          seed: fc.integer({ min: 1, max: 1e6 }),
        }),
        async ({ shapes, weightDecay, seed }) => {
          restoreStockKernels(tf);
          const stock = await train(shapes, weightDecay, 3, seed);
          installFastKernels(tf);
          const fused = await train(shapes, weightDecay, 3, seed);
          expect(fused).toEqual(stock);
        },
      ),
      { numRuns: 20 },
    );
  });

  it('is taken only with the kernels registered and tensors of one float32 shape', () => {
    const c = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, correction1: 0.1, correction2: 0.001, learningRate: 1, weightDecay: 0 };
    const [p, m, v, g] = [1, 2, 3, 4].map((k) => tf.fill([5], k));
    restoreStockKernels(tf);
    expect(fusedAdamUpdate(p as tf.Tensor, m as tf.Tensor, v as tf.Tensor, g as tf.Tensor, c)).toBeUndefined();
    installFastKernels(tf);
    expect(fusedAdamUpdate(p as tf.Tensor, m as tf.Tensor, v as tf.Tensor, tf.ones([4]), c)).toBeUndefined();
    expect(fusedAdamUpdate(p as tf.Tensor, m as tf.Tensor, v as tf.Tensor, tf.ones([5], 'int32'), c)).toBeUndefined();
    const out = fusedAdamUpdate(p as tf.Tensor, m as tf.Tensor, v as tf.Tensor, g as tf.Tensor, c);
    // m' = 2 * 0.9 + 4 * 0.1 = 2.2; v' = 3 * 0.999 + 16 * 0.001 = 3.013; p' = 1 - (2.2 / 0.1) / sqrt(3.013 / 0.001)
    const [np, nm, nv] = (out ?? []).map((t) => t.dataSync()[0] as number);
    expect(nm).toBeCloseTo(2.2, 5);
    expect(nv).toBeCloseTo(3.013, 4);
    expect(np).toBeCloseTo(1 - 22 / Math.sqrt(3013), 4);
  });
});

describe('fused Sum and Exp kernels', () => {
  it('match the stock kernels for random shapes and axes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          shape: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 4 }),
          lead: fc.integer({ min: 0, max: 4 }),
          keepDims: fc.boolean(),
          negative: fc.boolean(),
          seed: fc.integer({ min: 0, max: 1e6 }),
        }),
        async ({ shape, lead, keepDims, negative, seed }) => {
          const x = tf.randomNormal(shape, 0, 3, 'float32', seed);
          const r = Math.min(lead, shape.length);
          const axes = Array.from({ length: r }, (_, i) => (negative ? i - shape.length : i));
          const ops = () =>
            tf.concat([tf.reshape(tf.sum(x, axes.length ? axes : undefined, keepDims), [-1]), tf.reshape(tf.exp(x), [-1])]);
          restoreStockKernels(tf);
          const stockOut = ops();
          const stock = (await stockOut.data()) as Float32Array;
          installFastKernels(tf);
          const fastOut = ops();
          const fast = (await fastOut.data()) as Float32Array;
          expect(fastOut.shape).toEqual(stockOut.shape);
          expect(maxRelativeError(stock, fast)).toBeLessThan(1e-5);
          tf.dispose([x, stockOut, fastOut]);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('exp keeps the limits of expf: 0 far below, infinity above, NaN through', async () => {
    installFastKernels(tf);
    const values = [-1e9, -200, -104, -87.5, 0, 1, 88.7, 89, 1e9, Number.NaN];
    const y = tf.exp(tf.tensor1d(values));
    const out = Array.from(await y.data());
    expect(out[0]).toBe(0);
    expect(out[1]).toBe(0);
    expect(out[4]).toBe(1);
    expect(out[5]).toBeCloseTo(Math.E, 5);
    expect(Math.abs((out[3] as number) / Math.exp(-87.5) - 1)).toBeLessThan(1e-5);
    expect(Math.abs((out[6] as number) / Math.exp(88.7) - 1)).toBeLessThan(1e-5);
    expect(out[7]).toBe(Number.POSITIVE_INFINITY);
    expect(out[8]).toBe(Number.POSITIVE_INFINITY);
    expect(out[9]).toBeNaN();
  });
});

describe('fused kernels that cannot start', () => {
  it('refuse a kernel module without the fused exports (a stale build), so installFastKernels keeps the rest', () => {
    const stale = { exports: { matmul: () => {}, transpose: () => {} } } as unknown as Kernels;
    expect(() => fusedKernels(stale, () => undefined)).toThrow(/rebuild the trainer/);
  });
});
