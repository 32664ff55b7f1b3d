import { type AdvantageEstimator, defineEstimator, resolveOptions } from '@policy-lab/core';
import { mean, zScores } from '../group-math.js';
import { ones, scalarRewards } from '../groups.js';
import { TRL_GRPO_COMMIT, trlReference, verlReference } from '../reference.js';

export interface GrpoOptions {
  std?: 'sample' | 'population';
  /** Added to the std (TRL: 1e-4). */
  eps?: number;
  /** 'group' normalises by the group's std; 'none' only centres (Dr. GRPO). */
  scale?: 'group' | 'none';
}

const GRPO_OPTIONS = {
  std: {
    type: 'enum',
    values: ['sample', 'population'],
    default: 'sample',
    doc: "standard deviation: 'sample' (Bessel, TRL/verl) or 'population'",
  },
  eps: { type: 'number', default: 1e-4, doc: 'added to the std before dividing (TRL: 1e-4)' },
  scale: {
    type: 'enum',
    values: ['group', 'none'],
    default: 'group',
    doc: "'group': divide by the group std; 'none': centre only (Dr. GRPO)",
  },
} as const;

const GRPO_PAPER = {
  title: 'DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open Language Models',
  arxiv: '2402.03300',
  year: 2024,
};

/** Group-relative advantages: A_i = (r_i - mean(r)) / (std(r) + eps), broadcast to every token. */
export function grpo(options: GrpoOptions = {}): AdvantageEstimator {
  const resolved = resolveOptions<Required<GrpoOptions>>('grpo', GRPO_OPTIONS, options as Record<string, unknown>);
  if (resolved.eps < 0) throw new RangeError(`grpo: option 'eps' must be >= 0, got ${resolved.eps}`);
  return defineEstimator({
    name: 'grpo',
    summary: 'Group-relative advantage: reward minus the group mean, divided by the group std',
    paper: GRPO_PAPER,
    matches:
      "verl `adv_estimator=grpo` (eps=1e-6; scale=none is norm_adv_by_std_in_grpo=False), TRL GRPOTrainer (eps=1e-4; scale=none is scale_rewards='none'), with std=sample",
    references: [
      verlReference('compute_grpo_outcome_advantage', 'verl-grpo', 'epsilon=eps, norm_adv_by_std_in_grpo=(scale=group)'),
      trlReference('trl-grpo', TRL_GRPO_COMMIT, "scale_rewards='group' or 'none'"),
    ],
    options: GRPO_OPTIONS,
    resolved,
    math:
      resolved.scale === 'none'
        ? '$A_i = r_i - \\operatorname{mean}(r)$'
        : `$A_i = \\dfrac{r_i - \\operatorname{mean}(r)}{\\operatorname{std}_{${resolved.std}}(r) + ${resolved.eps}}$ (0 when the group std is 0)`,
    configure: (next) => grpo({ ...resolved, ...next }),
    compute(groups, ctx) {
      const rewards = scalarRewards('grpo', groups, ctx);
      const rollout = rewards.map((r) => (resolved.scale === 'none' ? centred(r) : zScores(r, resolved.std, resolved.eps)));
      return { rollout, weights: ones(groups) };
    },
  });
}

function centred(values: readonly number[]): number[] {
  const m = mean(values);
  return values.map((v) => v - m);
}

/** Dr. GRPO: A_i = r_i - mean(r) (no std: removes the question-difficulty bias). */
export function drGrpo(): AdvantageEstimator {
  return defineEstimator({
    name: 'dr-grpo',
    summary: 'GRPO without the std division (removes the question-difficulty bias)',
    paper: { title: 'Understanding R1-Zero-Like Training: A Critical Perspective', arxiv: '2503.20783', year: 2025 },
    matches: "verl `adv_estimator=grpo` with norm_adv_by_std_in_grpo=False; TRL GRPOTrainer with scale_rewards='none'",
    references: [
      verlReference('compute_grpo_outcome_advantage', 'verl-grpo', 'norm_adv_by_std_in_grpo=False'),
      trlReference('trl-grpo', TRL_GRPO_COMMIT, "scale_rewards='none'"),
    ],
    math: '$A_i = r_i - \\operatorname{mean}(r)$',
    compute(groups, ctx) {
      return { rollout: scalarRewards('dr-grpo', groups, ctx).map(centred), weights: ones(groups) };
    },
  });
}

/** RLOO: A_i = r_i - mean of the other rewards = G/(G-1) (r_i - mean(r)). */
export function rloo(): AdvantageEstimator {
  return defineEstimator({
    name: 'rloo',
    summary: 'REINFORCE leave-one-out: reward minus the mean of the other rollouts of the group',
    paper: {
      title: 'Back to Basics: Revisiting REINFORCE Style Optimization for Learning from Human Feedback in LLMs',
      arxiv: '2402.14740',
      year: 2024,
    },
    matches: "verl `adv_estimator=rloo` (groups of G >= 2; verl keeps a lone rollout's reward, we refuse G < 2)",
    references: [verlReference('compute_rloo_outcome_advantage', 'verl-rloo')],
    math: '$A_i = r_i - \\frac{1}{G-1}\\sum_{j \\ne i} r_j = \\frac{G}{G-1}(r_i - \\operatorname{mean}(r))$',
    compute(groups, ctx) {
      const rollout = scalarRewards('rloo', groups, ctx).map((r) => {
        const total = r.reduce((a, b) => a + b, 0);
        return r.map((value) => value - (total - value) / (r.length - 1));
      });
      return { rollout, weights: ones(groups) };
    },
  });
}
