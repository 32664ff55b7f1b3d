import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { existsSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installFastKernels, restoreStockKernels } from './fast-kernels.js';
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
