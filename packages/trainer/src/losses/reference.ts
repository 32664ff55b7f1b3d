/**
 * Which public implementation a loss reproduces, as checked data: the file, the commit it was read
 * at, the function, and the fixture (packages/trainer/reference/<fixture>.json) whose numbers come
 * from that function's formula (packages/trainer/reference/generate.py). reference.test.ts replays
 * every fixture against the loss and fails when a loss claims verl or TRL behaviour without one.
 */
import type { PluginMeta } from '@policy-lab/core';

export interface LossReference {
  framework: 'verl' | 'TRL';
  /** owner/name on GitHub. */
  repo: string;
  /** Path inside the repository. */
  file: string;
  /** The 40-hex commit the code was read at; null when the copy read carried none (the fixture says why). */
  commit: string | null;
  /** The function whose formula the fixture reproduces. */
  function: string;
  /** The reference's settings this loss configuration corresponds to. */
  settings?: string;
  /** Fixture file name without `.json`. */
  fixture: string;
  /** The folder of the fixture, from the repository root (the docs page links it). */
  folder: 'packages/trainer/reference';
}

/** The references a loss declares (none when it declares none). */
export function lossReferencesOf(plugin: PluginMeta): readonly LossReference[] {
  return (plugin as PluginMeta & { references?: readonly LossReference[] }).references ?? [];
}

const FOLDER = 'packages/trainer/reference' as const;

/** verl's core_algos.py at the commit the advantage fixtures also follow. */
export const VERL_CORE_COMMIT = '018f23b5f83a13340421349e40ec42530739b23a';

export function verlLoss(fn: string, fixture: string, settings?: string): LossReference {
  return {
    framework: 'verl',
    repo: 'verl-project/verl',
    file: 'verl/trainer/ppo/core_algos.py',
    commit: VERL_CORE_COMMIT,
    function: fn,
    fixture,
    folder: FOLDER,
    ...(settings ? { settings } : {}),
  };
}

/** TRL's GRPOTrainer at d2b69d7 (grpo, bnpo, dr_grpo, delta, importance_sampling_level). */
export const TRL_GRPO_COMMIT = 'd2b69d769dab6f77acbfd33252bcd7d22765571b';

/** TRL's GRPOTrainer at 2046398 (dapo, cispo, luspo, vespo, sapo: the loss types added after d2b69d7). */
export const TRL_GRPO_LATEST_COMMIT = '20463989e8d9fef8dbba7230c7fb11bdd7f6387f';

/**
 * TRL's GRPOTrainer._compute_loss at a pinned commit; `commit` null only for a copy read without one
 * (the fixture then says why).
 */
export function trlLoss(fixture: string, commit: string | null, settings?: string): LossReference {
  return {
    framework: 'TRL',
    repo: 'huggingface/trl',
    file: 'trl/trainer/grpo_trainer.py',
    commit,
    function: 'GRPOTrainer._compute_loss',
    fixture,
    folder: FOLDER,
    ...(settings ? { settings } : {}),
  };
}
