/**
 * What every stage of a training step shares: the run's models and services (fixed for the
 * run) and this step's randomness, coefficients and reward weights.
 */
import {
  type BudgetConsumption,
  type BudgetMeter,
  type RewardVector,
  Rng,
  type TaskStream,
  type TrainConfig,
  weightedSum,
} from '@policy-lab/core';
import type * as tf from '@tensorflow/tfjs-core';
import type { PolicyModel } from '../model/policy.js';
import type { Adam } from '../optim/adam.js';
import type { PolicyTokenizer } from '../tokenizer/policy-tokenizer.js';
import { componentWeights, type Resolved } from './plugins.js';
import type { OwnedRewardModel } from './reward-models.js';
import type { PairEstimator } from './upo-estimator.js';

/** Rollouts drawn for diagnostics only (the sign-flip baseline): never part of the RL budget. */
export interface SideBudget {
  episodes: number;
  generatedTokens: number;
}

/** Fixed for the whole run. */
export interface RunContext {
  plugins: Resolved;
  /** The policy as the run uses it (conditioned on the soft prompt when the run has one). */
  policy: PolicyModel & { readonly variables: tf.Variable[] };
  /** The frozen reference (the SFT start, or a teacher's policy for OPD), when a loss or divergence reads one. */
  reference?: PolicyModel;
  /** The teacher read apart from the reference (G-OPD). */
  teacher?: PolicyModel;
  tokenizer: PolicyTokenizer;
  optimizer: Adam;
  meter: BudgetMeter;
  /** The stream of training tasks (the task source's, or uniform draws). */
  tasks: TaskStream;
  /** Learned reward models, built and owned by the trainer, in the order the run names them. */
  rewardModels: readonly OwnedRewardModel[];
  /** UPO's pair estimator, when the loss selects its online pairs by uncertainty. */
  pairEstimator?: PairEstimator;
  side: SideBudget;
}

/** One step's view: the run plus this step's randomness, coefficients and weights. */
export interface StepContext extends RunContext {
  step: number;
  /** Rng.seeded(seed).split(`step/${step}`): a step's randomness depends only on (seed, step). */
  rng: Rng;
  /** The run's configuration with this step's entropy coefficient. */
  config: TrainConfig;
  /** The divergence coefficient now (it adapts when targetDivergence is set). */
  divergenceCoef: number;
  /** Reward component weights (the environment's, the shapers', --set weights, klPenalty when the divergence is in the reward). */
  weights: Record<string, number>;
  scalar(reward: RewardVector): number;
  /** Weighted sum over the environment's own components only (before reward models and shapers add theirs). */
  envScalar(reward: RewardVector): number;
  /** Numbers a stage or plugin reports for this step (a reward model's loss, a task source's pool size). */
  logged: Record<string, number>;
  log(key: string, value: number): void;
  /** Work charged by the stages (rollouts as they are drawn, trained tokens by the charge stage). */
  charge(cost: Partial<BudgetConsumption>): void;
}

export function stepContext(
  run: RunContext,
  step: number,
  coefficients: { divergenceCoef: number; entropyCoef: number; temperature?: number },
): StepContext {
  const config = {
    ...run.plugins.config,
    entropyCoef: coefficients.entropyCoef,
    temperature: coefficients.temperature ?? run.plugins.config.temperature,
  };
  const weights = componentWeights(run.plugins.env, config, run.plugins.shapers, run.plugins.rewardModels);
  const envWeights = Object.fromEntries(run.plugins.env.rewardComponents.map((c) => [c.name, weights[c.name] as number]));
  const logged: Record<string, number> = {};
  // A Method's earlier stages (EVA's KTO before GRPO): the step's loss is the stage's at the budget's progress.
  const stages = run.plugins.stages ?? [];
  const progress = stages.length ? run.meter.progress() : 1;
  const stage = stages.findIndex((s) => progress < s.until);
  if (stages.length) logged.lossStage = stage < 0 ? stages.length : stage;
  const loss = stage < 0 ? run.plugins.loss : (stages[stage]?.loss ?? run.plugins.loss);
  return {
    ...run,
    plugins: { ...run.plugins, config, loss },
    step,
    rng: Rng.seeded(config.seed).split(`step/${step}`),
    config,
    divergenceCoef: coefficients.divergenceCoef,
    weights,
    scalar: (reward) => weightedSum(reward, weights),
    envScalar: (reward) => weightedSum(reward, envWeights),
    logged,
    log: (key, value) => {
      logged[key] = value;
    },
    charge: (cost) => run.meter.charge(cost),
  };
}

/** The divergence coefficient the loss applies: 0 when the divergence sits in the reward instead. */
export function lossDivergenceCoef(ctx: Pick<StepContext, 'config' | 'divergenceCoef'>): number {
  return ctx.config.divergencePlacement === 'reward' ? 0 : ctx.divergenceCoef;
}
