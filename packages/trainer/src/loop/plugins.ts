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
  type PolicyLoss,
  type Registry,
  type RewardShaper,
  type TrainConfig,
  UsageError,
} from '@policy-lab/core';
import type * as tf from '@tensorflow/tfjs-core';
import type { TrainOptions } from './api.js';
import { explicitKeys, resolveTrainConfig } from './config.js';
import { checkOptionReaders, unreadKeys } from './option-readers.js';

type Tf = typeof tf;

export interface Resolved {
  method: Method;
  env: Environment;
  estimator: AdvantageEstimator;
  loss: PolicyLoss<Tf, tf.Tensor>;
  divergence?: Divergence<Tf, tf.Tensor>;
  shapers: RewardShaper[];
  config: TrainConfig;
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
  const resolved: Resolved = { method, env, estimator, loss, ...(divergence ? { divergence } : {}), shapers, config };
  checkRequirements(resolved, registry);
  if (checks.readers !== false) checkOptionReaders(resolved, new Set(Object.keys(overrides)), registry);
  checkData(resolved, options);
  if (loss.kind === 'rows' && loss.needs?.teacher && !config.teacher)
    throw new UsageError(
      `loss '${loss.name}' distils from a teacher: name one with --set teacher=<run folder> (a finished bench train --out folder on the same environment)`,
    );
  if (estimator.needsCritic && !config.model.valueHead) config.model.valueHead = true;
  return resolved;
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

/** Reward component weights: the environment's, the shapers' additions, then --set weights. */
export function componentWeights(
  env: Environment,
  config: TrainConfig,
  shapers: readonly RewardShaper[] = [],
): Record<string, number> {
  const weights = Object.fromEntries(env.rewardComponents.map((c) => [c.name, c.weight]));
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
