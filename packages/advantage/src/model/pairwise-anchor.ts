/**
 * Pairwise-RL's advantage (Xu et al., "A Unified Pairwise Framework for RLHF", arXiv
 * 2504.04950): each rollout is rewarded by its win probability against an anchor answer to the
 * same task, as a generative pairwise judge (the run's `pairwise-gen-rm`) sees it, asked in both
 * orders to cancel its position bias: r = (P(y > a) + 1 - P(a > y)) / 2. The anchor is one greedy
 * answer per task (charged as an episode), by default of the frozen start policy: the closest we
 * have to the paper's reference response. The anchor itself scores 1/2 under a consistent judge,
 * so in this pairwise frame it is the baseline: A = r - 1/2.
 */
import {
  type AdvantageEstimator,
  defineEstimator,
  pairText,
  type RewardModelHandle,
  type Rollout,
  resolveOptions,
  UsageError,
} from '@policy-lab/core';
import { mean } from '../group-math.js';
import { checkGroupSize, ones } from '../groups.js';
import { groupIdOf, partialScalar, requireServices, scalarOf } from './shared.js';

export interface PairwiseAnchorOptions {
  /** Whose greedy answer is the anchor. */
  anchor?: 'reference' | 'current';
  /** The baseline: the anchor's own score (1/2), or the group's mean pairwise reward. */
  baseline?: 'anchor' | 'group';
  /** The run's reward model that judges the pairs. */
  judge?: string;
}

const OPTIONS = {
  anchor: {
    type: 'enum',
    values: ['reference', 'current'],
    default: 'reference',
    doc: "whose greedy answer anchors each task: the frozen start's (a fixed reference response) or the current policy's",
  },
  baseline: {
    type: 'enum',
    values: ['anchor', 'group'],
    default: 'anchor',
    doc: "A = r - 1/2 (the anchor's own score under a consistent judge) or r minus the group's mean r",
  },
  judge: { type: 'string', default: 'pairwise-gen-rm', doc: "the run's pairwise reward model (a generative judge)" },
} as const;

/** The swap-debiased pairwise reward, from P(y > a) and P(a > y). */
export function pairwiseReward(yOverAnchor: number, anchorOverY: number): number {
  return (yOverAnchor + 1 - anchorOverY) / 2;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * The environment's scalar reward of an anchor. The trainer adds the KL penalty and reward
 * models' scores to sampled rollouts only, so those components may be missing here when
 * unweighted (a weighted one missing is an error).
 */
function anchorScalar(anchor: Rollout, weights: Readonly<Record<string, number>>, g: number): number {
  const optional = Object.keys(weights).filter((k) => !(k in anchor.reward) && (k === 'klPenalty' || weights[k] === 0));
  return partialScalar(anchor.reward, weights, optional, `pairwise-anchor: anchor of group ${g}`);
}

export function pairwiseAnchor(options: PairwiseAnchorOptions = {}): AdvantageEstimator {
  const o = resolveOptions<Required<PairwiseAnchorOptions>>('pairwise-anchor', OPTIONS, options as Record<string, unknown>);
  return defineEstimator({
    name: 'pairwise-anchor',
    summary:
      "Pairwise-RL: each rollout's win probability against a greedy anchor answer, judged by a generative pairwise reward model in both orders; A = r - 1/2",
    paper: {
      title: 'A Unified Pairwise Framework for RLHF: Bridging Generative Reward Modeling and Policy Optimization',
      arxiv: '2504.04950',
      year: 2025,
    },
    options: OPTIONS,
    resolved: o,
    needsModel: true,
    needsReference: o.anchor === 'reference',
    unverified: [
      "adaptation: adapted. The paper's anchor is a ground-truth or reference response; ours is a greedy answer of the frozen start policy (or the current one), charged as an episode.",
      "The paper's pairwise PPO estimates values in the same pairwise frame with a critic; here the anchor is the baseline (it scores 1/2 against itself), or the group's mean pairwise reward with baseline=group. The paper's exact advantage was not reachable (no released code).",
      "The judge is the run's pairwise-gen-rm (see it for how it is trained).",
    ],
    math: '$r_i = \\tfrac12\\,[P_\\phi(y_i \\succ a) + 1 - P_\\phi(a \\succ y_i)]$, $a$ a greedy answer to the task; $A_i = r_i - \\tfrac12$ (baseline=group: $A_i = r_i - \\bar r$)',
    configure: (next) => pairwiseAnchor({ ...o, ...next }),
    async compute(groups, ctx) {
      const services = requireServices('pairwise-anchor', ctx);
      const judge: RewardModelHandle | undefined = ctx.rewardModels?.[o.judge];
      if (!judge)
        throw new UsageError(
          `pairwise-anchor: the run has no reward model '${o.judge}' to judge the pairs (it has: ${Object.keys(ctx.rewardModels ?? {}).join(', ') || 'none'}); add it with --set rewardModels=${o.judge}, or run the pairwise-rl method`,
        );
      const anchors: Rollout[] = [];
      for (const [g, group] of groups.entries()) {
        checkGroupSize('pairwise-anchor', group, g, 1);
        const groupId = groupIdOf('pairwise-anchor', group, g);
        const drawn = await services.rollouts({ groupId, count: 1, greedy: true, policy: o.anchor });
        if (drawn.length !== 1)
          throw new UsageError(`pairwise-anchor: asked for 1 greedy anchor of group ${g} ('${groupId}'), got ${drawn.length}`);
        anchors.push(drawn[0] as Rollout);
      }
      // Every rollout against its anchor, in both orders, in one scoring call.
      const forward = groups.flatMap((group, g) => group.map((y) => pairText(y, anchors[g] as Rollout)));
      const backward = groups.flatMap((group, g) => group.map((y) => pairText(anchors[g] as Rollout, y)));
      const logits = await judge.score([...forward, ...backward]);
      const half = forward.length;
      let k = 0;
      let agree = 0;
      let decided = 0;
      let positionGap = 0;
      const pairRewards: number[][] = [];
      const rollout = groups.map((group, g) => {
        const anchorReward = anchorScalar(anchors[g] as Rollout, ctx.weights, g);
        const r = group.map((y, i) => {
          const over = sigmoid(logits[k] as number);
          const under = sigmoid(logits[half + k] as number);
          k++;
          positionGap += Math.abs(over - (1 - under));
          const value = pairwiseReward(over, under);
          // The judge's verdict against the environment's (the anchor pairs are never trained on).
          const truth = scalarOf('pairwise-anchor', y, ctx, g, i) - anchorReward;
          if (truth !== 0 && value !== 0.5) {
            decided++;
            if (Math.sign(truth) === Math.sign(value - 0.5)) agree++;
          }
          return value;
        });
        pairRewards.push(r);
        const base = o.baseline === 'anchor' ? 0.5 : mean(r);
        return r.map((value) => value - base);
      });
      const flat = pairRewards.flat();
      return {
        rollout,
        weights: ones(groups),
        diagnostics: {
          pairRewardMean: mean(flat),
          anchorRewardMean: mean(anchors.map((a, g) => anchorScalar(a, ctx.weights, g))),
          // |P(y > a) - (1 - P(a > y))|: 0 for a judge consistent under the swap.
          positionGap: positionGap / Math.max(1, half),
          judgeDecided: decided,
          ...(decided > 0 ? { judgeAgreement: agree / decided } : {}),
        },
      };
    },
  });
}
