/**
 * Tiny random Hugging Face checkpoints (config.json + safetensors, transformers' names and
 * layouts) for testing the loading path without downloading a model: each kind exercises one
 * part of the architectures a real model folder may need. Weights are seeded draws from our
 * Rng, one stream per tensor name, so a file is the same on every machine.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Rng, UsageError } from '@policy-lab/core';
import { encodeSafetensors, type FloatDtype, type NamedTensor, writeFileAtomic } from '../checkpoint/safetensors.js';
import { parseHfConfig } from './config.js';
import { HfTokenizer } from './tokenizer.js';
import { INDEX_FILE, SINGLE_FILE, storedName, tensorSpecs } from './weights.js';

export const TINY_HF_KINDS = ['llama', 'qwen2', 'qwen3', 'gpt2'] as const;
export type TinyHfKind = (typeof TINY_HF_KINDS)[number];

export interface TinyHfOptions {
  seed?: number;
  /** Split the tensors over two files listed by model.safetensors.index.json. */
  sharded?: boolean;
  dtype?: FloatDtype;
  /** Keys merged over the kind's config.json (another model_type of the family, a flag). */
  config?: Record<string, unknown>;
  /**
   * A folder whose tokenizer.json (and tokenizer_config.json) are copied beside the weights, the
   * vocabulary sized to the tokenizer's ids and its eos (and bos) ids written into config.json,
   * so that the checkpoint can be trained on an environment (`bench train --model`).
   */
  tokenizerFrom?: string;
  /**
   * With `tokenizerFrom`: 'chatml' adds ChatML's <|im_start|> and <|im_end|> as special tokens of
   * the copied tokenizer.json and writes Qwen2-Instruct's chat template (CHATML_TEMPLATE) into
   * its tokenizer_config.json, so the checkpoint is prompted as a chat model.
   */
  chatTemplate?: 'chatml';
}

/**
 * Qwen2-Instruct's chat template (ChatML; Qwen/Qwen2-0.5B-Instruct's tokenizer_config.json): a
 * default system message when the conversation has none, each message between <|im_start|>role
 * and <|im_end|>, and an open assistant turn for generation.
 */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/** ChatML's markers, as special added tokens after the copied vocabulary's ids. */
const CHATML_TOKENS = ['<|im_start|>', '<|im_end|>'];

/**
 * What each kind exercises: llama: grouped-query attention (4 query heads over 2 key/value
 * heads), untied lm_head, llama3 rope scaling; qwen2: q/k/v bias, tied embeddings, linear rope
 * scaling; qwen3: q/k norms and an explicit head_dim unequal to hidden/heads; gpt2: learned
 * positions, LayerNorm, GELU-new, Conv1D layout, tied embeddings.
 */
export const TINY_HF_DEFAULTS: Readonly<
  Record<TinyHfKind, Required<Omit<TinyHfOptions, 'seed' | 'config' | 'tokenizerFrom' | 'chatTemplate'>>>
> = {
  llama: { sharded: false, dtype: 'F32' },
  qwen2: { sharded: true, dtype: 'F32' },
  qwen3: { sharded: false, dtype: 'BF16' },
  gpt2: { sharded: false, dtype: 'F32' },
};

const TORCH_DTYPE: Record<FloatDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/** The config.json of a tiny checkpoint of `kind`. */
export function tinyHfConfig(kind: TinyHfKind, dtype: FloatDtype = 'F32'): Record<string, unknown> {
  const torchDtype = TORCH_DTYPE[dtype];
  if (kind === 'gpt2')
    return {
      architectures: ['GPT2LMHeadModel'],
      model_type: 'gpt2',
      vocab_size: 64,
      n_embd: 32,
      n_layer: 2,
      n_head: 4,
      n_inner: null,
      n_positions: 64,
      activation_function: 'gelu_new',
      layer_norm_epsilon: 1e-5,
      tie_word_embeddings: true,
      bos_token_id: 1,
      eos_token_id: 2,
      torch_dtype: torchDtype,
    };
  const common = {
    vocab_size: 64,
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 64,
    hidden_act: 'silu',
    rms_norm_eps: 1e-6,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: torchDtype,
  };
  if (kind === 'llama')
    return {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      ...common,
      rope_theta: 500000,
      // Llama 3.1's scheme on a short original context, so the smoothing band covers some frequencies.
      rope_scaling: {
        rope_type: 'llama3',
        factor: 8,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 16,
      },
      attention_bias: false,
      mlp_bias: false,
      tie_word_embeddings: false,
    };
  if (kind === 'qwen2')
    return {
      architectures: ['Qwen2ForCausalLM'],
      model_type: 'qwen2',
      ...common,
      rope_theta: 1000000,
      rope_scaling: { type: 'linear', factor: 2 },
      use_sliding_window: false,
      sliding_window: 32,
      tie_word_embeddings: true,
    };
  return {
    architectures: ['Qwen3ForCausalLM'],
    model_type: 'qwen3',
    ...common,
    head_dim: 12,
    rope_theta: 1000000,
    rope_scaling: null,
    attention_bias: false,
    tie_word_embeddings: false,
  };
}

/** The tensors of a tiny checkpoint, under their stored names and layouts. */
export function tinyHfTensors(config: Record<string, unknown>, seed = 1): Record<string, NamedTensor> {
  const architecture = parseHfConfig(config);
  const rng = Rng.seeded(seed);
  const prefix = architecture.family === 'gpt2' ? 'transformer.' : '';
  const out: Record<string, NamedTensor> = {};
  for (const spec of tensorSpecs(architecture)) {
    const name = storedName(spec, prefix);
    const stream = rng.split(name);
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    // Norm gains near 1, everything else wide enough that every part moves the logits.
    const isNorm = /(norm|ln_\d|ln_f)\.weight$/.test(name);
    const std = isNorm ? 0.1 : spec.shape.length === 1 ? 0.1 : 0.3;
    for (let i = 0; i < size; i++) data[i] = (isNorm ? 1 : 0) + stream.normal() * std;
    out[name] = { shape: spec.shape, data };
  }
  return out;
}

/** Writes a tiny checkpoint of `kind` into `folder` (created); returns the files written. */
export function writeTinyHfCheckpoint(folder: string, kind: TinyHfKind, options: TinyHfOptions = {}): string[] {
  const { sharded, dtype } = { ...TINY_HF_DEFAULTS[kind], ...options };
  if (options.chatTemplate !== undefined && options.tokenizerFrom === undefined)
    throw new UsageError('a chat template needs tokenizerFrom (a folder holding tokenizer.json)');
  mkdirSync(folder, { recursive: true });
  const copied = ['tokenizer.json', 'tokenizer_config.json'].filter((name) => {
    const from = path.join(options.tokenizerFrom ?? '', name);
    if (options.tokenizerFrom === undefined || !existsSync(from)) return false;
    copyFileSync(from, path.join(folder, name));
    return true;
  });
  if (options.chatTemplate === 'chatml') {
    addChatml(folder);
    if (!copied.includes('tokenizer_config.json')) copied.push('tokenizer_config.json');
  }
  const tokenizer = options.tokenizerFrom === undefined ? undefined : HfTokenizer.load(folder);
  const eos = tokenizer?.eosTokenId;
  const bos = tokenizer?.bosToken === undefined ? eos : tokenizer.tokenId(tokenizer.bosToken);
  const config = {
    ...tinyHfConfig(kind, dtype),
    ...(tokenizer ? { vocab_size: tokenizer.vocabSize, bos_token_id: bos ?? null, eos_token_id: eos ?? null } : {}),
    ...options.config,
  };
  const tensors = tinyHfTensors(config, options.seed ?? 1);
  writeFileAtomic(path.join(folder, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const metadata = { format: 'pt' };
  if (!sharded) {
    writeFileAtomic(path.join(folder, SINGLE_FILE), encodeSafetensors(tensors, metadata, dtype));
    return ['config.json', SINGLE_FILE, ...copied];
  }
  const names = Object.keys(tensors);
  const half = Math.ceil(names.length / 2);
  const shards = [names.slice(0, half), names.slice(half)];
  const weightMap: Record<string, string> = {};
  const files: string[] = ['config.json'];
  let totalSize = 0;
  shards.forEach((part, i) => {
    const file = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    const bytes = encodeSafetensors(
      Object.fromEntries(part.map((name) => [name, tensors[name] as NamedTensor])),
      metadata,
      dtype,
    );
    writeFileAtomic(path.join(folder, file), bytes);
    for (const name of part) {
      weightMap[name] = file;
      totalSize += (tensors[name] as NamedTensor).data.length * (dtype === 'F32' ? 4 : 2);
    }
    files.push(file);
  });
  writeFileAtomic(
    path.join(folder, INDEX_FILE),
    `${JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2)}\n`,
  );
  return [...files, INDEX_FILE, ...copied];
}

/** Adds ChatML's tokens to the folder's tokenizer.json (after its largest id) and its template to tokenizer_config.json. */
function addChatml(folder: string): void {
  const file = path.join(folder, 'tokenizer.json');
  const json = JSON.parse(readFileSync(file, 'utf8')) as {
    model?: { vocab?: Record<string, number> | unknown[] };
    added_tokens?: { id: number; content: string; [key: string]: unknown }[];
  };
  const added = json.added_tokens ?? [];
  // A Unigram vocabulary is a list (ids are positions); BPE's and WordPiece's map tokens to ids.
  const vocab = json.model?.vocab ?? {};
  const ids = [...(Array.isArray(vocab) ? [vocab.length - 1] : Object.values(vocab)), ...added.map((token) => token.id)];
  let next = ids.reduce((a, b) => Math.max(a, b), -1) + 1;
  for (const content of CHATML_TOKENS)
    if (!added.some((token) => token.content === content))
      added.push({ id: next++, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  json.added_tokens = added;
  writeFileAtomic(file, `${JSON.stringify(json)}\n`);
  const configFile = path.join(folder, 'tokenizer_config.json');
  const config = existsSync(configFile) ? (JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>) : {};
  writeFileAtomic(configFile, `${JSON.stringify({ ...config, chat_template: CHATML_TEMPLATE }, null, 2)}\n`);
}
