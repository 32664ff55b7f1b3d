/**
 * Adam / AdamW with explicit moments and step count, so a checkpoint restores it exactly
 * (tfjs's optimizer recomputes its bias correction on restore). Decoupled weight decay
 * (AdamW) when weightDecay > 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fusedAdamUpdate } from '../kernels/fused-ops.js';

export interface AdamOptions {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
}

export interface AdamState {
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

export class Adam {
  private m: tf.Variable[];
  private v: tf.Variable[];
  step = 0;

  constructor(
    private readonly variables: readonly tf.Variable[],
    private readonly options: AdamOptions,
  ) {
    this.m = variables.map((x) => tf.variable(tf.zerosLike(x), false));
    this.v = variables.map((x) => tf.variable(tf.zerosLike(x), false));
  }

  /** One update with `learningRate` (the schedule's current value). */
  apply(gradients: readonly tf.Tensor[], learningRate = this.options.learningRate): void {
    const { beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, weightDecay = 0 } = this.options;
    this.step += 1;
    const correction1 = 1 - beta1 ** this.step;
    const correction2 = 1 - beta2 ** this.step;
    const constants = { beta1, beta2, epsilon, correction1, correction2, learningRate, weightDecay };
    tf.tidy(() => {
      this.variables.forEach((variable, i) => {
        const g = gradients[i] as tf.Tensor;
        const m = this.m[i] as tf.Variable;
        const v = this.v[i] as tf.Variable;
        // One wasm kernel with the fast kernels (the same arithmetic); tensor ops otherwise.
        const fused = fusedAdamUpdate(variable, m, v, g, constants);
        if (fused) {
          m.assign(fused[1]);
          v.assign(fused[2]);
          variable.assign(fused[0]);
          return;
        }
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const update = tf.div(tf.div(m, correction1), tf.add(tf.sqrt(tf.div(v, correction2)), epsilon));
        let next = tf.sub(variable, tf.mul(update, learningRate));
        if (weightDecay > 0) next = tf.sub(next, tf.mul(variable, learningRate * weightDecay));
        variable.assign(next);
      });
    });
  }

  async state(): Promise<AdamState> {
    return {
      step: this.step,
      m: await Promise.all(this.m.map(async (t) => (await t.data()) as Float32Array)),
      v: await Promise.all(this.v.map(async (t) => (await t.data()) as Float32Array)),
    };
  }

  restore(state: AdamState): void {
    if (state.m.length !== this.m.length) throw new RangeError('Adam state does not match the model');
    this.step = state.step;
    this.m.forEach((t, i) => t.assign(tf.tensor(state.m[i] as Float32Array, t.shape)));
    this.v.forEach((t, i) => t.assign(tf.tensor(state.v[i] as Float32Array, t.shape)));
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}

/** Scales gradients so their global L2 norm is at most `maxNorm`; returns the norm before clipping. */
export function clipByGlobalNorm(gradients: tf.Tensor[], maxNorm: number): { clipped: tf.Tensor[]; norm: tf.Scalar } {
  return tf.tidy(() => {
    // Pairwise adds, not addN: webgpu limits the buffers one kernel may bind (8 on lavapipe).
    const squares = gradients.map((g) => tf.sum(tf.square(g)));
    const norm = tf.sqrt(squares.reduce((total, s) => tf.add(total, s))) as tf.Scalar;
    if (!(maxNorm > 0)) return { clipped: gradients.map((g) => tf.clone(g)), norm };
    const scale = tf.minimum(1, tf.div(maxNorm, tf.maximum(norm, 1e-12)));
    return { clipped: gradients.map((g) => tf.mul(g, scale)), norm };
  }) as { clipped: tf.Tensor[]; norm: tf.Scalar };
}
