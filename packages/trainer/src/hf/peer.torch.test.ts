// The loader against an independent implementation: a plain-PyTorch forward of the same
// architectures (packages/bench/peers/torch_hf_forward.py) reads the same tiny checkpoints and
// its logits must equal ours to 1e-4. Needs python3-torch (.ci/stages/torch-peer.sh installs it);
// without it this file fails, it does not skip.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { temporaryFolder } from '../test-support/tiny.js';
import { HfCausalLM } from './model.js';
import { type TinyHfKind, type TinyHfOptions, writeTinyHfCheckpoint } from './tiny-checkpoints.js';

const python = process.env.POLICY_LAB_TORCH_PYTHON ?? '/usr/bin/python3';
const peer = fileURLToPath(new URL('../../../bench/peers/torch_hf_forward.py', import.meta.url));

const IDS = [
  [1, 17, 42, 5, 9, 33, 60, 2, 11, 48, 30, 21, 7, 63, 0, 12],
  [1, 3, 3, 63, 20, 7, 31, 0, 25, 14, 14, 9, 50, 41, 36, 2],
];

// Each kind in its default files (llama one F32 file, qwen2 sharded, qwen3 BF16, gpt2 F32), two more
// layouts, Llama's attention and MLP biases, and Mistral without grouped-query attention.
const CASES: [TinyHfKind, TinyHfOptions][] = [
  ['llama', {}],
  ['qwen2', {}],
  ['qwen3', {}],
  ['gpt2', {}],
  ['llama', { sharded: true, dtype: 'BF16' }],
  ['gpt2', { dtype: 'F16' }],
  ['llama', { config: { attention_bias: true, mlp_bias: true, tie_word_embeddings: true } }],
  ['llama', { config: { model_type: 'mistral', num_key_value_heads: 4, rope_scaling: null, sliding_window: null } }],
];

beforeAll(async () => {
  await initBackend({ name: 'wasm' }); // the default fast kernels: the path a user's run takes
});

describe('Hugging Face checkpoints against a plain-PyTorch forward', () => {
  it.each(CASES)('%s %j: logits equal to 1e-4', async (kind, options) => {
    const folder = temporaryFolder(`hf-peer-${kind}-`);
    writeTinyHfCheckpoint(folder, kind, options);
    const idsFile = path.join(folder, 'ids.json');
    writeFileSync(idsFile, JSON.stringify(IDS));
    const output = execFileSync(python, [peer, folder, idsFile], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const theirs = (JSON.parse(output) as { logits: number[][][] }).logits.flat(2);
    const model = HfCausalLM.load(folder);
    const input = tf.tensor2d(IDS, [IDS.length, (IDS[0] as number[]).length], 'int32');
    const logits = model.logits(input);
    const ours = (await logits.data()) as Float32Array;
    expect(ours.length).toBe(theirs.length);
    let worst = 0;
    let spread = 0;
    for (let i = 0; i < ours.length; i++) {
      worst = Math.max(worst, Math.abs((ours[i] as number) - (theirs[i] as number)));
      spread = Math.max(spread, Math.abs(theirs[i] as number));
    }
    console.log(
      `${kind} ${JSON.stringify(options)}: max |ours - torch| = ${worst.toExponential(2)} (logits up to ${spread.toFixed(2)})`,
    );
    // Logits of a few units: agreement to 1e-4 is float32 rounding, not a coincidence of small numbers.
    expect(spread).toBeGreaterThan(0.5);
    expect(worst).toBeLessThan(1e-4);
    tf.dispose([input, logits]);
    model.dispose();
  });
});
