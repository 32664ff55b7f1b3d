/**
 * Fused layer norm (alone or with the residual add before it) and causal attention as
 * differentiable ops (tf.customGrad or a registered gradient over our wasm kernels). They return undefined whenever the kernels are not registered
 * (other backend, --kernels stock, or the fused kernels could not start) or the shape is
 * one they do not take; the caller then runs its stock ops, which stay the reference.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ADAM_UPDATE,
  ADD_LAYER_NORM,
  CAUSAL_ATTENTION,
  CAUSAL_ATTENTION_GRAD,
  LAYER_NORM,
  LAYER_NORM_GRAD,
} from './fused-kernels.js';

const registered = (name: string): boolean => tf.getBackend() === 'wasm' && tf.getKernel(name, 'wasm') !== undefined;

const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown> = {}): tf.Tensor[] =>
  tf.engine().runKernel(name, inputs as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as unknown as tf.Tensor[];

type Forward = (...args: (tf.Tensor | ((tensors: tf.Tensor[]) => void))[]) => {
  value: tf.Tensor;
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
};
const customGrad = (f: Forward) => tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]);

/** float32 tensors of exactly `like`'s shape. */
const sameFloat32 = (like: tf.Tensor, ...ts: tf.Tensor[]): boolean =>
  ts.every((t) => t.dtype === 'float32' && t.rank === like.rank && t.shape.every((n, i) => n === like.shape[i]));

/** What the layer norm kernels take: non-empty float32 rows of a width divisible by 4, and gain and bias of that width. */
function layerNormTakes(x: tf.Tensor, gain: tf.Tensor, bias: tf.Tensor): boolean {
  if (x.rank < 1 || x.size === 0 || x.dtype !== 'float32') return false;
  const d = x.shape[x.rank - 1] as number;
  const vector = (t: tf.Tensor) => t.dtype === 'float32' && t.rank === 1 && t.shape[0] === d;
  return d % 4 === 0 && vector(gain) && vector(bias);
}

/** (x - mean) / sqrt(var + eps) * gain + bias over the last axis, or undefined (use the stock ops). */
export function fusedLayerNorm(x: tf.Tensor, gain: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor | undefined {
  if (!registered(LAYER_NORM) || !layerNormTakes(x, gain, bias)) return undefined;
  const op = customGrad((xs, g, b, save) => {
    const [y, stats] = run(LAYER_NORM, { x: xs as tf.Tensor, gain: g as tf.Tensor, bias: b as tf.Tensor }, { eps });
    (save as (t: tf.Tensor[]) => void)([xs as tf.Tensor, g as tf.Tensor, stats as tf.Tensor]);
    return {
      value: y as tf.Tensor,
      gradFunc: (dy, [sx, sg, ss]) =>
        run(LAYER_NORM_GRAD, { x: sx as tf.Tensor, gain: sg as tf.Tensor, dy, stats: ss as tf.Tensor }),
    };
  });
  return op(x, gain, bias);
}

// The residual add + layer norm kernel has two outputs (the stream and its norm), which
// customGrad cannot express: its gradient is registered for the kernel instead. Backward: the
// stream's own gradient dh enters the layer norm kernel's dx (one pass, no separate Add), and x
// and delta, summed in the forward pass, receive the same gradient.
if (!tf.getGradient(ADD_LAYER_NORM)) {
  tf.registerGradient({
    kernelName: ADD_LAYER_NORM,
    inputsToSave: ['gain'],
    outputsToSave: [true, false, true],
    gradFunc: (dys, saved) => {
      const [dh, dy] = dys as tf.Tensor[];
      const [gain, h, stats] = saved as tf.Tensor[];
      const [dx, dgain, dbias] = run(LAYER_NORM_GRAD, { x: h, gain, dy, stats, dres: dh } as Record<string, tf.Tensor>);
      return {
        x: () => dx as tf.Tensor,
        delta: () => (dx as tf.Tensor).clone(), // its own handle: the engine may dispose x's when it accumulates
        gain: () => dgain as tf.Tensor,
        bias: () => dbias as tf.Tensor,
      };
    },
  });
}

/**
 * The residual stream's next value and its layer norm in one kernel: sum = x + delta and
 * normed = layerNorm(sum) over the last axis; undefined when the kernels are not registered or
 * the shapes are not ones it takes (the caller then adds and normalises with stock ops).
 */
export function fusedAddLayerNorm(
  x: tf.Tensor,
  delta: tf.Tensor,
  gain: tf.Tensor,
  bias: tf.Tensor,
  eps: number,
): { sum: tf.Tensor; normed: tf.Tensor } | undefined {
  if (!registered(ADD_LAYER_NORM) || !layerNormTakes(x, gain, bias) || !sameFloat32(x, delta)) return undefined;
  const [sum, normed, stats] = run(ADD_LAYER_NORM, { x, delta, gain, bias }, { eps });
  (stats as tf.Tensor).dispose(); // the gradient keeps its own copy
  return { sum: sum as tf.Tensor, normed: normed as tf.Tensor };
}

export type AttentionLayout = 'bhtd' | 'bthd';

/**
 * softmax(scale * q k^T + causal mask) v per (batch, head), or undefined (use the stock ops).
 * q, k, v: [B, H, T, dh] ('bhtd', i.e. [B*H, T, dh] per batch) or [B, T, H, dh] ('bthd', the
 * projections' own layout, which saves the head transposes); the output has the same layout.
 * Takes float32 and dh % 4 == 0.
 */
export function fusedCausalAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  options: { scale: number; layout: AttentionLayout },
): tf.Tensor | undefined {
  if (!registered(CAUSAL_ATTENTION)) return undefined;
  if (q.rank !== 4 || !sameFloat32(q, q, k, v) || q.size === 0 || (q.shape[3] as number) % 4 !== 0) return undefined;
  const attrs = { scale: options.scale, layout: options.layout };
  const op = customGrad((qs, ks, vs, save) => {
    const [o, p] = run(CAUSAL_ATTENTION, { q: qs as tf.Tensor, k: ks as tf.Tensor, v: vs as tf.Tensor }, attrs);
    (save as (t: tf.Tensor[]) => void)([qs as tf.Tensor, ks as tf.Tensor, vs as tf.Tensor, p as tf.Tensor]);
    return {
      value: o as tf.Tensor,
      gradFunc: (dy, [sq, sk, sv, sp]) =>
        run(CAUSAL_ATTENTION_GRAD, { q: sq, k: sk, v: sv, p: sp, dy } as Record<string, tf.Tensor>, attrs),
    };
  });
  return op(q, k, v);
}

/** Whether fusedCausalAttention would take float32 inputs with head size `dh` now (callers skip building them otherwise). */
export function fusedAttentionAvailable(dh: number): boolean {
  return dh > 0 && dh % 4 === 0 && registered(CAUSAL_ATTENTION);
}

export interface AdamConstants {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** 1 - beta1^t and 1 - beta2^t. */
  correction1: number;
  correction2: number;
  learningRate: number;
  weightDecay: number;
}

/**
 * One Adam/AdamW update of a float32 tensor in one wasm kernel: [p, m, v] after the step, or
 * undefined when the kernel is not registered (the optimizer then runs its tensor ops). The
 * constants are the f32 values tfjs would make scalars of, so the result is the same.
 */
export function fusedAdamUpdate(
  p: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  g: tf.Tensor,
  c: AdamConstants,
): [tf.Tensor, tf.Tensor, tf.Tensor] | undefined {
  if (!registered(ADAM_UPDATE)) return undefined;
  if (!sameFloat32(p, p, m, v, g)) return undefined;
  const attrs = {
    beta1: c.beta1,
    oneMinusBeta1: 1 - c.beta1,
    beta2: c.beta2,
    oneMinusBeta2: 1 - c.beta2,
    correction1: c.correction1,
    correction2: c.correction2,
    eps: c.epsilon,
    lr: c.learningRate,
    lrDecay: c.weightDecay > 0 ? c.learningRate * c.weightDecay : 0,
  };
  return run(ADAM_UPDATE, { p, m, v, g }, attrs) as [tf.Tensor, tf.Tensor, tf.Tensor];
}
