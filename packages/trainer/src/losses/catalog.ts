/**
 * Policy losses that verl and TRL ship (verl/trainer/ppo/core_algos.py, trl/trainer/grpo_trainer.py), each as its public implementation
 * computes it, at tensor level on the trainer's `tf`. Every loss reads the same LossBatch and
 * aggregates with the run's mode unless its source forces one (named in its docs).
 */
import { aggregateLoss, defineLoss, type LossBatch, type RowLoss, resolveOptions } from '@policy-lab/core';
import type * as tf from '@tensorflow/tfjs-core';
import { type LossReference, TRL_GRPO_COMMIT, TRL_GRPO_LATEST_COMMIT, trlLoss, verlLoss } from './reference.js';

type Tf = typeof tf;
type T = tf.Tensor;
/** A row loss with the public implementations it was checked against (reference.test.ts). */
type Checked = RowLoss<Tf, T> & { references: readonly LossReference[] };

const agg = (tfjs: Tf, perToken: T, batch: LossBatch<T>, mode = batch.aggregation, rows: 'trained' | 'all' = 'trained') =>
  aggregateLoss<T>(tfjs, perToken, batch.mask, batch.weights, mode, batch.normLength, rows);

/** Per-row mean of a [rows, T] tensor over the trained tokens, as [rows, 1]. */
function rowMean(tfjs: Tf, x: T, mask: T): T {
  return tfjs.div(tfjs.sum(tfjs.mul(x, mask), 1, true), tfjs.maximum(tfjs.sum(mask, 1, true), 1));
}

/**
 * The tokens a loss trains on: the mask, without the rows of weight 0 (they leave every
 * statistic of the batch, as they leave every denominator of the aggregation).
 */
function activeMask(tfjs: Tf, batch: LossBatch<T>): T {
  return tfjs.mul(batch.mask, tfjs.expandDims(tfjs.cast(tfjs.greater(batch.weights, 0), 'float32'), 1));
}

/** Per-token (A - mean A)(log pi - mean log pi), the means over the active tokens (KL-Cov, Clip-Cov). */
function covariance(tfjs: Tf, advantages: T, logprobs: T, active: T): T {
  const count = tfjs.maximum(tfjs.sum(active), 1);
  const meanA = tfjs.div(tfjs.sum(tfjs.mul(advantages, active)), count);
  const meanLp = tfjs.div(tfjs.sum(tfjs.mul(logprobs, active)), count);
  return tfjs.mul(tfjs.sub(advantages, meanA), tfjs.sub(logprobs, meanLp));
}

const logRatio = (tfjs: Tf, batch: LossBatch<T>) => tfjs.sub(batch.logprobs, batch.oldLogprobs);

// ---------------------------------------------------------------------------------------
// TRL's clipped token loss (grpo / bnpo / dr_grpo / dapo differ only in aggregation)

export interface TrlClipOptions {
  epsilon?: number;
  epsilonHigh?: number;
  /** Two-sided clip: the unclipped ratio is capped at delta (INTELLECT-2). */
  delta?: number;
  level?: 'token' | 'sequence';
}

const TRL_OPTIONS = {
  epsilon: { type: 'number', default: 0.2, doc: 'lower clip range (TRL epsilon)' },
  epsilonHigh: { type: 'number', default: 0.2, doc: 'upper clip range (TRL epsilon_high; DAPO 0.28)' },
  delta: { type: 'number', doc: 'two-sided clip: cap the unclipped ratio at delta (> 1 + epsilon); off when unset' },
  level: {
    type: 'enum',
    values: ['token', 'sequence'],
    default: 'token',
    doc: "importance ratio per token, or one per sequence (TRL importance_sampling_level='sequence', GSPO)",
  },
} as const;

/**
 * TRL's GRPO token loss: -min(rho1 A, clip(rho) A), no log-ratio clamp. TRL's loss_type maps to
 * --set aggregation: grpo = seq-mean-token-mean, bnpo and dapo = token-mean, dr_grpo = seq-mean-token-sum-norm;
 * the row modes count every row of weight > 0, empty completions included, as TRL divides by B.
 */
export function trlClip(options: TrlClipOptions = {}): RowLoss<Tf, T> {
  const o = resolveOptions<Required<Omit<TrlClipOptions, 'delta'>> & { delta?: number }>(
    'trl-clip',
    TRL_OPTIONS,
    options as Record<string, unknown>,
  );
  return defineLoss<Checked>({
    name: 'trl-clip',
    kind: 'rows',
    summary: "TRL's GRPOTrainer token loss: clipped ratio, optional two-sided delta cap, token or sequence ratio",
    matches:
      'TRL GRPOTrainer loss_type grpo/bnpo/dr_grpo/dapo (pick with --set aggregation), `delta`, `importance_sampling_level`',
    references: [
      trlLoss('trl-grpo-loss', TRL_GRPO_COMMIT, 'loss_type grpo, bnpo, dr_grpo; delta; importance_sampling_level'),
      trlLoss('trl-dapo-loss', TRL_GRPO_LATEST_COMMIT, "loss_type='dapo' (num_items_in_batch = the batch's trained tokens)"),
    ],
    options: TRL_OPTIONS,
    resolved: o,
    math: '$\\rho_1 = \\min(\\rho, \\delta)$, $\\ell = -\\min(\\rho_1 A, \\operatorname{clip}(\\rho, 1-\\epsilon, 1+\\epsilon_{high}) A)$; sequence level: $\\log\\rho_i = \\operatorname{mean}_t(\\log\\pi - \\log\\pi_{old})$. The row modes divide by every row of weight > 0, empty completions included, as TRL divides by B (grpo: the mean of B row means; dr_grpo: the sum over B x max_completion_length).',
    configure: (next) => trlClip({ ...o, ...next }),
    loss(batch, tfjs) {
      let x = logRatio(tfjs, batch);
      if (o.level === 'sequence') x = tfjs.mul(rowMean(tfjs, x, batch.mask), tfjs.onesLike(x));
      const ratio = tfjs.exp(x);
      const unclipped = o.delta === undefined ? ratio : tfjs.minimum(ratio, o.delta);
      const clipped = tfjs.clipByValue(ratio, 1 - o.epsilon, 1 + o.epsilonHigh);
      const perToken = tfjs.neg(tfjs.minimum(tfjs.mul(unclipped, batch.advantages), tfjs.mul(clipped, batch.advantages)));
      // TRL averages over all B completions, empty ones included (grpo: .mean(), dr_grpo: / B).
      return { loss: agg(tfjs, perToken, batch, batch.aggregation, 'all') };
    },
  });
}

// ---------------------------------------------------------------------------------------
// SAPO

export interface SapoOptions {
  tauPos?: number;
  tauNeg?: number;
}

const SAPO_OPTIONS = {
  tauPos: { type: 'number', default: 1, doc: 'gate temperature for positive advantages (verl tau_pos)' },
  tauNeg: { type: 'number', default: 1.05, doc: 'gate temperature for negative advantages (verl tau_neg)' },
} as const;

/** SAPO: a sigmoid gate instead of a hard clip, f(rho) = sigmoid(tau (rho - 1)) 4 / tau, l = -f A. */
export function sapo(options: SapoOptions = {}): RowLoss<Tf, T> {
  const o = resolveOptions<Required<SapoOptions>>('sapo', SAPO_OPTIONS, options as Record<string, unknown>);
  return defineLoss<Checked>({
    name: 'sapo',
    kind: 'rows',
    summary: 'SAPO: a smooth sigmoid gate on the ratio instead of hard clipping (equals policy gradient on-policy)',
    paper: { title: 'Soft Adaptive Policy Optimization', arxiv: '2511.20347', year: 2025 },
    matches: "verl `loss_mode=sapo` (log-ratio clamped at +-20) / TRL loss_type='sapo'",
    references: [verlLoss('compute_policy_loss_sapo', 'verl-sapo', 'aggregation seq-mean-token-mean, which verl forces')],
    options: SAPO_OPTIONS,
    resolved: o,
    math: '$f(\\rho) = \\sigma(\\tau(\\rho - 1))\\,4/\\tau$, $\\tau = \\tau_{pos}$ if $A > 0$ else $\\tau_{neg}$; $\\ell = -f(\\rho) A$',
    unverified: [
      'verl forces seq-mean-token-mean; here the run aggregation applies (set --set aggregation=seq-mean-token-mean to match verl).',
      "TRL's sapo averages over all B rows, empty completions included; here, as in verl, a row without a trained token is in no denominator.",
    ],
    configure: (next) => sapo({ ...o, ...next }),
    loss(batch, tfjs) {
      const ratio = tfjs.exp(tfjs.clipByValue(logRatio(tfjs, batch), -20, 20));
      const tau = tfjs.where(
        tfjs.greater(batch.advantages, 0),
        tfjs.fill(ratio.shape, o.tauPos),
        tfjs.fill(ratio.shape, o.tauNeg),
      );
      const gate = tfjs.div(tfjs.mul(tfjs.sigmoid(tfjs.mul(tau, tfjs.sub(ratio, 1))), 4), tau);
      return { loss: agg(tfjs, tfjs.neg(tfjs.mul(gate, batch.advantages)), batch) };
    },
  });
}

// ---------------------------------------------------------------------------------------
// CISPO: verl and TRL differ

export interface CispoOptions {
  epsLow?: number;
  epsHigh?: number;
  cap?: number;
}

const CISPO_VERL_OPTIONS = {
  epsLow: { type: 'number', default: 0.2, doc: 'weight >= 1 - epsLow' },
  epsHigh: { type: 'number', default: 0.2, doc: 'weight <= 1 + epsHigh' },
} as const;

const CISPO_TRL_OPTIONS = {
  cap: {
    type: 'number',
    default: 5,
    doc: 'absolute cap on the weight (TRL epsilon_high; TRL recommends 5; unset there it falls back to 0.2)',
  },
} as const;

/** f(x) as a constant for the gradient: computed inside a custom gradient that passes zero back. */
function constantOf(tfjs: Tf, x: T, f: (x: T) => T): T {
  return tfjs.customGrad((input) => ({ value: f(input as T), gradFunc: (dy) => tfjs.zerosLike(dy as T) }))(x) as T;
}

/** REINFORCE on log pi, importance-weighted by a weight computed from log pi that carries no gradient. */
function cispoLoss(tfjs: Tf, batch: LossBatch<T>, weightOf: (lp: T) => T): T {
  const weight = constantOf(tfjs, batch.logprobs, weightOf);
  return tfjs.neg(tfjs.mul(tfjs.mul(weight, batch.advantages), batch.logprobs));
}

/** CISPO as verl computes it: l = -sg(clip(rho, 1 - eps_lo, 1 + eps_hi)) A log pi. */
export function cispoVerl(options: Omit<CispoOptions, 'cap'> = {}): RowLoss<Tf, T> {
  const o = resolveOptions<Required<Omit<CispoOptions, 'cap'>>>(
    'cispo-verl',
    CISPO_VERL_OPTIONS,
    options as Record<string, unknown>,
  );
  return defineLoss<Checked>({
    name: 'cispo-verl',
    kind: 'rows',
    summary: "CISPO, verl's form: REINFORCE on log pi with a two-sided clipped, stop-gradient importance weight",
    paper: {
      title: 'MiniMax-M1: Scaling Test-Time Compute Efficiently with Lightning Attention',
      arxiv: '2506.13585',
      year: 2025,
    },
    matches: 'verl `loss_mode=cispo`',
    references: [verlLoss('compute_policy_loss_cispo', 'verl-cispo')],
    options: CISPO_VERL_OPTIONS,
    resolved: o,
    math: '$\\ell = -\\operatorname{sg}(\\operatorname{clip}(\\rho, 1-\\epsilon_{lo}, 1+\\epsilon_{hi}))\\,A\\log\\pi_\\theta$',
    configure: (next) => cispoVerl({ ...o, ...next }),
    loss(batch, tfjs) {
      const weight = (lp: T) =>
        tfjs.clipByValue(tfjs.exp(tfjs.clipByValue(tfjs.sub(lp, batch.oldLogprobs), -20, 20)), 1 - o.epsLow, 1 + o.epsHigh);
      return { loss: agg(tfjs, cispoLoss(tfjs, batch, weight), batch) };
    },
  });
}

/** CISPO as TRL computes it: l = -sg(min(rho, cap)) A log pi (one-sided, absolute cap). */
export function cispoTrl(options: Pick<CispoOptions, 'cap'> = {}): RowLoss<Tf, T> {
  const o = resolveOptions<Required<Pick<CispoOptions, 'cap'>>>(
    'cispo-trl',
    CISPO_TRL_OPTIONS,
    options as Record<string, unknown>,
  );
  return defineLoss<Checked>({
    name: 'cispo-trl',
    kind: 'rows',
    summary: "CISPO, TRL's form: REINFORCE on log pi with a one-sided, absolutely capped stop-gradient weight",
    paper: {
      title: 'MiniMax-M1: Scaling Test-Time Compute Efficiently with Lightning Attention',
      arxiv: '2506.13585',
      year: 2025,
    },
    matches: "TRL loss_type='cispo' (epsilon_high as the cap)",
    references: [trlLoss('trl-cispo', TRL_GRPO_LATEST_COMMIT, 'aggregation token-mean (num_items_in_batch)')],
    options: CISPO_TRL_OPTIONS,
    resolved: o,
    math: '$\\ell = -\\operatorname{sg}(\\min(\\rho, c))\\,A\\log\\pi_\\theta$',
    configure: (next) => cispoTrl({ ...o, ...next }),
    loss(batch, tfjs) {
      const weight = (lp: T) => tfjs.minimum(tfjs.exp(tfjs.sub(lp, batch.oldLogprobs)), o.cap);
      return { loss: agg(tfjs, cispoLoss(tfjs, batch, weight), batch) };
    },
  });
}

// ---------------------------------------------------------------------------------------
// GMPO

export interface GmpoOptions {
  epsLow?: number;
  epsHigh?: number;
}

const GMPO_OPTIONS = {
  epsLow: { type: 'number', default: 0.2, doc: 'log-ratio floor -epsLow (for negative advantages)' },
  epsHigh: { type: 'number', default: 0.2, doc: 'log-ratio cap epsHigh (for positive advantages)' },
} as const;

/**
 * GMPO (verl geo_mean): the geometric mean of token ratios with sign-aware clipping in log
 * space; l_i = -mean_t(A) exp(mean_t(x~)); the loss is the plain mean over sequences.
 */
export function gmpo(options: GmpoOptions = {}): RowLoss<Tf, T> {
  const o = resolveOptions<Required<GmpoOptions>>('gmpo', GMPO_OPTIONS, options as Record<string, unknown>);
  return defineLoss<Checked>({
    name: 'gmpo',
    kind: 'rows',
    summary: 'GMPO: maximise the geometric mean of token ratios, clipped per token in log space by the sign of A',
    paper: { title: 'Geometric-Mean Policy Optimization', arxiv: '2507.20673', year: 2025 },
    matches: 'verl `loss_mode=geo_mean` (aggregation forced: mean over sequences)',
    references: [verlLoss('compute_policy_loss_geo_mean', 'verl-geo-mean')],
    options: GMPO_OPTIONS,
    resolved: o,
    math: '$\\tilde x = \\sigma\\min(\\sigma x, \\sigma\\operatorname{clip}(x, -\\epsilon_{lo}, \\epsilon_{hi}))$, $\\ell_i = -\\bar A_i \\exp(\\operatorname{mean}_t \\tilde x)$',
    configure: (next) => gmpo({ ...o, ...next }),
    loss(batch, tfjs) {
      const x = logRatio(tfjs, batch);
      const sign = tfjs.sign(batch.advantages);
      const clipped = tfjs.mul(sign, tfjs.minimum(tfjs.mul(sign, x), tfjs.mul(sign, tfjs.clipByValue(x, -o.epsLow, o.epsHigh))));
      const lengths = tfjs.add(tfjs.sum(batch.mask, 1), 1e-8);
      const r = tfjs.exp(tfjs.div(tfjs.sum(tfjs.mul(clipped, batch.mask), 1), lengths));
      const meanA = tfjs.div(tfjs.sum(tfjs.mul(batch.advantages, batch.mask), 1), lengths);
      // Rows with loss weight 0 (e.g. an excluded pivot) leave the mean, as in every aggregation here.
      const active = tfjs.cast(tfjs.greater(batch.weights, 0), 'float32');
      const perRow = tfjs.mul(tfjs.neg(tfjs.mul(meanA, r)), tfjs.mul(batch.weights, active));
      return { loss: tfjs.div(tfjs.sum(perRow), tfjs.maximum(tfjs.sum(active), 1)) };
    },
  });
}

// ---------------------------------------------------------------------------------------
// DPPO (TV and KL), DRO, VESPO

export interface DppoOptions {
  epsLow?: number;
  epsHigh?: number;
  cap?: number;
}

const DPPO_OPTIONS = {
  epsLow: { type: 'number', default: 0.2, doc: 'A <= 0: TV, the allowed probability drop; KL, the binary-KL bound' },
  epsHigh: { type: 'number', default: 0.2, doc: 'A > 0: TV, the allowed probability rise; KL, the binary-KL bound' },
  cap: { type: 'number', default: 3, doc: 'cap C on the stop-gradient ratio (verl clip_ratio_c, 3.0 in its actor config)' },
} as const;

function dppo(kind: 'tv' | 'kl', options: DppoOptions): RowLoss<Tf, T> {
  const name = `dppo-${kind}`;
  const o = resolveOptions<Required<DppoOptions>>(name, DPPO_OPTIONS, options as Record<string, unknown>);
  return defineLoss<Checked>({
    name,
    kind: 'rows',
    summary:
      kind === 'tv'
        ? 'DPPO-TV: importance-weighted REINFORCE on tokens whose probability moved less than a total-variation trust region'
        : 'DPPO-KL: importance-weighted REINFORCE on tokens within a binary-KL trust region (or moving the safe way)',
    matches: `verl \`loss_mode=dppo_${kind}\``,
    references: [verlLoss(`compute_policy_loss_dppo_${kind}`, `verl-dppo-${kind}`)],
    options: DPPO_OPTIONS,
    resolved: o,
    math:
      kind === 'tv'
        ? '$\\ell = -A\\,\\operatorname{sg}(\\min(\\rho, C))\\log\\pi$ where $p - p_{old} \\le \\epsilon_{hi}$ ($A > 0$) or $\\ge -\\epsilon_{lo}$, else 0'
        : '$\\ell = -A\\,\\operatorname{sg}(\\min(\\rho, C))\\log\\pi$ where $KL_{bin}(p_{old}\\|p) \\le \\epsilon_{hi}$ ($A > 0$, else $\\epsilon_{lo}$) or the move follows $A$, else 0',
    unverified: ["From verl's code (verl/trainer/ppo/core_algos.py); the paper (arXiv 2602.04879) was not read."],
    configure: (next) => dppo(kind, { ...o, ...next }),
    loss(batch, tfjs) {
      // The trust-region mask and the capped ratio are constants for the gradient.
      const weight = constantOf(tfjs, batch.logprobs, (lp) => {
        const p = tfjs.exp(lp);
        const pOld = tfjs.exp(batch.oldLogprobs);
        const positive = tfjs.greater(batch.advantages, 0);
        // 0/1 float masks throughout: the wasm backend has no boolean select.
        const f = (x: T) => tfjs.cast(x, 'float32');
        let valid: T;
        if (kind === 'tv') {
          const moved = tfjs.sub(p, pOld);
          valid = tfjs.where(positive, f(tfjs.lessEqual(moved, o.epsHigh)), f(tfjs.greaterEqual(moved, -o.epsLow)));
        } else {
          const clampP = (x: T) => tfjs.clipByValue(x, 1e-8, 1 - 1e-8);
          const a = clampP(pOld);
          const b = clampP(p);
          const kl = tfjs.add(
            tfjs.mul(a, tfjs.log(tfjs.div(a, b))),
            tfjs.mul(tfjs.sub(1, a), tfjs.log(tfjs.div(tfjs.sub(1, a), tfjs.sub(1, b)))),
          );
          const safe = tfjs.where(positive, f(tfjs.less(p, pOld)), f(tfjs.greater(p, pOld)));
          const bound = tfjs.where(positive, tfjs.fill(kl.shape, o.epsHigh), tfjs.fill(kl.shape, o.epsLow));
          valid = tfjs.maximum(f(tfjs.lessEqual(kl, bound)), safe);
        }
        const ratio = tfjs.minimum(tfjs.exp(tfjs.clipByValue(tfjs.sub(lp, batch.oldLogprobs), -20, 20)), o.cap);
        return tfjs.mul(ratio, valid);
      });
      return { loss: agg(tfjs, tfjs.neg(tfjs.mul(tfjs.mul(weight, batch.advantages), batch.logprobs)), batch) };
    },
  });
}

export const dppoTv = (options: DppoOptions = {}) => dppo('tv', options);
export const dppoKl = (options: DppoOptions = {}) => dppo('kl', options);

export interface DroOptions {
  beta?: number;
}

const DRO_OPTIONS = {
  beta: { type: 'number', default: 0.5, doc: 'weight of the squared log-ratio to the sampling policy, > 0' },
} as const;

/** DRO: l = -(A log pi - beta/2 (log pi - log pi_old)^2), aggregated by the run's mode. */
export function dro(options: DroOptions = {}): RowLoss<Tf, T> {
  const o = resolveOptions<Required<DroOptions>>('dro', DRO_OPTIONS, options as Record<string, unknown>);
  if (!(o.beta > 0)) throw new RangeError(`dro: option 'beta' must be > 0, got ${o.beta}`);
  return defineLoss<Checked>({
    name: 'dro',
    kind: 'rows',
    summary: 'DRO: policy gradient with a quadratic penalty on the log-ratio to the sampling policy',
    references: [],
    options: DRO_OPTIONS,
    resolved: o,
    math: "$\\ell = -\\big(A\\log\\pi_\\theta - \\tfrac{\\beta}{2}(\\log\\pi_\\theta - \\log\\pi_{old})^2\\big)$ per token, aggregated by the run's mode; no clip, no ratio.",
    unverified: [
      "Not checked against verl: verl's `loss_mode=dro` is in no stored copy of verl/trainer/ppo/core_algos.py (018f23b5f83a, 5b98636684f9), so this loss makes no claim to match it. The per-token formula is the one third-party restatements give for it (ModelScope Twinkle's DROLoss, a SkyRL teacher-distillation example: -(A log pi - beta/2 (log pi - log pi_old)^2)); their aggregation and default beta (0.1 in Twinkle) were not compared.",
    ],
    configure: (next) => dro({ ...o, ...next }),
    loss(batch, tfjs) {
      const x = logRatio(tfjs, batch);
      const perToken = tfjs.neg(tfjs.sub(tfjs.mul(batch.advantages, batch.logprobs), tfjs.mul(o.beta / 2, tfjs.square(x))));
      return { loss: agg(tfjs, perToken, batch) };
    },
  });
}

export interface VespoOptions {
  kPos?: number;
  lambdaPos?: number;
  kNeg?: number;
  lambdaNeg?: number;
}

const VESPO_OPTIONS = {
  kPos: { type: 'number', default: 2, doc: 'shape k for A >= 0' },
  lambdaPos: { type: 'number', default: 3, doc: 'rate lambda for A >= 0' },
  kNeg: { type: 'number', default: 3, doc: 'shape k for A < 0' },
  lambdaNeg: { type: 'number', default: 2, doc: 'rate lambda for A < 0' },
} as const;

/** The VESPO weight of a sequence's summed log-ratio s: exp(lambda + k log w - lambda w), w = e^s; phi(1) = 1. */
export function vespoWeight(s: number, positive: boolean, o: Required<VespoOptions>): number {
  const logW = Math.min(Math.max(s, Math.log(1e-8)), 20);
  const k = positive ? o.kPos : o.kNeg;
  const lambda = positive ? o.lambdaPos : Math.max(o.lambdaNeg, 1e-4);
  const phi = Math.exp(lambda + k * logW - lambda * Math.exp(logW));
  return Number.isFinite(phi) ? phi : 0;
}

/** VESPO (TRL): a smooth Gamma-shaped weight on the sequence ratio, no gradient through it; l = -phi A log pi. */
export function vespo(options: VespoOptions = {}): RowLoss<Tf, T> {
  const o = resolveOptions<Required<VespoOptions>>('vespo', VESPO_OPTIONS, options as Record<string, unknown>);
  return defineLoss<Checked>({
    name: 'vespo',
    kind: 'rows',
    summary: 'VESPO: REINFORCE on log pi weighted by a smooth Gamma-shaped function of the sequence importance ratio',
    matches: "TRL loss_type='vespo'",
    references: [trlLoss('trl-vespo', TRL_GRPO_LATEST_COMMIT, 'get_gamma_weights with its default k and lambda')],
    options: VESPO_OPTIONS,
    resolved: o,
    math: '$s_i = \\sum_t \\log\\rho_{i,t}$, $w = e^{s}$, $\\varphi = e^{\\lambda + k\\log w - \\lambda w}$ ($\\varphi(1) = 1$), $\\ell = -\\operatorname{sg}(\\varphi) A \\log\\pi$',
    unverified: ["From TRL's code (trl/trainer/grpo_trainer.py); the paper (arXiv 2602.10693) was not read."],
    configure: (next) => vespo({ ...o, ...next }),
    loss(batch, tfjs) {
      const weight = (lp: T) => {
        const s = tfjs.sum(tfjs.mul(tfjs.clipByValue(tfjs.sub(lp, batch.oldLogprobs), -20, 20), batch.mask), 1, true);
        const logW = tfjs.clipByValue(s, Math.log(1e-8), 20);
        const positive = tfjs.greaterEqual(rowMean(tfjs, batch.advantages, batch.mask), 0);
        const pick = (a: number, b: number) => tfjs.where(positive, tfjs.fill(logW.shape, a), tfjs.fill(logW.shape, b));
        const k = pick(o.kPos, o.kNeg);
        const lambda = pick(o.lambdaPos, Math.max(o.lambdaNeg, 1e-4));
        const phi = tfjs.exp(tfjs.sub(tfjs.add(lambda, tfjs.mul(k, logW)), tfjs.mul(lambda, tfjs.exp(logW))));
        return tfjs.mul(tfjs.where(tfjs.isFinite(phi), phi, tfjs.zerosLike(phi)), tfjs.onesLike(lp));
      };
      return { loss: agg(tfjs, cispoLoss(tfjs, batch, weight), batch) };
    },
  });
}

// ---------------------------------------------------------------------------------------
// GPG loss, LUSPO, KL-Cov

/** GPG's loss (verl `loss_mode=gpg`): -A log pi, no ratio and no old log-probs. */
export function gpgLoss(): RowLoss<Tf, T> {
  return defineLoss<Checked>({
    name: 'gpg',
    kind: 'rows',
    summary: "GPG's loss: advantage-weighted log-likelihood without a ratio (pair with the gpg estimator)",
    matches: 'verl `loss_mode=gpg`',
    references: [verlLoss('compute_policy_loss_gpg', 'verl-gpg')],
    math: String.raw`$\ell = -A \log\pi_\theta$`,
    loss: (batch, tfjs) => ({ loss: agg(tfjs, tfjs.neg(tfjs.mul(batch.advantages, batch.logprobs)), batch) }),
  });
}

export interface LuspoOptions {
  epsilon?: number;
  epsilonHigh?: number;
}

const LUSPO_OPTIONS = {
  epsilon: { type: 'number', default: 0.2, doc: 'lower clip range' },
  epsilonHigh: { type: 'number', default: 0.2, doc: 'upper clip range' },
} as const;

/** LUSPO (TRL): GSPO's sequence-ratio loss with each sequence's loss scaled by its length, mean over sequences. */
export function luspo(options: LuspoOptions = {}): RowLoss<Tf, T> {
  const o = resolveOptions<Required<LuspoOptions>>('luspo', LUSPO_OPTIONS, options as Record<string, unknown>);
  return defineLoss<Checked>({
    name: 'luspo',
    kind: 'rows',
    summary: 'LUSPO: the sequence-ratio clipped loss with every sequence weighted by its length',
    matches: "TRL loss_type='luspo' with importance_sampling_level='sequence' (aggregation forced)",
    references: [trlLoss('trl-luspo', TRL_GRPO_LATEST_COMMIT, "importance_sampling_level='sequence'")],
    options: LUSPO_OPTIONS,
    resolved: o,
    math: String.raw`$\ell_i = \operatorname{mean}_t\big[-\min(s_i A, \operatorname{clip}(s_i) A)\big]$, $\mathcal L = \operatorname{mean}_i(\ell_i L_i)$ over every row of weight > 0, empty completions included (TRL's mean over B)`,
    unverified: ["From TRL's code (trl/trainer/grpo_trainer.py); the paper (arXiv 2602.05261) was not read."],
    configure: (next) => luspo({ ...o, ...next }),
    loss(batch, tfjs) {
      const s = tfjs.exp(tfjs.mul(rowMean(tfjs, logRatio(tfjs, batch), batch.mask), tfjs.onesLike(batch.logprobs)));
      const clipped = tfjs.clipByValue(s, 1 - o.epsilon, 1 + o.epsilonHigh);
      const perToken = tfjs.neg(tfjs.minimum(tfjs.mul(s, batch.advantages), tfjs.mul(clipped, batch.advantages)));
      const lengths = tfjs.sum(batch.mask, 1);
      const perSequence = tfjs.mul(tfjs.squeeze(rowMean(tfjs, perToken, batch.mask), [1]), lengths);
      // TRL's .mean() runs over all B rows, empty ones included; weight-0 rows are in no denominator.
      const active = tfjs.cast(tfjs.greater(batch.weights, 0), 'float32');
      return {
        loss: tfjs.div(tfjs.sum(tfjs.mul(tfjs.mul(perSequence, batch.weights), active)), tfjs.maximum(tfjs.sum(active), 1)),
      };
    },
  });
}

export interface KlCovOptions {
  ratio?: number;
  coef?: number;
}

const KL_COV_OPTIONS = {
  ratio: { type: 'number', default: 2e-4, doc: 'share of trained tokens penalised (verl kl_cov_ratio)' },
  coef: { type: 'number', default: 0.1, doc: 'weight of |log rho| on them (verl ppo_kl_coef)' },
} as const;

/**
 * KL-Cov (verl): unclipped policy gradient, plus coef x |log pi - log pi_old| on the top
 * `ratio` share of tokens by the covariance (A - mean A)(log pi - mean log pi) (no gradient).
 */
export function klCov(options: KlCovOptions = {}): RowLoss<Tf, T> {
  const o = resolveOptions<Required<KlCovOptions>>('kl-cov', KL_COV_OPTIONS, options as Record<string, unknown>);
  return defineLoss<Checked>({
    name: 'kl-cov',
    kind: 'rows',
    summary:
      'KL-Cov: plain policy gradient plus a |log ratio| penalty on the tokens whose advantage and log-probability covary most',
    matches: 'verl `loss_mode=kl_cov`',
    references: [verlLoss('compute_policy_loss_kl_cov', 'verl-kl-cov')],
    options: KL_COV_OPTIONS,
    resolved: o,
    math: String.raw`$\ell_t = -A\rho + c\,|\log\rho|$ on the top-$\max(1, \lfloor rN \rfloor)$ tokens by $\operatorname{cov}_t = (A - \bar A)(\log\pi - \overline{\log\pi})$, else $-A\rho$`,
    configure: (next) => klCov({ ...o, ...next }),
    loss(batch, tfjs) {
      const x = logRatio(tfjs, batch);
      const ratio = tfjs.exp(x);
      const active = activeMask(tfjs, batch);
      const penaltyMask = constantOf(tfjs, batch.logprobs, (lp) => {
        const cov = covariance(tfjs, batch.advantages, lp, active);
        // Untrained tokens (padding, weight-0 rows) can never be chosen.
        const candidates = tfjs.where(tfjs.greater(active, 0), cov, tfjs.fill(cov.shape, -1e30));
        const valid = Array.from(active.dataSync() as Float32Array).reduce((a, b) => a + b, 0);
        const n = Math.max(1, Math.floor(valid * o.ratio));
        const flat = tfjs.reshape(candidates, [-1]);
        const threshold = tfjs.slice(tfjs.topk(flat, Math.min(n, flat.size)).values, [Math.min(n, flat.size) - 1], [1]);
        return tfjs.mul(tfjs.cast(tfjs.greaterEqual(candidates, threshold), 'float32'), active);
      });
      const perToken = tfjs.add(
        tfjs.neg(tfjs.mul(batch.advantages, ratio)),
        tfjs.mul(penaltyMask, tfjs.mul(o.coef, tfjs.abs(x))),
      );
      return { loss: agg(tfjs, perToken, batch) };
    },
  });
}

export interface ClipCovOptions {
  clipLow?: number;
  clipHigh?: number;
  ratio?: number;
  lowerBound?: number;
  upperBound?: number;
}

const CLIP_COV_OPTIONS = {
  clipLow: { type: 'number', default: 0.2, doc: 'lower clip range (verl clip_ratio_low)' },
  clipHigh: { type: 'number', default: 0.2, doc: 'upper clip range (verl clip_ratio_high)' },
  ratio: { type: 'number', default: 2e-4, doc: 'share of trained tokens whose gradient is dropped (verl clip_cov_ratio)' },
  lowerBound: { type: 'number', default: 1, doc: 'candidates have covariance above this (verl clip_cov_lb)' },
  upperBound: { type: 'number', default: 5, doc: 'and below this (verl clip_cov_ub)' },
} as const;

/**
 * The tokens Clip-Cov detaches: among trained, not-yet-clipped tokens whose covariance
 * (A - mean A)(log pi - mean log pi) lies strictly between the bounds, n = max(1,
 * floor(ratio x trained tokens)) picked uniformly at random (verl: randperm; here the run's
 * seeded stream, so the pick is reproducible). Returns a 0/1 keep mask as numbers.
 */
export function clipCovKeep(
  cov: ArrayLike<number>,
  mask: ArrayLike<number>,
  clipped: ArrayLike<number>,
  o: Required<ClipCovOptions>,
  pick: (candidates: number[], n: number) => number[],
): Float32Array {
  const keep = new Float32Array(mask.length).fill(1);
  let valid = 0;
  const candidates: number[] = [];
  for (let i = 0; i < mask.length; i++) {
    if (!((mask[i] as number) > 0)) continue;
    valid += 1;
    const c = cov[i] as number;
    if (!((clipped[i] as number) > 0) && c > o.lowerBound && c < o.upperBound) candidates.push(i);
  }
  const n = Math.max(1, Math.floor(o.ratio * valid));
  for (const i of pick(candidates, n)) keep[i] = 0;
  return keep;
}

/**
 * Clip-Cov (verl `clip_cov`, verl/trainer/ppo/core_algos.py): the PPO clip loss (no log-ratio clamp, no dual
 * clip) with the gradient of a few random high-covariance tokens dropped.
 */
export function clipCov(options: ClipCovOptions = {}): RowLoss<Tf, T> {
  const o = resolveOptions<Required<ClipCovOptions>>('clip-cov', CLIP_COV_OPTIONS, options as Record<string, unknown>);
  return defineLoss<Checked>({
    name: 'clip-cov',
    kind: 'rows',
    honours: ['clipLow', 'clipHigh'],
    summary: 'Clip-Cov: PPO clip, plus a random handful of high-covariance tokens whose gradient is dropped',
    paper: {
      title: 'The Entropy Mechanism of Reinforcement Learning for Reasoning Language Models',
      arxiv: '2505.22617',
      year: 2025,
    },
    matches: 'verl `loss_mode=clip_cov`',
    references: [
      verlLoss(
        'compute_policy_loss_clip_cov',
        'verl-clip-cov',
        'cases with at most clip_num candidates, so torch.randperm does not matter',
      ),
    ],
    options: CLIP_COV_OPTIONS,
    resolved: o,
    math: String.raw`$\ell_t = \max(-A\rho, -A\,\mathrm{clip}(\rho))\cdot c_t$, $c_t = 0$ on $\max(1, \lfloor rN \rfloor)$ tokens drawn uniformly from those with $lb < (A-\bar A)(\log\pi - \overline{\log\pi}) < ub$ and not clipped, else 1`,
    unverified: ["verl draws with torch.randperm (not reproducible); the pick here uses the run's seeded stream."],
    configure: (next) => clipCov({ ...o, ...next }),
    loss(batch, tfjs) {
      const rng = batch.rng;
      if (!rng) throw new Error('clip-cov draws tokens at random: the trainer must pass LossBatch.rng');
      const ratio = tfjs.exp(logRatio(tfjs, batch));
      const first = tfjs.neg(tfjs.mul(batch.advantages, ratio));
      const second = tfjs.neg(tfjs.mul(batch.advantages, tfjs.clipByValue(ratio, 1 - o.clipLow, 1 + o.clipHigh)));
      const active = activeMask(tfjs, batch);
      const keep = constantOf(tfjs, batch.logprobs, (lp) => {
        const cov = covariance(tfjs, batch.advantages, lp, active);
        // Already clipped: l2 > l1. A ratio that sits on the clip bound in exact arithmetic
        // (a hand-worked rho = 0.8) must not count, so the comparison allows float rounding.
        const clipped = tfjs.cast(tfjs.greater(tfjs.sub(second, first), tfjs.mul(1e-6, tfjs.add(tfjs.abs(first), 1))), 'float32');
        const mask = clipCovKeep(cov.dataSync(), active.dataSync(), clipped.dataSync(), o, (c, n) => rng.shuffle(c).slice(0, n));
        return tfjs.tensor(mask, batch.mask.shape);
      });
      const perToken = tfjs.mul(tfjs.maximum(first, second), keep);
      const dropped = tfjs.div(tfjs.sum(tfjs.mul(tfjs.sub(1, keep), batch.mask)), tfjs.maximum(tfjs.sum(batch.mask), 1));
      return { loss: agg(tfjs, perToken, batch), metrics: { clipCovDropped: dropped } };
    },
  });
}

export interface BypassOptions {
  lossType?: 'ppo-clip' | 'reinforce';
  rolloutIs?: 'token' | 'sequence' | 'none';
  threshold?: number;
  batchNormalize?: boolean;
  clipLow?: number;
  clipHigh?: number;
}

const BYPASS_OPTIONS = {
  lossType: {
    type: 'enum',
    values: ['ppo-clip', 'reinforce'],
    default: 'ppo-clip',
    doc: 'policy_loss.rollout_correction.loss_type: PPO clip against the rollout log-probs, or IS-weighted REINFORCE',
  },
  rolloutIs: {
    type: 'enum',
    values: ['token', 'sequence', 'none'],
    default: 'sequence',
    doc: 'importance weights of the reinforce form: per token, one per sequence, or none (verl rollout_is)',
  },
  threshold: { type: 'number', default: 2, doc: 'cap U of the importance weights (verl rollout_is_threshold)' },
  batchNormalize: {
    type: 'boolean',
    default: false,
    doc: 'divide the weights by their batch mean (verl rollout_is_batch_normalize)',
  },
  clipLow: { type: 'number', default: 0.2, doc: 'lower clip range of the ppo-clip form' },
  clipHigh: { type: 'number', default: 0.2, doc: 'upper clip range of the ppo-clip form' },
} as const;

/**
 * verl's bypass mode (verl/trainer/ppo/core_algos.py): pi_old is the rollout engine's log-probs and the actor
 * recompute is skipped. This trainer always samples with the policy it trains and keeps the
 * sampling log-probs as pi_old, so bypass is its natural state; the mode adds verl's
 * `reinforce` loss, -A log pi w with truncated importance weights w (no gradient).
 */
export function bypass(options: BypassOptions = {}): RowLoss<Tf, T> {
  const o = resolveOptions<Required<BypassOptions>>('bypass', BYPASS_OPTIONS, options as Record<string, unknown>);
  if (!(o.threshold > 0)) throw new RangeError(`bypass: threshold must be > 0, got ${o.threshold}`);
  return defineLoss<Checked>({
    name: 'bypass',
    kind: 'rows',
    honours: ['clipLow', 'clipHigh'],
    summary: "verl's bypass mode: pi_old = the rollout log-probs; PPO clip, or REINFORCE with truncated importance weights",
    matches: 'verl `policy_loss.rollout_correction` with bypass_mode',
    references: [verlLoss('compute_policy_loss_bypass_mode', 'verl-bypass', 'rollout_correction.loss_type=ppo_clip')],
    options: BYPASS_OPTIONS,
    resolved: o,
    math:
      String.raw`ppo-clip: $-\min(\rho A, \mathrm{clip}(\rho)A)$ with $\rho = \pi_\theta/\pi_{roll}$, no IS weights; reinforce: $-A\log\pi_\theta\cdot w$, ` +
      String.raw`token $w = \min(e^{\mathrm{clamp}(\log\pi - \log\pi_{roll}, \pm 20)}, U)$, sequence $w = \min(e^{\mathrm{clamp}(\sum_t(\log\pi - \log\pi_{roll}), \pm 20)}, U)$`,
    unverified: [
      'Rejection sampling (rollout_rs) and IcePop thresholds are not built.',
      "verl's ppo_clip form runs compute_policy_loss_vanilla, which always adds the dual clip (clip_ratio_c, 3 by default); here there is none, so the two differ where A < 0 and the ratio exceeds c.",
      "The reinforce form's weights follow verl's rollout_corr_helper as described in core_algos.py; that helper was not read, and the fixture checks the ppo_clip form only.",
      'The rollout log-probs are the trainer policy’s own sampling log-probs, so on the first epoch w = 1 and the reinforce form is plain REINFORCE.',
    ],
    configure: (next) => bypass({ ...o, ...next }),
    loss(batch, tfjs) {
      if (o.lossType === 'ppo-clip') {
        const ratio = tfjs.exp(logRatio(tfjs, batch));
        const clipped = tfjs.clipByValue(ratio, 1 - o.clipLow, 1 + o.clipHigh);
        const perToken = tfjs.neg(tfjs.minimum(tfjs.mul(ratio, batch.advantages), tfjs.mul(clipped, batch.advantages)));
        return { loss: agg(tfjs, perToken, batch) };
      }
      const weights = constantOf(tfjs, batch.logprobs, (lp) => {
        const x = tfjs.mul(tfjs.sub(lp, batch.oldLogprobs), batch.mask);
        const logW =
          o.rolloutIs === 'token'
            ? x
            : o.rolloutIs === 'sequence'
              ? tfjs.mul(tfjs.sum(x, 1, true), tfjs.onesLike(x))
              : tfjs.zerosLike(x);
        let w = tfjs.minimum(tfjs.exp(tfjs.clipByValue(logW, -20, 20)), o.threshold);
        if (o.batchNormalize) {
          const meanW = tfjs.div(tfjs.sum(tfjs.mul(w, batch.mask)), tfjs.maximum(tfjs.sum(batch.mask), 1));
          w = tfjs.div(w, tfjs.maximum(meanW, 1e-8));
        }
        return w;
      });
      const perToken = tfjs.neg(tfjs.mul(tfjs.mul(batch.advantages, batch.logprobs), weights));
      const meanWeight = tfjs.div(tfjs.sum(tfjs.mul(weights, batch.mask)), tfjs.maximum(tfjs.sum(batch.mask), 1));
      return { loss: agg(tfjs, perToken, batch), metrics: { isWeightMean: meanWeight } };
    },
  });
}

// ---------------------------------------------------------------------------------------
// GSPO-token

export interface GspoTokenOptions {
  clipLow?: number;
  clipHigh?: number;
}

const GSPO_TOKEN_OPTIONS = {
  clipLow: { type: 'number', default: 3e-4, doc: 'lower clip range of the ratio (GSPO paper 3e-4)' },
  clipHigh: { type: 'number', default: 4e-4, doc: 'upper clip range of the ratio (GSPO paper 4e-4)' },
} as const;

const GSPO_PAPER = { title: 'Group Sequence Policy Optimization', arxiv: '2507.18071', year: 2025 };

/**
 * GSPO-token (verl `loss_mode=gspo`): s_{i,t} = sg[s_i] pi_t / sg[pi_t], s_i the geometric mean of the
 * row's token ratios. Its value is s_i on every token, as in GSPO-sequence (`ppo-clip ratio=sequence`),
 * but each token's gradient is weighted by its own advantage: the two agree only when a row's
 * tokens share one advantage.
 */
export function gspoToken(options: GspoTokenOptions = {}): RowLoss<Tf, T> {
  const o = resolveOptions<Required<GspoTokenOptions>>('gspo-token', GSPO_TOKEN_OPTIONS, options as Record<string, unknown>);
  return defineLoss<Checked>({
    name: 'gspo-token',
    kind: 'rows',
    honours: ['clipLow', 'clipHigh'],
    summary: "GSPO-token: the sequence ratio sg[s_i] pi/sg[pi] per token, so a token's gradient carries its own advantage",
    paper: GSPO_PAPER,
    matches: 'verl `loss_mode=gspo` (aggregation forced: seq-mean-token-mean)',
    references: [verlLoss('compute_policy_loss_gspo', 'verl-gspo')],
    options: GSPO_TOKEN_OPTIONS,
    resolved: o,
    math: String.raw`$\log s_{i,t} = \min(\operatorname{sg}[\operatorname{mean}_t \log\rho_{i,t}] + \log\pi_{i,t} - \operatorname{sg}[\log\pi_{i,t}],\ 10)$, $\ell_{i,t} = -\min(s_{i,t} A_{i,t}, \operatorname{clip}(s_{i,t}, 1-\epsilon_{lo}, 1+\epsilon_{hi}) A_{i,t})$, seq-mean-token-mean. The GSPO paper's main results train GSPO-sequence (ppo-clip with ratio=sequence, the gspo Method); GSPO-token is its variant for per-token advantages (multi-turn), equal to GSPO-sequence in value, clipping and gradient when a row's tokens share one advantage.`,
    configure: (next) => gspoToken({ ...o, ...next }),
    loss(batch, tfjs) {
      const sequence = constantOf(tfjs, batch.logprobs, (lp) =>
        tfjs.mul(rowMean(tfjs, tfjs.sub(lp, batch.oldLogprobs), batch.mask), tfjs.onesLike(lp)),
      );
      // log pi - sg[log pi]: 0 in value, gradient 1 (a copy: tfjs's custom gradient must not return its input).
      const self = tfjs.sub(
        batch.logprobs,
        constantOf(tfjs, batch.logprobs, (lp) => tfjs.add(lp, 0)),
      );
      const ratio = tfjs.exp(tfjs.minimum(tfjs.add(sequence, self), 10));
      const clipped = tfjs.clipByValue(ratio, 1 - o.clipLow, 1 + o.clipHigh);
      const perToken = tfjs.neg(tfjs.minimum(tfjs.mul(ratio, batch.advantages), tfjs.mul(clipped, batch.advantages)));
      return { loss: agg(tfjs, perToken, batch, 'seq-mean-token-mean') };
    },
  });
}

/** Every loss of this catalog, default options (what the trainer plugin registers). */
export function catalogLosses(): RowLoss<Tf, T>[] {
  return [
    trlClip(),
    sapo(),
    cispoVerl(),
    cispoTrl(),
    gmpo(),
    dppoTv(),
    dppoKl(),
    dro(),
    vespo(),
    gpgLoss(),
    luspo(),
    klCov(),
    clipCov(),
    bypass(),
    gspoToken(),
  ];
}
