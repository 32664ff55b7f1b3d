export { BUDGET_UNITS, BudgetMeter, emptyConsumption, formatBudget, parseBudget } from './budget.js';
export type {
  AdvantageEstimator,
  Advantages,
  Aggregation,
  BudgetConsumption,
  BudgetLimit,
  Divergence,
  Environment,
  EnvironmentRecommendation,
  Episode,
  EstimatorContext,
  LossBatch,
  LossResult,
  Method,
  ModelConfig,
  ModelServices,
  OptionSpec,
  Outcome,
  PaperRef,
  Plugin,
  PluginKind,
  PluginMeta,
  PluginRef,
  PolicyLoss,
  PreferenceBatch,
  RewardShaper,
  RewardVector,
  Rollout,
  RowRollouts,
  Sampler,
  ScoreRequest,
  ShapeContext,
  StepResult,
  TaskSplitOptions,
  TrainConfig,
  Turn,
  UnpairedBatch,
} from './contracts.js';
export { AGGREGATIONS, PLUGIN_KINDS } from './contracts.js';
export {
  defineDivergence,
  defineEnvironment,
  defineEstimator,
  defineLoss,
  defineMethod,
  definePlugin,
  defineSampler,
  defineShaper,
  weightedSum,
} from './define.js';
export { collapsedRewardVectors, phantomAdvantages, signFlips, zeroAdvantageFraction } from './diagnostics.js';
export { isUsageError, RunError, UsageError } from './errors.js';
export { parseSetEntry, parseSetOptions, resolveOptions } from './options.js';
export type { KindMap, RegistryEntry } from './registry.js';
export { KIND_NOUN, Registry } from './registry.js';
export type { RngState } from './rng.js';
export { Rng } from './rng.js';
export { SCHEMA_KINDS, SCHEMA_VERSION, schemaPath } from './schemas.js';
export { closestNames, suggestionText } from './suggest.js';
