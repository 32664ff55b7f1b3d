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
 * PAV (Setlur et al., arXiv 2410.08146) as a Method: the `pav` estimator restarts episodes at
 * step prefixes for a Best-of-K prover's Monte Carlo values and trains the `pav-verifier` reward
 * model on them; each step's advantage adds alpha times the verifier's predicted progress.
 */
function pavMethods(): Method[] {
  const paper = {
    title: 'Rewarding Progress: Scaling Automated Process Verifiers for LLM Reasoning',
    arxiv: '2410.08146',
    year: 2024,
  };
  return [
    defineMethod({
      name: 'pav',
      summary:
        "PAV: outcome advantage plus alpha x a process advantage verifier's progress per step, the verifier trained on Monte Carlo restarts at step prefixes",
      paper,
      estimator: 'pav',
      loss: 'ppo-clip',
      rewardModels: ['pav-verifier'],
    }),
    defineMethod({
      name: 'pav-beam',
      summary:
        "PAV's search side: groups drawn by beam search over steps scored by the process advantage verifier, which the pav estimator trains on Monte Carlo restarts",
      paper,
      estimator: 'pav',
      loss: 'ppo-clip',
      sampler: 'pav-beam',
      rewardModels: ['pav-verifier'],
    }),
  ];
}

/** The trainer's built-in plugins (losses, samplers, TRL's loss types, GSPO-token), registered by discovery like any other package. */
export const plugin: Plugin = {
  name: '@policy-lab/trainer',
  losses: [ppoClip(), reinforce(), ...catalogLosses()],
  samplers: builtinSamplers(),
  methods: [...trlLossTypes(), gspoTokenMethod(), ...samplerMethods(), ...pavMethods()],
};
