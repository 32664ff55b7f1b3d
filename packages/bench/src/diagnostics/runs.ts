/**
 * What the diagnostics share: parsing their numeric flags (exit 2 naming the value and what is
 * accepted), playing model-free policies, and training runs through the trainer's public `train`.
 */
import { type BudgetLimit, type Environment, Rng, UsageError } from '@policy-lab/core';
import type { LoadedRegistry } from '@policy-lab/core/node';
import type { TrainResult } from '@policy-lab/trainer';
import type { CommandContext } from '../context.js';

export function numberFlag(flag: string, text: string, options: { min: number; max: number; integer?: boolean }): number {
  const value = Number(text);
  const { min, max, integer } = options;
  if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value)))
    throw new UsageError(`bad ${flag} '${text}': expected ${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`);
  return value;
}

/** A comma-separated list of numbers (`--radius 0,1,2`). */
export function numberList(flag: string, text: string, options: { min: number; max: number; integer?: boolean }): number[] {
  const values = text.split(',').map((part) => numberFlag(flag, part.trim(), options));
  return [...new Set(values)];
}

export const MODEL_FREE_POLICIES = ['expert', 'random'] as const;
export type ModelFreePolicy = (typeof MODEL_FREE_POLICIES)[number];

/**
 * Success (0/1) of `episodes` iid episodes: tasks drawn uniformly with replacement from the test
 * split, so the episodes are independent and identically distributed (what Clopper-Pearson needs).
 */
export function playEpisodes(env: Environment, policy: ModelFreePolicy, episodes: number, seed: number): number[] {
  if (policy === 'expert' && !env.demonstrate) throw new UsageError(`environment '${env.name}' has no expert (demonstrate)`);
  const tasks = env.tasks('test', { seed: 0 });
  if (tasks.length === 0) throw new UsageError(`environment '${env.name}' gave no test tasks`);
  const rng = Rng.seeded(seed).split('certify');
  const alphabet = Array.from(env.alphabet?.() ?? 'abcdefghijklmnopqrstuvwxyz0123456789 ');
  const out: number[] = [];
  for (let k = 0; k < episodes; k++) {
    const task = rng.pick(tasks);
    const episode = env.start(task, rng.split(`episode/${k}`));
    const actions = policy === 'expert' ? (env.demonstrate?.(task) ?? []) : [];
    for (let turn = 0; turn < env.maxTurns; turn++) {
      const action =
        policy === 'expert' ? actions[turn] : Array.from({ length: rng.int(1, 12) }, () => rng.pick(alphabet)).join('');
      // The observation is read as a policy reads it, so the noise is drawn as it would be.
      episode.observation();
      if (action === undefined || episode.step(action).done) break;
    }
    out.push(episode.outcome().success ? 1 : 0);
  }
  return out;
}

/** A registry where `extra` environments resolve by name next to the loaded ones (a wrapped environment). */
export async function registryWith(ctx: CommandContext, extra: readonly Environment[]): Promise<LoadedRegistry> {
  const { createRegistry } = await import('@policy-lab/core/node');
  const { plugin, config } = ctx.options;
  const loaded = await createRegistry({ cwd: ctx.io.cwd, plugins: plugin, ...(config ? { config } : {}) });
  loaded.registry.register({ name: 'bench-diagnostics', environments: [...extra] }, 'bench diagnostics');
  return loaded;
}

export interface RunRequest {
  registry: LoadedRegistry['registry'];
  method: string;
  env: string;
  seed: number;
  budget: BudgetLimit;
  overrides: Record<string, unknown>;
}

let backendReady: Promise<unknown> | undefined;

/** The tensor backend, started once per process; returns the trainer module. */
export async function startBackend(ctx: CommandContext): Promise<typeof import('@policy-lab/trainer')> {
  const trainer = await import('@policy-lab/trainer');
  backendReady ??= trainer.initBackend({
    name: ctx.options.backend ?? 'wasm',
    warn: (line) => ctx.io.stderr(`${line}\n`),
  });
  await backendReady;
  return trainer;
}

/** Trains one run (no run folder: a diagnostic keeps only its result). */
export async function trainRun(ctx: CommandContext, request: RunRequest): Promise<TrainResult> {
  const trainer = await startBackend(ctx);
  ctx.log(`  training ${request.method} on ${request.env}, seed ${request.seed}`);
  return trainer.train({
    registry: request.registry,
    method: request.method,
    env: request.env,
    seed: request.seed,
    budget: request.budget,
    overrides: request.overrides,
    resume: false,
    force: false,
    sft: 'cache',
    onNotice: (message) => ctx.io.stderr(`note: ${message}\n`),
    ...(ctx.options.backend ? { backend: ctx.options.backend } : {}),
  });
}

/** 0/1 outcomes of a run's final evaluation: per test task, its successes among evalSamples samples. */
export function finalOutcomes(result: TrainResult): number[] {
  const samples = result.config.evalSamples;
  return result.final.perTask.flatMap((share) => {
    const successes = Math.round(share * samples);
    return Array.from({ length: samples }, (_, k) => (k < successes ? 1 : 0));
  });
}
