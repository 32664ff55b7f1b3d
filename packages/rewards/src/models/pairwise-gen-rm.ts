/**
 * Pairwise-RL's generative pairwise reward model (Xu et al., "A Unified Pairwise Framework for
 * RLHF: Bridging Generative Reward Modeling and Policy Optimization", arXiv 2504.04950): a judge
 * that reads a task and two answers and predicts a verdict token, "the first is better" or not,
 * so P(first > second) comes from the verdict tokens' probabilities rather than a scalar score
 * calibrated across tasks. It is trained with position-swap augmentation: every labelled pair is
 * shown in both orders with opposite verdicts, which teaches it to be consistent under a swap.
 *
 * Adapted: the paper fine-tunes a pretrained LLM on human preference data; ours is a small
 * transformer trained online, beside the policy, on pairs of the same group's rollouts ordered
 * by the environment's reward (pairs of equal reward carry no preference and are skipped). The
 * `pairwise-anchor` estimator asks it about each rollout against its group's anchor.
 */
import {
  defineRewardModel,
  pairText,
  type RewardExamples,
  type RewardModel,
  type RewardModelContext,
  type Rollout,
  resolveOptions,
} from '@policy-lab/core';
import { checkModelOptions, type ModelSizeOptions, modelDeclaration, modelOptionSpecs } from './model-options.js';

export interface PairwiseGenRmOptions extends Partial<ModelSizeOptions> {
  /** At most this many ordered pairs per group before the swap doubles them. */
  maxPairsPerGroup?: number;
}

const OPTIONS = {
  ...modelOptionSpecs({ dim: 64, layers: 2, heads: 4, learningRate: 2e-3, updatesPerStep: 8, replay: 8192, batch: 64 }),
  maxPairsPerGroup: {
    type: 'integer',
    default: 16,
    doc: 'pairs of different reward taken from one group at most (each shown in both orders)',
  },
} as const;

/**
 * The judge's training points from one step's groups: every pair of rollouts of a group whose
 * rewards differ (at most `cap`, drawn uniformly), shown in both orders, the target 1 when the
 * first shown is the better one.
 */
export function swappedPairPoints(
  groups: readonly (readonly Rollout[])[],
  cap: number,
  ctx: Pick<RewardModelContext, 'rng' | 'scalar'>,
): NonNullable<RewardExamples['points']> {
  const points: { context: string; text: string; target: number }[] = [];
  groups.forEach((group, g) => {
    const rewards = group.map((r) => ctx.scalar(r.reward));
    const pairs: [number, number][] = [];
    for (let i = 0; i < group.length; i++)
      for (let j = i + 1; j < group.length; j++) if (rewards[i] !== rewards[j]) pairs.push([i, j]);
    const kept = pairs.length > cap ? ctx.rng.split(`group/${g}`).shuffle(pairs).slice(0, cap) : pairs;
    for (const [i, j] of kept) {
      const a = group[i] as Rollout;
      const b = group[j] as Rollout;
      const aBetter = (rewards[i] as number) > (rewards[j] as number) ? 1 : 0;
      points.push({ ...pairText(a, b), target: aBetter }, { ...pairText(b, a), target: 1 - aBetter });
    }
  });
  return points;
}

export function pairwiseGenRm(options: PairwiseGenRmOptions = {}): RewardModel {
  const resolved = resolveOptions<Required<PairwiseGenRmOptions>>('pairwise-gen-rm', OPTIONS, options as Record<string, unknown>);
  checkModelOptions('pairwise-gen-rm', resolved, ['maxPairsPerGroup']);
  return defineRewardModel({
    name: 'pairwise-gen-rm',
    summary:
      "Pairwise-RL's generative pairwise judge: P(first answer > second) from its verdict tokens, trained online on each group's reward-ordered pairs in both orders (position swap)",
    paper: {
      title: 'A Unified Pairwise Framework for RLHF: Bridging Generative Reward Modeling and Policy Optimization',
      arxiv: '2504.04950',
      year: 2025,
    },
    options: OPTIONS,
    resolved,
    unverified: [
      "adaptation: adapted. The paper fine-tunes a pretrained LLM judge on human preference pairs; ours is a small transformer trained online on pairs of the same group's rollouts ordered by the environment's reward (ties skipped), each shown in both orders.",
      "The judge's prompt format is ours: the task, the first answer, a separator, the second answer, then the verdict token (log p(accept) - log p(reject) is the logit of P(first > second)).",
    ],
    math: "$P_\\phi(y \\succ y' \\mid x) = \\sigma(\\log p_\\phi(\\text{accept} \\mid x, y, y') - \\log p_\\phi(\\text{reject} \\mid x, y, y'))$, trained by cross-entropy on $(x, y_w, y_l) \\to$ accept and $(x, y_l, y_w) \\to$ reject",
    ...modelDeclaration(resolved),
    objective: 'generative',
    pairwise: true,
    // Each rollout against itself: a position-consistent judge says even odds, so this logged
    // component (weight 0) is the judge's own bias, ideally 0.
    component: { name: 'pairSelfLogit', weight: 0 },
    text: (rollout) => pairText(rollout, rollout),
    examples: (groups, ctx) => ({ points: swappedPairPoints(groups, resolved.maxPairsPerGroup, ctx) }),
    configure: (next) => pairwiseGenRm({ ...resolved, ...next }),
  });
}
