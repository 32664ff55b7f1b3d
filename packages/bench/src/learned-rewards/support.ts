/** Shared by the learned-reward tests: expert and random episodes on gridnav, and a one-sided binomial tail. */
import { type Demonstration, type Environment, Rng, replayDemonstration } from '@policy-lab/core';

export function demonstrations(env: Environment, split: 'train' | 'test', count: number, seed = 1): Demonstration[] {
  const rng = Rng.seeded(seed).split(`demos/${split}`);
  return env
    .tasks(split, { seed, count })
    .flatMap((task, k) => replayDemonstration(env, task, rng.split(`${k}`)) ?? [])
    .filter((d) => d.success);
}

/** An episode of uniformly random actions from `actions`, its observations turn by turn. */
export function randomEpisode(env: Environment, task: unknown, actions: readonly string[], rng: Rng): Demonstration {
  const episode = env.start(task, rng.split('env'));
  const turns: { observation: string; action: string; reward: Record<string, number> }[] = [];
  for (let t = 0; t < env.maxTurns; t++) {
    const observation = episode.observation();
    const action = rng.pick(actions);
    const result = episode.step(action);
    turns.push({ observation, action, reward: result.reward });
    if (result.done) break;
  }
  return { taskId: env.taskId(task), turns, success: episode.outcome().success };
}

/** P(X >= k) for X ~ Binomial(n, 1/2): the sign test's one-sided p-value. */
export function signTestP(k: number, n: number): number {
  let logC = 0;
  let p = 0;
  for (let i = 0; i <= n; i++) {
    if (i > 0) logC += Math.log(n - i + 1) - Math.log(i);
    if (i >= k) p += Math.exp(logC - n * Math.LN2);
  }
  return p;
}
