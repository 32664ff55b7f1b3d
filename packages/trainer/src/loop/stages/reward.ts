/**
 * Stage 2, reward and shape: the learned reward models score every rollout (each score is a
 * reward component), the shapers transform the reward vectors in order, then the divergence
 * goes into the reward as its own component when the run places it there. The reward models
 * train on the round's examples after scoring it, so a rollout is never scored by a model that
 * has already learned from it.
 */
import { type Demonstration, type Demonstrations, type Rollout, replayDemonstration } from '@policy-lab/core';
import { textOf } from '../reward-models.js';
import type { RolloutRequest } from '../rollouts.js';
import { sequenceDivergence } from '../scoring.js';
import type { StepContext } from '../step-context.js';

/** Shaped groups (same shape as given) and, with the divergence in the reward, each rollout's k1 sum. */
export async function rewardAndShape(
  ctx: StepContext,
  groups: Rollout[][],
  tag: string,
  requests: readonly RolloutRequest[] = [],
): Promise<{ groups: Rollout[][]; divergences?: number[] }> {
  const { plugins, config, step, weights } = ctx;
  let out = await scoreWithRewardModels(ctx, groups);
  await trainRewardModels(ctx, groups, tag);
  const demonstrations = plugins.env.demonstrate ? demonstrationsOf(ctx, requests) : undefined;
  const estimatorGamma = (plugins.estimator.resolved as { gamma?: unknown } | undefined)?.gamma;
  for (const shaper of plugins.shapers) {
    const shaped = shaper.shape(out.flat(), {
      rng: ctx.rng.split(`shape/${shaper.name}${tag}`),
      step,
      weights,
      components: plugins.env.rewardComponents.map((c) => c.name),
      maxNewTokens: config.maxNewTokens,
      charge: (cost) => ctx.charge(cost),
      gamma: typeof estimatorGamma === 'number' ? estimatorGamma : 1,
      ...(demonstrations ? { demonstrations } : {}),
      log: (key, value) => ctx.log(`shaper.${shaper.name}.${key}`, value),
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

/**
 * The environment's expert on the round's tasks and on training tasks, replayed on demand (each
 * once per step). Like the SFT warm start's, this replay reads data and is not charged.
 */
function demonstrationsOf(ctx: StepContext, requests: readonly RolloutRequest[]): Demonstrations {
  const env = ctx.plugins.env;
  const cache = new Map<string, Demonstration | undefined>();
  const rng = ctx.rng.split('demonstrations');
  return {
    ofGroup(groupId) {
      if (!cache.has(groupId)) {
        const request = requests.find((r) => r.groupId === groupId);
        cache.set(groupId, request ? replayDemonstration(env, request.task, rng.split(groupId)) : undefined);
      }
      return cache.get(groupId);
    },
    training(count) {
      const tasks = env.tasks('train', { seed: ctx.config.seed, count });
      const seeded = rng.split('training');
      return tasks.flatMap((task, k) => replayDemonstration(env, task, seeded.split(`${k}`)) ?? []);
    },
  };
}

/** Each reward model's score of each rollout, added as its component. */
export async function scoreWithRewardModels(ctx: Pick<StepContext, 'rewardModels'>, groups: Rollout[][]): Promise<Rollout[][]> {
  let out = groups;
  for (const owned of ctx.rewardModels) {
    const flat = out.flat();
    const scores = await owned.handle.score(flat.map((r) => textOf(owned.plugin, r)));
    let index = 0;
    out = out.map((g) =>
      g.map((r) => ({ ...r, reward: { ...r.reward, [owned.plugin.component.name]: scores[index++] as number } })),
    );
  }
  return out;
}

/** Online training of each reward model on the examples it takes from the round's groups; its loss is logged. */
async function trainRewardModels(ctx: StepContext, groups: readonly Rollout[][], tag: string): Promise<void> {
  for (const owned of ctx.rewardModels) {
    const examples = owned.plugin.examples(groups, {
      step: ctx.step,
      rng: ctx.rng.split(`reward-model/${owned.plugin.name}${tag}`),
      scalar: ctx.envScalar,
    });
    const { loss, examples: count } = await owned.handle.train(examples);
    ctx.log(`rewardModel.${owned.plugin.name}.examples`, count);
    if (count > 0) ctx.log(`rewardModel.${owned.plugin.name}.loss`, loss);
  }
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
