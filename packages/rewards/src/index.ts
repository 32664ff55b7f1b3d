import type { Plugin } from '@policy-lab/core';
import { cooperCoevolvingRm, cooperEstimator } from './models/cooper.js';
import { implicitPrm } from './models/implicit-prm.js';
import { outcomeRewardModel } from './models/outcome-reward-model.js';
import { pairwiseGenRm } from './models/pairwise-gen-rm.js';
import { pavVerifier } from './models/pav-verifier.js';
import { polar, polarEstimator } from './models/polar.js';
import { prefixValue } from './models/prefix-value.js';
import { reasonfluxBlend } from './models/reasonflux-blend.js';
import { reasonfluxJudge } from './models/reasonflux-prm.js';
import { restMctsValue } from './models/restmcts-value.js';
import { builtInShapers } from './shapers/index.js';

export type { ComposeOptions, MissingRule } from './compose.js';
export { compose } from './compose.js';
export type { BleuOptions, BleuResult, ChrfOptions, ChrfResult, Smoothing, Tokenizer } from './metrics/index.js';
export { corpusBleu, corpusChrf, pySplit, sentenceBleu, sentenceChrf, tokenize13a, tokenSetRatio } from './metrics/index.js';
export type { CooperEstimatorOptions, CooperRewardModelOptions, CooperRules } from './models/cooper.js';
export {
  COOPER_COMPONENT,
  cooperCoevolvingRm,
  cooperEstimator,
  cooperPairLoss,
  cooperPairs,
  cooperRulesOf,
  cooperText,
} from './models/cooper.js';
export type { Corruption } from './models/cooper-negatives.js';
export { CORRUPTIONS, corruptEquation, corruptFinalNumber, negativeOf } from './models/cooper-negatives.js';
export type { CorrectionEnsembleOptions, LabelledItem } from './models/correction-ensemble.js';
export { CorrectionEnsemble, mostUncertain } from './models/correction-ensemble.js';
export type { ImplicitPrmOptions } from './models/implicit-prm.js';
export { implicitPrm, trajectoryPairs } from './models/implicit-prm.js';
export type { LrmJudgeOptions, StateTrace } from './models/lrm-judge.js';
export { LrmJudge, stateTrace, turnState } from './models/lrm-judge.js';
export type { OutcomeRewardModelOptions } from './models/outcome-reward-model.js';
export { outcomePairs, outcomeRewardModel } from './models/outcome-reward-model.js';
export type { PairwiseGenRmOptions } from './models/pairwise-gen-rm.js';
export { pairwiseGenRm, swappedPairPoints } from './models/pairwise-gen-rm.js';
export { pavVerifier } from './models/pav-verifier.js';
export type { PolarEstimatorOptions, PolarOptions } from './models/polar.js';
export {
  expertAnswers,
  POLAR_COMPONENT,
  POLAR_PAPER,
  polar,
  polarEstimator,
  polarPairs,
  polarPreferencePairs,
  polarText,
} from './models/polar.js';
export { prefixPoints, prefixValue, turnContext } from './models/prefix-value.js';
export type { ProgressExample } from './models/progress-model.js';
export { ProgressModel, progressExamples, spearman } from './models/progress-model.js';
export type { PrmBreakdown, ReasonfluxBlendOptions } from './models/reasonflux-blend.js';
export { reasonfluxBlend } from './models/reasonflux-blend.js';
export type { ThinkingTrace } from './models/reasonflux-prm.js';
export {
  alignmentScores,
  blendReward,
  coherenceScores,
  fuseStep,
  reasonfluxJudge,
  thinkingTrace,
  trajectoryScore,
} from './models/reasonflux-prm.js';
export { restMctsValue, searchTargets } from './models/restmcts-value.js';
export type { SinkhornOptions, SinkhornResult } from './models/sinkhorn.js';
export { sinkhorn, squaredDistances } from './models/sinkhorn.js';
export { TrajectoryDiscriminator, trajectoryText } from './models/trajectory-discriminator.js';
export type { PreferenceTriplet, TurnEncoderOptions } from './models/turn-encoder.js';
export { TurnEncoder } from './models/turn-encoder.js';
export type {
  ConditionalOptions,
  CurriculumOptions,
  DopaminePbrsOptions,
  FormatOptions,
  IrlRewardOptions,
  LrmTripleOptions,
  MetaStepOptions,
  MpoRubricOptions,
  MultiFidelityOptions,
  MultifidelityRewardOptions,
  OverlongOptions,
  PotentialOptions,
  ProgressPotentialOptions,
  PrsOptions,
  RaplOtOptions,
  Rubric,
  RubricSample,
  SpuriousOptions,
  TbrOptions,
  VerpoOptions,
} from './shapers/index.js';
export {
  applyHop,
  builtInShapers,
  conditional,
  curriculum,
  curriculumWeight,
  difficultyWeights,
  dopaminePbrs,
  format,
  gamedCriteria,
  hop,
  irlRewardWorldModel,
  judgeScore,
  judgeTurns,
  LRM_COMPONENTS,
  lrmTriple,
  lrmTurnReward,
  metaStep,
  mpoEvolvingRubric,
  multiFidelity,
  multifidelityReward,
  objectsNearby,
  overlong,
  overlongPenalty,
  potential,
  progressPotential,
  prs,
  raplOt,
  rubricCriteria,
  shapingTerm,
  spurious,
  stageWeights,
  tbrPartialCredit,
  traceBackCredit,
  tripletOf,
  userScore,
  verpo,
} from './shapers/index.js';

/** Registered by discovery like any third-party plugin package. */
export const plugin: Plugin = {
  name: '@policy-lab/rewards',
  shapers: builtInShapers(),
  rewardModels: [
    outcomeRewardModel(),
    prefixValue(),
    implicitPrm(),
    pavVerifier(),
    reasonfluxJudge(),
    pairwiseGenRm(),
    cooperCoevolvingRm(),
    polar(),
    restMctsValue(),
  ],
  estimators: [reasonfluxBlend(), cooperEstimator(), polarEstimator()],
};
