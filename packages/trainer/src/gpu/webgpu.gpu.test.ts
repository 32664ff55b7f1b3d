/**
 * WebGPU parity: every op family the policy uses, run on webgpu and on cpu from the same
 * inputs. Runs in the CI stage that installs lavapipe (.ci/stages/webgpu.sh). When the
 * stage expects an adapter (POLICY_LAB_EXPECT_WEBGPU=1) and none is found, these tests FAIL.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initWebgpu, type WebgpuHandle } from './webgpu.js';

let handle: WebgpuHandle | undefined;
let startError: Error | undefined;

beforeAll(async () => {
  try {
    handle = await initWebgpu(tf);
  } catch (error) {
    startError = error as Error;
  }
});

afterAll(() => handle?.release());

type Inputs = Record<string, { shape: number[]; values: number[] }>;

/** Deterministic inputs (a tiny LCG: the tests must not depend on a backend's RNG). */
function inputs(shapes: Record<string, number[]>, seed = 1): Inputs {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
  return Object.fromEntries(
    Object.entries(shapes).map(([name, shape]) => [
      name,
      { shape, values: Array.from({ length: shape.reduce((a, b) => a * b, 1) }, next) },
    ]),
  );
}

async function runOn(
  backend: string,
  given: Inputs,
  op: (t: Record<string, tf.Tensor>) => tf.Tensor | tf.Tensor[],
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const tensors = Object.fromEntries(Object.entries(given).map(([k, v]) => [k, tf.tensor(v.values, v.shape)]));
  const out = op(tensors);
  const list = Array.isArray(out) ? out : [out];
  const values = await Promise.all(list.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose([...list, ...Object.values(tensors)]);
  return values;
}

async function parity(
  given: Inputs,
  op: (t: Record<string, tf.Tensor>) => tf.Tensor | tf.Tensor[],
  tolerance: { abs?: number; rel?: number },
) {
  const cpu = await runOn('cpu', given, op);
  const gpu = await runOn('webgpu', given, op);
  expect(gpu.length).toBe(cpu.length);
  cpu.forEach((expected, index) => {
    const actual = gpu[index] as Float32Array;
    expect(actual.length).toBe(expected.length);
    let scale = 1e-12;
    for (const v of expected) scale = Math.max(scale, Math.abs(v));
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)));
    if (tolerance.abs !== undefined) expect(worst).toBeLessThan(tolerance.abs);
    if (tolerance.rel !== undefined) expect(worst / scale).toBeLessThan(tolerance.rel);
  });
}

describe('webgpu backend', () => {
  it('starts on an adapter and records it', () => {
    if (startError) throw startError;
    expect(handle?.adapter.vendor).toBeTruthy();
    expect(typeof handle?.adapter.isFallbackAdapter).toBe('boolean');
  });

  it('matches cpu on the forward ops of the policy', async () => {
    if (startError) throw startError;
    const x = inputs({ x: [2, 8, 16], w: [16, 32], g: [16], q: [2, 4, 8, 4], k: [2, 4, 8, 4], ids: [2, 8] });
    x.ids = { shape: [2, 8], values: x.ids!.values.map((v) => Math.floor((v + 0.5) * 16)) };
    await parity(x, (t) => tf.matMul(tf.reshape(t.x!, [16, 16]), t.w!), { abs: 1e-4 });
    await parity(x, (t) => tf.matMul(t.q!, t.k!, false, true), { abs: 1e-4 });
    await parity(x, (t) => tf.matMul(t.q!, t.k!, true, false), { abs: 1e-4 });
    await parity(x, (t) => [tf.softmax(t.x!), tf.logSoftmax(t.x!), tf.relu(t.x!), tf.exp(t.x!), tf.tanh(t.x!)], { abs: 1e-4 });
    await parity(
      x,
      (t) => {
        const { mean, variance } = tf.moments(t.x!, -1, true);
        return tf.mul(tf.div(tf.sub(t.x!, mean), tf.sqrt(tf.add(variance, 1e-5))), t.g!);
      },
      { abs: 1e-4 },
    );
    await parity(x, (t) => tf.matMul(tf.oneHot(tf.cast(tf.reshape(t.ids!, [-1]), 'int32'), 16), tf.reshape(t.x!, [16, 16])), {
      abs: 1e-4,
    });
    await parity(x, (t) => [tf.sum(t.x!, -1), tf.max(t.x!, -1), tf.mean(t.x!), tf.transpose(t.q!, [0, 2, 1, 3])], { abs: 1e-4 });
    await parity(x, (t) => tf.where(tf.greater(t.x!, 0), t.x!, tf.mul(t.x!, -2)), { abs: 1e-4 });
  });

  it('matches cpu on gradients of a masked policy-gradient loss', async () => {
    if (startError) throw startError;
    const x = inputs({ x: [4, 6, 8], w: [8, 8], adv: [4, 6] }, 7);
    await parity(
      x,
      (t) => {
        const f = (w: tf.Tensor) => {
          const logits = tf.matMul(tf.reshape(t.x!, [24, 8]), w);
          const logp = tf.logSoftmax(logits);
          const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.fill([24], 3, 'int32'), 8)), -1);
          return tf.neg(tf.mean(tf.mul(picked, tf.reshape(t.adv!, [24]))));
        };
        const { value, grad } = tf.valueAndGrad(f)(t.w!);
        return [value, grad];
      },
      { rel: 1e-5 },
    );
  });
});

describe('webgpu on the policy', () => {
  /** Loss gradients and the weights after one Adam step, for the same seeded policy and batch. */
  async function policyStep(
    backend: string,
  ): Promise<{ gradients: Float32Array[]; after: Float32Array[]; logprobs: Float32Array }> {
    await tf.setBackend(backend);
    const { Rng } = await import('@policy-lab/core');
    const { createPolicy } = await import('../model/transformer.js');
    const { Adam } = await import('../optim/adam.js');
    const { ppoClip } = await import('../losses/ppo-clip.js');
    const policy = createPolicy(
      { vocabSize: 24, dim: 32, layers: 2, heads: 4, contextLength: 16, mlpRatio: 4, valueHead: false },
      Rng.seeded(8),
    );
    const rng = Rng.seeded(9);
    const ids = tf.tensor2d(
      Array.from({ length: 4 * 12 }, () => rng.int(0, 23)),
      [4, 12],
      'int32',
    );
    const targets = tf.tensor2d(
      Array.from({ length: 4 * 12 }, () => rng.int(0, 23)),
      [4, 12],
      'int32',
    );
    const advantages = tf.tensor2d(
      Array.from({ length: 4 * 12 }, (_, i) => (i % 5) - 2),
      [4, 12],
    );
    const logprobs = (await policy.score(ids, targets).logprobs.data()) as Float32Array;
    const { grads } = tf.variableGrads(() => {
      const scored = policy.score(ids, targets);
      return ppoClip().loss(
        {
          logprobs: scored.logprobs,
          oldLogprobs: tf.zeros([4, 12]),
          advantages,
          mask: tf.ones([4, 12]),
          weights: tf.ones([4]),
          aggregation: 'token-mean',
          normLength: 12,
        },
        tf,
      ).loss as tf.Scalar;
    }, policy.variables);
    const gradients = await Promise.all(
      policy.variables.map(async (v) => (await (grads[v.name] as tf.Tensor).data()) as Float32Array),
    );
    new Adam(policy.variables, { learningRate: 1e-3 }).apply(policy.variables.map((v) => grads[v.name] as tf.Tensor));
    const after = await Promise.all(policy.variables.map(async (v) => (await v.data()) as Float32Array));
    policy.dispose();
    return { gradients, after, logprobs };
  }

  it('matches cpu on log-probs, loss gradients (1e-5 relative) and one Adam step', async () => {
    if (startError) throw startError;
    const cpu = await policyStep('cpu');
    const gpu = await policyStep('webgpu');
    const worst = (a: Float32Array, b: Float32Array) => {
      let scale = 1e-12;
      let diff = 0;
      for (let i = 0; i < a.length; i++) {
        scale = Math.max(scale, Math.abs(a[i] as number));
        diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
      }
      return { diff, relative: diff / scale };
    };
    expect(worst(cpu.logprobs, gpu.logprobs).diff).toBeLessThan(1e-4);
    cpu.gradients.forEach((g, i) => expect(worst(g, gpu.gradients[i] as Float32Array).relative).toBeLessThan(1e-5));
    // One step moves each weight by about the learning rate; compare the steps, not the trajectories.
    cpu.after.forEach((w, i) => expect(worst(w, gpu.after[i] as Float32Array).diff).toBeLessThan(2e-4));
  });
});
