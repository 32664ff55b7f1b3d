import { type Aggregation, defineMethod, type Method, type ModelConfig, type Plugin } from '@policy-lab/core';
import { mstarEstimator, mstarMethod, mstarTempBalancer } from './loop/m-star.js';
import { upoRounds } from './loop/upo-rounds.js';
import { catalogLosses } from './losses/catalog.js';
import { ppoClip, reinforce } from './losses/ppo-clip.js';
import { roverLoss } from './losses/rover.js';
import { beamLikelihood } from './samplers/beam-likelihood.js';
import { REST_MCTS_PAPER, restMcts, restMctsEstimator } from './samplers/rest-mcts.js';
import { builtinSamplers } from './samplers/samplers.js';
import { serialExits } from './samplers/serial-exits.js';
import { teacherForced, VA_PI_PAPER } from './samplers/teacher-forced.js';
import { frozenPolicy, vas } from './samplers/vas.js';

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
 * S-GRPO (arXiv 2505.07686): the serial group of early exits of one path, rewarded by the
 * s-grpo estimator's decay (the earliest correct exit earns the most).
 */
function sGrpoMethod(): Method {
  return defineMethod({
    name: 's-grpo',
    summary:
      'S-GRPO: one reasoning path per task cut into early exits (answer-inducing text, then an answer), rewards decaying with the exit position among correct exits',
    paper: { title: 'S-GRPO: Early Exit via Reinforcement Learning in Reasoning Models', arxiv: '2505.07686', year: 2025 },
    unverified: [
      "Adaptation: adapted. The serial group (one path, exits cut at random thought positions, an answer-inducing text, a sampled answer) and the decaying reward are the paper's; its </think> exit text becomes the arithmetic environment's answer delimiter ' #### ', so the method runs on single-turn environments whose answer follows a marker (arithmetic) and refuses others.",
      "The serial group size m is the run's group size minus one (the paper's m is not confirmed); a path with fewer thought positions than m gives a smaller group.",
      "Each exit's action repeats the path's prefix, so the prefix's tokens are charged again per exit (as a tree search's branches are): the budget counts more generated tokens than were decoded.",
    ],
    estimator: 's-grpo',
    loss: 'ppo-clip',
    sampler: 'serial-exits',
  });
}

/**
 * ROVER (arXiv 2509.24981): Q-values of the uniform random policy as token targets, the policy's
 * log-ratio regressed onto them, so that it samples by a softmax over Q.
 */
function roverMethod(): Method {
  return defineMethod({
    name: 'rover',
    summary:
      "ROVER: the uniform random policy's Q-values regressed from the group's rollouts, and the policy as a softmax over them (its log-ratio regressed onto the Q targets)",
    paper: {
      title: 'Random Policy Valuation is Enough for LLM Reasoning with Verifiable Rewards',
      arxiv: '2509.24981',
      year: 2025,
    },
    unverified: [
      "Adaptation: adapted. The Q target (the centred reward plus the vocabulary mean of the uniform policy's Q at the next state) and the squared-error regression of rho log(pi/pi_old) onto it are the paper's; the vocabulary mean at the next state comes from a table regressed on the group's rollouts instead of the network's full next-token distribution during the update.",
      "ROVER's defaults (8 rollouts, temperature 0.6, learning rate 1e-6 for an 8B model) are not taken: the shared hyperparameters apply, so that the comparison is at equal settings.",
    ],
    estimator: 'rover',
    loss: 'rover',
  });
}

/**
 * VAS (Han et al., arXiv 2405.06639): the base policy frozen, a prefix value model trained on its
 * plain samples, and evaluation decoded by the `vas` sampler over that value model.
 */
function vasMethod(): Method {
  return defineMethod({
    name: 'vas',
    summary:
      'Value Augmented Sampling: the policy stays frozen; a value model learns from its samples and re-weights its top-k next tokens at decode time (evaluation decoded by VAS)',
    paper: {
      title: 'Value Augmented Sampling for Language Model Alignment and Personalization',
      arxiv: '2405.06639',
      year: 2024,
    },
    estimator: 'frozen-policy',
    loss: 'ppo-clip',
    sampler: 'vas',
    rewardModels: ['prefix-value'],
    unverified: [
      "adaptation: adapted. The paper's mechanism (frozen base policy, a value model fitted on its samples, top-k logits shifted by beta x the centred value; VAS code defaults top-k 20, beta 1) on the trainer's own models: the value model is the prefix-value reward model (a small transformer of its own, Monte Carlo targets on 4 random prefixes per action) where the VAS code fits a value head on a copy of the base model with TD(lambda) targets (gamma 1, lambda 0.95).",
      "The budget's episodes are the base samples the value model learns from (the paper's 2k base samples are a fixed data set fitted for 20k steps); evaluation's sampled success is VAS decoding at beta 1, and every value call (training rollouts' scoring, evaluation's top-k scoring) is charged as auxScoredTokens.",
      "Evaluation before training decodes with the untrained value model, so the run's starting point is not exactly the base policy; greedy success is the base policy's (no hook on greedy decoding).",
    ],
  });
}

const FROM_R_TO_Q = { title: 'From r to Q*: Your Language Model is Secretly a Q-Function', arxiv: '2404.12358', year: 2024 };

/**
 * From r to Q* (Rafailov et al., arXiv 2404.12358) as Methods: token-level DPO online with
 * evaluation decoded by likelihood beam search, and a second RL stage on a DPO run's dense
 * implicit rewards.
 */
function fromRToQMethods(): Method[] {
  return [
    defineMethod({
      name: 'token-dpo-beam',
      summary:
        "token-level DPO on each group's best and worst rollouts, evaluation decoded by likelihood beam search (on a DPO policy, a search over the implicit reward)",
      paper: FROM_R_TO_Q,
      // The estimator's advantages are not used by a preference objective; GRPO's feed the diagnostics.
      estimator: 'grpo',
      loss: 'token-dpo',
      sampler: 'beam-likelihood',
      unverified: [
        "adaptation: adapted. The paper's DPO is offline on a preference data set; here the pairs are online (each group's best and worst rollout), as the dpo Method's; beam search decodes evaluation's sampled success (the mean over each test task's best evalSamples beams).",
      ],
    }),
    defineMethod({
      name: 'dpo-dense',
      summary:
        "a second RL stage on a DPO run's dense implicit rewards (--set teacher=<DPO run folder>): PPO-clip on outcome plus per-turn beta log(pi_dpo/pi_ref) returns",
      paper: FROM_R_TO_Q,
      estimator: 'dpo-implicit-dense',
      loss: 'ppo-clip',
      defaultsSource: 'name the DPO run with --set teacher=<run folder> (bench train dpo --out <folder> on the same environment)',
    }),
  ];
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
    defineMethod({
      name: 'rapl-ot',
      summary:
        'RAPL: GRPO against -OT_eps(phi(tau), phi(demo)), an observation encoder phi aligned from 50 simulated-user preference triplets; the true reward is kept for evaluation only',
      paper: {
        title: 'Maximizing Alignment with Minimal Feedback: Efficiently Learning Rewards for Visuomotor Robot Policy Alignment',
        arxiv: '2412.04835',
        year: 2024,
      },
      unverified: [
        "adaptation: adapted (see the rapl-ot shaper). The paper fine-tunes a Diffusion Policy against its visual reward; here GRPO from the SFT start, on the trajectory's total (the per-turn rewards sum to it; a step-level estimator could read them turn by turn).",
      ],
      estimator: 'grpo',
      loss: 'ppo-clip',
      shapers: ['rapl-ot'],
    }),
    defineMethod({
      name: 'mpo-evolving-rubric',
      summary:
        "MPO: GRPO against a rubric judge's score; every 10 steps a meta step scales down the criteria recent samples show gamed (the rubric's version in checkpoints)",
      paper: {
        title: 'Toward Evaluative Thinking: Meta Policy Optimization with Evolving Reward Models',
        arxiv: '2504.20157',
        year: 2025,
      },
      unverified: [
        'adaptation: adapted (see the mpo-evolving-rubric shaper): a rule rubric and a rule meta step in place of LLM judges; GRPO in place of PPO with a value model.',
      ],
      estimator: 'grpo',
      loss: 'ppo-clip',
      shapers: ['mpo-evolving-rubric'],
    }),
    defineMethod({
      name: 'lrm-triple',
      summary:
        'Large Reward Models: GiGPO on per-turn rewards from a judge pre-trained on demonstrations (contrastive, progress and completion terms); the true reward is kept for evaluation only',
      paper: {
        title: 'Large Reward Models: Generalizable Online Robot Reward Generation with Vision-Language Models',
        arxiv: '2603.16065',
        year: 2026,
      },
      unverified: [
        'adaptation: adapted (see the lrm-triple shaper): a small text judge trained on the environment’s demonstrations in place of a VLM trained on many sources; GiGPO (turn-level advantages) from the SFT start (the imitation policy) is our choice of RL recipe.',
      ],
      estimator: 'gigpo',
      loss: 'ppo-clip',
      shapers: ['lrm-triple'],
    }),
  ];
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
      "Diagnostics (ours), per step in metrics.jsonl and, in a comparison, in results.json (`stepDiagnostics`) and plotted in report.html: the ELBO's reconstruction term as the reward of the detokenised teacher-forced draws (`rewardMean`) with its sequence metric, the share of drawn tokens equal to the reference's (`referenceTokenMatch`; 1/V in expectation for a uniform policy), and its prior term, the reference tokens' cross-entropy under teacher forcing (`referenceCrossEntropy`).",
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
      "The start is ours: OPPO trains offline from scratch, here the SFT warm start trains the policy on the expert's demonstrations read under z*'s starting vectors (held fixed; its own SFT cache entry), so the first rollouts and evaluation read the input the policy was trained on (before this, every soft-prompt run started at 0% on countdown). The reference, where a divergence reads one, is that start under the same vectors.",
      "Diagnostics (ours), per step in metrics.jsonl and, in a comparison, in results.json (`stepDiagnostics`) and plotted in report.html: z*'s mean distance to the preferred and to the rejected completions' contexts (`contextToPreferred`, `contextToRejected`) and the share of the step's pairs, scored before the update reads them, whose preferred context is the nearer (`contextPreferenceAccuracy`).",
    ],
    defaults: { softPrompt: 4 },
    defaultsSource: 'z* is the soft prompt: 4 vectors of the model width (ours)',
  });
}

/**
 * ReST-MCTS* (arXiv 2406.03816) as a Method: MCTS* over the steps of an action guided by the
 * restmcts-value model, which trains on the values the finished trees infer; the policy
 * fine-tunes on the correct traces of high value, every step one self-training round.
 */
function restMctsMethod(): Method {
  return defineMethod({
    name: 'rest-mcts',
    summary:
      "ReST-MCTS*: MCTS* over reasoning steps guided by a process value model; traces kept by value fine-tune the policy, the tree's inferred values train the value model, every step",
    paper: REST_MCTS_PAPER,
    estimator: 'rest-mcts',
    loss: 'reinforce',
    sampler: 'rest-mcts',
    rewardModels: ['restmcts-value'],
    unverified: [
      "adaptation: direct in mechanism, adapted in scale (see the rest-mcts sampler): the paper's self-training iterations each search its whole training set, then fine-tune the policy (supervised, on the kept traces) and the value model (on the inferred targets); here every training step is one such round over the step's tasks, the policy's fine-tuning one reinforce update with advantage 1 on the kept traces (supervised learning on them), the value model's a few updates on a replay of the trees' targets.",
      "The paper's policy fine-tuning restarts from the base model each iteration in ReST-EM; whether ReST-MCTS* restarts or continues is not stated in what we read: ours continues.",
    ],
    defaultsSource:
      'released code (THUDM/ReST-MCTS): branch 3, exploration 0.4, inf 0.8, alpha 0.5, value_threshold 0.2; 12 iterations per task (ours, for cost)',
  });
}

/**
 * The o1 roadmap (Zeng et al., arXiv 2412.14135) as one Method: its four parts on the trainer's
 * pieces, the search and the value model being ReST-MCTS*'s.
 */
function o1RecipeMethod(): Method {
  return defineMethod({
    name: 'o1-recipe',
    summary:
      "the o1 roadmap's recipe: SFT start, outcome + process reward (a process value model trained on the search trees), MCTS* search, PPO on the search's traces",
    paper: {
      title: 'Scaling of Search and Learning: A Roadmap to Reproduce o1 from Reinforcement Learning Perspective',
      arxiv: '2412.14135',
      year: 2024,
    },
    estimator: 'o1-recipe',
    loss: 'ppo-clip',
    sampler: 'rest-mcts',
    rewardModels: ['restmcts-value'],
    unverified: [
      "adaptation: adapted. The roadmap describes four components, not one algorithm. Policy initialisation: the trainer's SFT warm start on the environment's expert demonstrations (every run has it; its cost is reported apart). Reward design: the environment's outcome reward plus a process reward, potential-based shaping by the restmcts-value model (V at the end of each step minus V at the end of the previous one). Search: the rest-mcts sampler (MCTS* over the steps of an action, guided by the same value model). Learning: PPO-clip on every trace the search finished and kept, each step's tokens with the outcome z-score plus the step's process reward; the value model learns from the values the finished trees infer (as in ReST-MCTS*).",
      'Which search (tree or beam), which process reward and which learning rule (behaviour cloning, PPO, DPO) the roadmap leaves open; these choices are ours. The search sizes and process weight (1) are not tuned.',
    ],
  });
}

/** The trainer's built-in plugins (losses, samplers, TRL's loss types, GSPO-token), registered by discovery like any other package. */
export const plugin: Plugin = {
  name: '@policy-lab/trainer',
  losses: [ppoClip(), reinforce(), ...catalogLosses(), roverLoss()],
  samplers: [...builtinSamplers(), serialExits(), vas(), beamLikelihood(), teacherForced(), restMcts()],
  estimators: [frozenPolicy(), restMctsEstimator(), mstarEstimator()],
  methods: [
    ...trlLossTypes(),
    gspoTokenMethod(),
    ...samplerMethods(),
    sGrpoMethod(),
    roverMethod(),
    vasMethod(),
    ...fromRToQMethods(),
    verirlMethod(),
    oprlMethod(),
    ...learnedRewardMethods(),
    ...pavMethods(),
    vaPiMethod(),
    oppoMethod(),
    restMctsMethod(),
    o1RecipeMethod(),
    upoMethod(),
    reasonfluxMethod(),
    pairwiseRlMethod(),
    cooperMethod(),
    polarMethod(),
    sparkMethod(),
    urpoMethod(),
    inspoMethod(),
    evaMethod(),
    mstarMethod(),
  ],
  hooks: [upoRounds(), mstarTempBalancer()],
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

/**
 * UPO (arXiv 2409.11212): iterative DPO on self-generated pairs, each step's candidates judged by
 * an MC-dropout pair estimator, reliable ones drawn by 1 - BALD and weighted in the DPO loss;
 * R self-evolution rounds move the reference to the current policy.
 */
function upoMethod(): Method {
  return defineMethod({
    name: 'upo-dpo',
    summary:
      'UPO: self-generated pairs (top reward vs one of the rest) judged by an MC-dropout pair estimator (T = 10 passes, BALD); a quarter drawn by 1 - BALD, trained with reliability-weighted DPO; 3 self-evolution rounds',
    paper: {
      title: 'Self-Evolutionary Large Language Models through Uncertainty-Enhanced Preference Optimization',
      arxiv: '2409.11212',
      year: 2024,
    },
    math: 'Per group $y_w = \\arg\\max_i r_i$, $y_l$ drawn from the rest of the pool (top two + bottom two past 4); $T = 10$ dropout passes $p_t = [\\sigma(z_t), 1 - \\sigma(z_t)]$ of the estimator on $(x, y_w, y_l)$; $\\mathrm{BALD} = H[\\bar p] - \\overline{H[p_t]}$; pairs whose majority vote prefers $y_l$ dropped; $\\lceil 0.25\\,n \\rceil$ of the $n$ left drawn without replacement $\\propto 1 - \\mathrm{BALD}$; $\\mathcal L = \\sum w\\,\\ell_{DPO} / \\sum w$ with $w = 1 - \\mathrm{BALD}/\\log 2$; after each of $R = 3$ equal shares of the budget $\\pi_{ref} \\leftarrow \\pi_\\theta$.',
    // The estimator's advantages are not read by a pair objective; GRPO's feed the logged diagnostics.
    estimator: 'grpo',
    loss: { name: 'upo', options: { selection: 'uncertainty' } },
    hooks: ['upo-rounds'],
    unverified: [
      "adaptation: adapted. The paper's estimator is a LoRA sequence classifier of the policy's size trained once on the labelled seed preferences; here it is a small MLP over hashed character n-grams with dropout, trained online after each step's judgement on the step's pairs ordered by the environment's own reward (the trusted labels).",
      "The reward model that ranks the candidates is the run's reward (the environment's, plus any learned reward model component a run weights in); with the environment's exact reward alone every candidate is correctly ordered and the estimator only reweights and thins the pairs.",
      "Measured on a miniature of the paper's noisy-reward setting (packages/trainer/src/loop/upo.test.ts, 30% of the reward model's preferences flipped): drawing by 1 - BALD alone did not raise the share of correctly ordered pairs (0.66 against 0.70 for random selection of as many); with the estimator's majority-vote filter it was 1.00 against 0.71. The estimator's BALD is small (about 0.005 nats on countdown): with one dropout layer of 32 units its passes barely disagree, so the 1 - BALD draw is close to uniform.",
      'Pair construction and the noise filter follow the released code (main.py); its script subsamples 25% of the candidates at random before the estimator and keeps half of the agreed ones by 1 - BALD, where here one rate (0.25) of the agreed candidates is drawn by 1 - BALD. The hard (BALD-proportional) set and the 40% of the original labelled data the merge script mixes in are not built.',
    ],
  });
}

/**
 * Pairwise-RL (arXiv 2504.04950): a generative pairwise judge trained beside the policy in both
 * orders, and each rollout rewarded by its swap-debiased win probability against a greedy anchor.
 */
function pairwiseRlMethod(): Method {
  return defineMethod({
    name: 'pairwise-rl',
    summary:
      "Pairwise-RL: PPO-clip on each rollout's win probability against a greedy anchor answer, judged in both orders by a generative pairwise reward model trained beside the policy",
    paper: {
      title: 'A Unified Pairwise Framework for RLHF: Bridging Generative Reward Modeling and Policy Optimization',
      arxiv: '2504.04950',
      year: 2025,
    },
    unverified: [
      'Adaptation: adapted; the pairwise-anchor estimator and the pairwise-gen-rm reward model say how.',
      "The paper's pairwise PPO has a critic in the pairwise frame; here the anchor is the baseline (no critic).",
    ],
    estimator: 'pairwise-anchor',
    loss: 'ppo-clip',
    rewardModels: ['pairwise-gen-rm'],
  });
}

/**
 * ReasonFlux-PRM (arXiv 2506.18896) as an RL recipe: the `reasonflux-prm` estimator blends a
 * trajectory-aware PRM (per thinking step: alignment, quality, coherence; per trajectory: the
 * success rate of template-guided episodes) with the rule reward, beta = 0.75, and the
 * `reasonflux-prm` reward model is its quality judge, trained on the run's own steps.
 */
function reasonfluxMethod(): Method {
  return defineMethod({
    name: 'reasonflux-prm',
    summary:
      'ReasonFlux-PRM: GRPO on 0.75 x a trajectory-aware PRM (fused alignment, quality and coherence of each thinking turn; template-guided success) + 0.25 x the rule reward',
    paper: {
      title: 'ReasonFlux-PRM: Trajectory-Aware PRMs for Long Chain-of-Thought Reasoning in LLMs',
      arxiv: '2506.18896',
      year: 2025,
    },
    unverified: [
      'Adaptation: adapted; the estimator’s items below say how.',
      "The released recipe's DAPO settings (n = 6, learning rate 1e-6 for a 7B policy) are not carried over: the shared group size and learning rate are kept, as for every method in a comparison.",
    ],
    estimator: 'reasonflux-prm',
    loss: 'ppo-clip',
    rewardModels: ['reasonflux-prm'],
  });
}

/**
 * Cooper (arXiv 2508.05613): GRPO on sigma(s) of a reference-based reward model (the `cooper`
 * estimator), the reward model `cooper-coevolving-rm` updated after each step on the first
 * rule-verified positive per prompt against a rule-checked corruption of it.
 */
function cooperMethod(): Method {
  return defineMethod({
    name: 'cooper',
    summary:
      'Cooper: GRPO against a co-evolving reference-based reward model (reward sigma(s)), updated each step on rule-verified positives against rule-checked corruptions of them',
    paper: {
      title: 'Cooper: Co-Optimizing Policy and Reward Models in Reinforcement Learning for Large Language Models',
      arxiv: '2508.05613',
      year: 2025,
    },
    unverified: [
      'Adaptation: adapted; the reward model’s and the estimator’s items say how.',
      "The released recipe's policy settings (n = 16, learning rate 1e-6 with 20 warmup steps, KL loss 0.001 low_var_kl) are not carried over: the shared group size and learning rate are kept and, like the grpo Method, no KL term, as for every method in a comparison.",
      'Measured on countdown (docs/extensions.md, "Co-evolving reward models: Cooper"): the reward model ranks held-out (correct, corrupted) pairs better than its untrained self as the run goes on (42.4% untrained, 61.6% after 640 episodes, 67.2% after 1,280; sign test p = 1.5e-7), but not the policy\'s own (succeeded, failed) samples, and the policy, rewarded by it alone, loses sampled success: a reward model trained from scratch is hacked where the paper starts from a pretrained one.',
      "The paper's hacking experiment (a static reward model against the moving one, hack rate) is not built.",
    ],
    estimator: 'cooper',
    loss: 'ppo-clip',
    rewardModels: ['cooper-coevolving-rm'],
  });
}

/**
 * POLAR (arXiv 2507.05197): GRPO on the score of a policy discriminator pre-trained before RL on a
 * policy zoo (two samples of one policy against one of another, reference-conditioned), fine-tuned
 * on verifier-ordered triplets, and frozen; the reference is the expert's answer.
 */
function polarMethod(): Method {
  return defineMethod({
    name: 'polar-rl',
    summary:
      "POLAR: GRPO on a frozen policy discriminator's score of each answer against the expert's reference answer, the discriminator pre-trained before RL on a zoo of this and earlier runs' policies (side budget)",
    paper: { title: 'Pre-Trained Policy Discriminators are General Reward Models', arxiv: '2507.05197', year: 2025 },
    unverified: [
      'Adaptation: direct in mechanism; the polar reward model and estimator say what differs (a small discriminator pre-trained in each run on our own policy zoo; GRPO in place of PPO with a critic).',
      'The released PPO settings (actor learning rate 1e-6, critic 1e-5, one rollout per prompt, batch 1024, no KL) are not carried over: the shared group size and learning rate are kept, as for every method in a comparison.',
      "The pre-training phase (zoo sampling and the discriminator's updates) is not charged to the RL budget; it is reported per run as rewardModelPretraining, like the SFT start.",
      'Measured on countdown (docs/extensions.md, "Policy discriminators: POLAR"; quick comparison, 5 seeds): the pre-trained discriminator ranks 64-69% of held-out policy-discriminative pairs right (untrained 44-60%), but the policy it rewards falls below its SFT start (7.6% against 19.8% sampled success; grpo 23.4%): a small discriminator pre-trained on a small zoo is hacked once RL leaves the zoo.',
    ],
    estimator: 'polar',
    loss: 'ppo-clip',
    rewardModels: ['polar'],
  });
}

/**
 * SPARK (arXiv 2509.22624): GRPO whose verified rollouts become pointwise, pairwise and reflection
 * tasks for the same policy (the `spark-self-judge` task source), mixed into the next draw and
 * charged as episodes; the policy judges itself at evaluation (held-out pair accuracy, self-rerank).
 */
function sparkMethod(): Method {
  return defineMethod({
    name: 'spark',
    summary:
      'SPARK: GRPO on the task and on auxiliary tasks built from its own verified rollouts (pointwise and pairwise judging, reflection on a failed attempt); the policy is its own judge and reranks its answers at test time',
    paper: { title: 'SPARK: Synergistic Policy And Reward Co-Evolving Framework', arxiv: '2509.22624', year: 2025 },
    estimator: 'grpo',
    loss: 'ppo-clip',
    taskSource: 'spark-self-judge',
    unverified: [
      "adaptation: adapted (see the spark-self-judge task source). The routing and the caps are the released code's; the SFT warm start also trains on judge items built from the expert and from corrupted answers, because SPARK starts from an instruction-tuned model and our small character model's plain SFT start never writes a verdict.",
      "SPARK's training settings (n = 8, temperature 1.0, learning rate 5e-7, k3 KL at 0.001, rollout batch 64, for 7B models) are not taken: the shared hyperparameters apply, so that the comparison is at equal settings; auxiliary tasks take a share of each step's tasks, so at an equal episode budget SPARK sees fewer of the environment's tasks (the paper's equal-budget setting).",
      'Single-turn environments with a verifier and an expert only; others are refused before a run (exit 2).',
      "Measured on countdown (2026-12-05): from the verdict warm start judge tasks earn reward (about 5 of 6.5 pointwise verdicts right per step; the plain SFT start gets none), but the policy's held-out judge accuracy did not rise over runs of 640 to 8,000 episodes (184 distinct held-out pairs: 54.3% at the start, 48.4-53.8% after; one-sided McNemar p 0.68-0.97), and self-rerank best-of-k chose no better than a random sample (quick comparison: 18.1% against 21.7% sampled success, means over 5 seeds). On countdown with numbers up to 30 (--set envOptions.maxNumber=30) and 32 tasks a step, seed 1 rose from 42.0% at the start to 44.7% after 1,280 and 48.4% after 3,200 episodes (219 distinct held-out pairs, McNemar p = 1.3e-3 against the start's judge; .ci/stages/spark-acting.sh) but seed 2 fell from 52.9% to 50.8% (p 0.88): both move toward a coin's 50%, so the acting claim holds on one seed only. Neither a ten times longer run (seed 2 after 32,000 episodes: 55.0%, p 0.28), GRPO's KL term (0.04), an entropy bonus (0.05), a prompt that shows each answer's value nor judging pairs with the pairwise prompt made it hold on both seeds (docs/extensions.md).",
      'The SFT start with judge rows takes 2 x sftSteps (measured 166-254 s per seed against 74-99 s for the plain start in the quick comparison, on a shared machine); it is not charged to the RL budget and is reported as sftStart.',
    ],
  });
}

/**
 * URPO (arXiv 2507.17515): one model as player and referee in one GRPO loop. The `urpo-mix` task
 * source mixes verifiable tasks, ranking tasks (preference data from the environment's ground
 * truth) and open-ended tasks; the `urpo-self-referee` estimator rewards open-ended groups by the
 * policy's own ranking of them. The warm start also learns the ranking format.
 */
function urpoMethod(): Method {
  return defineMethod({
    name: 'urpo',
    summary:
      "URPO: one policy as player and referee; GRPO over mixed batches of verifiable tasks, N-way ranking tasks rewarded by agreement with the true order, and open-ended tasks rewarded by the policy's own ranking of its group",
    paper: {
      title: 'URPO: A Unified Reward & Policy Optimization Framework for Large Language Models',
      arxiv: '2507.17515',
      year: 2025,
    },
    unverified: [
      "Adaptation: adapted. The paper trains Qwen2.5-7B on human preference triples, reasoning problems and open-ended instructions; here the three kinds are built from one environment with a verifier (countdown): its own tasks, ranking tasks whose candidates (the expert equation, a well-formed wrong variant, a malformed one) are ordered by the environment's own reward, and its tasks with the verifier hidden (open-ended, their true reward logged at weight 0 against the self-scores). Environments without a preference-data builder are refused (exit 2).",
      "The ranking reward (the fraction of correctly ordered pairs), the mixing shares (0.5 / 0.25 / 0.25), K = 4 referee samples and the self-score scale (mean Borda points) are ours: the paper's values were not found in what we could read (no released code).",
      "Warm start (ours): our SFT start never writes a ranking, so the warm start adds ranking items built from training tasks (a quarter as many as the environment's demonstrations) with their true order: the paper starts from an instruction-tuned model that can already judge, ours learns the referee format and a first judgement here. It is cached apart from the plain start and reported like it (`--set taskSourceOptions.warmStartLabels=format` demonstrates random orders: the format only).",
      "Referee learning (ours, measured on countdown, 240 held-out pairs, forced choice): a referee trained by GRPO without a brake becomes deterministic within a few steps (zero-variance groups 0.4 -> 0.9+ by step 7) and writes one order whatever the candidates (52.9% = the share of pairs whose better answer comes first); a deterministic referee has no gradient left. An entropy bonus (0.05) kept it learning with ranking tasks alone, but in the mixed batch it also spread the player's tokens (entropy 0.5 -> 2.5 a token) and the referee's answers turned invalid. Two choices fix it in the mixed batch: GRPO's KL term to the reference (k3, beta 0.04, DeepSeekMath's value), whose format-only warm start writes both orders, and each rollout of a ranking task showing the candidates in its own random order (`rankOrder` per-rollout), so that a referee writing one order whatever it reads earns its group's mean. With only one of them it collapsed on one seed of two (the KL term with one order per group; per-rollout order without a brake). With both, the default model and mixed batch at learning rate 3e-3 (64 tasks a step, a quarter ranking tasks): 49.2% -> 63.7% -> 72.9% (seed 3) and 43.8% -> 52.9% -> 63.3% (seed 4) at steps 0, 50 and 100; supervised training of a width-32 model on the same items with their true order reaches 72.5%. The acting test (packages/bench/src/urpo.acting.test.ts, a CI stage) runs that setting.",
      'At the shared learning rate (3e-4) it takes about four times the steps: 49.2% -> 57.5% -> 69.6% (seed 3) and 43.8% -> 52.9% -> 62.9% (seed 4) at steps 0, 200 and 400 (docs/extensions.md).',
      "Ranking size 2 by default (pairwise, ours): the held-out accuracy is measured on pairs, and with three candidates more of the referee's answers are invalid (42-63% early in a run) and no run with N up to 3 learned.",
      'The context is 64 tokens (countdown recommends 48) so that a statement and up to three candidates fit before the answer room.',
    ],
    estimator: 'urpo-self-referee',
    loss: 'ppo-clip',
    divergence: { name: 'kl', options: { estimator: 'k3' } },
    taskSource: 'urpo-mix',
    // A partial model: the config resolver applies only the keys given.
    defaults: { model: { contextLength: 64 } as ModelConfig, divergenceCoef: 0.04 },
    defaultsSource:
      'context 64 (ours): the ranking prompt (statement, marker, candidates) needs more room than countdown’s 48; KL to the reference beta 0.04 (GRPO’s term as DeepSeekMath sets it): without a brake the referee collapses onto one order and stops learning (measured on countdown, see the unverified parts)',
  });
}

/**
 * INSPO (arXiv 2512.01945): GRPO over (task, instruction) rollouts, the instructions drawn from a
 * population that co-evolves with the policy (the `inspo` task source: per-instruction reward
 * statistics, candidates written from failures, verification rollouts charged, the weakest retired).
 */
function inspoMethod(): Method {
  return defineMethod({
    name: 'inspo',
    summary:
      'INSPO: GRPO with a co-evolving population of instructions ahead of the task; instructions drawn by softmax of their mean reward, new ones written by the policy from failures and verified on held-out tasks, the weakest retired',
    paper: { title: 'Agentic Policy Optimization via Instruction-Policy Co-Evolution', arxiv: '2512.01945', year: 2025 },
    estimator: 'grpo',
    loss: 'ppo-clip',
    taskSource: 'inspo',
    unverified: [
      'adaptation: adapted (see the inspo task source): the optimiser LLM that reflects on failures is the policy itself continuing a failed transcript, so instructions are short strings in the environment’s alphabet.',
      'The paper trains on multi-turn retrieval QA (Search-R1 style) with large models; the population settings (N = 4, tau = 0.1, a round every 5 steps) are ours, and the shared hyperparameters apply so that the comparison is at equal settings. Verification rollouts are charged as episodes, so at an equal episode budget INSPO trains on fewer tasks.',
      'Diagnostics (ours), per step in metrics.jsonl and, in a comparison, in results.json (`stepDiagnostics`) and plotted in report.html: the population size, the best and the worst instruction weight, and the expected weight of the drawn instruction.',
    ],
  });
}

/**
 * EVA (arXiv 2603.22918): after the SFT cold start, a KTO stage on the policy's own unpaired
 * rollouts, then GRPO, on the same rollout budget; the planning-before-perceiving setting is the
 * `long-doc-reader` environment (observations charged in the reward).
 */
function evaMethod(): Method {
  return defineMethod({
    name: 'eva',
    summary:
      "EVA: SFT cold start, then KTO on the policy's own unpaired good and bad rollouts for the first quarter of the budget, then GRPO; meant for long-doc-reader, where what the policy views is charged",
    paper: { title: 'EVA: Efficient Reinforcement Learning for End-to-End Video Agent', arxiv: '2603.22918', year: 2026 },
    estimator: 'grpo',
    loss: 'ppo-clip',
    stages: [{ loss: 'kto', until: 0.25 }],
    unverified: [
      'adaptation: analogue (see the long-doc-reader environment): a video becomes a keyed document, frames and resolution become section ranges skimmed or read, visual tokens become units viewed, charged in the reward.',
      "The KTO stage's share (the first 25% of the rollout budget) is ours; the paper's training hyperparameters are not released (only its evaluation code is). The paper's KTO data are a curated set of successful and failed trajectories; here they are the stage's own rollouts, labelled desirable above their group's mean reward and undesirable below it (the trainer's online KTO), so the three stages share one rollout budget (the reference note's equal-budget experiment).",
      'The quality part of the paper’s GRPO reward is the view cost of the environment (correct minus a penalty per unit viewed); the format reward is not separate (a malformed action is a wasted turn).',
    ],
  });
}
