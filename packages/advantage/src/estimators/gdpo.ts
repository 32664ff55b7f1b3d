import { type AdvantageEstimator, defineEstimator, resolveOptions, UsageError } from '@policy-lab/core';
import { zScores } from '../group-math.js';
import { componentRewards, ones } from '../groups.js';
import { trlReference, verlReference } from '../reference.js';
import { tokenCount, tokenWhiten } from './reinforce-pp.js';

export interface GdpoOptions {
  /** Weight per reward component; defaults to the environment's weights (ctx.weights), else 1. */
  weights?: Record<string, number>;
  std?: 'sample' | 'population';
  /** Added to the std at both stages (NVlabs code: 1e-4). */
  eps?: number;
  /** Whose batch stage: TRL per sequence (default), verl or NVlabs over tokens. */
  flavour?: 'trl' | 'verl' | 'nvlabs';
}

const OPTIONS = {
  weights: {
    type: 'object',
    doc: 'weight per reward component, applied after per-component normalisation (default: the environment weights)',
  },
  std: { type: 'enum', values: ['sample', 'population'], default: 'sample', doc: 'standard deviation kind at both stages' },
  eps: { type: 'number', default: 1e-4, doc: "added to the std at both stages (TRL flavour; verl's group stage uses 1e-6)" },
  flavour: {
    type: 'enum',
    values: ['trl', 'verl', 'nvlabs'],
    default: 'trl',
    doc: "batch stage: 'trl' z-scores sequences; 'verl' whitens over tokens (each sequence counted per action token); 'nvlabs' as verl with an unweighted sum",
  },
} as const;

/**
 * GDPO: normalise each reward component within its group, take the weighted sum, then
 * normalise that sum over the whole batch passed in (all groups of the step).
 */
export function gdpo(options: GdpoOptions = {}): AdvantageEstimator {
  const resolved = resolveOptions<
    GdpoOptions & { std: 'sample' | 'population'; eps: number; flavour: 'trl' | 'verl' | 'nvlabs' }
  >('gdpo', OPTIONS, options as Record<string, unknown>);
  for (const [name, weight] of Object.entries(resolved.weights ?? {})) {
    if (typeof weight !== 'number' || !Number.isFinite(weight))
      throw new UsageError(`gdpo: weight of '${name}' must be a finite number, got ${JSON.stringify(weight)}`);
  }
  return defineEstimator({
    name: 'gdpo',
    summary: 'Group reward-decoupled normalisation: z-score each reward in its group, weighted sum, then batch z-score',
    paper: {
      title: 'GDPO: Group reward-Decoupled Normalization Policy Optimization for Multi-reward RL Optimization',
      arxiv: '2601.05242',
      year: 2026,
    },
    options: OPTIONS,
    resolved,
    matches: "TRL `multi_objective_aggregation='normalize_then_sum'` (flavour trl), verl `adv_estimator=gdpo` (flavour verl)",
    references: [
      verlReference('compute_gdpo_outcome_advantage', 'verl-gdpo', 'flavour=verl, gdpo_reward_weights=weights'),
      trlReference('trl-gdpo', null, "flavour=trl, multi_objective_aggregation='normalize_then_sum', reward_weights=weights"),
    ],
    unverified: [
      "The flavours agree only when every sequence has the same length (TRL's, verl's and NVlabs' GDPO code differ in the batch stage).",
      "flavour nvlabs follows the NVlabs/GDPO README's description of its verl variant (unweighted sum, token whitening); no code was read, so it has no fixture.",
    ],
    math: '$z_i^k = \\dfrac{r_i^k - \\operatorname{mean}_{group}(r^k)}{\\operatorname{std}_{group}(r^k) + \\epsilon}$, $a_i = \\sum_k w_k z_i^k$, $A_i = \\dfrac{a_i - \\operatorname{mean}_{batch}(a)}{\\operatorname{std}_{batch}(a) + \\epsilon}$',
    configure: (next) => gdpo({ ...resolved, ...next }),
    compute(groups, ctx) {
      const flavourWeights = resolved.weights ?? ctx.weights;
      const weights =
        resolved.flavour === 'nvlabs' ? Object.fromEntries(Object.keys(flavourWeights).map((k) => [k, 1])) : flavourWeights;
      const groupEps = resolved.flavour === 'trl' ? resolved.eps : 1e-6;
      const components = Object.keys(weights);
      if (components.length === 0) throw new UsageError('gdpo: no reward components to normalise (empty weights)');
      const values = componentRewards('gdpo', groups, components);
      // Stage 1 and 2: per-component group z-scores, weighted sum.
      const summed = values.map((group) => {
        const perComponent = components.map((_, k) =>
          zScores(
            group.map((row) => row[k] as number),
            resolved.std,
            groupEps,
          ),
        );
        return group.map((_, i) =>
          components.reduce((total, name, k) => total + (weights[name] as number) * (perComponent[k]?.[i] as number), 0),
        );
      });
      // Stage 3: z-score over every rollout of the batch (TRL), or token-weighted whitening (verl, NVlabs).
      const flat =
        resolved.flavour === 'trl'
          ? zScores(summed.flat(), resolved.std, resolved.eps)
          : tokenWhiten(summed.flat(), groups.flat().map(tokenCount));
      let offset = 0;
      const rollout = summed.map((group) => {
        const slice = flat.slice(offset, offset + group.length);
        offset += group.length;
        return slice;
      });
      return { rollout, weights: ones(groups) };
    },
  });
}
