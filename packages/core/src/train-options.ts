/**
 * Every trainer option as one row: name, type, default, accepted range and what it does. One
 * function validates a value against its row; `bench train --help` and docs/training.md are
 * generated from the same table, so the three can never disagree. It lives in core (no tensors),
 * so a command can validate a whole plan before it loads the trainer.
 */
import { AGGREGATIONS, type TrainConfig } from './contracts.js';
import { UsageError } from './errors.js';

export type OptionKind = 'integer' | 'number' | 'boolean' | 'enum' | 'name' | 'names' | 'path' | 'object';

export interface TrainOption {
  /** The --set key (`model.dim` for the model's keys). */
  name: string;
  kind: OptionKind;
  /** Inclusive bounds for numbers (`above` is exclusive: the value must be > it). */
  min?: number;
  above?: number;
  max?: number;
  /** Exclusive upper bound. */
  below?: number;
  values?: readonly string[];
  doc: string;
}

const integer = (name: string, min: number, max: number, doc: string): TrainOption => ({ name, kind: 'integer', min, max, doc });
const nonNegative = (name: string, doc: string, max = 1e6): TrainOption => ({ name, kind: 'number', min: 0, max, doc });
const positive = (name: string, doc: string, max = 1e6): TrainOption => ({ name, kind: 'number', above: 0, max, doc });

export const TRAIN_OPTIONS: readonly TrainOption[] = [
  integer('tasksPerStep', 1, 4096, 'prompts (tasks) drawn per step'),
  integer('groupSize', 1, 1024, 'nominal group size G: rollouts per task (an estimator may draw more, e.g. MC-GRPO G + 1)'),
  positive('learningRate', 'Adam learning rate of the RL updates', 10),
  nonNegative('weightDecay', 'decoupled weight decay (AdamW)', 1),
  positive('gradClip', 'global gradient-norm clip'),
  integer('warmupSteps', 0, 1e6, 'steps of linear learning-rate warm-up'),
  {
    name: 'schedule',
    kind: 'enum',
    values: ['constant', 'cosine'],
    doc: 'learning rate after warm-up: constant, or cosine decay to 0 over the budget',
  },
  integer('epochs', 1, 100, 'passes over each step’s rollouts'),
  integer('minibatches', 1, 4096, 'optimizer updates per epoch'),
  integer(
    'microBatchRows',
    1,
    65536,
    'rows per forward/backward pass; gradients accumulate over passes (the update is the same)',
  ),
  {
    name: 'clipLow',
    kind: 'number',
    min: 0,
    below: 1,
    doc: 'lower clip range epsilon_low of the clipped losses that honour it (ppo-clip, clip-cov, bypass)',
  },
  { name: 'clipHigh', kind: 'number', min: 0, max: 10, doc: 'upper clip range epsilon_high (clip-higher: DAPO 0.28)' },
  {
    name: 'aggregation',
    kind: 'enum',
    values: AGGREGATIONS,
    doc: "how per-token losses reduce to one number, verl's agg_loss modes (seq-mean-token-sum-norm divides by rows x maxNewTokens); docs/training.md 'Aggregation modes' gives each formula",
  },
  {
    name: 'temperature',
    kind: 'number',
    above: 0,
    max: 100,
    doc: 'sampling temperature of training rollouts (evaluation samples at 1)',
  },
  integer('maxNewTokens', 1, 4096, 'token limit of one action'),
  {
    name: 'divergence',
    kind: 'name',
    doc: 'registered divergence penalising the distance to the reference (bench list --kind divergences)',
  },
  nonNegative('divergenceCoef', 'coefficient of the divergence penalty'),
  {
    name: 'divergencePlacement',
    kind: 'enum',
    values: ['loss', 'reward'],
    doc: 'the penalty in the loss, or subtracted from the reward (k1 per sequence)',
  },
  nonNegative('targetDivergence', 'when set, the coefficient adapts (x1.5 or /1.5) to keep the divergence near it (PPO)'),
  nonNegative('entropyCoef', 'entropy bonus coefficient'),
  nonNegative('entropyTarget', "TRL's adaptive entropy coefficient: target entropy in nats (off when unset)"),
  nonNegative('entropyCoefMin', 'lower bound of the adaptive entropy coefficient'),
  nonNegative('entropyCoefMax', 'upper bound of the adaptive entropy coefficient'),
  nonNegative('entropyCoefDelta', 'step of the adaptive entropy coefficient'),
  {
    name: 'topEntropyQuantile',
    kind: 'number',
    min: 0,
    max: 1,
    doc: 'train only on the top rho share of tokens by entropy (the "80/20" rule); 1 = off',
  },
  nonNegative('valueCoef', 'weight of the critic’s value loss (needs model.valueHead and an estimator with return targets)'),
  integer('resampleRounds', 0, 100, 'dynamic sampling (DAPO): rounds of new groups replacing discarded ones within a step'),
  integer(
    'signFlipEvery',
    0,
    1e6,
    'every this many steps, advantage sign flips against a many-rollout baseline (0 = off; side budget)',
  ),
  integer('signFlipRollouts', 1, 4096, 'rollouts per task of that baseline'),
  integer('evalEvery', 1, 1e6, 'steps between evaluations on the test split'),
  integer('evalTasks', 1, 1e6, 'test tasks per evaluation (at most what the split holds)'),
  integer('evalSamples', 1, 1024, 'samples per test task (success is their mean; pass@k over them)'),
  integer('checkpointEvery', 1, 1e6, 'steps between checkpoints in --out'),
  integer(
    'softPrompt',
    0,
    4096,
    'length P of a learned soft prompt: P trainable vectors ahead of every prompt of the policy (not the reference); unset or 0 = off; P + maxNewTokens must stay below model.contextLength',
  ),
  {
    name: 'softPromptTraining',
    kind: 'enum',
    values: ['joint', 'prompt-only'],
    doc: 'joint (default): the soft prompt trains with the policy in each update; prompt-only: only the soft prompt trains, the policy is frozen (prompt tuning)',
  },
  integer('sftSteps', 0, 1e6, 'steps of the SFT warm start on the expert’s demonstrations'),
  positive('sftLearningRate', 'learning rate of the SFT warm start', 10),
  integer('sftBatch', 1, 65536, 'rows per step of the SFT warm start'),
  integer('model.dim', 8, 4096, 'transformer width'),
  integer('model.layers', 1, 64, 'transformer layers'),
  integer('model.heads', 1, 64, 'attention heads (must divide model.dim)'),
  integer('model.contextLength', 8, 8192, 'context length in tokens'),
  integer('model.mlpRatio', 1, 16, 'MLP width as a multiple of model.dim'),
  { name: 'model.valueHead', kind: 'boolean', doc: 'a value head on the trunk (critic estimators turn it on)' },
  { name: 'estimator', kind: 'name', doc: "replaces the Method's estimator (bench list --kind estimators)" },
  { name: 'loss', kind: 'name', doc: "replaces the Method's loss (bench list --kind losses)" },
  { name: 'shapers', kind: 'names', doc: "reward shapers added after the Method's own (shapers=overlong,spurious)" },
  { name: 'sampler', kind: 'name', doc: "replaces the Method's sampler: how actions are decoded (bench list --kind samplers)" },
  { name: 'samplerOptions', kind: 'object', doc: "options of the sampler's factory (samplerOptions.width=8)" },
  {
    name: 'taskSource',
    kind: 'name',
    doc: "replaces the Method's task source: the stream of training tasks (bench list --kind taskSources)",
  },
  { name: 'taskSourceOptions', kind: 'object', doc: "options of the task source's factory (taskSourceOptions.temperature=0.5)" },
  {
    name: 'rewardModels',
    kind: 'names',
    doc: "learned reward models added after the Method's own (bench list --kind rewardModels)",
  },
  {
    name: 'rewardModelOptions',
    kind: 'object',
    doc: 'options of a reward model by its name (rewardModelOptions.bt-outcome.learningRate=0.001)',
  },
  { name: 'hooks', kind: 'names', doc: "step hooks added after the Method's own (bench list --kind hooks)" },
  { name: 'hookOptions', kind: 'object', doc: 'options of a hook by its name (hookOptions.reference-reset.every=10)' },
  { name: 'teacher', kind: 'path', doc: 'a finished run folder whose policy is the teacher of distillation' },
  {
    name: 'weights',
    kind: 'object',
    doc: 'reward component weights (weights.correct=1): finite numbers, components the environment has',
  },
  { name: 'estimatorOptions', kind: 'object', doc: "options of the estimator's factory (estimatorOptions.std=batch)" },
  { name: 'lossOptions', kind: 'object', doc: "options of the loss's factory" },
  { name: 'envOptions', kind: 'object', doc: "options of the environment's factory (difficulty, data folder, ...)" },
];

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

const BY_NAME = new Map(TRAIN_OPTIONS.map((option) => [option.name, option]));

export function trainOption(name: string): TrainOption | undefined {
  return BY_NAME.get(name);
}

/** What the row accepts, in words, for error messages and help. */
export function accepted(option: TrainOption): string {
  switch (option.kind) {
    case 'integer':
      return `an integer from ${option.min} to ${option.max}`;
    case 'number': {
      const low = option.above !== undefined ? `> ${option.above}` : `>= ${option.min ?? '-inf'}`;
      const high = option.below !== undefined ? `< ${option.below}` : option.max !== undefined ? `<= ${option.max}` : '';
      return `a number ${low}${high ? ` and ${high}` : ''}`;
    }
    case 'boolean':
      return 'true or false';
    case 'enum':
      return `one of ${option.values?.join(', ')}`;
    case 'name':
      return 'a registered name';
    case 'names':
      return 'comma-separated registered names';
    case 'path':
      return 'a folder';
    case 'object':
      return 'an object of keys (key.sub=value)';
  }
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Checks `value` against the option's row; returns it (shapers: a list) or throws a UsageError naming both. */
export function validateOption(option: TrainOption, value: unknown, source: string): unknown {
  const bad = () =>
    new UsageError(`${source}: ${option.name} must be ${accepted(option)}, got ${JSON.stringify(value) ?? String(value)}`);
  switch (option.kind) {
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw bad();
      if (option.kind === 'integer' && !Number.isInteger(value)) throw bad();
      if (option.min !== undefined && value < option.min) throw bad();
      if (option.above !== undefined && !(value > option.above)) throw bad();
      if (option.max !== undefined && value > option.max) throw bad();
      if (option.below !== undefined && !(value < option.below)) throw bad();
      return value;
    }
    case 'boolean':
      if (typeof value !== 'boolean') throw bad();
      return value;
    case 'enum':
      if (!option.values?.includes(value as string)) throw bad();
      return value;
    case 'name':
    case 'path':
      if (typeof value !== 'string' || value === '') throw bad();
      return value;
    case 'names': {
      const names =
        typeof value === 'string'
          ? value
              .split(',')
              .map((n) => n.trim())
              .filter(Boolean)
          : value;
      if (!Array.isArray(names) || names.some((n) => typeof n !== 'string' || n === '')) throw bad();
      return names;
    }
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad();
      for (const key of Object.keys(value))
        if (FORBIDDEN_KEYS.has(key)) throw new UsageError(`${source}: ${option.name}.${key} is not an accepted key`);
      if (option.name === 'weights')
        for (const [key, weight] of Object.entries(value))
          if (typeof weight !== 'number' || !Number.isFinite(weight))
            throw new UsageError(
              `${source}: weights.${key} must be a finite number, got ${JSON.stringify(weight) ?? String(weight)}`,
            );
      return value;
    }
  }
}

/** The table as text for `bench train --help`. */
export function optionsHelp(defaults: Readonly<Record<string, unknown>>): string {
  const width = Math.max(...TRAIN_OPTIONS.map((o) => o.name.length));
  return TRAIN_OPTIONS.map((o) => {
    const value = defaultOf(o.name, defaults);
    return `  ${o.name.padEnd(width)}  ${o.doc}; ${accepted(o)}${value === undefined ? '' : `; default ${JSON.stringify(value)}`}`;
  }).join('\n');
}

/** The table as Markdown rows for docs/training.md. */
export function optionsMarkdown(defaults: Readonly<Record<string, unknown>>): string {
  const rows = TRAIN_OPTIONS.map((o) => {
    const value = defaultOf(o.name, defaults);
    return `| \`${o.name}\` | ${value === undefined ? '(unset)' : `\`${JSON.stringify(value)}\``} | ${accepted(o)} | ${o.doc} |`;
  });
  return ['| option | default | accepted | what it does |', '|---|---|---|---|', ...rows].join('\n');
}

function defaultOf(name: string, defaults: Readonly<Record<string, unknown>>): unknown {
  return name.split('.').reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], defaults);
}
