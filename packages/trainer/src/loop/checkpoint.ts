/**
 * The run folder: checkpoints (weights and Adam moments in safetensors, named by a typed,
 * versioned sidecar), the metrics log and the timing log. A sidecar carries the fingerprint of
 * the run that wrote it, so `--resume` continues only the same run, and a checksum of its
 * weights, so a damaged file is refused instead of silently changing the run.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type BudgetConsumption, type BudgetMeter, type TrainConfig, UsageError } from '@policy-lab/core';
import type * as tf from '@tensorflow/tfjs-core';
import {
  encodeSafetensors,
  loadSafetensors,
  type NamedTensor,
  saveSafetensors,
  writeFileAtomic,
} from '../checkpoint/safetensors.js';
import { changedModelFiles } from '../hf/fingerprint.js';
import type { RunModelFingerprint } from '../hf/run.js';
import type { PolicyModel } from '../model/policy.js';
import type { Adam, AdamState } from '../optim/adam.js';
import type { PolicyTokenizer } from '../tokenizer/policy-tokenizer.js';
import type { CurvePoint, EvalResult } from './api.js';
import type { PretrainingReport } from './reward-pretraining.js';
import type { EntropyState } from './schedules.js';
import type { SideBudget } from './step-context.js';
import type { EstimatorState } from './upo-estimator.js';
import { readWeights, type Weighted, writeWeights } from './weights.js';

/** A policy whose variables have names (checkpoints key them): the character transformer, a Hugging Face policy. */
export type NamedPolicy = PolicyModel & { readonly variables: tf.Variable[]; weightNames(): string[] };

export const SIDECAR_VERSION = 2;
/** The files a run writes in its folder (what --force may remove). */
const RUN_FILES = /^(checkpoint\.json|checkpoint-step\d+\.safetensors|metrics\.jsonl|timings\.jsonl|reference\.safetensors)$/;

/** What a run carries from step to step, saved in the sidecar. */
export interface RunState {
  step: number;
  side: SideBudget;
  divergenceCoef: number;
  entropy: EntropyState;
  /** The latest evaluation, so a run resumed after its last step does not evaluate twice. */
  lastEval?: { step: number; result: EvalResult };
  curve: CurvePoint[];
  initial?: EvalResult;
  sums: Record<string, number>;
  /** Steps that logged each key of `sums` (a checkpoint written before it had none: every step counts). */
  counts?: Record<string, number>;
  timings: Record<string, number>;
  /** Each reward model's replay buffer, by name, when it keeps one. */
  rewardModelReplay?: Record<string, unknown>;
  /** The task source's own state (scores, pool), when it keeps one. */
  taskStream?: unknown;
  /** Each learned shaper's state (its networks and replay), by name. */
  shapers?: Record<string, unknown>;
  /** The entropy coefficient a step hook set (it then replaces the configured one). */
  hookEntropyCoef?: number;
  /** The sampling temperature a step hook set (it then replaces the configured one for training rollouts). */
  hookTemperature?: number;
  /** The last step's work of other models: the estimate of the next step's, for a budget that limits it. */
  lastStepAux?: { auxScoredTokens: number; auxTrainedTokens: number; extraEpisodes?: number };
  /** The step at which a hook last copied the policy into the reference (the checkpoint then holds the reference). */
  referenceResetStep?: number;
  /** UPO's pair estimator (weights and Adam moments), when the run has one. */
  pairEstimator?: EstimatorState;
  /** The SFT warm start's work when a task source added rows to it (SPARK's judge items). */
  sftStart?: SftStartReport;
  /** Each pre-trained reward model's pre-training phase (POLAR's policy zoo), by name: a side budget. */
  rewardModelPretraining?: Record<string, PretrainingReport>;
  /** The held-out pairs the policy's self-judging is measured on (fixed at the first evaluation). */
  selfJudgePairs?: (readonly [string, string])[];
}

/** The SFT warm start's steps and rows: the expert's demonstrations and a task source's extra rows. */
export interface SftStartReport {
  steps: number;
  rows: number;
  extraRows: number;
  /** The task source that added the extra rows. */
  source: string;
}

/**
 * A model saved with the checkpoint besides the policy: a reward model (with its Adam), the
 * reference after a reset, or the soft prompt's vectors.
 */
export interface ExtraModel {
  /** Prefix of its tensors in the weights file, e.g. `rewardModel.bt-outcome.`. */
  prefix: string;
  model: Weighted;
  names: readonly string[];
  optimizer?: Adam;
}

/**
 * The variables the run's optimizer trains, in its order, with the names of their Adam moments
 * (`adam.m.<name>`): the policy's weights by default; with a soft prompt, its vectors after them
 * (or alone, when only the soft prompt trains).
 */
export interface TrainedVariables {
  names: readonly string[];
  variables: readonly tf.Variable[];
}

export interface Sidecar {
  version: typeof SIDECAR_VERSION;
  /** Method, environment, seed, model and every option: what --resume must match. */
  fingerprint: RunFingerprint;
  step: number;
  weights: string;
  /** sha256 of the weights file. */
  weightsSha256: string;
  adamStep: number;
  /** Adam steps of the extra models' optimizers, by prefix. */
  extraAdamSteps?: Record<string, number>;
  consumed: BudgetConsumption;
  state: RunState;
  config: TrainConfig;
  tokenizer: unknown;
}

/**
 * The configuration without the budget: a resumed run may be given more budget, nothing else.
 * A run of a Hugging Face model adds the model: its files' content hashes and the LoRA settings.
 */
export type RunFingerprint = Omit<TrainConfig, 'budget'> & { hfModel?: RunModelFingerprint };

export function fingerprintOf(config: TrainConfig, model?: RunModelFingerprint): RunFingerprint {
  const { budget: _budget, ...rest } = config;
  return JSON.parse(JSON.stringify(model ? { ...rest, hfModel: model } : rest)) as RunFingerprint;
}

/**
 * Refuses, by name, a run of a Hugging Face model (its checkpoint's tokenizer is the model's,
 * kind 'hf') where `reader` rebuilds the character transformer from a run folder.
 */
export function refuseHfRun(saved: { tokenizer?: unknown }, folder: string, reader: string): void {
  if ((saved.tokenizer as { kind?: unknown } | undefined)?.kind === 'hf')
    throw new UsageError(
      `run ${folder} trained a Hugging Face model (--model); ${reader} reads runs of the character transformer only (accepted: a bench train --out folder without --model)`,
    );
}

/** The first key path where two JSON values differ, with both values; undefined when equal. */
export function firstDifference(
  saved: unknown,
  now: unknown,
  where = '',
): { key: string; saved: unknown; now: unknown } | undefined {
  if (typeof saved === 'object' && saved !== null && typeof now === 'object' && now !== null && !Array.isArray(saved)) {
    const keys = [...new Set([...Object.keys(saved), ...Object.keys(now)])].sort();
    for (const key of keys) {
      const found = firstDifference(
        (saved as Record<string, unknown>)[key],
        (now as Record<string, unknown>)[key],
        where ? `${where}.${key}` : key,
      );
      if (found) return found;
    }
    return undefined;
  }
  return JSON.stringify(saved) === JSON.stringify(now) ? undefined : { key: where || '(root)', saved, now };
}

export class RunFolder {
  readonly sidecar: string;
  readonly metrics: string;
  readonly timings: string;
  readonly reference: string;

  /** `model`: the Hugging Face model a run trains (its checkpoints carry its fingerprint). */
  constructor(
    readonly dir: string,
    private readonly model?: () => RunModelFingerprint,
  ) {
    this.sidecar = path.join(dir, 'checkpoint.json');
    this.metrics = path.join(dir, 'metrics.jsonl');
    this.timings = path.join(dir, 'timings.jsonl');
    this.reference = path.join(dir, 'reference.safetensors');
  }

  /**
   * Makes the folder ready: with `resume`, it must hold a checkpoint (an empty or missing one
   * starts afresh, and `notice` says so); without it, a folder that holds a run is refused
   * unless `force`, which removes that run's files first.
   */
  prepare(mode: { resume: boolean; force: boolean }, notice: (message: string) => void): boolean {
    try {
      mkdirSync(this.dir, { recursive: true });
      writeFileSync(path.join(this.dir, '.write-test'), '');
      rmSync(path.join(this.dir, '.write-test'));
    } catch (error) {
      throw new UsageError(`--out ${this.dir} is not writable (${(error as Error).message})`);
    }
    const holdsRun = existsSync(this.sidecar);
    if (mode.resume && !mode.force && holdsRun) return true;
    if (mode.resume && !mode.force) notice(`--resume: ${this.dir} holds no checkpoint; starting a fresh run there`);
    else if (holdsRun && !mode.force)
      throw new UsageError(
        `--out ${this.dir} holds a run (${this.sidecar}); continue it with --resume, or start afresh there with --force (which discards it)`,
      );
    // A fresh start: files of an earlier run, or of an attempt that never reached a checkpoint, go.
    for (const name of readdirSync(this.dir)) if (RUN_FILES.test(name)) rmSync(path.join(this.dir, name), { force: true });
    return false;
  }

  async save(
    policy: NamedPolicy,
    optimizer: Adam,
    meter: BudgetMeter,
    state: RunState,
    config: TrainConfig,
    tokenizer: PolicyTokenizer,
    extras: readonly ExtraModel[] = [],
    trained: TrainedVariables = { names: policy.weightNames(), variables: policy.variables },
  ): Promise<void> {
    const names = policy.weightNames();
    const tensors = await readWeights(policy, names, 'model.');
    const adam = await optimizer.state();
    addMoments(tensors, trained, trained.names, adam, 'adam.');
    const extraAdamSteps: Record<string, number> = {};
    for (const extra of extras) {
      Object.assign(tensors, await readWeights(extra.model, extra.names, extra.prefix));
      if (!extra.optimizer) continue;
      const state = await extra.optimizer.state();
      addMoments(tensors, extra.model, extra.names, state, `${extra.prefix}adam.`);
      extraAdamSteps[extra.prefix] = state.step;
    }
    // Weights first (a new file per step), then the sidecar that names them, then the old weights go:
    // a kill at any moment leaves a sidecar whose weights file exists.
    const weights = `checkpoint-step${state.step}.safetensors`;
    const file = path.join(this.dir, weights);
    // Hash the bytes as written, rather than reading the file back.
    const bytes = encodeSafetensors(tensors, { step: String(state.step) });
    writeFileAtomic(file, bytes);
    const sidecar: Sidecar = {
      version: SIDECAR_VERSION,
      fingerprint: fingerprintOf(config, this.model?.()),
      step: state.step,
      weights,
      weightsSha256: sha256(bytes),
      adamStep: adam.step,
      ...(extras.length ? { extraAdamSteps } : {}),
      consumed: meter.consumed,
      state,
      config,
      tokenizer: tokenizer.toJSON(),
    };
    writeFileAtomic(this.sidecar, JSON.stringify(sidecar, null, 1));
    for (const name of readdirSync(this.dir))
      if (/^checkpoint-step\d+\.safetensors$/.test(name) && name !== weights) rmSync(path.join(this.dir, name), { force: true });
  }

  /** Reads and checks the sidecar: version, fingerprint against this run's configuration, tokenizer. */
  readSidecar(config: TrainConfig, tokenizer: PolicyTokenizer): Sidecar {
    let saved: Sidecar;
    try {
      saved = JSON.parse(readFileSync(this.sidecar, 'utf8')) as Sidecar;
    } catch (error) {
      throw new UsageError(`${this.sidecar}: cannot read the checkpoint sidecar (${(error as Error).message})`);
    }
    if (typeof saved !== 'object' || saved === null || saved.version !== SIDECAR_VERSION)
      throw new UsageError(
        `${this.sidecar}: field 'version' is ${JSON.stringify((saved as { version?: unknown } | null)?.version)}, expected ${SIDECAR_VERSION} (written by another version of policy-lab); start afresh with --force`,
      );
    for (const [field, ok] of [
      ['step', Number.isSafeInteger(saved.step) && saved.step >= 0],
      ['weights', typeof saved.weights === 'string' && /^checkpoint-step\d+\.safetensors$/.test(saved.weights)],
      ['weightsSha256', typeof saved.weightsSha256 === 'string'],
      ['adamStep', Number.isSafeInteger(saved.adamStep)],
      ['consumed', typeof saved.consumed === 'object' && saved.consumed !== null],
      ['state', typeof saved.state === 'object' && saved.state !== null],
    ] as const)
      if (!ok) throw new UsageError(`${this.sidecar}: field '${field}' is missing or malformed (a damaged checkpoint)`);
    const model = this.model?.();
    this.checkModel(saved.fingerprint?.hfModel, model);
    const difference = firstDifference(saved.fingerprint, fingerprintOf(config, model));
    if (difference)
      throw new UsageError(
        `--resume: ${this.dir} holds another run: ${difference.key} was ${JSON.stringify(difference.saved)}, now ${JSON.stringify(difference.now)} (resume with the same settings, or start afresh with --force)`,
      );
    if (JSON.stringify(saved.tokenizer) !== JSON.stringify(tokenizer.toJSON()))
      throw new UsageError(
        `${this.sidecar}: this checkpoint was made with another alphabet (the environment changed); continue it with the same environment, or start afresh with --force`,
      );
    return saved;
  }

  /** A checkpoint of another model, or of a changed model folder, is refused naming what differs. */
  private checkModel(saved: RunModelFingerprint | undefined, now: RunModelFingerprint | undefined): void {
    const files = (f: RunModelFingerprint | undefined) => typeof f?.files === 'object' && f.files !== null;
    if (!files(saved) && !files(now)) return;
    if (!files(saved) || !files(now))
      throw new UsageError(
        `--resume: ${this.dir} holds a run of ${files(saved) ? 'a Hugging Face model (--model)' : 'the character transformer (no --model)'}, and this run ${files(now) ? 'gives --model' : 'gives no --model'} (resume with the same model, or start afresh with --force)`,
      );
    const changed = changedModelFiles(saved as RunModelFingerprint, now as RunModelFingerprint);
    if (changed.length)
      throw new UsageError(
        `--resume: the model folder changed since ${this.dir} was checkpointed: ${changed.join(', ')} (resume with the model the run started from, or start afresh with --force)`,
      );
  }

  /** Restores weights, Adam moments and the budget consumed; cuts the logs back to the checkpoint's step. */
  restore(
    saved: Sidecar,
    policy: NamedPolicy,
    optimizer: Adam,
    meter: BudgetMeter,
    extras: readonly ExtraModel[] = [],
    trained: TrainedVariables = { names: policy.weightNames(), variables: policy.variables },
  ): RunState {
    const { file, tensors } = this.checkedWeights(saved);
    writeWeights(policy, policy.weightNames(), tensors, file, 'model.');
    optimizer.restore(momentsOf(tensors, trained.names, saved.adamStep, 'adam.'));
    writeExtras(saved, extras, tensors, file);
    meter.charge(saved.consumed);
    this.truncateLog(this.metrics, saved.step, true);
    this.truncateLog(this.timings, saved.step, false);
    return saved.state;
  }

  /** Writes the extra models' tensors (and Adam moments) from the checkpoint; a model the checkpoint lacks is an error. */
  restoreExtras(saved: Sidecar, extras: readonly ExtraModel[]): void {
    if (extras.length === 0) return;
    const { file, tensors } = this.checkedWeights(saved);
    writeExtras(saved, extras, tensors, file);
  }

  private checkedWeights(saved: Sidecar): { file: string; tensors: Record<string, NamedTensor> } {
    const file = path.join(this.dir, saved.weights);
    if (!existsSync(file)) throw new UsageError(`${file}: missing (named by ${this.sidecar})`);
    const digest = sha256(readFileSync(file));
    if (digest !== saved.weightsSha256)
      throw new UsageError(`${file}: checksum ${digest.slice(0, 12)}... does not match the sidecar's (a damaged checkpoint)`);
    const { tensors, metadata } = loadSafetensors(file);
    if (Number(metadata.step) !== saved.step)
      throw new UsageError(`${file}: holds step ${metadata.step} but ${this.sidecar} says ${saved.step}`);
    for (const [name, tensor] of Object.entries(tensors))
      if (tensor.data.some((x) => !Number.isFinite(x)))
        throw new UsageError(`${file}: tensor '${name}' holds a non-finite value (a corrupted checkpoint)`);
    return { file, tensors };
  }

  appendMetrics(step: number, metrics: Record<string, number>, consumed: BudgetConsumption): void {
    const { seconds: _seconds, ...counted } = consumed;
    appendFileSync(this.metrics, `${JSON.stringify({ step, ...metrics, consumed: counted })}\n`);
  }

  appendTiming(step: number, timing: { seconds: number; tokensPerSecond: number }, consumedSeconds: number): void {
    appendFileSync(this.timings, `${JSON.stringify({ step, ...timing, consumedSeconds })}\n`);
  }

  /**
   * Keeps the lines of a log up to `step`. A partial last line (what a kill during an append
   * leaves) is dropped; a malformed line elsewhere, or a missing required log, is an error.
   */
  private truncateLog(file: string, step: number, required: boolean): void {
    if (!existsSync(file)) {
      if (required && step > 0)
        throw new UsageError(`${file}: missing, but ${this.sidecar} is at step ${step} (the run's metrics would lose steps)`);
      return;
    }
    const text = readFileSync(file, 'utf8');
    // The last piece after the final newline is '' or a partial line: either way it goes.
    const complete = text.split('\n').slice(0, -1);
    const kept: string[] = [];
    complete.forEach((line, i) => {
      if (line === '') return;
      let entry: { step?: unknown };
      try {
        entry = JSON.parse(line);
      } catch {
        throw new UsageError(`${file}: line ${i + 1} is not JSON (a damaged log)`);
      }
      if (typeof entry.step === 'number' && entry.step <= step) kept.push(line);
    });
    writeFileAtomic(file, kept.length ? `${kept.join('\n')}\n` : '');
  }
}

function writeExtras(saved: Sidecar, extras: readonly ExtraModel[], tensors: Record<string, NamedTensor>, file: string): void {
  for (const extra of extras) {
    writeWeights(extra.model, extra.names, tensors, file, extra.prefix);
    if (extra.optimizer)
      extra.optimizer.restore(momentsOf(tensors, extra.names, saved.extraAdamSteps?.[extra.prefix] ?? 0, `${extra.prefix}adam.`));
  }
}

function addMoments(
  tensors: Record<string, NamedTensor>,
  model: Weighted,
  names: readonly string[],
  adam: AdamState,
  prefix: string,
): void {
  model.variables.forEach((v, i) => {
    tensors[`${prefix}m.${names[i]}`] = { shape: [...v.shape], data: adam.m[i] as Float32Array };
    tensors[`${prefix}v.${names[i]}`] = { shape: [...v.shape], data: adam.v[i] as Float32Array };
  });
}

function momentsOf(tensors: Record<string, NamedTensor>, names: readonly string[], step: number, prefix: string): AdamState {
  const moment = (kind: 'm' | 'v', n: string) => {
    const found = tensors[`${prefix}${kind}.${n}`];
    if (!found) throw new UsageError(`the checkpoint has no Adam moment '${prefix}${kind}.${n}' (a damaged checkpoint)`);
    return found.data;
  };
  return { step, m: names.map((n) => moment('m', n)), v: names.map((n) => moment('v', n)) };
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The frozen starting point (after SFT), the reference of penalties and reference-based losses.
 * The run folder keeps it (reference.safetensors) so that a resumed run regularises toward the
 * same policy, not toward the one it resumed from.
 */
export async function frozenStart(policy: NamedPolicy, folder: RunFolder | undefined, resumed: boolean): Promise<PolicyModel> {
  const frozen = policy.freeze();
  if (!folder) return frozen;
  const names = policy.weightNames();
  if (resumed && existsSync(folder.reference))
    writeWeights(frozen, names, loadSafetensors(folder.reference).tensors, folder.reference, 'model.');
  else if (!resumed) saveSafetensors(folder.reference, await readWeights(frozen, names, 'model.'), {});
  return frozen;
}
