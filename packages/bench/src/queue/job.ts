/**
 * What a queued job may ask of a worker. A job comes from whoever can write to the Redis, so
 * it is data, never code or a place: it names plugins only by their registered names (the
 * worker loads what its own --plugin/--config name), its ids and fingerprint are checked, and
 * every path it leads to (run folder, SFT cache, a teacher run, a data folder or file) stays
 * inside the worker's folder.
 */
import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { BudgetLimit } from '@policy-lab/core';
import { UnrecoverableError } from 'bullmq';
import type { CompareModel, PreferencesRef, Unit } from '../compare/plan.js';
import type { UnitRequest } from '../compare/pool.js';
import { showValue } from '../io.js';

/** The job payload (what the coordinator puts on the queue). */
export interface UnitJob {
  unit: Unit;
  fingerprint: string;
  backend: string;
  kernels: string;
  threads: number;
  budget: BudgetLimit;
  overrides: Record<string, unknown>;
  preferences?: PreferencesRef;
  /** The comparison's Hugging Face model: its folder must be inside the worker's folder, with the same files. */
  model?: CompareModel;
}

/** What `bench worker` was started with: the only source of plugins and the only folder jobs may touch. */
export interface WorkerSetup {
  /** Where the worker was started (plugin discovery, the config file). */
  cwd: string;
  /** The worker's folder: run folders and SFT caches are made in it, and files a job reads must be in it. */
  folder: string;
  plugins: string[];
  config?: string;
}

/** How `bench worker` hands its setup to the sandboxed processor processes it forks. */
export const SETUP_VARIABLE = 'POLICY_LAB_WORKER_SETUP';

/** Unrecoverable: BullMQ fails the job at once instead of retrying it on another worker. */
export class JobRefused extends UnrecoverableError {}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const FINGERPRINT = /^[0-9a-f]{16}$/;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `candidate` (absolute, or relative to `folder`) resolved through symlinks, if it stays inside `folder`. */
export function insideFolder(folder: string, candidate: string): string | undefined {
  const root = existsSync(folder) ? realpathSync(folder) : path.resolve(folder);
  let resolved = path.resolve(root, candidate);
  if (existsSync(resolved)) resolved = realpathSync(resolved);
  const relative = path.relative(root, resolved);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative)) ? resolved : undefined;
}

/** Turns a job's data into a unit request for this worker, or refuses it with one line naming the bad field. */
export function acceptJob(data: unknown, setup: WorkerSetup): UnitRequest {
  const refuse = (field: string, why: string): never => {
    throw new JobRefused(`job refused: ${field} ${why}`);
  };
  if (!isObject(data)) return refuse('data', 'must be an object');
  if (data.plugins !== undefined && !(Array.isArray(data.plugins) && data.plugins.length === 0))
    refuse(
      'plugins',
      `${showValue(data.plugins)}: a job names plugins by registered name only; this worker loads what its own --plugin and --config name`,
    );
  if (data.config !== undefined)
    refuse('config', `${showValue(data.config)}: a job cannot name a config file; start the worker with --config`);
  const fingerprint = data.fingerprint;
  if (typeof fingerprint !== 'string' || !FINGERPRINT.test(fingerprint))
    refuse('fingerprint', `${showValue(fingerprint)} is not a comparison fingerprint (16 hex digits)`);
  const unit = isObject(data.unit) ? data.unit : refuse('unit', 'must be an object {id, method, env, seed}');
  for (const key of ['method', 'env'])
    if (typeof unit[key] !== 'string' || !NAME.test(unit[key] as string))
      refuse(`unit.${key}`, `${showValue(unit[key])} is not a registered name`);
  if (!Number.isSafeInteger(unit.seed) || (unit.seed as number) < 0) refuse('unit.seed', `${showValue(unit.seed)} is not a seed`);
  const id = `${unit.method}__${unit.env}__s${unit.seed}`;
  if (unit.id !== id) refuse('unit.id', `${showValue(unit.id)} is not the unit's id (${id})`);
  for (const key of ['backend', 'kernels'])
    if (typeof data[key] !== 'string' || !NAME.test(data[key] as string)) refuse(key, `${showValue(data[key])} is not a name`);
  if (data.threads !== 1 && data.threads !== 2) refuse('threads', `${showValue(data.threads)}: accepted 1, 2`);
  if (!isObject(data.budget)) refuse('budget', 'must be an object');
  const overrides = isObject(data.overrides) ? data.overrides : refuse('overrides', 'must be an object');
  const inside = (field: string, value: unknown): string => {
    if (typeof value !== 'string') return refuse(field, `${showValue(value)} must be a path`);
    return (
      insideFolder(setup.folder, value) ??
      refuse(field, `${showValue(value)} is outside this worker's folder ${setup.folder} (bench worker --dir)`)
    );
  };
  const checkedOverrides = { ...overrides };
  if (overrides.teacher !== undefined) checkedOverrides.teacher = inside('overrides.teacher', overrides.teacher);
  if (isObject(overrides.envOptions) && overrides.envOptions.data !== undefined)
    checkedOverrides.envOptions = {
      ...overrides.envOptions,
      data: inside('overrides.envOptions.data', overrides.envOptions.data),
    };
  let preferences: PreferencesRef | undefined;
  if (data.preferences !== undefined) {
    const ref = isObject(data.preferences) ? data.preferences : refuse('preferences', 'must be an object {file, sha256}');
    if (typeof ref.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(ref.sha256)) refuse('preferences.sha256', 'is not a sha256');
    preferences = { file: inside('preferences.file', ref.file), sha256: ref.sha256 as string };
  }
  const model = data.model === undefined ? undefined : acceptModel(data.model, inside, refuse);
  // Checkpoints and the SFT cache live on this machine; a unit restarted elsewhere starts over
  // (deterministically, so its result is the same).
  const scratch = path.join(path.resolve(setup.folder), fingerprint as string);
  return {
    unit: { id, method: unit.method as string, env: unit.env as string, seed: unit.seed as number },
    cwd: setup.cwd,
    plugins: setup.plugins,
    ...(setup.config ? { config: setup.config } : {}),
    backend: data.backend as string,
    kernels: data.kernels as string,
    threads: data.threads as number,
    budget: data.budget as BudgetLimit,
    overrides: checkedOverrides,
    ...(preferences ? { preferences } : {}),
    ...(model ? { model } : {}),
    outDir: path.join(scratch, id),
    sftCacheDir: path.join(scratch, 'sft-cache'),
  };
}

/** A job's model: a folder inside the worker's folder, sha256 digests of its files, LoRA settings, the start. */
function acceptModel(
  value: unknown,
  inside: (field: string, value: unknown) => string,
  refuse: (field: string, why: string) => never,
): CompareModel {
  const model = isObject(value) ? value : refuse('model', 'must be an object {folder, files, sft, ...}');
  const files = isObject(model.files) ? model.files : refuse('model.files', 'must be an object of sha256 digests');
  for (const [name, sha] of Object.entries(files))
    if (!NAME.test(name) || typeof sha !== 'string' || !/^[0-9a-f]{64}$/.test(sha))
      refuse(`model.files.${name}`, `${showValue(sha)} is not a file name with its sha256`);
  if (model.sft !== 'cache' && model.sft !== 'none') refuse('model.sft', `${showValue(model.sft)}: accepted cache, none`);
  if (model.chatTemplate !== undefined && model.chatTemplate !== 'off')
    refuse('model.chatTemplate', `${showValue(model.chatTemplate)}: accepted off (or absent: auto)`);
  for (const key of ['name', 'modelType'])
    if (typeof model[key] !== 'string') refuse(`model.${key}`, `${showValue(model[key])} must be a string`);
  if (!Number.isSafeInteger(model.parameters)) refuse('model.parameters', `${showValue(model.parameters)} must be an integer`);
  let lora: CompareModel['lora'];
  if (model.lora !== undefined) {
    const given = isObject(model.lora) ? model.lora : refuse('model.lora', 'must be an object {rank, alpha, targets}');
    if (!Number.isSafeInteger(given.rank) || (given.rank as number) < 1)
      refuse('model.lora.rank', `${showValue(given.rank)} must be a positive integer`);
    if (typeof given.alpha !== 'number' || !(given.alpha > 0))
      refuse('model.lora.alpha', `${showValue(given.alpha)} must be a positive number`);
    if (!Array.isArray(given.targets) || !given.targets.every((t) => typeof t === 'string' && NAME.test(t)))
      refuse('model.lora.targets', `${showValue(given.targets)} must be projection names`);
    lora = { rank: given.rank as number, alpha: given.alpha as number, targets: given.targets as string[] };
  }
  return {
    folder: inside('model.folder', model.folder),
    name: model.name as string,
    modelType: model.modelType as string,
    parameters: model.parameters as number,
    ...(lora ? { lora } : {}),
    sft: model.sft,
    ...(model.chatTemplate === 'off' ? { chatTemplate: 'off' as const } : {}),
    files: files as Record<string, string>,
  };
}
