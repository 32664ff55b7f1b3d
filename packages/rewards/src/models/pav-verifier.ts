/**
 * PAV's process advantage verifier (Setlur et al., "Rewarding Progress: Scaling Automated
 * Process Verifiers for LLM Reasoning", arXiv 2410.08146): a pointwise regressor of Q^mu(s, a),
 * a Best-of-K prover's probability of success after taking step a in state s. It reads the
 * state as the turn's observation and the step as its action; the progress of a step is the
 * difference of two consecutive predictions. The `pav` estimator trains it on Monte Carlo
 * targets from episodes restarted at step prefixes (the trainer's own rollouts carry no such
 * target, so `examples` gives nothing) and the `pav-beam` sampler searches with it.
 */
import { defineRewardModel, type RewardModel, resolveOptions } from '@policy-lab/core';
import { checkModelOptions, type ModelSizeOptions, modelDeclaration, modelOptionSpecs } from './model-options.js';

const OPTIONS = modelOptionSpecs({
  dim: 32,
  layers: 1,
  heads: 4,
  learningRate: 2e-3,
  updatesPerStep: 4,
  replay: 4096,
  batch: 64,
});

export function pavVerifier(options: Partial<ModelSizeOptions> = {}): RewardModel {
  const resolved = resolveOptions<ModelSizeOptions>('pav-verifier', OPTIONS, options as Record<string, unknown>);
  checkModelOptions('pav-verifier', resolved);
  return defineRewardModel({
    name: 'pav-verifier',
    summary:
      "PAV's process advantage verifier: regresses a Best-of-K prover's Monte Carlo success probability after each step (trained by the pav estimator)",
    paper: {
      title: 'Rewarding Progress: Scaling Automated Process Verifiers for LLM Reasoning',
      arxiv: '2410.08146',
      year: 2024,
    },
    options: OPTIONS,
    resolved,
    unverified: [
      'adaptation: direct in what it learns (Q^mu from Monte Carlo restarts at step prefixes); ours is a small transformer trained online, the paper fine-tunes a pretrained LLM offline',
      'it reads the state as the observation of the turn (the environments PAV fits show their whole state in each observation), not the whole history',
    ],
    math: '$\\mathcal{L} = (Q_\\psi(s_h, a_h) - V^\\mu(s_{h+1}))^2$, $V^\\mu = 1 - (1 - \\hat V^\\pi)^K$ from episodes restarted at $s_{h+1}$',
    ...modelDeclaration(resolved),
    objective: 'pointwise',
    component: { name: 'progressValue', weight: 0 },
    // A whole rollout is scored as its last step: the verifier's value of where it ended.
    text: (rollout) => {
      const last = rollout.turns[rollout.turns.length - 1];
      return { context: last?.observation ?? '', text: last?.action ?? '' };
    },
    examples: () => ({}),
    configure: (next) => pavVerifier({ ...resolved, ...next }),
  });
}
