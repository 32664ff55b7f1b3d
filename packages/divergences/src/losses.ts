/**
 * Objectives that a `LossBatch` carries everything for, registered as `PolicyLoss` plugins:
 * SFT cross-entropy (with the Implicit-Reward paper's learning-rate reduction as metadata),
 * on-policy distillation against `refLogprobs` as the teacher, and RAPO.
 */
import {
  aggregateLoss,
  type LossBatch,
  type LossResult,
  type OptionSpec,
  type PaperRef,
  type PolicyLoss,
  type RowLoss,
  RunError,
  resolveOptions,
} from '@policy-lab/core';
import { forwardKlGenerator } from './generators.js';
import { LOG_RATIO_CLAMP } from './kl-estimators.js';
import { stopGradient, type Tensor, type Tf } from './tensor-types.js';

export type TensorLoss = PolicyLoss<Tf, Tensor>;
export type TensorRowLoss = RowLoss<Tf, Tensor>;

const IMPLICIT_REWARD: PaperRef = {
  title: 'Implicit Reward as the Bridge: A Unified View of SFT and DPO Connections',
  arxiv: '2507.00018',
  year: 2025,
};
const G_OPD: PaperRef = {
  title: 'Learning beyond Teacher: Generalized On-Policy Distillation with Reward Extrapolation',
  arxiv: '2602.12125',
  year: 2026,
};
const RAPO: PaperRef = {
  title: 'Unlocking Reasoning Capabilities in LLMs via Reinforcement Learning Exploration',
  arxiv: '2510.03865',
  year: 2025,
};

function needReference(batch: LossBatch<Tensor>, owner: string, role: string): Tensor {
  if (!batch.refLogprobs) {
    throw new RunError(
      `${owner} needs refLogprobs (${role}); a trainer supplies them when the loss sets needs.reference or the run has a divergence`,
    );
  }
  return batch.refLogprobs;
}

// ---------------------------------------------------------------------------------------
// SFT

const SFT_OPTIONS: Record<string, OptionSpec> = {
  lrScale: {
    type: 'number',
    default: 1,
    doc: "learning-rate multiplier for SFT (Implicit Reward as the Bridge: 'use a lower SFT learning rate'); the trainer multiplies its learning rate by it (the loss cannot rescale itself: Adam is scale-invariant)",
  },
};

export interface SftOptions {
  lrScale?: number;
}

/** Cross-entropy on the masked tokens: -log pi_theta(y_t), weighted per rollout. */
export function sft(options: SftOptions = {}): TensorRowLoss {
  const resolved = resolveOptions<Required<SftOptions>>('sft', SFT_OPTIONS, { ...options });
  if (!(resolved.lrScale > 0)) throw new RunError(`sft: option 'lrScale' must be > 0, got ${resolved.lrScale}`);
  return {
    name: 'sft',
    kind: 'rows',
    summary:
      'Supervised cross-entropy on the trained tokens; plain SFT has no pull back to the reference, so lower its learning rate.',
    paper: IMPLICIT_REWARD,
    options: SFT_OPTIONS,
    resolved,
    learningRateScale: resolved.lrScale,
    math:
      '$\\mathcal L = \\mathrm{agg}_t\\,[-w_i \\log\\pi_\\theta(y_t)]$. Seen as implicit-reward learning with $r_\\theta = \\beta\\log\\pi_\\theta/\\pi_{ref}$, ' +
      "SFT's KL-to-reference term is constant in $\\theta$ [paper], hence the remedy: learning rate $\\times$ `lrScale`.",
    unverified: [
      "The paper's learning-rate factor is not confirmed; lrScale defaults to 1 (no reduction); the trainer multiplies its learning rate by it (learningRateScale).",
      "The f-divergence SFT losses are the registered loss 'f-sft' (expert demonstrations against the policy's samples).",
    ],
    loss(batch, tf): LossResult<Tensor> {
      const perToken = tf.neg(batch.logprobs);
      return { loss: aggregateLoss(tf, perToken, batch.mask, batch.weights, batch.aggregation, batch.normLength) };
    },
    configure(next) {
      return sft(next as SftOptions);
    },
  };
}

// ---------------------------------------------------------------------------------------
// On-policy distillation

/**
 * Per-token reward of G-OPD (arXiv 2602.12125's sequence reward, our [inferred] per-token form):
 * r_t = lambda (log pi*(y_t) - log pi_ref(y_t)) - (log pi_theta(y_t) - log pi_ref(y_t)).
 * lambda = 1 is plain OPD, where pi_ref cancels; lambda > 1 is ExOPD.
 */
export function gopdReward(inputs: { policy: Tensor; teacher: Tensor; reference: Tensor; lambda: number }, tf: Tf): Tensor {
  const { policy, teacher, reference, lambda } = inputs;
  return tf.sub(tf.mul(lambda, tf.sub(teacher, reference)), tf.sub(policy, reference));
}

export interface GopdLossInputs {
  /** log pi_theta of the sampled tokens, [rows, T] (differentiable). */
  policy: Tensor;
  /** log pi_old (the sampling policy), [rows, T]. */
  oldPolicy: Tensor;
  teacher: Tensor;
  reference: Tensor;
  mask: Tensor;
  lambda: number;
  aggregation?: LossBatch['aggregation'];
  normLength?: number;
}

/**
 * REINFORCE with the dense G-OPD reward as the per-token advantage (no critic, no group
 * baseline, no return-to-go: OPD practice, our instantiation), importance-weighted by
 * pi_theta / pi_old. The reward is held constant, so the gradient is -rho r_t grad log pi.
 */
export function gopdLoss(inputs: GopdLossInputs, tf: Tf): Tensor {
  const reward = stopGradient(tf, gopdReward(inputs, tf));
  const ratio = tf.exp(tf.clipByValue(tf.sub(inputs.policy, inputs.oldPolicy), -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP));
  return aggregateLoss(
    tf,
    tf.neg(tf.mul(ratio, reward)),
    inputs.mask,
    undefined,
    inputs.aggregation ?? 'token-mean',
    inputs.normLength ?? 1,
  );
}

/** Plain OPD as a loss: the batch's refLogprobs are the teacher's log-probabilities. */
export function opd(): TensorRowLoss {
  return {
    name: 'opd',
    kind: 'rows',
    summary:
      'On-policy distillation: minimise reverse KL(pi_theta || teacher) on student samples, the teacher read from refLogprobs.',
    paper: G_OPD,
    needs: { reference: true },
    math:
      '$r_t = \\log\\pi^*(y_t) - \\log\\pi_\\theta(y_t)$ (held constant), $\\ell_t = -\\rho_t\\, w_i\\, r_t$ with $\\rho_t = \\pi_\\theta/\\pi_{old}$; ' +
      'in expectation $\\nabla\\mathcal L = \\nabla\\mathrm{KL}(\\pi_\\theta\\|\\pi^*)$. G-OPD: $r_t = \\lambda(\\log\\pi^* - \\log\\pi_{ref}) - (\\log\\pi_\\theta - \\log\\pi_{ref})$ (`gopdLoss`).',
    unverified: [
      'Per-token reward used directly as the advantage (no return-to-go, no baseline): our instantiation of OPD practice.',
      "refLogprobs are the teacher's when the run names one (--set teacher=<run folder>); without a teacher they are the frozen starting policy's, and OPD only holds the policy near its start.",
      "G-OPD / ExOPD (lambda != 1) is the registered loss 'gopd', which reads the teacher and the reference separately.",
    ],
    loss(batch, tf): LossResult<Tensor> {
      const teacher = needReference(batch, 'opd', 'the teacher');
      const reward = stopGradient(tf, tf.sub(teacher, batch.logprobs));
      const ratio = tf.exp(tf.clipByValue(tf.sub(batch.logprobs, batch.oldLogprobs), -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP));
      const perToken = tf.neg(tf.mul(ratio, reward));
      const teacherKl = aggregateLoss(tf, tf.neg(reward), batch.mask, undefined, 'token-mean', batch.normLength);
      return {
        loss: aggregateLoss(tf, perToken, batch.mask, batch.weights, batch.aggregation, batch.normLength),
        metrics: { teacherKl },
      };
    },
  };
}

// ---------------------------------------------------------------------------------------
// RAPO

const RAPO_OPTIONS: Record<string, OptionSpec> = {
  alpha: { type: 'number', default: 0.04, doc: 'weight of the forward KL to the reweighted reference [unverified]' },
  entropyCoef: { type: 'number', default: 0, doc: 'weight of the entropy bonus (needs batch.entropy) [unverified]' },
  clip: { type: 'number', default: 0.2, doc: 'PPO clip range of the surrogate' },
  phiTemperature: {
    type: 'number',
    default: 1,
    doc: "phi = sigmoid(advantage / phiTemperature), our stand-in for the paper's phi(r) [unverified]",
  },
};

export interface RapoOptions {
  alpha?: number;
  entropyCoef?: number;
  clip?: number;
  phiTemperature?: number;
}

/**
 * RAPO: clipped surrogate + alpha x forward KL(reweighted ref || pi_theta) - entropy bonus.
 * log ref-hat_t = phi x log ref_t with phi in (0, 1) growing with the advantage.
 */
export function rapo(options: RapoOptions = {}): TensorRowLoss {
  const resolved = resolveOptions<Required<RapoOptions>>('rapo', RAPO_OPTIONS, { ...options });
  if (!(resolved.phiTemperature > 0))
    throw new RunError(`rapo: option 'phiTemperature' must be > 0, got ${resolved.phiTemperature}`);
  if (!(resolved.clip > 0 && resolved.clip < 1))
    throw new RunError(`rapo: option 'clip' must be in (0, 1), got ${resolved.clip}`);
  return {
    name: 'rapo',
    kind: 'rows',
    summary: 'RAPO: PPO surrogate plus a forward KL to a reward-reweighted reference, which lets low-reward samples explore.',
    paper: RAPO,
    needs: { reference: true },
    options: RAPO_OPTIONS,
    resolved,
    math:
      '$J = \\mathbb E[r] - \\alpha\\,\\mathrm{KL}(\\hat\\pi_{ref}\\|\\pi_\\theta) + \\beta H(\\pi_\\theta)$, $\\hat\\pi_{ref} \\propto \\pi_{ref}^{\\varphi(r)}$ [paper]. ' +
      'Per token: $\\log\\hat\\pi_{ref,t} = \\varphi_t\\log\\pi_{ref,t}$, $t = \\hat\\pi_{ref}/\\pi_\\theta$, estimate $t\\log t - t + 1$; $\\varphi_t = \\sigma(A_t/T)$ [ours].',
    unverified: [
      "phi(r) is the paper's, not confirmed: we use sigmoid(advantage / phiTemperature) because the batch carries advantages, not rewards.",
      'The per-token exponent ignores the normaliser Z of the reweighted reference (our reading of the RAPO paper).',
      'alpha and the entropy weight are not confirmed against the paper.',
    ],
    loss(batch, tf): LossResult<Tensor> {
      const reference = needReference(batch, 'rapo', 'the reference policy');
      const ratio = tf.exp(tf.clipByValue(tf.sub(batch.logprobs, batch.oldLogprobs), -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP));
      const clipped = tf.clipByValue(ratio, 1 - resolved.clip, 1 + resolved.clip);
      const surrogate = tf.neg(tf.minimum(tf.mul(ratio, batch.advantages), tf.mul(clipped, batch.advantages)));
      const phi = tf.sigmoid(tf.div(batch.advantages, resolved.phiTemperature));
      const logU = tf.clipByValue(tf.sub(tf.mul(phi, reference), batch.logprobs), -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP);
      const forwardKl = tf.add(
        forwardKlGenerator.reverseTensor(logU, tf),
        tf.mul(forwardKlGenerator.slopeAtOne, tf.sub(tf.exp(logU), 1)),
      );
      let perToken = tf.add(surrogate, tf.mul(resolved.alpha, forwardKl));
      if (resolved.entropyCoef !== 0) {
        if (!batch.entropy)
          throw new RunError(
            'rapo: entropyCoef is set but the batch has no entropy; ask the trainer for entropies or set entropyCoef=0',
          );
        perToken = tf.sub(perToken, tf.mul(resolved.entropyCoef, batch.entropy));
      }
      const loss = aggregateLoss(tf, perToken, batch.mask, batch.weights, batch.aggregation, batch.normLength);
      return {
        loss,
        metrics: { forwardKl: aggregateLoss(tf, forwardKl, batch.mask, undefined, 'token-mean', batch.normLength) },
      };
    },
    configure(next) {
      return rapo(next as RapoOptions);
    },
  };
}

export function builtInLosses(): TensorLoss[] {
  return [sft(), opd(), rapo()];
}
