/**
 * VA-pi's teacher-forced GRPO objective (Liao, He et al. 2025, "VA-π: Variational Policy
 * Alignment for Pixel-Aware Autoregressive Generation", arXiv 2512.19680; public code
 * Lil-Shake/VA-Pi, LlamaGen/autoregressive/train/train_c2i_grpo.py). The ELBO of the reference
 * output splits into a reconstruction term, optimised as a reward by a clipped policy gradient
 * on actions drawn under teacher forcing, and a prior term, the cross-entropy of the reference
 * tokens under the same teacher-forced contexts. The rows come from the `teacher-forced` sampler:
 * `logprobs` are the drawn tokens' and `forcedLogprobs` the reference tokens' log-probabilities,
 * both given the prompt and the reference before each position.
 */
import { aggregateLoss, type LossBatch, type OptionSpec, RunError, resolveOptions } from '@policy-lab/core';
import { LOG_RATIO_CLAMP } from './kl-estimators.js';
import type { TensorRowLoss } from './losses.js';
import type { Tensor, Tf } from './tensor-types.js';

export const VA_PI_PAPER = {
  title: 'VA-π: Variational Policy Alignment for Pixel-Aware Autoregressive Generation',
  arxiv: '2512.19680',
  year: 2025,
} as const;

const OPTIONS: Record<string, OptionSpec> = {
  clip: { type: 'number', default: 0.2, doc: 'PPO clip range of the ratio (VA-pi script: --clip-range 0.2)' },
  advantageClip: {
    type: 'number',
    default: 5,
    doc: 'advantages are clamped to [-advantageClip, advantageClip] (VA-pi script: --adv-clip-max 5.0)',
  },
  ceWeight: {
    type: 'number',
    default: 0.1,
    doc: "weight of the prior term, the reference tokens' cross-entropy under teacher forcing (VA-pi script: --aux-ce-weight 0.1)",
  },
};

export interface VaPiOptions {
  clip?: number;
  advantageClip?: number;
  ceWeight?: number;
}

/** What the objective reads, as plain tensors (the gradient check and the property test feed it directly). */
export interface VaPiInputs {
  logprobs: Tensor;
  oldLogprobs: Tensor;
  forcedLogprobs: Tensor;
  advantages: Tensor;
  mask: Tensor;
  weights: Tensor;
  aggregation: LossBatch['aggregation'];
  normLength: number;
}

/**
 * The loss and its two parts: the clipped surrogate on the drawn tokens, aggregated the run's
 * way, plus ceWeight x the reference tokens' mean cross-entropy over every trained token
 * (the code's F.cross_entropy with reduction 'mean').
 */
export function vaPiLoss(
  inputs: VaPiInputs,
  options: Required<VaPiOptions>,
  tf: Tf,
): { loss: Tensor; surrogate: Tensor; crossEntropy: Tensor; clipFraction: Tensor } {
  const advantages = tf.clipByValue(inputs.advantages, -options.advantageClip, options.advantageClip);
  const ratio = tf.exp(tf.clipByValue(tf.sub(inputs.logprobs, inputs.oldLogprobs), -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP));
  const clipped = tf.clipByValue(ratio, 1 - options.clip, 1 + options.clip);
  const perToken = tf.maximum(tf.neg(tf.mul(advantages, ratio)), tf.neg(tf.mul(advantages, clipped)));
  const { mask, weights, aggregation, normLength } = inputs;
  const surrogate = aggregateLoss(tf, perToken, mask, weights, aggregation, normLength);
  const crossEntropy = aggregateLoss(tf, tf.neg(inputs.forcedLogprobs), mask, weights, 'token-mean', normLength);
  const outside = tf.cast(tf.greater(tf.abs(tf.sub(ratio, 1)), options.clip), 'float32');
  const clipFraction = aggregateLoss(tf, outside, mask, weights, 'token-mean', normLength);
  return { loss: tf.add(surrogate, tf.mul(crossEntropy, options.ceWeight)), surrogate, crossEntropy, clipFraction };
}

export function vaPiTfGrpo(options: VaPiOptions = {}): TensorRowLoss {
  const resolved = resolveOptions<Required<VaPiOptions>>('va-pi-tf-grpo', OPTIONS, { ...options });
  if (!(resolved.clip > 0 && resolved.clip < 1))
    throw new RunError(`va-pi-tf-grpo: option 'clip' must be in (0, 1), got ${resolved.clip}`);
  if (!(resolved.advantageClip > 0))
    throw new RunError(`va-pi-tf-grpo: option 'advantageClip' must be > 0, got ${resolved.advantageClip}`);
  if (!(resolved.ceWeight >= 0)) throw new RunError(`va-pi-tf-grpo: option 'ceWeight' must be >= 0, got ${resolved.ceWeight}`);
  return {
    name: 'va-pi-tf-grpo',
    kind: 'rows',
    summary:
      "VA-pi: a clipped policy gradient on actions drawn under teacher forcing against the expert's reference, plus the reference's cross-entropy (the ELBO's prior term)",
    paper: VA_PI_PAPER,
    matches:
      'Lil-Shake/VA-Pi train_c2i_grpo.py: per-token max(-A r, -A clip(r)), mean per sequence then over sequences, + aux_ce_weight x F.cross_entropy(gt)',
    needs: { forced: true },
    options: OPTIONS,
    resolved,
    math:
      '$\\mathcal L = \\mathrm{agg}_{i,j}\\,\\max(-\\hat A_i \\rho_{ij}, -\\hat A_i\\,\\mathrm{clip}(\\rho_{ij}, 1\\pm\\epsilon)) + \\lambda_{ce}\\,\\overline{-\\log\\pi_\\theta(y^*_j \\mid x, y^*_{<j})}$, ' +
      '$\\rho_{ij} = \\pi_\\theta(y^{(i)}_j \\mid x, y^*_{<j}) / \\pi_{old}(y^{(i)}_j \\mid x, y^*_{<j})$, $\\hat A_i = \\mathrm{clip}(A_i, \\pm c)$ with $A_i$ the group z-score of the reward of $y^{(i)}$',
    unverified: [
      "adaptation: adapted. Adapted from pixels to text: VA-pi's reward is -(MSE + LPIPS) between the decoded and the original image; here it is the environment's reward of the detokenised action (countdown: a correct equation, not necessarily the reference's), a sequence metric against the reference only where the environment scores one.",
      "The cross-entropy is averaged over every trained token of the batch (each group repeats its reference G times, as the code does); its weight 0.1 is the released script's, not a value the paper states.",
    ],
    loss(batch, tf) {
      if (!batch.forcedLogprobs)
        throw new RunError(
          "va-pi-tf-grpo needs forcedLogprobs (teacher-forced rows); the trainer supplies them under the 'teacher-forced' sampler",
        );
      const parts = vaPiLoss(
        {
          logprobs: batch.logprobs,
          oldLogprobs: batch.oldLogprobs,
          forcedLogprobs: batch.forcedLogprobs,
          advantages: batch.advantages,
          mask: batch.mask,
          weights: batch.weights,
          aggregation: batch.aggregation,
          normLength: batch.normLength,
        },
        resolved,
        tf,
      );
      return {
        loss: parts.loss,
        metrics: { referenceCrossEntropy: parts.crossEntropy, surrogate: parts.surrogate, clipFraction: parts.clipFraction },
      };
    },
    configure(next) {
      return vaPiTfGrpo(next as VaPiOptions);
    },
  };
}
