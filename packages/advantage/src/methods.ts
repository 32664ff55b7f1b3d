import { defineMethod, type Method } from '@policy-lab/core';

/**
 * Recipes whose novelty is an estimator. Each uses the trainer's built-in `ppo-clip` loss
 * and the shared hyperparameters unless its paper says otherwise (listed in `defaults`).
 */
export function builtinMethods(): Method[] {
  return [
    defineMethod({
      name: 'grpo',
      summary: 'GRPO: group-relative advantages with the PPO clipped surrogate',
      paper: { title: 'DeepSeekMath', arxiv: '2402.03300', year: 2024 },
      estimator: 'grpo',
      loss: 'ppo-clip',
    }),
    defineMethod({
      name: 'dr-grpo',
      summary: 'Dr. GRPO: mean-centred advantages and a constant loss normaliser (no length or difficulty bias)',
      paper: { title: 'Understanding R1-Zero-Like Training: A Critical Perspective', arxiv: '2503.20783', year: 2025 },
      estimator: 'dr-grpo',
      loss: 'ppo-clip',
      defaults: { aggregation: 'seq-mean-token-sum-norm' },
      defaultsSource: 'Dr. GRPO divides the token sum by a constant (paper section 3)',
    }),
    defineMethod({
      name: 'rloo',
      summary:
        "RLOO: leave-one-out baseline with the PPO clipped surrogate, dual clip off (verl's actor adds dual clip c = 3 by default: `--set lossOptions.dualClip=3`)",
      paper: {
        title: 'Back to Basics: Revisiting REINFORCE Style Optimization for Learning from Human Feedback in LLMs',
        arxiv: '2402.14740',
        year: 2024,
      },
      estimator: 'rloo',
      loss: 'ppo-clip',
    }),
    defineMethod({
      name: 'mc-grpo',
      summary: 'MC-GRPO: G+1 rollouts, median baseline, the median rollout excluded (G trained)',
      paper: {
        title: 'MC-GRPO: Median-Centered Group Relative Policy Optimization for Small-Rollout Reinforcement Learning',
        arxiv: '2601.22582',
        year: 2026,
      },
      estimator: 'mc-grpo',
      loss: 'ppo-clip',
    }),
    defineMethod({
      name: 'grpo-plus-one',
      summary: 'Control for MC-GRPO: GRPO on the same G+1 rollouts, dropping the smallest |reward| (G trained)',
      paper: {
        title: 'MC-GRPO: Median-Centered Group Relative Policy Optimization for Small-Rollout Reinforcement Learning',
        arxiv: '2601.22582',
        year: 2026,
      },
      estimator: 'grpo-plus-one',
      loss: 'ppo-clip',
    }),
    defineMethod({
      name: 'gdpo',
      summary: 'GDPO: per-reward group normalisation, weighted sum, batch normalisation',
      paper: {
        title: 'GDPO: Group reward-Decoupled Normalization Policy Optimization for Multi-reward RL Optimization',
        arxiv: '2601.05242',
        year: 2026,
      },
      estimator: 'gdpo',
      loss: 'ppo-clip',
    }),
    defineMethod({
      name: 'dapo',
      summary: 'DAPO: clip-higher (0.28), dynamic sampling, token-mean loss',
      paper: { title: 'DAPO: An Open-Source LLM Reinforcement Learning System at Scale', arxiv: '2503.14476', year: 2025 },
      estimator: 'dapo',
      loss: { name: 'ppo-clip', options: { clipHigh: 0.28 } },
      defaults: { aggregation: 'token-mean', resampleRounds: 3 },
      defaultsSource:
        'DAPO paper: decoupled clip 0.2/0.28, a token-level loss, and discarded groups replaced within the step (at most 3 rounds here; verl caps them with max_num_gen_batches)',
    }),
    defineMethod({
      name: 'gspo',
      summary: 'GSPO: GRPO advantages with the sequence-level (geometric mean) importance ratio',
      paper: { title: 'Group Sequence Policy Optimization', arxiv: '2507.18071', year: 2025 },
      estimator: 'grpo',
      loss: { name: 'ppo-clip', options: { ratio: 'sequence', clipLow: 3e-4, clipHigh: 4e-4 } },
      defaults: { aggregation: 'seq-mean-token-mean' },
      defaultsSource: 'GSPO paper: clip 3e-4/4e-4 on the sequence ratio; verl forces seq-mean-token-mean',
    }),
    defineMethod({
      name: 'reinforce-pp',
      summary: 'REINFORCE++: batch-whitened rewards with the k1 KL in the reward, PPO clip',
      paper: { title: 'REINFORCE++', arxiv: '2501.03262', year: 2025 },
      estimator: 'reinforce-pp',
      loss: 'ppo-clip',
      divergence: 'kl-k1',
      defaults: { divergenceCoef: 0.001, divergencePlacement: 'reward' },
      defaultsSource: 'REINFORCE++ / verl: k1 KL in the reward with coefficient 0.001',
    }),
    defineMethod({
      name: 'reinforce-pp-baseline',
      summary: 'REINFORCE++-baseline: group-mean baseline, batch whitening, k3 KL in the loss',
      paper: { title: 'REINFORCE++', arxiv: '2501.03262', year: 2025 },
      estimator: 'reinforce-pp-baseline',
      loss: 'ppo-clip',
      divergence: 'kl',
      defaults: { divergenceCoef: 0.001 },
      defaultsSource: 'verl: k3 KL in the loss with coefficient 0.001',
    }),
    defineMethod({
      name: 'ppo',
      summary: 'PPO: GAE advantages over turns from a critic (a value head on the policy), PPO clip',
      paper: { title: 'Proximal Policy Optimization Algorithms', arxiv: '1707.06347', year: 2017 },
      estimator: 'ppo-gae',
      loss: 'ppo-clip',
      defaults: { valueCoef: 0.1 },
      defaultsSource: "TRL PPO's vf_coef 0.1 for the value head's regression loss (the head shares the policy's trunk)",
    }),
    defineMethod({
      name: 'gigpo',
      summary: 'GiGPO: episode group advantage plus anchor-state step advantages, PPO clip',
      paper: { title: 'Group-in-Group Policy Optimization for LLM Agent Training', arxiv: '2505.10978', year: 2025 },
      estimator: 'gigpo',
      loss: 'ppo-clip',
    }),
    defineMethod({
      name: 'srgpo',
      summary: 'SRGPO: episode group advantage plus random-step-group advantages of the verifiable step reward, PPO clip',
      paper: {
        title: 'SeeNav-Agent: Enhancing Vision-Language Navigation with Visual Prompt and Step-Level Policy Optimization',
        arxiv: '2512.02631',
        year: 2025,
      },
      estimator: 'srgpo',
      loss: 'ppo-clip',
    }),
    defineMethod({
      name: 'vspo',
      summary: 'VSPO: GRPO that replaces low-value groups (uninformative or low task value) with new tasks within the step',
      paper: {
        title: 'Enhancing Agentic RL with Progressive Reward Shaping and Value-based Sampling Policy Optimization',
        arxiv: '2512.07478',
        year: 2025,
      },
      estimator: 'vspo',
      loss: 'ppo-clip',
      defaults: { resampleRounds: 3 },
      defaultsSource: 'replacement needs dynamic sampling: up to 3 rounds of new tasks per step, every discarded group charged',
    }),
    defineMethod({
      name: 'gardo',
      summary:
        'GARDO (adapted from diffusion models to text): diversity-amplified advantages, a KL penalty only on rollouts whose reward is uncertain, and a periodic reset of the reference to the current policy',
      paper: { title: 'GARDO: Reinforcing Diffusion Models without Reward Hacking', arxiv: '2512.24138', year: 2025 },
      unverified: [
        "Adaptation: adapted. The mechanism (gate by rank disagreement between the proxy and auxiliary rewards, adaptive gated share, reference reset, diversity multiplier) is the released code's; the image embeddings, the auxiliary reward models and the diffusion KL become character trigrams, the run's reward components and the token k3 KL.",
        "The reset period K = 15 follows GARDO's config (reset_freq, in epochs = our steps); its KL-threshold trigger (kl_thres 3e-4, a diffusion-KL scale) is off, set `--set hookOptions.reference-reset.klThreshold=<x>` to use one.",
      ],
      estimator: 'gardo',
      loss: 'ppo-clip',
      divergence: { name: 'kl', options: { estimator: 'k3' } },
      hooks: [{ name: 'reference-reset', options: { every: 15 } }],
      defaults: { divergenceCoef: 0.04 },
      defaultsSource: "GARDO's config: KL coefficient beta = 0.04, applied to the gated rollouts only",
    }),
    defineMethod({
      name: 'pipo',
      summary:
        "PIPO: GRPO's update on the fresh batch plus a verification update on the previous one, scaled by the measured improvement",
      paper: { title: 'Policy Improvement Reinforcement Learning', arxiv: '2604.00860', year: 2026 },
      estimator: 'pipo',
      loss: 'ppo-clip',
    }),
  ];
}
