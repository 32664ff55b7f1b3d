/**
 * The start's evaluation, shared by a comparison's runs. Every method of an (environment,
 * seed) starts from the same SFT checkpoint and evaluates it on the same test tasks with the
 * same random stream, so the numbers are the same: the first run computes them and the others
 * read them (a leaderboard evaluated the start once per method before). The key holds
 * everything the numbers depend on, the starting weights' bytes among them, so a run that
 * starts elsewhere (its own SFT, a soft prompt) never reads another's.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PolicyModel } from '../model/policy.js';
import type { EvalResult } from './api.js';

export interface StartEvalInputs {
  policy: PolicyModel;
  env: { name: string; resolved?: unknown; alphabet?: () => string };
  /** The test tasks' ids, in evaluation order. */
  taskIds: readonly string[];
  seed: number;
  evalSamples: number;
  maxNewTokens: number;
  backend: { name: string; kernels?: string; threads?: number };
}

/** The cache key: a hash of the starting weights and of every setting evaluation reads. */
export function startEvalKey(inputs: StartEvalInputs): string {
  const hash = createHash('sha256');
  for (const variable of inputs.policy.variables) {
    const values = variable.dataSync() as Float32Array;
    // Shapes and values, not names: a variable's name carries a per-process counter.
    hash.update(variable.shape.join('x')).update(Buffer.from(values.buffer, values.byteOffset, values.byteLength));
  }
  hash.update(
    JSON.stringify({
      model: inputs.policy.config,
      env: inputs.env.name,
      options: inputs.env.resolved ?? null,
      alphabet: inputs.env.alphabet?.() ?? '',
      tasks: inputs.taskIds,
      seed: inputs.seed,
      evalSamples: inputs.evalSamples,
      maxNewTokens: inputs.maxNewTokens,
      backend: inputs.backend,
    }),
  );
  return hash.digest('hex').slice(0, 24);
}

const fileOf = (dir: string, key: string) => path.join(dir, 'start-eval', `${key}.json`);

/** The evaluation stored under `key`, or undefined (none, or a file that does not parse: it is recomputed). */
export function readStartEval(dir: string, key: string): EvalResult | undefined {
  const file = fileOf(dir, key);
  if (!existsSync(file)) return undefined;
  try {
    const result = JSON.parse(readFileSync(file, 'utf8')) as EvalResult;
    return typeof result.success === 'number' && Array.isArray(result.perTask) ? result : undefined;
  } catch {
    return undefined;
  }
}

/** Stores an evaluation under `key`; written whole (temporary file, then rename) so a reader never sees half of one. */
export function writeStartEval(dir: string, key: string, result: EvalResult): void {
  const file = fileOf(dir, key);
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(result)}\n`);
  renameSync(temporary, file);
}
