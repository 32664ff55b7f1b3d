/**
 * KTO (Ethayarajh et al. 2024) as TRL's KTOTrainer computes it (trl/trainer/kto_trainer.py): unpaired
 * completions labelled desirable or undesirable, each compared with a KL anchor z0 instead of
 * a partner. Also the paired form TRL's DPOTrainer once shipped as `kto_pair`.
 */
import { type OptionSpec, type PaperRef, RunError, resolveOptions } from '@policy-lab/core';
import { stopGradient, type Tensor, type Tf } from '../tensor-types.js';
import type { KtoBatch, PairedPreferenceObjective, PreferenceMetrics, UnpairedPreferenceObjective } from './batch.js';
import { BETA_OPTION, CATALOG_NOTE, check, checkBeta, pairMetrics, referenceLogps } from './common.js';
import { TRL_SOURCES, trlReference } from './reference.js';

const KTO_PAPER: PaperRef = { title: 'KTO: Model Alignment as Prospect Theoretic Optimization', arxiv: '2402.01306', year: 2024 };

const KTO_OPTIONS: Record<string, OptionSpec> = {
  beta: BETA_OPTION,
  desirableWeight: {
    type: 'number',
    default: 1,
    doc: 'lambda_D: weight of the desirable examples, > 0 (TRL desirable_weight 1.0)',
  },
  undesirableWeight: {
    type: 'number',
    default: 1,
    doc: 'lambda_U: weight of the undesirable examples, > 0 (TRL undesirable_weight 1.0)',
  },
};

export interface KtoOptions {
  beta?: number;
  desirableWeight?: number;
  undesirableWeight?: number;
}

/**
 * For each example i, the index of the completion its prompt is paired with in the KL pass:
 * i - 1, cyclically (TRL's mismatched pairs). The trainer runs the policy and the reference on
 * (prompt_i, completion_{m[i]}) and hands the results as klLogps / klRefLogps.
 */
export function ktoMismatchedCompletions(count: number): number[] {
  if (!Number.isInteger(count) || count < 0)
    throw new RunError(`ktoMismatchedCompletions: count must be an integer >= 0, got ${count}`);
  return Array.from({ length: count }, (_, i) => (i + count - 1) % count);
}

/** z0 = max(0, mean(klLogps - klRefLogps)), held constant; or the given `kl`. */
function klAnchor(batch: KtoBatch, owner: string, tf: Tf): Tensor {
  if (batch.kl !== undefined) {
    if (!Number.isFinite(batch.kl)) throw new RunError(`${owner}: batch.kl must be finite, got ${batch.kl}`);
    return tf.scalar(Math.max(0, batch.kl));
  }
  if (!batch.klLogps || !batch.klRefLogps) {
    throw new RunError(
      `${owner} needs the KL anchor: klLogps and klRefLogps (policy and reference on mismatched completions, see ktoMismatchedCompletions) or a precomputed kl`,
    );
  }
  return stopGradient(tf, tf.relu(tf.mean(tf.sub(batch.klLogps, batch.klRefLogps))));
}

function ktoMetrics(rewards: Tensor, desirable: Tensor, anchor: Tensor, tf: Tf): PreferenceMetrics {
  const undesirable = tf.sub(1, desirable);
  const sideMean = (mask: Tensor) => tf.div(tf.sum(tf.mul(rewards, mask)), tf.maximum(tf.sum(mask), 1));
  const chosenReward = sideMean(desirable);
  const rejectedReward = sideMean(undesirable);
  // Unpaired: "accurate" when the reward sits on the label's side of the anchor.
  const above = tf.cast(tf.greater(rewards, anchor), 'float32');
  const correct = tf.add(tf.mul(desirable, above), tf.mul(undesirable, tf.sub(1, above)));
  return { rewardAccuracy: tf.mean(correct), chosenReward, rejectedReward, margin: tf.sub(chosenReward, rejectedReward) };
}

interface KtoVariant {
  name: string;
  summary: string;
  math: string;
  matches: string;
  /** TRL's KTOConfig settings this variant stands for. */
  settings: string;
  usesAnchor: boolean;
  unverified: readonly string[];
  /** Per-example loss before the label weights, from beta z and the desirable mask. */
  perExample(scaled: Tensor, scaledAnchor: Tensor, desirable: Tensor, tf: Tf): Tensor;
}

function buildKto(variant: KtoVariant, options: KtoOptions): UnpairedPreferenceObjective {
  const resolved = resolveOptions<Required<KtoOptions>>(variant.name, KTO_OPTIONS, { ...options });
  checkBeta(variant.name, resolved.beta);
  check(variant.name, 'desirableWeight', resolved.desirableWeight, resolved.desirableWeight > 0, '> 0');
  check(variant.name, 'undesirableWeight', resolved.undesirableWeight, resolved.undesirableWeight > 0, '> 0');
  return {
    data: 'unpaired',
    name: variant.name,
    summary: variant.summary,
    paper: KTO_PAPER,
    matches: variant.matches,
    references: [trlReference(TRL_SOURCES.KTO, variant.settings)],
    options: KTO_OPTIONS,
    resolved,
    math: variant.math,
    needsReference: true,
    needs: { reference: true, lengths: false, klAnchor: variant.usesAnchor },
    unverified: [...variant.unverified, CATALOG_NOTE],
    loss(batch, tf) {
      const count = batch.logps.shape[0] ?? 0;
      if (batch.desirable.length !== count) {
        throw new RunError(`${variant.name}: ${count} log-probabilities but ${batch.desirable.length} desirable labels`);
      }
      if (count === 0) throw new RunError(`${variant.name}: empty batch`);
      const desirable = tf.tensor1d(batch.desirable.map((label) => (label ? 1 : 0)));
      const anchor = variant.usesAnchor ? klAnchor(batch, variant.name, tf) : tf.scalar(0);
      const rewards = tf.mul(resolved.beta, tf.sub(batch.logps, batch.refLogps));
      const perExample = variant.perExample(rewards, tf.mul(resolved.beta, anchor), desirable, tf);
      const weights = tf.add(
        tf.mul(desirable, resolved.desirableWeight),
        tf.mul(tf.sub(1, desirable), resolved.undesirableWeight),
      );
      const loss = tf.mean(tf.mul(weights, perExample));
      const metrics = ktoMetrics(rewards, desirable, tf.mul(resolved.beta, anchor), tf);
      return { loss, metrics: { ...metrics, kl: anchor } };
    },
    configure: (next) => buildKto(variant, { ...resolved, ...(next as KtoOptions) }),
  };
}

/** KTO: desirable 1 - sigma(beta (z - z0)), undesirable 1 - sigma(beta (z0 - z)). */
export function kto(options: KtoOptions = {}): UnpairedPreferenceObjective {
  return buildKto(
    {
      name: 'kto',
      summary:
        'KTO: pushes each desirable completion above and each undesirable one below a KL anchor, from unpaired thumbs-up/down data.',
      matches: "TRL KTOTrainer `loss_type='kto'`",
      settings: "loss_type='kto' (calculate_KL)",
      usesAnchor: true,
      math:
        "$z = lp - lp_{ref}$, $z_0 = \\mathrm{sg}\\,\\max(0, \\overline{lp(y'|x) - lp_{ref}(y'|x)})$ over mismatched completions $y'$; " +
        'desirable $\\lambda_D(1 - \\sigma(\\beta(z - z_0)))$, undesirable $\\lambda_U(1 - \\sigma(\\beta(z_0 - z)))$; mean over all examples.',
      unverified: [
        "TRL computes z0 from a gathered batch across processes; a single-process mean here, or the trainer's precomputed `kl`.",
      ],
      perExample(scaled, scaledAnchor, desirable, tf) {
        const desirableLoss = tf.sub(1, tf.sigmoid(tf.sub(scaled, scaledAnchor)));
        const undesirableLoss = tf.sub(1, tf.sigmoid(tf.sub(scaledAnchor, scaled)));
        return tf.add(tf.mul(desirable, desirableLoss), tf.mul(tf.sub(1, desirable), undesirableLoss));
      },
    },
    options,
  );
}

/** apo_zero_unpaired: desirable 1 - sigma(beta z), undesirable sigma(beta z), no KL pass. */
export function ktoApoZeroUnpaired(options: KtoOptions = {}): UnpairedPreferenceObjective {
  return buildKto(
    {
      name: 'kto-apo-zero-unpaired',
      summary:
        'APO-zero on unpaired data: raises desirable and lowers undesirable likelihoods relative to the reference, with no KL pass.',
      matches: "TRL KTOTrainer `loss_type='apo_zero_unpaired'`",
      settings: "loss_type='apo_zero_unpaired'",
      usesAnchor: false,
      math: 'desirable $\\lambda_D(1 - \\sigma(\\beta z))$, undesirable $\\lambda_U\\,\\sigma(\\beta z)$, $z = lp - lp_{ref}$',
      unverified: [],
      perExample(scaled, _anchor, desirable, tf) {
        const desirableLoss = tf.sub(1, tf.sigmoid(scaled));
        const undesirableLoss = tf.sigmoid(scaled);
        return tf.add(tf.mul(desirable, desirableLoss), tf.mul(tf.sub(1, desirable), undesirableLoss));
      },
    },
    options,
  );
}

const KTO_PAIR_OPTIONS: Record<string, OptionSpec> = { beta: BETA_OPTION };

/**
 * KTO on pairs (TRL DPOTrainer's former `kto_pair`): the chosen completion is desirable and
 * the rejected one undesirable; each side's anchor is estimated from the other side,
 * z0_w = max(0, mean r) and z0_l = max(0, mean c).
 */
export function ktoPair(options: { beta?: number } = {}): PairedPreferenceObjective {
  const resolved = resolveOptions<{ beta: number }>('kto-pair', KTO_PAIR_OPTIONS, { ...options });
  checkBeta('kto-pair', resolved.beta);
  return {
    data: 'paired',
    name: 'kto-pair',
    summary:
      'KTO on chosen/rejected pairs: chosen is desirable, rejected undesirable, each compared with a KL anchor estimated from the other half of the batch.',
    paper: KTO_PAPER,
    options: KTO_PAIR_OPTIONS,
    resolved,
    math:
      '$z_{0,w} = \\mathrm{sg}\\max(0, \\bar r)$, $z_{0,l} = \\mathrm{sg}\\max(0, \\bar c)$: ' +
      '$\\ell = \\mathrm{mean}\\big[1 - \\sigma(\\beta(c - z_{0,w})),\\ 1 - \\sigma(\\beta(z_{0,l} - r))\\big]$ over the $2\\times$pairs terms',
    needsReference: true,
    needs: { reference: true, lengths: false, batchCoupled: true },
    unverified: [
      "Not TRL's former DPOTrainer `loss_type='kto_pair'` (since removed): that computed the same value but did not detach the anchors, so its gradient also flows through z_{0,w} = max(0, mean r) and z_{0,l} = max(0, mean c) (with n pairs and mean c > 0, d loss / d c_k gains -beta/(2n^2) sum_j sigma'(beta(z_{0,l} - r_j)); with mean r > 0, d loss / d r_k gains +beta/(2n^2) sum_i sigma'(beta(c_i - z_{0,w}))). This loss holds both anchors constant, as KTO's paper and TRL's KTOTrainer (KL pass under no_grad) do.",
    ],
    loss(batch, tf) {
      const { refChosen, refRejected } = referenceLogps(batch, 'kto-pair');
      const chosen = tf.sub(batch.chosenLogps, refChosen);
      const rejected = tf.sub(batch.rejectedLogps, refRejected);
      const chosenAnchor = stopGradient(tf, tf.relu(tf.mean(rejected)));
      const rejectedAnchor = stopGradient(tf, tf.relu(tf.mean(chosen)));
      const chosenLoss = tf.sub(1, tf.sigmoid(tf.mul(resolved.beta, tf.sub(chosen, chosenAnchor))));
      const rejectedLoss = tf.sub(1, tf.sigmoid(tf.mul(resolved.beta, tf.sub(rejectedAnchor, rejected))));
      const loss = tf.mean(tf.concat([chosenLoss, rejectedLoss]));
      const metrics = pairMetrics(tf.mul(resolved.beta, chosen), tf.mul(resolved.beta, rejected), tf);
      return { loss, metrics: { ...metrics } };
    },
    configure: (next) => ktoPair({ ...resolved, ...(next as { beta?: number }) }),
  };
}

export function ktoObjectives(): (PairedPreferenceObjective | UnpairedPreferenceObjective)[] {
  return [kto(), ktoApoZeroUnpaired(), ktoPair()];
}
