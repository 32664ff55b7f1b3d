/**
 * A comparison without training, for tests of the harness machinery (planning, resuming,
 * statistics, reports): a registry of named methods and one environment, and a stand-in for
 * the worker pool whose results are a deterministic function of (method, seed).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from '@policy-lab/core';
import type { TrainResult } from '@policy-lab/trainer';
import type { CompareConfig } from '../compare/plan.js';
import type { UnitRequest } from '../compare/pool.js';
import { type CompareRunOptions, runComparison } from '../compare/run-compare.js';

export const registry = new Registry();
const estimator = { name: 'e', summary: 'e', compute: () => ({ rollout: [], weights: [] }) };
registry.register(
  {
    name: 'fake',
    estimators: [estimator],
    methods: ['grpo', 'mc-grpo', 'gdpo', 'grpo-plus-one'].map((name) => ({
      name,
      summary: name,
      estimator: 'e',
      loss: 'ppo-clip',
    })),
    environments: [
      {
        name: 'countdown',
        summary: 'c',
        rewardComponents: [{ name: 'correct', weight: 1 }],
        maxTurns: 1,
        tasks: () => [],
        taskId: () => '',
        start: () => ({}) as never,
        // Takes any options, as a real environment takes its own (envOptions).
        configure(options: Record<string, unknown>) {
          return { ...this, resolved: { ...options } };
        },
      },
    ],
  },
  'test',
);

/** How much easier or harder each of the 8 test tasks is than the run's mean (they sum to 0). */
const TASK_OFFSETS = [-0.2, 0.2, -0.1, 0.1, 0, 0, -0.05, 0.05];

/**
 * A deterministic stand-in for training: a function of (method, seed) only, with a seed effect
 * that looks like noise (0.30 to 0.40) and per-task outcomes whose mean is the success. It
 * tests the harness machinery, not learning. `shift` moves a method's final success.
 */
export function fakeResult(request: UnitRequest, shift: Record<string, number> = {}): TrainResult {
  const { method, seed, env } = request.unit;
  const lift = ({ grpo: 0.1, 'mc-grpo': 0.2, gdpo: 0.15, 'grpo-plus-one': 0.1 }[method] ?? 0) + (shift[method] ?? 0);
  const start = 0.3 + 0.1 * (((seed * 37) % 7) / 6);
  const evaluation = (level: number) => {
    const perTask = TASK_OFFSETS.map((offset) => level + offset);
    const success = perTask.reduce((a, b) => a + b, 0) / perTask.length;
    return {
      success,
      greedySuccess: success,
      passAtK: Math.min(1, success + 0.2),
      reward: { correct: success },
      meanLength: 4,
      perTask,
    };
  };
  return {
    method,
    env,
    seed,
    backend: 'wasm',
    config: { method, env, seed } as never,
    budget: {
      limit: request.budget,
      consumed: {
        episodes: 480,
        envSteps: 480,
        generatedTokens: 1900,
        trainedTokens: 1500,
        seconds: 1,
        auxScoredTokens: 0,
        auxTrainedTokens: 0,
      },
    },
    initial: evaluation(start),
    final: evaluation(start + lift),
    steps: 15,
    curve: [0, 5, 10, 15].map((step) => ({
      step,
      episodes: step * 32,
      generatedTokens: step * 120,
      success: start + (lift * step) / 15,
      reward: { correct: start },
    })),
    diagnostics: { zeroAdvantageFraction: 0.3 },
    sideBudget: { episodes: 0, generatedTokens: 0 },
    timings: {},
  };
}

export function fakeRunner(calls: string[], killAfter = Number.POSITIVE_INFINITY, shift: Record<string, number> = {}) {
  return async (requests: UnitRequest[], events: { onDone(id: string, result: TrainResult): void }) => {
    for (const request of requests) {
      if (calls.length >= killAfter) throw new Error('simulated kill');
      calls.push(request.unit.id);
      events.onDone(request.unit.id, fakeResult(request, shift));
    }
  };
}

/** runComparison's options for a fresh comparison in `out` on one local worker (no runner: add one). */
export const compareOptions = (out: string, extra: Partial<CompareRunOptions> = {}): CompareRunOptions => ({
  out,
  resume: false,
  force: false,
  workers: 1,
  threads: 1,
  cwd: out,
  plugins: [],
  reps: 200,
  ...extra,
});

/** A whole comparison with the stand-in runner, in a new temporary folder. */
export async function fakeComparison(config: CompareConfig, options: { reps?: number; shift?: Record<string, number> } = {}) {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'fake-comparison-')), 'out');
  const document = await runComparison(
    config,
    compareOptions(out, { reps: options.reps ?? 200, runUnits: fakeRunner([], Number.POSITIVE_INFINITY, options.shift) }),
  );
  return { out, document };
}
