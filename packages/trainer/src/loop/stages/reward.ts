/**
 * Stage 2, reward and shape: the shapers transform each round's reward vectors in order, then
 * the divergence goes into the reward as its own component when the run places it there.
 */
import type { Rollout } from '@policy-lab/core';
import { sequenceDivergence } from '../scoring.js';
import type { StepContext } from '../step-context.js';

/** Shaped groups (same shape as given) and, with the divergence in the reward, each rollout's k1 sum. */
export async function rewardAndShape(
  ctx: StepContext,
  groups: Rollout[][],
  tag: string,
): Promise<{ groups: Rollout[][]; divergences?: number[] }> {
  const { plugins, config, step, weights } = ctx;
  let out = groups;
  for (const shaper of plugins.shapers) {
    const shaped = shaper.shape(out.flat(), {
      rng: ctx.rng.split(`shape/${shaper.name}${tag}`),
      step,
      weights,
      components: plugins.env.rewardComponents.map((c) => c.name),
      maxNewTokens: config.maxNewTokens,
      charge: (cost) => ctx.charge(cost),
    });
    out = regroup(out, shaped);
  }
  // The divergence in the reward: minus coef x the sequence's k1 sum, as its own component.
  if (config.divergencePlacement === 'reward' && ctx.reference && plugins.divergence && ctx.divergenceCoef > 0) {
    const divergences = await sequenceDivergence(out.flat(), ctx.reference, plugins.divergence);
    let index = 0;
    out = out.map((g) =>
      g.map((r) => ({ ...r, reward: { ...r.reward, klPenalty: -ctx.divergenceCoef * (divergences[index++] as number) } })),
    );
    weights.klPenalty = 1;
    return { groups: out, divergences };
  }
  return { groups: out };
}

/** Cuts a flat list back into groups of the given sizes. */
function regroup(groups: readonly (readonly Rollout[])[], flat: readonly Rollout[]): Rollout[][] {
  let offset = 0;
  return groups.map((g) => {
    const next = flat.slice(offset, offset + g.length);
    offset += g.length;
    return next;
  });
}
