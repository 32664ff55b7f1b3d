/**
 * Estimators that verl ships next to GRPO: OPO's length-weighted
 * baseline, GPG's batch-rescaled centring, GRPO pass@k and RLOO's vectorised variant.
 */
import { type AdvantageEstimator, defineEstimator, resolveOptions } from '@policy-lab/core';
import { mean, std } from '../group-math.js';
import { checkGroupSize, ones, scalarOf, scalarRewards } from '../groups.js';
import { verlReference } from '../reference.js';
import { tokenCount } from './reinforce-pp.js';

/** Rewards without the G >= 2 check (these estimators define the singleton case). */
function anySizeRewards(
  name: string,
  groups: Parameters<AdvantageEstimator['compute']>[0],
  ctx: Parameters<AdvantageEstimator['compute']>[1],
): number[][] {
  return groups.map((group, g) => {
    checkGroupSize(name, group, g, 1);
    return group.map((r, i) => scalarOf(name, r, ctx, g, i));
  });
}

/** OPO: A_i = R_i - sum_j L_j R_j / sum_j L_j (L = action tokens); a singleton's baseline is 0. */
export function opo(): AdvantageEstimator {
  return defineEstimator({
    name: 'opo',
    summary: 'OPO: the reward minus a length-weighted group baseline (the optimal-variance baseline), no std scaling',
    paper: { title: 'On-Policy RL with Optimal Reward Baseline', arxiv: '2505.23585', year: 2025 },
    matches: 'verl `adv_estimator=opo`',
    references: [verlReference('compute_opo_outcome_advantage', 'verl-opo')],
    math: '$b_g = \\dfrac{\\sum_{j} L_j R_j}{\\sum_j L_j}$, $A_i = R_i - b_g$ ($L$ = action tokens)',
    unverified: [
      'The paper also prescribes exactly on-policy training (one update per batch): set epochs=1, minibatches=1 (the defaults).',
    ],
    compute(groups, ctx) {
      const rewards = anySizeRewards('opo', groups, ctx);
      const rollout = rewards.map((r, g) => {
        if (r.length === 1) return [...r];
        const lengths = (groups[g] ?? []).map(tokenCount);
        const total = lengths.reduce((a, b) => a + b, 0);
        // Every completion empty: verl's 0/0 is NaN; nothing is trained, so the plain mean stands in.
        const baseline = total > 0 ? r.reduce((s, v, i) => s + v * (lengths[i] as number), 0) / total : mean(r);
        return r.map((v) => v - baseline);
      });
      return { rollout, weights: ones(groups) };
    },
  });
}

/** GPG: A_i = alpha (R_i - mean_g), alpha = N / max(1, #{R != 0}) over the whole batch (verl's count). */
export function gpg(): AdvantageEstimator {
  return defineEstimator({
    name: 'gpg',
    summary: 'GPG: group-mean-centred rewards rescaled by batch size over the number of non-zero rewards',
    matches: 'verl `adv_estimator=gpg` (pair it with the gpg loss: no ratio)',
    references: [verlReference('compute_gpg_outcome_advantage', 'verl-gpg', 'f_norm=1')],
    math: '$\\alpha = N / \\max(1, \\#\\{i: R_i \\ne 0\\})$, $A_i = \\alpha\\,(R_i - \\operatorname{mean}_g R)$',
    unverified: [
      "The paper's factor counts samples outside all-equal groups; verl counts non-zero rewards. We follow verl (`adv_estimator=gpg`).",
    ],
    compute(groups, ctx) {
      const rewards = anySizeRewards('gpg', groups, ctx);
      const all = rewards.flat();
      const alpha = all.length / Math.max(1, all.filter((r) => r !== 0).length);
      const rollout = rewards.map((r) => {
        const m = r.length > 1 ? mean(r) : 0;
        return r.map((v) => alpha * (v - m));
      });
      return { rollout, weights: ones(groups), diagnostics: { alpha } };
    },
  });
}

export interface PasskOptions {
  normalise?: boolean;
}

const PASSK_OPTIONS = {
  normalise: { type: 'boolean', default: true, doc: 'divide by the group std + 1e-6 (verl norm_adv_by_std_in_grpo)' },
} as const;

/** GRPO pass@k: only the best rollout of a group gets a signal, (best - second best) / (std + 1e-6). */
export function grpoPassk(options: PasskOptions = {}): AdvantageEstimator {
  const o = resolveOptions<Required<PasskOptions>>('grpo-passk', PASSK_OPTIONS, options as Record<string, unknown>);
  return defineEstimator({
    name: 'grpo-passk',
    summary: 'GRPO pass@k: only the best rollout of each group is reinforced, by its margin over the second best',
    matches: 'verl `adv_estimator=grpo_passk`',
    references: [verlReference('compute_grpo_passk_outcome_advantage', 'verl-grpo-passk', 'norm_adv_by_std_in_grpo=normalise')],
    options: PASSK_OPTIONS,
    resolved: o,
    math: '$A_{i^*} = \\dfrac{r_{(1)} - r_{(2)}}{\\operatorname{std}(r) + 10^{-6}}$ for the best $i^*$, 0 for the others',
    configure: (next) => grpoPassk({ ...o, ...next }),
    compute(groups, ctx) {
      const rewards = scalarRewards('grpo-passk', groups, ctx);
      const rollout = rewards.map((r) => {
        const order = r.map((v, i) => ({ v, i })).sort((a, b) => b.v - a.v || a.i - b.i);
        const [best, second] = order as [{ v: number; i: number }, { v: number; i: number }];
        const s = std(r, 'sample');
        const out = r.map(() => 0);
        if (s === 0) return out;
        out[best.i] = o.normalise ? (best.v - second.v) / (s + 1e-6) : best.v - second.v;
        return out;
      });
      return { rollout, weights: ones(groups) };
    },
  });
}

/** RLOO with verl's vectorised rule: identical for G >= 2, a singleton group gets 0 (plain rloo keeps R). */
export function rlooVectorized(): AdvantageEstimator {
  return defineEstimator({
    name: 'rloo-vectorized',
    summary: "RLOO's leave-one-out baseline with verl's vectorised singleton rule (a lone rollout gets 0)",
    paper: {
      title: 'Back to Basics: Revisiting REINFORCE Style Optimization for Learning from Human Feedback in LLMs',
      arxiv: '2402.14740',
      year: 2024,
    },
    matches: 'verl `adv_estimator=rloo_vectorized`',
    references: [verlReference('compute_rloo_vectorized_outcome_advantage', 'verl-rloo-vectorized')],
    math: '$A_i = \\frac{G}{G-1}(R_i - \\operatorname{mean} R)$ for $G \\ge 2$; 0 for $G = 1$',
    compute(groups, ctx) {
      const rewards = anySizeRewards('rloo-vectorized', groups, ctx);
      const rollout = rewards.map((r) => {
        if (r.length < 2) return r.map(() => 0);
        const m = mean(r);
        return r.map((v) => (r.length / (r.length - 1)) * (v - m));
      });
      return { rollout, weights: ones(groups) };
    },
  });
}
