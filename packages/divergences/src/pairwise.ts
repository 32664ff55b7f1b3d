/**
 * Preference objectives registered as losses: `pairwise` trains on chosen/rejected pairs
 * (the trainer builds them offline from a JSONL dataset or online from each group's best
 * and worst rollout); `loss` is never called for them.
 */
import { type OptionSpec, type PreferenceBatch, RunError, resolveOptions } from '@policy-lab/core';
import type { TensorLoss } from './losses.js';
import { dpoLoss, dpoMargin } from './preference.js';
import type { Tensor, Tf } from './tensor-types.js';

const DPO_OPTIONS: Record<string, OptionSpec> = {
  beta: { type: 'number', default: 0.1, doc: 'inverse temperature of the implicit reward (TRL default 0.1)' },
};

export interface DpoOptions {
  beta?: number;
}

/** Rows trained on pairs have no token loss; a clear error if something calls it. */
function notOnRows(name: string): never {
  throw new RunError(`loss '${name}' is a preference objective: it trains on chosen/rejected pairs, not on rollout rows`);
}

function references(batch: PreferenceBatch<Tensor>, name: string): { refChosen: Tensor; refRejected: Tensor } {
  if (!batch.refChosenLogps || !batch.refRejectedLogps) throw new RunError(`${name} needs the reference log-probabilities`);
  return { refChosen: batch.refChosenLogps, refRejected: batch.refRejectedLogps };
}

/** DPO's sigmoid loss on pairs (Rafailov et al. 2023), TRL `loss_type="sigmoid"`. */
export function dpo(options: DpoOptions = {}): TensorLoss {
  const resolved = resolveOptions<Required<DpoOptions>>('dpo', DPO_OPTIONS, { ...options });
  if (!(resolved.beta > 0)) throw new RunError(`dpo: option 'beta' must be > 0, got ${resolved.beta}`);
  return {
    name: 'dpo',
    summary: 'Direct Preference Optimization: -log sigmoid of the implicit reward margin between chosen and rejected',
    paper: {
      title: 'Direct Preference Optimization: Your Language Model is Secretly a Reward Model',
      arxiv: '2305.18290',
      year: 2023,
    },
    matches: "TRL DPOTrainer `loss_type='sigmoid'`",
    options: DPO_OPTIONS,
    resolved,
    needsReference: true,
    math: '$\\mathcal L = -\\log\\sigma\\big(\\beta[(\\log\\pi_\\theta(y_w) - \\log\\pi_{ref}(y_w)) - (\\log\\pi_\\theta(y_l) - \\log\\pi_{ref}(y_l))]\\big)$, mean over pairs',
    loss: () => notOnRows('dpo'),
    pairwise(batch, tf: Tf) {
      const { refChosen, refRejected } = references(batch, 'dpo');
      const inputs = {
        policyChosen: batch.chosenLogps,
        policyRejected: batch.rejectedLogps,
        refChosen,
        refRejected,
        beta: resolved.beta,
      };
      const margin = dpoMargin(inputs, tf);
      return {
        loss: dpoLoss(inputs, tf),
        metrics: {
          margin: tf.mean(margin),
          rewardAccuracy: tf.mean(tf.cast(tf.greater(margin, 0), 'float32')),
        },
      };
    },
    configure: (next) => dpo({ ...resolved, ...(next as DpoOptions) }) as never,
  };
}
