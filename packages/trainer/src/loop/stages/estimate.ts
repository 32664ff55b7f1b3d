/**
 * Stage 3, estimate: the advantage estimator turns the groups into per-rollout (or per-turn)
 * advantages and loss weights. Estimators that need the model get services through their
 * context: scoring texts under the current or reference policy, and extra rollouts of a
 * group's task, which are charged like any other.
 */
import { type Advantages, type EstimatorContext, type Rng, type Rollout, RunError } from '@policy-lab/core';
import { episodeRng, prefixRollouts } from '../prefix-rollouts.js';
import { actionStops, collectRollouts, firstPrompt, type RolloutRequest } from '../rollouts.js';
import { scoreTexts, textDistributions, turnValues } from '../scoring.js';
import type { StepContext } from '../step-context.js';
import { chargeRollouts, type Sampled } from './sample.js';

export async function estimatorContext(
  ctx: StepContext,
  requests: readonly RolloutRequest[],
  groups: readonly Rollout[][],
): Promise<EstimatorContext> {
  const { plugins, config, policy, reference, tokenizer } = ctx;
  let generations = 0;
  return {
    rng: ctx.rng.split('estimator'),
    weights: ctx.weights,
    scalar: ctx.scalar,
    step: ctx.step,
    ...(ctx.rewardModels.length
      ? { rewardModels: Object.fromEntries(ctx.rewardModels.map((m) => [m.plugin.name, m.handle])) }
      : {}),
    ...(plugins.estimator.needsCritic ? { values: await turnValues(policy, groups.flat(), tokenizer.specials.eos) } : {}),
    services: {
      score: async (texts, which) => {
        if (which === 'teacher' && !ctx.teacher)
          throw new RunError(
            `estimator '${plugins.estimator.name}' scored under a teacher, but this run has none (needsTeacher)`,
          );
        const model = which === 'teacher' ? ctx.teacher : which === 'reference' && reference ? reference : policy;
        return scoreTexts(model as NonNullable<typeof model>, tokenizer, texts);
      },
      distributions: async (texts, which) =>
        textDistributions(which === 'reference' && reference ? reference : policy, tokenizer, texts),
      // Built when an estimator reads it (a Hugging Face vocabulary is decoded id by id).
      get vocabulary() {
        return tokenizer.vocabulary();
      },
      rollouts: async ({ groupId, count, greedy, policy: which }) => {
        const request = requests.find((r) => r.groupId === groupId);
        if (!request) throw new RunError(`estimator asked for rollouts of unknown group '${groupId}'`);
        if (which === 'reference' && !reference)
          throw new RunError('estimator asked for rollouts of the reference policy, but this run has none');
        const extra = (
          await collectRollouts(
            which === 'reference' && reference ? reference : policy,
            tokenizer,
            plugins.env,
            [{ ...request, groupId: `${groupId}x`, count }],
            {
              maxNewTokens: config.maxNewTokens,
              temperature: config.temperature,
              greedy: greedy ?? false,
              rng: ctx.rng.split(`extra/${groupId}`),
            },
          )
        ).flat();
        chargeRollouts(ctx, extra);
        return extra;
      },
      generate: (prompts, { maxTokens }) => generateCharged(ctx, prompts, maxTokens, ctx.rng.split(`generate/${generations++}`)),
      prefixRollouts: async ({ rollout, turns, count, greedy, policy: which }) => {
        const request = requests.find((r) => r.groupId === rollout.groupId);
        if (!request) throw new RunError(`estimator asked for prefix rollouts of unknown group '${rollout.groupId}'`);
        if (which === 'reference' && !reference)
          throw new RunError('estimator asked for prefix rollouts of the reference policy, but this run has none');
        return prefixRollouts(
          which === 'reference' && reference ? reference : policy,
          tokenizer,
          plugins.env,
          request,
          { rollout, turns, count, ...(greedy !== undefined ? { greedy } : {}) },
          {
            maxNewTokens: config.maxNewTokens,
            temperature: config.temperature,
            rng: ctx.rng.split(`prefix/${rollout.id}/${turns}`),
            envRng: episodeRng(ctx.rng, rollout),
          },
          ctx.charge,
        );
      },
    },
  };
}

/** The current policy continues each prompt once (while the budget affords it); each continuation is charged as an episode and its tokens as generated. */
async function generateCharged(ctx: StepContext, prompts: readonly string[], maxTokens: number, rng: Rng): Promise<string[]> {
  const { config, tokenizer } = ctx;
  const limit = Math.min(maxTokens, config.model.contextLength - 2);
  // Only what the budget still affords is generated (a run never exceeds it); the rest come back empty.
  let affordable = 0;
  while (
    affordable < prompts.length &&
    ctx.meter.canAfford({ episodes: affordable + 1, generatedTokens: (affordable + 1) * limit })
  )
    affordable++;
  if (affordable === 0 || !(limit > 0)) return prompts.map(() => '');
  const generation = await ctx.policy.generate(
    prompts.slice(0, affordable).map((prompt) => firstPrompt(prompt, config.model.contextLength - limit, tokenizer)),
    { maxNewTokens: limit, temperature: config.temperature, stopTokens: actionStops(tokenizer), greedy: false, rng },
  );
  const outputs = generation.tokens.map((t) => t.slice(0, limit));
  ctx.charge({ episodes: outputs.length, generatedTokens: outputs.reduce((a, t) => a + t.length, 0) });
  const texts = outputs.map((t) => tokenizer.decode(t.filter((token) => token !== tokenizer.specials.eos)));
  return prompts.map((_, i) => texts[i] ?? '');
}

export async function estimate(ctx: StepContext, sampled: Sampled): Promise<Advantages> {
  if (sampled.groups.length === 0) return { rollout: [], weights: [] };
  return ctx.plugins.estimator.compute(sampled.groups, sampled.context);
}
