/**
 * RiskPO: the Mixed Value-at-Risk of bundled rewards. Consecutive groups form
 * bundles of `bundleSize` questions; "paper" j takes the j-th response of every question and
 * scores their sum. Papers below the bundle's beta-quantile are pushed down, those below the
 * alpha-quantile harder; nothing is pushed up: every advantage is <= 0.
 */
import { type AdvantageEstimator, defineEstimator, resolveOptions, UsageError } from '@policy-lab/core';
import { std } from '../group-math.js';
import { ones, scalarRewards } from '../groups.js';

export interface RiskpoOptions {
  alpha?: number;
  beta?: number;
  omega?: number;
  bundleSize?: number;
  credit?: 'std' | 'uniform' | 'score';
}

const OPTIONS = {
  alpha: { type: 'number', default: 0.2, doc: 'lower quantile (quantile_down): the CVaR tail' },
  beta: { type: 'number', default: 0.9, doc: 'upper quantile (quantile_up) of the range VaR' },
  omega: { type: 'number', default: 1.5, doc: 'weight of the CVaR part (w_mix)' },
  bundleSize: { type: 'integer', default: 5, doc: 'questions (groups) per bundle' },
  credit: {
    type: 'enum',
    values: ['std', 'uniform', 'score'],
    default: 'std',
    doc: "a paper's advantage per response: divided by its question's reward std (1 if <= 1e-3), as is, or x0.5 / x1.5 for positive / other rewards",
  },
} as const;

/** torch.quantile with linear interpolation. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const position = q * (sorted.length - 1);
  const low = Math.floor(position);
  const high = Math.min(low + 1, sorted.length - 1);
  return (sorted[low] as number) + (position - low) * ((sorted[high] as number) - (sorted[low] as number));
}

/** The MVaR advantage of a paper with score s given the bundle's quantiles (before the std division). */
export function mvarAdvantage(s: number, qDown: number, qUp: number, alpha: number, beta: number, omega: number): number {
  const range = (Math.min(Math.max(s, qDown), qUp) - qUp) / (beta - alpha);
  const tail = -Math.max(qDown - s, 0) / alpha;
  return (omega * tail + range) / (omega + 1);
}

export function riskpo(options: RiskpoOptions = {}): AdvantageEstimator {
  const o = resolveOptions<Required<RiskpoOptions>>('riskpo', OPTIONS, options as Record<string, unknown>);
  if (!(o.alpha > 0 && o.alpha < o.beta && o.beta <= 1))
    throw new RangeError(`riskpo: need 0 < alpha < beta <= 1, got alpha ${o.alpha} and beta ${o.beta}`);
  if (o.bundleSize < 1) throw new RangeError(`riskpo: option 'bundleSize' must be >= 1, got ${o.bundleSize}`);
  return defineEstimator({
    name: 'riskpo',
    summary: 'RiskPO: mixed value-at-risk of bundled rewards; only papers below the upper quantile are pushed down (A <= 0)',
    paper: {
      title: 'RiskPO: Risk-based Policy Optimization via Verifiable Reward for LLM Post-Training',
      arxiv: '2510.00911',
      year: 2025,
    },
    matches: 'RTkenny/RiskPO `compute_grpo_bundle_rvar_outcome_advantage_quantile_tracking` with per-bundle empirical quantiles',
    options: OPTIONS,
    resolved: o,
    math: '$S_p = \\sum_{q \\in bundle} r_{q,p}$; $g_R = \\frac{\\operatorname{clip}(S, q_\\alpha, q_\\beta) - q_\\beta}{\\beta - \\alpha}$, $g_C = -\\frac{(q_\\alpha - S)^+}{\\alpha}$, $a_p = \\frac{\\omega g_C + g_R}{(\\omega + 1)(\\operatorname{std}(S) + 10^{-6})}$',
    unverified: [
      "Quantile tracking (pinball SGD) is not used: the released trainer computes the advantage from the bundle's empirical quantiles, which we follow.",
    ],
    configure: (next) => riskpo({ ...o, ...next }),
    compute(groups, ctx) {
      const rewards = scalarRewards('riskpo', groups, ctx, 1);
      const rollout = rewards.map((r) => r.map(() => 0));
      for (let start = 0; start < rewards.length; start += o.bundleSize) {
        const bundle = rewards.slice(start, start + o.bundleSize);
        const n = (bundle[0] as number[]).length;
        bundle.forEach((g, k) => {
          if (g.length !== n)
            throw new UsageError(
              `riskpo: group ${start + k} has ${g.length} rollouts but its bundle's first group has ${n}; a bundle needs equal group sizes`,
            );
        });
        const scores = Array.from({ length: n }, (_, p) => bundle.reduce((sum, g) => sum + (g[p] as number), 0));
        const qDown = quantile(scores, o.alpha);
        const qUp = quantile(scores, o.beta);
        const spread = n > 1 ? std(scores, 'sample') : 1;
        const papers = scores.map((s) => mvarAdvantage(s, qDown, qUp, o.alpha, o.beta, o.omega) / (spread + 1e-6));
        bundle.forEach((g, k) => {
          const own = g.length > 1 ? std(g, 'sample') : 0;
          const scale = own <= 1e-3 ? 1 : own;
          (rollout[start + k] as number[]).forEach((_, p) => {
            const a = papers[p] as number;
            const value = o.credit === 'std' ? a / scale : o.credit === 'score' ? a * ((g[p] as number) > 0 ? 0.5 : 1.5) : a;
            (rollout[start + k] as number[])[p] = value === 0 ? 0 : value;
          });
        });
      }
      return { rollout, weights: ones(groups) };
    },
  });
}
