/**
 * Which public implementation an estimator reproduces, as checked data: the file, the commit it
 * was read at, the function, and the fixture (packages/advantage/reference/<fixture>.json) whose
 * numbers come from that function's formula. A test replays every fixture against the estimator
 * and fails when an estimator claims verl or TRL behaviour without one.
 */
import type { PluginMeta } from '@policy-lab/core';

export interface ReferenceImplementation {
  framework: 'verl' | 'TRL';
  /** owner/name on GitHub. */
  repo: string;
  /** Path inside the repository. */
  file: string;
  /** The 40-hex commit the code was read at; null when the copy read carried none (the fixture says why). */
  commit: string | null;
  /** The function (or method) whose formula the fixture reproduces. */
  function: string;
  /** The reference's settings this estimator configuration corresponds to, e.g. "norm_adv_by_std_in_grpo=False". */
  settings?: string;
  /** Fixture file name without `.json`, under packages/advantage/reference/. */
  fixture: string;
}

/** Plugin meta with the checked references (core's `matches` stays the one-line prose). */
export interface WithReferences {
  references?: readonly ReferenceImplementation[];
}

/** The references a plugin declares (none when it declares none). */
export function referencesOf(plugin: PluginMeta): readonly ReferenceImplementation[] {
  return (plugin as PluginMeta & WithReferences).references ?? [];
}

const VERL_CORE = {
  framework: 'verl',
  repo: 'verl-project/verl',
  file: 'verl/trainer/ppo/core_algos.py',
  commit: '018f23b5f83a13340421349e40ec42530739b23a',
} as const;

/** A verl `core_algos.py` function at the commit the fixtures were generated from. */
export function verlReference(fn: string, fixture: string, settings?: string): ReferenceImplementation {
  return { ...VERL_CORE, function: fn, fixture, ...(settings ? { settings } : {}) };
}

const TRL_GRPO = 'GRPOTrainer._generate_and_score_completions';

/** TRL's GRPOTrainer advantage code: `commit` null when the copy read had none (see the fixture's note). */
export function trlReference(fixture: string, commit: string | null, settings?: string): ReferenceImplementation {
  return {
    framework: 'TRL',
    repo: 'huggingface/trl',
    file: 'trl/trainer/grpo_trainer.py',
    commit,
    function: TRL_GRPO,
    fixture,
    ...(settings ? { settings } : {}),
  };
}

/** The TRL commit whose GRPOTrainer the GRPO fixtures follow. */
export const TRL_GRPO_COMMIT = 'd2b69d769dab6f77acbfd33252bcd7d22765571b';
