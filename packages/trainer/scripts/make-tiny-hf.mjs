#!/usr/bin/env node
// Writes tiny random Hugging Face checkpoints (config.json + safetensors) for trying the loader
// without downloading a model: node packages/trainer/scripts/make-tiny-hf.mjs OUT [KIND...]
// One folder per kind under OUT (llama, qwen2, qwen3, gpt2; all by default), plus llama-sharded-bf16
// and gpt2-f16 when every kind is written. Needs the built package (npm install builds it).
import path from 'node:path';
import { TINY_HF_KINDS, writeTinyHfCheckpoint } from '../dist/index.js';

const [out, ...kinds] = process.argv.slice(2);
if (!out) {
  console.error('usage: make-tiny-hf.mjs OUT [KIND...] (kinds: ' + TINY_HF_KINDS.join(', ') + ')');
  process.exit(2);
}
for (const kind of kinds) {
  if (!TINY_HF_KINDS.includes(kind)) {
    console.error(`unknown kind '${kind}': accepted ${TINY_HF_KINDS.join(', ')}`);
    process.exit(2);
  }
}
const cases =
  kinds.length > 0
    ? kinds.map((kind) => [kind, kind, {}])
    : [
        ...TINY_HF_KINDS.map((kind) => [kind, kind, {}]),
        ['llama-sharded-bf16', 'llama', { sharded: true, dtype: 'BF16' }],
        ['gpt2-f16', 'gpt2', { dtype: 'F16' }],
      ];
for (const [folder, kind, options] of cases) {
  const files = writeTinyHfCheckpoint(path.join(out, folder), kind, options);
  console.log(`${path.join(out, folder)}: ${files.join(', ')}`);
}
