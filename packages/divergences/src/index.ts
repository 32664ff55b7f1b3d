import type { Plugin } from '@policy-lab/core';
import { builtInDivergences } from './divergences.js';
import { referenceReset } from './hooks/reference-reset.js';
import { builtInLosses } from './losses.js';
import { builtInMethods } from './methods.js';
import { objectiveLosses } from './objectives.js';
import { oppoContext } from './oppo.js';
import { preferenceLosses } from './preference/index.js';
import { vaPiTfGrpo } from './va-pi.js';

export type { AlphaOptions, FDivergence, KlOptions } from './divergences.js';
export {
  alpha,
  builtInDivergences,
  forwardKl,
  fromGenerator,
  hellinger,
  jeffreys,
  jensenShannon,
  kl,
  klK1,
  klK2,
  neyman,
  pearson,
  totalVariation,
} from './divergences.js';
export type { DrpoInputs } from './drpo.js';
export { DRPO_DEFAULTS, drpoLoss, drpoPositiveWeights } from './drpo.js';
export type { FDivergenceSftInputs } from './f-sft.js';
export { CONJUGATES, fDivergenceSftLoss } from './f-sft.js';
export type { Generator } from './generators.js';
export {
  alphaGenerator,
  fDivergenceValue,
  forwardKlGenerator,
  hellingerGenerator,
  jeffreysGenerator,
  jensenShannonGenerator,
  k2Generator,
  neymanGenerator,
  pearsonGenerator,
  reverseKlGenerator,
  totalVariationGenerator,
} from './generators.js';
/** Registered by discovery like any third-party plugin package. */
export { referenceReset } from './hooks/reference-reset.js';
export type { KlEstimatorName } from './kl-estimators.js';
export { K3_CLAMP, KL_ESTIMATOR_NAMES, klEstimators, klEstimatorTensor, LOG_RATIO_CLAMP } from './kl-estimators.js';
export type { GopdLossInputs, RapoOptions, SftOptions, TensorLoss } from './losses.js';
export { builtInLosses, gopdLoss, gopdReward, opd, rapo, sft } from './losses.js';
export { builtInMethods } from './methods.js';
export type { DrpoOptions, FSftOptions, GopdOptions, TokenDpoOptions, UpoOptions, VpoOptions } from './objectives.js';
export { drpo, fSft, gopd, objectiveLosses, tokenDpo, upo, vpo } from './objectives.js';
export type { OppoInputs, OppoOptions } from './oppo.js';
export { OPPO_PAPER, oppoContext, oppoLoss, tripletLoss } from './oppo.js';
export type { DpoOptions } from './pairwise.js';
export { dpo } from './pairwise.js';
export type {
  CpoFamilyOptions,
  CpoLossType,
  DpoDivergence,
  DpoMixOptions,
  DpoObjectiveOptions,
  KtoBatch,
  KtoOptions,
  OrpoOptions,
  PairedPreferenceObjective,
  PreferenceBatch,
  PreferenceMetrics,
  PreferenceNeeds,
  PreferenceObjective,
  PreferenceResult,
  UnpairedPreferenceObjective,
} from './preference/index.js';
export {
  alphapo,
  asPairwiseLoss,
  asUnpairedLoss,
  cpo,
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
  dpoMix,
  dpoNcaPair,
  dpoObjectives,
  dpoRobust,
  dpoSft,
  dpoSigmoid,
  dpoSigmoidNorm,
  dpoSppoHard,
  EXPONENT_CAP,
  kto,
  ktoApoZeroUnpaired,
  ktoMismatchedCompletions,
  ktoPair,
  log1mExp,
  orpo,
  preferenceLosses,
  preferenceObjectives,
  simpo,
  TRL_DPO_LOSS_TYPES,
} from './preference/index.js';
export type { DpoInputs, PairLogprobs, TokenDpoInputs, VpoInputs } from './preference.js';
export { bald, dpoLoss, dpoMargin, tokenDpoLoss, tokenImplicitRewards, upoLoss, upoWeight, vpoLoss } from './preference.js';
export type { Tensor, Tf } from './tensor-types.js';
export { stopGradient } from './tensor-types.js';
export type { VaPiInputs, VaPiOptions } from './va-pi.js';
export { VA_PI_PAPER, vaPiLoss, vaPiTfGrpo } from './va-pi.js';

export const plugin: Plugin = {
  name: '@policy-lab/divergences',
  divergences: builtInDivergences(),
  losses: [...builtInLosses(), ...preferenceLosses(), ...objectiveLosses(), vaPiTfGrpo(), oppoContext()],
  methods: builtInMethods(),
  hooks: [referenceReset()],
};
