/**
 * The contracts every policy-lab plugin implements. Plain data and functions only:
 * nothing here depends on a tensor library, so that a plugin package that only does
 * arithmetic installs as plain TypeScript. Tensor-level hooks (losses, penalties) are
 * generic in the tensor type and receive the trainer's `tf` namespace as an argument.
 */
import type { Rng } from './rng.js';

/** Named reward components, e.g. `{ correct: 1, format: 1, length: -0.2 }`. */
export type RewardVector = Readonly<Record<string, number>>;

/** The kinds of plugin the registry knows; one namespace per kind. */
export const PLUGIN_KINDS = [
  'estimators',
  'losses',
  'divergences',
  'shapers',
  'environments',
  'samplers',
  'rewardModels',
  'taskSources',
  'hooks',
  'methods',
] as const;
export type PluginKind = (typeof PLUGIN_KINDS)[number];

/** Describes one option a factory accepts; shown by `bench list --verbose` and in docs. */
export interface OptionSpec {
  type: 'number' | 'integer' | 'boolean' | 'string' | 'enum' | 'object' | 'array';
  default?: unknown;
  values?: readonly string[];
  doc: string;
}

export interface PaperRef {
  title: string;
  arxiv?: string;
  url?: string;
  year: number;
}

/** Carried by every plugin of every kind. */
export interface PluginMeta {
  /** Unique within its kind; the CLI name (kebab-case). */
  name: string;
  /**
   * Other names that resolve to this plugin (e.g. `dpo-sigmoid` for `dpo`). Results record the
   * canonical `name`; `bench list` and the docs show the aliases beside it.
   */
  aliases?: readonly string[];
  /** One sentence. */
  summary: string;
  paper?: PaperRef;
  /** Parts of the specification not confirmed against a primary source. */
  unverified?: readonly string[];
  /** The options the factory accepts, with defaults. */
  options?: Readonly<Record<string, OptionSpec>>;
  /** The options this instance was built with, after defaults were applied. */
  resolved?: object;
  /** The public implementation this one matches, e.g. "verl `adv_estimator=grpo`" or "TRL `loss_type='dapo'`". */
  matches?: string;
  /** The formula or rule in Markdown math, for `bench list --verbose` and docs/methods. */
  math?: string;
  /**
   * What the plugin needs of the environment it trains on; on an environment without it, a run
   * is refused up front (exit 2) naming what is missing. Absent: any environment.
   */
  requires?: EnvironmentRequirements;
  /**
   * Rebuilds this plugin with other options (the factory that made it, so it returns a plugin of
   * the same kind). The registry uses it for `--set` overrides; a plugin without it accepts no
   * options.
   */
  configure?(options: Readonly<Record<string, unknown>>): PluginMeta;
}

/** What an estimator or shaper reads of an environment. */
export interface EnvironmentRequirements {
  /**
   * Reward components it reads, by name; a name ending in `*` is a prefix (`test*`: the code
   * environment's per-test components).
   */
  components?: readonly string[];
  /** Episodes of more than one turn (turn-level credit assignment). */
  multiTurn?: boolean;
  /** An expert (`demonstrate`): rewards learned from demonstrations. */
  demonstrations?: boolean;
}

// ---------------------------------------------------------------------------------------
// Environments

export interface StepResult {
  reward: RewardVector;
  done: boolean;
  /** False when the action could not be parsed or is not allowed here; the episode goes on. */
  valid: boolean;
  /** Identifies the environment state reached before this action (GiGPO's anchor states). */
  stateKey?: string;
  /** Free-form information (e.g. the tool's answer); never read by the trainer. */
  info?: Readonly<Record<string, unknown>>;
}

export interface Outcome {
  /** The episode's total reward vector: what outcome-level estimators read. */
  reward: RewardVector;
  success: boolean;
}

/** One running episode. Created by `Environment.start`. */
export interface Episode {
  /** What the policy reads before its next action. */
  observation(): string;
  step(action: string): StepResult;
  outcome(): Outcome;
  /** Cloneable state for branching samplers and tree search. */
  snapshot?(): unknown;
  restore?(state: unknown): void;
}

export interface TaskSplitOptions {
  seed: number;
  count?: number;
}

/** Model and decoding sizes an environment needs (docs/training.md keeps the table). */
export interface EnvironmentRecommendation {
  dim?: number;
  layers?: number;
  heads?: number;
  contextLength?: number;
  maxNewTokens?: number;
  /** SFT warm-start steps the environment needs before its expert's skills show (copying long strings takes more). */
  sftSteps?: number;
}

export interface Environment<Task = unknown> extends PluginMeta {
  /** Rebuilds this plugin with other options (its factory): a plugin of the same kind. */
  configure?(options: Readonly<Record<string, unknown>>): Environment<Task>;
  rewardComponents: readonly { name: string; weight: number }[];
  maxTurns: number;
  /** Train and test splits are disjoint; the same seed gives the same tasks. */
  tasks(split: 'train' | 'test', options: TaskSplitOptions): Task[];
  /** A stable id for a task (used in group ids, logs and resume). */
  taskId(task: Task): string;
  start(task: Task, rng: Rng): Episode;
  /** Expert actions for SFT warm start; replaying them succeeds. */
  demonstrate?(task: Task): string[];
  /** Every character the environment can show or expect, for a character tokenizer. */
  alphabet?(): string;
  /**
   * A task written as text (by the policy, for an evolving pool), parsed and validated: undefined
   * when the text is malformed, the task is unsolvable or outside the environment's settings, or
   * it belongs to the test split (a written task never reaches evaluation's tasks). The text is
   * read in the form the task's first observation shows it (countdown also reads an equation as
   * the task of reaching its value with its numbers).
   */
  parseTask?(text: string): Task | undefined;
  recommended?: EnvironmentRecommendation;
}

// ---------------------------------------------------------------------------------------
// Rollouts

/** One policy action and what the environment answered. */
export interface Turn {
  /** The observation text the policy read (after the trainer's truncation rule). */
  observation: string;
  action: string;
  /** The context the action was generated from, as token ids (prompt of this turn). */
  promptTokens: readonly number[];
  /** Generated token ids, including the stop token when one was produced. */
  actionTokens: readonly number[];
  /** Log-probability of each action token under the sampling policy. */
  logprobs: readonly number[];
  reward: RewardVector;
  valid: boolean;
  stateKey?: string;
  /** The action hit the token limit before a stop token. */
  truncated: boolean;
  /**
   * Teacher forcing (the `teacher-forced` sampler, VA-pi): the reference output the policy read at
   * the action's positions, as many tokens as `actionTokens`; action token j was drawn given the
   * prompt and the first j reference tokens, not the first j drawn ones.
   */
  forcedTokens?: readonly number[];
}

/** One episode as the trainer recorded it. Estimators and shapers read these. */
export interface Rollout {
  /** Stable within a run: `${groupId}/${index}`. */
  id: string;
  groupId: string;
  taskId: string;
  turns: readonly Turn[];
  /** The episode's total reward vector (after shaping when shapers ran). */
  reward: RewardVector;
  success: boolean;
  /** Free-form data that plugins attach (e.g. a shaper's unshaped reward). */
  meta?: Readonly<Record<string, unknown>>;
}

// ---------------------------------------------------------------------------------------
// Advantage estimators

/** A text to score under a policy: log-probabilities of `continuation` after `context`. */
export interface ScoreRequest {
  context: string;
  continuation: string;
}

/**
 * Services that model-aware estimators (IGPO, PAV, ReMax, GRPO-VPS, OPRL, ROVER) use.
 * Everything they generate is charged to the run's budget by the trainer.
 */
export interface ModelServices {
  /**
   * Per-token log-probabilities of each continuation (teacher forcing). 'teacher': the run named
   * with --set teacher=<run folder>, for an estimator that declares `needsTeacher` (charged as the
   * reference's scoring is).
   */
  score(requests: readonly ScoreRequest[], policy: 'current' | 'reference' | 'teacher'): Promise<number[][]>;
  /**
   * Teacher-forced next-token distributions: per continuation token, the log-probabilities of
   * every token of `vocabulary` before it (what VA-pi's alignment term reads). The trainer
   * always provides it; optional so that test doubles of the services need not.
   */
  distributions?(requests: readonly ScoreRequest[], policy: 'current' | 'reference'): Promise<number[][][]>;
  /** Each token id's text (special tokens by name, e.g. '<eos>'). */
  vocabulary?: readonly string[];
  /** Extra episodes on the task of the given group, charged to the budget. */
  rollouts(request: { groupId: string; count: number; greedy?: boolean; policy?: 'current' | 'reference' }): Promise<Rollout[]>;
  /**
   * Episodes restarted at a prefix of a sampled rollout: its first `turns` turns are replayed in a
   * fresh episode of its task (the same observations, or an error), then `count` continuations are
   * decoded from there. Each returned rollout holds the kept turns then its own; the episodes and
   * the continuation's tokens and environment steps are charged. Optional so that test doubles of
   * the services need not provide it; the trainer always does.
   */
  /**
   * One continuation of each prompt by the current policy (sampled at the run's temperature, at
   * most `maxTokens` tokens, the prompt read as an observation): a policy's extra generations (URPO's
   * referee pass). Each is charged as one episode and its tokens as generated tokens; prompts the
   * budget cannot afford come back empty. Optional so that
   * test doubles of the services need not provide it; the trainer always does.
   */
  generate?(prompts: readonly string[], options: { maxTokens: number }): Promise<string[]>;
  prefixRollouts?(request: {
    rollout: Rollout;
    turns: number;
    count: number;
    greedy?: boolean;
    policy?: 'current' | 'reference';
  }): Promise<Rollout[]>;
}

export interface EstimatorContext {
  /** Deterministic randomness for this call (split from the run's seed). */
  rng: Rng;
  /** Weights of the reward components (environment defaults, then overrides). */
  weights: Readonly<Record<string, number>>;
  /** Weighted sum of a reward vector with `weights` (missing components are an error). */
  scalar(reward: RewardVector): number;
  /** Present when the estimator runs inside the trainer. */
  services?: ModelServices;
  /** Value predictions of a critic, per rollout id and per turn, when the run has one. */
  values?: ReadonlyMap<string, readonly number[]>;
  /** Step index, for schedules. */
  step?: number;
  /** The run's learned reward models, by name (score texts; train on examples). */
  rewardModels?: Readonly<Record<string, RewardModelHandle>>;
}

export interface Advantages {
  /** One scalar per rollout, groups in input order (the headline advantage). */
  rollout: number[][];
  /** Per rollout, one value per turn; when absent each turn gets `rollout`. */
  turns?: number[][][];
  /**
   * Per rollout, per turn, one value per action token (ROVER's token-level Q targets); when
   * present a token gets its own value instead of its turn's.
   */
  tokens?: number[][][][];
  /** Per rollout loss weight; 0 excludes the rollout from the loss. */
  weights: number[][];
  /**
   * Per rollout, a weight on the divergence penalty in the loss (GARDO's gate: 0 leaves the rollout
   * unregularised); every rollout counts 1 when absent. The logged `kl` stays unweighted.
   */
  divergenceWeights?: number[][];
  /** Regression targets for a critic, per rollout per turn (PPO + GAE). */
  returns?: number[][][];
  /** Numbers worth logging (e.g. fraction of zero-variance groups). */
  diagnostics?: Readonly<Record<string, number>>;
}

export interface AdvantageEstimator extends PluginMeta {
  /** Rebuilds this plugin with other options (its factory): a plugin of the same kind. */
  configure?(options: Readonly<Record<string, unknown>>): AdvantageEstimator;
  /** How many rollouts to draw for a nominal group size g (MC-GRPO: g + 1). */
  rolloutsPerGroup?(g: number): number;
  /** True when `compute` needs `ctx.services` (it cannot run from rewards alone). */
  needsModel?: boolean;
  /** True when it needs a critic's values. */
  needsCritic?: boolean;
  /**
   * True when it scores texts under a teacher run (`--set teacher=<run folder>`) beside the frozen
   * reference (the starting policy): the run is refused (exit 2) without one.
   */
  needsTeacher?: boolean;
  /**
   * True when it asks the services for the frozen start (rollouts or scores of 'reference'): the
   * trainer then keeps one even when no loss or divergence reads it.
   */
  needsReference?: boolean;
  /**
   * Groups that should be thrown away and replaced (DAPO's dynamic sampling); the
   * trainer charges the discarded rollouts and samples again.
   */
  keepGroup?(group: readonly Rollout[], ctx: EstimatorContext): boolean;
  compute(groups: readonly (readonly Rollout[])[], ctx: EstimatorContext): Advantages | Promise<Advantages>;
  /**
   * A second update on earlier rollouts, asked for after `compute` (PIPO's verification phase
   * on the previous batch); the trainer trains on it once when present.
   */
  verification?(): { groups: readonly (readonly Rollout[])[]; advantages: Advantages } | undefined;
}

// ---------------------------------------------------------------------------------------
// Losses and divergences (tensor level, generic in the tensor type)

export type Aggregation = 'token-mean' | 'seq-mean-token-sum' | 'seq-mean-token-mean' | 'seq-mean-token-sum-norm';
export const AGGREGATIONS: readonly Aggregation[] = [
  'token-mean',
  'seq-mean-token-sum',
  'seq-mean-token-mean',
  'seq-mean-token-sum-norm',
];

/**
 * One minibatch, as [rows, tokens] tensors (a row is one turn's action of one rollout).
 * `mask` is 1 on trained tokens and 0 on padding.
 */
export interface LossBatch<T = unknown> {
  /** Log-probabilities of the taken tokens under the current policy (differentiable). */
  logprobs: T;
  /** Under the sampling policy (pi_old). */
  oldLogprobs: T;
  /** Under the frozen reference policy, when the run has one. */
  refLogprobs?: T;
  /** Per-token entropies of the current policy (differentiable), when requested. */
  entropy?: T;
  advantages: T;
  mask: T;
  /** [rows] loss weight of the rollout each row belongs to. */
  weights: T;
  /** Critic predictions and targets, [rows, tokens], when the run has a critic. */
  values?: T;
  returns?: T;
  aggregation: Aggregation;
  /** Constant divisor for `seq-mean-token-sum-norm` (verl: the max response length). */
  normLength: number;
  /** Under the teacher of distillation, for losses with `needsTeacher` (G-OPD). */
  teacherLogprobs?: T;
  /**
   * Which rollout each row belongs to and what that rollout earned, for losses with
   * `needsRollouts` (DRPO: per-question positives and negatives). Rollout indices are local
   * to this batch; the trainer keeps every group of such a loss inside one micro-batch.
   */
  rollouts?: RowRollouts;
  /** Seeded per step and micro-batch, for losses that draw at random (Clip-Cov). */
  rng?: Rng;
  /**
   * Teacher-forced rows (`Turn.forcedTokens`): log-probabilities of the reference tokens the
   * policy read, at the same positions as `logprobs` (differentiable; VA-pi's cross-entropy
   * term), for losses with `needs.forced`. On a row without forced tokens they equal `logprobs`.
   */
  forcedLogprobs?: T;
}

export interface RowRollouts {
  /** [rows] index into `group` / `success` / `reward`. */
  ofRow: readonly number[];
  /** Per rollout: its group (prompt) id. */
  group: readonly string[];
  /** Per rollout: the environment's success verdict. */
  success: readonly boolean[];
  /** Per rollout: the weighted scalar reward. */
  reward: readonly number[];
}

export interface LossResult<T = unknown> {
  loss: T;
  /** Scalar tensors worth logging (clip fractions, ...). */
  metrics?: Record<string, T>;
}

/**
 * Chosen/rejected pairs for preference objectives (DPO and its relatives), as [pairs]
 * tensors of summed action log-probabilities. The trainer builds them from a preference
 * dataset (offline) or from the best and worst rollout of each group (online).
 */
export interface PreferenceBatch<T = unknown> {
  /** log pi_theta(chosen | prompt), [pairs] (differentiable). */
  chosenLogps: T;
  rejectedLogps: T;
  /** Under the frozen reference policy, when the objective needs one. */
  refChosenLogps?: T;
  refRejectedLogps?: T;
  /** Action tokens of each completion, [pairs] (length-normalised objectives: SimPO, IPO variants). */
  chosenLengths: T;
  rejectedLengths: T;
  /**
   * Summed log-probabilities of the tokens past the pair's shared length min(|y_w|, |y_l|)
   * (LD-DPO's verbose tail), [pairs]; the reference's when the objective needs one.
   */
  chosenTailLogps?: T;
  rejectedTailLogps?: T;
  refChosenTailLogps?: T;
  refRejectedTailLogps?: T;
  /**
   * WPO's aligned log-probability of each completion: the mean over its tokens of
   * log pi(y_t) - log sum_v pi(v)^2, [pairs], no gradient.
   */
  chosenAlignedLogps?: T;
  rejectedAlignedLogps?: T;
  /**
   * The token-level view (From r to Q*): per-row token log-probabilities [rows, T] with their
   * mask, and [pairs, rows] 0/1 matrices that pick each pair's chosen and rejected rows.
   */
  tokens?: { logprobs: T; refLogprobs?: T; mask: T; chosenRows: T; rejectedRows: T };
  /** Per pair, how reliable its label is, in [0, 1] (UPO); absent when every label is trusted. */
  reliability?: T;
  /** Dataset pairs ('offline') or pairs drawn from rollout groups ('online'). */
  source?: 'offline' | 'online';
  /**
   * OPPO's contexts, for losses with `needs.context`: the trajectory encoder's context of each
   * chosen and rejected completion, [pairs, K] (differentiable in the encoder; the log-probs above
   * are then the policy's conditioned on these), and the learned optimal context z*, [K] (the run's
   * soft prompt, flattened; differentiable).
   */
  context?: { chosen: T; rejected: T; optimal: T };
}

/**
 * Single completions labelled desirable or undesirable (KTO), as [n] tensors of summed
 * action log-probabilities. The trainer builds them from a JSONL dataset of
 * `{prompt, completion, label}` (offline) or from rollouts above and below their group's
 * mean reward (online).
 */
export interface UnpairedBatch<T = unknown> {
  logps: T;
  refLogps?: T;
  desirable: readonly boolean[];
  /** The KL anchor's inputs: example i's prompt with example i-1's completion, cyclically. */
  klLogps?: T;
  klRefLogps?: T;
  lengths: T;
}

/** What a loss over advantage-weighted rows reads besides the batch's own tensors. */
export interface RowLossNeeds {
  /** `refLogprobs`: the trainer keeps a frozen reference (the SFT start, or the teacher). */
  reference?: boolean;
  /** `teacherLogprobs`: the run must name a teacher (`--set teacher=<run>`; G-OPD). */
  teacher?: boolean;
  /** `rollouts`: which rollout each row belongs to; whole groups stay in one micro-batch (DRPO). */
  rollouts?: boolean;
  /** `forcedLogprobs`: rows drawn under teacher forcing against a reference output (the `teacher-forced` sampler; VA-pi). */
  forced?: boolean;
}

/** What a loss over chosen/rejected pairs reads besides their summed log-probabilities. */
export interface PairLossNeeds {
  /** The reference's sequence log-probabilities. */
  reference?: boolean;
  /**
   * Where online pairs come from: 'groups' (default: each group's best and worst rollout) or
   * 'demonstrations' (the environment's expert demonstration as chosen against each rollout
   * as rejected: the f-divergence SFT losses, whose two terms need data and policy samples).
   */
  pairsFrom?: 'groups' | 'demonstrations';
  /** The token view of each pair (From r to Q*). */
  tokens?: boolean;
  /** LD-DPO's verbose tails. */
  tails?: boolean;
  /** WPO's aligned log-probabilities. */
  aligned?: boolean;
  /** The loss couples the pairs of a batch (AOT sorts them): never split into micro-batches. */
  batchCoupled?: boolean;
  /**
   * OPPO: each completion is scored under its own context from a trajectory encoder the trainer
   * owns (hindsight information matching), and `context` carries those contexts and z* (the soft prompt).
   */
  context?: boolean;
  /**
   * UPO's reliable-feedback selection of online pairs: per group one candidate pair (the top-reward
   * rollout against one drawn from the rest), judged by a pair classifier with MC dropout that the
   * trainer owns; pairs are drawn in proportion to 1 - BALD and carry their reliability.
   */
  uncertainty?: UncertaintySelection;
}

/** The options of UPO's pair selection (`PairLossNeeds.uncertainty`). */
export interface UncertaintySelection {
  /** Monte-Carlo dropout passes per pair (T). */
  passes: number;
  /** Share of the candidate pairs kept, drawn in proportion to 1 - BALD. */
  sampleRate: number;
  /** Dropout probability of the estimator's hidden units. */
  dropout: number;
  /** Hidden width of the estimator. */
  hidden: number;
  /** Drop the pairs whose order the estimator's majority vote contradicts before sampling. */
  dropDisagreements: boolean;
}

/** What a loss over labelled completions reads. */
export interface LabelledLossNeeds {
  reference?: boolean;
}

interface LossCommon extends PluginMeta {
  /** The trainer multiplies its learning rate by this (SFT's lower rate, Implicit Reward as the Bridge). */
  learningRateScale?: number;
  /**
   * Shared training options this loss reads (e.g. `clipLow`, `clipHigh`); setting one that no
   * active plugin reads is an error naming the plugins that would.
   */
  honours?: readonly string[];
}

/** A loss over advantage-weighted rows (PPO clip, CISPO, GSPO, SFT, ...). */
export interface RowLoss<TF = unknown, T = unknown> extends LossCommon {
  /** Rebuilds this plugin with other options (its factory): a plugin of the same kind. */
  configure?(options: Readonly<Record<string, unknown>>): RowLoss<TF, T>;
  kind: 'rows';
  needs?: RowLossNeeds;
  loss(batch: LossBatch<T>, tf: TF): LossResult<T>;
}

/** A loss over chosen/rejected pairs (DPO and its relatives). */
export interface PairLoss<TF = unknown, T = unknown> extends LossCommon {
  /** Rebuilds this plugin with other options (its factory): a plugin of the same kind. */
  configure?(options: Readonly<Record<string, unknown>>): PairLoss<TF, T>;
  kind: 'pairs';
  needs?: PairLossNeeds;
  loss(batch: PreferenceBatch<T>, tf: TF): LossResult<T>;
}

/** A loss over single completions labelled desirable or undesirable (KTO). */
export interface LabelledLoss<TF = unknown, T = unknown> extends LossCommon {
  /** Rebuilds this plugin with other options (its factory): a plugin of the same kind. */
  configure?(options: Readonly<Record<string, unknown>>): LabelledLoss<TF, T>;
  kind: 'labelled';
  needs?: LabelledLossNeeds;
  loss(batch: UnpairedBatch<T>, tf: TF): LossResult<T>;
}

/** Every loss is one of three kinds, each with one `loss` over its own batch shape. */
export type PolicyLoss<TF = unknown, T = unknown> = RowLoss<TF, T> | PairLoss<TF, T> | LabelledLoss<TF, T>;
export const LOSS_KINDS = ['rows', 'pairs', 'labelled'] as const;
export type LossKind = (typeof LOSS_KINDS)[number];

export interface Divergence<TF = unknown, T = unknown> extends PluginMeta {
  /** Rebuilds this plugin with other options (its factory): a plugin of the same kind. */
  configure?(options: Readonly<Record<string, unknown>>): Divergence<TF, T>;
  /** Convex generator with f(1) = 0, where one exists. */
  f?(t: number): number;
  /** Closed form on two discrete distributions over the same support. */
  value?(p: readonly number[], q: readonly number[]): number;
  /** Per-sample Monte Carlo estimate for x ~ p, from log p(x) and log q(x). */
  estimate(logp: number, logq: number): number;
  /** Differentiable per-token penalty. */
  penalty?(logp: T, logRef: T, tf: TF): T;
}

// ---------------------------------------------------------------------------------------
// Shapers, samplers, methods

export interface ShapeContext {
  rng: Rng;
  step: number;
  weights: Readonly<Record<string, number>>;
  /** The environment's reward components. */
  components: readonly string[];
  /** The token limit of one action (for length shaping). */
  maxNewTokens: number;
  /** Charge extra work (a multi-fidelity reward's exact check) to the budget. */
  charge?(cost: Partial<BudgetConsumption>): void;
  /** The discount of the run's advantage estimator (its `gamma` option; 1 when it has none). */
  gamma?: number;
  /** The environment's expert demonstrations, when it has `demonstrate` (learned-from-demonstration rewards read them). */
  demonstrations?: Demonstrations;
  /** Numbers a shaper reports for this step (logged as `shaper.<name>.<key>`). */
  log?(key: string, value: number): void;
}

/** One turn of an expert demonstration replayed in the environment. */
export interface DemonstrationTurn {
  observation: string;
  action: string;
  stateKey?: string;
  reward: RewardVector;
}

/** An expert's episode on one task: its demonstrated actions replayed through `start` and `step`. */
export interface Demonstration {
  taskId: string;
  turns: readonly DemonstrationTurn[];
  success: boolean;
}

/**
 * Expert demonstrations a plugin may read: the demonstration of a step's group (its task), and
 * demonstrations of training tasks for a pre-training phase. Replaying them is environment work
 * on data, like the SFT warm start's, and is not charged to the RL budget.
 */
export interface Demonstrations {
  ofGroup(groupId: string): Demonstration | undefined;
  /** Demonstrations of `count` training tasks (a seeded draw; the test split is never read). */
  training(count: number): Demonstration[];
}

export interface RewardShaper extends PluginMeta {
  /** Rebuilds this plugin with other options (its factory): a plugin of the same kind. */
  configure?(options: Readonly<Record<string, unknown>>): RewardShaper;
  /**
   * Reward components this shaper adds, with their default weights (the trainer adds them to
   * the environment's, and `--set weights.<name>` overrides them).
   */
  adds?: readonly { name: string; weight: number }[];
  /**
   * Returns new rollouts; never mutates its input. Learned reward models have scored the rollouts
   * before shapers run: their scores are reward components a shaper may read.
   */
  shape(rollouts: readonly Rollout[], ctx: ShapeContext): Rollout[];
  /**
   * JSON state for checkpoints (a learned shaper's networks and replay), undefined before its
   * first step; a resumed run hands it back to `load` before its next step.
   */
  save?(): unknown;
  load?(state: unknown): void;
}

// ---------------------------------------------------------------------------------------
// Samplers: how the actions of a group are decoded

/** One decoding position of every row being sampled: what a logits hook sees. */
export interface LogitsRequest {
  /** Per row: natural log-probabilities of the next token (after temperature), one per vocabulary entry. */
  logprobs: readonly Float32Array[];
  /** Per row: the token ids before this position (the prompt, then the action so far). */
  contexts: readonly (readonly number[])[];
  /** Index of the token being chosen within the action (0: its first token). */
  position: number;
  /**
   * Per row, as text (given by the trainer's rollouts): `context`, this turn's prompt (the
   * history and the observation), and `text`, the action so far. A value model scores these.
   */
  texts?: readonly ScoredText[];
  /** The text a token id adds to an action ('' for the special tokens). */
  tokenText?(id: number): string;
  /** The id of the token that ends an action (a grammar mask allows it where an answer may end). */
  stopToken?: number;
  /** The run's reward models by name (a value model is one): their scoring is charged to the budget. */
  rewardModels?: Readonly<Record<string, RewardModelHandle>>;
}

/**
 * A decoding strategy. The trainer runs the decoding (the KV cache, the environment); the
 * sampler chooses the strategy, its sizes and an optional hook on the next-token distribution.
 */
export interface Sampler extends PluginMeta {
  /** Rebuilds this plugin with other options (its factory): a plugin of the same kind. */
  configure?(options: Readonly<Record<string, unknown>>): Sampler;
  /**
   * 'sample': every action drawn token by token (from the distribution the logits hook returns,
   * when there is one). 'beam': for each distinct context, the best distinct actions by the
   * policy's log-probability (beam search, deterministic). 'tree': a group's first `roots`
   * rollouts are sampled from the task; each further one restarts from a node of an earlier
   * rollout (a prefix of one of its actions, after an environment snapshot when the node lies
   * in a later turn) and samples the rest. 'serial': one path per task, then early exits cut
   * from it (its first j tokens, then `exitText`, then a sampled answer): the group is the exits,
   * earliest first, and the path last (S-GRPO's serial group; single-turn environments).
   * 'teacher-forced': every action token is drawn given the prompt and the environment's reference
   * output before that position (VA-pi), one teacher-forced pass per task; single-turn environments
   * with an expert demonstration only.
   * 'mcts': a Monte Carlo tree search over the steps of one action (segments ending at a
   * delimiter), guided by a value model of partial actions (ReST-MCTS*); single-turn environments.
   */
  strategy: 'sample' | 'beam' | 'tree' | 'serial' | 'step-beam' | 'teacher-forced' | 'mcts';
  /** mcts: the search's sizes and constants (see the `rest-mcts` sampler). */
  mcts?: MctsSettings;
  /** serial: the answer-inducing text inserted at each exit (its trimmed form marks where a path's thoughts end). */
  exitText?: string;
  /** beam: hypotheses kept per context (at least the number of actions asked of it); step-beam: partial episodes kept per task. */
  width?: number;
  /**
   * step-beam: a beam search over steps (turns). Each kept partial episode proposes its `expand`
   * most likely distinct next actions (token-level beam search; 1: the greedy action), each
   * candidate is scored by the run's reward model `verifier` reading the turn's observation and
   * the action, Q(s, a), and the `width` best by Q + alpha x (Q - Q of the parent step) are kept.
   */
  expand?: number;
  verifier?: string;
  alpha?: number;
  /** tree: rollouts of a group drawn from the task before branching starts (>= 1). */
  roots?: number;
  /** tree: the rollout a branch restarts from: the best so far by scalar reward, or one drawn uniformly. */
  branchFrom?: 'best' | 'uniform';
  /**
   * Re-weights the next-token distribution before a draw ('sample' and 'tree'): returns, per
   * row, log-weights over the vocabulary (any scale; -Infinity removes a token). Top-k, top-p
   * and value-guided decoding are hooks.
   */
  logits?(request: LogitsRequest): readonly Float32Array[] | Promise<readonly Float32Array[]>;
  /**
   * What each turn's `logprobs` record, the behaviour log-probabilities of importance ratios:
   * 'proposal': the distribution the token was drawn from (temperature and the hook applied);
   * 'policy': the policy's own at temperature 1 (a search has no proposal distribution).
   */
  behaviour: 'proposal' | 'policy';
  /**
   * Which rollouts it decodes: 'training' (the default: the step's rollouts; evaluation samples the
   * policy plainly), 'evaluation' (training rollouts stay the policy's plain samples, evaluation's
   * sampled success is decoded by it: a decode-time method such as VAS learns from the former and
   * is judged on the latter), or 'both'.
   */
  decodes?: 'training' | 'evaluation' | 'both';
}

/** What an 'mcts' sampler asks of the trainer's tree search. */
export interface MctsSettings {
  /** The run's reward model that values partial actions, V(s) in [0, 1]. */
  valueModel: string;
  /** Search iterations (selection, expansion, roll-forward, backpropagation) per task. */
  simulations: number;
  /** Next steps sampled when a node is expanded. */
  branch: number;
  /** UCT's exploration constant c in V + c sqrt(2 ln N_parent / N_child). */
  exploration: number;
  /** Added to the value of a child never visited (the search's prior for unvisited nodes). */
  unvisitedBonus: number;
  /** Greedy roll-forward: steps taken from the best new child, each the best of `rollBranch` samples by value. */
  rollForwardSteps: number;
  rollBranch: number;
  /** Weight of the roll-forward's best value mixed into the rolled node's value. */
  alpha: number;
  /** Characters that end a step (the step keeps its delimiter). */
  delimiters: string;
  /** Longest step in tokens (a step also ends at the stop token). */
  maxStepTokens: number;
}

// ---------------------------------------------------------------------------------------
// Reward models: a second trainable model, owned by the trainer

/** A text to score: what the model reads as the prompt and as the response. */
export interface ScoredText {
  context: string;
  text: string;
}

/** What a reward model trains on. Its objective decides which field it reads. */
export interface RewardExamples {
  /** Bradley-Terry: `chosen` should score above `rejected` in the same context. */
  pairs?: readonly { context: string; chosen: string; rejected: string }[];
  /** Pointwise regression (target any number) or a discriminator (target 1 or 0). */
  points?: readonly (ScoredText & { target: number })[];
  /**
   * Implicit PRM (trajectory DPO): `chosen` preferred to `rejected`, each a trajectory given as its
   * steps (the context each action was taken in, and the action); only the actions' tokens count.
   */
  trajectories?: readonly { chosen: readonly ScoredText[]; rejected: readonly ScoredText[] }[];
}

/** The handle the trainer gives plugins for a reward model it owns. */
export interface RewardModelHandle {
  readonly name: string;
  /** One score per text (the objective's scale: a logit for Bradley-Terry and discriminators). */
  score(texts: readonly ScoredText[]): Promise<number[]>;
  /** Gradient steps on the examples (charged to the budget); the mean loss before the first. */
  train(examples: RewardExamples): Promise<{ loss: number; examples: number }>;
}

/**
 * The architecture of a reward model: 'transformer', a model of its own sized here; 'head', a
 * scalar head on the policy's trunk (it reads the policy's final hidden state at the text's last
 * token; only the head trains: the trunk's gradient is stopped, so the policy learns from its own
 * loss alone, and the head follows the trunk as the policy changes); 'policy-copy', a language model
 * of the policy's size whose weights are copied from the policy when RL starts (after the SFT warm
 * start), then trained apart from it.
 */
export type RewardModelArchitecture =
  | { kind: 'transformer'; dim: number; layers: number; heads: number }
  | { kind: 'head' }
  | { kind: 'policy-copy' };
export const REWARD_MODEL_ARCHITECTURES: readonly RewardModelArchitecture['kind'][] = ['transformer', 'head', 'policy-copy'];

/**
 * 'bradley-terry' (pairs), 'pointwise' regression and 'discriminator' (points) train the scalar
 * head; 'generative' (points, targets 0/1) trains the model as a next-token judge: after the text it
 * predicts an accept or a reject token, and its score is log p(accept) - log p(reject);
 * 'implicit-prm' (trajectories) trains a language model by trajectory DPO against the policy
 * (the implicit PRM of iStar/OPRL): its score of a text is beta * (log pi_prm(text | context) -
 * log pi_policy(text | context)), summed over the text's tokens, so the scores of a trajectory's
 * steps sum to the trajectory's implicit reward. It needs architecture 'policy-copy'.
 */
export type RewardModelObjective = 'bradley-terry' | 'pointwise' | 'discriminator' | 'generative' | 'implicit-prm';
export const REWARD_MODEL_OBJECTIVES: readonly RewardModelObjective[] = [
  'bradley-terry',
  'pointwise',
  'discriminator',
  'generative',
  'implicit-prm',
];

/** What a reward model's `examples` and `text` read. */
export interface RewardModelContext {
  step: number;
  rng: Rng;
  /** Weighted sum of the environment's reward components. */
  scalar(reward: RewardVector): number;
}

/**
 * A learned reward model. The plugin declares the architecture, the objective and which
 * examples to learn from; the trainer builds the model (seeded), trains it online after each
 * step's rollouts are rewarded, saves it with checkpoints, charges its compute, and adds its
 * score of every rollout to the reward as the component `component.name`.
 */
export interface RewardModel extends PluginMeta {
  /** Rebuilds this plugin with other options (its factory): a plugin of the same kind. */
  configure?(options: Readonly<Record<string, unknown>>): RewardModel;
  architecture: RewardModelArchitecture;
  objective: RewardModelObjective;
  /** 'implicit-prm': the scale beta of the implicit reward (default 1). */
  beta?: number;
  learningRate: number;
  /** Gradient steps per training step (default 1). */
  updatesPerStep?: number;
  /**
   * Keep the newest `capacity` examples seen and train each update on `batch` of them drawn
   * uniformly (kept in checkpoints); without it, each update trains on the step's examples.
   */
  replay?: { capacity: number; batch: number };
  /** The reward component its score becomes, with its default weight (0: trained and logged, not rewarded). */
  component: { name: string; weight: number };
  /** What a rollout is scored as (default: the first observation as context, the actions as text). */
  text?(rollout: Rollout): ScoredText;
  /**
   * True for a judge of two answers to one task (`pairText`: its score is the logit of "the first
   * is better"). Its held-out accuracy then asks it about each (succeeded, failed) pair in both
   * orders: right when the succeeded answer shown first scores above it shown second.
   */
  pairwise?: boolean;
  /** A pre-training phase on a policy zoo before RL starts (POLAR), charged to a side budget. */
  pretraining?: RewardModelPretraining;
  /** The examples to train on from one step's groups (already rewarded by the environment). */
  examples(groups: readonly (readonly Rollout[])[], ctx: RewardModelContext): RewardExamples;
  /**
   * A reward model that reads the environment's rules (a reference-based judge reads each task's
   * expert answer and checks its negatives with the environment's verifier) is bound to the run's
   * environment when the run is resolved, and the bound model is used from then on; a UsageError
   * refuses the run (exit 2) naming what the environment lacks. `seed` is the run's: the training
   * split it draws is `env.tasks('train', { seed })`.
   */
  bind?(env: Environment, run: { seed: number }): RewardModel;
}

/**
 * A policy of a reward model's pre-training zoo (POLAR's policy discriminative learning): 'start',
 * the policy as RL starts (after the SFT warm start); 'init', the same seed's weights before the
 * SFT warm start; 'expert', the environment's demonstrations (a deterministic policy: its samples
 * repeat); 'run', a finished run's last checkpoint (a `bench train --out` folder on the same
 * environment and model). A sampled policy at another temperature is another policy.
 */
export type ZooPolicy =
  | { kind: 'start'; temperature: number }
  | { kind: 'init'; temperature: number }
  | { kind: 'expert' }
  | { kind: 'run'; folder: string; temperature: number };

/** One zoo policy's answer to a prompt, and whether the environment accepted it. */
export interface ZooSample {
  text: string;
  success: boolean;
}

/** A prompt of the pre-training phase with every zoo policy's samples. */
export interface ZooPrompt {
  taskId: string;
  /** The task as the policy reads it (its first observation). */
  context: string;
  /** The environment's expert answer (its demonstration as text), when it has one. */
  reference?: string;
  /** Per zoo policy, in the zoo's order, its samples (`samplesPerPolicy` each). */
  samples: readonly (readonly ZooSample[])[];
}

/**
 * A pre-training phase run once before RL starts (after the SFT warm start; not on resume): the
 * trainer samples every zoo policy on `prompts` training tasks, holds out a share of the prompts,
 * trains the reward model `updates` times on `batch` of `examples` drawn from the rest, then
 * `finetuneUpdates` times on `finetune`'s, and measures on the held-out prompts how often each
 * pair's chosen text scores above its rejected one. Its sampling and training go to a side budget
 * reported like the SFT start (`TrainResult.rewardModelPretraining`), never to the RL budget.
 */
export interface RewardModelPretraining {
  zoo: readonly ZooPolicy[];
  /** Training tasks sampled (the test split is never read). */
  prompts: number;
  samplesPerPolicy: number;
  /** Share of the prompts held out for the accuracy measurement, in [0, 1). */
  heldOut: number;
  updates: number;
  batch: number;
  /** The pre-training pairs from the prompts' zoo samples. */
  examples(prompts: readonly ZooPrompt[], rng: Rng): RewardExamples;
  /** Pairs of a second, supervised stage (POLAR's fine-tuning on preference triplets), when there is one. */
  finetune?(prompts: readonly ZooPrompt[], rng: Rng): RewardExamples;
  finetuneUpdates?: number;
}

// ---------------------------------------------------------------------------------------
// Task sources: the stream of training tasks

/** What one task's group earned in a step. */
export interface TaskFeedback {
  taskId: string;
  task: unknown;
  /** The instruction the group was generated under, when the stream gave one. */
  instruction?: string;
  /** Scalar reward of each rollout of the group. */
  rewards: readonly number[];
  successes: readonly boolean[];
  /** The text of each rollout of the group, turn by turn (what the policy read and wrote), for sources that build tasks from it. */
  turns?: readonly (readonly TurnText[])[];
}

/** One turn of a rollout as text. */
export interface TurnText {
  observation: string;
  action: string;
}

/**
 * What a stream's `propose` may use at the end of a step: the current policy writing text
 * (charged to the run's budget as generated tokens) and the environment reading it back.
 */
export interface ProposeContext {
  step: number;
  rng: Rng;
  /**
   * `count` continuations of `prompt` by the current policy (sampled at the run's temperature, at
   * most `maxTokens` tokens each, the prompt read as an observation). Charged as generated tokens;
   * fewer (possibly none) when the budget cannot afford them.
   */
  generate(prompt: string, options: { count: number; maxTokens?: number }): Promise<string[]>;
  /**
   * The environment's `parseTask`, with test-split tasks refused once more by the trainer; absent
   * when the environment cannot read written tasks.
   */
  parseTask?(text: string): unknown | undefined;
  /** The first observation of a task (what the policy reads when it plays it). */
  observation(task: unknown): string;
  taskId(task: unknown): string;
  /**
   * Charges work the stream does for the run, such as a local search's objective evaluations
   * (environment steps), to the budget. Optional so that test doubles of the context need not.
   */
  charge?(cost: Partial<BudgetConsumption>): void;
  /**
   * One supervised step of the current policy on `examples`: token-mean cross-entropy of each
   * action after its task's first observation (as the SFT warm start trains), through the run's
   * optimizer at the step's learning rate; the tokens are charged as trained tokens. FlowBoost
   * trains its generator on an elite buffer this way. Returns the loss per token and the tokens.
   */
  train?(examples: readonly { task: unknown; action: string }[]): Promise<{ loss: number; trainedTokens: number }>;
  /**
   * Plays each task `count` times (default 1) with the current policy, `instruction` shown ahead
   * of the first observation as in training rollouts, sampled at the run's temperature: the
   * verification rollouts of a stream that tests candidate instructions (INSPO). Every episode,
   * environment step and generated token is charged; fewer tasks (possibly none) are played when
   * the budget cannot afford them. Each played task's scalar rewards and successes, in order.
   */
  play?(tasks: readonly unknown[], options?: { instruction?: string; count?: number }): Promise<PlayedTask[]>;
}

/** What one task earned when a stream's `propose` played it. */
export interface PlayedTask {
  rewards: number[];
  successes: boolean[];
}

/** A run's stream of training tasks, opened by a TaskSource. */
export interface TaskStream {
  /** The next `count` tasks (each step's draw; resample rounds draw again). */
  draw(count: number, rng: Rng): unknown[];
  /**
   * An instruction per drawn task (undefined: none), shown ahead of the task's first observation
   * in training rollouts and recorded in each rollout's `meta.instruction` and in the feedback, so
   * a stream can keep statistics per instruction (INSPO's instruction population). Evaluation never
   * shows one. The text should use the environment's alphabet (other characters become <unk>).
   */
  instructions?(tasks: readonly unknown[], rng: Rng): (string | undefined)[];
  /** What the step's groups earned: the stream may rescore, add or retire tasks. */
  observe?(feedback: readonly TaskFeedback[], step: number): void;
  /**
   * Called after `observe` in each step: the stream may ask the current policy to write text
   * (tasks, for an evolving pool) and read it back through the environment; what it generates is
   * charged to the budget.
   */
  propose?(ctx: ProposeContext): Promise<void>;
  /** JSON state for checkpoints (scores, pool), restored on resume by `load`. */
  save?(): unknown;
  load?(state: unknown): void;
  /** Numbers worth logging each step (pool size, entropy of the draw). */
  metrics?(): Readonly<Record<string, number>>;
}

export interface TaskSource extends PluginMeta {
  /** Rebuilds this plugin with other options (its factory): a plugin of the same kind. */
  configure?(options: Readonly<Record<string, unknown>>): TaskSource;
  /** Opens the stream over the environment's training split (the test split is never passed). */
  open(tasks: readonly unknown[], ctx: { taskId(task: unknown): string }): TaskStream;
  /**
   * The environment the run trains and evaluates in, when this source draws tasks of its own kind
   * (judge tasks built from rollouts): a wrapper of the run's environment that plays both. It must
   * keep the wrapped environment's name, alphabet, training and test splits; evaluation then
   * reports the wrapped environment's success.
   */
  environment?(env: Environment): Environment;
  /**
   * Extra tasks for the SFT warm start, played by `env` (the run's environment, this source's
   * wrapper; its `demonstrate` gives each task's expected action) beside the expert's
   * demonstrations on `train`: SPARK's judge items built from the expert and from corrupted
   * answers, so that a policy whose start never writes a verdict can earn reward on judge tasks.
   * `key` enters the SFT cache key. Like the SFT start, not charged to the RL budget; reported apart.
   */
  warmStart?(env: Environment, train: readonly unknown[], rng: Rng): { tasks: unknown[]; key: string };
  /** How the policy judges one of its own single-turn answers in `env` (evaluation's self-judging and self-rerank). */
  selfJudge?(env: Environment): SelfJudge;
}

/** A pointwise judge prompt and its two verdicts, in the environment's alphabet. */
export interface SelfJudge {
  /** The name results report it under (e.g. `spark-self-judge`). */
  name: string;
  /** What the policy reads before its verdict on `action` as an answer to the task shown by `observation`. */
  prompt(observation: string, action: string): string;
  yes: string;
  no: string;
}

// ---------------------------------------------------------------------------------------
// Step hooks

/** What a hook sees and may change at the start or the end of a step. */
export interface HookContext {
  step: number;
  config: Readonly<TrainConfig>;
  rng: Rng;
  /** The step's metrics (onStepEnd only). */
  metrics?: Readonly<Record<string, number>>;
  /**
   * The divergence and entropy coefficients, and the sampling temperature of the step's training
   * rollouts and generations (evaluation always samples at 1); setting one applies from now on
   * (saved with checkpoints). `temperature` is optional so that test doubles need not give it; the
   * trainer always does.
   */
  coefficients: { divergenceCoef: number; entropyCoef: number; temperature?: number };
  /** Copies the current policy into the reference (GARDO's reset); an error when the run has no reference. */
  resetReference(): Promise<void>;
  /** Fraction of the run's budget consumed, in [0, 1] (for hooks that act per share of the run). */
  progress?: number;
  /**
   * `count` tasks of the training split drawn uniformly with this call's randomness (never the test
   * split): a probe set for `sample`. Optional so that test doubles need not give it; the trainer does.
   */
  drawTasks?(count: number): readonly unknown[];
  /**
   * One group of `count` episodes per task, decoded by the current policy by plain sampling at
   * `temperature` (no sampler, no shaper), each scored by the run's reward models (a score as its
   * component; no model trains on them). Charged like the step's rollouts: episodes, environment
   * steps and generated tokens, the reward models' scoring as auxScoredTokens. Returns [] when the
   * budget cannot afford them beside the step's own rollouts. The trainer always provides it.
   */
  sample?(tasks: readonly unknown[], options: { count: number; temperature: number }): Promise<Rollout[][]>;
  /** A number for this step's metrics, logged as `hook.<hook name>.<key>`. */
  log?(key: string, value: number): void;
}

export interface StepHook extends PluginMeta {
  /** Rebuilds this plugin with other options (its factory): a plugin of the same kind. */
  configure?(options: Readonly<Record<string, unknown>>): StepHook;
  /** `reference`: it resets the reference, so the run must keep one (a divergence, or a loss that reads one). */
  needs?: { reference?: boolean };
  onStepStart?(ctx: HookContext): void | Promise<void>;
  onStepEnd?(ctx: HookContext): void | Promise<void>;
}

/** A plugin referenced by name, optionally with options for its factory. */
export type PluginRef = string | { name: string; options?: Readonly<Record<string, unknown>> };

/** A named, citable recipe, runnable by name. */
export interface Method extends PluginMeta {
  estimator: PluginRef;
  loss: PluginRef;
  divergence?: PluginRef;
  shapers?: readonly PluginRef[];
  /** How actions are decoded (default: plain sampling). */
  sampler?: PluginRef;
  /** Learned reward models trained beside the policy. */
  rewardModels?: readonly PluginRef[];
  /** The stream of training tasks (default: uniform over the training split). */
  taskSource?: PluginRef;
  /** Called at the start and end of every step. */
  hooks?: readonly PluginRef[];
  /**
   * Earlier training stages, in order: each trains with its own loss until the budget's progress
   * (the share consumed, in [0, 1]) reaches `until`; then the Method's `loss` trains to the end
   * (EVA's SFT -> KTO -> GRPO: a KTO stage before GRPO). Sampling, the estimator and the budget
   * are the run's throughout; only the update's objective changes.
   */
  stages?: readonly MethodStage[];
  /** Per-method deviations from the shared hyperparameters, with the reason. */
  defaults?: Partial<TrainConfig>;
  /** Why `defaults` deviate (shown in compare reports). */
  defaultsSource?: string;
}

/** One earlier stage of a Method's run: its loss, and the budget share it trains until. */
export interface MethodStage {
  loss: PluginRef;
  /** Budget progress in (0, 1) at which the next stage (or the Method's loss) takes over. */
  until: number;
}

/** What a package exports as `plugin`. */
export interface Plugin {
  name: string;
  estimators?: readonly AdvantageEstimator[];
  losses?: readonly PolicyLoss[];
  divergences?: readonly Divergence[];
  shapers?: readonly RewardShaper[];
  environments?: readonly Environment[];
  samplers?: readonly Sampler[];
  rewardModels?: readonly RewardModel[];
  taskSources?: readonly TaskSource[];
  hooks?: readonly StepHook[];
  methods?: readonly Method[];
}

// ---------------------------------------------------------------------------------------
// Training configuration and budgets

export interface ModelConfig {
  dim: number;
  layers: number;
  heads: number;
  contextLength: number;
  /** MLP width as a multiple of dim. */
  mlpRatio: number;
  valueHead: boolean;
}

export interface BudgetLimit {
  episodes?: number;
  generatedTokens?: number;
  seconds?: number;
  /** Tokens read by any model other than the sampling policy (reference, teacher, reward models). */
  auxScoredTokens?: number;
  /** Tokens trained by any model other than the policy (reward models). */
  auxTrainedTokens?: number;
}

export interface BudgetConsumption {
  episodes: number;
  envSteps: number;
  generatedTokens: number;
  trainedTokens: number;
  seconds: number;
  /** Tokens read by any model other than the sampling policy (reference, teacher, reward models). */
  auxScoredTokens: number;
  /** Tokens trained by any model other than the policy (reward models). */
  auxTrainedTokens: number;
}

export interface TrainConfig {
  method: string;
  env: string;
  seed: number;
  budget: BudgetLimit;
  /** Prompts (tasks) per step. */
  tasksPerStep: number;
  /** Nominal group size G (an estimator may draw more: rolloutsPerGroup). */
  groupSize: number;
  learningRate: number;
  weightDecay: number;
  gradClip: number;
  warmupSteps: number;
  epochs: number;
  minibatches: number;
  clipLow: number;
  clipHigh: number;
  aggregation: Aggregation;
  temperature: number;
  maxNewTokens: number;
  divergenceCoef: number;
  entropyCoef: number;
  evalEvery: number;
  evalTasks: number;
  evalSamples: number;
  checkpointEvery: number;
  sftSteps: number;
  /** Adam learning rate and rows per step of the SFT warm start (constant rate). */
  sftLearningRate: number;
  sftBatch: number;
  model: ModelConfig;
  /** Overrides of the reward component weights. */
  weights?: Record<string, number>;
  /** Options for the estimator, loss, divergence (from --set). */
  estimatorOptions?: Record<string, unknown>;
  lossOptions?: Record<string, unknown>;
  /** Options for the environment's factory (difficulty, data folder, ...). */
  envOptions?: Record<string, unknown>;
  /**
   * A finished run's folder (its checkpoint.json) whose policy becomes the frozen reference:
   * the teacher of on-policy distillation. Same model sizes and alphabet required.
   */
  teacher?: string;
  divergence?: string;
  loss?: string;
  /** Replaces the Method's estimator (--set estimator=<name>). */
  estimator?: string;
  /** Reward shapers added after the Method's own (--set shapers=overlong,spurious). */
  shapers?: string[];
  /** Replaces the Method's sampler (--set sampler=beam), with options (--set samplerOptions.width=8). */
  sampler?: string;
  samplerOptions?: Record<string, unknown>;
  /** Replaces the Method's task source (--set taskSource=prioritized), with options. */
  taskSource?: string;
  taskSourceOptions?: Record<string, unknown>;
  /** Reward models added after the Method's own (--set rewardModels=bt-outcome). */
  rewardModels?: string[];
  /** Options of reward models by name (--set rewardModelOptions.bt-outcome.learningRate=0.001). */
  rewardModelOptions?: Record<string, Record<string, unknown>>;
  /** Step hooks added after the Method's own (--set hooks=reference-reset), with options by hook name. */
  hooks?: string[];
  hookOptions?: Record<string, Record<string, unknown>>;
  /** Learning-rate schedule after warm-up: constant (default) or cosine decay to 0 over the budget. */
  schedule?: 'constant' | 'cosine';
  /** Where the divergence penalty goes: in the loss (default) or subtracted from the reward (k1 per sequence). */
  divergencePlacement?: 'loss' | 'reward';
  /** When set, the divergence coefficient adapts to keep the measured divergence near this target (PPO's rule). */
  targetDivergence?: number;
  /** Weight of the critic's value loss (needs model.valueHead and an estimator that returns targets). */
  valueCoef?: number;
  /** Every this many steps, measure advantage sign flips against a many-rollout baseline (0 = off; side budget). */
  signFlipEvery?: number;
  /** Rollouts per task of that baseline. */
  signFlipRollouts?: number;
  /**
   * Dynamic sampling (estimators with keepGroup, e.g. DAPO): rounds of new groups drawn to
   * replace discarded ones within a step, each charged, while the budget affords one.
   */
  resampleRounds?: number;
  /**
   * Rows per forward/backward pass; a larger minibatch accumulates gradients over passes
   * (the update is the same, memory stays bounded). Default 64.
   */
  microBatchRows?: number;
  /** TRL's adaptive entropy coefficient: target entropy in nats (off when unset), bounds and step. */
  entropyTarget?: number;
  entropyCoefMin?: number;
  entropyCoefMax?: number;
  entropyCoefDelta?: number;
  /** Train only on the top-rho share of tokens by entropy (the "80/20" rule); 1 = off. */
  topEntropyQuantile?: number;
  /**
   * Length P of a learned soft prompt: P trainable vectors of the model's width ahead of every
   * prompt the policy reads, in rollouts, updates and evaluation (not the reference's). 0 or unset: off.
   */
  softPrompt?: number;
  /** 'joint' (default): the vectors train with the policy in each update; 'prompt-only': the policy stays frozen (prompt tuning). */
  softPromptTraining?: 'joint' | 'prompt-only';
}
