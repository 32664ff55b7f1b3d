import { type AdvantageEstimator, defineEstimator, type Rollout } from '@policy-lab/core';
import { mean } from '../group-math.js';
import { ones, scalarRewards } from '../groups.js';
import { verlReference } from '../reference.js';

const PAPER = {
  title: 'REINFORCE++: A Simple and Efficient Approach for Aligning Large Language Models',
  arxiv: '2501.03262',
  year: 2025,
};

/**
 * Action tokens of a rollout: its weight in token-weighted statistics, as verl's response mask.
 * An empty completion (turns without action tokens) counts 0, as in verl; a rollout without turns
 * at all (reward-only input, `bench advantages`) counts as one token.
 */
export function tokenCount(rollout: Rollout): number {
  if (rollout.turns.length === 0) return 1;
  return rollout.turns.reduce((sum, turn) => sum + turn.actionTokens.length, 0);
}

/**
 * Whitens values over the whole batch, weighting each rollout by its token count (verl's
 * masked_whiten over tokens: Bessel-corrected variance, 1e-8 inside the square root). With a
 * single token in the batch the variance is undefined: the values are only centred; with none,
 * they are returned unchanged. verl's masked_mean adds 1e-8 to the token count; that changes
 * results by a relative 1e-8 / N and is left out.
 */
export function tokenWhiten(values: readonly number[], counts: readonly number[]): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  // No token at all: nothing is trained, and verl's masked statistics are undefined.
  if (total === 0) return [...values];
  const centre = values.reduce((sum, v, i) => sum + v * (counts[i] as number), 0) / total;
  if (total <= 1) return values.map((v) => v - centre);
  const variance = values.reduce((sum, v, i) => sum + (counts[i] as number) * (v - centre) ** 2, 0) / (total - 1);
  return values.map((v) => (v - centre) / Math.sqrt(variance + 1e-8));
}

export function regroup<T>(flat: readonly T[], groups: readonly (readonly unknown[])[]): T[][] {
  let offset = 0;
  return groups.map((g) => {
    const part = flat.slice(offset, offset + g.length);
    offset += g.length;
    return part;
  });
}

/** REINFORCE++: the sequence reward whitened over the global batch (token-weighted); no group baseline. */
export function reinforcePp(): AdvantageEstimator {
  return defineEstimator({
    name: 'reinforce-pp',
    summary: 'REINFORCE++: rewards (with the k1 KL in the reward) whitened over the whole batch, token-weighted',
    paper: PAPER,
    matches:
      'verl `adv_estimator=reinforce_plus_plus` with gamma = 1 and the outcome reward only (the k1 KL enters as a reward component)',
    references: [verlReference('compute_reinforce_plus_plus_outcome_advantage', 'verl-reinforce-pp', 'gamma=1')],
    unverified: ['token-weighted whitening follows verl; the paper describes batch normalisation without the weighting'],
    math: '$A_i = (G_i - \\mu_{tok}) / \\sqrt{\\sigma^2_{tok} + 10^{-8}}$ with $G_i$ the sequence return ($\\gamma = 1$) and token-weighted batch statistics',
    compute(groups, ctx) {
      const rewards = scalarRewards('reinforce-pp', groups, ctx, 1).flat();
      const counts = groups.flat().map(tokenCount);
      return { rollout: regroup(tokenWhiten(rewards, counts), groups), weights: ones(groups) };
    },
  });
}

/** REINFORCE++-baseline: subtract the group mean first, then whiten over the batch (token-weighted). */
export function reinforcePpBaseline(): AdvantageEstimator {
  return defineEstimator({
    name: 'reinforce-pp-baseline',
    summary: 'REINFORCE++-baseline: group-mean baseline, then token-weighted whitening over the batch',
    paper: PAPER,
    matches: 'verl `adv_estimator=reinforce_plus_plus_baseline` (groups of G >= 2)',
    references: [verlReference('compute_reinforce_plus_plus_baseline_outcome_advantage', 'verl-reinforce-pp-baseline')],
    unverified: ['token-weighted whitening follows verl'],
    math: '$\\tilde r_i = r_i - \\operatorname{mean}_{group}(r)$, $A_i = (\\tilde r_i - \\mu_{tok}) / \\sqrt{\\sigma^2_{tok} + 10^{-8}}$',
    compute(groups, ctx) {
      const centred = scalarRewards('reinforce-pp-baseline', groups, ctx).flatMap((r) => {
        const m = mean(r);
        return r.map((v) => v - m);
      });
      const counts = groups.flat().map(tokenCount);
      return { rollout: regroup(tokenWhiten(centred, counts), groups), weights: ones(groups) };
    },
  });
}
