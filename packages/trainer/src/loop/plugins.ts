/**
 * Resolving a run: every plugin looked up through the registry (the built-ins have no private
 * door), the configuration resolved and validated, and the options checked against the plugins
 * that read them.
 */
import {
  type AdvantageEstimator,
  type Divergence,
  type Environment,
  type EnvironmentRequirements,
  type Method,
  missingRequirements,
  type PluginRef,
  type PolicyLoss,
  type Registry,
  type RewardModel,
  type RewardShaper,
  type Sampler,
  type StepHook,
  type TaskSource,
  type TrainConfig,
  UsageError,
} from '@policy-lab/core';
import type * as tf from '@tensorflow/tfjs-core';
import { serialUnfit } from '../samplers/serial-exits.js';
import type { TrainOptions } from './api.js';
import { explicitKeys, resolveTrainConfig } from './config.js';
import { checkOptionReaders, unreadKeys } from './option-readers.js';

type Tf = typeof tf;

export interface Resolved {
  method: Method;
  env: Environment;
  /** The environment before a task source wrapped it (the same object when none did). */
  baseEnv: Environment;
  estimator: AdvantageEstimator;
  loss: PolicyLoss<Tf, tf.Tensor>;
  divergence?: Divergence<Tf, tf.Tensor>;
  shapers: RewardShaper[];
  /** How actions are decoded; plain sampling when absent. */
  sampler?: Sampler;
  rewardModels: RewardModel[];
  /** The stream of training tasks; uniform draws when absent. */
  taskSource?: TaskSource;
  hooks: StepHook[];
  config: TrainConfig;
  /** The Method's earlier stages: each loss trains until the budget's progress reaches `until`. */
  stages?: { loss: PolicyLoss<Tf, tf.Tensor>; until: number }[];
}

export function resolvePlugins(options: TrainOptions, checks: { readers?: boolean } = {}): Resolved {
  const { registry } = options;
  if (!Number.isSafeInteger(options.seed) || options.seed < 0)
    throw new UsageError(`bad seed '${options.seed}': expected a non-negative integer`);
  const method = registry.get('methods', options.method);
  const overrides = options.overrides ?? {};
  // The environment's own options (--set envOptions.<key>=...) change its tasks and recommended sizes.
  const envOptions = overrides.envOptions as Record<string, unknown> | undefined;
  const env = registry.resolve(
    'environments',
    options.env,
    envOptions && Object.keys(envOptions).length ? envOptions : undefined,
  );
  const config = resolveTrainConfig({ method, env, seed: options.seed, budget: options.budget }, overrides);
  const explicit = explicitKeys(method, overrides);
  const estimatorOptions = (config.estimatorOptions ?? {}) as Record<string, unknown>;
  const estimator = registry.resolve(
    'estimators',
    config.estimator ?? method.estimator,
    Object.keys(estimatorOptions).length ? estimatorOptions : undefined,
  );
  const lossRef = (config.loss as string | undefined) ?? method.loss;
  const lossName = typeof lossRef === 'string' ? lossRef : lossRef.name;
  const lossPlugin = registry.get('losses', lossName);
  // Shared keys a loss honours (clipLow, clipHigh) reach it as options only when they were set.
  const honoured = Object.fromEntries(
    (lossPlugin.honours ?? [])
      .filter((key) => explicit.has(key))
      .map((key) => [key, (config as unknown as Record<string, unknown>)[key]]),
  );
  const lossOptions = {
    ...(typeof lossRef === 'object' && lossRef.options ? lossRef.options : {}),
    ...honoured,
    ...((config.lossOptions ?? {}) as Record<string, unknown>),
  };
  const loss = registry.resolve('losses', lossName, Object.keys(lossOptions).length ? lossOptions : undefined) as PolicyLoss<
    Tf,
    tf.Tensor
  >;
  const divergenceRef = (config.divergence as string | undefined) ?? method.divergence;
  const divergence = divergenceRef ? (registry.resolve('divergences', divergenceRef) as Divergence<Tf, tf.Tensor>) : undefined;
  if (divergence && !divergence.penalty)
    throw new UsageError(`divergence '${divergence.name}' has no tensor penalty; it cannot be used as the trainer's penalty`);
  const shapers = [...(method.shapers ?? []), ...(config.shapers ?? [])].map((ref) => registry.resolve('shapers', ref));
  const stages = (method.stages ?? []).map((stage, k, all) => {
    const previous = k === 0 ? 0 : (all[k - 1]?.until as number);
    if (!(stage.until > previous && stage.until < 1))
      throw new UsageError(
        `method '${method.name}': stage ${k + 1} ends at budget share ${stage.until}; shares must increase within (0, 1)`,
      );
    return { loss: registry.resolve('losses', stage.loss) as PolicyLoss<Tf, tf.Tensor>, until: stage.until };
  });
  const extensions = resolveExtensions(registry, method, config);
  const resolved: Resolved = {
    method,
    // A source that draws tasks of its own kind (judge tasks) trains and evaluates in its wrapper of the environment.
    env: extensions.taskSource?.environment?.(env) ?? env,
    baseEnv: env,
    estimator,
    loss,
    ...(divergence ? { divergence } : {}),
    shapers,
    ...extensions,
    config,
    ...(stages.length ? { stages } : {}),
  };
  checkRequirements(resolved, registry);
  // Reward models that read the environment's rules are bound to it here (a UsageError: exit 2).
  resolved.rewardModels = resolved.rewardModels.map((model) => model.bind?.(resolved.env, { seed: config.seed }) ?? model);
  // Serial groups need a single-turn environment whose answer follows the exit marker: refused here, before a run starts.
  if (resolved.sampler?.strategy === 'serial') {
    const problem = serialUnfit(resolved.env, resolved.sampler.exitText);
    if (problem) throw new UsageError(problem);
  }
  if (resolved.sampler?.strategy === 'mcts' && resolved.env.maxTurns !== 1)
    throw new UsageError(
      `sampler '${resolved.sampler.name}' searches the steps of one action: environment '${resolved.env.name}' has episodes of up to ${resolved.env.maxTurns} turns; it needs a single-turn environment (countdown, arithmetic)`,
    );
  if (checks.readers !== false) checkOptionReaders(resolved, new Set(Object.keys(overrides)), registry);
  checkData(resolved, options);
  checkTeacherForcing(resolved, registry);
  if (loss.kind === 'pairs' && loss.needs?.context && !((config.softPrompt ?? 0) > 0))
    throw new UsageError(
      `loss '${loss.name}' learns an optimal context z* as the run's soft prompt; give it one with --set softPrompt=P (P >= 1; got ${config.softPrompt ?? 0})`,
    );
  if (loss.kind === 'rows' && loss.needs?.teacher && !config.teacher)
    throw new UsageError(
      `loss '${loss.name}' distils from a teacher: name one with --set teacher=<run folder> (a finished bench train --out folder on the same environment)`,
    );
  if (resolved.estimator.needsTeacher && !config.teacher)
    throw new UsageError(
      `estimator '${resolved.estimator.name}' scores under a teacher: name one with --set teacher=<run folder> (a finished bench train --out folder on the same environment)`,
    );
  const keepsReference =
    divergence !== undefined ||
    Boolean(loss.needs?.reference) ||
    stages.some((stage) => stage.loss.needs?.reference) ||
    Boolean(config.teacher);
  for (const hook of resolved.hooks)
    if (hook.needs?.reference && !keepsReference)
      throw new UsageError(
        `hook '${hook.name}' resets the reference policy, but this run keeps none: add a divergence (--set divergence=<${registry.names('divergences').join(', ')}>) or use a loss that reads a reference`,
      );
  if (estimator.needsCritic && !config.model.valueHead) config.model.valueHead = true;
  return resolved;
}

/** A --set name replaces the Method's reference; --set options apply to whichever is chosen. */
function chosen(
  methodRef: PluginRef | undefined,
  name: string | undefined,
  options: Record<string, unknown> | undefined,
): { ref: PluginRef; options?: Record<string, unknown> } | undefined {
  const ref = name ?? methodRef;
  if (ref === undefined) return undefined;
  return { ref, ...(options && Object.keys(options).length ? { options } : {}) };
}

/** The sampler, reward models, task source and hooks of a run: the Method's, then --set's. */
function resolveExtensions(
  registry: Registry,
  method: Method,
  config: TrainConfig,
): Pick<Resolved, 'sampler' | 'rewardModels' | 'taskSource' | 'hooks'> {
  const sampler = chosen(method.sampler, config.sampler, config.samplerOptions);
  const taskSource = chosen(method.taskSource, config.taskSource, config.taskSourceOptions);
  if (!sampler && config.samplerOptions)
    throw new UsageError('--set samplerOptions: this run has no sampler (name one with --set sampler=<name>)');
  if (!taskSource && config.taskSourceOptions)
    throw new UsageError('--set taskSourceOptions: this run has no task source (name one with --set taskSource=<name>)');
  const byName = <K extends 'rewardModels' | 'hooks'>(
    kind: K,
    refs: readonly PluginRef[],
    options: Record<string, Record<string, unknown>> | undefined,
    optionKey: string,
  ) => {
    const names = refs.map((ref) => registry.canonical(kind, typeof ref === 'string' ? ref : ref.name));
    for (const key of Object.keys(options ?? {}))
      if (!names.includes(registry.canonical(kind, key)))
        throw new UsageError(
          `--set ${optionKey}.${key}: this run has no ${kind === 'hooks' ? 'hook' : 'reward model'} '${key}' (it has: ${names.join(', ') || 'none'})`,
        );
    return refs.map((ref) => {
      const name = typeof ref === 'string' ? ref : ref.name;
      return registry.resolve(kind, ref, options?.[name]);
    });
  };
  const rewardModels = byName(
    'rewardModels',
    [...(method.rewardModels ?? []), ...(config.rewardModels ?? [])],
    config.rewardModelOptions,
    'rewardModelOptions',
  );
  const hooks = byName('hooks', [...(method.hooks ?? []), ...(config.hooks ?? [])], config.hookOptions, 'hookOptions');
  for (const list of [rewardModels, hooks]) {
    const seen = new Set<string>();
    for (const p of list) {
      if (seen.has(p.name)) throw new UsageError(`'${p.name}' is named twice (by the method and by --set); name it once`);
      seen.add(p.name);
    }
  }
  return {
    ...(sampler ? { sampler: registry.resolve('samplers', sampler.ref, sampler.options) } : {}),
    rewardModels,
    ...(taskSource ? { taskSource: registry.resolve('taskSources', taskSource.ref, taskSource.options) } : {}),
    hooks,
  };
}

/**
 * Every estimator and shaper gets what it declares it needs of the environment (reward
 * components, several turns); otherwise the run is refused naming what is missing and the
 * environments that have it.
 */
function checkRequirements({ env, estimator, shapers }: Resolved, registry: Registry): void {
  const components = env.rewardComponents.map((c) => c.name);
  const check = (kind: string, plugin: { name: string; requires?: EnvironmentRequirements }, available: readonly string[]) => {
    const missing = missingRequirements(plugin.requires, env, available);
    if (missing.length === 0) return;
    const fitting = registry
      .list('environments')
      .map((e) => e.item)
      .filter(
        (e) =>
          missingRequirements(
            plugin.requires,
            e,
            e.rewardComponents.map((c) => c.name),
          ).length === 0,
      )
      .map((e) => e.name);
    throw new UsageError(
      `${kind} '${plugin.name}' needs ${missing.join(' and ')}, which environment '${env.name}' does not have (it has: ${components.join(', ')}${env.maxTurns > 1 ? '' : '; one turn'}); environments that have it: ${fitting.join(', ') || 'none installed'}`,
    );
  };
  check('estimator', estimator, components);
  const available = [...components];
  for (const shaper of shapers) {
    check('shaper', shaper, available);
    for (const added of shaper.adds ?? []) available.push(added.name);
  }
}

/** An offline dataset must fit the loss: pairs for a pair loss, pairs or labels for a labelled one. */
function checkData({ method, env, loss }: Resolved, options: TrainOptions): void {
  const data = options.preferences;
  if (data && loss.kind === 'rows')
    throw new UsageError(
      `--data ${data.file} is a preference dataset, but method '${method.name}' trains with loss '${loss.name}', which is not a preference objective (choose a preference method, or --set loss=<a preference loss>; bench list --kind losses)`,
    );
  if (data && loss.kind === 'pairs' && !data.pairs)
    throw new UsageError(
      `--data ${data.file} holds unpaired {prompt, completion, label} records, but loss '${loss.name}' trains on pairs {prompt, chosen, rejected} (use kto or kto-apo-zero-unpaired, or a paired dataset)`,
    );
  if (loss.kind === 'pairs' && loss.needs?.pairsFrom === 'demonstrations' && !env.demonstrate && !data)
    throw new UsageError(
      `loss '${loss.name}' trains on the environment's expert demonstrations, and environment '${env.name}' has none (give a dataset with --data)`,
    );
}

/**
 * Teacher forcing (VA-pi) reads the expert's one action per task: a single-turn environment with
 * `demonstrate`; a loss over teacher-forced rows needs the sampler that makes them.
 */
function checkTeacherForcing({ env, loss, sampler }: Resolved, registry: Registry): void {
  const teacherForced = sampler?.strategy === 'teacher-forced';
  if (loss.kind === 'rows' && loss.needs?.forced && !teacherForced)
    throw new UsageError(
      `loss '${loss.name}' trains on teacher-forced rows; run it with --set sampler=teacher-forced (this run's sampler: ${sampler?.name ?? 'plain sampling'})`,
    );
  if (!teacherForced) return;
  const fits = (e: Environment) => e.maxTurns === 1 && typeof e.demonstrate === 'function';
  if (fits(env)) return;
  const fitting = registry
    .list('environments')
    .map((e) => e.item)
    .filter(fits)
    .map((e) => e.name);
  throw new UsageError(
    `sampler '${sampler?.name}' forces the expert's reference action, which needs a single-turn environment with an expert (demonstrate); '${env.name}' ${env.maxTurns !== 1 ? `has up to ${env.maxTurns} turns` : 'has no expert'}; environments that fit: ${fitting.join(', ') || 'none installed'}`,
  );
}

/** Reward component weights: the environment's, the reward models' and the shapers' additions, then --set weights. */
export function componentWeights(
  env: Environment,
  config: TrainConfig,
  shapers: readonly RewardShaper[] = [],
  rewardModels: readonly RewardModel[] = [],
): Record<string, number> {
  const weights = Object.fromEntries(env.rewardComponents.map((c) => [c.name, c.weight]));
  for (const model of rewardModels) weights[model.component.name] = model.component.weight;
  for (const shaper of shapers) for (const c of shaper.adds ?? []) weights[c.name] = c.weight;
  for (const [name, weight] of Object.entries(config.weights ?? {})) {
    if (!(name in weights))
      throw new UsageError(
        `--set weights.${name}: environment '${env.name}' has no reward component '${name}' (has: ${Object.keys(weights).join(', ')})`,
      );
    weights[name] = weight;
  }
  return weights;
}

/**
 * The --set keys of `options.overrides` that no active plugin of this (method, environment)
 * reads: a comparison applies such a key only to the methods that read it.
 */
export function unreadOptions(options: Omit<TrainOptions, 'budget'> & { budget?: TrainOptions['budget'] }): string[] {
  const run = resolvePlugins({ ...options, budget: options.budget ?? { episodes: 1 } }, { readers: false });
  return unreadKeys(run, Object.keys(options.overrides ?? {}));
}

/**
 * Why this (method, environment) cannot train as configured, in the refusal's own words
 * (a missing teacher, data, reward component, several turns), or undefined when it can.
 * A leaderboard lists the pairs it skips with this reason.
 */
export function whyUnfit(options: Omit<TrainOptions, 'budget'> & { budget?: TrainOptions['budget'] }): string | undefined {
  try {
    resolvePlugins({ ...options, budget: options.budget ?? { episodes: 1 } }, { readers: false });
    return undefined;
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
}
