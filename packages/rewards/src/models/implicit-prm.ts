/**
 * The implicit process reward model of iStar / OPRL (Liu et al. 2025, arXiv 2509.19199): a
 * language model that starts as the policy and is trained online, alternating with it, by
 * trajectory-level DPO on each group's (better, worse) rollouts against the policy that sampled
 * them. Its implicit reward of a step is beta * log(pi_prm(a_t | context) / pi_old(a_t | context))
 * over the action's tokens, so the steps' rewards of a trajectory sum to its implicit reward.
 */
import {
  defineRewardModel,
  type RewardExamples,
  type RewardModel,
  type RewardModelContext,
  type Rollout,
  resolveOptions,
  stepTexts,
} from '@policy-lab/core';

export interface ImplicitPrmOptions {
  beta?: number;
  learningRate?: number;
  updatesPerStep?: number;
  maxPairsPerGroup?: number;
  replay?: number;
  batch?: number;
  weight?: number;
}

const OPTIONS = {
  beta: { type: 'number', default: 0.05, doc: 'scale of the implicit reward beta * log(pi_prm / pi_old) (proposal: 0.05)' },
  learningRate: { type: 'number', default: 1e-3, doc: 'its Adam learning rate' },
  updatesPerStep: { type: 'integer', default: 1, doc: 'DPO updates per training step (the paper: one PRM update per iteration)' },
  maxPairsPerGroup: { type: 'integer', default: 4, doc: '(better, worse) trajectory pairs taken from one group at most' },
  replay: { type: 'integer', default: 0, doc: 'pairs kept for replay (0: each update trains on the step’s pairs only)' },
  batch: { type: 'integer', default: 16, doc: 'pairs per update drawn from the replay buffer' },
  weight: {
    type: 'number',
    default: 0,
    doc: "weight of its score of the whole rollout (component 'implicitReward') in the reward",
  },
} as const;

/**
 * The trajectory pairs of each group: every rollout preferred to every one with a lower scalar
 * reward, at most `cap` per group drawn without replacement; a group whose rewards are all equal
 * gives none (the PRM is not updated on it).
 */
export function trajectoryPairs(
  groups: readonly (readonly Rollout[])[],
  cap: number,
  ctx: Pick<RewardModelContext, 'rng' | 'scalar'>,
): NonNullable<RewardExamples['trajectories']> {
  const out: NonNullable<RewardExamples['trajectories']>[number][] = [];
  groups.forEach((group, g) => {
    const rewards = group.map((r) => ctx.scalar(r.reward));
    const pairs: [Rollout, Rollout][] = [];
    group.forEach((better, i) =>
      group.forEach((worse, j) => {
        if ((rewards[i] as number) > (rewards[j] as number)) pairs.push([better, worse]);
      }),
    );
    const rng = ctx.rng.split(`group/${g}`);
    for (let i = 0; i < Math.min(cap, pairs.length); i++) {
      const j = rng.int(i, pairs.length - 1);
      [pairs[i], pairs[j]] = [pairs[j] as [Rollout, Rollout], pairs[i] as [Rollout, Rollout]];
    }
    for (const [better, worse] of pairs.slice(0, cap)) out.push({ chosen: stepTexts(better), rejected: stepTexts(worse) });
  });
  return out;
}

export function implicitPrm(options: ImplicitPrmOptions = {}): RewardModel {
  const o = resolveOptions<Required<ImplicitPrmOptions>>('implicit-prm', OPTIONS, options as Record<string, unknown>);
  if (!(o.beta > 0)) throw new RangeError(`implicit-prm: beta must be > 0, got ${o.beta}`);
  if (!(o.learningRate > 0)) throw new RangeError(`implicit-prm: learningRate must be > 0, got ${o.learningRate}`);
  for (const key of ['updatesPerStep', 'maxPairsPerGroup', 'batch'] as const)
    if (!(o[key] >= 1)) throw new RangeError(`implicit-prm: ${key} must be an integer >= 1, got ${o[key]}`);
  if (!(o.replay >= 0)) throw new RangeError(`implicit-prm: replay must be an integer >= 0, got ${o.replay}`);
  return defineRewardModel({
    name: 'implicit-prm',
    summary:
      "iStar/OPRL's implicit PRM: a copy of the policy trained online by trajectory DPO on each group's (better, worse) rollouts; step reward beta log(pi_prm / pi_old)",
    paper: {
      title: 'Online Process Reward Learning (v2; v1: Agentic RL with Implicit Step Rewards, iStar)',
      arxiv: '2509.19199',
      year: 2025,
    },
    options: OPTIONS,
    resolved: o,
    math: `$r_\\phi(s_t, a_t) = ${o.beta} \\sum_{j \\in a_t} \\log\\frac{\\pi_\\phi(a_{t,j} \\mid \\cdot)}{\\pi_{\\theta_{old}}(a_{t,j} \\mid \\cdot)}$; $\\mathcal{L} = -\\log\\sigma\\big(\\sum_t r_\\phi(\\tau^+_t) - \\sum_t r_\\phi(\\tau^-_t)\\big)$ over pairs of the same task with $R(\\tau^+) > R(\\tau^-)$`,
    unverified: [
      'Adaptation: direct in mechanism (a second language model of the policy family, trajectory DPO against the sampling policy, alternating updates); our PRM is a copy of our small policy taken after the SFT warm start, where the paper initialises a large LM.',
      'beta = 0.05, one update per step on at most 4 pairs per group, and the pairing rule (every rollout preferred to each one of lower reward) are our proposals; the paper text giving them was not reachable.',
      "The PRM reads each step as (earlier observations and actions, then this turn's observation; the action) in the character vocabulary, with the policy's context limit; with a soft prompt the reference is the policy without it.",
      "Its reward component (weight 0) scores the whole rollout text, observations included on multi-turn episodes; the step rewards the oprl estimator reads count the actions' tokens only.",
    ],
    architecture: { kind: 'policy-copy' },
    objective: 'implicit-prm',
    beta: o.beta,
    learningRate: o.learningRate,
    updatesPerStep: o.updatesPerStep,
    ...(o.replay > 0 ? { replay: { capacity: o.replay, batch: o.batch } } : {}),
    component: { name: 'implicitReward', weight: o.weight },
    examples: (groups, ctx) => ({ trajectories: trajectoryPairs(groups, o.maxPairsPerGroup, ctx) }),
    configure: (next) => implicitPrm({ ...o, ...next }),
  });
}
