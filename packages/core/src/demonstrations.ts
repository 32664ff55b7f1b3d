import type { Demonstration, DemonstrationTurn, Environment } from './contracts.js';
import type { Rng } from './rng.js';

/**
 * The expert's episode on a task: `demonstrate(task)` replayed through `start` and `step`, each
 * turn with the observation the expert read. Undefined when the environment has no expert.
 */
export function replayDemonstration<Task>(env: Environment<Task>, task: Task, rng: Rng): Demonstration | undefined {
  if (!env.demonstrate) return undefined;
  const episode = env.start(task, rng);
  const turns: DemonstrationTurn[] = [];
  for (const action of env.demonstrate(task)) {
    const observation = episode.observation();
    const result = episode.step(action);
    turns.push({
      observation,
      action,
      reward: result.reward,
      ...(result.stateKey !== undefined ? { stateKey: result.stateKey } : {}),
    });
    if (result.done) break;
  }
  return { taskId: env.taskId(task), turns, success: episode.outcome().success };
}
