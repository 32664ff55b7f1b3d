/**
 * PIPO, policy-improvement RL (arXiv 2604.00860). Phase 1 is the ordinary group
 * update on the fresh batch B_t. Phase 2 verifies the previous update: the improvement signal
 * xi_t = (mu_t - mu_his) / (sigma_his + eps) compares this batch's mean reward with the means of
 * the last K batches, and the previous batch B_{t-1} is trained again with r^PI = xi_t A_{t-1}:
 * reinforced when the policy improved, reversed when it got worse.
 *
 * `compute` returns phase 1 (GRPO) and records the history; `verification()` hands out phase 2
 * for a trainer that can run a second update on the previous batch.
 */
import {
  type AdvantageEstimator,
  type Advantages,
  defineEstimator,
  type EstimatorContext,
  type Rollout,
  resolveOptions,
} from '@policy-lab/core';
import { mean, std, zScores } from '../group-math.js';
import { ones, scalarRewards } from '../groups.js';

export interface PipoOptions {
  std?: 'sample' | 'population';
  /** Added to the group std of phase 1 (TRL: 1e-4). */
  eps?: number;
  /** K: how many past batch means form the history. */
  window?: number;
  /** Past batches needed before xi is defined. */
  minHistory?: number;
  /** Added to the history's std in xi's denominator. */
  xiEps?: number;
  /** |xi| is clipped to this (0: no clip). */
  xiClip?: number;
}

const OPTIONS = {
  std: {
    type: 'enum',
    values: ['sample', 'population'],
    default: 'sample',
    doc: "standard deviation of the group z-score and of the history: 'sample' (Bessel) or 'population'",
  },
  eps: { type: 'number', default: 1e-4, doc: 'added to the group std in phase 1 (TRL: 1e-4)' },
  window: { type: 'integer', default: 5, doc: 'K, the number of past batch means in the history [unverified]' },
  minHistory: { type: 'integer', default: 2, doc: 'past batches needed before the improvement signal is defined' },
  xiEps: { type: 'number', default: 1e-2, doc: "added to the history's std in xi's denominator [unverified]" },
  xiClip: { type: 'number', default: 5, doc: '|xi| is clipped to this; 0 disables the clip (our guard, not the paper’s)' },
} as const;

/** The improvement signal: this batch's mean against the history, in units of the history's spread. */
export function improvementSignal(
  current: number,
  history: readonly number[],
  settings: { std: 'sample' | 'population'; xiEps: number; xiClip: number },
): number {
  const spread = history.length > 1 ? std(history, settings.std) : 0;
  const denominator = spread + settings.xiEps;
  const raw = denominator > 0 ? (current - mean(history)) / denominator : 0;
  return settings.xiClip > 0 ? Math.max(-settings.xiClip, Math.min(settings.xiClip, raw)) : raw;
}

export interface PipoVerification {
  /** The previous batch, to be trained again. */
  groups: readonly (readonly Rollout[])[];
  /** r^PI = xi A_{t-1}, used directly as the advantage. */
  advantages: Advantages;
  xi: number;
}

export interface PipoEstimator extends AdvantageEstimator {
  /** Phase 2 for the batch last passed to `compute`, once the history is long enough. */
  verification(): PipoVerification | undefined;
}

export function pipo(options: PipoOptions = {}): PipoEstimator {
  const o = resolveOptions<Required<PipoOptions>>('pipo', OPTIONS, options as Record<string, unknown>);
  if (o.eps < 0) throw new RangeError(`pipo: option 'eps' must be >= 0, got ${o.eps}`);
  if (o.xiEps < 0) throw new RangeError(`pipo: option 'xiEps' must be >= 0, got ${o.xiEps}`);
  if (o.xiClip < 0) throw new RangeError(`pipo: option 'xiClip' must be >= 0 (0 disables it), got ${o.xiClip}`);
  if (o.window < 1) throw new RangeError(`pipo: option 'window' must be >= 1, got ${o.window}`);
  if (o.minHistory < 1 || o.minHistory > o.window)
    throw new RangeError(`pipo: option 'minHistory' must be in [1, window = ${o.window}], got ${o.minHistory}`);

  let history: number[] = [];
  let previous: { groups: readonly (readonly Rollout[])[]; advantages: number[][] } | undefined;
  let pending: PipoVerification | undefined;
  let lastStep = -1;
  const forgetOnNewRun = (ctx: EstimatorContext) => {
    if (ctx.step === undefined) return;
    if (ctx.step < lastStep) {
      history = [];
      previous = undefined;
      pending = undefined;
    }
    lastStep = ctx.step;
  };

  return defineEstimator({
    name: 'pipo',
    summary:
      'PIPO: the group update on each fresh batch, plus a verification update on the previous batch scaled by how much the policy improved since',
    paper: { title: 'Policy Improvement Reinforcement Learning', arxiv: '2604.00860', year: 2026 },
    options: OPTIONS,
    resolved: o,
    math:
      '$A_{t,i}$ = GRPO z-score on $B_t$; $\\xi_t = \\dfrac{\\mu_t - \\operatorname{mean}(\\mu_{t-K..t-1})}{\\operatorname{std}(\\mu_{t-K..t-1}) + \\epsilon_\\xi}$ ' +
      `(clipped to $\\pm${o.xiClip || '\\infty'}$); verification on $B_{t-1}$ with $\\hat r^{PI}_{t-1,i} = \\xi_t A_{t-1,i}$`,
    unverified: [
      "The page's formulas are partly unreadable: xi's normaliser (std of the window + xiEps), K (window) and the clip of xi are our choices.",
      'r^PI = xi A_{t-1} is used directly as the advantage of the verification update (not renormalised) [inferred].',
      'The batch-mean history lives in the estimator instance: it is not in checkpoints, so a resumed run restarts it.',
      'The history lives in the estimator instance and is not saved in checkpoints; it is forgotten when the step counter goes back.',
    ],
    configure: (next) => pipo({ ...o, ...next }),
    compute(groups, ctx) {
      forgetOnNewRun(ctx);
      const rewards = scalarRewards('pipo', groups, ctx);
      const rollout = rewards.map((r) => zScores(r, o.std, o.eps));
      const batchMean = mean(rewards.flat());
      pending = undefined;
      let xi: number | undefined;
      if (previous && history.length >= o.minHistory) {
        xi = improvementSignal(batchMean, history, o);
        const scale = xi;
        pending = {
          groups: previous.groups,
          advantages: {
            rollout: previous.advantages.map((g) => g.map((a) => scale * a)),
            weights: ones(previous.groups),
          },
          xi,
        };
      }
      history = [...history, batchMean].slice(-o.window);
      previous = { groups, advantages: rollout };
      return {
        rollout,
        weights: ones(groups),
        diagnostics: { batchMean, ...(xi === undefined ? {} : { xi }) },
      };
    },
    verification: () => pending,
  });
}
