/**
 * An outcome reward model trained online with the Bradley-Terry objective: in each group, every
 * rollout that succeeded is preferred to every one that failed (Ouyang et al. 2022 train a reward
 * model on all K-choose-2 comparisons of a prompt's completions; here the environment's verdict
 * orders them). Its score of each rollout becomes a reward component, weight 0 by default: it is
 * trained and evaluated beside the policy without changing the policy's reward until given one.
 * Defaults (dim 64, 2 layers, 8 updates a step of 64 pairs replayed from the newest 8192) are the
 * smallest we found that learn countdown's check from online pairs; with 1 layer and no replay the
 * model stayed at chance after 6,400 episodes (docs/extensions.md).
 */
import {
  defineRewardModel,
  type RewardExamples,
  type RewardModel,
  type RewardModelContext,
  type Rollout,
  resolveOptions,
  rolloutText,
  type ScoredText,
} from '@policy-lab/core';
import { checkModelOptions, type ModelSizeOptions, modelDeclaration, modelOptionSpecs } from './model-options.js';

export interface OutcomeRewardModelOptions extends Partial<ModelSizeOptions> {
  /** Weight of its score in the reward (0: trained and evaluated only). */
  weight?: number;
  /** At most this many pairs per group (all of them when the group has fewer). */
  maxPairsPerGroup?: number;
}

const OPTIONS = {
  ...modelOptionSpecs({ dim: 64, layers: 2, heads: 4, learningRate: 2e-3, updatesPerStep: 8, replay: 8192, batch: 64 }),
  weight: { type: 'number', default: 0, doc: "weight of its score (component 'rmScore') in the reward" },
  maxPairsPerGroup: { type: 'integer', default: 16, doc: 'pairs taken from one group at most' },
} as const;

/** The (succeeded, failed) pairs of each group, at most `cap` per group, drawn without replacement when there are more. */
export function outcomePairs(
  groups: readonly (readonly Rollout[])[],
  text: (rollout: Rollout) => ScoredText,
  cap: number,
  ctx: Pick<RewardModelContext, 'rng'>,
): NonNullable<RewardExamples['pairs']> {
  const out: { context: string; chosen: string; rejected: string }[] = [];
  groups.forEach((group, g) => {
    const pairs: [Rollout, Rollout][] = [];
    for (const won of group.filter((r) => r.success)) for (const lost of group.filter((r) => !r.success)) pairs.push([won, lost]);
    const rng = ctx.rng.split(`group/${g}`);
    // A partial Fisher-Yates shuffle keeps `cap` pairs chosen uniformly.
    for (let i = 0; i < Math.min(cap, pairs.length); i++) {
      const j = rng.int(i, pairs.length - 1);
      [pairs[i], pairs[j]] = [pairs[j] as [Rollout, Rollout], pairs[i] as [Rollout, Rollout]];
    }
    for (const [won, lost] of pairs.slice(0, cap)) {
      const chosen = text(won);
      out.push({ context: chosen.context, chosen: chosen.text, rejected: text(lost).text });
    }
  });
  return out;
}

export function outcomeRewardModel(options: OutcomeRewardModelOptions = {}): RewardModel {
  const resolved = resolveOptions<Required<OutcomeRewardModelOptions>>('bt-outcome', OPTIONS, options as Record<string, unknown>);
  checkModelOptions('bt-outcome', resolved, ['maxPairsPerGroup']);
  return defineRewardModel({
    name: 'bt-outcome',
    summary: 'an outcome reward model trained online with Bradley-Terry on (succeeded, failed) pairs of each group',
    paper: { title: 'Training language models to follow instructions with human feedback', arxiv: '2203.02155', year: 2022 },
    options: OPTIONS,
    resolved,
    math: '$\\mathcal{L} = -\\log \\sigma(r_\\phi(x, y_w) - r_\\phi(x, y_l))$ over pairs with $y_w$ succeeded and $y_l$ failed in the same group',
    ...modelDeclaration(resolved),
    objective: 'bradley-terry',
    component: { name: 'rmScore', weight: resolved.weight },
    examples: (groups, ctx) => ({ pairs: outcomePairs(groups, rolloutText, resolved.maxPairsPerGroup, ctx) }),
    configure: (next) => outcomeRewardModel({ ...resolved, ...next }),
  });
}
