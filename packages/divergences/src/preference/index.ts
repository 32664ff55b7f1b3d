/**
 * Preference objectives: every DPO loss type TRL ships, the f-divergence DPO variants, KTO
 * (paired and unpaired), ORPO, CPO / SimPO / AlphaPO, and the preference JSONL reader.
 */
import { RunError } from '@policy-lab/core';
import type { TensorLoss } from '../losses.js';
import type { PairedPreferenceObjective, PreferenceObjective, UnpairedPreferenceObjective } from './batch.js';
import { dpoObjectives } from './dpo.js';
import { ktoApoZeroUnpaired, kto as ktoObjective, ktoPair } from './kto.js';
import { dpoMix } from './mix.js';
import { referenceFreeObjectives } from './reference-free.js';

export type {
  KtoBatch,
  PairedPreferenceObjective,
  PreferenceBatch,
  PreferenceMetrics,
  PreferenceNeeds,
  PreferenceObjective,
  PreferenceResult,
  UnpairedPreferenceObjective,
} from './batch.js';
export { EXPONENT_CAP } from './common.js';
export type { DpoDivergence, DpoObjectiveOptions } from './dpo.js';
export {
  DPO_DIVERGENCES,
  dpoAlpha,
  dpoAot,
  dpoAotUnpaired,
  dpoApoDown,
  dpoApoZero,
  dpoBcoPair,
  dpoDiscopop,
  dpoExoPair,
  dpoForwardKl,
  dpoHinge,
  dpoIpo,
  dpoJs,
  dpoNcaPair,
  dpoObjectives,
  dpoRobust,
  dpoSft,
  dpoSigmoid,
  dpoSigmoidNorm,
  dpoSppoHard,
} from './dpo.js';
export type { KtoOptions } from './kto.js';
export { kto, ktoApoZeroUnpaired, ktoMismatchedCompletions, ktoPair } from './kto.js';
export type { DpoMixOptions } from './mix.js';
export { dpoMix, TRL_DPO_LOSS_TYPES } from './mix.js';
export type { CpoFamilyOptions, CpoLossType, OrpoOptions } from './reference-free.js';
export { alphapo, cpo, log1mExp, orpo, simpo } from './reference-free.js';

/** Every preference objective with its default options (names are unique). */
export function preferenceObjectives(): PreferenceObjective[] {
  return [...dpoObjectives(), dpoMix(), ktoObjective(), ktoApoZeroUnpaired(), ktoPair(), ...referenceFreeObjectives()];
}

/**
 * A paired objective as a registry `PolicyLoss`: the trainer calls `pairwise` on the
 * PreferenceBatch it already builds (offline from JSONL, online from each group's best and
 * worst rollout) and never `loss`. Unpaired KTO needs labelled single completions instead.
 */
export function asPairwiseLoss(objective: PairedPreferenceObjective): TensorLoss {
  return {
    name: objective.name,
    summary: objective.summary,
    paper: objective.paper,
    ...(objective.matches ? { matches: objective.matches } : {}),
    options: objective.options,
    resolved: objective.resolved,
    math: objective.math,
    unverified: objective.unverified,
    needsReference: objective.needsReference,
    pairNeeds: {
      tails: objective.needs.tails ?? false,
      aligned: objective.needs.aligned ?? false,
      tokens: objective.needs.tokens ?? false,
      batchCoupled: objective.needs.batchCoupled ?? false,
    },
    loss: () => {
      throw new RunError(
        `loss '${objective.name}' is a preference objective: it trains on chosen/rejected pairs, not on rollout rows`,
      );
    },
    pairwise: (batch, tf) => objective.loss(batch, tf),
    configure(next) {
      return asPairwiseLoss(objective.configure(next)) as never;
    },
  };
}

/**
 * An unpaired objective (KTO) as a registry `PolicyLoss`: the trainer calls `unpaired` on
 * labelled completions (offline from a `{prompt, completion, label}` JSONL, online from
 * rollouts above and below their group's mean reward) with the KL anchor's mismatched
 * completions, and never `loss`.
 */
export function asUnpairedLoss(objective: UnpairedPreferenceObjective): TensorLoss {
  return {
    name: objective.name,
    summary: objective.summary,
    paper: objective.paper,
    ...(objective.matches ? { matches: objective.matches } : {}),
    options: objective.options,
    resolved: objective.resolved,
    math: objective.math,
    unverified: [
      ...objective.unverified,
      "Online labels: a rollout above its group's mean reward is desirable, below it undesirable (at the mean: no example).",
      "The KL anchor mismatches only the first turn of multi-turn rollouts (example i's first prompt with example i-1's first action).",
    ],
    needsReference: objective.needsReference,
    loss: () => {
      throw new RunError(
        `loss '${objective.name}' is an unpaired preference objective: it trains on labelled completions, not on rollout rows`,
      );
    },
    unpaired: (batch, tf) => {
      if (!batch.refLogps) throw new RunError(`${objective.name} needs the reference log-probabilities (needsReference)`);
      return objective.loss(
        {
          logps: batch.logps,
          refLogps: batch.refLogps,
          desirable: batch.desirable,
          ...(batch.klLogps && batch.klRefLogps ? { klLogps: batch.klLogps, klRefLogps: batch.klRefLogps } : {}),
          // A batch of one has no mismatched partner: its anchor is 0.
          ...(batch.klLogps ? {} : { kl: 0 }),
        },
        tf,
      );
    },
    configure(next) {
      return asUnpairedLoss(objective.configure(next)) as never;
    },
  };
}

/** Every preference objective as a registry loss (what `plugin.losses` lists). */
export function preferenceLosses(): TensorLoss[] {
  return preferenceObjectives().map((objective) =>
    objective.data === 'paired' ? asPairwiseLoss(objective) : asUnpairedLoss(objective),
  );
}
