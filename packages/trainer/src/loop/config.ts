/**
 * The resolved configuration of a run: shared defaults <- the environment's recommended
 * sizes <- the Method's defaults <- --set overrides. Every key is validated by name.
 */
import {
  DEFAULT_TRAIN_CONFIG,
  type Environment,
  type Method,
  TRAIN_OPTIONS,
  type TrainConfig,
  trainOption,
  UsageError,
  validateOption,
} from '@policy-lab/core';

export { DEFAULT_TRAIN_CONFIG };

type Overrides = Record<string, unknown>;

/** The top-level keys a run set on purpose: the Method's defaults and the --set overrides. */
export function explicitKeys(method: Method, overrides: Overrides): Set<string> {
  return new Set([...Object.keys(method.defaults ?? {}), ...Object.keys(overrides)]);
}

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
  // The soft prompt's vectors take context positions: at least one prompt token must still fit.
  const softPrompt = config.softPrompt ?? 0;
  if (softPrompt > 0 && softPrompt + config.maxNewTokens >= config.model.contextLength)
    throw new UsageError(
      `softPrompt (${softPrompt}) + maxNewTokens (${config.maxNewTokens}) must be smaller than model.contextLength (${config.model.contextLength}); accepted softPrompt: 0 to ${config.model.contextLength - config.maxNewTokens - 1}`,
    );
  return config;
}

/** Applies overrides through the option table: each key checked against its row, unknown keys named. */
function apply(config: TrainConfig, overrides: Overrides, source: string): void {
  const target = config as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(overrides)) {
    if (key === 'model') {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new UsageError(`${source}: model must be an object of ${modelKeys().join(', ')}`);
      for (const [modelKey, modelValue] of Object.entries(value)) {
        const option = trainOption(`model.${modelKey}`);
        if (!option) throw new UsageError(`${source}: unknown key 'model.${modelKey}'; accepted: ${modelKeys().join(', ')}`);
        (config.model as unknown as Record<string, unknown>)[modelKey] = validateOption(option, modelValue, source);
      }
      continue;
    }
    const option = trainOption(key);
    if (!option)
      throw new UsageError(
        `${source}: unknown option '${key}'; accepted: ${TRAIN_OPTIONS.filter((o) => !o.name.startsWith('model.'))
          .map((o) => o.name)
          .join(', ')}, model.<key> (bench train --help lists them)`,
      );
    const checked = validateOption(option, value, source);
    target[key] = key === 'weights' ? { ...(config.weights ?? {}), ...(checked as Record<string, number>) } : checked;
  }
}

const modelKeys = () => TRAIN_OPTIONS.filter((o) => o.name.startsWith('model.')).map((o) => o.name);
