/**
 * What a comparison runs: presets, the units (method x environment x seed), the controls
 * every comparison carries, and a fingerprint that says whether an --out folder holds the
 * same comparison.
 */
import { createHash } from 'node:crypto';
import {
  type BudgetLimit,
  type Environment,
  formatBudget,
  type Method,
  parseBudget,
  type Registry,
  UsageError,
} from '@policy-lab/core';
import { type SplitSizes, splitSizes } from '@policy-lab/envs';

export type PresetName = 'quick' | 'standard' | 'paper' | 'leaderboard';

/** A preset: what a comparison runs when the command line does not say. */
export interface Preset {
  seeds: number;
  envs: readonly string[];
  budget: string;
  overrides: Readonly<Record<string, unknown>>;
  /**
   * An environment sized apart from the others (its budget per run, its overrides such as
   * evalTasks): used where --budget (or --set of the key) does not say otherwise.
   */
  perEnv?: Readonly<Record<string, { budget?: string; overrides?: Readonly<Record<string, unknown>> }>>;
  /** With --all and no --env: installed environments left out of the default set, with the reason (--env adds them). */
  leavesOut?: Readonly<Record<string, string>>;
  note: string;
}

export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  quick: {
    seeds: 5,
    envs: ['countdown'],
    budget: 'episodes=1600',
    overrides: { evalTasks: 32, evalEvery: 5, signFlipEvery: 10 },
    note: 'smoke-level: 5 seeds and 1600 episodes per run; use --preset standard or paper for conclusions',
  },
  standard: {
    seeds: 10,
    envs: ['countdown'],
    budget: 'episodes=8000',
    overrides: { evalTasks: 200, evalEvery: 25, signFlipEvery: 10 },
    note: '10 seeds and 8000 episodes per run, 200 test tasks; where conclusions start (grpo mc-grpo gdpo with its controls, 40 runs and 10 SFT starts: 7 minutes on 2 idle cores; docs/performance.md)',
  },
  paper: {
    seeds: 20,
    envs: ['countdown'],
    budget: 'episodes=20000',
    overrides: { evalTasks: 256, evalEvery: 50, signFlipEvery: 20 },
    note: '20 seeds and 20000 episodes per run, 256 test tasks',
  },
  leaderboard: {
    seeds: 2,
    // With --all: every installed environment but those it leaves out; a named --env set replaces it.
    envs: ['countdown'],
    budget: 'episodes=800',
    overrides: { evalTasks: 200, evalEvery: 1000, signFlipEvery: 1000 },
    // Sized so that the whole board fits 3 hours on 2 cores (measured: docs/leaderboard.md). A
    // multi-turn episode costs 10-100x a one-turn one, in training and in evaluation alike.
    perEnv: {
      arithmetic: { budget: 'episodes=400' },
      'policy-judge': { budget: 'episodes=400' },
      'long-doc-reader': { budget: 'episodes=192', overrides: { evalTasks: 100 } },
      'next-segment': { budget: 'episodes=192', overrides: { evalTasks: 100 } },
      gridnav: { budget: 'episodes=96', overrides: { evalTasks: 40 } },
      translate: { budget: 'episodes=96', overrides: { evalTasks: 40 } },
      webshop: { budget: 'episodes=96', overrides: { evalTasks: 40 } },
    },
    leavesOut: {
      translate:
        'one SFT start takes about 4 core-minutes (one per seed, and one more for each method that starts from its own), and it solves 2% of the test tasks, which these budgets do not move (measured on 2 cores, 2026-12-05)',
      webshop:
        'one SFT start (600 steps at a context of 512) did not finish in 18 minutes of one worker on 2 cores, and there is one per seed and one more for each method that starts from its own (measured 2026-12-05)',
    },
    note: 'with --all, every method on every environment but translate and webshop (too costly for the time limit; --env adds them), 2 seeds, 800 episodes per run and 200 test tasks on one-turn environments, fewer on multi-turn ones (smoke-level per pair; the aggregate across environments is the point)',
  },
};

/** The pseudo-method reported for the SFT start without RL (each run's initial evaluation). */
export const SFT_START = 'sft-start';

export interface CompareConfig {
  methods: string[];
  /** Methods added as controls (not asked for by name). */
  controls: string[];
  /** A leaderboard (--all): every method is compared with `reference` (and the SFT start), and ranked across environments. */
  leaderboard?: { reference: string; leftOut?: { env: string; reason: string }[] };
  /** A leaderboard (--all): the (method, environment) pairs not run, with the trainer's reason. */
  skipped?: { method: string; env: string; reason: string }[];
  envs: string[];
  seeds: number[];
  budget: BudgetLimit;
  /** Environments the preset sizes apart (the leaderboard's multi-turn ones): their budget per run. */
  envBudgets?: Record<string, BudgetLimit>;
  /** Environments the preset sizes apart: their overrides on top of `overrides` (evalTasks, ...). */
  envOverrides?: Record<string, Record<string, unknown>>;
  preset: PresetName;
  overrides: Record<string, unknown>;
  backend: string;
  kernels: string;
  /** An offline preference dataset (--data file.jsonl) every unit trains on, with its content hash. */
  preferences?: PreferencesRef;
  /** Each environment's options as resolved (its defaults under --set envOptions.*). */
  envOptions?: Record<string, Record<string, unknown>>;
  /**
   * --set keys that only some methods read (clipLow on a loss that honours it, divergenceCoef
   * with a divergence): the methods they apply to; the other methods train without them.
   */
  partialOptions?: Record<string, string[]>;
  /** What each method is made of, with the estimator's resolved math (for the report). */
  recipes?: Record<string, { estimator: string; loss: string; math?: string; unverified?: readonly string[]; paper?: string }>;
  /**
   * Each environment's splits under its options, measured when the comparison was planned:
   * distinct test tasks and the training pool a run draws from (seed 1's; see `splitSizes`).
   */
  splits?: Record<string, SplitSizes>;
  /**
   * Environments whose test split holds fewer tasks than the preset's evalTasks (a user's small
   * --data, a small difficulty setting): their runs evaluate the whole split, this many tasks.
   */
  evalTasksCapped?: Record<string, number>;
  /**
   * What the named plugins are, as installed: each environment's alphabet and options, each
   * method's parts and defaults. Part of the fingerprint, so that a changed environment or
   * method never resumes a run made with the old one.
   */
  definitions?: string;
  /** A user's Hugging Face model every unit trains (--model), instead of the character transformer. */
  model?: CompareModel;
}

/** The model of a comparison on a user's Hugging Face model (bench compare --model). */
export interface CompareModel {
  /** Absolute path; workers on other machines need the same folder at the same path. */
  folder: string;
  /** The folder's name, for the report. */
  name: string;
  modelType: string;
  parameters: number;
  /** LoRA adapters trained on the frozen base (--lora); full fine-tuning without. */
  lora?: { rank: number; alpha: number; targets: string[] };
  /** The start: 'none' (the pretrained weights, the default) or 'cache' (an SFT warm start shared per (environment, seed)). */
  sft: 'cache' | 'none';
  /** --chat-template off: plain-text prompts although the folder has a template (absent: auto). */
  chatTemplate?: 'off';
  /** sha256 of each model file (config.json, safetensors, tokenizer files), by name: part of the fingerprint. */
  files: Record<string, string>;
}

/** The model in words: "llama (my-model, 3231968 parameters; LoRA rank 4, alpha 8 on q_proj, v_proj; pretrained start)". */
export function modelWords(model: CompareModel): string {
  const training = model.lora
    ? `LoRA rank ${model.lora.rank}, alpha ${model.lora.alpha} on ${model.lora.targets.join(', ')}`
    : 'full fine-tuning';
  return `${model.name} (${model.modelType}, ${model.parameters} parameters; ${training}; ${model.sft === 'cache' ? 'SFT warm start shared per seed' : 'the pretrained weights as the start, no SFT'}${model.chatTemplate === 'off' ? '; plain-text prompts (--chat-template off)' : ''})`;
}

/** What the trainer is given for a comparison's model: the folder and LoRA settings, and the start. */
export const hfOptions = (model: CompareModel) => ({
  model: {
    folder: model.folder,
    ...(model.lora ? { lora: model.lora } : {}),
    ...(model.chatTemplate ? { chatTemplate: model.chatTemplate } : {}),
  },
  sft: model.sft,
});

export interface PreferencesRef {
  /** Absolute path; workers on other machines need the same file at the same path. */
  file: string;
  sha256: string;
}

export interface Unit {
  id: string;
  method: string;
  env: string;
  seed: number;
}

export function planComparison(
  registry: Registry,
  input: {
    methods: string[];
    envs?: string;
    seeds?: string;
    budget?: string;
    preset?: string;
    overrides: Record<string, unknown>;
    backend: string;
    kernels: string;
    preferences?: PreferencesRef;
    model?: CompareModel;
    leaderboard?: { reference: string; leftOut?: { env: string; reason: string }[] };
    /** A leaderboard's pairs that do not train (selectLeaderboard), left out of the units. */
    skipped?: { method: string; env: string; reason: string }[];
    /**
     * Resolves one unit's training configuration (the trainer's resolveTrainConfig), so that a
     * bad --set fails here, before any folder exists, rather than in a worker.
     */
    resolveTrainConfig?: (
      base: { method: Method; env: Environment; seed: number; budget: BudgetLimit },
      overrides: Record<string, unknown>,
    ) => unknown;
    /**
     * The --set keys no active plugin of (method, environment) reads (the trainer's
     * unreadOptions), so a key only some methods read applies to those and a key none reads is refused.
     */
    unreadOptions?: (unit: { method: string; env: string; overrides: Record<string, unknown> }) => string[];
    /** Who would read a key, in words (for the error). */
    readersOf?: (key: string) => string;
  },
): CompareConfig {
  const presetName = (input.preset ?? 'quick') as PresetName;
  if (!(presetName in PRESETS))
    throw new UsageError(`unknown --preset '${input.preset}': accepted ${Object.keys(PRESETS).join(', ')}`);
  const preset = PRESETS[presetName];
  if (input.methods.length === 0) throw new UsageError('name at least one method (bench list --kind methods)');
  for (const method of input.methods) registry.get('methods', method);
  const duplicates = input.methods.filter((m, i) => input.methods.indexOf(m) !== i);
  if (duplicates.length) throw new UsageError(`method '${duplicates[0]}' is named twice`);
  const envs =
    input.envs !== undefined
      ? input.envs
          .split(',')
          .map((e) => e.trim())
          .filter(Boolean)
      : [...preset.envs];
  if (envs.length === 0)
    throw new UsageError(
      `bad --env '${input.envs}': name at least one environment (accepted: ${registry.names('environments').join(', ')})`,
    );
  const twice = envs.find((e, i) => envs.indexOf(e) !== i);
  if (twice) throw new UsageError(`environment '${twice}' is named twice in --env '${input.envs}'`);
  for (const env of envs) registry.get('environments', env);
  const seeds = input.seeds === undefined ? Array.from({ length: preset.seeds }, (_, i) => i + 1) : parseSeeds(input.seeds);
  const budget = parseBudget(input.budget ?? preset.budget);
  const overrides = { ...preset.overrides, ...input.overrides };
  const perEnv = presetPerEnv(preset, envs, input);
  const { resolved: envOptions, splits, testHolds } = checkUnits(registry, { ...input, envs, budget, overrides, ...perEnv });
  const evalTasksCapped = checkEvalTasks(
    testHolds,
    (env) => envOverridesOf({ overrides, ...perEnv }, env).evalTasks,
    input.overrides.evalTasks !== undefined,
  );
  const controls: string[] = [];
  // MC-GRPO's fair control: GRPO on the same G+1 rollouts.
  if (input.methods.includes('mc-grpo') && !input.methods.includes('grpo-plus-one') && registry.has('methods', 'grpo-plus-one'))
    controls.push('grpo-plus-one');
  const partialOptions = optionAppliesTo(input, [...input.methods, ...controls], envs, overrides);
  const recipes: NonNullable<CompareConfig['recipes']> = {};
  for (const name of [...input.methods, ...controls]) {
    const method = registry.get('methods', name);
    const refName = (ref: string | { name: string }) => (typeof ref === 'string' ? ref : ref.name);
    const estimator = registry.has('estimators', refName(method.estimator))
      ? registry.get('estimators', refName(method.estimator))
      : undefined;
    recipes[name] = {
      estimator: refName(method.estimator),
      loss: refName(method.loss),
      ...(estimator?.math ? { math: estimator.math } : {}),
      ...(estimator?.unverified?.length ? { unverified: estimator.unverified } : {}),
      ...(method.paper
        ? { paper: `${method.paper.title}${method.paper.arxiv ? `, arXiv ${method.paper.arxiv}` : ''} (${method.paper.year})` }
        : {}),
    };
  }
  const definitions = createHash('sha256')
    .update(
      JSON.stringify({
        envs: envs.map((name) => {
          const env = registry.get('environments', name);
          return { name, alphabet: env.alphabet?.() ?? '', resolved: env.resolved ?? {}, components: env.rewardComponents };
        }),
        methods: [...input.methods, ...controls].map((name) => {
          const { estimator, loss, divergence, shapers, defaults } = registry.get('methods', name);
          return { name, estimator, loss, divergence, shapers, defaults };
        }),
      }),
    )
    .digest('hex')
    .slice(0, 16);
  return {
    definitions,
    recipes,
    methods: input.methods,
    controls,
    envs,
    seeds,
    budget,
    ...perEnv,
    preset: presetName,
    overrides,
    backend: input.backend,
    kernels: input.kernels,
    ...(input.preferences ? { preferences: input.preferences } : {}),
    ...(input.model ? { model: input.model } : {}),
    envOptions,
    splits,
    ...(evalTasksCapped ? { evalTasksCapped } : {}),
    ...(partialOptions ? { partialOptions } : {}),
    ...(input.leaderboard ? { leaderboard: input.leaderboard } : {}),
    ...(input.skipped?.length ? { skipped: input.skipped } : {}),
  };
}

/**
 * The preset's per-environment sizes for this plan: an environment's budget unless --budget
 * was given, its overrides except the keys --set gave.
 */
function presetPerEnv(
  preset: Preset,
  envs: readonly string[],
  input: { budget?: string; overrides: Record<string, unknown> },
): Pick<CompareConfig, 'envBudgets' | 'envOverrides'> {
  const envBudgets: Record<string, BudgetLimit> = {};
  const envOverrides: Record<string, Record<string, unknown>> = {};
  for (const env of envs) {
    const own = preset.perEnv?.[env];
    if (own?.budget && input.budget === undefined) envBudgets[env] = parseBudget(own.budget);
    const kept = Object.entries(own?.overrides ?? {}).filter(([key]) => input.overrides[key] === undefined);
    if (kept.length) envOverrides[env] = Object.fromEntries(kept);
  }
  return {
    ...(Object.keys(envBudgets).length ? { envBudgets } : {}),
    ...(Object.keys(envOverrides).length ? { envOverrides } : {}),
  };
}

/** An environment's budget per run: its own where the preset sizes it apart, else the comparison's. */
export const budgetOf = (config: Pick<CompareConfig, 'budget' | 'envBudgets'>, env: string): BudgetLimit =>
  config.envBudgets?.[env] ?? config.budget;

/** The comparison's overrides with an environment's own (the preset's per-environment ones) on top. */
export const envOverridesOf = (
  config: Pick<CompareConfig, 'overrides' | 'envOverrides'>,
  env: string,
): Record<string, unknown> => ({
  ...config.overrides,
  ...config.envOverrides?.[env],
});

/** The budgets in words: "episodes 800 per run" or "episodes 800 per run (gridnav: episodes 200)". */
export function budgetsWords(config: Pick<CompareConfig, 'budget' | 'envBudgets'>): string {
  const apart = Object.entries(config.envBudgets ?? {}).map(([env, budget]) => `${env}: ${budgetWords(budget)}`);
  return `${budgetWords(config.budget)} per run${apart.length ? ` (${apart.join('; ')})` : ''}`;
}

/** Whether a leaderboard left this (method, environment) out. */
export const isSkipped = (skipped: CompareConfig['skipped'], method: string, env: string): boolean =>
  skipped?.some((s) => s.method === method && (s.env === env || s.env === '*')) ?? false;

/**
 * evalTasks against each environment's test split: asked for by name (--set evalTasks, a
 * config file) beyond what a split holds is bad input naming both numbers; the preset's value
 * beyond a small split is capped to the split for that environment (returned, and said).
 */
function checkEvalTasks(
  testHolds: Record<string, number>,
  evalTasksOf: (env: string) => unknown,
  explicit: boolean,
): Record<string, number> | undefined {
  const capped: Record<string, number> = {};
  for (const [env, test] of Object.entries(testHolds)) {
    const evalTasks = evalTasksOf(env);
    if (typeof evalTasks !== 'number') continue;
    // A split that gives no test tasks at all is the trainer's error to report (exit 1, naming the split).
    if (test === 0 || test >= evalTasks) continue;
    if (explicit)
      throw new UsageError(
        `--set evalTasks=${evalTasks}: environment '${env}' has ${test} test tasks under its options (accepted: 1..${test})`,
      );
    capped[env] = test;
  }
  return Object.keys(capped).length ? capped : undefined;
}

/** The warnings of a capped preset evalTasks, one line per environment. */
export function evalTasksWarnings(config: Pick<CompareConfig, 'preset' | 'overrides' | 'evalTasksCapped'>): string[] {
  return Object.entries(config.evalTasksCapped ?? {}).map(
    ([env, test]) =>
      `warning: the ${config.preset} preset evaluates ${String(config.overrides.evalTasks)} test tasks, but ${env}'s test split holds ${test} under its options: its runs evaluate all ${test}`,
  );
}

/**
 * Resolves every (method, environment) of the plan as a worker will: the environment under
 * its envOptions, the training configuration, and every plugin the configuration names.
 * Returns each environment's resolved options.
 */
function checkUnits(
  registry: Registry,
  plan: {
    methods: string[];
    envs: string[];
    budget: BudgetLimit;
    overrides: Record<string, unknown>;
    envBudgets?: CompareConfig['envBudgets'];
    envOverrides?: CompareConfig['envOverrides'];
    skipped?: CompareConfig['skipped'];
    resolveTrainConfig?: Parameters<typeof planComparison>[1]['resolveTrainConfig'];
  },
): {
  resolved: Record<string, Record<string, unknown>>;
  splits: Record<string, SplitSizes>;
  /** How many distinct test tasks an evaluation of evalTasks tasks gets. */
  testHolds: Record<string, number>;
} {
  const given = plan.overrides.envOptions;
  if (given !== undefined && (typeof given !== 'object' || given === null || Array.isArray(given)))
    throw new UsageError(`--set envOptions must be an object of environment options, got ${JSON.stringify(given)}`);
  const options = given as Record<string, unknown> | undefined;
  const resolved: Record<string, Record<string, unknown>> = {};
  const splits: Record<string, SplitSizes> = {};
  const testHolds: Record<string, number> = {};
  for (const name of plan.envs) {
    const env = registry.resolve('environments', name, options && Object.keys(options).length ? options : undefined);
    resolved[name] = { ...((env.resolved ?? {}) as Record<string, unknown>) };
    splits[name] = splitSizes(env, 1);
    const overrides = envOverridesOf(plan, name);
    // The evaluation set is the first evalTasks of the test split, which may run past its default size.
    const evalTasks = overrides.evalTasks;
    const test = splits[name].test;
    testHolds[name] =
      typeof evalTasks === 'number' && evalTasks > test
        ? new Set(env.tasks('test', { seed: 0, count: evalTasks }).map((task) => env.taskId(task))).size
        : test;
    for (const methodName of plan.methods) {
      if (isSkipped(plan.skipped, methodName, name)) continue;
      const method = registry.get('methods', methodName);
      const config = plan.resolveTrainConfig?.({ method, env, seed: 1, budget: budgetOf(plan, name) }, overrides) as
        | { estimator?: unknown; loss?: unknown; divergence?: unknown; shapers?: unknown }
        | undefined;
      if (!config) continue;
      const named = (value: unknown) => (typeof value === 'string' ? value : (value as { name?: string } | undefined)?.name);
      for (const [kind, ref] of [
        ['estimators', config.estimator],
        ['losses', config.loss],
        ['divergences', config.divergence],
      ] as const) {
        const name = named(ref);
        if (name) registry.get(kind, name);
      }
      for (const shaper of Array.isArray(config.shapers) ? config.shapers : []) {
        const name = named(shaper);
        if (name) registry.get('shapers', name);
      }
    }
  }
  return { resolved, splits, testHolds };
}

/**
 * --seeds: a count N (seeds 1..N), or a range A-B of seeds (a rerun of a protocol on other
 * seeds, e.g. against a --baseline that ran 1-10).
 */
export function parseSeeds(text: string): number[] {
  const bad = () =>
    new UsageError(`bad --seeds '${text}': expected a positive integer N (seeds 1..N) or a range A-B (1 <= A <= B)`);
  const count = /^\s*(\d+)\s*$/.exec(text);
  const range = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(text);
  const [from, to] = count ? [1, Number(count[1])] : range ? [Number(range[1]), Number(range[2])] : [0, 0];
  if (!Number.isSafeInteger(to) || from < 1 || to < from || to - from >= 10_000) throw bad();
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** The seeds in words: "3" for seeds 1..3, else their range "11-20". */
export const seedWords = (seeds: readonly number[]): string =>
  seeds.every((seed, i) => seed === i + 1) ? String(seeds.length) : `${seeds[0]}-${seeds[seeds.length - 1]}`;

/** A budget in words: "episodes 3200". */
export const budgetWords = (budget: BudgetLimit): string => formatBudget(budget).replace(/=/g, ' ').replace(/,/g, ', ');

/** What the configuration of a comparison changes from its preset ("seeds 3", "episodes 3200", "envOptions.numbers 3"). */
export function presetDeviations(
  config: Pick<CompareConfig, 'preset' | 'seeds' | 'envs' | 'budget' | 'overrides' | 'leaderboard'>,
): string[] {
  const preset = PRESETS[config.preset];
  const deviations: string[] = [];
  if (seedWords(config.seeds) !== String(preset.seeds)) deviations.push(`seeds ${seedWords(config.seeds)}`);
  if (formatBudget(config.budget) !== formatBudget(parseBudget(preset.budget))) deviations.push(budgetWords(config.budget));
  // A leaderboard that left environments out ran the preset's own set (every installed one but those).
  const presetEnvs = config.leaderboard?.leftOut !== undefined;
  if (!presetEnvs && config.envs.join(',') !== preset.envs.join(',')) deviations.push(`environments ${config.envs.join(', ')}`);
  const presetOverrides = preset.overrides as Record<string, unknown>;
  for (const [key, value] of Object.entries(config.overrides)) {
    if (JSON.stringify(value) === JSON.stringify(presetOverrides[key])) continue;
    if (key === 'envOptions' && value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [option, v] of Object.entries(value)) deviations.push(`envOptions.${option} ${JSON.stringify(v)}`);
    } else deviations.push(`${key} ${JSON.stringify(value)}`);
  }
  return deviations;
}

/**
 * Whether what ran is smoke-level, judged from the seeds and budget that ran against the
 * standard preset's (where conclusions start), never from the preset's name.
 */
export function runLevel(config: Pick<CompareConfig, 'seeds' | 'budget'>): { smoke: boolean | null; text: string } {
  const standard = PRESETS.standard;
  const standardEpisodes = parseBudget(standard.budget).episodes as number;
  const seeds = config.seeds.length;
  const threshold = `conclusions start at ${standard.seeds} seeds and ${standardEpisodes} episodes per run, the standard preset`;
  const episodes = config.budget.episodes;
  if (episodes === undefined)
    return {
      smoke: null,
      text: `level not judged: ${seeds} seeds with a budget of ${budgetWords(config.budget)} per run, and the presets' thresholds count episodes (${threshold})`,
    };
  if (seeds < standard.seeds || episodes < standardEpisodes)
    return {
      smoke: true,
      text: `smoke-level: ${seeds} seeds and ${episodes} episodes per run (${threshold}); use --preset standard or paper for conclusions`,
    };
  return { smoke: false, text: `${seeds} seeds and ${episodes} episodes per run (${threshold})` };
}

/** The one-line description of what ran: "quick preset with overrides: seeds 3, episodes 3200; smoke-level: ...". */
export function describeRun(
  config: Pick<CompareConfig, 'preset' | 'seeds' | 'envs' | 'budget' | 'overrides' | 'leaderboard'> & { model?: CompareModel },
): string {
  const deviations = presetDeviations(config);
  return `${config.preset} preset${deviations.length ? ` with overrides: ${deviations.join(', ')}` : ''}; ${runLevel(config).text}${config.model ? `; model ${modelWords(config.model)}` : ''}`;
}

export function unitsOf(config: CompareConfig): Unit[] {
  const units: Unit[] = [];
  for (const env of config.envs) {
    for (const seed of config.seeds) {
      for (const method of [...config.methods, ...config.controls])
        if (!isSkipped(config.skipped, method, env)) units.push({ id: `${method}__${env}__s${seed}`, method, env, seed });
    }
  }
  return units;
}

/** Same fingerprint = same comparison (what --resume may continue). */
export function fingerprint(config: CompareConfig): string {
  const {
    methods,
    controls,
    envs,
    seeds,
    budget,
    overrides,
    backend,
    definitions,
    preferences,
    skipped,
    model,
    envBudgets,
    envOverrides,
  } = config;
  // Without --data (or a leaderboard's skips) the fingerprint is the one earlier versions computed (old runs still resume).
  const data = {
    ...(preferences ? { preferences: preferences.sha256 } : {}),
    ...(skipped?.length ? { skipped: skipped.map((s) => `${s.method}@${s.env}`) } : {}),
    ...(envBudgets
      ? { envBudgets: Object.fromEntries(Object.entries(envBudgets).map(([env, b]) => [env, formatBudget(b)])) }
      : {}),
    ...(envOverrides ? { envOverrides } : {}),
    // The model's content (not its path: a moved folder is the same comparison), its LoRA settings and start.
    ...(model
      ? {
          model: {
            files: model.files,
            lora: model.lora ?? null,
            sft: model.sft,
            ...(model.chatTemplate ? { chatTemplate: model.chatTemplate } : {}),
          },
        }
      : {}),
  };
  return createHash('sha256')
    .update(
      JSON.stringify({ methods, controls, envs, seeds, budget: formatBudget(budget), overrides, backend, definitions, ...data }),
    )
    .digest('hex')
    .slice(0, 16);
}

/**
 * For every --set key some method of the plan does not read: the methods that read it. A key
 * that no method of the comparison reads (on any of its environments) is refused.
 */
function optionAppliesTo(
  input: Parameters<typeof planComparison>[1],
  methods: readonly string[],
  envs: readonly string[],
  overrides: Record<string, unknown>,
): Record<string, string[]> | undefined {
  if (!input.unreadOptions) return undefined;
  const unread = new Map<string, Set<string>>();
  for (const method of methods)
    for (const env of envs) {
      if (isSkipped(input.skipped, method, env)) continue;
      for (const key of input.unreadOptions({ method, env, overrides }))
        unread.set(key, (unread.get(key) ?? new Set()).add(method));
    }
  const out: Record<string, string[]> = {};
  for (const [key, skipping] of unread) {
    const readers = methods.filter((m) => !skipping.has(m));
    if (!input.methods.some((m) => readers.includes(m)))
      throw new UsageError(
        `--set ${key}: no method of this comparison reads it (${input.methods.join(', ')}); it is read by ${input.readersOf?.(key) ?? 'other plugins'}`,
      );
    out[key] = readers;
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * A unit's overrides: the comparison's, without the keys its method does not read, and with
 * evalTasks capped to its environment's test split where the preset's value exceeds it.
 */
export function overridesFor(
  config: Pick<CompareConfig, 'overrides' | 'envOverrides' | 'partialOptions' | 'evalTasksCapped'>,
  method: string,
  env?: string,
): Record<string, unknown> {
  const partial = config.partialOptions ?? {};
  const all = env === undefined ? config.overrides : envOverridesOf(config, env);
  const own = Object.fromEntries(Object.entries(all).filter(([key]) => partial[key]?.includes(method) ?? true));
  const capped = env === undefined ? undefined : config.evalTasksCapped?.[env];
  return capped === undefined ? own : { ...own, evalTasks: capped };
}
