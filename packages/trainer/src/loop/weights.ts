import { RunError } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensor } from '../checkpoint/safetensors.js';
import type { PolicyModel } from '../model/policy.js';

/** The model's weights by name (the order of `variables`). */
export async function readWeights(
  policy: Pick<PolicyModel, 'variables'>,
  names: readonly string[],
  prefix = '',
): Promise<Record<string, NamedTensor>> {
  const out: Record<string, NamedTensor> = {};
  for (let i = 0; i < policy.variables.length; i++) {
    const v = policy.variables[i] as tf.Variable;
    out[`${prefix}${names[i]}`] = { shape: [...v.shape], data: (await v.data()) as Float32Array };
  }
  return out;
}

export function writeWeights(
  policy: Pick<PolicyModel, 'variables'>,
  names: readonly string[],
  tensors: Record<string, NamedTensor>,
  file: string,
  prefix = '',
): void {
  policy.variables.forEach((v, i) => {
    const name = `${prefix}${names[i]}`;
    const saved = tensors[name];
    if (!saved) throw new RunError(`${file}: checkpoint has no tensor '${name}' (a different model?)`);
    if (saved.shape.join('x') !== v.shape.join('x'))
      throw new RunError(`${file}: tensor '${name}' has shape ${saved.shape.join('x')}, the model needs ${v.shape.join('x')}`);
    v.assign(tf.tensor(saved.data, v.shape));
  });
}
