/**
 * The run's stream of training tasks: the named task source's, or uniform draws with
 * replacement over the training split (the default, the same draws as before sources existed);
 * what each step's groups earned goes back to it (`observe`), and a stream that writes tasks gets
 * the current policy as a writer (`propose`).
 */
import type { Environment, ProposeContext, Rng, Rollout, TaskFeedback, TaskSource, TaskStream } from '@policy-lab/core';
import type { TrainingRow } from './batch.js';
import { actionStops, collectRollouts, firstPrompt, type RolloutRequest } from './rollouts.js';
import { crossEntropyStep } from './sft.js';
import { chargeRollouts } from './stages/sample.js';
import { stepLearningRate } from './stages/update.js';
import type { StepContext } from './step-context.js';

export function openTaskStream(source: TaskSource | undefined, tasks: readonly unknown[], env: Environment): TaskStream {
  if (source) return source.open(tasks, { taskId: (task) => env.taskId(task) });
  return { draw: (count: number, rng: Rng) => Array.from({ length: count }, () => tasks[rng.int(0, tasks.length - 1)]) };
}

/** What each kept group earned, for the stream's `observe`. */
export function taskFeedback(
  requests: readonly RolloutRequest[],
  groups: readonly (readonly Rollout[])[],
  scalar: (rollout: Rollout) => number,
): TaskFeedback[] {
  const requestOf = new Map(requests.map((r) => [r.groupId, r]));
  return groups
    .filter((g) => g.length > 0)
    .map((g) => {
      const first = g[0] as Rollout;
      const request = requestOf.get(first.groupId);
      return {
        taskId: first.taskId,
        task: request?.task,
        ...(request?.instruction !== undefined ? { instruction: request.instruction } : {}),
        rewards: g.map(scalar),
        successes: g.map((r) => r.success),
        turns: g.map((r) => r.turns.map((t) => ({ observation: t.observation, action: t.action }))),
      };
    });
}

/** Ids of an environment's test split (as evaluation draws it, seed 0), computed once per environment. */
const testIdsOf = new WeakMap<Environment, Set<string>>();
function testIds(env: Environment): Set<string> {
  let ids = testIdsOf.get(env);
  if (!ids) {
    ids = new Set(env.tasks('test', { seed: 0 }).map((task) => env.taskId(task)));
    testIdsOf.set(env, ids);
  }
  return ids;
}

/**
 * The services a stream's `propose` gets at the end of step `ctx.step`: the current policy
 * writes (sampled at the run's temperature; every generated token charged as a generated token,
 * and logged as `taskSource.generatedTokens`), the environment reads a written task back (a task
 * of the test split is refused here too, whatever the environment's own check says).
 */
export function proposeContext(ctx: StepContext): ProposeContext {
  const { env } = ctx.plugins;
  const { config } = ctx;
  const rng = ctx.rng.split('propose');
  let calls = 0;
  let generated = 0;
  let plays = 0;
  let played = 0;
  const parseTask = env.parseTask;
  return {
    step: ctx.step,
    rng,
    async generate(prompt, { count, maxTokens }) {
      const limit = Math.min(maxTokens ?? config.maxNewTokens, config.model.contextLength - 2);
      if (!(Number.isInteger(count) && count > 0) || !(limit > 0)) return [];
      // Stop before writing what the budget cannot afford: each continuation may use `limit` tokens.
      const affordable = affordableCount(ctx, limit, count);
      if (affordable === 0) return [];
      const tokens = firstPrompt(prompt, config.model.contextLength - limit, ctx.tokenizer);
      const generation = await ctx.policy.generate(
        Array.from({ length: affordable }, () => tokens),
        {
          maxNewTokens: limit,
          temperature: config.temperature,
          stopTokens: actionStops(ctx.tokenizer),
          greedy: false,
          rng: rng.split(`generate/${calls++}`),
        },
      );
      const outputs = generation.tokens.map((t) => t.slice(0, limit));
      const spent = outputs.reduce((a, t) => a + t.length, 0);
      ctx.charge({ generatedTokens: spent });
      generated += spent;
      ctx.log('taskSource.generatedTokens', generated);
      return outputs.map((t) => ctx.tokenizer.decode(t.filter((token) => token !== ctx.tokenizer.specials.eos)));
    },
    ...(parseTask
      ? {
          parseTask(text: string) {
            const task = parseTask.call(env, text);
            if (task === undefined || testIds(env).has(env.taskId(task))) return undefined;
            return task;
          },
        }
      : {}),
    observation: (task) => env.start(task, rng.split('observation')).observation(),
    taskId: (task) => env.taskId(task),
    charge: (cost) => ctx.charge(cost),
    async train(examples) {
      if (examples.length === 0) return { loss: 0, trainedTokens: 0 };
      const rows: TrainingRow[] = examples.map(({ task, action }) => {
        const observation = env.start(task, rng.split('supervise')).observation();
        const { eos } = ctx.tokenizer.specials;
        const prompt = firstPrompt(observation, config.model.contextLength - config.maxNewTokens, ctx.tokenizer);
        const actionTokens = [...ctx.tokenizer.encode(action), eos].slice(0, config.maxNewTokens);
        return { tokens: [...prompt, ...actionTokens], actionStart: prompt.length, oldLogprobs: [], advantage: 1, weight: 1 };
      });
      const { loss, tokens } = await crossEntropyStep(ctx.policy, ctx.optimizer, rows, {
        batchCap: config.sftBatch,
        learningRate: stepLearningRate(ctx),
      });
      ctx.charge({ trainedTokens: tokens });
      ctx.log('taskSource.trainedTokens', tokens);
      return { loss, trainedTokens: tokens };
    },
    async play(tasks, options = {}) {
      const count = options.count ?? 1;
      if (!(Number.isInteger(count) && count > 0)) return [];
      // Each task is played only when its `count` episodes at their longest are affordable.
      const episodeTokens = env.maxTurns * config.maxNewTokens;
      let affordable = 0;
      while (
        affordable < tasks.length &&
        ctx.meter.canAfford({
          episodes: (affordable + 1) * count,
          generatedTokens: (affordable + 1) * count * episodeTokens,
          seconds: 0,
        })
      )
        affordable++;
      if (affordable === 0) return [];
      const requests: RolloutRequest[] = tasks.slice(0, affordable).map((task, k) => ({
        task,
        groupId: `play${plays}g${k}`,
        count,
        ...(options.instruction !== undefined ? { instruction: options.instruction } : {}),
      }));
      const groups = await collectRollouts(ctx.policy, ctx.tokenizer, env, requests, {
        maxNewTokens: config.maxNewTokens,
        temperature: config.temperature,
        rng: rng.split(`play/${plays++}`),
      });
      chargeRollouts(ctx, groups.flat());
      played += groups.flat().length;
      ctx.log('taskSource.playedEpisodes', played);
      return groups.map((g) => ({ rewards: g.map((r) => ctx.envScalar(r.reward)), successes: g.map((r) => r.success) }));
    },
  };
}

/** How many of `wanted` continuations of `limit` tokens the budget still affords. */
function affordableCount(ctx: StepContext, limit: number, wanted: number): number {
  let count = 0;
  while (count < wanted && ctx.meter.canAfford({ generatedTokens: (count + 1) * limit })) count++;
  return count;
}
