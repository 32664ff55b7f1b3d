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

export interface OutcomeRewardModelOptions {
  dim?: number;
  layers?: number;
  heads?: number;
  learningRate?: number;
  updatesPerStep?: number;
  /** Weight of its score in the reward (0: trained and evaluated only). */
  weight?: number;
  /** At most this many pairs per group (all of them when the group has fewer). */
  maxPairsPerGroup?: number;
  /** Pairs kept for replay (0: each update trains on the step's pairs only). */
  replay?: number;
  /** Pairs per update drawn from the replay buffer. */
  batch?: number;
}

const OPTIONS = {
  dim: { type: 'integer', default: 64, doc: 'width of the reward model transformer' },
  layers: { type: 'integer', default: 2, doc: 'its layers' },
  heads: { type: 'integer', default: 4, doc: 'its attention heads (must divide dim)' },
  learningRate: { type: 'number', default: 2e-3, doc: 'its Adam learning rate' },
  updatesPerStep: { type: 'integer', default: 8, doc: 'its gradient steps per training step' },
  weight: { type: 'number', default: 0, doc: "weight of its score (component 'rmScore') in the reward" },
  maxPairsPerGroup: { type: 'integer', default: 16, doc: 'pairs taken from one group at most' },
  replay: { type: 'integer', default: 8192, doc: 'pairs kept for replay (0: each update trains on the step’s pairs only)' },
  batch: { type: 'integer', default: 64, doc: 'pairs per update drawn from the replay buffer' },
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
  if (!(resolved.replay >= 0)) throw new RangeError(`bt-outcome: replay must be an integer >= 0, got ${resolved.replay}`);
  for (const key of ['dim', 'layers', 'heads', 'updatesPerStep', 'maxPairsPerGroup', 'batch'] as const)
    if (!(resolved[key] >= 1)) throw new RangeError(`bt-outcome: ${key} must be an integer >= 1, got ${resolved[key]}`);
  if (resolved.dim % resolved.heads !== 0)
    throw new RangeError(`bt-outcome: heads ${resolved.heads} must divide dim ${resolved.dim}`);
  if (!(resolved.learningRate > 0)) throw new RangeError(`bt-outcome: learningRate must be > 0, got ${resolved.learningRate}`);
  return defineRewardModel({
    name: 'bt-outcome',
    summary: 'an outcome reward model trained online with Bradley-Terry on (succeeded, failed) pairs of each group',
    paper: { title: 'Training language models to follow instructions with human feedback', arxiv: '2203.02155', year: 2022 },
    options: OPTIONS,
    resolved,
    math: '$\\mathcal{L} = -\\log \\sigma(r_\\phi(x, y_w) - r_\\phi(x, y_l))$ over pairs with $y_w$ succeeded and $y_l$ failed in the same group',
    architecture: { kind: 'transformer', dim: resolved.dim, layers: resolved.layers, heads: resolved.heads },
    objective: 'bradley-terry',
    learningRate: resolved.learningRate,
    updatesPerStep: resolved.updatesPerStep,
    ...(resolved.replay > 0 ? { replay: { capacity: resolved.replay, batch: resolved.batch } } : {}),
    component: { name: 'rmScore', weight: resolved.weight },
    examples: (groups, ctx) => ({ pairs: outcomePairs(groups, rolloutText, resolved.maxPairsPerGroup, ctx) }),
    configure: (next) => outcomeRewardModel({ ...resolved, ...next }),
  });
}
