import type { Plugin } from '@policy-lab/core';
import { outcomeRewardModel } from './models/outcome-reward-model.js';
import { pavVerifier } from './models/pav-verifier.js';
import { prefixValue } from './models/prefix-value.js';
import { builtInShapers } from './shapers/index.js';

export type { ComposeOptions, MissingRule } from './compose.js';
export { compose } from './compose.js';
export type { BleuOptions, BleuResult, ChrfOptions, ChrfResult, Smoothing, Tokenizer } from './metrics/index.js';
export { corpusBleu, corpusChrf, pySplit, sentenceBleu, sentenceChrf, tokenize13a, tokenSetRatio } from './metrics/index.js';
export type { OutcomeRewardModelOptions } from './models/outcome-reward-model.js';
export { outcomePairs, outcomeRewardModel } from './models/outcome-reward-model.js';
export { pavVerifier } from './models/pav-verifier.js';
export { prefixPoints, prefixValue, turnContext } from './models/prefix-value.js';
export type {
  ConditionalOptions,
  CurriculumOptions,
  FormatOptions,
  MultiFidelityOptions,
  OverlongOptions,
  PotentialOptions,
  ProgressPotentialOptions,
  PrsOptions,
  SpuriousOptions,
  VerpoOptions,
} from './shapers/index.js';
export {
  applyHop,
  builtInShapers,
  conditional,
  curriculum,
  curriculumWeight,
  difficultyWeights,
  format,
  hop,
  multiFidelity,
  overlong,
  overlongPenalty,
  potential,
  progressPotential,
  prs,
  shapingTerm,
  spurious,
  stageWeights,
  verpo,
} from './shapers/index.js';

/** Registered by discovery like any third-party plugin package. */
export const plugin: Plugin = {
  name: '@policy-lab/rewards',
  shapers: builtInShapers(),
  rewardModels: [outcomeRewardModel(), prefixValue(), pavVerifier()],
};
