/**
 * One RL step of a registered method on given tasks, through the trainer's own pieces, for
 * `bench speed rl-step`: the sample stage's rollouts (KV-cache decoding, the environment), the
 * run's reward weights, the registered estimator, and the update stage's row update
 * (micro-batches, accumulation, gradient clip, Adam). A benchmark of the step, not a copy of it.
 * Only methods whose step is exactly that (a row loss, no divergence, no extra models) fit.
 */
import {
  type Advantages,
  type Registry,
  Rng,
  type Rollout,
  RunError,
  type TrainConfig,
  UsageError,
  weightedSum,
} from '@policy-lab/core';
import { rowsFromRollouts } from '../loop/batch.js';
import { componentWeights, type Resolved, resolvePlugins } from '../loop/plugins.js';
import { collectRollouts } from '../loop/rollouts.js';
import { updateOnRows } from '../loop/update/rows.js';
import type { PolicyModel } from '../model/policy.js';
import type { Adam } from '../optim/adam.js';
import type { CharTokenizer } from '../tokenizer/char-tokenizer.js';

export interface RlStepSetup {
  registry: Registry;
  method: string;
  env: string;
  policy: PolicyModel;
  tokenizer: CharTokenizer;
  tasks: readonly unknown[];
  groupSize: number;
  maxNewTokens: number;
  learningRate: number;
  seed: number;
}

export interface RlStepRecord {
  groups: Rollout[][];
  advantages: Advantages;
  /** The update's metrics as a run logs them (loss, gradNorm, entropy, trainedTokens, ...). */
  metrics: Record<string, number>;
  rolloutMs: number;
  updateMs: number;
}

/** The method resolved as a run of it would be; refused (exit 2) when its step is more than sample, estimate, update rows. */
export function resolveRlStep(setup: Omit<RlStepSetup, 'policy' | 'tokenizer' | 'tasks'> & { tasksPerStep: number }): Resolved {
  const resolved = resolvePlugins(
    {
      registry: setup.registry,
      method: setup.method,
      env: setup.env,
      seed: setup.seed,
      budget: { episodes: setup.tasksPerStep * setup.groupSize },
      overrides: {
        tasksPerStep: setup.tasksPerStep,
        groupSize: setup.groupSize,
        maxNewTokens: setup.maxNewTokens,
        learningRate: setup.learningRate,
      },
    },
    { readers: false },
  );
  const extra = [
    resolved.loss.kind !== 'rows' && `a ${resolved.loss.kind} loss`,
    resolved.divergence && 'a divergence',
    resolved.sampler && 'a sampler',
    resolved.shapers.length > 0 && 'reward shapers',
    resolved.rewardModels.length > 0 && 'reward models',
    resolved.estimator.needsCritic && 'a critic',
  ].filter(Boolean);
  if (extra.length)
    throw new UsageError(
      `method '${setup.method}' has ${extra.join(', ')}: the rl-step benchmark times a step of sampling, advantages and a row update only (grpo, dr-grpo, rloo, ...)`,
    );
  return resolved;
}

export async function rlStep(setup: RlStepSetup, resolved: Resolved, optimizer: Adam): Promise<RlStepRecord> {
  const config: TrainConfig = resolved.config;
  const rng = Rng.seeded(setup.seed).split('rl-step');
  const started = performance.now();
  const groups = await collectRollouts(
    setup.policy,
    setup.tokenizer,
    resolved.env,
    setup.tasks.map((task, k) => ({ task, groupId: `g${k}`, count: setup.groupSize })),
    { maxNewTokens: config.maxNewTokens, temperature: config.temperature, rng: rng.split('rollout') },
  );
  const weights = componentWeights(resolved.env, config, resolved.shapers, resolved.rewardModels);
  const advantages = await resolved.estimator.compute(groups, {
    rng: rng.split('estimator'),
    weights,
    scalar: (reward) => weightedSum(reward, weights),
    step: 1,
  });
  const sampled = performance.now();
  const { loss } = resolved;
  if (loss.kind !== 'rows') throw new RunError(`loss '${loss.name}' is not a row loss (resolveRlStep refuses it)`);
  const rows = rowsFromRollouts(groups, advantages);
  if (rows.length === 0) throw new RunError('the rl-step benchmark drew no trainable rows');
  const metrics = await updateOnRows(rows, {
    plugins: { ...resolved, loss },
    policy: setup.policy,
    optimizer,
    config,
    learningRate: config.learningRate,
    divergenceCoef: 0,
    rng: rng.split('loss'),
  });
  return { groups, advantages, metrics, rolloutMs: sampled - started, updateMs: performance.now() - sampled };
}
