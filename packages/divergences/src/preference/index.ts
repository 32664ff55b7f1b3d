/**
 * Preference objectives: every DPO loss type TRL ships, the f-divergence DPO variants, KTO
 * (paired and unpaired), ORPO, CPO / SimPO / AlphaPO, and the preference JSONL reader.
 */
import { type LabelledLoss, type PairLoss, RunError } from '@policy-lab/core';
import type { Tensor, Tf } from '../tensor-types.js';
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
export type { PreferenceReference } from './reference.js';
export type { CpoFamilyOptions, CpoLossType, OrpoOptions } from './reference-free.js';
export { alphapo, cpo, log1mExp, orpo, simpo } from './reference-free.js';

/** Every preference objective with its default options (names are unique). */
export function preferenceObjectives(): PreferenceObjective[] {
  return [...dpoObjectives(), dpoMix(), ktoObjective(), ktoApoZeroUnpaired(), ktoPair(), ...referenceFreeObjectives()];
}

/**
 * A paired objective as a registry `PairLoss`: the trainer calls its `loss` on the
 * PreferenceBatch it already builds (offline from JSONL, online from each group's best and
 * worst rollout). Unpaired KTO needs labelled single completions instead (a `LabelledLoss`).
 */
export function asPairwiseLoss(objective: PairedPreferenceObjective): PairLoss<Tf, Tensor> {
  return {
    name: objective.name,
    ...(objective.aliases ? { aliases: objective.aliases } : {}),
    summary: objective.summary,
    paper: objective.paper,
    ...(objective.matches ? { matches: objective.matches } : {}),
    ...(objective.references ? { references: objective.references } : {}),
    options: objective.options,
    resolved: objective.resolved,
    math: objective.math,
    unverified: objective.unverified,
    kind: 'pairs',
    needs: {
      reference: objective.needsReference,
      tails: objective.needs.tails ?? false,
      aligned: objective.needs.aligned ?? false,
      tokens: objective.needs.tokens ?? false,
      batchCoupled: objective.needs.batchCoupled ?? false,
    },
    loss: (batch, tf) => objective.loss(batch, tf),
    configure: (next) => asPairwiseLoss(objective.configure(next)),
  };
}

/**
 * An unpaired objective (KTO) as a registry `LabelledLoss`: the trainer calls its `loss` on
 * labelled completions (offline from a `{prompt, completion, label}` JSONL, online from
 * rollouts above and below their group's mean reward) with the KL anchor's mismatched
 * completions.
 */
export function asUnpairedLoss(objective: UnpairedPreferenceObjective): LabelledLoss<Tf, Tensor> {
  return {
    name: objective.name,
    ...(objective.aliases ? { aliases: objective.aliases } : {}),
    summary: objective.summary,
    paper: objective.paper,
    ...(objective.matches ? { matches: objective.matches } : {}),
    ...(objective.references ? { references: objective.references } : {}),
    options: objective.options,
    resolved: objective.resolved,
    math: objective.math,
    unverified: [
      ...objective.unverified,
      "Online labels: a rollout above its group's mean reward is desirable, below it undesirable (at the mean: no example).",
      "The KL anchor mismatches only the first turn of multi-turn rollouts (example i's first prompt with example i-1's first action).",
    ],
    kind: 'labelled',
    needs: { reference: objective.needsReference },
    loss: (batch, tf) => {
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
    configure: (next) => asUnpairedLoss(objective.configure(next)),
  };
}

/** Every preference objective as a registry loss (what `plugin.losses` lists). */
export function preferenceLosses(): (PairLoss<Tf, Tensor> | LabelledLoss<Tf, Tensor>)[] {
  return preferenceObjectives().map((objective) =>
    objective.data === 'paired' ? asPairwiseLoss(objective) : asUnpairedLoss(objective),
  );
}
