/**
 * Which TRL code a preference objective reproduces, as checked data: the file, the commit it was
 * read at, the function, and the fixture (packages/divergences/reference/<fixture>.json) whose
 * numbers come from that function's formula (packages/divergences/reference/generate.py).
 * losses-reference.test.ts replays every fixture against the registered loss and fails when a loss
 * claims TRL or verl behaviour without one.
 */

export interface PreferenceReference {
  framework: 'TRL';
  /** owner/name on GitHub. */
  repo: string;
  /** Path inside the repository. */
  file: string;
  /** The 40-hex commit the code was read at. */
  commit: string;
  /** The function whose formula the fixture reproduces. */
  function: string;
  /** The reference's settings this objective corresponds to. */
  settings?: string;
  /** Fixture file name without `.json`. */
  fixture: string;
  /** The folder of the fixture, from the repository root (the docs page links it). */
  folder: 'packages/divergences/reference';
}

const FOLDER = 'packages/divergences/reference' as const;

interface Source {
  repo: string;
  file: string;
  commit: string;
  function: string;
  fixture: string;
}

/** DPOTrainer after its refactor (loss types as a list, f-divergence scores, ld_alpha, use_weighting). */
const DPO: Source = {
  repo: 'huggingface/trl',
  file: 'trl/trainer/dpo_trainer.py',
  commit: '535544b8a54ce3bd2eb9704665b96dc7f2e986dd',
  function: 'DPOTrainer._compute_loss',
  fixture: 'trl-dpo',
};
/** loss_type sigmoid_norm: a fork's copy of the trainer (no stored huggingface/trl commit has it). */
const DPO_SIGMOID_NORM: Source = {
  repo: 'carbonteq-ai/trl',
  file: 'trl/trainer/dpo_trainer.py',
  commit: '096145f37e64d92f36e664643a1d0e9917fe3cf3',
  function: 'DPOTrainer._compute_loss',
  fixture: 'trl-dpo-sigmoid-norm',
};
/** DPOTrainer before the refactor: cDPO label smoothing and reference_free on the sigmoid loss. */
const DPO_LEGACY: Source = {
  repo: 'huggingface/trl',
  file: 'trl/trainer/dpo_trainer.py',
  commit: 'bc13ae6d91667d42f5ad74e211b5db703dc4377e',
  function: 'DPOTrainer.dpo_loss',
  fixture: 'trl-dpo-legacy',
};
const KTO: Source = {
  repo: 'huggingface/trl',
  file: 'trl/experimental/kto/kto_trainer.py',
  commit: 'b8a6c0b5d237ed33907bf308cdd973cbfcd0c8ea',
  function: 'KTOTrainer.kto_loss',
  fixture: 'trl-kto',
};
const CPO: Source = {
  repo: 'huggingface/trl',
  file: 'trl/experimental/cpo/cpo_trainer.py',
  commit: '3a748cd1688c2d2a70a4dda495e04a9d9fb6417b',
  function: 'CPOTrainer.cpo_loss',
  fixture: 'trl-cpo',
};
const ORPO: Source = {
  repo: 'huggingface/trl',
  file: 'trl/experimental/orpo/orpo_trainer.py',
  commit: '85909e6b4ef02dd4be59a4ea70745db9437856d6',
  function: 'ORPOTrainer.odds_ratio_loss',
  fixture: 'trl-orpo',
};

export const TRL_SOURCES = { DPO, DPO_SIGMOID_NORM, DPO_LEGACY, KTO, CPO, ORPO } as const;

/** A reference to one of the TRL sources above, with the settings this objective stands for. */
export function trlReference(source: Source, settings?: string): PreferenceReference {
  return { framework: 'TRL', ...source, folder: FOLDER, ...(settings ? { settings } : {}) };
}
