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

/** The trainer's built-in plugins (losses, samplers, TRL's loss types, GSPO-token), registered by discovery like any other package. */
export const plugin: Plugin = {
  name: '@policy-lab/trainer',
  losses: [ppoClip(), reinforce(), ...catalogLosses()],
  samplers: builtinSamplers(),
  methods: [...trlLossTypes(), gspoTokenMethod(), ...samplerMethods(), verirlMethod(), oprlMethod()],
};

/**
 * VeriRL (arXiv 2508.18462) on the code environment: trace-back partial credit from the per-test
 * pass vectors (the `tbr-partial-credit` shaper) and sample-balanced weighting of the advantages
 * (`sbw-weighting`, our formula), with the paper's REINFORCE++ batch whitening as the base advantage.
 */
function verirlMethod(): Method {
  return defineMethod({
    name: 'verirl',
    summary:
      "VeriRL (adapted from Verilog to the code environment): trace-back partial credit from per-test pass vectors, sample-balanced advantage weights over REINFORCE++'s batch-whitened rewards",
    paper: {
      title: 'VeriRL: Boosting the LLM-based Verilog Code Generation via Reinforcement Learning',
      arxiv: '2508.18462',
      year: 2025,
    },
    unverified: [
      "Adaptation: adapted. Verilog testbenches become the code environment's hidden unit tests; the trained rescoring reward model, the cold-start SFT on reasoning traces and the rejection-sampling rounds are not built.",
      "The SbW weight formula is ours (the paper's was not reachable); see the sbw-weighting estimator.",
    ],
    estimator: 'sbw-weighting',
    loss: 'ppo-clip',
    shapers: ['tbr-partial-credit'],
  });
}

/**
 * OPRL / iStar (arXiv 2509.19199): an implicit PRM, a copy of the policy trained by trajectory DPO
 * on each group's (better, worse) rollouts, alternating with the policy; its step rewards join the
 * episode advantage (the `oprl` estimator).
 */
function oprlMethod(): Method {
  return defineMethod({
    name: 'oprl',
    summary:
      'OPRL/iStar: an implicit PRM (a copy of the policy trained online by trajectory DPO) gives step rewards beta log(pi_prm / pi_old); A = A_E + alpha A_S',
    paper: {
      title: 'Online Process Reward Learning (v2; v1: Agentic RL with Implicit Step Rewards, iStar)',
      arxiv: '2509.19199',
      year: 2025,
    },
    unverified: [
      'Adaptation: direct in mechanism (a second model, trajectory DPO against the sampling policy, one PRM update before each policy update, A = A_E + alpha A_S); our models are small transformers trained in the run, where the paper uses pretrained LLMs.',
    ],
    estimator: 'oprl',
    loss: 'ppo-clip',
    rewardModels: ['implicit-prm'],
  });
}
