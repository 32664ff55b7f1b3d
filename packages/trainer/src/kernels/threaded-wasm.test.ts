import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { existsSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installFastKernels, restoreStockKernels } from './fast-kernels.js';
import { fusedAddLayerNorm, fusedCausalAttention, fusedLayerNorm } from './fused-ops.js';
import { prepareThreadedWasm, type ThreadedWasmSetup } from './threaded-wasm.js';

let shim: ThreadedWasmSetup;
const originalBlob = globalThis.Blob;

beforeAll(async () => {
  shim = prepareThreadedWasm(1);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  setThreadsCount(1);
  await tf.setBackend('wasm');
  shim.restoreGlobals();
});

afterAll(() => shim.cleanup());

function stockLayerNorm(x: tf.Tensor, gain: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), gain), bias);
}

/** [B, T, H, dh] causal attention with scale 0.25 through stock ops. */
function stockAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor {
  const heads = (t: tf.Tensor) => tf.transpose(t, [0, 2, 1, 3]);
  const T = q.shape[1] as number;
  const mask = tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9);
  const scores = tf.add(tf.mul(tf.matMul(heads(q), heads(k), false, true), 0.25), mask);
  return tf.transpose(tf.matMul(tf.softmax(scores), heads(v)), [0, 2, 1, 3]);
}

async function values(t: tf.Tensor): Promise<Float32Array> {
  const v = (await t.data()) as Float32Array;
  t.dispose();
  return v;
}

describe('threaded wasm build under Node', () => {
  it('starts with a shared heap and one XNNPACK thread, and the matmul kernel takes a helper thread', () => {
    const backend = tf.backend() as unknown as { wasm: { wasmMemory?: { buffer: unknown } } };
    expect(backend.wasm.wasmMemory?.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(getThreadsCount()).toBe(1);
    const status = installFastKernels(tf, { threads: 2 });
    expect(status).toMatchObject({ kernels: 'fast', threads: 2 });
    expect(status.reason).toBeUndefined();
  });

  it('split matmuls equal the stock kernel and are identical from run to run', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          batch: fc.integer({ min: 1, max: 4 }),
          m: fc.integer({ min: 1, max: 70 }),
          k: fc.integer({ min: 1, max: 40 }),
          n: fc.integer({ min: 1, max: 70 }),
          ta: fc.boolean(),
          tb: fc.boolean(),
          seed: fc.integer(),
        }),
        async ({ batch, m, k, n, ta, tb, seed }) => {
          fc.pre(!(ta && tb));
          const a = tf.randomNormal([batch, ...(ta ? [k, m] : [m, k])], 0, 1, 'float32', seed);
          const b = tf.randomNormal([batch, ...(tb ? [n, k] : [k, n])], 0, 1, 'float32', seed + 1);
          restoreStockKernels(tf);
          const stock = await values(tf.matMul(a, b, ta, tb));
          installFastKernels(tf, { threads: 2 });
          const first = await values(tf.matMul(a, b, ta, tb));
          const second = await values(tf.matMul(a, b, ta, tb));
          tf.dispose([a, b]);
          expect(second).toEqual(first);
          let scale = 1e-6;
          for (const v of stock) scale = Math.max(scale, Math.abs(v));
          for (let i = 0; i < stock.length; i++)
            expect(Math.abs((first[i] as number) - (stock[i] as number)) / scale).toBeLessThan(1e-5);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('split fused kernels (layer norm, residual add + layer norm, attention, Sum, Exp) equal the stock ops and repeat exactly', async () => {
    const x = tf.randomNormal([32 * 33, 64], 0, 1, 'float32', 1); // rows not a multiple of the 64-row block
    const delta = tf.randomNormal([32 * 33, 64], 0.2, 1, 'float32', 8);
    const gain = tf.randomNormal([64], 1, 0.3, 'float32', 2);
    const bias = tf.randomNormal([64], 0, 0.3, 'float32', 3);
    const [q, k, v] = [4, 5, 6].map((seed) => tf.randomNormal([8, 37, 4, 16], 0, 1, 'float32', seed)) as tf.Tensor[];
    const w = tf.randomNormal([8, 37, 4, 16], 0, 1, 'float32', 7);
    const flat = (ts: tf.Tensor[]) => tf.concat(ts.map((t) => tf.reshape(t, [-1])));
    const all = (fused: boolean) =>
      tf.tidy(() => {
        const ln = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
          fused ? (fusedLayerNorm(a, g, b, 1e-5) as tf.Tensor) : stockLayerNorm(a, g, b);
        const at = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          fused ? (fusedCausalAttention(a, b, c, { scale: 0.25, layout: 'bthd' }) as tf.Tensor) : stockAttention(a, b, c);
        const lnGrads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(ln(a, g, b), tf.sin(x))))([
          x,
          gain,
          bias,
        ]);
        const addLn = (a: tf.Tensor, d: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
          const out = fused ? fusedAddLayerNorm(a, d, g, b, 1e-5) : undefined;
          const sum = out?.sum ?? tf.add(a, d);
          return tf.concat([sum, out?.normed ?? stockLayerNorm(sum, g, b)]);
        };
        const addLnGrads = tf.grads((a: tf.Tensor, d: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(addLn(a, d, g, b), tf.cos(tf.concat([x, delta])))),
        )([x, delta, gain, bias]);
        const atGrads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(at(a, b, c), w)))([
          q,
          k,
          v,
        ] as tf.Tensor[]);
        return flat([
          ln(x, gain, bias),
          ...lnGrads,
          addLn(x, delta, gain, bias),
          ...addLnGrads,
          at(q as tf.Tensor, k as tf.Tensor, v as tf.Tensor),
          ...atGrads,
          tf.sum(x, 0),
          tf.exp(x),
        ]);
      });
    restoreStockKernels(tf);
    const stock = await values(all(false));
    installFastKernels(tf, { threads: 2 });
    const first = await values(all(true));
    const second = await values(all(true));
    expect(second).toEqual(first);
    let scale = 1e-6;
    for (const value of stock) scale = Math.max(scale, Math.abs(value));
    let worst = 0;
    for (let i = 0; i < stock.length; i++) worst = Math.max(worst, Math.abs((first[i] as number) - (stock[i] as number)) / scale);
    expect(worst).toBeLessThan(1e-5);
    tf.dispose([x, delta, gain, bias, q, k, v, w] as tf.Tensor[]);
  });

  it('full-policy gradients: fast (2 threads) equal stock to 1e-5 per tensor and repeat exactly', async () => {
    const { Rng } = await import('@policy-lab/core');
    const { createPolicy } = await import('../model/transformer.js');
    const config = { vocabSize: 24, dim: 64, layers: 2, heads: 4, contextLength: 32, mlpRatio: 4, valueHead: false };
    const policy = createPolicy(config, Rng.seeded(7));
    const rng = Rng.seeded(8);
    const tokens = () =>
      tf.tensor2d(
        Array.from({ length: 32 * 32 }, () => rng.int(0, 23)),
        [32, 32],
        'int32',
      );
    const [ids, targets] = [tokens(), tokens()];
    const gradients = async () => {
      const { grads } = tf.variableGrads(
        () => tf.neg(tf.mean(policy.score(ids, targets).logprobs)) as tf.Scalar,
        policy.variables,
      );
      const out = await Promise.all(policy.variables.map((variable) => values(grads[variable.name] as tf.Tensor)));
      return out;
    };
    restoreStockKernels(tf);
    const stock = await gradients();
    installFastKernels(tf, { threads: 2 });
    const first = await gradients();
    const second = await gradients();
    expect(second).toEqual(first);
    stock.forEach((s, i) => {
      let scale = 1e-6;
      for (const value of s) scale = Math.max(scale, Math.abs(value));
      const f = first[i] as Float32Array;
      for (let j = 0; j < s.length; j++) expect(Math.abs((f[j] as number) - (s[j] as number)) / scale).toBeLessThan(1e-5);
    });
    tf.dispose([ids, targets]);
    policy.dispose();
  });

  it('wrote the worker scripts to its folder and removes them on cleanup', () => {
    expect(readdirSync(shim.directory).length).toBeGreaterThan(0);
    const probe = prepareThreadedWasm(1);
    probe.restoreGlobals();
    expect(globalThis.Blob).toBe(originalBlob);
    expect(existsSync(probe.directory)).toBe(true);
    probe.cleanup();
    expect(existsSync(probe.directory)).toBe(false);
  });
});
