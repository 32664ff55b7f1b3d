import { defineMethod, type Method } from '@policy-lab/core';

/**
 * Recipes whose novelty is a divergence-based loss. They name the estimator by registry
 * name (GRPO's, from @policy-lab/advantage), never by import.
 */
export function builtInMethods(): Method[] {
  return [
    defineMethod({
      name: 'rapo',
      summary: 'RAPO: GRPO advantages, PPO surrogate and a forward KL to a reward-reweighted reference',
      paper: {
        title: 'Unlocking Reasoning Capabilities in LLMs via Reinforcement Learning Exploration',
        arxiv: '2510.03865',
        year: 2025,
      },
      math: '$J = \\mathbb E[r] - \\alpha\\,\\mathrm{KL}(\\hat\\pi_{ref}\\|\\pi_\\theta) + \\beta H(\\pi_\\theta)$ with GRPO group z-scores as advantages (RAPO).',
      unverified: ["phi(r), alpha and the entropy weight are ours (see the 'rapo' loss)."],
      estimator: 'grpo',
      loss: 'rapo',
      // The forward-KL term lives in the loss; the divergence is here so that the trainer
      // computes reference log-probabilities, with its own coefficient left at 0.
      divergence: 'forward-kl',
      defaults: { divergenceCoef: 0 },
      defaultsSource: "the forward KL is inside the 'rapo' loss (alpha); the trainer's extra penalty stays off",
    }),
    defineMethod({
      name: 'opd',
      summary: "On-policy distillation: the student samples, the teacher's log-probabilities grade every token",
      paper: {
        title: 'Learning beyond Teacher: Generalized On-Policy Distillation with Reward Extrapolation',
        arxiv: '2602.12125',
        year: 2026,
      },
      math: '$\\ell_t = -\\rho_t\\,(\\log\\pi^*(y_t) - \\log\\pi_\\theta(y_t))$, i.e. descend reverse KL$(\\pi_\\theta\\|\\pi^*)$ on student samples (G-OPD).',
      unverified: ['The per-token reward is used directly as the advantage; see the opd loss.'],
      // The estimator's advantages are not read by the opd loss; GRPO's feed the logged diagnostics.
      estimator: 'grpo',
      loss: 'opd',
      defaultsSource: 'name a teacher run with --set teacher=<run folder>; without one the reference is the starting policy',
    }),
    defineMethod({
      name: 'dpo',
      summary:
        'DPO on pairs: offline from a dataset (--data prefs.jsonl) or online from the best and worst rollout of each group',
      paper: {
        title: 'Direct Preference Optimization: Your Language Model is Secretly a Reward Model',
        arxiv: '2305.18290',
        year: 2023,
      },
      math: '$\\mathcal L = -\\log\\sigma(\\beta\\,\\Delta)$ with $\\Delta$ the difference of the chosen and rejected log-ratios to the reference.',
      // The estimator's advantages are not used by a preference objective; GRPO's feed the diagnostics.
      estimator: 'grpo',
      loss: 'dpo',
    }),
  ];
}
