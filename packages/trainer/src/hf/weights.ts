/**
 * The tensors of a Hugging Face model folder, under their transformers names: one
 * `model.safetensors`, or shards listed by `model.safetensors.index.json` (its `weight_map`
 * names the shard of each tensor). F32, F16 and BF16 are read into float32. Names follow
 * transformers' LlamaForCausalLM (and its Qwen2/Qwen3/Mistral siblings) and GPT2LMHeadModel;
 * GPT-2 checkpoints are found with and without the `transformer.` prefix (the original OpenAI
 * upload has none).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '@policy-lab/core';
import { loadSafetensors, type NamedTensor, safetensorsNames } from '../checkpoint/safetensors.js';
import type { HfArchitecture } from './config.js';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

/**
 * 'linear': a torch nn.Linear weight stored [out, in], held by us transposed [in, out] so every
 * projection is a plain x @ W (the fast matMul path on wasm). 'plain': held as stored.
 */
export type TensorLayout = 'linear' | 'plain';

export interface TensorSpec {
  /** The name without GPT-2's optional `transformer.` prefix. */
  name: string;
  shape: number[];
  layout: TensorLayout;
}

/** Every tensor the architecture reads, in a fixed order (the model's variables follow it). */
export function tensorSpecs(architecture: HfArchitecture): TensorSpec[] {
  return architecture.family === 'gpt2' ? gpt2Specs(architecture) : llamaSpecs(architecture);
}

function llamaSpecs(a: HfArchitecture): TensorSpec[] {
  const { hiddenSize: D, heads: H, kvHeads: KV, headDim: dh, intermediateSize: F, vocabSize: V } = a;
  const specs: TensorSpec[] = [{ name: 'model.embed_tokens.weight', shape: [V, D], layout: 'plain' }];
  const linear = (name: string, out: number, input: number, bias: boolean) => {
    specs.push({ name: `${name}.weight`, shape: [out, input], layout: 'linear' });
    if (bias) specs.push({ name: `${name}.bias`, shape: [out], layout: 'plain' });
  };
  for (let l = 0; l < a.layers; l++) {
    const p = `model.layers.${l}`;
    specs.push({ name: `${p}.input_layernorm.weight`, shape: [D], layout: 'plain' });
    linear(`${p}.self_attn.q_proj`, H * dh, D, a.qkvBias);
    linear(`${p}.self_attn.k_proj`, KV * dh, D, a.qkvBias);
    linear(`${p}.self_attn.v_proj`, KV * dh, D, a.qkvBias);
    linear(`${p}.self_attn.o_proj`, D, H * dh, a.outputBias);
    if (a.qkNorm) {
      specs.push({ name: `${p}.self_attn.q_norm.weight`, shape: [dh], layout: 'plain' });
      specs.push({ name: `${p}.self_attn.k_norm.weight`, shape: [dh], layout: 'plain' });
    }
    specs.push({ name: `${p}.post_attention_layernorm.weight`, shape: [D], layout: 'plain' });
    linear(`${p}.mlp.gate_proj`, F, D, a.mlpBias);
    linear(`${p}.mlp.up_proj`, F, D, a.mlpBias);
    linear(`${p}.mlp.down_proj`, D, F, a.mlpBias);
  }
  specs.push({ name: 'model.norm.weight', shape: [D], layout: 'plain' });
  if (!a.tieWordEmbeddings) specs.push({ name: 'lm_head.weight', shape: [V, D], layout: 'linear' });
  return specs;
}

function gpt2Specs(a: HfArchitecture): TensorSpec[] {
  const { hiddenSize: D, intermediateSize: F, vocabSize: V } = a;
  // Conv1D stores [in, out] already: every GPT-2 tensor is 'plain'.
  const specs: TensorSpec[] = [
    { name: 'wte.weight', shape: [V, D], layout: 'plain' },
    { name: 'wpe.weight', shape: [a.maxPositions, D], layout: 'plain' },
  ];
  const add = (name: string, shape: number[]) => specs.push({ name, shape, layout: 'plain' });
  for (let l = 0; l < a.layers; l++) {
    const p = `h.${l}`;
    add(`${p}.ln_1.weight`, [D]);
    add(`${p}.ln_1.bias`, [D]);
    add(`${p}.attn.c_attn.weight`, [D, 3 * D]);
    add(`${p}.attn.c_attn.bias`, [3 * D]);
    add(`${p}.attn.c_proj.weight`, [D, D]);
    add(`${p}.attn.c_proj.bias`, [D]);
    add(`${p}.ln_2.weight`, [D]);
    add(`${p}.ln_2.bias`, [D]);
    add(`${p}.mlp.c_fc.weight`, [D, F]);
    add(`${p}.mlp.c_fc.bias`, [F]);
    add(`${p}.mlp.c_proj.weight`, [F, D]);
    add(`${p}.mlp.c_proj.bias`, [D]);
  }
  add('ln_f.weight', [D]);
  add('ln_f.bias', [D]);
  if (!a.tieWordEmbeddings) specs.push({ name: 'lm_head.weight', shape: [V, D], layout: 'linear' });
  return specs;
}

/** GPT2LMHeadModel keeps the trunk under `transformer.`, the head outside it. */
const GPT2_PREFIX = 'transformer.';

/** The name a spec has in a file that uses `prefix` for GPT-2's trunk ('' for the Llama family). */
export function storedName(spec: TensorSpec, prefix: string): string {
  return spec.name === 'lm_head.weight' ? spec.name : `${prefix}${spec.name}`;
}

export interface LoadedTensors {
  /** By spec name (without GPT-2's prefix), in the stored [out, in] / [in, out] layout. */
  tensors: Map<string, NamedTensor>;
  /** GPT-2's trunk prefix as found ('transformer.' or ''); '' for the Llama family. */
  prefix: string;
  /** The files read, relative to the folder. */
  files: string[];
}

/**
 * Reads every tensor of `architecture` from `folder`; a missing tensor or a shape that differs
 * from the config's is one UsageError naming the tensor and the file it was looked for in.
 */
export function readHfTensors(folder: string, architecture: HfArchitecture): LoadedTensors {
  const specs = tensorSpecs(architecture);
  const located = locate(folder);
  const bare = !located.has(`${GPT2_PREFIX}wte.weight`) && located.has('wte.weight');
  const prefix = architecture.family === 'gpt2' && !bare ? GPT2_PREFIX : '';
  const wanted = new Map(specs.map((spec) => [storedName(spec, prefix), spec]));
  const byFile = new Map<string, string[]>();
  for (const [name] of wanted) {
    const file = located.fileOf(name);
    if (file === undefined)
      throw new UsageError(
        `${located.describe}: tensor '${name}' is missing (${architecture.modelType} with this config.json needs it)`,
      );
    byFile.set(file, [...(byFile.get(file) ?? []), name]);
  }
  const tensors = new Map<string, NamedTensor>();
  for (const [file, names] of byFile) {
    const full = path.join(folder, file);
    const wantedHere = new Set(names);
    const { tensors: read } = loadSafetensors(full, { names: (name) => wantedHere.has(name) });
    for (const name of names) {
      const tensor = read[name];
      const spec = wanted.get(name) as TensorSpec;
      if (!tensor) throw new UsageError(`${full}: tensor '${name}' is missing (${INDEX_FILE} names this file for it)`);
      if (tensor.shape.join(',') !== spec.shape.join(','))
        throw new UsageError(
          `${full}: tensor '${name}' has shape [${tensor.shape.join(', ')}], config.json implies [${spec.shape.join(', ')}]`,
        );
      tensors.set(spec.name, tensor);
    }
  }
  return { tensors, prefix, files: [...byFile.keys()] };
}

interface Located {
  has(name: string): boolean;
  fileOf(name: string): string | undefined;
  /** The file a missing tensor is reported against. */
  describe: string;
}

/** Which file holds which tensor: the index's weight_map, or the single file's header. */
function locate(folder: string): Located {
  const index = path.join(folder, INDEX_FILE);
  if (existsSync(index)) {
    let weightMap: Record<string, unknown>;
    try {
      weightMap = (JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: Record<string, unknown> }).weight_map ?? {};
    } catch (error) {
      throw new UsageError(`${index}: not valid JSON (${(error as Error).message})`);
    }
    if (typeof weightMap !== 'object' || weightMap === null) throw new UsageError(`${index}: weight_map is not an object`);
    for (const [name, file] of Object.entries(weightMap)) {
      if (typeof file !== 'string' || file.includes('..') || path.isAbsolute(file))
        throw new UsageError(`${index}: weight_map['${name}'] is ${JSON.stringify(file)}, not a file name in the folder`);
    }
    return {
      has: (name) => name in weightMap,
      fileOf: (name) => weightMap[name] as string | undefined,
      describe: `${index} (its weight_map)`,
    };
  }
  const single = path.join(folder, SINGLE_FILE);
  if (!existsSync(single))
    throw new UsageError(
      `${folder}: no ${SINGLE_FILE} or ${INDEX_FILE} (accepted: a Hugging Face model folder with safetensors weights)`,
    );
  const names = new Set(safetensorsNames(single));
  return { has: (name) => names.has(name), fileOf: (name) => (names.has(name) ? SINGLE_FILE : undefined), describe: single };
}
