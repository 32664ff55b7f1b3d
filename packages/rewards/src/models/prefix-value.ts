/**
 * A value model of partial actions, trained online by pointwise regression: for each rollout's
 * turn, a few prefixes of the action (cut at random token positions, the whole action included)
 * are paired with the rollout's final scalar reward, so the model learns the expected reward of
 * finishing an action that starts this way under the current policy (a Monte Carlo value
 * target, as value-guided decoding needs: Han et al., Value Augmented Sampling, arXiv 2405.06639,
 * learn their value estimator the same way from the policy's own samples).
 *
 * Each example reads as the `value-guided` sampler's requests do: the context is the turn's
 * prompt as text (earlier observations and actions, then the observation), the text is the
 * action prefix. Its score of a whole rollout is logged as the component `value` (weight 0).
 */
import {
  defineRewardModel,
  type RewardExamples,
  type RewardModel,
  type RewardModelContext,
  type Rollout,
  resolveOptions,
  type ScoredText,
} from '@policy-lab/core';
import { checkModelOptions, type ModelSizeOptions, modelDeclaration, modelOptionSpecs } from './model-options.js';

export interface PrefixValueOptions extends Partial<ModelSizeOptions> {
  /** Prefixes taken from each turn's action (cut points drawn uniformly, the whole action always one of them). */
  prefixes?: number;
}

/** Its model's sizes and optimiser (shared with other value models of partial actions). */
export const PREFIX_VALUE_SIZES = {
  dim: 32,
  layers: 1,
  heads: 4,
  learningRate: 2e-3,
  updatesPerStep: 4,
  replay: 4096,
  batch: 64,
};

const OPTIONS = {
  ...modelOptionSpecs(PREFIX_VALUE_SIZES),
  prefixes: { type: 'integer', default: 4, doc: "prefixes taken from each turn's action" },
} as const;

/** The prompt of turn `t` as text, as the trainer decodes it (special tokens dropped). */
export function turnContext(rollout: Rollout, t: number): string {
  const turns = rollout.turns;
  let out = '';
  for (let i = 0; i < t; i++) out += `${turns[i]?.observation ?? ''}${turns[i]?.action ?? ''}`;
  return out + (turns[t]?.observation ?? '');
}

/**
 * `count` (context, prefix, target) points per turn: cut points drawn uniformly from 0..length
 * without replacement, the whole action always included; the target is the rollout's scalar reward.
 */
export function prefixPoints(
  groups: readonly (readonly Rollout[])[],
  count: number,
  ctx: Pick<RewardModelContext, 'rng' | 'scalar'>,
): NonNullable<RewardExamples['points']> {
  const out: (ScoredText & { target: number })[] = [];
  groups.flat().forEach((rollout, k) => {
    const target = ctx.scalar(rollout.reward);
    rollout.turns.forEach((turn, t) => {
      const context = turnContext(rollout, t);
      const action = Array.from(turn.action);
      const rng = ctx.rng.split(`rollout/${k}/turn/${t}`);
      const cuts = [...Array(action.length).keys()];
      // A partial Fisher-Yates shuffle: count - 1 distinct cuts short of the whole action.
      for (let i = 0; i < Math.min(count - 1, cuts.length); i++) {
        const j = rng.int(i, cuts.length - 1);
        [cuts[i], cuts[j]] = [cuts[j] as number, cuts[i] as number];
      }
      for (const cut of [...cuts.slice(0, count - 1), action.length])
        out.push({ context, text: action.slice(0, cut).join(''), target });
    });
  });
  return out;
}

export function prefixValue(options: PrefixValueOptions = {}): RewardModel {
  const resolved = resolveOptions<Required<PrefixValueOptions>>('prefix-value', OPTIONS, options as Record<string, unknown>);
  checkModelOptions('prefix-value', resolved, ['prefixes']);
  return defineRewardModel({
    name: 'prefix-value',
    summary:
      "a value model of partial actions: regresses each action prefix on the rollout's final reward (for value-guided decoding)",
    paper: {
      title: 'Value Augmented Sampling for Language Model Alignment and Personalization',
      arxiv: '2405.06639',
      year: 2024,
    },
    options: OPTIONS,
    resolved,
    math: '$\\mathcal{L} = (V_\\phi(x, y_{\\le k}) - R(x, y))^2$ over prefixes $y_{\\le k}$ of each sampled action',
    ...modelDeclaration(resolved),
    objective: 'pointwise',
    component: { name: 'value', weight: 0 },
    // A whole rollout is scored as its last turn's prompt and action: the value of the finished action.
    text: (rollout) => {
      const last = Math.max(0, rollout.turns.length - 1);
      return { context: turnContext(rollout, last), text: rollout.turns[last]?.action ?? '' };
    },
    examples: (groups, ctx) => ({ points: prefixPoints(groups, resolved.prefixes, ctx) }),
    configure: (next) => prefixValue({ ...resolved, ...next }),
  });
}
