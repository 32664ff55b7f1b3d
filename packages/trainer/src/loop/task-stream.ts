/**
 * The run's stream of training tasks: the named task source's, or uniform draws with
 * replacement over the training split (the default, the same draws as before sources existed).
 */
import type { Environment, Rng, Rollout, TaskFeedback, TaskSource, TaskStream } from '@policy-lab/core';
import type { RolloutRequest } from './rollouts.js';

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
      };
    });
}
