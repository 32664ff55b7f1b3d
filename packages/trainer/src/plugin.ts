import { type Aggregation, defineMethod, type Method, type Plugin } from '@policy-lab/core';
import { catalogLosses } from './losses/catalog.js';
import { ppoClip, reinforce } from './losses/ppo-clip.js';
import { builtinSamplers } from './samplers/samplers.js';
import { teacherForced, VA_PI_PAPER } from './samplers/teacher-forced.js';

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
 * VA-pi (arXiv 2512.19680) on text: GRPO advantages over actions drawn under teacher forcing
 * against the expert's reference, the clipped surrogate plus the reference's cross-entropy.
 */
function vaPiMethod(): Method {
  return defineMethod({
    name: 'va-pi-tf-grpo',
    summary:
      "VA-pi adapted to text: G actions drawn token by token under teacher forcing on the expert's reference, rewarded by the environment, GRPO advantages, clipped surrogate + 0.1 x the reference's cross-entropy",
    paper: VA_PI_PAPER,
    estimator: 'grpo',
    loss: 'va-pi-tf-grpo',
    sampler: 'teacher-forced',
    unverified: [
      "adaptation: adapted. VA-pi trains an image generator whose tokens a VQ decoder maps to pixels, rewarded by -(MSE + LPIPS) against the original image; here the detokeniser is the character tokenizer, the original is the environment's expert action, and the reward is the environment's own check of the decoded action (countdown: the equation reaches the target with the given numbers; arithmetic: the answer is right).",
      'Single-turn environments with an expert only (countdown, arithmetic, code with one attempt, next-segment, policy-judge); multi-turn ones are refused (exit 2).',
      "The released script's learning rate (1e-6, for a 1.4B model) and gradient accumulation are not carried over: the shared learning rate and batch are used, as for every method in a comparison.",
    ],
    defaults: { aggregation: 'seq-mean-token-mean', temperature: 1 },
    defaultsSource:
      'VA-pi script (train_c2i_grpo_8gpu.sh): temperature 1.0, per-token loss averaged per sequence then over sequences; its lr 1e-6 is for a 1.4B model, the shared rate is kept',
  });
}

/**
 * OPPO (Kang et al., ICML 2023) on text: the trajectory encoder's contexts condition the policy
 * per completion; the soft prompt is the optimal context z* the policy rolls out and is evaluated with.
 */
function oppoMethod(): Method {
  return defineMethod({
    name: 'oppo-context',
    summary:
      "OPPO adapted to text agents: preference pairs (--data, or the expert's answer against sampled ones) train a trajectory encoder, the policy conditioned on its contexts, and an optimal context z* (a 4-vector soft prompt) the policy is deployed with",
    paper: { title: 'Beyond Reward: Offline Preference-guided Policy Optimization', year: 2023 },
    // The estimator's advantages are not read by a pair objective; GRPO's feed the logged diagnostics.
    estimator: 'grpo',
    loss: 'oppo-context',
    unverified: [
      'adaptation: adapted. OPPO is offline preference-based control (D4RL, a Decision Transformer conditioned on z); here a trajectory is one completion and z is P = 4 soft-prompt vectors ahead of the prompt.',
      'The context size P = 4 and the encoder (bag of tokens, hidden 32) are ours; the paper does not fix them for text.',
    ],
    defaults: { softPrompt: 4 },
    defaultsSource: 'z* is the soft prompt: 4 vectors of the model width (ours)',
  });
}

/** The trainer's built-in plugins (losses, samplers, TRL's loss types, GSPO-token), registered by discovery like any other package. */
export const plugin: Plugin = {
  name: '@policy-lab/trainer',
  losses: [ppoClip(), reinforce(), ...catalogLosses()],
  samplers: [...builtinSamplers(), teacherForced()],
  methods: [...trlLossTypes(), gspoTokenMethod(), ...samplerMethods(), vaPiMethod(), oppoMethod()],
};
