/**
 * Cooper (Hong et al., "Cooper: Co-Optimizing Policy and Reward Models in Reinforcement Learning
 * for Large Language Models", arXiv 2508.05613; code ZJU-REAL/Cooper, recipe/cooper). The policy
 * is trained by GRPO against a reference-based reward model (VerifyRM) that reads the question,
 * the task's reference answer and the response; its logit s gives the reward sigma(s). After each
 * policy step the reward model is updated contrastively on pairs per prompt: the positive is the
 * first rollout the rule verifier marks correct, the negative a wrong answer made from it, and
 * L = -log sigma(s(x, y+) - s(x, y-)) is averaged over the prompts that have a valid pair
 * (recipe/cooper/dp_reward.py `update_reward`). Rules give precision; the moving reward model,
 * recall; a reward model that keeps moving is harder to hack.
 *
 * Here the reference answer is the environment's expert answer (`demonstrate`; countdown: the
 * equation the task was drawn from), and the
 * negative comes from a deterministic corruption rule checked by the environment's verifier
 * (./cooper-negatives.ts) instead of an assistant LLM.
 */
import {
  type AdvantageEstimator,
  defineEstimator,
  defineRewardModel,
  type Environment,
  type RewardExamples,
  type RewardModel,
  type RewardModelContext,
  type Rng,
  type Rollout,
  RunError,
  resolveOptions,
  type ScoredText,
  Rng as SeededRng,
  UsageError,
} from '@policy-lab/core';
import { CORRUPTIONS, type Corruption, negativeOf } from './cooper-negatives.js';
import { checkModelOptions, type ModelSizeOptions, modelDeclaration, modelOptionSpecs } from './model-options.js';
import { groupZScores } from './reasonflux-blend.js';
import { sigmoid } from './small-model.js';

export const COOPER_PAPER = {
  title: 'Cooper: Co-Optimizing Policy and Reward Models in Reinforcement Learning for Large Language Models',
  arxiv: '2508.05613',
  year: 2025,
} as const;

/** The reward component the reward model's logit becomes. */
export const COOPER_COMPONENT = 'cooperScore';

/** Worked numbers of the contrastive loss: the mean of -log sigma(s+ - s-) over valid pairs, and its gradient. */
export function cooperPairLoss(
  positive: readonly number[],
  negative: readonly number[],
  valid: readonly boolean[],
): { loss: number; gradPositive: number[]; gradNegative: number[] } {
  const count = valid.filter(Boolean).length;
  const gradPositive = positive.map(() => 0);
  const gradNegative = negative.map(() => 0);
  if (count === 0) return { loss: 0, gradPositive, gradNegative };
  let loss = 0;
  positive.forEach((sp, i) => {
    if (!valid[i]) return;
    const margin = sp - (negative[i] as number);
    // -log sigma(d) = softplus(-d); d/dd = -sigma(-d).
    loss += Math.log1p(Math.exp(-margin));
    gradPositive[i] = -sigmoid(-margin) / count;
    gradNegative[i] = sigmoid(-margin) / count;
  });
  return { loss: loss / count, gradPositive, gradNegative };
}

/** What a bound reward model reads of the environment: each task's reference answer and the rule verifier. */
export interface CooperRules {
  /** The reference answer of the rollout's task (undefined: not found). */
  reference(rollout: Rollout): string | undefined;
  /** The rule verifier on the rollout's task. */
  isCorrect(rollout: Rollout, answer: string): boolean;
  corrupt: Corruption;
}

/** The reward model's text of a rollout: the question and the reference answer as the context, the response as the text. */
export function cooperText(rollout: Rollout, reference: string | undefined): ScoredText {
  const question = rollout.turns[0]?.observation ?? '';
  return { context: reference === undefined ? question : `${question} ${reference}`, text: rollout.turns[0]?.action ?? '' };
}

/**
 * One pair per prompt: the first rollout the rule verifier marks correct and a corruption of it
 * the verifier calls wrong. Prompts without a positive, or whose corruptions all failed, give no
 * pair (masked); `masked` counts them.
 */
export function cooperPairs(
  groups: readonly (readonly Rollout[])[],
  rules: CooperRules,
  rng: Rng,
  tries = 3,
): { pairs: NonNullable<RewardExamples['pairs']>; masked: number } {
  const pairs: { context: string; chosen: string; rejected: string }[] = [];
  let masked = 0;
  groups.forEach((group, g) => {
    const positive = group.find((r) => r.success);
    const answer = positive?.turns[0]?.action;
    const negative =
      positive && answer !== undefined
        ? negativeOf(answer, rules.corrupt, (a) => rules.isCorrect(positive, a), rng.split(`group/${g}`), tries)
        : undefined;
    if (!positive || negative === undefined) {
      masked++;
      return;
    }
    const text = cooperText(positive, rules.reference(positive));
    pairs.push({ context: text.context, chosen: text.text, rejected: negative });
  });
  return { pairs, masked };
}

/** The rules of an environment, or what it lacks for them (refused with exit 2). */
export function cooperRulesOf(env: Environment, run: { seed: number }): CooperRules {
  const missing: string[] = [];
  if (!env.demonstrate) missing.push('reference answers (demonstrate)');
  if (env.maxTurns !== 1) missing.push('single-turn episodes');
  const corrupt = CORRUPTIONS[env.name];
  if (!corrupt) missing.push(`a corruption rule for negatives (rules exist for: ${Object.keys(CORRUPTIONS).join(', ')})`);
  if (missing.length > 0 || !corrupt)
    throw new UsageError(
      `reward model 'cooper-coevolving-rm' needs ${missing.join(' and ')}, which environment '${env.name}' does not have`,
    );
  const demonstrate = env.demonstrate as NonNullable<Environment['demonstrate']>;
  // The run's tasks by id (its training split and the test split evaluation reads); a task written
  // during the run (an evolving pool) is read back from its first observation.
  let known: Map<string, unknown> | undefined;
  const taskOf = (rollout: Rollout): unknown => {
    known ??= new Map(
      [...env.tasks('test', { seed: 0 }), ...env.tasks('train', { seed: run.seed })].map((t) => [env.taskId(t), t]),
    );
    if (!known.has(rollout.taskId)) known.set(rollout.taskId, env.parseTask?.(rollout.turns[0]?.observation ?? ''));
    return known.get(rollout.taskId);
  };
  const verifierRng = SeededRng.seeded(0).split('cooper/verifier');
  return {
    reference(rollout) {
      const task = taskOf(rollout);
      return task === undefined ? undefined : demonstrate(task).at(-1);
    },
    isCorrect(rollout, answer) {
      const task = taskOf(rollout);
      if (task === undefined)
        throw new RunError(`cooper-coevolving-rm: task '${rollout.taskId}' could not be found to verify a negative`);
      const episode = env.start(task, verifierRng);
      episode.step(answer);
      return episode.outcome().success;
    },
    corrupt,
  };
}

export interface CooperRewardModelOptions extends Partial<ModelSizeOptions> {
  /** Tries of the corruption rule per positive before the pair is masked. */
  tries?: number;
}

const OPTIONS = {
  ...modelOptionSpecs({ dim: 64, layers: 2, heads: 4, learningRate: 2e-3, updatesPerStep: 8, replay: 4096, batch: 64 }),
  tries: {
    type: 'integer',
    default: 3,
    doc: 'corruptions tried per positive before its pair is masked (the released code retries its rewrite 3 times)',
  },
} as const;

const UNVERIFIED = [
  'adaptation: adapted. The reward model is a small transformer trained from scratch in the run (the paper starts VerifyRM from a pretrained 1.5B model trained on 65K reference-based pairs).',
  'Negatives are deterministic corruptions of the positive checked by the environment’s verifier (countdown: one operand or one operator changed; arithmetic: the final answer changed), not an assistant LLM’s wrong rewrite; environments without a rule (translate, code, and every multi-turn one) are refused with exit 2.',
  'The reference answer is the environment’s expert answer of the task (countdown: the equation the task was drawn from; for a task written during the run and read back from its text, the exhaustive solver’s).',
  'Each step’s pairs go into a replay buffer and the model takes several Adam steps on pairs drawn from it (the released code takes one pass over the step’s pairs at learning rate 1e-5): a model trained from scratch needs more than one pass over a few pairs a step (2.6 on average on countdown with 8 prompts of 4 rollouts).',
];

export function cooperCoevolvingRm(options: CooperRewardModelOptions = {}): RewardModel {
  const resolved = resolveOptions<Required<CooperRewardModelOptions>>(
    'cooper-coevolving-rm',
    OPTIONS,
    options as Record<string, unknown>,
  );
  checkModelOptions('cooper-coevolving-rm', resolved, ['tries']);
  const base = {
    name: 'cooper-coevolving-rm',
    summary:
      "Cooper's reference-based reward model: scores (question, reference answer, response); trained each step on the first rule-verified positive per prompt against a rule-checked corruption of it",
    paper: COOPER_PAPER,
    options: OPTIONS,
    resolved,
    unverified: UNVERIFIED,
    math: '$r = \\sigma(s_\\phi(x, y^{ref}, y))$; $\\mathcal L = \\frac{1}{|V|}\\sum_{x \\in V} -\\log\\sigma(s_\\phi(x, y^{ref}, y^+) - s_\\phi(x, y^{ref}, y^-))$ over the prompts $V$ with a rule-verified positive $y^+$ (the first in the group) and a corruption $y^-$ the verifier rejects',
    ...modelDeclaration(resolved),
    objective: 'bradley-terry' as const,
    // Weight 0: the `cooper` estimator reads the score itself and rewards sigma(s).
    component: { name: COOPER_COMPONENT, weight: 0 },
    configure: (next: Readonly<Record<string, unknown>>) => cooperCoevolvingRm({ ...resolved, ...next }),
  };
  return defineRewardModel({
    ...base,
    examples() {
      throw new UsageError(
        "reward model 'cooper-coevolving-rm' reads the environment's references and verifier: it must be bound to the run's environment (the trainer does this)",
      );
    },
    bind(env: Environment, run: { seed: number }): RewardModel {
      const rules = cooperRulesOf(env, run);
      const bound: RewardModel = defineRewardModel({
        ...base,
        text: (rollout) => cooperText(rollout, rules.reference(rollout)),
        examples: (groups, ctx: RewardModelContext) =>
          ({ pairs: cooperPairs(groups, rules, ctx.rng, resolved.tries).pairs }) satisfies RewardExamples,
        bind: () => bound,
      });
      return bound;
    },
  });
}

export interface CooperEstimatorOptions {
  /** The run's reward model whose score is the reward. */
  rewardModel?: string;
  eps?: number;
  hackThreshold?: number;
}

const ESTIMATOR_OPTIONS = {
  rewardModel: {
    type: 'string',
    default: 'cooper-coevolving-rm',
    doc: "the run's reward model whose logit s gives the reward sigma(s)",
  },
  eps: { type: 'number', default: 1e-6, doc: "added to the group std before dividing (verl's GRPO epsilon)" },
  hackThreshold: {
    type: 'number',
    default: 0.5,
    doc: 'a rollout counts toward hackRate when its reward sigma(s) is at least this while the rule verifier rejects it',
  },
} as const;

/**
 * GRPO on the reward model's sigma(s) alone: in the released code the reward manager returns the
 * reward model's scores when there are any (verl's `rm_scores`), so the rule reward only selects
 * the reward model's positives. `reward_scale=False` keeps sigma(s) continuous.
 */
export function cooperEstimator(options: CooperEstimatorOptions = {}): AdvantageEstimator {
  const o = resolveOptions<Required<CooperEstimatorOptions>>('cooper', ESTIMATOR_OPTIONS, options as Record<string, unknown>);
  if (!(o.eps >= 0)) throw new RangeError(`cooper: option 'eps' must be >= 0, got ${o.eps}`);
  return defineEstimator({
    name: 'cooper',
    summary: "Cooper's policy reward: GRPO advantages of sigma(s), s the co-evolving reference-based reward model's logit",
    paper: COOPER_PAPER,
    options: ESTIMATOR_OPTIONS,
    resolved: o,
    // Its reward is a learned reward model's score, which only a run inside the trainer has.
    needsModel: true,
    unverified: [
      'The rule reward does not enter the policy’s reward, as in the released code (its reward manager returns the reward model’s scores whenever there are any); the rule verifier picks the reward model’s positives and is what evaluation reports.',
    ],
    math: `$r_i = \\sigma(s_\\phi(x, y^{ref}, y_i))$, $A_i = (r_i - \\operatorname{mean}(r))/(\\operatorname{std}(r) + ${o.eps})$`,
    configure: (next) => cooperEstimator({ ...o, ...next }),
    compute(groups) {
      const rewards = groups.map((group) =>
        group.map((r) => {
          const s = r.reward[COOPER_COMPONENT];
          if (typeof s !== 'number')
            throw new UsageError(
              `cooper: rollout ${r.id} has no '${COOPER_COMPONENT}' score; the run needs the reward model '${o.rewardModel}' (--set rewardModels=${o.rewardModel})`,
            );
          return sigmoid(s);
        }),
      );
      const flat = groups.flat();
      const all = rewards.flat();
      const failed = flat.filter((r) => !r.success).length;
      const hacked = flat.filter((r, k) => !r.success && (all[k] as number) >= o.hackThreshold).length;
      const mean = (values: readonly number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0);
      return {
        rollout: rewards.map((r) => groupZScores(r, o.eps)),
        weights: groups.map((group) => group.map(() => 1)),
        diagnostics: {
          rewardMean: mean(all),
          rewardOfCorrect: mean(all.filter((_, k) => flat[k]?.success)),
          rewardOfWrong: mean(all.filter((_, k) => !flat[k]?.success)),
          // Prompts with a rule-verified positive: those that can give the reward model a pair.
          positiveRate: groups.filter((g) => g.some((r) => r.success)).length / Math.max(1, groups.length),
          hackRate: failed ? hacked / failed : 0,
        },
      };
    },
  });
}
