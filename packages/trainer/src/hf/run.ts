/**
 * A training run on a user's Hugging Face model (`bench train --model <folder>`): the folder's
 * config.json is read and its memory need estimated before any weight is loaded (a model that
 * does not fit says so, with the options that would make it fit); then the weights, the
 * folder's tokenizer as the loop's tokenizer, and LoRA adapters when asked for. What the loop
 * offers only for the character transformer (soft prompts, learned reward models that share its
 * trunk, teachers from run folders, a value head, beam search) is refused here by name.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { totalmem } from 'node:os';
import path from 'node:path';
import { Rng, type TrainConfig, UsageError } from '@policy-lab/core';
import type { TrainOptions } from '../loop/api.js';
import { type Resolved, resolvePlugins } from '../loop/plugins.js';
import { rolloutsPerGroup } from '../loop/stages/sample.js';
import type { ChatTemplateMode } from './chat-template.js';
import { parseHfConfig } from './config.js';
import { type ModelFingerprint, modelFingerprint } from './fingerprint.js';
import { LoraAdapters, type LoraOptions } from './lora.js';
import { loraParameters, parameterCount, WASM_HEAP_BYTES, whyItDoesNotFit } from './memory.js';
import { HfCausalLM } from './model.js';
import { HfPolicy } from './policy.js';
import { HfPolicyTokenizer } from './policy-tokenizer.js';
import { HfTokenizer } from './tokenizer.js';

export interface HfModelOption {
  /** A Hugging Face model folder: config.json, *.safetensors, tokenizer.json. */
  folder: string;
  /** LoRA's rank, alpha and targets; without targets, the query and value projections (GPT-2: c_attn). */
  lora?: Omit<LoraOptions, 'targets'> & { targets?: readonly string[] };
  /** 'auto' (the default): prompts through the folder's chat template when it has one; 'off': plain-text prompts. */
  chatTemplate?: ChatTemplateMode;
}

/** What a run's result says about the model it trained. */
export interface HfModelReport {
  folder: string;
  modelType: string;
  parameters: number;
  /** Parameters the optimizer trained (the adapters' under LoRA). */
  trainedParameters: number;
  lora?: LoraOptions;
  /** The file whose chat template prompts the run (absent: plain-text prompts). */
  chatTemplate?: string;
  /** Where the trained model (full fine-tuning) or the adapters (LoRA) were saved, inside the run folder. */
  saved?: string;
}

export interface HfRun {
  policy: HfPolicy;
  tokenizer: HfPolicyTokenizer;
  report: HfModelReport;
  /** Writes the trained model (a model folder) or the adapters (PEFT layout) under `outDir`; returns the folder. */
  save(outDir: string): Promise<string>;
  /** What a checkpoint of this run must match to resume: the folder's content hashes and the LoRA settings (hashed once, on first call). */
  fingerprint(): RunModelFingerprint;
}

/** The model part of a run's checkpoint fingerprint. */
export interface RunModelFingerprint extends ModelFingerprint {
  lora: LoraOptions | null;
}

/** Memory the backend offers: the wasm32 heap on wasm; the host's memory otherwise (WebGPU does not report a device's). */
export function backendMemory(backend: string): number {
  return backend === 'wasm' ? WASM_HEAP_BYTES : totalmem();
}

function refuseUnsupported({ plugins, config }: { plugins: Resolved; config: TrainConfig }): void {
  const refused: [boolean, string][] = [
    [(config.softPrompt ?? 0) > 0, 'softPrompt (a soft prompt)'],
    [plugins.rewardModels.length > 0, `reward models (${plugins.rewardModels.map((m) => m.name).join(', ')})`],
    [config.teacher !== undefined, 'teacher (a teacher run folder)'],
    [plugins.estimator.needsCritic === true, `estimator ${plugins.estimator.name} (it needs a value head)`],
    [
      plugins.sampler?.strategy === 'beam' || plugins.sampler?.strategy === 'step-beam',
      `sampler ${plugins.sampler?.name} (beam search)`,
    ],
  ];
  const found = refused.find(([yes]) => yes);
  if (found)
    throw new UsageError(
      `--model: ${found[1]} is not supported with a Hugging Face model yet (accepted: methods with token-by-token sampling, no reward model, soft prompt, teacher or critic)`,
    );
}

function readConfig(folder: string): Record<string, unknown> {
  if (!existsSync(folder) || !statSync(folder).isDirectory())
    throw new UsageError(
      `--model ${folder}: not a folder (accepted: a Hugging Face model folder with config.json, *.safetensors, tokenizer.json)`,
    );
  const file = path.join(folder, 'config.json');
  if (!existsSync(file))
    throw new UsageError(
      `--model ${folder}: no config.json (accepted: a Hugging Face model folder with config.json, *.safetensors, tokenizer.json)`,
    );
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`${file}: cannot read the model's config (${(error as Error).message})`);
  }
}

/**
 * What a run of `option` must pass before any weight is loaded: the method's parts the loop
 * offers only for the character transformer are refused, the config is parsed, and the memory
 * need is checked against `backend`.
 */
function checkedHfRun(option: HfModelOption, plugins: Resolved, backend: string, sft: boolean) {
  const { config } = plugins;
  refuseUnsupported({ plugins, config });
  const folder = option.folder;
  const json = readConfig(folder);
  const architecture = parseHfConfig(json, path.join(folder, 'config.json'));
  const lora: LoraOptions | undefined = option.lora && {
    ...option.lora,
    targets: option.lora.targets ?? (architecture.family === 'gpt2' ? ['c_attn'] : ['q_proj', 'v_proj']),
  };
  // The larger batch the run trains on: a step's rollouts, or the SFT start's batch when it has one.
  const rows = Math.max(config.tasksPerStep * rolloutsPerGroup({ plugins, config }), sft ? config.sftBatch : 0);
  const plan = {
    rows,
    sequenceLength: config.model.contextLength,
    training: true,
    ...(lora ? { trainedParameters: loraParameters(architecture, lora) } : {}),
  };
  const limit = backendMemory(backend);
  const problem = whyItDoesNotFit(architecture, plan, limit);
  if (problem)
    throw new UsageError(
      `--model ${folder} does not fit the ${backend} backend's memory: ${problem} (rows: tasksPerStep x rollouts per group${sft ? ', or sftBatch' : ''}; sequences: model.contextLength)`,
    );
  return { folder, json, architecture, lora };
}

/**
 * The checks of `openHfRun` for one (method, environment) of a comparison, without loading the
 * model: bench compare refuses there, before any run starts, what bench train would refuse.
 */
export function checkHfRun(options: TrainOptions & { model: HfModelOption }, backend: string): void {
  const plugins = resolvePlugins(options, { readers: false });
  checkedHfRun(options.model, plugins, backend, (options.sft ?? 'none') !== 'none');
}

/**
 * Opens the model of a run: refuses what it cannot do, checks memory against `backend` (for the
 * SFT start's batch too when `sft`), loads
 * weights and tokenizer, attaches LoRA adapters when asked (seeded by the run's seed), and sets
 * `config.model` to the model's sizes (the context length stays the run's).
 */
export function openHfRun(option: HfModelOption, plugins: Resolved, backend: string, sft: boolean): HfRun {
  const { config } = plugins;
  const { folder, json, architecture, lora } = checkedHfRun(option, plugins, backend, sft);
  const model = HfCausalLM.load(folder);
  try {
    const tokenizer = new HfPolicyTokenizer(
      HfTokenizer.load(folder),
      architecture.vocabSize,
      json,
      option.chatTemplate ?? 'auto',
    );
    const adapters = lora ? LoraAdapters.attach(model, lora, Rng.seeded(config.seed).split('lora')) : undefined;
    const policy = HfPolicy.create(model, config.model.contextLength, adapters);
    config.model = {
      ...config.model,
      dim: policy.config.dim,
      layers: policy.config.layers,
      heads: policy.config.heads,
      mlpRatio: policy.config.mlpRatio,
      valueHead: false,
    };
    const report: HfModelReport = {
      folder: path.resolve(folder),
      modelType: architecture.modelType,
      parameters: parameterCount(architecture),
      trainedParameters: policy.variables.reduce((total, v) => total + v.size, 0),
      ...(lora ? { lora } : {}),
      ...(tokenizer.chat ? { chatTemplate: tokenizer.chat.file } : {}),
    };
    let fingerprint: RunModelFingerprint | undefined;
    return {
      policy,
      tokenizer,
      report,
      fingerprint() {
        fingerprint ??= { ...modelFingerprint(folder), lora: lora ?? null };
        return fingerprint;
      },
      async save(outDir: string) {
        const target = path.join(outDir, adapters ? 'adapter' : 'model');
        if (adapters) await adapters.save(target, report.folder);
        else await model.save(target);
        report.saved = target;
        return target;
      },
    };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/**
 * A model folder as the policy of a `bench speed` workload: the memory check of a run (for
 * `rows` sequences of `sequenceLength` tokens, trained or only decoded) against `backend`, then
 * the weights and, when asked, LoRA adapters (seed 0). The caller disposes the policy.
 */
export function openHfSpeedPolicy(
  option: Pick<HfModelOption, 'folder' | 'lora'>,
  plan: { rows: number; sequenceLength: number; training: boolean },
  backend: string,
): HfPolicy {
  const json = readConfig(option.folder);
  const architecture = parseHfConfig(json, path.join(option.folder, 'config.json'));
  const lora: LoraOptions | undefined = option.lora && {
    ...option.lora,
    targets: option.lora.targets ?? (architecture.family === 'gpt2' ? ['c_attn'] : ['q_proj', 'v_proj']),
  };
  const problem = whyItDoesNotFit(
    architecture,
    { ...plan, ...(lora && plan.training ? { trainedParameters: loraParameters(architecture, lora) } : {}) },
    backendMemory(backend),
  );
  if (problem)
    throw new UsageError(
      `--model ${option.folder} does not fit the ${backend} backend's memory: ${problem} (rows: --batch; sequences: --context)`,
    );
  const model = HfCausalLM.load(option.folder);
  try {
    const adapters = lora ? LoraAdapters.attach(model, lora, Rng.seeded(0).split('lora')) : undefined;
    return HfPolicy.create(model, plan.sequenceLength, adapters);
  } catch (error) {
    model.dispose();
    throw error;
  }
}
