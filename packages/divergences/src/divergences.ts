/**
 * The f-divergence family as `Divergence` plugins. Convention: the sample x
 * is drawn from P = pi_theta, logp = log pi_theta(x), logq = log pi_ref(x). "kl" is the
 * RLHF/GRPO reverse KL(pi_theta || pi_ref); "forward-kl" is KL(pi_ref || pi_theta) (RAPO).
 */
import { type Divergence, type OptionSpec, type PaperRef, resolveOptions } from '@policy-lab/core';
import {
  alphaGenerator,
  fDivergenceValue,
  forwardKlGenerator,
  type Generator,
  hellingerGenerator,
  jeffreysGenerator,
  jensenShannonGenerator,
  neymanGenerator,
  pearsonGenerator,
  reverseKlGenerator,
  totalVariationGenerator,
} from './generators.js';
import { KL_ESTIMATOR_NAMES, type KlEstimatorName, klEstimators, klEstimatorTensor, LOG_RATIO_CLAMP } from './kl-estimators.js';
import type { Tensor, Tf } from './tensor-types.js';

export type FDivergence = Divergence<Tf, Tensor> & {
  f(t: number): number;
  value(p: readonly number[], q: readonly number[]): number;
  penalty(logp: Tensor, logRef: Tensor, tf: Tf): Tensor;
  generator: Generator;
};

const F_GAN: PaperRef = {
  title: 'f-GAN: Training Generative Neural Samplers using Variational Divergence Minimization',
  arxiv: '1606.00709',
  year: 2016,
};
const SCHULMAN: PaperRef = {
  title: 'Approximating KL Divergence (technical note)',
  url: 'http://joschu.net/blog/kl-approx.html',
  year: 2020,
};

const ESTIMATE_MATH =
  'Per sample x ~ pi_theta, with $u = \\exp(\\mathrm{clamp}(\\log q - \\log p, \\pm 20))$: ' +
  "$\\hat e_3 = f^\\diamond(u) + f'(1)(u - 1)$, $f^\\diamond(u) = u f(1/u)$ (unbiased, $\\ge 0$).";

const ESTIMATE_NOTE =
  'Our instantiation: the per-sample estimate and tensor penalty are the control-variate estimator f◇(u) + f\'(1)(u - 1) (the k3 construction of Schulman\'s "Approximating KL Divergence" note, generalised to f), with the log-ratio clamped to [-20, 20] as verl does.';

interface FamilyMember {
  name: string;
  summary: string;
  math: string;
  generator: Generator;
  paper?: PaperRef;
  unverified?: readonly string[];
}

/** Builds a divergence from a generator: closed form, per-sample estimate and tensor penalty. */
export function fromGenerator(member: FamilyMember): FDivergence {
  const { generator } = member;
  const estimate = (logp: number, logq: number): number => {
    const u = Math.exp(Math.min(LOG_RATIO_CLAMP, Math.max(-LOG_RATIO_CLAMP, logq - logp)));
    return generator.reverse(u) + generator.slopeAtOne * (u - 1);
  };
  return {
    name: member.name,
    summary: member.summary,
    paper: member.paper ?? F_GAN,
    math: `${member.math}\n\n${ESTIMATE_MATH}`,
    unverified: [ESTIMATE_NOTE, ...(member.unverified ?? [])],
    generator,
    f: generator.f,
    value: (p, q) => fDivergenceValue(generator, p, q),
    estimate,
    penalty(logp, logRef, tf) {
      const logU = tf.clipByValue(tf.sub(logRef, logp), -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP);
      const reverse = generator.reverseTensor(logU, tf);
      return generator.slopeAtOne === 0 ? reverse : tf.add(reverse, tf.mul(generator.slopeAtOne, tf.sub(tf.exp(logU), 1)));
    },
  };
}

// ---------------------------------------------------------------------------------------
// Reverse KL with a choice of Schulman estimator

const KL_OPTIONS: Record<string, OptionSpec> = {
  estimator: {
    type: 'enum',
    values: KL_ESTIMATOR_NAMES,
    default: 'k3',
    doc: "per-token estimator: k1 (unbiased, signed), k2 (biased, reverse-KL gradient), k3 (unbiased, >= 0, forward-KL gradient as a loss), k3+ (k3 value, k2 gradient), k3-clamped (verl's low_var_kl)",
  },
};

export interface KlOptions {
  estimator?: KlEstimatorName;
}

const KL_MATH =
  '$\\mathrm{KL}(\\pi_\\theta\\|\\pi_{ref}) = \\sum_x \\pi_\\theta \\log(\\pi_\\theta/\\pi_{ref})$, $f(t) = t\\log t$. ' +
  'Per token with $\\log r = \\log\\pi_{ref} - \\log\\pi_\\theta$: $k_1 = -\\log r$, $k_2 = \\tfrac12(\\log r)^2$, $k_3 = r - 1 - \\log r$; ' +
  '`k3+` = value of $k_3$, gradient of $k_2$. As a loss, $\\nabla k_3$ is in expectation $\\nabla\\mathrm{KL}(\\pi_{ref}\\|\\pi_\\theta)$ (forward KL); only $\\nabla k_2$ gives the reverse-KL gradient.';

/** Reverse KL(pi_theta || pi_ref): GRPO's penalty, k3 by default. */
export function kl(options: KlOptions = {}, name = 'kl'): FDivergence {
  const resolved = resolveOptions<Required<KlOptions>>(name, KL_OPTIONS, { ...options });
  const estimator = resolved.estimator;
  return {
    name,
    summary: `Reverse KL(pi_theta || pi_ref), the GRPO/RLHF penalty, estimated per token with ${estimator}.`,
    paper: SCHULMAN,
    options: KL_OPTIONS,
    resolved,
    math: KL_MATH,
    unverified: [
      'k3 as a loss differentiates to the forward-KL gradient: standard algebra (the gradient of E_pi[k3] is that of KL(pi_ref||pi)), checked here by an exact property test on a softmax.',
      'Log-ratio clamped to [-20, 20] before exp (verl), which biases k3 on extreme tokens.',
    ],
    generator: reverseKlGenerator,
    f: reverseKlGenerator.f,
    value: (p, q) => fDivergenceValue(reverseKlGenerator, p, q),
    estimate: klEstimators[estimator],
    penalty: (logp, logRef, tf) => klEstimatorTensor(estimator, logp, logRef, tf),
    configure(next) {
      return kl(next as KlOptions, name) as never;
    },
  };
}

/** `kl` with the estimator fixed, for `--set divergence=kl-k2`. */
function klVariant(estimator: KlEstimatorName): FDivergence {
  const base = kl({ estimator }, `kl-${estimator}`);
  const { configure: _configure, options: _options, ...rest } = base;
  return rest;
}
export const klK1 = (): FDivergence => klVariant('k1');
export const klK2 = (): FDivergence => klVariant('k2');

// ---------------------------------------------------------------------------------------
// The rest of the family

export const forwardKl = (): FDivergence =>
  fromGenerator({
    name: 'forward-kl',
    summary: "Forward KL(pi_ref || pi_theta): mass-covering, RAPO's penalty.",
    math: "$\\mathrm{KL}(\\pi_{ref}\\|\\pi_\\theta)$, $f(t) = -\\log t$, $f'(1) = -1$; per sample $\\hat e_3 = u\\log u - u + 1$.",
    generator: forwardKlGenerator,
  });

export const jensenShannon = (): FDivergence =>
  fromGenerator({
    name: 'js',
    summary: 'Jensen-Shannon divergence (1/2 convention, at most log 2); symmetric.',
    math: '$\\mathrm{JS} = \\tfrac12[\\mathrm{KL}(P\\|M) + \\mathrm{KL}(Q\\|M)]$, $M = (P+Q)/2$; $f(t) = \\tfrac12[t\\log t - (t+1)\\log\\tfrac{t+1}{2}]$.',
    generator: jensenShannonGenerator,
  });

export const totalVariation = (): FDivergence =>
  fromGenerator({
    name: 'tv',
    summary: 'Total variation distance (1/2 convention, at most 1); symmetric.',
    math: "$\\mathrm{TV} = \\tfrac12\\sum|P - Q|$, $f(t) = \\tfrac12|t - 1|$ (subgradient $f'(1) = 0$).",
    generator: totalVariationGenerator,
  });

export const pearson = (): FDivergence =>
  fromGenerator({
    name: 'pearson',
    summary: 'Pearson chi-squared divergence sum (P - Q)^2 / Q.',
    math: '$\\chi^2_P = \\sum (P-Q)^2/Q$, $f(t) = (t-1)^2$.',
    generator: pearsonGenerator,
  });

export const neyman = (): FDivergence =>
  fromGenerator({
    name: 'neyman',
    summary: 'Neyman chi-squared divergence sum (P - Q)^2 / P.',
    math: '$\\chi^2_N = \\sum (P-Q)^2/P$, $f(t) = (1-t)^2/t$.',
    generator: neymanGenerator,
  });

export const hellinger = (): FDivergence =>
  fromGenerator({
    name: 'hellinger',
    summary: 'Squared Hellinger distance sum (sqrt P - sqrt Q)^2 (no 1/2, at most 2); symmetric.',
    math: '$H^2 = \\sum(\\sqrt P - \\sqrt Q)^2$, $f(t) = (\\sqrt t - 1)^2$.',
    generator: hellingerGenerator,
  });

export const jeffreys = (): FDivergence =>
  fromGenerator({
    name: 'jeffreys',
    summary: 'Jeffreys divergence KL(P||Q) + KL(Q||P); symmetric.',
    math: '$J = \\mathrm{KL}(P\\|Q) + \\mathrm{KL}(Q\\|P)$, $f(t) = (t-1)\\log t$.',
    generator: jeffreysGenerator,
  });

const ALPHA_OPTIONS: Record<string, OptionSpec> = {
  alpha: {
    type: 'number',
    default: 0.5,
    doc: 'alpha; 1 gives KL(pi_theta||pi_ref), 0 gives KL(pi_ref||pi_theta), 1/2 gives 2 x squared Hellinger',
  },
};

export interface AlphaOptions {
  alpha?: number;
}

export function alpha(options: AlphaOptions = {}): FDivergence {
  const resolved = resolveOptions<Required<AlphaOptions>>('alpha', ALPHA_OPTIONS, { ...options });
  const base = fromGenerator({
    name: 'alpha',
    summary: `Amari alpha-divergence (alpha = ${resolved.alpha}); interpolates forward (0) and reverse (1) KL.`,
    math: '$f_\\alpha(t) = \\dfrac{t^\\alpha - \\alpha t - (1-\\alpha)}{\\alpha(\\alpha-1)}$; limits $\\alpha\\to1$: $\\mathrm{KL}(P\\|Q)$, $\\alpha\\to0$: $\\mathrm{KL}(Q\\|P)$; $f^\\diamond = f_{1-\\alpha}$.',
    generator: alphaGenerator(resolved.alpha),
  });
  return {
    ...base,
    options: ALPHA_OPTIONS,
    resolved,
    configure(next) {
      return alpha(next as AlphaOptions) as never;
    },
  };
}

/** Every divergence this package registers, with default options. */
export function builtInDivergences(): FDivergence[] {
  return [
    kl(),
    klK1(),
    klK2(),
    forwardKl(),
    jensenShannon(),
    alpha(),
    pearson(),
    neyman(),
    totalVariation(),
    hellinger(),
    jeffreys(),
  ];
}
