/** Advantage estimators that need the model (ctx.services): ReMax, IGPO, OPRL, ROVER, GRPO-VPS, PAV, Pairwise-RL. */
import type { AdvantageEstimator } from '@policy-lab/core';
import { grpoVps } from './grpo-vps.js';
import { igpo } from './igpo.js';
import { oprl } from './oprl.js';
import { pairwiseAnchor } from './pairwise-anchor.js';
import { pav } from './pav.js';
import { remax } from './remax.js';
import { rover } from './rover.js';

export type { GrpoVpsOptions } from './grpo-vps.js';
export { grpoVps } from './grpo-vps.js';
export type { IgpoOptions } from './igpo.js';
export { igpo } from './igpo.js';
export type { OprlOptions } from './oprl.js';
export { oprl } from './oprl.js';
export type { PairwiseAnchorOptions } from './pairwise-anchor.js';
export { pairwiseAnchor, pairwiseReward } from './pairwise-anchor.js';
export type { PavOptions } from './pav.js';
export { bestOfKValue, pav, proverAdvantage } from './pav.js';
export { remax } from './remax.js';
export type { RoverOptions } from './rover.js';
export { rover } from './rover.js';

/** One instance of each, with default options, for `plugin.estimators`. */
export function modelEstimators(): AdvantageEstimator[] {
  return [remax(), igpo(), oprl(), rover(), grpoVps(), pav(), pairwiseAnchor()];
}
