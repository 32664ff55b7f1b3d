/**
 * OPPO's objective (Kang, Shi, Liu, Yang, Li, Zhang: "Beyond Reward: Offline Preference-guided
 * Policy Optimization", ICML 2023; public code bkkgbkjb/decision-transformer,
 * gym/decision_transformer/training/pdt_trainer.py). No reward: a trajectory encoder E and a
 * context-conditioned policy pi(a | s, z) learn by hindsight information matching (reproduce each
 * trajectory given z = E(trajectory)), and a learned optimal context z* is pulled toward preferred
 * trajectories' encodings and away from rejected ones by a triplet margin loss; the encoder is
 * shaped by the same triplet with z* held fixed. The policy is deployed as pi(a | s, z*).
 */
import { type OptionSpec, type PairLoss, type PaperRef, RunError, resolveOptions } from '@policy-lab/core';
import { stopGradient, type Tensor, type Tf } from './tensor-types.js';

export const OPPO_PAPER: PaperRef = {
  title: 'Beyond Reward: Offline Preference-guided Policy Optimization',
  year: 2023,
};

const OPTIONS: Record<string, OptionSpec> = {
  margin: { type: 'number', default: 1, doc: 'triplet margin (code: nn.TripletMarginLoss(margin=1.0, p=2))' },
  preferenceWeight: {
    type: 'number',
    default: 0.1,
    doc: "weight of the triplet loss in the encoder's objective (code: pref_loss_ratio 0.1)",
  },
  normWeight: {
    type: 'number',
    default: 0.1,
    doc: "weight of (|z| - 1)^2, which keeps the encodings' norm near 1 (code: phi_norm_loss_ratio 0.1)",
  },
};

export interface OppoOptions {
  margin?: number;
  preferenceWeight?: number;
  normWeight?: number;
}

export interface OppoInputs {
  /** Summed log-probs of each completion under its own context, [pairs], and its token count. */
  chosenLogps: Tensor;
  rejectedLogps: Tensor;
  chosenLengths: Tensor;
  rejectedLengths: Tensor;
  /** [pairs, K] encodings and [K] z*. */
  chosenContext: Tensor;
  rejectedContext: Tensor;
  optimal: Tensor;
}

/** Euclidean distance of each row of `a` to `b` (broadcast), with torch's pairwise-distance epsilon. */
function distance(tf: Tf, a: Tensor, b: Tensor): Tensor {
  return tf.sqrt(tf.sum(tf.square(tf.add(tf.sub(a, b), 1e-6)), -1));
}

/**
 * Where z* sits among the step's completion contexts: its mean distance to the preferred ones'
 * and to the rejected ones', and the share of pairs whose preferred context is the nearer (the
 * pairs are scored before the update that reads them, so this is z*'s accuracy on pairs it has
 * not been trained on yet). `optimal` [K], `chosen` and `rejected` [pairs, K].
 */
export function contextDiagnostics(
  tf: Tf,
  optimal: Tensor,
  chosen: Tensor,
  rejected: Tensor,
): { contextToPreferred: Tensor; contextToRejected: Tensor; contextPreferenceAccuracy: Tensor } {
  const anchor = tf.expandDims(optimal, 0);
  const toChosen = distance(tf, anchor, chosen);
  const toRejected = distance(tf, anchor, rejected);
  return {
    contextToPreferred: tf.mean(toChosen),
    contextToRejected: tf.mean(toRejected),
    contextPreferenceAccuracy: tf.mean(tf.cast(tf.less(toChosen, toRejected), 'float32')),
  };
}

/** mean over pairs of max(0, |anchor - positive| - |anchor - negative| + margin). */
export function tripletLoss(tf: Tf, anchor: Tensor, positive: Tensor, negative: Tensor, margin: number): Tensor {
  return tf.mean(tf.relu(tf.add(tf.sub(distance(tf, anchor, positive), distance(tf, anchor, negative)), margin)));
}

/**
 * The loss and its parts. `imitation` is hindsight information matching: each completion's mean
 * token negative log-likelihood under its own context, chosen plus rejected (every trajectory of
 * the dataset is reproduced, preferred or not). `encoderPreference` moves the encodings with z*
 * held fixed, `optimalPreference` moves z* with the encodings held fixed, as the code's two
 * optimizers do.
 */
export function oppoLoss(
  inputs: OppoInputs,
  options: Required<OppoOptions>,
  tf: Tf,
): { loss: Tensor; imitation: Tensor; norm: Tensor; encoderPreference: Tensor; optimalPreference: Tensor } {
  const perToken = (logps: Tensor, lengths: Tensor) => tf.div(tf.neg(logps), tf.maximum(lengths, 1));
  const imitation = tf.mean(
    tf.add(perToken(inputs.chosenLogps, inputs.chosenLengths), perToken(inputs.rejectedLogps, inputs.rejectedLengths)),
  );
  const normOf = (z: Tensor) => tf.mean(tf.square(tf.sub(tf.sqrt(tf.add(tf.sum(tf.square(z), -1), 1e-12)), 1)));
  const norm = tf.add(normOf(inputs.chosenContext), normOf(inputs.rejectedContext));
  const anchor = tf.expandDims(inputs.optimal, 0);
  const encoderPreference = tripletLoss(
    tf,
    stopGradient(tf, anchor),
    inputs.chosenContext,
    inputs.rejectedContext,
    options.margin,
  );
  const optimalPreference = tripletLoss(
    tf,
    anchor,
    stopGradient(tf, inputs.chosenContext),
    stopGradient(tf, inputs.rejectedContext),
    options.margin,
  );
  const loss = tf.addN([
    imitation,
    tf.mul(norm, options.normWeight),
    tf.mul(encoderPreference, options.preferenceWeight),
    optimalPreference,
  ]);
  return { loss, imitation, norm, encoderPreference, optimalPreference };
}

export function oppoContext(options: OppoOptions = {}): PairLoss<Tf, Tensor> {
  const resolved = resolveOptions<Required<OppoOptions>>('oppo-context', OPTIONS, { ...options });
  for (const key of ['margin', 'preferenceWeight', 'normWeight'] as const)
    if (!(resolved[key] >= 0)) throw new RunError(`oppo-context: option '${key}' must be >= 0, got ${resolved[key]}`);
  return {
    name: 'oppo-context',
    kind: 'pairs',
    summary:
      "OPPO: a trajectory encoder's context conditions the policy to reproduce each completion; an optimal context z* (the soft prompt) is pulled toward preferred completions' contexts by a triplet loss",
    paper: OPPO_PAPER,
    matches:
      'bkkgbkjb/decision-transformer pdt_trainer.py: recon + 0.1 phi_norm + 0.1 triplet(w.detach(), phi+, phi-); then triplet(w, phi+.detach(), phi-.detach()) on w alone',
    needs: { context: true, pairsFrom: 'demonstrations' },
    options: OPTIONS,
    resolved,
    math:
      '$\\mathcal L = \\overline{-\\log\\pi_\\theta(\\tau^+ \\mid E(\\tau^+))} + \\overline{-\\log\\pi_\\theta(\\tau^- \\mid E(\\tau^-))} + \\lambda_n \\sum_\\pm (\\lVert E(\\tau^\\pm)\\rVert - 1)^2 ' +
      '+ \\lambda_p\\, T(\\mathrm{sg}(z^*), E(\\tau^+), E(\\tau^-)) + T(z^*, \\mathrm{sg}\\,E(\\tau^+), \\mathrm{sg}\\,E(\\tau^-))$, ' +
      '$T(a, p, n) = \\max(0, \\lVert a - p\\rVert_2 - \\lVert a - n\\rVert_2 + m)$; deployed as $\\pi_\\theta(\\cdot \\mid z^*)$',
    unverified: [
      'adaptation: adapted. OPPO conditions a Decision-Transformer-style controller on z over (state, action) steps of continuous-control trajectories; here z is P soft-prompt vectors ahead of the prompt, a trajectory is one completion (its tokens), and the encoder is a bag of tokens (embeddings, a tanh layer, a linear map), not a transformer.',
      "The code updates z* with its own optimizer after the encoder's step, on the updated encodings; here one Adam step updates policy, encoder and z* together (stop-gradients keep each term on its own variables), clipped by one global norm.",
      "Without --data, pairs are the environment's expert answer (preferred) against each sampled answer (rejected), even a sampled answer that is also right: scripted preferences, no reward read.",
      'The arXiv identifier is not given: the paper is cited by its ICML 2023 title.',
    ],
    loss(batch, tf) {
      if (!batch.context)
        throw new RunError(
          "oppo-context needs the encoder's contexts and z* (PreferenceBatch.context); the trainer supplies them with a soft prompt (--set softPrompt=P)",
        );
      const parts = oppoLoss(
        {
          chosenLogps: batch.chosenLogps,
          rejectedLogps: batch.rejectedLogps,
          chosenLengths: batch.chosenLengths,
          rejectedLengths: batch.rejectedLengths,
          chosenContext: batch.context.chosen,
          rejectedContext: batch.context.rejected,
          optimal: batch.context.optimal,
        },
        resolved,
        tf,
      );
      const where = contextDiagnostics(tf, batch.context.optimal, batch.context.chosen, batch.context.rejected);
      return {
        loss: parts.loss,
        metrics: {
          imitation: parts.imitation,
          contextNorm: parts.norm,
          tripletLoss: parts.optimalPreference,
          // > 0 when z* sits closer to the preferred completions' contexts than to the rejected ones'.
          distanceGap: tf.sub(where.contextToRejected, where.contextToPreferred),
          ...where,
        },
      };
    },
    configure(next) {
      return oppoContext(next as OppoOptions);
    },
  };
}
