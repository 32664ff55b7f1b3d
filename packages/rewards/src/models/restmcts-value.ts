/**
 * ReST-MCTS*'s process value model (Zhang et al., "ReST-MCTS*: LLM Self-Training via Process
 * Reward Guided Tree Search", arXiv 2406.03816): a value model of partial actions trained by
 * pointwise regression on the value targets the tree search infers from its finished tree,
 * V_k = max(0, V_{k-1} + (1 - V_{k-1}) r_k / m_k) (r_k = +1 on a path to a correct answer, else
 * -1; m_k the reasoning distance). The search that guides itself with this model attaches the
 * targets to the group it returns (`meta.valueTargets`, as (context, prefix, target) points);
 * this model reads them. A group from any other sampler carries none and trains nothing.
 */
import {
  defineRewardModel,
  type RewardExamples,
  type RewardModel,
  type Rollout,
  resolveOptions,
  type ScoredText,
} from '@policy-lab/core';
import { checkModelOptions, type ModelSizeOptions, modelDeclaration, modelOptionSpecs } from './model-options.js';
import { PREFIX_VALUE_SIZES, turnContext } from './prefix-value.js';

export type RestMctsValueOptions = Partial<ModelSizeOptions>;

// The prefix-value model's sizes: the same kind of model (partial actions in, a value out).
const OPTIONS = modelOptionSpecs(PREFIX_VALUE_SIZES);

/** The (context, prefix, target) points a group's search attached to its rollouts. */
export function searchTargets(groups: readonly (readonly Rollout[])[]): NonNullable<RewardExamples['points']> {
  const out: (ScoredText & { target: number })[] = [];
  for (const rollout of groups.flat()) {
    const points = rollout.meta?.valueTargets;
    if (!Array.isArray(points)) continue;
    for (const p of points as { context: string; text: string; target: number }[])
      if (Number.isFinite(p.target)) out.push({ context: p.context, text: p.text, target: p.target });
  }
  return out;
}

export function restMctsValue(options: RestMctsValueOptions = {}): RewardModel {
  const resolved = resolveOptions<ModelSizeOptions>('restmcts-value', OPTIONS, options as Record<string, unknown>);
  checkModelOptions('restmcts-value', resolved);
  return defineRewardModel({
    name: 'restmcts-value',
    summary:
      "ReST-MCTS*'s process value model: partial actions regressed on the value targets a tree search infers from its finished tree",
    paper: { title: 'ReST-MCTS*: LLM Self-Training via Process Reward Guided Tree Search', arxiv: '2406.03816', year: 2024 },
    options: OPTIONS,
    resolved,
    math: '$\\mathcal{L} = (V_\\phi(x, s_{1..k}) - v_k)^2$, $v_k = \\max(0, v_{k-1} + (1 - v_{k-1})\\, r_k / m_k)$, $v_0 = 0$',
    unverified: [
      'The recursion and its r_k, m_k are those of the released code (MCTS/base.py, get_all_value_samples_vm: a correct final step has m = 1); the paper states the same targets as a weighted reward with its own indexing of the reasoning distance, which we could not read in full.',
      "The released code fine-tunes a 6B-7B model with a value head on the targets; ours is a small transformer of its own (the prefix-value model's sizes), trained online after every step on a replay of the trees' points.",
    ],
    ...modelDeclaration(resolved),
    objective: 'pointwise',
    component: { name: 'mctsValue', weight: 0 },
    text: (rollout) => ({ context: turnContext(rollout, 0), text: rollout.turns[0]?.action ?? '' }),
    examples: (groups) => ({ points: searchTargets(groups) }),
    configure: (next) => restMctsValue({ ...resolved, ...next }),
  });
}
