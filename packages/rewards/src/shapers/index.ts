import type { RewardShaper } from '@policy-lab/core';
import { curriculum } from './curriculum.js';
import { dopaminePbrs } from './dopamine.js';
import { format } from './format.js';
import { conditional, prs } from './gates.js';
import { irlRewardWorldModel } from './irl-reward.js';
import { lrmTriple } from './lrm-triple.js';
import { mpoEvolvingRubric } from './mpo-rubric.js';
import { multiFidelity } from './multi-fidelity.js';
import { multifidelityReward } from './multifidelity-reward.js';
import { overlong } from './overlong.js';
import { potential, progressPotential } from './potential.js';
import { raplOt } from './rapl-ot.js';
import { spurious } from './spurious.js';
import { tbrPartialCredit } from './tbr.js';
import { verpo } from './verpo.js';

export type { CurriculumOptions } from './curriculum.js';
export { curriculum, curriculumWeight } from './curriculum.js';
export type { DopaminePbrsOptions } from './dopamine.js';
export { dopaminePbrs } from './dopamine.js';
export type { FormatOptions } from './format.js';
export { format } from './format.js';
export type { ConditionalOptions, PrsOptions } from './gates.js';
export { conditional, prs, stageWeights } from './gates.js';
export type { IrlRewardOptions } from './irl-reward.js';
export { irlRewardWorldModel } from './irl-reward.js';
export type { LrmTripleOptions } from './lrm-triple.js';
export { judgeTurns, LRM_COMPONENTS, lrmTriple, lrmTurnReward } from './lrm-triple.js';
export type { MetaStepOptions, MpoRubricOptions, Rubric, RubricSample } from './mpo-rubric.js';
export { gamedCriteria, judgeScore, metaStep, mpoEvolvingRubric, rubricCriteria } from './mpo-rubric.js';
export type { MultiFidelityOptions } from './multi-fidelity.js';
export { multiFidelity } from './multi-fidelity.js';
export type { MultifidelityRewardOptions } from './multifidelity-reward.js';
export { multifidelityReward } from './multifidelity-reward.js';
export type { OverlongOptions } from './overlong.js';
export { overlong, overlongPenalty } from './overlong.js';
export type { PotentialOptions, ProgressPotentialOptions } from './potential.js';
export { applyHop, hop, potential, progressPotential, shapingTerm } from './potential.js';
export type { RaplOtOptions } from './rapl-ot.js';
export { objectsNearby, raplOt, tripletOf, userScore } from './rapl-ot.js';
export type { SpuriousOptions } from './spurious.js';
export { spurious } from './spurious.js';
export type { TbrOptions } from './tbr.js';
export { tbrPartialCredit, traceBackCredit } from './tbr.js';
export type { VerpoOptions } from './verpo.js';
export { difficultyWeights, verpo } from './verpo.js';

/** One default instance of every shaper (what the package registers). */
export function builtInShapers(): RewardShaper[] {
  return [
    overlong(),
    format(),
    potential(),
    progressPotential(),
    conditional(),
    prs(),
    verpo(),
    spurious(),
    curriculum(),
    multiFidelity(),
    tbrPartialCredit(),
    dopaminePbrs(),
    multifidelityReward(),
    irlRewardWorldModel(),
    raplOt(),
    mpoEvolvingRubric(),
    lrmTriple(),
  ];
}
