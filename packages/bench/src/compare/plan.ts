/**
 * What a comparison runs: presets, the units (method x environment x seed), the controls
 * every comparison carries, and a fingerprint that says whether an --out folder holds the
 * same comparison.
 */
import { createHash } from 'node:crypto';
import { type BudgetLimit, formatBudget, parseBudget, type Registry, UsageError } from '@policy-lab/core';

export const PRESETS = {
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
    overrides: { evalTasks: 64, evalEvery: 10, signFlipEvery: 10 },
    note: 'standard: 10 seeds and 8000 episodes per run; where conclusions start (1-2 minutes per method on 2 cores)',
  },
  paper: {
    seeds: 20,
    envs: ['countdown'],
    budget: 'episodes=20000',
    overrides: { evalTasks: 128, evalEvery: 20, signFlipEvery: 20 },
    note: 'paper: 20 seeds and 20000 episodes per run (about 6 minutes per method on 2 cores)',
  },
} as const;
export type PresetName = keyof typeof PRESETS;

/** The pseudo-method reported for the SFT start without RL (each run's initial evaluation). */
export const SFT_START = 'sft-start';

export interface CompareConfig {
  methods: string[];
  /** Methods added as controls (not asked for by name). */
  controls: string[];
  envs: string[];
  seeds: number[];
  budget: BudgetLimit;
  preset: PresetName;
  overrides: Record<string, unknown>;
  backend: string;
  kernels: string;
  /** An offline preference dataset (--data file.jsonl) every unit trains on, with its content hash. */
  preferences?: PreferencesRef;
  /** What each method is made of, with the estimator's resolved math (for the report). */
  recipes?: Record<string, { estimator: string; loss: string; math?: string; unverified?: readonly string[]; paper?: string }>;
  /**
   * What the named plugins are, as installed: each environment's alphabet and options, each
   * method's parts and defaults. Part of the fingerprint, so that a changed environment or
   * method never resumes a run made with the old one.
   */
  definitions?: string;
}

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
  const envs = input.envs
    ? input.envs
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean)
    : [...preset.envs];
  for (const env of envs) registry.get('environments', env);
  let seedCount: number = preset.seeds;
  if (input.seeds !== undefined) {
    if (!/^\d+$/.test(input.seeds) || Number(input.seeds) < 1)
      throw new UsageError(`bad --seeds '${input.seeds}': expected a positive integer`);
    seedCount = Number(input.seeds);
  }
  const controls: string[] = [];
  // MC-GRPO's fair control: GRPO on the same G+1 rollouts.
  if (input.methods.includes('mc-grpo') && !input.methods.includes('grpo-plus-one') && registry.has('methods', 'grpo-plus-one'))
    controls.push('grpo-plus-one');
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
    seeds: Array.from({ length: seedCount }, (_, i) => i + 1),
    budget: parseBudget(input.budget ?? preset.budget),
    preset: presetName,
    overrides: { ...preset.overrides, ...input.overrides },
    backend: input.backend,
    kernels: input.kernels,
    ...(input.preferences ? { preferences: input.preferences } : {}),
  };
}

export function unitsOf(config: CompareConfig): Unit[] {
  const units: Unit[] = [];
  for (const env of config.envs) {
    for (const seed of config.seeds) {
      for (const method of [...config.methods, ...config.controls])
        units.push({ id: `${method}__${env}__s${seed}`, method, env, seed });
    }
  }
  return units;
}

/** Same fingerprint = same comparison (what --resume may continue). */
export function fingerprint(config: CompareConfig): string {
  const { methods, controls, envs, seeds, budget, overrides, backend, definitions, preferences } = config;
  // Without --data the fingerprint is the one earlier versions computed (old runs still resume).
  const data = preferences ? { preferences: preferences.sha256 } : {};
  return createHash('sha256')
    .update(
      JSON.stringify({ methods, controls, envs, seeds, budget: formatBudget(budget), overrides, backend, definitions, ...data }),
    )
    .digest('hex')
    .slice(0, 16);
}
