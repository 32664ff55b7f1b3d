/**
 * Reward-only estimators of the catalog that were not yet in the package (issues 7 and 13):
 * verl's optimal token baseline and its TIR variant, VSPO
 * and PIPO.
 */
import type { AdvantageEstimator } from '@policy-lab/core';
import { optimalTokenBaseline, tirOptimalTokenBaseline } from './optimal-token-baseline.js';
import { pipo } from './pipo.js';
import { vspo } from './vspo.js';

export type {
  OptimalTokenBaselineOptions,
  Positions,
  TokenBaselineSettings,
  TokenTrajectory,
} from './optimal-token-baseline.js';
export {
  optimalTokenBaseline,
  optimalTokenBaselineTokens,
  tirOptimalTokenBaseline,
  tokenBaselineAdvantages,
} from './optimal-token-baseline.js';
export type { PipoEstimator, PipoOptions, PipoVerification } from './pipo.js';
export { improvementSignal, pipo } from './pipo.js';
export type { VspoOptions } from './vspo.js';
export { taskValue, vspo } from './vspo.js';

/** One default instance of each estimator above, for the package's plugin. */
export function catalogEstimators(): AdvantageEstimator[] {
  return [optimalTokenBaseline(), tirOptimalTokenBaseline(), vspo(), pipo()];
}
