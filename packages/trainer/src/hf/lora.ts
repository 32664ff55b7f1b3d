/**
 * LoRA (Hu et al. 2021, arXiv:2106.09685): a projection W gains a trainable low-rank update,
 * y = x W + (alpha / r) x A B, with A drawn and B zero so training starts at the base model; the
 * base weights stay frozen. Saved in PEFT's layout (github.com/huggingface/peft): adapter_config.json
 * and adapter_model.safetensors with `base_model.model.<module>.lora_A.weight` [r, in] and
 * `.lora_B.weight` [out, r], nn.Linear's layout, for GPT-2's Conv1D modules too (PEFT sets
 * fan_in_fan_out there, which changes only how it merges). A is initialised as PEFT does,
 * kaiming_uniform(a = sqrt(5)) on [r, in]: uniform in +-1/sqrt(in).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Rng, UsageError } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { encodeSafetensors, loadSafetensors, type NamedTensor, writeFileAtomic } from '../checkpoint/safetensors.js';
import type { HfCausalLM, LowRankAdapters } from './model.js';

/** Projections LoRA may target, by family (module names as PEFT's target_modules match them). */
export const LORA_TARGETS = {
  llama: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  gpt2: ['c_attn', 'c_proj', 'c_fc'],
} as const;

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

export interface LoraOptions {
  rank: number;
  alpha: number;
  /** Module names (suffixes) to adapt, e.g. ['q_proj', 'v_proj']. */
  targets: readonly string[];
}

interface Adapter {
  /** [in, r], A transposed so x A is a plain matMul. */
  a: tf.Variable;
  /** [r, out]. */
  b: tf.Variable;
  inputs: number;
  outputs: number;
}

let adapterCounter = 0;

export class LoraAdapters implements LowRankAdapters {
  readonly scale: number;

  private constructor(
    readonly options: LoraOptions,
    private readonly adapters: Map<string, Adapter>,
    /** GPT-2's `transformer.` prefix of the base's names, for PEFT's module paths. */
    private readonly prefix: string,
    private readonly family: 'llama' | 'gpt2',
  ) {
    this.scale = options.alpha / options.rank;
  }

  get variables(): tf.Variable[] {
    return [...this.adapters.values()].flatMap((adapter) => [adapter.a, adapter.b]);
  }

  /** The adapted modules, as tensor spec names without `.weight`. */
  get modules(): string[] {
    return [...this.adapters.keys()];
  }

  update(x: tf.Tensor2D, name: string): tf.Tensor2D | undefined {
    const adapter = this.adapters.get(name);
    if (!adapter) return undefined;
    return tf.mul(tf.matMul(tf.matMul(x, adapter.a), adapter.b), this.scale) as tf.Tensor2D;
  }

  /** adapter_config.json and adapter_model.safetensors (float32) in `folder`. */
  async save(folder: string, baseModel = ''): Promise<void> {
    mkdirSync(folder, { recursive: true });
    const tensors: Record<string, NamedTensor> = {};
    for (const [name, adapter] of this.adapters) {
      const base = `base_model.model.${this.prefix}${name}`;
      tensors[`${base}.lora_A.weight`] = await stored(adapter.a, [this.options.rank, adapter.inputs]);
      tensors[`${base}.lora_B.weight`] = await stored(adapter.b, [adapter.outputs, this.options.rank]);
    }
    writeFileAtomic(path.join(folder, ADAPTER_WEIGHTS), encodeSafetensors(tensors, { format: 'pt' }));
    const config = {
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      base_model_name_or_path: baseModel,
      r: this.options.rank,
      lora_alpha: this.options.alpha,
      target_modules: [...this.options.targets],
      lora_dropout: 0,
      bias: 'none',
      fan_in_fan_out: this.family === 'gpt2',
      use_rslora: false,
      inference_mode: true,
    };
    writeFileAtomic(path.join(folder, ADAPTER_CONFIG), `${JSON.stringify(config, null, 2)}\n`);
  }

  dispose(): void {
    tf.dispose(this.variables);
  }

  /** New adapters on `model`'s target projections (A drawn from `rng`, B zero), attached to it. */
  static attach(model: HfCausalLM, options: LoraOptions, rng: Rng): LoraAdapters {
    const modules = adaptedModules(model, options);
    const id = adapterCounter++;
    const adapters = new Map<string, Adapter>();
    for (const { name, inputs, outputs } of modules) {
      const stream = rng.split(name);
      const bound = 1 / Math.sqrt(inputs);
      const a = new Float32Array(inputs * options.rank).map(() => (2 * stream.next() - 1) * bound);
      adapters.set(name, {
        a: tf.variable(tf.tensor2d(a, [inputs, options.rank]), true, `lora${id}/${name}/A`),
        b: tf.variable(tf.zeros([options.rank, outputs]), true, `lora${id}/${name}/B`),
        inputs,
        outputs,
      });
    }
    const lora = new LoraAdapters(options, adapters, model.namePrefix, model.architecture.family);
    model.attachAdapters(lora);
    return lora;
  }

  /** PEFT adapters saved in `folder`, attached to `model` (its base must match their shapes). */
  static load(model: HfCausalLM, folder: string): LoraAdapters {
    const configFile = path.join(folder, ADAPTER_CONFIG);
    if (!existsSync(configFile)) throw new UsageError(`${folder}: no ${ADAPTER_CONFIG} (accepted: a PEFT LoRA adapter folder)`);
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    if (config.peft_type !== 'LORA')
      throw new UsageError(`${configFile}: peft_type ${JSON.stringify(config.peft_type)} is not supported (accepted: LORA)`);
    if (config.use_rslora === true || config.use_dora === true)
      throw new UsageError(`${configFile}: rsLoRA and DoRA are not supported (accepted: plain LoRA)`);
    const targets = config.target_modules;
    const options: LoraOptions = {
      rank: config.r as number,
      alpha: config.lora_alpha as number,
      targets: typeof targets === 'string' ? [targets] : ((targets ?? []) as string[]),
    };
    const modules = adaptedModules(model, options, configFile);
    const file = path.join(folder, ADAPTER_WEIGHTS);
    const { tensors } = loadSafetensors(file);
    const id = adapterCounter++;
    const adapters = new Map<string, Adapter>();
    for (const { name, inputs, outputs } of modules) {
      const base = `base_model.model.${model.namePrefix}${name}`;
      const read = (suffix: string, shape: number[]) => {
        const tensor = tensors[`${base}.${suffix}`];
        if (!tensor) throw new UsageError(`${file}: tensor '${base}.${suffix}' is missing (${ADAPTER_CONFIG} targets it)`);
        if (tensor.shape.join(',') !== shape.join(','))
          throw new UsageError(
            `${file}: tensor '${base}.${suffix}' has shape [${tensor.shape.join(', ')}], expected [${shape.join(', ')}]`,
          );
        // Stored [out, in] as nn.Linear; held transposed.
        return tf.tidy(() => tf.transpose(tf.tensor2d(tensor.data, shape as [number, number])));
      };
      const a = read('lora_A.weight', [options.rank, inputs]);
      const b = read('lora_B.weight', [outputs, options.rank]);
      adapters.set(name, {
        a: tf.variable(a, true, `lora${id}/${name}/A`),
        b: tf.variable(b, true, `lora${id}/${name}/B`),
        inputs,
        outputs,
      });
      tf.dispose([a, b]);
    }
    const lora = new LoraAdapters(options, adapters, model.namePrefix, model.architecture.family);
    model.attachAdapters(lora);
    return lora;
  }
}

async function stored(variable: tf.Variable, shape: number[]): Promise<NamedTensor> {
  const transposed = tf.transpose(variable);
  const data = (await transposed.data()) as Float32Array;
  transposed.dispose();
  return { shape, data };
}

/** The projections the options target, with their sizes; bad options are one UsageError. */
function adaptedModules(
  model: HfCausalLM,
  options: LoraOptions,
  where = 'LoRA options',
): { name: string; inputs: number; outputs: number }[] {
  const { rank, alpha, targets } = options;
  if (!(Number.isInteger(rank) && rank > 0)) throw new UsageError(`${where}: rank ${rank} is not a positive integer`);
  if (!(typeof alpha === 'number' && alpha > 0)) throw new UsageError(`${where}: alpha ${alpha} is not a positive number`);
  const family = model.architecture.family;
  const accepted: readonly string[] = LORA_TARGETS[family];
  const unknown = targets.filter((target) => !accepted.includes(target));
  if (targets.length === 0 || unknown.length > 0)
    throw new UsageError(
      `${where}: target ${JSON.stringify(unknown[0] ?? '')} is not a ${family} projection (accepted: ${accepted.join(', ')})`,
    );
  const out: { name: string; inputs: number; outputs: number }[] = [];
  for (const spec of model.tensorSpecs) {
    if (!spec.name.endsWith('.weight') || spec.shape.length !== 2 || spec.name === 'lm_head.weight') continue;
    const name = spec.name.slice(0, -'.weight'.length);
    if (!targets.includes(name.split('.').at(-1) as string)) continue;
    // nn.Linear stores [out, in]; GPT-2's Conv1D [in, out].
    const [first, second] = spec.shape as [number, number];
    out.push(spec.layout === 'linear' ? { name, inputs: second, outputs: first } : { name, inputs: first, outputs: second });
  }
  return out;
}
