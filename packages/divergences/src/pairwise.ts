/**
 * DPO by its paper's name: the registered `dpo` loss is TRL's `loss_type='sigmoid'` objective
 * (its alias `dpo-sigmoid`), so there is one DPO loss, not two that could drift apart.
 */
import type { PairLoss } from '@policy-lab/core';
import { type DpoObjectiveOptions, dpoSigmoid } from './preference/dpo.js';
import { asPairwiseLoss } from './preference/index.js';
import type { Tensor, Tf } from './tensor-types.js';

export type DpoOptions = DpoObjectiveOptions;

/** DPO's sigmoid loss on pairs (Rafailov et al. 2023), TRL `loss_type="sigmoid"`. */
export function dpo(options: DpoOptions = {}): PairLoss<Tf, Tensor> {
  return asPairwiseLoss(dpoSigmoid(options));
}
