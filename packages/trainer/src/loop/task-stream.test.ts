/**
 * The trainer's side of task streams that write tasks (`propose`) and read rollouts' text
 * (feedback turns), with test-local plugins: an echo environment that reads written tasks back
 * (and would accept test-split ones), and a stream that asks the policy to write.
 */
import type { Environment, Plugin, ProposeContext, TaskSource } from '@policy-lab/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { echoEnv, TINY, tinyRegistry, tinyStepContext } from '../test-support/tiny.js';
import { sample } from './stages/sample.js';
import { runStep } from './step.js';
import { proposeContext, taskFeedback } from './task-stream.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

type EchoTask = { letter: string; id: number };
/** Reads `<letter><id>` as a task, test ids included: the trainer must refuse those itself. */
const echoWriter: Environment<EchoTask> = {
  ...echoEnv,
  name: 'echo-writer',
  parseTask: (text) => {
    const match = /^([ab])([0-9]+)$/.exec(text.trim());
    return match ? { letter: match[1] as string, id: Number(match[2]) } : undefined;
  },
};

/** Asks the policy for 3 texts from one task's observation each step, and keeps what it got. */
const written: { step: number; texts: string[] }[] = [];
const writer: TaskSource = {
  name: 'writer',
  summary: 'uniform, and asks the policy to write',
  open(tasks) {
    let observed = 0;
    return {
      draw: (count, rng) => Array.from({ length: count }, () => tasks[rng.int(0, tasks.length - 1)]),
      observe: (feedback) => {
        observed += feedback.length;
      },
      async propose(ctx: ProposeContext) {
        // observe ran first, in the same step.
        expect(observed).toBeGreaterThan(0);
        written.push({ step: ctx.step, texts: await ctx.generate(ctx.observation(tasks[0]), { count: 3, maxTokens: 3 }) });
      },
    };
  },
};
const plugins: Plugin = { name: 'writing', environments: [echoWriter], taskSources: [writer] };

describe('feedback text', () => {
  it('carries each rollout’s observations and actions, turn by turn', async () => {
    const ctx = await tinyStepContext();
    const sampled = await sample(ctx, async () => ({ rng: ctx.rng, weights: ctx.weights, scalar: ctx.scalar }));
    const feedback = taskFeedback(sampled.requests, sampled.groups, (r) => ctx.envScalar(r.reward));
    expect(feedback).toHaveLength(sampled.groups.length);
    feedback.forEach((f, g) => {
      expect(f.turns).toEqual(
        sampled.groups[g]?.map((r) => r.turns.map((t) => ({ observation: t.observation, action: t.action }))),
      );
      expect(f.turns?.map((turns) => turns.length)).toEqual(f.successes.map(() => 1));
    });
  });
});

describe('proposeContext', () => {
  it('writes with the current policy, charging every generated token, and stops at the budget', async () => {
    const ctx = await tinyStepContext({ budget: { episodes: 1000, generatedTokens: 10 } as { episodes: number } });
    const propose = proposeContext(ctx);
    expect(propose.observation({ letter: 'a', id: 3 })).toBe('say a:');
    const texts = await propose.generate('say a:', { count: 2, maxTokens: 4 });
    expect(texts).toHaveLength(2);
    const spent = ctx.meter.consumed.generatedTokens;
    expect(spent).toBeGreaterThan(0);
    expect(spent).toBeLessThanOrEqual(8);
    expect(ctx.logged['taskSource.generatedTokens']).toBe(spent);
    // 10 - spent tokens left: at most floor(left / 4) continuations of 4 tokens are affordable.
    const more = await propose.generate('say b:', { count: 3, maxTokens: 4 });
    expect(more).toHaveLength(Math.min(3, Math.floor((10 - spent) / 4)));
    expect(ctx.meter.consumed.generatedTokens).toBeLessThanOrEqual(10);
    expect(await propose.generate('say b:', { count: 0 })).toEqual([]);
  });

  it('reads written tasks through the environment and refuses a test-split task even when the environment accepts it', async () => {
    const ctx = await tinyStepContext();
    expect(proposeContext(ctx).parseTask).toBeUndefined(); // echo cannot read tasks
    const writing = await tinyStepContextFor('echo-writer');
    const propose = proposeContext(writing);
    const testTask = writing.plugins.env.tasks('test', { seed: 0 })[0] as EchoTask;
    expect(echoWriter.parseTask?.(`${testTask.letter}${testTask.id}`)).toEqual(testTask);
    expect(propose.parseTask?.(`${testTask.letter}${testTask.id}`)).toBeUndefined();
    expect(propose.parseTask?.('b7')).toEqual({ letter: 'b', id: 7 });
    expect(propose.parseTask?.('c7')).toBeUndefined();
  });
});

describe('a step with a writing stream', () => {
  it('calls propose after observe, with the step, and charges the writing to the run', async () => {
    written.length = 0;
    const ctx = await tinyStepContext({ registry: tinyRegistry(plugins), overrides: { taskSource: 'writer' }, step: 3 });
    const outcome = await runStep(ctx);
    expect(written).toHaveLength(1);
    expect(written[0]?.step).toBe(3);
    expect(written[0]?.texts).toHaveLength(3);
    const writingTokens = outcome.metrics['taskSource.generatedTokens'] as number;
    expect(writingTokens).toBeGreaterThan(0);
    expect(writingTokens).toBeLessThanOrEqual(9);
    const rolloutTokens = outcome.metrics.meanActionTokens as number;
    const episodes = TINY.tasksPerStep * TINY.groupSize;
    expect(ctx.meter.consumed.generatedTokens).toBeCloseTo(rolloutTokens * episodes + writingTokens, 6);
  });
});

/** A step context on another environment of the test registry. */
async function tinyStepContextFor(env: string) {
  const { resolvePlugins } = await import('./plugins.js');
  const base = await tinyStepContext({ registry: tinyRegistry(plugins) });
  const resolved = resolvePlugins({
    registry: tinyRegistry(plugins),
    method: 'reinforce-mean',
    env,
    seed: 1,
    budget: { episodes: 1000 },
    overrides: TINY,
  });
  return { ...base, plugins: resolved };
}
