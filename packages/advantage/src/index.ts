import type { Plugin } from '@policy-lab/core';
import { catalogEstimators } from './catalog/index.js';
import { gigpo, srgpo } from './estimators/agent.js';
import { dapo } from './estimators/dapo.js';
import { dpoImplicitDense } from './estimators/dpo-implicit-dense.js';
import { gardo } from './estimators/gardo.js';
import { gdpo } from './estimators/gdpo.js';
import { drGrpo, grpo, rloo } from './estimators/grpo.js';
import { grpoPlusOne, mcGrpo } from './estimators/mc-grpo.js';
import { o1Recipe } from './estimators/o1-recipe.js';
import { pfPpo } from './estimators/pf-ppo.js';
import { ppoGae } from './estimators/ppo-gae.js';
import { reinforcePp, reinforcePpBaseline } from './estimators/reinforce-pp.js';
import { riskpo } from './estimators/riskpo.js';
import { sGrpo } from './estimators/s-grpo.js';
import { sbwWeighting } from './estimators/sbw.js';
import { gpg, grpoPassk, opo, rlooVectorized } from './estimators/verl-catalog.js';
import { builtinMethods } from './methods.js';
import { modelEstimators } from './model/index.js';

// The diagnostics live in core (the trainer and the harness use them too); re-exported here for estimator authors.
export { collapsedRewardVectors, phantomAdvantages, signFlips, zeroAdvantageFraction } from '@policy-lab/core';
export type {
  OptimalTokenBaselineOptions,
  PipoEstimator,
  PipoOptions,
  PipoVerification,
  Positions,
  TokenBaselineSettings,
  TokenTrajectory,
  VspoOptions,
} from './catalog/index.js';
export {
  catalogEstimators,
  improvementSignal,
  optimalTokenBaseline,
  optimalTokenBaselineTokens,
  pipo,
  taskValue,
  tirOptimalTokenBaseline,
  tokenBaselineAdvantages,
  vspo,
} from './catalog/index.js';
export type { GigpoOptions, NormMode, SrgpoOptions } from './estimators/agent.js';
export { episodeAdvantages, gigpo, srgpo } from './estimators/agent.js';
export { dapo } from './estimators/dapo.js';
export type { DpoImplicitDenseOptions } from './estimators/dpo-implicit-dense.js';
export { denseAdvantages, dpoImplicitDense, turnImplicitRewards } from './estimators/dpo-implicit-dense.js';
export type { GardoOptions } from './estimators/gardo.js';
export { cosineDistance, diversityMultipliers, gardo } from './estimators/gardo.js';
export type { GdpoOptions } from './estimators/gdpo.js';
export { gdpo } from './estimators/gdpo.js';
export type { GrpoOptions } from './estimators/grpo.js';
export { drGrpo, grpo, rloo } from './estimators/grpo.js';
export type { McGrpoOptions } from './estimators/mc-grpo.js';
export {
  grpoPlusOne,
  MAD_ZERO_GROUP_FRACTION,
  MAD_ZERO_WARNING_FRACTION,
  madZeroWarning,
  mcGrpo,
} from './estimators/mc-grpo.js';
export type { O1RecipeOptions } from './estimators/o1-recipe.js';
export { o1Recipe, stepAdvantages } from './estimators/o1-recipe.js';
export type { PfPpoOptions, PfStrategy } from './estimators/pf-ppo.js';
export { pfPpo } from './estimators/pf-ppo.js';
export type { PpoGaeOptions } from './estimators/ppo-gae.js';
export { ppoGae } from './estimators/ppo-gae.js';
export { reinforcePp, reinforcePpBaseline, tokenWhiten } from './estimators/reinforce-pp.js';
export type { RiskpoOptions } from './estimators/riskpo.js';
export { mvarAdvantage, quantile, riskpo } from './estimators/riskpo.js';
export type { SGrpoOptions } from './estimators/s-grpo.js';
export { decayingRewards, sGrpo } from './estimators/s-grpo.js';
export type { SbwOptions } from './estimators/sbw.js';
export { sbwBuckets, sbwWeighting, sbwWeights } from './estimators/sbw.js';
export type { PasskOptions } from './estimators/verl-catalog.js';
export { gpg, grpoPassk, opo, rlooVectorized } from './estimators/verl-catalog.js';
export { lowerMedian, mean, medianPivot, std, zScores } from './group-math.js';
export { builtinMethods } from './methods.js';
export type { GrpoVpsOptions, IgpoOptions, OprlOptions, PairwiseAnchorOptions, PavOptions, RoverOptions } from './model/index.js';
export {
  bestOfKValue,
  grpoVps,
  igpo,
  modelEstimators,
  oprl,
  pairwiseAnchor,
  pairwiseReward,
  pav,
  proverAdvantage,
  remax,
  rover,
} from './model/index.js';
export type { ReferenceImplementation, WithReferences } from './reference.js';
export { referencesOf } from './reference.js';

/** Registered by discovery like any third-party plugin package. */
export const plugin: Plugin = {
  name: '@policy-lab/advantage',
  estimators: [
    grpo(),
    drGrpo(),
    rloo(),
    mcGrpo(),
    grpoPlusOne(),
    gdpo(),
    dapo(),
    reinforcePp(),
    reinforcePpBaseline(),
    ppoGae(),
    gigpo(),
    srgpo(),
    opo(),
    gpg(),
    grpoPassk(),
    rlooVectorized(),
    riskpo(),
    sGrpo(),
    gardo(),
    pfPpo(),
    o1Recipe(),
    ...catalogEstimators(),
    ...modelEstimators(),
    dpoImplicitDense(),
    sbwWeighting(),
  ],
  methods: builtinMethods(),
};
