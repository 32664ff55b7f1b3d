import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { createTrajectoryEncoder } from './trajectory-encoder.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

describe('the trajectory encoder', () => {
  it('gives [rows, P, D] contexts that read only the masked tokens (padding and prompt positions change nothing), seeded', () => {
    const encoder = createTrajectoryEncoder({ vocabSize: 9, length: 2, dim: 4 }, 3);
    const same = createTrajectoryEncoder({ vocabSize: 9, length: 2, dim: 4 }, 3);
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 3, maxLength: 3 }),
        (completion, noise) => {
          // Row 0: the completion alone; row 1: noise ahead of it (masked out) and after it (padding).
          const T = completion.length + 6;
          const row0 = [...completion, ...Array(6).fill(0)];
          const row1 = [...noise, ...completion, ...noise];
          const mask0 = row0.map((_, t) => (t < completion.length ? 1 : 0));
          const mask1 = row1.map((_, t) => (t >= 3 && t < 3 + completion.length ? 1 : 0));
          const tokens = tf.tensor2d([row0, row1], [2, T], 'int32');
          const mask = tf.tensor2d([mask0, mask1], [2, T]);
          const z = encoder.encode(tokens, mask);
          expect(z.shape).toEqual([2, 2, 4]);
          const [a, b] = z.arraySync();
          expect((b as number[][]).flat()).toEqual((a as number[][]).flat().map((x) => expect.closeTo(x, 5)));
          expect(same.encode(tokens, mask).arraySync()).toEqual(z.arraySync());
          tf.dispose([tokens, mask]);
        },
      ),
      { numRuns: 30 },
    );
    // Different completions get different contexts, and the encoder is differentiable in every variable.
    const tokens = tf.tensor2d(
      [
        [1, 2, 3],
        [4, 4, 5],
      ],
      [2, 3],
      'int32',
    );
    const mask = tf.ones([2, 3]) as tf.Tensor2D;
    const z = encoder.encode(tokens, mask).arraySync();
    expect(z[0]).not.toEqual(z[1]);
    const { grads } = tf.variableGrads(() => tf.sum(tf.square(encoder.encode(tokens, mask))) as tf.Scalar, encoder.variables);
    for (const v of encoder.variables) expect(tf.sum(tf.abs(grads[v.name] as tf.Tensor)).dataSync()[0]).toBeGreaterThan(0);
  });
});
