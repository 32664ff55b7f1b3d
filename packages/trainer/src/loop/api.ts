/**
 * The training entry point's contract: what `bench train` and `bench compare` call.
 * `train()` in loop/train.ts implements it.
 */
import type { BudgetConsumption, BudgetLimit, Registry, TrainConfig } from '@policy-lab/core';
import type { HfModelOption, HfModelReport } from '../hf/run.js';
import type { SftStartReport } from './checkpoint.js';
import type { PreferencePair, UnpairedExample } from './data.js';
import type { PretrainingReport } from './reward-pretraining.js';
import type { SoftPromptReport } from './soft-prompt.js';

export interface TrainOptions {
  registry: Registry;
  method: string;
  env: string;
  seed: number;
  budget: BudgetLimit;
  /** `--set` overrides, already parsed (nested object). Shared hyperparameters and plugin options. */
  overrides?: Record<string, unknown>;
  /** Run folder: checkpoints, metrics.jsonl, sidecars. Without it nothing is written. */
  outDir?: string;
  /**
   * Continue from the checkpoint in outDir (it must be the same run: same method, environment,
   * seed, model and options; only the budget may grow). A folder without a checkpoint starts
   * afresh, and `onNotice` says so.
   */
  resume?: boolean;
  /** Start afresh in outDir, discarding the run it holds. Without it a folder holding a run is refused. */
  force?: boolean;
  /** Things the user should know that are not errors (printed on stderr by the CLI). */
  onNotice?(message: string): void;
  /** Tensor backend name ('wasm' default, 'cpu', 'tensorflow', 'webgpu'). */
  backend?: string;
  /**
   * 'cache' (the default without `model`): SFT warm start shared through sftCacheDir; 'none' (the
   * default with `model`): start from the random weights, or from the pretrained model as it is.
   * With `model`, 'cache' caches the warm start in sftCacheDir when one is given (keyed by the
   * model's content and LoRA settings), and runs it inside the run otherwise.
   */
  sft?: 'cache' | 'none';
  /** Train a Hugging Face model folder (optionally through LoRA adapters) instead of the character transformer. */
  model?: HfModelOption;
  sftCacheDir?: string;
  /**
   * Offline preference training from a JSONL dataset (`bench train --data file.jsonl`): pairs
   * `{prompt, chosen, rejected}` for a paired objective (DPO and relatives; each step draws
   * tasksPerStep x groupSize / 2 pairs and charges 2 episodes per pair), or labelled examples
   * `{prompt, completion, label}` for an unpaired one (KTO; tasksPerStep x groupSize examples,
   * 1 episode each). A paired dataset given to an unpaired objective is unpaired as TRL does.
   */
  preferences?: { file: string; pairs?: readonly PreferencePair[]; examples?: readonly UnpairedExample[] };
  /** Called after every step and evaluation (progress bars). */
  onProgress?(progress: TrainProgress): void;
}

export interface TrainProgress {
  step: number;
  /** Fraction of the tightest budget limit consumed, 0..1. */
  fraction: number;
  phase: 'sft' | 'pretrain' | 'eval' | 'train' | 'done';
  success?: number;
}

export interface EvalResult {
  /** Mean success over evalSamples samples per test task at temperature 1 (the headline). */
  success: number;
  greedySuccess: number;
  /** Fraction of test tasks with at least one success among evalSamples samples. */
  passAtK: number;
  /** Mean reward per component. */
  reward: Record<string, number>;
  meanLength: number;
  /**
   * Per test task (in the split's order), the fraction of its evalSamples samples that succeeded;
   * their mean is `success`. A comparison resamples them to include the choice of tasks in its intervals.
   */
  perTask: number[];
  /**
   * Per learned reward model, how well it ranks held-out pairs: on each test task, every
   * (succeeded, failed) pair of its samples; the untrained model (same seed) on the same pairs.
   */
  rewardModels?: Record<string, JudgeAccuracy>;
  /**
   * Self-rerank (SPARK): per test task, the sample the policy's own verdict scores highest among
   * its evalSamples; `success` is the share of tasks whose chosen sample succeeded (best-of-k by
   * self-judging, against `success`, the mean of the samples, and `passAtK`, an oracle's choice).
   */
  selfRerank?: { success: number; samples: number };
}

export interface JudgeAccuracy {
  pairs: number;
  /** Share of pairs where the succeeded sample scores strictly higher. */
  accuracy: number;
  untrainedAccuracy: number;
  /** One-sided exact McNemar test (a binomial test on the pairs where the two disagree): trained better than untrained. */
  pValue: number;
}

export interface CurvePoint {
  step: number;
  episodes: number;
  generatedTokens: number;
  success: number;
  reward: Record<string, number>;
}

/** The run's sampler, task source, reward models and hooks (the Method's and --set's), when it has any. */
export interface RunExtensions {
  sampler?: string;
  taskSource?: string;
  rewardModels?: string[];
  hooks?: string[];
}

export interface TrainResult {
  method: string;
  env: string;
  seed: number;
  backend: string;
  config: TrainConfig;
  extensions?: RunExtensions;
  budget: { limit: BudgetLimit; consumed: BudgetConsumption };
  initial: EvalResult;
  final: EvalResult;
  steps: number;
  curve: CurvePoint[];
  /** Means of the per-step diagnostics (zeroAdvantageFraction, clipFraction, kl, entropy, ...), each over the steps that logged it. */
  diagnostics: Record<string, number>;
  /** Wall-clock figures (not deterministic). */
  timings: Record<string, number>;
  /** Rollouts drawn for diagnostics only (the sign-flip baseline): never part of the RL budget or trajectory. */
  sideBudget: { episodes: number; generatedTokens: number };
  /** Why the fast kernels were asked for and not used (the run fell back to the stock kernels). */
  kernelsFallback?: string;
  /** The learned soft prompt, when the run has one (config.softPrompt > 0). */
  softPrompt?: SoftPromptReport;
  /** The SFT warm start's steps and rows, when a task source added rows to it (SPARK's judge items; not charged to the RL budget). */
  sftStart?: SftStartReport;
  /** Each reward model's pre-training phase on a policy zoo (POLAR), by name; not charged to the RL budget. */
  rewardModelPretraining?: Record<string, PretrainingReport>;
  /** The Hugging Face model trained, when the run had one (--model), and where the result was saved. */
  model?: HfModelReport;
}
