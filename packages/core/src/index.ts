export { adamStep } from './adam.js';
export type { AggregationOps } from './aggregate.js';
export { aggregateLoss } from './aggregate.js';
export { BUDGET_UNITS, BudgetMeter, emptyConsumption, formatBudget, parseBudget } from './budget.js';
export type {
  AdvantageEstimator,
  Advantages,
  Aggregation,
  BudgetConsumption,
  BudgetLimit,
  Demonstration,
  Demonstrations,
  DemonstrationTurn,
  Divergence,
  Environment,
  EnvironmentRecommendation,
  EnvironmentRequirements,
  Episode,
  EstimatorContext,
  HookContext,
  LabelledLoss,
  LabelledLossNeeds,
  LogitsRequest,
  LossBatch,
  LossKind,
  LossResult,
  MctsSettings,
  Method,
  MethodStage,
  ModelConfig,
  ModelServices,
  OptionSpec,
  Outcome,
  PairLoss,
  PairLossNeeds,
  PaperRef,
  PlayedTask,
  Plugin,
  PluginKind,
  PluginMeta,
  PluginRef,
  PolicyLoss,
  PreferenceBatch,
  ProposeContext,
  RewardExamples,
  RewardModel,
  RewardModelArchitecture,
  RewardModelContext,
  RewardModelHandle,
  RewardModelObjective,
  RewardModelPretraining,
  RewardShaper,
  RewardVector,
  Rollout,
  RowLoss,
  RowLossNeeds,
  RowRollouts,
  Sampler,
  ScoredText,
  ScoreRequest,
  SelfJudge,
  ShapeContext,
  StepHook,
  StepResult,
  TaskFeedback,
  TaskSource,
  TaskSplitOptions,
  TaskStream,
  TrainConfig,
  Turn,
  TurnText,
  UncertaintySelection,
  UnpairedBatch,
  ZooPolicy,
  ZooPrompt,
  ZooSample,
} from './contracts.js';
export {
  AGGREGATIONS,
  LOSS_KINDS,
  PLUGIN_KINDS,
  REWARD_MODEL_ARCHITECTURES,
  REWARD_MODEL_OBJECTIVES,
} from './contracts.js';
export {
  defineDivergence,
  defineEnvironment,
  defineEstimator,
  defineHook,
  defineLoss,
  defineMethod,
  definePlugin,
  defineRewardModel,
  defineSampler,
  defineShaper,
  defineTaskSource,
  weightedSum,
} from './define.js';
export { replayDemonstration } from './demonstrations.js';
export { collapsedRewardVectors, phantomAdvantages, signFlips, zeroAdvantageFraction } from './diagnostics.js';
export { isUsageError, RegressionError, RunError, UsageError } from './errors.js';
export { parseSetEntry, parseSetOptions, resolveOptions } from './options.js';
export type { KindMap, RegistryEntry } from './registry.js';
export { KIND_NOUN, Registry } from './registry.js';
export { missingRequirements } from './requirements.js';
export type { RngState } from './rng.js';
export { Rng } from './rng.js';
export { SCHEMA_KINDS, SCHEMA_VERSION, schemaPath } from './schemas.js';
export { PAIR_JOIN, pairText, rolloutText, stepTexts } from './scored-text.js';
export { closestNames, suggestionText } from './suggest.js';
export type { OptionKind, TrainOption } from './train-options.js';
export {
  accepted,
  DEFAULT_TRAIN_CONFIG,
  optionsHelp,
  optionsMarkdown,
  TRAIN_OPTIONS,
  trainOption,
  validateOption,
} from './train-options.js';
