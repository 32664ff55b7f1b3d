/**
 * IRL-VLA's reward world model (Jiang et al. 2025, arXiv 2508.06571), its inverse-RL part: a
 * reward learned from expert demonstrations against the policy's own rollouts (adversarial IRL),
 * which the policy is then trained against in place of the environment's reward. The environment's
 * components leave the training reward (weight kept, value 0: the unshaped vector stays in
 * `meta.unshapedReward`), so the true reward serves evaluation only.
 */
import { defineShaper, type RewardShaper, type Rollout, resolveOptions, type ShapeContext } from '@policy-lab/core';
import { characters } from '../models/small-model.js';
import { TrajectoryDiscriminator, trajectoryText } from '../models/trajectory-discriminator.js';
import { reshaped } from './common.js';
import { checkpointed, perRun, requireDemonstrations } from './dopamine.js';

export interface IrlRewardOptions {
  epochs?: number;
  replay?: number;
  features?: number;
  hidden?: number;
  learningRate?: number;
  keepTrueReward?: boolean;
}

const OPTIONS = {
  epochs: {
    type: 'integer',
    default: 2,
    doc: 'passes per step over the step’s expert and policy trajectories and as many replayed',
  },
  replay: { type: 'integer', default: 1024, doc: 'trajectories of each side kept for replay' },
  features: { type: 'integer', default: 1024, doc: 'hash buckets of the trajectory text' },
  hidden: { type: 'integer', default: 32, doc: "the discriminator's hidden units" },
  learningRate: { type: 'number', default: 0.01, doc: "the discriminator's Adam learning rate" },
  keepTrueReward: {
    type: 'boolean',
    default: false,
    doc: "true: the environment's components stay in the training reward beside the learned one",
  },
} as const;

export function irlRewardWorldModel(options: IrlRewardOptions = {}): RewardShaper {
  const o = resolveOptions<Required<IrlRewardOptions>>('irl-reward-world-model', OPTIONS, options as Record<string, unknown>);
  for (const key of ['epochs', 'replay', 'features', 'hidden'] as const)
    if (!(o[key] >= 1)) throw new RangeError(`irl-reward-world-model: option '${key}' must be >= 1, got ${o[key]}`);
  const newModel = () =>
    new TrajectoryDiscriminator({
      features: o.features,
      hidden: o.hidden,
      learningRate: o.learningRate,
      seed: 'irl-reward-world-model',
    });
  const state = perRun(() => ({ model: newModel(), expert: [] as string[], policy: [] as string[] }));
  return defineShaper({
    name: 'irl-reward-world-model',
    summary:
      'IRL-VLA: a reward learned by adversarial inverse RL (expert demonstrations against policy rollouts) replaces the environment reward in training',
    paper: {
      title: 'IRL-VLA: Training an Vision-Language-Action Policy via Reward World Model',
      arxiv: '2508.06571',
      year: 2025,
    },
    options: OPTIONS,
    resolved: o,
    requires: { demonstrations: true },
    adds: [{ name: 'irlReward', weight: 1 }],
    math: '$D_\\psi(\\tau)$ trained by logistic loss, expert 1, policy 0; $r_{IRL}(\\tau) = \\log D_\\psi(\\tau) - \\log(1 - D_\\psi(\\tau))$, on the last turn; environment components set to 0 in training',
    unverified: [
      "adaptation: adapted. The paper's reward world model predicts NAVSIM's sub-scores from scene and plan and is learned from logged driving; ours is a trajectory discriminator over the turn text (observations and actions), trained online against the policy's rollouts (GAIL/AIRL form), with no sub-score heads.",
      "The paper's architecture, IRL loss and PPO settings are not public; every size here is ours.",
    ],
    configure: (next) => irlRewardWorldModel({ ...o, ...next }),
    ...checkpointed(state, newModel),
    shape(rollouts: readonly Rollout[], ctx: ShapeContext) {
      const { model, expert, policy } = state(ctx);
      const texts = rollouts.map((r) => trajectoryText(r.turns));
      ctx.charge?.({ auxScoredTokens: characters(texts) });
      const rewards = texts.map((t) => model.reward(t));
      const zero = (v: Readonly<Record<string, number>>) =>
        o.keepTrueReward
          ? { ...v }
          : Object.fromEntries(Object.keys(v).map((k) => [k, ctx.components.includes(k) ? 0 : (v[k] as number)]));
      const shaped = rollouts.map((r, k) => {
        const last = r.turns.length - 1;
        return reshaped(
          r,
          { ...zero(r.reward), irlReward: rewards[k] as number },
          r.turns.map((t, i) => ({ ...zero(t.reward), irlReward: i === last ? (rewards[k] as number) : 0 })),
        );
      });
      // The discriminator learns after scoring: the step's expert demonstrations against its rollouts.
      const demonstrations = requireDemonstrations('irl-reward-world-model', ctx);
      const freshExpert = [...new Set(rollouts.map((r) => r.groupId))].flatMap((id) => {
        const demo = demonstrations.ofGroup(id);
        return demo ? [trajectoryText(demo.turns)] : [];
      });
      const rng = ctx.rng.split('irl-reward-world-model');
      const replayed = (pool: readonly string[], n: number) =>
        pool.length ? Array.from({ length: n }, () => rng.pick(pool)) : [];
      const expertBatch = [...freshExpert, ...replayed(expert, freshExpert.length)];
      const policyBatch = [...texts, ...replayed(policy, texts.length)];
      const loss =
        expertBatch.length && policyBatch.length
          ? model.train(expertBatch, policyBatch, { epochs: o.epochs, batch: 32, rng })
          : Number.NaN;
      ctx.charge?.({ auxTrainedTokens: characters([...expertBatch, ...policyBatch]) * o.epochs });
      expert.push(...freshExpert);
      policy.push(...texts);
      if (expert.length > o.replay) expert.splice(0, expert.length - o.replay);
      if (policy.length > o.replay) policy.splice(0, policy.length - o.replay);
      ctx.log?.('rewardMean', rewards.reduce((a, b) => a + b, 0) / Math.max(1, rewards.length));
      if (Number.isFinite(loss)) ctx.log?.('loss', loss);
      return shaped;
    },
  });
}
