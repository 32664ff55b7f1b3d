/**
 * Types only: the trainer hands its own `tf` namespace to every tensor function, so this
 * package never loads TensorFlow.js at run time (one tfjs instance per process).
 */
import type * as tfCore from '@tensorflow/tfjs-core';

export type Tf = typeof tfCore;
export type Tensor = tfCore.Tensor;

/** Identity in value, zero gradient (tfjs has no stop_gradient op; customGrad gives one). */
export function stopGradient(tf: Tf, x: Tensor): Tensor {
  const blocked = tf.customGrad((...inputs) => ({
    value: tf.clone(inputs[0] as Tensor),
    gradFunc: (dy: Tensor | Tensor[]) => tf.zerosLike(dy as Tensor),
  }));
  return blocked(x) as Tensor;
}
