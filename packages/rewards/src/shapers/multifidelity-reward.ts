/**
 * Multi-fidelity reward with a learned correction (Ryou, Wang & Karaman, "Multi-Fidelity
 * Reinforcement Learning for Time-Optimal Quadrotor Re-planning", arXiv 2403.08152): every rollout
 * gets the cheap reward, a learned model corrects it towards the exact one, and the exact
 * evaluation is spent on the rollouts where that model is least sure. The correction is an
 * ensemble's mean of exact - cheap, its uncertainty the ensemble's spread; it trains on the items
 * that received both evaluations, after they were rewarded.
 */
import { defineShaper, type RewardShaper, type Rollout, resolveOptions, rolloutText, type ShapeContext } from '@policy-lab/core';
import { CorrectionEnsemble, type LabelledItem, mostUncertain } from '../models/correction-ensemble.js';
import { characters } from '../models/small-model.js';
import { requireComponent, reshaped } from './common.js';
import { checkpointed, perRun } from './dopamine.js';

export interface MultifidelityRewardOptions {
  cheap?: string;
  exact?: string;
  fraction?: number;
  warmup?: number;
  exactEnvSteps?: number;
  cheapEnvSteps?: number;
  members?: number;
  features?: number;
  hidden?: number;
  learningRate?: number;
  epochs?: number;
  replay?: number;
}

const OPTIONS = {
  cheap: {
    type: 'string',
    default: 'partial',
    doc: 'the cheap component, read for every rollout (code: the share of passed tests)',
  },
  exact: { type: 'string', default: 'passed', doc: 'the exact component, read only where chosen (code: every test passed)' },
  fraction: { type: 'number', default: 0.25, doc: 'share of each batch evaluated exactly' },
  warmup: {
    type: 'integer',
    default: 16,
    doc: 'labelled items needed before the uncertainty chooses (until then: a seeded uniform choice)',
  },
  exactEnvSteps: { type: 'integer', default: 1, doc: 'environment steps charged per exact evaluation' },
  cheapEnvSteps: {
    type: 'integer',
    default: 0,
    doc: 'environment steps charged per cheap evaluation (0: it comes with the episode)',
  },
  members: { type: 'integer', default: 5, doc: 'networks in the correction ensemble' },
  features: { type: 'integer', default: 512, doc: 'hash buckets of the rollout text' },
  hidden: { type: 'integer', default: 8, doc: "each member's hidden units" },
  learningRate: { type: 'number', default: 0.03, doc: "the members' Adam learning rate" },
  epochs: { type: 'integer', default: 16, doc: 'passes per step over the labelled items' },
  replay: { type: 'integer', default: 2048, doc: 'labelled items kept' },
} as const;

export function multifidelityReward(options: MultifidelityRewardOptions = {}): RewardShaper {
  const o = resolveOptions<Required<MultifidelityRewardOptions>>(
    'multifidelity-reward',
    OPTIONS,
    options as Record<string, unknown>,
  );
  if (!(o.fraction > 0 && o.fraction <= 1))
    throw new RangeError(`multifidelity-reward: option 'fraction' must be in (0, 1], got ${o.fraction}`);
  for (const key of ['members', 'features', 'hidden', 'epochs', 'replay'] as const)
    if (!(o[key] >= 1)) throw new RangeError(`multifidelity-reward: option '${key}' must be >= 1, got ${o[key]}`);
  if (!(o.warmup >= 0 && o.exactEnvSteps >= 0 && o.cheapEnvSteps >= 0))
    throw new RangeError("multifidelity-reward: 'warmup', 'exactEnvSteps' and 'cheapEnvSteps' must be >= 0");
  const newModel = () =>
    new CorrectionEnsemble({
      members: o.members,
      features: o.features,
      hidden: o.hidden,
      learningRate: o.learningRate,
      seed: 'multifidelity-reward',
    });
  const state = perRun(() => ({ model: newModel(), labelled: [] as LabelledItem[] }));
  return defineShaper({
    name: 'multifidelity-reward',
    summary:
      "Multi-fidelity reward: the cheap reward for all, corrected by a learned ensemble of exact - cheap; the exact reward where the ensemble's spread is largest",
    paper: {
      title: 'Multi-Fidelity Reinforcement Learning for Time-Optimal Quadrotor Re-planning',
      arxiv: '2403.08152',
      year: 2024,
    },
    options: OPTIONS,
    resolved: o,
    requires: { components: [o.cheap, o.exact] },
    adds: [{ name: 'fidelity', weight: 1 }],
    math: '$\\hat r_i = r^{cheap}_i + \\bar\\delta(x_i)$ with $\\bar\\delta, \\sigma_\\delta$ the mean and spread of an ensemble fitted to $r^{exact} - r^{cheap}$ on doubly evaluated items; the $\\lceil f n \\rceil$ rollouts of largest $\\sigma_\\delta$ get $r^{exact}_i$',
    unverified: [
      "adaptation: analogue. The paper's estimator is a multi-fidelity Gaussian-process feasibility classifier over trajectory parameters with learned cross-fidelity correlation rho, three fidelities and Bayesian-optimisation acquisition; ours is two fidelities, rho fixed at 1, a bootstrap ensemble of small networks over the rollout's text as the uncertainty, and the top spreads as the acquisition rule.",
      'Sizes, the warm-up and the fraction are ours.',
    ],
    configure: (next) => multifidelityReward({ ...o, ...next }),
    ...checkpointed(state, newModel),
    shape(rollouts: readonly Rollout[], ctx: ShapeContext) {
      const { model, labelled } = state(ctx);
      const rng = ctx.rng.split('multifidelity-reward');
      const texts = rollouts.map((r) => {
        const t = rolloutText(r);
        return `${t.context} ${t.text}`;
      });
      const cheap = rollouts.map((r) => requireComponent('multifidelity-reward', r, o.cheap));
      const predictions = rollouts.map((_, k) => model.predict(texts[k] as string, cheap[k] as number));
      ctx.charge?.({ auxScoredTokens: characters(texts) * o.members });
      const count = Math.ceil(o.fraction * rollouts.length);
      const byUncertainty = labelled.length >= o.warmup;
      const chosen = new Set(
        byUncertainty
          ? mostUncertain(
              predictions.map((p) => p.spread),
              count,
              rng.split('choose'),
            )
          : rng.shuffle(rollouts.map((_, k) => k)).slice(0, count),
      );
      ctx.charge?.({ envSteps: chosen.size * o.exactEnvSteps + rollouts.length * o.cheapEnvSteps });
      const shaped = rollouts.map((r, k) => {
        const value = chosen.has(k)
          ? requireComponent('multifidelity-reward', r, o.exact)
          : (cheap[k] as number) + (predictions[k]?.correction as number);
        // Both sources leave the weighted sum (episode and turns): only the fused value counts, on the last turn.
        const last = r.turns.length - 1;
        const turns = r.turns.map((t, i) => ({ ...t.reward, [o.cheap]: 0, [o.exact]: 0, fidelity: i === last ? value : 0 }));
        const out = reshaped(r, { ...r.reward, [o.cheap]: 0, [o.exact]: 0, fidelity: value }, turns);
        return { ...out, meta: { ...out.meta, fidelity: chosen.has(k) ? 'exact' : 'cheap' } };
      });
      for (const k of chosen)
        labelled.push({
          text: texts[k] as string,
          cheap: cheap[k] as number,
          exact: requireComponent('multifidelity-reward', rollouts[k] as Rollout, o.exact),
        });
      if (labelled.length > o.replay) labelled.splice(0, labelled.length - o.replay);
      const loss = model.train(labelled, { epochs: o.epochs, batch: 32, rng: rng.split('train') });
      ctx.charge?.({ auxTrainedTokens: characters(labelled.map((l) => l.text)) * o.epochs });
      ctx.log?.('exactCalls', chosen.size);
      ctx.log?.('cheapCalls', rollouts.length);
      ctx.log?.('chosenByUncertainty', byUncertainty ? 1 : 0);
      ctx.log?.('spreadMean', predictions.reduce((a, p) => a + p.spread, 0) / Math.max(1, predictions.length));
      if (labelled.length) ctx.log?.('loss', loss);
      return shaped;
    },
  });
}
