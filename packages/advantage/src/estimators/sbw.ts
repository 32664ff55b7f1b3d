/**
 * VeriRL's sample-balanced weighting (SbW), our formula: the paper reweights samples by the
 * batch's reward-probability distribution against over-fitting to easy, frequent samples; its
 * formula was not reachable, so here each rollout's advantage is multiplied by a weight inversely
 * proportional to how many rollouts of the batch share its bucket (its reward bin, optionally
 * crossed with a bin of its mean token log-probability), normalised to mean 1 and capped.
 */
import { type AdvantageEstimator, defineEstimator, type Rollout, resolveOptions, UsageError } from '@policy-lab/core';
import { zScores } from '../group-math.js';
import { ones, scalarRewards } from '../groups.js';
import { regroup, tokenCount, tokenWhiten } from './reinforce-pp.js';

export interface SbwOptions {
  /** The advantage the weights multiply: GRPO's group z-score or REINFORCE++'s batch whitening (the paper's). */
  base?: 'grpo' | 'reinforce-pp';
  /** Equal-width bins over the batch's reward range. */
  bins?: number;
  /** Quantile bins of the mean token log-probability crossed with the reward bins (1: rewards only). */
  probabilityBins?: number;
  /** Largest weight after normalisation (weights are clipped and renormalised until none exceeds it). */
  cap?: number;
}

const OPTIONS = {
  base: {
    type: 'enum',
    values: ['grpo', 'reinforce-pp'],
    default: 'reinforce-pp',
    doc: "advantage the weights multiply: 'reinforce-pp' (batch whitening, token-weighted: VeriRL's base algorithm) or 'grpo' (group z-score)",
  },
  bins: { type: 'integer', default: 10, doc: "equal-width bins over the batch's reward range (ours)" },
  probabilityBins: {
    type: 'integer',
    default: 1,
    doc: 'quantile bins of the mean token log-probability crossed with the reward bins; 1 buckets by reward alone (ours)',
  },
  cap: { type: 'number', default: 4, doc: 'largest weight; clipped weights are renormalised to mean 1 (ours)' },
} as const;

/**
 * Each sample's bucket index from its reward (equal-width bins over the batch range) and, with
 * `probabilityBins` > 1, the quantile bin of its probability score (ties keep input order).
 */
export function sbwBuckets(
  rewards: readonly number[],
  probabilities: readonly number[],
  bins: number,
  probabilityBins: number,
): number[] {
  const low = Math.min(...rewards);
  const high = Math.max(...rewards);
  const rewardBin = rewards.map((r) => (high > low ? Math.min(bins - 1, Math.floor(((r - low) / (high - low)) * bins)) : 0));
  if (probabilityBins <= 1) return rewardBin;
  const order = probabilities.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p || a.i - b.i);
  const probabilityBin = new Array<number>(rewards.length).fill(0);
  order.forEach(({ i }, rank) => {
    probabilityBin[i] = Math.floor((rank * probabilityBins) / rewards.length);
  });
  return rewardBin.map((b, i) => b * probabilityBins + (probabilityBin[i] as number));
}

/**
 * w_i = (1 / n_{b(i)}) / mean_k (1 / n_{b(k)}): every occupied bucket carries the same total weight
 * and the weights average 1. Weights above `cap` are clipped and the rest renormalised, repeatedly,
 * so the mean stays 1 (possible whenever cap >= 1).
 */
export function sbwWeights(buckets: readonly number[], cap: number): number[] {
  const counts = new Map<number, number>();
  for (const b of buckets) counts.set(b, (counts.get(b) ?? 0) + 1);
  const raw = buckets.map((b) => 1 / (counts.get(b) as number));
  const n = raw.length;
  let weights = normalised(raw);
  for (let round = 0; round < n && weights.some((w) => w > cap + 1e-12); round++) {
    const fixed = weights.map((w) => w >= cap - 1e-12);
    const free = weights.reduce((s, w, i) => (fixed[i] ? s : s + w), 0);
    const room = n - cap * fixed.filter(Boolean).length;
    weights = weights.map((w, i) => (fixed[i] ? cap : free > 0 ? (w * room) / free : cap));
  }
  return weights;
}

function normalised(values: readonly number[]): number[] {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return values.map((v) => v / mean);
}

/** Mean log-probability per action token under the sampling policy (0 without tokens). */
function meanLogprob(rollout: Rollout): number {
  let total = 0;
  let count = 0;
  for (const turn of rollout.turns)
    for (const lp of turn.logprobs) {
      total += lp;
      count++;
    }
  return count > 0 ? total / count : 0;
}

export function sbwWeighting(options: SbwOptions = {}): AdvantageEstimator {
  const o = resolveOptions<Required<SbwOptions>>('sbw-weighting', OPTIONS, options as Record<string, unknown>);
  if (o.bins < 1) throw new UsageError(`sbw-weighting: option 'bins' must be >= 1, got ${o.bins}`);
  if (o.probabilityBins < 1)
    throw new UsageError(`sbw-weighting: option 'probabilityBins' must be >= 1, got ${o.probabilityBins}`);
  if (!(o.cap >= 1)) throw new UsageError(`sbw-weighting: option 'cap' must be >= 1 (weights average 1), got ${o.cap}`);
  return defineEstimator({
    name: 'sbw-weighting',
    summary:
      "VeriRL's sample-balanced weighting (our formula): advantages times inverse-frequency weights of the batch's reward buckets, mean 1, capped",
    paper: {
      title: 'VeriRL: Boosting the LLM-based Verilog Code Generation via Reinforcement Learning',
      arxiv: '2508.18462',
      year: 2025,
    },
    options: OPTIONS,
    resolved: o,
    unverified: [
      'Adaptation: adapted (Verilog samples -> any batch of scored rollouts; the base advantage is REINFORCE++ as in the paper).',
      "The weight formula is ours: the paper says only that SbW reweights samples by the batch's reward-probability distribution against over-fitting and forgetting; its formula was not reachable (only the abstract and third-party summaries were reachable).",
      'Bins (10 equal-width reward bins), probability bins (off) and the cap (4) are ours.',
    ],
    math: `$b_i = \\text{bin}(r_i)$${o.probabilityBins > 1 ? ` $\\times$ quantile bin of $\\overline{\\log\\pi}_i$ (${o.probabilityBins})` : ''}, $w_i = \\min\\big(${o.cap},\\ \\frac{1/n_{b_i}}{\\frac1N\\sum_k 1/n_{b_k}}\\big)$ renormalised to mean 1; $A_i = w_i\\,A^{${o.base}}_i$ (${o.bins} reward bins)`,
    configure: (next) => sbwWeighting({ ...o, ...next }),
    compute(groups, ctx) {
      const rewards = scalarRewards('sbw-weighting', groups, ctx);
      const base =
        o.base === 'grpo'
          ? rewards.map((r) => zScores(r, 'sample', 1e-4))
          : regroup(tokenWhiten(rewards.flat(), groups.flat().map(tokenCount)), groups);
      const flat = rewards.flat();
      const buckets = sbwBuckets(flat, groups.flat().map(meanLogprob), o.bins, o.probabilityBins);
      const weights = regroup(sbwWeights(buckets, o.cap), groups);
      const rollout = base.map((row, g) => row.map((a, i) => a * (weights[g]?.[i] as number)));
      const all = weights.flat();
      return {
        rollout,
        weights: ones(groups),
        diagnostics: {
          sbwWeightMax: Math.max(...all),
          sbwWeightMin: Math.min(...all),
          sbwBuckets: new Set(buckets).size,
        },
      };
    },
  });
}
