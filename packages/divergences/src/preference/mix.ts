/**
 * TRL's multi-loss DPO: `loss_type` as a list with `loss_weights`, the total being
 * sum_k weight_k x mean_batch(loss_k) (MPO, for instance, mixes sigmoid, bco_pair and sft).
 */
import { type OptionSpec, resolveOptions, UsageError } from '@policy-lab/core';
import type { Tensor } from '../tensor-types.js';
import type { PairedPreferenceObjective } from './batch.js';
import {
  dpoAot,
  dpoAotUnpaired,
  dpoApoDown,
  dpoApoZero,
  dpoBcoPair,
  dpoDiscopop,
  dpoExoPair,
  dpoHinge,
  dpoIpo,
  dpoNcaPair,
  dpoRobust,
  dpoSft,
  dpoSigmoid,
  dpoSigmoidNorm,
  dpoSppoHard,
} from './dpo.js';
import { TRL_SOURCES, trlReference } from './reference.js';

/** TRL loss_type strings (aot_pair is TRL's deprecated alias of aot_unpaired). */
const BY_TRL_NAME: Record<string, (options: { beta: number }) => PairedPreferenceObjective> = {
  sigmoid: dpoSigmoid,
  hinge: dpoHinge,
  ipo: dpoIpo,
  exo_pair: dpoExoPair,
  nca_pair: dpoNcaPair,
  robust: dpoRobust,
  bco_pair: dpoBcoPair,
  sppo_hard: dpoSppoHard,
  aot: dpoAot,
  aot_unpaired: dpoAotUnpaired,
  aot_pair: dpoAotUnpaired,
  apo_zero: dpoApoZero,
  apo_down: dpoApoDown,
  discopop: dpoDiscopop,
  sft: dpoSft,
  sigmoid_norm: dpoSigmoidNorm,
};
export const TRL_DPO_LOSS_TYPES: readonly string[] = Object.keys(BY_TRL_NAME);

const MIX_OPTIONS: Record<string, OptionSpec> = {
  beta: { type: 'number', default: 0.1, doc: 'beta shared by every part (TRL default 0.1); must be > 0' },
  lossTypes: {
    type: 'array',
    default: ['sigmoid', 'bco_pair', 'sft'],
    doc: `TRL loss_type list, each one of ${TRL_DPO_LOSS_TYPES.join(', ')} (default: the MPO recipe)`,
  },
  lossWeights: {
    type: 'array',
    default: [0.8, 0.2, 1],
    doc: 'TRL loss_weights, one finite number per loss type (default: the MPO recipe 0.8, 0.2, 1.0)',
  },
};

export interface DpoMixOptions {
  beta?: number;
  lossTypes?: readonly string[];
  lossWeights?: readonly number[];
}

export function dpoMix(options: DpoMixOptions = {}): PairedPreferenceObjective {
  const resolved = resolveOptions<Required<DpoMixOptions>>('dpo-mix', MIX_OPTIONS, { ...options });
  const { lossTypes, lossWeights, beta } = resolved;
  if (lossTypes.length === 0) throw new UsageError('dpo-mix: option lossTypes must name at least one loss type');
  if (lossWeights.length !== lossTypes.length) {
    throw new UsageError(
      `dpo-mix: ${lossTypes.length} lossTypes but ${lossWeights.length} lossWeights; give one weight per type`,
    );
  }
  const parts = lossTypes.map((type, k) => {
    const factory = BY_TRL_NAME[type];
    if (!factory) throw new UsageError(`dpo-mix: unknown loss type '${type}'; accepted: ${TRL_DPO_LOSS_TYPES.join(', ')}`);
    const weight = lossWeights[k];
    if (typeof weight !== 'number' || !Number.isFinite(weight)) {
      throw new UsageError(`dpo-mix: lossWeights[${k}] must be a finite number, got ${JSON.stringify(weight)}`);
    }
    return { objective: factory({ beta }), weight };
  });
  const needsReference = parts.some(({ objective }) => objective.needsReference);
  return {
    data: 'paired',
    name: 'dpo-mix',
    summary: "A weighted sum of DPO loss types, TRL's list-valued loss_type (e.g. MPO: sigmoid + bco_pair + sft).",
    paper: {
      title: 'Enhancing the Reasoning Ability of Multimodal Large Language Models via Mixed Preference Optimization',
      arxiv: '2411.10442',
      year: 2024,
    },
    matches: 'TRL DPOTrainer with `loss_type=[...]` and `loss_weights=[...]`',
    references: [trlReference(TRL_SOURCES.DPO, 'loss_type and loss_weights as lists')],
    options: MIX_OPTIONS,
    resolved,
    math: `$\\mathcal L = \\sum_k w_k\\,\\mathrm{mean}(\\ell_k)$ over ${lossTypes.map((type, k) => `${lossWeights[k]} x ${type}`).join(' + ')}`,
    needsReference,
    needs: {
      reference: needsReference,
      lengths: parts.some(({ objective }) => objective.needs.lengths),
      batchCoupled: parts.some(({ objective }) => objective.needs.batchCoupled),
    },
    unverified: parts.flatMap(({ objective }) => objective.unverified),
    loss(batch, tf) {
      let total: Tensor = tf.scalar(0);
      const results = parts.map(({ objective, weight }) => {
        const result = objective.loss(batch, tf);
        total = tf.add(total, tf.mul(weight, result.loss));
        return { type: objective.name, loss: result.loss, metrics: result.metrics };
      });
      const first = results.find((result) => result.type !== 'dpo-sft') ?? results[0];
      const perPart = Object.fromEntries(results.map((result, k) => [`loss_${lossTypes[k]}`, result.loss]));
      return { loss: total, metrics: { ...(first as (typeof results)[number]).metrics, ...perPart } };
    },
    configure: (next) => dpoMix({ ...resolved, ...(next as DpoMixOptions) }),
  };
}
