/**
 * Stage 1, sample: draw the step's tasks, roll out one group per task, charge every episode as
 * it is drawn (so a resample round is started only when the budget affords it), and shape each
 * round's rewards. Dynamic sampling (DAPO): groups the estimator rejects are charged and
 * replaced by groups of new tasks for up to resampleRounds rounds.
 */
import type { EstimatorContext, Rollout } from '@policy-lab/core';
import { generatedTokens, type RolloutRequest } from '../rollouts.js';
import { sampleGroups } from '../samplers.js';
import type { StepContext } from '../step-context.js';
import { rewardAndShape } from './reward.js';

export interface Sampled {
  /** Every group drawn this step, resample rounds included (estimators ask for more of a group by id). */
  requests: RolloutRequest[];
  /** The groups kept for the update. */
  groups: Rollout[][];
  /** The estimator's context, built once the first round is in. */
  context: EstimatorContext;
  /** With the divergence in the reward: each rollout's k1 sum. */
  divergences?: number[];
  discardedGroups?: number;
  /** Wall clock: goes to the timing log, never into the deterministic metrics. */
  tokensPerSecond: number;
}

/** Rollouts drawn for a nominal group size (MC-GRPO draws G + 1). */
export function rolloutsPerGroup(ctx: Pick<StepContext, 'plugins' | 'config'>): number {
  return ctx.plugins.estimator.rolloutsPerGroup?.(ctx.config.groupSize) ?? ctx.config.groupSize;
}

export async function sample(
  ctx: StepContext,
  contextFor: (requests: readonly RolloutRequest[], groups: readonly Rollout[][]) => Promise<EstimatorContext>,
): Promise<Sampled> {
  const { config, plugins } = ctx;
  const started = performance.now();
  const taskRng = ctx.rng.split('tasks');
  const groupSize = rolloutsPerGroup(ctx);
  const draw = (count: number, prefix: string): RolloutRequest[] => {
    const tasks = ctx.tasks.draw(count, taskRng);
    const instructions = ctx.tasks.instructions?.(tasks, ctx.rng.split(`instructions/${prefix}`)) ?? [];
    return tasks.map((task, k) => {
      const instruction = instructions[k];
      return { task, groupId: `${prefix}g${k}`, count: groupSize, ...(instruction !== undefined ? { instruction } : {}) };
    });
  };
  const divergences: number[] = [];
  const round = async (requests: readonly RolloutRequest[], tag: string): Promise<Rollout[][]> => {
    const sampled = await sampleGroups(
      ctx.policy,
      ctx.tokenizer,
      plugins.env,
      requests,
      {
        maxNewTokens: config.maxNewTokens,
        temperature: config.temperature,
        rng: ctx.rng.split(`rollout${tag}`),
        ...(plugins.sampler && plugins.sampler.decodes !== 'evaluation' ? { sampler: plugins.sampler } : {}),
        ...(ctx.rewardModels.length
          ? { rewardModels: Object.fromEntries(ctx.rewardModels.map((m) => [m.plugin.name, m.handle])) }
          : {}),
      },
      // A tree sampler ranks rollouts before reward models and shapers: by the environment's own components.
      (rollout) => ctx.envScalar(rollout.reward),
    );
    chargeRollouts(ctx, sampled.drawn);
    if (sampled.extra) ctx.charge(sampled.extra);
    const shaped = await rewardAndShape(ctx, sampled.groups, tag, requests);
    divergences.push(...(shaped.divergences ?? []));
    return shaped.groups;
  };

  const requests = draw(config.tasksPerStep, `s${ctx.step}`);
  let groups = await round(requests, '');
  const tokensPerSecond = generatedTokens(groups.flat()) / Math.max(1e-9, (performance.now() - started) / 1000);
  const context = await contextFor(requests, groups);
  const keepGroup = plugins.estimator.keepGroup;
  let discardedGroups: number | undefined;
  if (keepGroup) {
    discardedGroups = 0;
    const keep = (list: Rollout[][]) => {
      const kept = list.filter((g) => keepGroup.call(plugins.estimator, g, context));
      discardedGroups = (discardedGroups ?? 0) + list.length - kept.length;
      return kept;
    };
    groups = keep(groups);
    for (let r = 1; r <= (config.resampleRounds ?? 0) && groups.length < config.tasksPerStep; r++) {
      const missing = config.tasksPerStep - groups.length;
      const cost = {
        episodes: missing * groupSize,
        generatedTokens: missing * groupSize * plugins.env.maxTurns * config.maxNewTokens,
      };
      if (!ctx.meter.canAfford({ ...cost, seconds: 0 })) break;
      const more = draw(missing, `s${ctx.step}r${r}`);
      requests.push(...more);
      groups = [...groups, ...keep(await round(more, `/r${r}`))];
    }
    groups = groups.slice(0, config.tasksPerStep);
  }
  return {
    requests,
    groups,
    context,
    ...(divergences.length ? { divergences } : {}),
    ...(discardedGroups !== undefined ? { discardedGroups } : {}),
    tokensPerSecond,
  };
}

/** Episodes, environment steps and generated tokens of rollouts, charged to the run's budget. */
export function chargeRollouts(ctx: Pick<StepContext, 'charge'>, rollouts: readonly Rollout[]): void {
  ctx.charge({
    episodes: rollouts.length,
    envSteps: rollouts.reduce((a, r) => a + r.turns.length, 0),
    generatedTokens: generatedTokens(rollouts),
  });
}
