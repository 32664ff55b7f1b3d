import { type AdvantageEstimator, defineEstimator, type Rollout, UsageError } from '@policy-lab/core';
import { checkGroupSize, ones } from '../groups.js';
import { verlReference } from '../reference.js';
import { groupIdOf, partialScalar, requireServices, scalarOf } from './shared.js';

const PAPER = {
  title: 'ReMax: A Simple, Effective, and Efficient Reinforcement Learning Method for Aligning Large Language Models',
  arxiv: '2310.10505',
  year: 2023,
};

/**
 * ReMax: REINFORCE with the reward of one greedy decode of the same task as the
 * baseline, A_i = R_i - b, b = R(greedy). One greedy rollout per group is requested from the
 * trainer's services (charged to the budget); it is used for the baseline only, never trained.
 */
export function remax(): AdvantageEstimator {
  return defineEstimator({
    name: 'remax',
    summary: 'ReMax: reward minus the reward of a greedy decode of the same task (one extra greedy rollout per group, charged)',
    paper: PAPER,
    needsModel: true,
    matches: 'verl `adv_estimator=remax` (outcome reward; the greedy decode is scored by the same reward)',
    references: [verlReference('compute_remax_outcome_advantage', 'verl-remax')],
    unverified: [
      'the greedy rollout is scored with the same reward weights; components it lacks that only the trainer adds to sampled rollouts (klPenalty) are left out of b, as verl keeps the KL out of the baseline',
      'reward shapers run by the trainer are not applied to the greedy rollout',
    ],
    math: '$A_i = R_i - R(y^{greedy})$, one greedy decode per prompt; no normalisation, no group statistic',
    async compute(groups, ctx) {
      const services = requireServices('remax', ctx);
      const rollout: number[][] = [];
      const baselines: number[] = [];
      for (const [g, group] of groups.entries()) {
        checkGroupSize('remax', group, g, 1);
        const groupId = groupIdOf('remax', group, g);
        const rewards = group.map((r, i) => scalarOf('remax', r, ctx, g, i));
        const greedy = await services.rollouts({ groupId, count: 1, greedy: true });
        if (greedy.length !== 1) {
          throw new UsageError(`remax: asked for 1 greedy rollout of group ${g} ('${groupId}'), got ${greedy.length}`);
        }
        const b = partialScalar((greedy[0] as Rollout).reward, ctx.weights, ['klPenalty'], `remax: greedy rollout of group ${g}`);
        baselines.push(b);
        rollout.push(rewards.map((r) => r - b));
      }
      return {
        rollout,
        weights: ones(groups),
        diagnostics: { greedyBaselineMean: baselines.reduce((a, b) => a + b, 0) / Math.max(1, baselines.length) },
      };
    },
  });
}
