import type { Plugin } from '@policy-lab/core';
import { builtInDivergences } from './divergences.js';

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
export type { KlEstimatorName } from './kl-estimators.js';
export { K3_CLAMP, KL_ESTIMATOR_NAMES, klEstimators, klEstimatorTensor, LOG_RATIO_CLAMP } from './kl-estimators.js';
export type { Tensor, Tf } from './tensor-types.js';
export { stopGradient } from './tensor-types.js';

/** Registered by discovery like any third-party plugin package. */
export const plugin: Plugin = {
  name: '@policy-lab/divergences',
  divergences: builtInDivergences(),
};
