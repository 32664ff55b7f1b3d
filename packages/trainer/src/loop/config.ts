/**
 * The resolved configuration of a run: shared defaults <- the environment's recommended
 * sizes <- the Method's defaults <- --set overrides. Every key is validated by name.
 */
import { AGGREGATIONS, type Environment, type Method, type TrainConfig, UsageError } from '@policy-lab/core';

/** Shared hyperparameters (small, so a countdown run takes seconds on 2 cores). */
export const DEFAULT_TRAIN_CONFIG: Omit<TrainConfig, 'method' | 'env' | 'seed' | 'budget'> = {
  tasksPerStep: 8,
  groupSize: 4,
  learningRate: 3e-4,
  weightDecay: 0,
  gradClip: 1,
  warmupSteps: 0,
  epochs: 1,
  minibatches: 1,
  clipLow: 0.2,
  clipHigh: 0.2,
  aggregation: 'token-mean',
  temperature: 1,
  maxNewTokens: 16,
  divergenceCoef: 0,
  entropyCoef: 0,
  evalEvery: 5,
  evalTasks: 32,
  evalSamples: 4,
  checkpointEvery: 5,
  sftSteps: 150,
  sftLearningRate: 3e-3,
  sftBatch: 32,
  model: { dim: 64, layers: 2, heads: 4, contextLength: 64, mlpRatio: 4, valueHead: false },
};

type Overrides = Record<string, unknown>;

/** The top-level keys a run set on purpose: the Method's defaults and the --set overrides. */
export function explicitKeys(method: Method, overrides: Overrides): Set<string> {
  return new Set([...Object.keys(method.defaults ?? {}), ...Object.keys(overrides)]);
}

const NUMERIC_KEYS = [
  'tasksPerStep',
  'groupSize',
  'learningRate',
  'weightDecay',
  'gradClip',
  'warmupSteps',
  'epochs',
  'minibatches',
  'clipLow',
  'clipHigh',
  'temperature',
  'maxNewTokens',
  'divergenceCoef',
  'entropyCoef',
  'evalEvery',
  'evalTasks',
  'evalSamples',
  'checkpointEvery',
  'sftSteps',
  'sftLearningRate',
  'sftBatch',
] as const;
const INTEGER_KEYS = new Set([
  'tasksPerStep',
  'groupSize',
  'warmupSteps',
  'epochs',
  'minibatches',
  'maxNewTokens',
  'evalEvery',
  'evalTasks',
  'evalSamples',
  'checkpointEvery',
  'sftSteps',
  'sftBatch',
]);
const MODEL_KEYS = ['dim', 'layers', 'heads', 'contextLength', 'mlpRatio', 'valueHead'] as const;
/** Keys that route to plugins rather than to the shared configuration. */
export const PLUGIN_OVERRIDE_KEYS = ['estimator', 'loss', 'divergence', 'weights'] as const;

export function resolveTrainConfig(
  base: { method: Method; env: Environment; seed: number; budget: TrainConfig['budget'] },
  overrides: Overrides = {},
): TrainConfig {
  const recommended = base.env.recommended ?? {};
  const config: TrainConfig = {
    ...DEFAULT_TRAIN_CONFIG,
    model: { ...DEFAULT_TRAIN_CONFIG.model },
    method: base.method.name,
    env: base.env.name,
    seed: base.seed,
    budget: base.budget,
  };
  for (const key of ['dim', 'layers', 'heads', 'contextLength'] as const)
    if (recommended[key] !== undefined) config.model[key] = recommended[key] as number;
  if (recommended.maxNewTokens !== undefined) config.maxNewTokens = recommended.maxNewTokens;
  if (recommended.sftSteps !== undefined) config.sftSteps = recommended.sftSteps;
  apply(config, (base.method.defaults ?? {}) as Overrides, `method ${base.method.name} defaults`);
  apply(config, overrides, '--set');
  if (config.model.dim % config.model.heads !== 0)
    throw new UsageError(`--set model.dim (${config.model.dim}) must be divisible by model.heads (${config.model.heads})`);
  if (config.maxNewTokens >= config.model.contextLength) {
    throw new UsageError(
      `maxNewTokens (${config.maxNewTokens}) must be smaller than model.contextLength (${config.model.contextLength})`,
    );
  }
  return config;
}

function apply(config: TrainConfig, overrides: Overrides, source: string): void {
  for (const [key, value] of Object.entries(overrides)) {
    if ((PLUGIN_OVERRIDE_KEYS as readonly string[]).includes(key)) {
      if (key === 'weights') config.weights = { ...(config.weights ?? {}), ...(value as Record<string, number>) };
      else if (key === 'loss' || key === 'divergence' || key === 'estimator') {
        if (typeof value !== 'string' || value === '')
          throw new UsageError(`${source}: ${key} must be a registered name, got ${JSON.stringify(value)}`);
        (config as unknown as Record<string, unknown>)[key] = value;
      }
      continue;
    }
    if (key === 'estimatorOptions' || key === 'lossOptions' || key === 'envOptions') {
      (config as unknown as Record<string, unknown>)[key] = value;
      continue;
    }
    if (key === 'model') {
      if (typeof value !== 'object' || value === null)
        throw new UsageError(`${source}: model must be an object of ${MODEL_KEYS.join(', ')}`);
      for (const [modelKey, modelValue] of Object.entries(value)) {
        if (!(MODEL_KEYS as readonly string[]).includes(modelKey))
          throw new UsageError(
            `${source}: unknown key 'model.${modelKey}'; accepted: ${MODEL_KEYS.map((k) => `model.${k}`).join(', ')}`,
          );
        if (modelKey === 'valueHead') {
          if (typeof modelValue !== 'boolean')
            throw new UsageError(`${source}: model.valueHead must be true or false, got ${JSON.stringify(modelValue)}`);
          config.model.valueHead = modelValue;
        } else {
          if (!Number.isInteger(modelValue) || (modelValue as number) <= 0)
            throw new UsageError(`${source}: model.${modelKey} must be a positive integer, got ${JSON.stringify(modelValue)}`);
          (config.model as unknown as Record<string, number>)[modelKey] = modelValue as number;
        }
      }
      continue;
    }
    if (key === 'shapers') {
      const names =
        typeof value === 'string'
          ? value
              .split(',')
              .map((n) => n.trim())
              .filter(Boolean)
          : value;
      if (!Array.isArray(names) || names.some((n) => typeof n !== 'string' || n === ''))
        throw new UsageError(`${source}: shapers must be shaper names (shapers=overlong,spurious), got ${JSON.stringify(value)}`);
      config.shapers = names as string[];
      continue;
    }
    if (key === 'teacher') {
      if (typeof value !== 'string' || value === '')
        throw new UsageError(`${source}: teacher must be a run folder (with checkpoint.json), got ${JSON.stringify(value)}`);
      config.teacher = value;
      continue;
    }
    if (key === 'schedule' || key === 'divergencePlacement') {
      const accepted = key === 'schedule' ? ['constant', 'cosine'] : ['loss', 'reward'];
      if (!accepted.includes(value as string))
        throw new UsageError(`${source}: ${key} must be one of ${accepted.join(', ')}, got ${JSON.stringify(value)}`);
      (config as unknown as Record<string, unknown>)[key] = value;
      continue;
    }
    if (key === 'microBatchRows') {
      if (!Number.isInteger(value) || (value as number) < 1)
        throw new UsageError(`${source}: microBatchRows must be a positive integer, got ${JSON.stringify(value)}`);
      config.microBatchRows = value as number;
      continue;
    }
    if (key === 'signFlipEvery' || key === 'signFlipRollouts' || key === 'resampleRounds') {
      if (!Number.isInteger(value) || (value as number) < 0)
        throw new UsageError(`${source}: ${key} must be a non-negative integer, got ${JSON.stringify(value)}`);
      (config as unknown as Record<string, unknown>)[key] = value;
      continue;
    }
    if (key === 'topEntropyQuantile') {
      if (typeof value !== 'number' || !(value >= 0 && value <= 1))
        throw new UsageError(`${source}: topEntropyQuantile must be in [0, 1], got ${JSON.stringify(value)}`);
      config.topEntropyQuantile = value;
      continue;
    }
    if (key === 'entropyTarget' || key === 'entropyCoefMin' || key === 'entropyCoefMax' || key === 'entropyCoefDelta') {
      if (typeof value !== 'number' || !(value >= 0))
        throw new UsageError(`${source}: ${key} must be a non-negative number, got ${JSON.stringify(value)}`);
      (config as unknown as Record<string, unknown>)[key] = value;
      continue;
    }
    if (key === 'targetDivergence' || key === 'valueCoef') {
      if (typeof value !== 'number' || !(value >= 0))
        throw new UsageError(`${source}: ${key} must be a non-negative number, got ${JSON.stringify(value)}`);
      (config as unknown as Record<string, unknown>)[key] = value;
      continue;
    }
    if (key === 'aggregation') {
      if (!AGGREGATIONS.includes(value as never))
        throw new UsageError(`${source}: aggregation must be one of ${AGGREGATIONS.join(', ')}, got ${JSON.stringify(value)}`);
      config.aggregation = value as TrainConfig['aggregation'];
      continue;
    }
    if (!(NUMERIC_KEYS as readonly string[]).includes(key)) {
      throw new UsageError(
        `${source}: unknown option '${key}'; accepted: ${[...NUMERIC_KEYS, 'aggregation', 'model.<key>', 'schedule', 'divergencePlacement', 'targetDivergence', 'valueCoef', 'signFlipEvery', 'signFlipRollouts', 'resampleRounds', 'microBatchRows', 'entropyTarget', 'entropyCoefMin', 'entropyCoefMax', 'entropyCoefDelta', 'topEntropyQuantile', ...PLUGIN_OVERRIDE_KEYS, 'estimatorOptions', 'lossOptions', 'envOptions', 'teacher', 'shapers'].join(', ')}`,
      );
    }
    const integer = INTEGER_KEYS.has(key);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
      throw new UsageError(
        `${source}: ${key} must be a non-negative ${integer ? 'integer' : 'number'}, got ${JSON.stringify(value)}`,
      );
    }
    (config as unknown as Record<string, number>)[key] = value;
  }
  for (const key of ['tasksPerStep', 'groupSize', 'epochs', 'minibatches', 'maxNewTokens', 'evalEvery', 'sftBatch'] as const) {
    if (config[key] < 1) throw new UsageError(`${source}: ${key} must be at least 1, got ${config[key]}`);
  }
}
