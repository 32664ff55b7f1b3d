import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { installFastKernels } from '../kernels/fast-kernels.js';
import { profileWorkload } from './profile.js';
import { referenceTrainStep } from './reference.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
  expect(installFastKernels(tf).kernels).toBe('fast');
});

describe('profileWorkload', () => {
  it("counts a train step's kernel calls by kind and shape, and puts the kernels back", async () => {
    const before = tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc;
    const workload = referenceTrainStep({ dim: 16, batch: 2, layers: 1, context: 8 });
    try {
      const profile = await profileWorkload(workload, { runs: 2, warmup: 1 });
      expect(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc).toBe(before);
      // One block: 8 forward matmuls (one-hot embedding, q, k, v, o, two MLP, output), a weight
      // gradient (TN) for each and an input gradient (NT) for all but the one-hot embedding.
      const matmul = profile.kernels.find((k) => k.name === 'BatchMatMul');
      expect(matmul?.calls).toBe(23);
      const byTranspose = (flags: string) =>
        profile.shapes.filter((k) => k.name.startsWith(`BatchMatMul ${flags} `)).reduce((sum, k) => sum + k.calls, 0);
      expect([byTranspose('NN'), byTranspose('TN'), byTranspose('NT')]).toEqual([8, 8, 7]);
      // The MLP's up projection: [rows * T, D] x [D, 4D].
      expect(profile.shapes.map((k) => k.name)).toContain('BatchMatMul NN [16,16]x[16,64]');
      expect(profile.kernels.find((k) => k.name === 'PolicyLabCausalAttention')?.calls).toBe(1);
      expect(profile.runMs).toHaveLength(2);
      expect(profile.kernelMs).toBeGreaterThan(0);
      expect(profile.kernelMs).toBeLessThanOrEqual(Math.max(...profile.runMs));
      expect(profile.calls).toBe(profile.kernels.reduce((sum, k) => sum + k.calls, 0));
    } finally {
      workload.dispose();
    }
  });

  it('restores the kernels when the workload throws', async () => {
    const before = tf.getKernel('Add', 'wasm')?.kernelFunc;
    let calls = 0;
    const failing = {
      tokens: 1,
      async run() {
        calls += 1;
        if (calls > 1) throw new Error('workload failed');
      },
      dispose() {},
    };
    await expect(profileWorkload(failing, { runs: 2, warmup: 1 })).rejects.toThrow('workload failed');
    expect(tf.getKernel('Add', 'wasm')?.kernelFunc).toBe(before);
  });
});
