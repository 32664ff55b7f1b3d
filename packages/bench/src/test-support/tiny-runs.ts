/** What short end-to-end runs in tests share: tiny settings and the run's metrics read back. */
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** A tiny model and tiny steps (4 tasks x 4 rollouts), evaluation and sign flips out of the way. */
export function tinyRun(contextLength: number) {
  return {
    model: { dim: 16, layers: 1, heads: 2, contextLength },
    sftSteps: 4,
    tasksPerStep: 4,
    groupSize: 4,
    evalTasks: 2,
    evalSamples: 1,
    evalEvery: 100,
    signFlipEvery: 0,
    learningRate: 0.01,
  };
}

export type RunMetrics = Record<string, number>;

/** Each step's line of a run folder's metrics.jsonl. */
export const metricsOf = (dir: string): RunMetrics[] =>
  readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as RunMetrics);
