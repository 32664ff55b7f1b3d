/**
 * Reference-free preference objectives (TRL's ORPO and CPO trainers): ORPO (TRL ORPOTrainer) and the CPO
 * trainer's family, CPO / SimPO / AlphaPO. They compare the policy's own log-probabilities of
 * chosen and rejected, usually with an NLL term on chosen, so no reference model is kept.
 */
import { type OptionSpec, type PaperRef, resolveOptions } from '@policy-lab/core';
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
  safeLengths,
} from './common.js';
import { TRL_SOURCES, trlReference } from './reference.js';

/** Per-pair average log-probability, lp / max(L, 1). */
function averaged(logps: Tensor, lengths: Tensor, tf: Tf): Tensor {
  return tf.div(logps, safeLengths(lengths, tf));
}

/** Largest average log-probability ORPO uses: log(1 - e^0) is -infinity. */
const ORPO_LOGP_CEILING = -1e-6;

/**
 * log(1 - e^x) for x < 0, in the two stable forms (log1p(-e^x) below -ln 2, log(-expm1 x)
 * above). Each branch sees its input clamped into its own range so that the branch not taken
 * stays finite and sends no NaN through the gradient.
 */
export function log1mExp(x: Tensor, tf: Tf): Tensor {
  const clamped = tf.minimum(x, ORPO_LOGP_CEILING);
  const far = tf.log1p(tf.neg(tf.exp(tf.minimum(clamped, -Math.LN2))));
  const near = tf.log(tf.neg(tf.expm1(tf.maximum(clamped, -Math.LN2))));
  // A 0/1 mask from step (zero gradient) rather than where(less(...)): tfjs has no gradient for Less.
  const useFar = tf.step(tf.sub(-Math.LN2, clamped));
  return tf.add(tf.mul(useFar, far), tf.mul(tf.sub(1, useFar), near));
}

// ---------------------------------------------------------------------------------------
// ORPO

const ORPO_OPTIONS: Record<string, OptionSpec> = {
  beta: {
    type: 'number',
    default: 0.1,
    doc: 'lambda, the weight of the odds-ratio term against the NLL, > 0 (TRL ORPOConfig beta 0.1)',
  },
};

export interface OrpoOptions {
  beta?: number;
}

/** ORPO: NLL(chosen) - lambda mean log sigma(log-odds ratio), on averaged log-probs. */
export function orpo(options: OrpoOptions = {}): PairedPreferenceObjective {
  const resolved = resolveOptions<Required<OrpoOptions>>('orpo', ORPO_OPTIONS, { ...options });
  checkBeta('orpo', resolved.beta);
  return {
    data: 'paired',
    name: 'orpo',
    summary: 'ORPO: supervised NLL on chosen plus a penalty on the log odds ratio of chosen over rejected; no reference model.',
    paper: { title: 'ORPO: Monolithic Preference Optimization without Reference Model', arxiv: '2403.07691', year: 2024 },
    matches:
      'TRL ORPOTrainer (trl.experimental.orpo), with the NLL over the completion tokens only (TRL also averages over the prompt tokens)',
    references: [trlReference(TRL_SOURCES.ORPO, 'prompts of no tokens (see the NLL term)')],
    options: ORPO_OPTIONS,
    resolved,
    math:
      '$a = lp/L$ (average log-prob), $\\log\\mathrm{odds} = (a_w - a_l) - (\\log(1-e^{a_w}) - \\log(1-e^{a_l}))$; ' +
      '$\\mathcal L = \\mathrm{NLL}(y_w) - \\lambda\\,\\overline{\\log\\sigma(\\log\\mathrm{odds})}$, NLL the token mean over every chosen token.',
    needsReference: false,
    needs: { reference: false, lengths: true },
    unverified: [
      CATALOG_NOTE,
      `Average log-probs are clamped at ${ORPO_LOGP_CEILING} (log(1 - e^0) is -infinity); TRL does not clamp.`,
      "TRL's NLL term is the cross-entropy over the prompt and the chosen tokens (its labels come from the attention mask); this one is over the chosen completion tokens only, -sum(lp_w) / sum(L_w). The two agree when prompts carry no tokens, which is what the fixture checks.",
    ],
    loss(batch, tf) {
      const chosen = averaged(batch.chosenLogps, batch.chosenLengths, tf);
      const rejected = averaged(batch.rejectedLogps, batch.rejectedLengths, tf);
      const logOdds = tf.sub(
        tf.sub(tf.minimum(chosen, ORPO_LOGP_CEILING), tf.minimum(rejected, ORPO_LOGP_CEILING)),
        tf.sub(log1mExp(chosen, tf), log1mExp(rejected, tf)),
      );
      const oddsRatio = tf.mean(logSigmoid(logOdds, tf));
      const nll = chosenNll(batch, tf);
      const loss = tf.sub(nll, tf.mul(resolved.beta, oddsRatio));
      const metrics = pairMetrics(tf.mul(resolved.beta, chosen), tf.mul(resolved.beta, rejected), tf);
      return { loss, metrics: { ...metrics, nll, logOdds: tf.mean(logOdds), logOddsRatio: oddsRatio } };
    },
    configure: (next) => orpo({ ...resolved, ...(next as OrpoOptions) }),
  };
}

// ---------------------------------------------------------------------------------------
// CPO, SimPO, AlphaPO

export type CpoLossType = 'sigmoid' | 'hinge' | 'ipo' | 'simpo';
const CPO_LOSS_TYPES: readonly CpoLossType[] = ['sigmoid', 'hinge', 'ipo', 'simpo'];

export interface CpoFamilyOptions {
  beta?: number;
  labelSmoothing?: number;
  /** Weight of the chosen NLL (TRL cpo_alpha); 0 drops the term. */
  nllWeight?: number;
  /** SimPO's target margin gamma (TRL simpo_gamma). */
  gamma?: number;
  /** AlphaPO's reward shape alpha (TRL alpha); 0 is the log-probability itself. */
  alpha?: number;
  lossType?: CpoLossType;
}

type CpoResolved = Required<Omit<CpoFamilyOptions, 'lossType' | 'gamma'>> & Pick<CpoFamilyOptions, 'lossType' | 'gamma'>;

/** AlphaPO's reward shape: (1 - p^{-alpha}) / alpha with p = e^{lp}; alpha = 0 gives lp. */
function shape(logps: Tensor, alpha: number, tf: Tf): Tensor {
  if (alpha === 0) return logps;
  return tf.div(tf.sub(1, cappedExp(tf.mul(-alpha, logps), tf)), alpha);
}

const CPO_PAPER: PaperRef = {
  title: 'Contrastive Preference Optimization: Pushing the Boundaries of LLM Performance in Machine Translation',
  arxiv: '2401.08417',
  year: 2024,
};
const SIMPO_PAPER: PaperRef = {
  title: 'SimPO: Simple Preference Optimization with a Reference-Free Reward',
  arxiv: '2405.14734',
  year: 2024,
};
const ALPHAPO_PAPER: PaperRef = { title: 'AlphaPO: Reward Shape Matters for LLM Alignment', arxiv: '2501.03884', year: 2025 };

interface CpoVariant {
  name: string;
  summary: string;
  paper: PaperRef;
  matches: string;
  /** TRL's CPOConfig settings this variant stands for. */
  settings: string;
  options: Record<string, OptionSpec>;
  /** Fixed settings the variant stands for (SimPO's loss type). */
  fixed: Partial<CpoFamilyOptions>;
  unverified: readonly string[];
}

function cpoOptionSpecs(defaults: {
  nllWeight: number;
  gamma?: number;
  alpha?: number;
  lossType?: boolean;
}): Record<string, OptionSpec> {
  return {
    beta: BETA_OPTION,
    labelSmoothing: {
      type: 'number',
      default: 0,
      doc: 'label smoothing epsilon in [0, 0.5) of the sigmoid forms (TRL label_smoothing 0)',
    },
    nllWeight: {
      type: 'number',
      default: defaults.nllWeight,
      doc: 'weight of the NLL on chosen, >= 0 (TRL cpo_alpha, default 1.0; 0 skips the term)',
    },
    ...(defaults.lossType
      ? {
          lossType: {
            type: 'enum',
            default: 'sigmoid',
            values: CPO_LOSS_TYPES,
            doc: 'TRL CPOConfig loss_type: sigmoid and hinge use summed log-probs, ipo and simpo averaged ones',
          },
        }
      : {}),
    ...(defaults.gamma === undefined
      ? {}
      : {
          gamma: {
            type: 'number',
            default: defaults.gamma,
            doc: 'target reward margin gamma; the logits lose gamma / beta (TRL simpo_gamma 0.5)',
          },
        }),
    alpha: {
      type: 'number',
      default: defaults.alpha ?? 0,
      doc: 'AlphaPO reward shape: each side scores (1 - p^-alpha)/alpha with p = e^{lp}; 0 is the log-probability (TRL alpha 0)',
    },
  };
}

function buildCpo(variant: CpoVariant, options: CpoFamilyOptions): PairedPreferenceObjective {
  const given = resolveOptions<CpoFamilyOptions>(variant.name, variant.options, { ...options });
  const resolved = given as CpoResolved;
  const settings = { ...resolved, ...variant.fixed } as CpoResolved;
  const lossType = settings.lossType ?? 'sigmoid';
  checkBeta(variant.name, settings.beta);
  check(
    variant.name,
    'labelSmoothing',
    settings.labelSmoothing,
    settings.labelSmoothing >= 0 && settings.labelSmoothing < 0.5,
    'in [0, 0.5)',
  );
  check(variant.name, 'nllWeight', settings.nllWeight, settings.nllWeight >= 0, '>= 0');
  if (variant.name === 'alphapo') check(variant.name, 'alpha', settings.alpha, settings.alpha !== 0, 'non-zero (0 is SimPO)');
  const averages = lossType === 'ipo' || lossType === 'simpo';
  return {
    data: 'paired',
    name: variant.name,
    summary: variant.summary,
    paper: variant.paper,
    matches: variant.matches,
    references: [trlReference(TRL_SOURCES.CPO, variant.settings)],
    options: variant.options,
    resolved,
    math: cpoMath(lossType, settings),
    needsReference: false,
    needs: { reference: false, lengths: averages || settings.nllWeight > 0 },
    unverified: [...variant.unverified, CATALOG_NOTE],
    loss(batch: PreferenceBatch, tf: Tf) {
      const chosenLogps = averages ? averaged(batch.chosenLogps, batch.chosenLengths, tf) : batch.chosenLogps;
      const rejectedLogps = averages ? averaged(batch.rejectedLogps, batch.rejectedLengths, tf) : batch.rejectedLogps;
      const chosen = shape(chosenLogps, settings.alpha, tf);
      const rejected = shape(rejectedLogps, settings.alpha, tf);
      let logits = tf.sub(chosen, rejected);
      let perPair: Tensor;
      switch (lossType) {
        case 'hinge':
          perPair = tf.relu(tf.sub(1, tf.mul(settings.beta, logits)));
          break;
        case 'ipo':
          perPair = tf.square(tf.sub(logits, 1 / (2 * settings.beta)));
          break;
        case 'simpo':
          logits = tf.sub(logits, (settings.gamma ?? 0.5) / settings.beta);
          perPair = smoothed(tf.mul(settings.beta, logits), settings.labelSmoothing, tf);
          break;
        case 'sigmoid':
          perPair = smoothed(tf.mul(settings.beta, logits), settings.labelSmoothing, tf);
          break;
      }
      const preference = tf.mean(perPair);
      const nll = chosenNll(batch, tf);
      const loss = settings.nllWeight === 0 ? preference : tf.add(preference, tf.mul(settings.nllWeight, nll));
      const metrics = pairMetrics(tf.mul(settings.beta, chosen), tf.mul(settings.beta, rejected), tf);
      return { loss, metrics: { ...metrics, nll, preferenceLoss: preference } };
    },
    configure: (next) => buildCpo(variant, { ...given, ...(next as CpoFamilyOptions) }),
  };
}

function smoothed(z: Tensor, epsilon: number, tf: Tf): Tensor {
  const positive = tf.neg(logSigmoid(z, tf));
  if (epsilon === 0) return positive;
  return tf.sub(tf.mul(1 - epsilon, positive), tf.mul(epsilon, logSigmoid(tf.neg(z), tf)));
}

function cpoMath(lossType: CpoLossType, settings: CpoResolved): string {
  const side = settings.alpha === 0 ? '$s = lp$' : '$s = (1 - e^{-\\alpha\\,lp})/\\alpha$';
  const source = lossType === 'ipo' || lossType === 'simpo' ? 'averaged per token' : 'summed';
  const perPair: Record<CpoLossType, string> = {
    sigmoid: '$-(1-\\varepsilon)\\log\\sigma(\\beta\\ell) - \\varepsilon\\log\\sigma(-\\beta\\ell)$',
    simpo: '$-(1-\\varepsilon)\\log\\sigma(\\beta\\ell - \\gamma) - \\varepsilon\\log\\sigma(\\gamma - \\beta\\ell)$',
    hinge: '$\\max(0, 1 - \\beta\\ell)$',
    ipo: '$(\\ell - \\tfrac{1}{2\\beta})^2$',
  };
  return `${side} with $lp$ ${source}; $\\ell = s_w - s_l$; per pair ${perPair[lossType]}; $\\mathcal L = \\mathrm{mean} + c_{nll}\\,\\mathrm{NLL}(y_w)$.`;
}

/** CPO (TRL CPOTrainer): reference-free DPO-style loss plus the NLL on chosen. */
export function cpo(options: CpoFamilyOptions = {}): PairedPreferenceObjective {
  return buildCpo(
    {
      name: 'cpo',
      summary:
        'CPO: a reference-free preference loss on the policy log-probs of chosen and rejected, plus NLL on chosen (behaviour cloning).',
      paper: CPO_PAPER,
      matches: 'TRL CPOTrainer (trl.experimental.cpo), loss_type sigmoid / hinge / ipo / simpo',
      settings: 'loss_type sigmoid, hinge, ipo, simpo; cpo_alpha; label_smoothing; alpha',
      options: cpoOptionSpecs({ nllWeight: 1, gamma: 0.5, lossType: true }),
      fixed: {},
      unverified: [],
    },
    options,
  );
}

/** SimPO: averaged log-probs, target margin gamma, no reference, no NLL by default. */
export function simpo(options: Omit<CpoFamilyOptions, 'lossType'> = {}): PairedPreferenceObjective {
  return buildCpo(
    {
      name: 'simpo',
      summary:
        'SimPO: a sigmoid loss on the length-averaged log-probability margin minus a target margin gamma, no reference model.',
      paper: SIMPO_PAPER,
      matches: "TRL CPOTrainer `loss_type='simpo'` with cpo_alpha = 0",
      settings: "loss_type='simpo', cpo_alpha=0",
      options: cpoOptionSpecs({ nllWeight: 0, gamma: 0.5 }),
      fixed: { lossType: 'simpo' },
      unverified: [
        'nllWeight defaults to 0 as in the SimPO paper (TRL keeps cpo_alpha = 1 unless told); beta defaults to TRL 0.1 where the paper tunes beta in [2, 10].',
      ],
    },
    options,
  );
}

/** AlphaPO: SimPO with the reward shape (1 - p^{-alpha}) / alpha. */
export function alphapo(options: Omit<CpoFamilyOptions, 'lossType'> = {}): PairedPreferenceObjective {
  return buildCpo(
    {
      name: 'alphapo',
      summary: 'AlphaPO: SimPO with each side scored by (1 - p^-alpha)/alpha, which changes how hard likelihoods are pushed.',
      paper: ALPHAPO_PAPER,
      matches: "TRL CPOTrainer with `alpha` != 0, `loss_type='simpo'`, `cpo_alpha=0` (TRL has no loss_type 'alphapo')",
      settings: "loss_type='simpo', cpo_alpha=0, alpha != 0",
      options: cpoOptionSpecs({ nllWeight: 0, gamma: 0.5, alpha: 0.25 }),
      fixed: { lossType: 'simpo' },
      unverified: [
        'alpha defaults to 0.25 (our worked example); TRL defaults alpha to 0, which would be SimPO. The paper was not checked for a recommended alpha.',
        'The exponent -alpha lp is clamped at 80 to stay finite in float32; TRL does not clamp.',
      ],
    },
    options,
  );
}

export function referenceFreeObjectives(): PairedPreferenceObjective[] {
  return [orpo(), cpo(), simpo(), alphapo()];
}
