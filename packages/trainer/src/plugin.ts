import { type Aggregation, defineMethod, type Method, type Plugin } from '@policy-lab/core';
import { catalogLosses } from './losses/catalog.js';
import { ppoClip, reinforce } from './losses/ppo-clip.js';
import { builtinSamplers } from './samplers/samplers.js';

/**
 * TRL's GRPOTrainer `loss_type` values as Methods: one token loss (`trl-clip`), four
 * averagings (trl/trainer/grpo_trainer.py), GRPO's group-normalised advantages. A researcher who knows the
 * TRL name finds it here; `--set aggregation=...` on any method does the same.
 */
function trlLossTypes(): Method[] {
  const TRL = "TRL GRPOTrainer defaults: epsilon 0.2, one iteration; the averaging is TRL's loss_type";
  const make = (name: string, lossType: string, aggregation: Aggregation, what: string): Method =>
    defineMethod({
      name,
      summary: `TRL GRPOTrainer with loss_type='${lossType}': GRPO advantages, TRL's clipped token loss, ${what}`,
      paper: {
        title: 'DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open Language Models',
        arxiv: '2402.03300',
        year: 2024,
      },
      estimator: 'grpo',
      loss: 'trl-clip',
      defaults: { aggregation },
      defaultsSource: TRL,
    });
  return [
    make('trl-grpo', 'grpo', 'seq-mean-token-mean', 'each sequence averaged over its tokens, then over sequences'),
    make('trl-bnpo', 'bnpo', 'token-mean', "averaged over the batch's active tokens"),
    make(
      'trl-dr-grpo',
      'dr_grpo',
      'seq-mean-token-sum-norm',
      'token sums divided by batch size (empty completions included) x the completion limit (add --set estimator=dr-grpo for scale_rewards=False)',
    ),
    make('trl-dapo', 'dapo', 'token-mean', "averaged over the accumulated batch's active tokens (TRL's default)"),
  ];
}

/** Methods whose novelty is the decoder: GRPO's recipe over another sampler. */
function samplerMethods(): Method[] {
  return [
    defineMethod({
      name: 'grpo-beam',
      summary:
        "GRPO over beam search: each group is its task's G most likely distinct answers (behaviour log-probs: the policy's)",
      estimator: 'grpo',
      loss: 'ppo-clip',
      sampler: 'beam',
    }),
    defineMethod({
      name: 'grpo-value-guided',
      summary:
        'GRPO over value-guided decoding: a prefix value model trained beside the policy re-weights the most likely next tokens',
      estimator: 'grpo',
      loss: 'ppo-clip',
      sampler: 'value-guided',
      rewardModels: ['prefix-value'],
    }),
    defineMethod({
      name: 'grpo-tree',
      summary: 'GRPO over tree search: after the first rollout, each restarts from a random node of the best so far',
      estimator: 'grpo',
      loss: 'ppo-clip',
      sampler: 'tree',
    }),
  ];
}

/**
 * GSPO-token as a Method, beside `gspo` (GSPO-sequence, `ppo-clip ratio=sequence`): verl's `gspo`
 * loss, whose per-token gradient carries each token's own advantage.
 */
function gspoTokenMethod(): Method {
  return defineMethod({
    name: 'gspo-token',
    summary:
      "GSPO-token (verl loss_mode=gspo): GRPO advantages, the sequence ratio on every token with each token's own advantage in its gradient; the GSPO paper's main results use GSPO-sequence (the gspo Method)",
    paper: { title: 'Group Sequence Policy Optimization', arxiv: '2507.18071', year: 2025 },
    estimator: 'grpo',
    loss: 'gspo-token',
    defaults: { aggregation: 'seq-mean-token-mean' },
    defaultsSource: 'GSPO paper: clip 3e-4/4e-4 (the loss defaults); verl forces seq-mean-token-mean for gspo',
  });
}

/**
 * Methods whose reward is learned from expert demonstrations (the shapers of @policy-lab/rewards
 * that read them), on a step-level estimator where the learned signal is per turn.
 */
function learnedRewardMethods(): Method[] {
  return [
    defineMethod({
      name: 'dopamine-pbrs',
      summary:
        "Robo-Dopamine: GiGPO with potential-based shaping by a progress model learned from expert demonstrations (the estimator's gamma)",
      paper: {
        title: 'Robo-Dopamine: General Process Reward Modeling for High-Precision Robotic Manipulation',
        arxiv: '2512.23703',
        year: 2025,
      },
      unverified: [
        'adaptation: adapted (see the dopamine-pbrs shaper). The paper trains its policy with its own RL recipe; GiGPO (step-level advantages over anchor states) is our choice of a turn-level estimator, since an outcome-level one sees only the telescoped sum -Phi(s_0), the same for a whole group.',
      ],
      estimator: 'gigpo',
      loss: 'ppo-clip',
      shapers: ['dopamine-pbrs'],
    }),
    defineMethod({
      name: 'multifidelity-reward',
      summary:
        "Multi-fidelity RL: GRPO on the cheap reward corrected by a learned ensemble, the exact reward spent where the ensemble's spread is largest",
      paper: {
        title: 'Multi-Fidelity Reinforcement Learning for Time-Optimal Quadrotor Re-planning',
        arxiv: '2403.08152',
        year: 2024,
      },
      unverified: [
        'adaptation: analogue (see the multifidelity-reward shaper): a text policy with a cheap and an exact reward component.',
      ],
      estimator: 'grpo',
      loss: 'ppo-clip',
      shapers: ['multifidelity-reward'],
    }),
    defineMethod({
      name: 'irl-reward-world-model',
      summary:
        'IRL-VLA: GRPO against a reward learned by adversarial inverse RL from expert demonstrations; the true reward is kept for evaluation only',
      paper: {
        title: 'IRL-VLA: Training an Vision-Language-Action Policy via Reward World Model',
        arxiv: '2508.06571',
        year: 2025,
      },
      unverified: [
        'adaptation: adapted (see the irl-reward-world-model shaper). The paper trains with PPO against its reward world model after imitation pre-training; here GRPO from the SFT start (the imitation stage).',
      ],
      estimator: 'grpo',
      loss: 'ppo-clip',
      shapers: ['irl-reward-world-model'],
    }),
  ];
}

/** The trainer's built-in plugins (losses, samplers, TRL's loss types, GSPO-token), registered by discovery like any other package. */
export const plugin: Plugin = {
  name: '@policy-lab/trainer',
  losses: [ppoClip(), reinforce(), ...catalogLosses()],
  samplers: builtinSamplers(),
  methods: [...trlLossTypes(), gspoTokenMethod(), ...samplerMethods(), ...learnedRewardMethods()],
};
