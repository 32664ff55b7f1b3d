import { type AdvantageEstimator, defineEstimator } from '@policy-lab/core';
import { grpo } from './grpo.js';

/**
 * DAPO's estimator: GRPO advantages, with dynamic sampling: a group whose rewards are all equal
 * (no learning signal) is discarded before the update. The trainer charges the discarded
 * rollouts to the budget.
 */
export function dapo(): AdvantageEstimator {
  const base = grpo();
  return defineEstimator({
    name: 'dapo',
    summary: 'DAPO: GRPO advantages with dynamic sampling (groups with all-equal rewards are discarded, and charged)',
    paper: { title: 'DAPO: An Open-Source LLM Reinforcement Learning System at Scale', arxiv: '2503.14476', year: 2025 },
    unverified: [
      'discarded groups are not replaced within the step (DAPO over-samples prompts until the batch is full); the step trains on fewer groups',
      'overlong reward shaping is not applied (no shaper is built yet)',
    ],
    math: `${base.math}; groups with $\\operatorname{std}(r) = 0$ are dropped (dynamic sampling)`,
    keepGroup: (group, ctx) => {
      const rewards = group.map((r) => ctx.scalar(r.reward));
      return rewards.some((r) => r !== rewards[0]);
    },
    compute: (groups, ctx) => base.compute(groups, ctx),
  });
}
