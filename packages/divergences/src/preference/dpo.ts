/**
 * Every `loss_type` of TRL's DPOTrainer (trl/trainer/dpo_trainer.py) as a preference objective, plus the
 * f-divergence variants of the sigmoid loss. Notation: c = lp(y_w) - lp_ref(y_w) and
 * r = lp(y_l) - lp_ref(y_l) are the summed log-ratios; s(.) is the f-divergence score
 * (s = identity for reverse KL) and Delta = s(c) - s(r).
 */
import { type OptionSpec, type PaperRef, resolveOptions, UsageError } from '@policy-lab/core';
import { dpoLoss } from '../preference.js';
import type { Tensor, Tf } from '../tensor-types.js';
import type { PairedPreferenceObjective, PreferenceBatch } from './batch.js';
import {
  BETA_OPTION,
  CATALOG_NOTE,
  cappedExp,
  check,
  checkBeta,
  chosenNll,
  logSigmoid,
  pairMetrics,
  referenceLogps,
  safeLengths,
  sortedDifferentiable,
} from './common.js';
import { type PreferenceReference, TRL_SOURCES, trlReference } from './reference.js';

export type DpoDivergence = 'reverse-kl' | 'forward-kl' | 'js' | 'alpha';
export const DPO_DIVERGENCES: readonly DpoDivergence[] = ['reverse-kl', 'forward-kl', 'js', 'alpha'];
/** TRL's `f_divergence_type` value of each divergence. */
const TRL_F_DIVERGENCE: Record<DpoDivergence, string> = {
  'reverse-kl': 'reverse_kl',
  'forward-kl': 'forward_kl',
  js: 'js_divergence',
  alpha: 'alpha_divergence',
};

export interface DpoObjectiveOptions {
  beta?: number;
  /** TRL `reference_free`: the reference log-probs are taken as 0 and not needed. */
  referenceFree?: boolean;
  /** TRL `f_divergence_type` (only on the losses built on Delta). */
  divergence?: DpoDivergence;
  /** alpha of the alpha-divergence score (TRL default 0.5). */
  alphaDivergence?: number;
  /** epsilon of the losses that smooth labels (cDPO, exo-pair, robust, aot). */
  labelSmoothing?: number;
  /** tau of DiscoPOP's modulation. */
  tau?: number;
  /** LD-DPO: weight of the tokens past the pair's shared length (1 = off). */
  ldAlpha?: number;
  /** WPO: weigh each pair by exp of both responses' mean aligned log-probability (no cap, as TRL). */
  useWeighting?: boolean;
}

type Resolved = DpoObjectiveOptions & { beta: number };

/** What a loss type sees: the log-ratios, the scored margin, lengths and the batch. */
interface PairTerms {
  /** WPO's per-pair weights, when use_weighting is on. */
  weights?: Tensor;
  /** c = lp(y_w) - lp_ref(y_w), [pairs]. */
  chosen: Tensor;
  /** r = lp(y_l) - lp_ref(y_l), [pairs]. */
  rejected: Tensor;
  /** Delta = s(c) - s(r), [pairs]. */
  delta: Tensor;
  refChosen: Tensor;
  refRejected: Tensor;
  batch: PreferenceBatch;
}

interface DpoSpec {
  name: string;
  aliases?: readonly string[];
  /** TRL's `loss_type` string. */
  lossType: string;
  summary: string;
  paper: PaperRef;
  math: string;
  /** The loss reads Delta, so `divergence` applies. */
  usesScores: boolean;
  /** Extra options with their specs (beta and referenceFree are always there). */
  extraOptions?: Record<string, OptionSpec>;
  needsLengths?: boolean;
  batchCoupled?: boolean;
  /** No reference at all (the SFT term). */
  referenceFreeAlways?: boolean;
  unverified?: readonly string[];
  /** The TRL code checked (default: DPOTrainer._compute_loss after the refactor, with this loss type). */
  references?: readonly PreferenceReference[];
  validate?(resolved: Resolved, owner: string): void;
  /** Scalar loss (most: the mean of a per-pair loss). */
  loss(terms: PairTerms, resolved: Resolved, tf: Tf): Tensor;
}

const REFERENCE_FREE_OPTION: OptionSpec = {
  type: 'boolean',
  default: false,
  doc: 'TRL reference_free (DPOTrainer before its refactor, bc13ae6): take the reference log-probs as 0 (no reference model)',
};
const DIVERGENCE_OPTIONS: Record<string, OptionSpec> = {
  divergence: {
    type: 'enum',
    default: 'reverse-kl',
    values: DPO_DIVERGENCES,
    doc: 'TRL f_divergence_type: the score s(logratio) whose chosen-minus-rejected difference is Delta',
  },
  alphaDivergence: {
    type: 'number',
    default: 0.5,
    doc: 'alpha of the alpha-divergence score e^{(alpha-1) logratio}/(alpha-1), in (0, 1) (TRL default 0.5)',
  },
};
/** TRL's `ld_alpha` and `use_weighting`, which apply to every loss type with a reference. */
const LENGTH_AND_WEIGHTING_OPTIONS: Record<string, OptionSpec> = {
  ldAlpha: {
    type: 'number',
    default: 1,
    doc: "LD-DPO (TRL ld_alpha): summed log-prob = shared-length part + ldAlpha x the longer response's tail; in [0, 1], 1 = off",
  },
  useWeighting: {
    type: 'boolean',
    default: false,
    doc: "WPO (TRL use_weighting): multiply each pair's loss by exp(aligned_w) exp(aligned_l) (no cap), aligned = mean of log pi(y_t) - log sum_v pi(v)^2",
  },
};
const smoothing = (defaultValue: number, doc: string): Record<string, OptionSpec> => ({
  labelSmoothing: { type: 'number', default: defaultValue, doc },
});

const DPO_PAPER: PaperRef = {
  title: 'Direct Preference Optimization: Your Language Model is Secretly a Reward Model',
  arxiv: '2305.18290',
  year: 2023,
};
const F_DPO_PAPER: PaperRef = {
  title: 'Beyond Reverse KL: Generalizing Direct Preference Optimization with Diverse Divergence Constraints',
  arxiv: '2309.16240',
  year: 2023,
};

/** s(logratio) for each f-divergence (TRL's dpo_trainer.py after its DPO refactor). */
function score(logratio: Tensor, resolved: Resolved, tf: Tf): Tensor {
  switch (resolved.divergence ?? 'reverse-kl') {
    case 'reverse-kl':
      return logratio;
    case 'forward-kl':
      return tf.neg(cappedExp(tf.neg(logratio), tf));
    case 'js':
      return logSigmoid(logratio, tf);
    case 'alpha': {
      const alpha = resolved.alphaDivergence ?? 0.5;
      return tf.div(cappedExp(tf.mul(alpha - 1, logratio), tf), alpha - 1);
    }
  }
}

/** -(1-eps) log sigma(z) - eps log sigma(-z): cDPO, aot. */
function smoothedSigmoid(z: Tensor, epsilon: number, tf: Tf): Tensor {
  const positive = tf.neg(logSigmoid(z, tf));
  if (epsilon === 0) return positive;
  return tf.add(tf.mul(1 - epsilon, positive), tf.mul(-epsilon, logSigmoid(tf.neg(z), tf)));
}

function buildDpo(spec: DpoSpec, options: DpoObjectiveOptions): PairedPreferenceObjective {
  const specs: Record<string, OptionSpec> = {
    beta: BETA_OPTION,
    ...(spec.referenceFreeAlways ? {} : { referenceFree: REFERENCE_FREE_OPTION }),
    ...(spec.usesScores ? DIVERGENCE_OPTIONS : {}),
    ...(spec.referenceFreeAlways ? {} : LENGTH_AND_WEIGHTING_OPTIONS),
    ...spec.extraOptions,
  };
  const resolved = resolveDpo(spec.name, specs, options);
  checkBeta(spec.name, resolved.beta);
  const ldAlpha = resolved.ldAlpha ?? 1;
  check(spec.name, 'ldAlpha', ldAlpha, ldAlpha >= 0 && ldAlpha <= 1, 'in [0, 1]');
  const useWeighting = resolved.useWeighting === true;
  if (spec.usesScores) {
    const alpha = resolved.alphaDivergence ?? 0.5;
    check(spec.name, 'alphaDivergence', alpha, alpha > 0 && alpha < 1, 'in (0, 1)');
  }
  spec.validate?.(resolved, spec.name);
  const needsReference = !spec.referenceFreeAlways && resolved.referenceFree !== true;
  const divergence = resolved.divergence ?? 'reverse-kl';
  return {
    data: 'paired',
    name: spec.name,
    ...(spec.aliases ? { aliases: spec.aliases } : {}),
    summary: spec.summary,
    paper: spec.paper,
    matches: `TRL DPOTrainer \`loss_type='${spec.lossType}'\`${divergence === 'reverse-kl' ? '' : `, \`f_divergence_type='${TRL_F_DIVERGENCE[divergence]}'\``}`,
    references: spec.references ?? [trlReference(TRL_SOURCES.DPO, `loss_type='${spec.lossType}'`)],
    options: specs,
    resolved,
    math: spec.math,
    needsReference,
    needs: {
      reference: needsReference,
      lengths: spec.needsLengths ?? false,
      batchCoupled: spec.batchCoupled ?? false,
      tails: ldAlpha !== 1,
      aligned: useWeighting,
    },
    unverified: [...(spec.unverified ?? []), CATALOG_NOTE],
    loss(given, tf) {
      const batch = ldAlpha === 1 ? given : downweightTails(given, ldAlpha, needsReference, spec.name, tf);
      const refs = needsReference
        ? referenceLogps(batch, spec.name)
        : { refChosen: tf.zerosLike(batch.chosenLogps), refRejected: tf.zerosLike(batch.rejectedLogps) };
      const chosen = tf.sub(batch.chosenLogps, refs.refChosen);
      const rejected = tf.sub(batch.rejectedLogps, refs.refRejected);
      const delta = tf.sub(score(chosen, resolved, tf), score(rejected, resolved, tf));
      const weights = useWeighting ? wpoWeights(batch, spec.name, tf) : undefined;
      const loss = spec.loss({ chosen, rejected, delta, ...refs, batch, ...(weights ? { weights } : {}) }, resolved, tf);
      // TRL's rewards are beta x the plain log-ratios whatever the divergence.
      const metrics = pairMetrics(tf.mul(resolved.beta, chosen), tf.mul(resolved.beta, rejected), tf);
      return { loss, metrics: { ...metrics } };
    },
    configure: (next) => buildDpo(spec, { ...resolved, ...(next as DpoObjectiveOptions) }),
  };
}

function resolveDpo(owner: string, specs: Record<string, OptionSpec>, options: DpoObjectiveOptions): Resolved {
  return resolveOptions<Resolved>(owner, specs, { ...options });
}

/** The mean over pairs, weighted by WPO's weights when they are on (TRL: losses x policy_weights, then the mean). */
const mean = (perPair: Tensor, weights: Tensor | undefined, tf: Tf): Tensor =>
  tf.mean(weights ? tf.mul(perPair, weights) : perPair);

/** LD-DPO: lp <- lp - (1 - alpha) x tail, on the policy and on the reference (TRL's concatenated forward does both). */
function downweightTails(batch: PreferenceBatch, alpha: number, withReference: boolean, owner: string, tf: Tf): PreferenceBatch {
  const { chosenTailLogps, rejectedTailLogps, refChosenTailLogps, refRejectedTailLogps } = batch;
  if (!chosenTailLogps || !rejectedTailLogps || (withReference && (!refChosenTailLogps || !refRejectedTailLogps)))
    throw new UsageError(
      `${owner}: ldAlpha needs the tails' log-probabilities (the trainer supplies them when needs.tails is set)`,
    );
  const cut = (total: Tensor, tail: Tensor) => tf.sub(total, tf.mul(1 - alpha, tail));
  return {
    ...batch,
    chosenLogps: cut(batch.chosenLogps, chosenTailLogps),
    rejectedLogps: cut(batch.rejectedLogps, rejectedTailLogps),
    ...(withReference && batch.refChosenLogps && batch.refRejectedLogps
      ? {
          refChosenLogps: cut(batch.refChosenLogps, refChosenTailLogps as Tensor),
          refRejectedLogps: cut(batch.refRejectedLogps, refRejectedTailLogps as Tensor),
        }
      : {}),
  };
}

/**
 * WPO: exp(aligned_w) x exp(aligned_l) per pair, no gradient (the trainer computes aligned without
 * one). TRL's DPOTrainer (535544b) does not cap it; older TRL capped it at 1.
 */
function wpoWeights(batch: PreferenceBatch, owner: string, tf: Tf): Tensor {
  if (!batch.chosenAlignedLogps || !batch.rejectedAlignedLogps)
    throw new UsageError(
      `${owner}: useWeighting needs the aligned log-probabilities (the trainer supplies them when needs.aligned is set)`,
    );
  return tf.exp(tf.add(batch.chosenAlignedLogps, batch.rejectedAlignedLogps));
}

// ---------------------------------------------------------------------------------------
// The loss types

/** sigmoid: -log sigma(beta Delta), with optional cDPO label smoothing. */
export function dpoSigmoid(options: DpoObjectiveOptions = {}): PairedPreferenceObjective {
  return buildDpo(
    {
      name: 'dpo',
      aliases: ['dpo-sigmoid'],
      lossType: 'sigmoid',
      summary: 'DPO: the negative log-sigmoid of beta times the implicit-reward margin of chosen over rejected.',
      paper: DPO_PAPER,
      usesScores: true,
      references: [
        trlReference(TRL_SOURCES.DPO, "loss_type='sigmoid'"),
        trlReference(TRL_SOURCES.DPO_LEGACY, "loss_type='sigmoid' with label_smoothing (cDPO) or reference_free"),
      ],
      extraOptions: smoothing(
        0,
        'cDPO label smoothing epsilon in [0, 0.5): -(1-eps) log sigma(beta Delta) - eps log sigma(-beta Delta) (TRL label_smoothing before the DPO refactor, bc13ae6; the refactored sigmoid loss has none, so 0)',
      ),
      math: '$\\ell = -(1-\\varepsilon)\\log\\sigma(\\beta\\Delta) - \\varepsilon\\log\\sigma(-\\beta\\Delta)$, $\\Delta = s(c) - s(r)$; $\\varepsilon = 0$ is DPO.',
      validate: validateSmoothing(0, 0.5, 'in [0, 0.5)', true),
      loss({ delta, refChosen, refRejected, batch, weights }, resolved, tf) {
        const epsilon = resolved.labelSmoothing ?? 0;
        // The plain case is exactly the package's dpoLoss (which divides by the weights' sum, so
        // WPO, whose TRL form is the plain mean of weighted losses, takes the general path).
        if ((resolved.divergence ?? 'reverse-kl') === 'reverse-kl' && epsilon === 0 && !weights) {
          const inputs = {
            policyChosen: batch.chosenLogps,
            policyRejected: batch.rejectedLogps,
            refChosen,
            refRejected,
            beta: resolved.beta,
          };
          return dpoLoss(inputs, tf);
        }
        return mean(smoothedSigmoid(tf.mul(resolved.beta, delta), epsilon, tf), weights, tf);
      },
    },
    options,
  );
}

function validateSmoothing(low: number, high: number, accepted: string, includeLow: boolean) {
  return (resolved: Resolved, owner: string): void => {
    const epsilon = resolved.labelSmoothing ?? 0;
    check(owner, 'labelSmoothing', epsilon, (includeLow ? epsilon >= low : epsilon > low) && epsilon < high, accepted);
  };
}

/** hinge (SLiC): max(0, 1 - beta Delta). */
export function dpoHinge(options: DpoObjectiveOptions = {}): PairedPreferenceObjective {
  return buildDpo(
    {
      name: 'dpo-hinge',
      lossType: 'hinge',
      summary: 'SLiC hinge loss on the implicit-reward margin: zero once beta times the margin exceeds 1.',
      paper: { title: 'SLiC-HF: Sequence Likelihood Calibration with Human Feedback', arxiv: '2305.10425', year: 2023 },
      usesScores: true,
      math: '$\\ell = \\max(0, 1 - \\beta\\Delta)$',
      loss: ({ delta, weights }, resolved, tf) => mean(tf.relu(tf.sub(1, tf.mul(resolved.beta, delta))), weights, tf),
    },
    options,
  );
}

/** ipo: (c/L_w - r/L_l - 1/(2 beta))^2 on per-token-averaged log-ratios. */
export function dpoIpo(options: DpoObjectiveOptions = {}): PairedPreferenceObjective {
  return buildDpo(
    {
      name: 'dpo-ipo',
      lossType: 'ipo',
      summary: 'IPO: squared distance of the length-averaged log-ratio margin from the target 1/(2 beta).',
      paper: {
        title: 'A General Theoretical Paradigm to Understand Learning from Human Preferences',
        arxiv: '2310.12036',
        year: 2023,
      },
      usesScores: false,
      needsLengths: true,
      math: '$\\ell = \\big(c/L_w - r/L_l - \\tfrac{1}{2\\beta}\\big)^2$, $L \\ge 1$ (TRL averages the log-probs per token for IPO)',
      loss({ chosen, rejected, batch, weights }, resolved, tf) {
        const averaged = tf.sub(
          tf.div(chosen, safeLengths(batch.chosenLengths, tf)),
          tf.div(rejected, safeLengths(batch.rejectedLengths, tf)),
        );
        return mean(tf.square(tf.sub(averaged, 1 / (2 * resolved.beta))), weights, tf);
      },
    },
    options,
  );
}

/** exo_pair: reverse KL from the label distribution (1-eps, eps) to sigma(+-beta Delta). */
export function dpoExoPair(options: DpoObjectiveOptions = {}): PairedPreferenceObjective {
  return buildDpo(
    {
      name: 'dpo-exo-pair',
      lossType: 'exo_pair',
      summary:
        'EXO (pairwise): the KL from the model-implied preference sigma(beta Delta) to the smoothed label, which seeks its mode.',
      paper: { title: 'Towards Efficient Exact Optimization of Language Model Alignment', arxiv: '2402.00856', year: 2024 },
      usesScores: true,
      extraOptions: smoothing(
        1e-3,
        'label smoothing epsilon in (0, 1); 0 would take log 0, so the default is 1e-3 (what older TRL forced)',
      ),
      validate: validateSmoothing(0, 1, 'in (0, 1) (0 takes log 0)', false),
      unverified: [
        "TRL's refactored DPOTrainer (535544b) takes label_smoothing as given, so its default 0 makes exo_pair infinite; this loss refuses 0 and defaults to 1e-3, the value TRL forced before the refactor (bc13ae6).",
      ],
      math: '$q_w = \\sigma(\\beta\\Delta)$, $q_l = \\sigma(-\\beta\\Delta)$: $\\ell = q_w(\\log q_w - \\log(1-\\varepsilon)) + q_l(\\log q_l - \\log\\varepsilon)$',
      loss({ delta, weights }, resolved, tf) {
        const epsilon = resolved.labelSmoothing ?? 1e-3;
        const z = tf.mul(resolved.beta, delta);
        const chosenTerm = tf.mul(tf.sigmoid(z), tf.sub(logSigmoid(z, tf), Math.log(1 - epsilon)));
        const rejectedTerm = tf.mul(tf.sigmoid(tf.neg(z)), tf.sub(logSigmoid(tf.neg(z), tf), Math.log(epsilon)));
        return mean(tf.add(chosenTerm, rejectedTerm), weights, tf);
      },
    },
    options,
  );
}

/** nca_pair: -log sigma(beta c) - 1/2 log sigma(-beta c) - 1/2 log sigma(-beta r). */
export function dpoNcaPair(options: DpoObjectiveOptions = {}): PairedPreferenceObjective {
  return buildDpo(
    {
      name: 'dpo-nca-pair',
      lossType: 'nca_pair',
      summary:
        'NCA (pairwise): raises the chosen implicit reward absolutely while pushing both rewards down, so likelihoods do not collapse.',
      paper: { title: 'Noise Contrastive Alignment of Language Models with Explicit Rewards', arxiv: '2402.05369', year: 2024 },
      usesScores: false,
      math: '$\\ell = -\\log\\sigma(\\beta c) - \\tfrac12\\log\\sigma(-\\beta c) - \\tfrac12\\log\\sigma(-\\beta r)$',
      loss({ chosen, rejected, weights }, resolved, tf) {
        const bc = tf.mul(resolved.beta, chosen);
        const br = tf.mul(resolved.beta, rejected);
        const perPair = tf.sub(
          tf.neg(logSigmoid(bc, tf)),
          tf.mul(0.5, tf.add(logSigmoid(tf.neg(bc), tf), logSigmoid(tf.neg(br), tf))),
        );
        return mean(perPair, weights, tf);
      },
    },
    options,
  );
}

/** robust: the unbiased DPO loss under label flips with probability eps. */
export function dpoRobust(options: DpoObjectiveOptions = {}): PairedPreferenceObjective {
  return buildDpo(
    {
      name: 'dpo-robust',
      lossType: 'robust',
      summary: 'Robust DPO: an unbiased estimate of the DPO loss when each label is flipped with probability epsilon.',
      paper: { title: 'Provably Robust DPO: Aligning Language Models with Noisy Feedback', arxiv: '2403.00409', year: 2024 },
      usesScores: true,
      extraOptions: smoothing(0, 'label-flip rate epsilon in [0, 0.5) (TRL label_smoothing, default 0 = DPO)'),
      validate: validateSmoothing(0, 0.5, 'in [0, 0.5) (0.5 divides by zero)', true),
      math: '$\\ell = \\dfrac{-(1-\\varepsilon)\\log\\sigma(\\beta\\Delta) + \\varepsilon\\log\\sigma(-\\beta\\Delta)}{1-2\\varepsilon}$',
      loss({ delta, weights }, resolved, tf) {
        const epsilon = resolved.labelSmoothing ?? 0;
        const z = tf.mul(resolved.beta, delta);
        const numerator = tf.add(tf.mul(-(1 - epsilon), logSigmoid(z, tf)), tf.mul(epsilon, logSigmoid(tf.neg(z), tf)));
        return mean(tf.div(numerator, 1 - 2 * epsilon), weights, tf);
      },
    },
    options,
  );
}

/** bco_pair: -log sigma(beta c) - log sigma(-beta r). */
export function dpoBcoPair(options: DpoObjectiveOptions = {}): PairedPreferenceObjective {
  return buildDpo(
    {
      name: 'dpo-bco-pair',
      lossType: 'bco_pair',
      summary: 'BCO (pairwise): a binary classifier that scores chosen completions positive and rejected ones negative.',
      paper: { title: 'Binary Classifier Optimization for Large Language Model Alignment', arxiv: '2404.04656', year: 2024 },
      usesScores: false,
      math: '$\\ell = -\\log\\sigma(\\beta c) - \\log\\sigma(-\\beta r)$ (current TRL: no running-mean shift $\\delta$)',
      unverified: [
        'The BCO paper shifts the rewards by a running mean delta; current TRL dropped it and so do we (the history of the TRL BCO code).',
      ],
      loss({ chosen, rejected, weights }, resolved, tf) {
        const perPair = tf.neg(
          tf.add(logSigmoid(tf.mul(resolved.beta, chosen), tf), logSigmoid(tf.mul(-resolved.beta, rejected), tf)),
        );
        return mean(perPair, weights, tf);
      },
    },
    options,
  );
}

/** sppo_hard: (c - 1/(2 beta))^2 + (r + 1/(2 beta))^2. */
export function dpoSppoHard(options: DpoObjectiveOptions = {}): PairedPreferenceObjective {
  return buildDpo(
    {
      name: 'dpo-sppo-hard',
      lossType: 'sppo_hard',
      summary: 'SPPO with hard labels: regresses the chosen log-ratio to +1/(2 beta) and the rejected one to -1/(2 beta).',
      paper: { title: 'Self-Play Preference Optimization for Language Model Alignment', arxiv: '2405.00675', year: 2024 },
      usesScores: false,
      math: '$\\ell = (c - \\tfrac{1}{2\\beta})^2 + (r + \\tfrac{1}{2\\beta})^2$ (win probability 1 for chosen, 0 for rejected)',
      loss({ chosen, rejected, weights }, resolved, tf) {
        const target = 1 / (2 * resolved.beta);
        return mean(tf.add(tf.square(tf.sub(chosen, target)), tf.square(tf.add(rejected, target))), weights, tf);
      },
    },
    options,
  );
}

const AOT_PAPER: PaperRef = {
  title: 'Distributional Preference Alignment of LLMs via Optimal Transport',
  arxiv: '2406.05882',
  year: 2024,
};

/** What both AOT forms share: the paper, batch coupling and label smoothing. */
function aotCommon() {
  return {
    paper: AOT_PAPER,
    usesScores: false,
    batchCoupled: true,
    extraOptions: smoothing(0, 'label smoothing epsilon in [0, 0.5) (TRL label_smoothing, default 0)'),
    validate: validateSmoothing(0, 0.5, 'in [0, 0.5)', true),
  } as const;
}

/** aot: sort lp_w - lp_l and ref_w - ref_l separately over the batch, then a smoothed sigmoid. */
export function dpoAot(options: DpoObjectiveOptions = {}): PairedPreferenceObjective {
  return buildDpo(
    {
      name: 'dpo-aot',
      lossType: 'aot',
      summary:
        'AOT (paired): aligns the sorted policy log-ratio margins against the sorted reference margins over the batch (first-order stochastic dominance).',
      ...aotCommon(),
      math:
        '$d_k = lp(y_w) - lp(y_l)$, $d^{ref}_k = lp_{ref}(y_w) - lp_{ref}(y_l)$; $\\delta_k = d_{(k)} - d^{ref}_{(k)}$ (each sorted over the batch); ' +
        '$\\ell = -(1-\\varepsilon)\\log\\sigma(\\beta\\delta) - \\varepsilon\\log\\sigma(-\\beta\\delta)$. Batch size 1 is DPO.',
      loss({ refChosen, refRejected, batch, weights }, resolved, tf) {
        const policy = sortedDifferentiable(tf.sub(batch.chosenLogps, batch.rejectedLogps), tf);
        const reference = sortedDifferentiable(tf.sub(refChosen, refRejected), tf);
        const delta = tf.sub(policy, reference);
        return mean(smoothedSigmoid(tf.mul(resolved.beta, delta), resolved.labelSmoothing ?? 0, tf), weights, tf);
      },
    },
    options,
  );
}

/** aot_unpaired (old name aot_pair): sort c and r separately, then a smoothed sigmoid. */
export function dpoAotUnpaired(options: DpoObjectiveOptions = {}): PairedPreferenceObjective {
  return buildDpo(
    {
      name: 'dpo-aot-unpaired',
      lossType: 'aot_unpaired',
      summary:
        'AOT (unpaired): makes the distribution of chosen log-ratios dominate that of rejected ones, comparing them in sorted order over the batch.',
      ...aotCommon(),
      math:
        '$\\delta_k = c_{(k)} - r_{(k)}$ with $c$ and $r$ each sorted over the batch; ' +
        '$\\ell = -(1-\\varepsilon)\\log\\sigma(\\beta\\delta) - \\varepsilon\\log\\sigma(-\\beta\\delta)$. TRL renamed `aot_pair` to `aot_unpaired`.',
      loss({ chosen, rejected, weights }, resolved, tf) {
        const delta = tf.sub(sortedDifferentiable(chosen, tf), sortedDifferentiable(rejected, tf));
        return mean(smoothedSigmoid(tf.mul(resolved.beta, delta), resolved.labelSmoothing ?? 0, tf), weights, tf);
      },
    },
    options,
  );
}

const APO_PAPER: PaperRef = {
  title: 'Anchored Preference Optimization and Contrastive Revisions: Addressing Underspecification in Alignment',
  arxiv: '2408.06266',
  year: 2024,
};

/** apo_zero: (1 - sigma(beta c)) + sigma(beta r). */
export function dpoApoZero(options: DpoObjectiveOptions = {}): PairedPreferenceObjective {
  return buildDpo(
    {
      name: 'dpo-apo-zero',
      lossType: 'apo_zero',
      summary:
        'APO-zero: raises the chosen likelihood and lowers the rejected one, each anchored at the reference (for chosen better than the model).',
      paper: APO_PAPER,
      usesScores: false,
      math: '$\\ell = (1 - \\sigma(\\beta c)) + \\sigma(\\beta r)$',
      loss({ chosen, rejected, weights }, resolved, tf) {
        const perPair = tf.add(tf.sub(1, tf.sigmoid(tf.mul(resolved.beta, chosen))), tf.sigmoid(tf.mul(resolved.beta, rejected)));
        return mean(perPair, weights, tf);
      },
    },
    options,
  );
}

/** apo_down: sigma(beta c) + (1 - sigma(beta Delta)). */
export function dpoApoDown(options: DpoObjectiveOptions = {}): PairedPreferenceObjective {
  return buildDpo(
    {
      name: 'dpo-apo-down',
      lossType: 'apo_down',
      summary:
        'APO-down: lowers both likelihoods but the rejected one more (for data where the model beats even the chosen answer).',
      paper: APO_PAPER,
      usesScores: true,
      math: '$\\ell = \\sigma(\\beta c) + (1 - \\sigma(\\beta\\Delta))$',
      loss({ chosen, delta, weights }, resolved, tf) {
        const perPair = tf.add(tf.sigmoid(tf.mul(resolved.beta, chosen)), tf.sub(1, tf.sigmoid(tf.mul(resolved.beta, delta))));
        return mean(perPair, weights, tf);
      },
    },
    options,
  );
}

/** discopop: z = beta Delta, mu = sigma(z / tau); (1 - mu)(-log sigma(z)) + mu e^{-z}. */
export function dpoDiscopop(options: DpoObjectiveOptions = {}): PairedPreferenceObjective {
  return buildDpo(
    {
      name: 'dpo-discopop',
      lossType: 'discopop',
      summary: 'DiscoPOP: a discovered blend of the logistic and exponential losses, mixed by a sigmoid of the margin.',
      paper: {
        title: 'Discovering Preference Optimization Algorithms with and for Large Language Models',
        arxiv: '2406.08414',
        year: 2024,
      },
      usesScores: true,
      extraOptions: {
        tau: { type: 'number', default: 0.05, doc: 'temperature of the modulation sigma(z / tau), > 0 (TRL discopop_tau 0.05)' },
      },
      validate: (resolved, owner) => check(owner, 'tau', resolved.tau ?? 0.05, (resolved.tau ?? 0.05) > 0, '> 0'),
      math: '$z = \\beta\\Delta$, $\\mu = \\sigma(z/\\tau)$: $\\ell = (1-\\mu)(-\\log\\sigma(z)) + \\mu e^{-z}$',
      loss({ delta, weights }, resolved, tf) {
        const z = tf.mul(resolved.beta, delta);
        const modulation = tf.sigmoid(tf.div(z, resolved.tau ?? 0.05));
        const logistic = tf.neg(logSigmoid(z, tf));
        const exponential = cappedExp(tf.neg(z), tf);
        return mean(tf.add(tf.mul(tf.sub(1, modulation), logistic), tf.mul(modulation, exponential)), weights, tf);
      },
    },
    options,
  );
}

/** sft: token-mean cross-entropy on the chosen completions (the same value for every pair). */
export function dpoSft(options: Pick<DpoObjectiveOptions, 'beta'> = {}): PairedPreferenceObjective {
  return buildDpo(
    {
      name: 'dpo-sft',
      lossType: 'sft',
      summary: 'The SFT term of mixed DPO recipes (MPO): cross-entropy on the chosen completions, no reference.',
      paper: {
        title: 'Enhancing the Reasoning Ability of Multimodal Large Language Models via Mixed Preference Optimization',
        arxiv: '2411.10442',
        year: 2024,
      },
      usesScores: false,
      needsLengths: true,
      referenceFreeAlways: true,
      math: '$\\ell = -\\sum_k lp(y_{w,k}) / \\sum_k L_{w,k}$ (token mean over every chosen token of the batch); beta only scales the logged rewards',
      unverified: [
        'The token mean is taken over the whole batch (sum of log-probs over sum of lengths); TRL copies one batch value to every pair, which has the same mean.',
      ],
      loss: ({ batch }, _resolved, tf) => chosenNll(batch, tf),
    },
    options,
  );
}

/** sigmoid_norm: -log sigma(beta (c/L_w - r/L_l)). */
export function dpoSigmoidNorm(options: DpoObjectiveOptions = {}): PairedPreferenceObjective {
  return buildDpo(
    {
      name: 'dpo-sigmoid-norm',
      lossType: 'sigmoid_norm',
      summary: 'Length-normalised DPO: the sigmoid loss on per-token-averaged log-ratios.',
      paper: {
        title: 'Tulu 3: Pushing Frontiers in Open Language Model Post-Training',
        arxiv: '2411.15124',
        year: 2024,
      },
      usesScores: false,
      needsLengths: true,
      references: [trlReference(TRL_SOURCES.DPO_SIGMOID_NORM, "loss_type='sigmoid_norm'")],
      math: '$\\ell = -\\log\\sigma\\big(\\beta(c/L_w - r/L_l)\\big)$, $L \\ge 1$',
      unverified: [
        'Attributed to length-normalised DPO as used in Tulu 3; the TRL docs were not checked for the citation.',
        "Checked against a fork's copy of TRL's DPOTrainer (carbonteq-ai/trl): no stored huggingface/trl commit has loss_type sigmoid_norm.",
      ],
      loss({ chosen, rejected, batch, weights }, resolved, tf) {
        const averaged = tf.sub(
          tf.div(chosen, safeLengths(batch.chosenLengths, tf)),
          tf.div(rejected, safeLengths(batch.rejectedLengths, tf)),
        );
        return mean(tf.softplus(tf.mul(-resolved.beta, averaged)), weights, tf);
      },
    },
    options,
  );
}

// ---------------------------------------------------------------------------------------
// f-divergence DPO: the sigmoid loss with another score

function fDpo(name: string, divergence: DpoDivergence, summary: string) {
  const factory = (options: Omit<DpoObjectiveOptions, 'divergence'> = {}): PairedPreferenceObjective => {
    if ('divergence' in options) {
      throw new UsageError(
        `${name}: unknown option 'divergence' (fixed to ${divergence}); use dpo with divergence=<${DPO_DIVERGENCES.join('|')}>`,
      );
    }
    if (divergence !== 'alpha' && 'alphaDivergence' in options) {
      throw new UsageError(`${name}: unknown option 'alphaDivergence' (only dpo-alpha has one)`);
    }
    const base = dpoSigmoid({ ...options, divergence });
    const { divergence: _fixed, ...rest } = base.options;
    const specs: Record<string, OptionSpec> = { ...rest };
    if (divergence !== 'alpha') delete specs.alphaDivergence;
    const { divergence: _same, ...resolved } = base.resolved as DpoObjectiveOptions;
    if (divergence !== 'alpha') delete resolved.alphaDivergence;
    const { aliases: _dpoAliases, ...unnamed } = base;
    return {
      ...unnamed,
      name,
      summary,
      paper: F_DPO_PAPER,
      references: [trlReference(TRL_SOURCES.DPO, `loss_type='sigmoid', f_divergence_type='${TRL_F_DIVERGENCE[divergence]}'`)],
      options: specs,
      resolved,
      unverified: [
        CATALOG_NOTE,
        "Scores follow TRL after its DPO refactor (trl/trainer/dpo_trainer.py): alpha uses e^{(alpha-1) u}/(alpha-1); older TRL used -e^{-alpha u}/alpha. They agree at alpha = 0.5, the default; the paper's parametrisation was not checked.",
      ],
      configure: (next) => factory({ ...resolved, ...next }),
    };
  };
  return factory;
}

/** f-DPO with the forward KL: s(u) = -e^{-u}. */
export const dpoForwardKl = fDpo(
  'dpo-forward-kl',
  'forward-kl',
  'f-DPO with the forward KL: the sigmoid loss on the score -exp(-logratio), which covers modes instead of seeking one.',
);
/** f-DPO with Jensen-Shannon: s(u) = log sigma(u). */
export const dpoJs = fDpo(
  'dpo-js',
  'js',
  'f-DPO with the Jensen-Shannon divergence: the sigmoid loss on the score log sigma(logratio).',
);
/** f-DPO with the alpha-divergence: s(u) = e^{(alpha-1) u}/(alpha-1). */
export const dpoAlpha = fDpo(
  'dpo-alpha',
  'alpha',
  'f-DPO with the alpha-divergence: the sigmoid loss on the score exp((alpha-1) logratio)/(alpha-1), between reverse and forward KL.',
);

/** The DPO family, one objective per TRL loss type plus the three f-divergence variants. */
export function dpoObjectives(): PairedPreferenceObjective[] {
  return [
    dpoSigmoid(),
    dpoHinge(),
    dpoIpo(),
    dpoExoPair(),
    dpoNcaPair(),
    dpoRobust(),
    dpoBcoPair(),
    dpoSppoHard(),
    dpoAot(),
    dpoAotUnpaired(),
    dpoApoZero(),
    dpoApoDown(),
    dpoDiscopop(),
    dpoSft(),
    dpoSigmoidNorm(),
    dpoForwardKl(),
    dpoJs(),
    dpoAlpha(),
  ];
}
