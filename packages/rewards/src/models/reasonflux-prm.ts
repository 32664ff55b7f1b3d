/**
 * ReasonFlux-PRM (Zou et al., "ReasonFlux-PRM: Trajectory-Aware PRMs for Long Chain-of-Thought
 * Reasoning in LLMs", arXiv 2506.18896): a process reward for trajectory-response outputs, a
 * thinking trajectory s_1..s_T followed by a final answer a. Each thinking step gets three scores,
 * fused into one step reward:
 *   - alignment: how close the step is to the final answer (cosine of their encodings);
 *   - quality: a judge's probability that the step is good;
 *   - coherence: a contrastive score of the step against the one before it, with steps of other
 *     tasks as negatives;
 * and the trajectory gets a template-guided score: the trajectory's reasoning is followed again by
 * the policy several times and the success rate is kept. The RL reward blends the PRM score with
 * the rule reward, beta PRM + (1 - beta) rule (beta = 0.75 in the released verl recipe,
 * Gen-Verse/ReasonFlux, ReasonFlux_PRM/Application).
 *
 * Here the encoder is the hashed bag of words of ./small-model.ts and the judge is a small reward
 * model the run trains on its own trajectories (`reasonfluxJudge`); the step fusion and blend are
 * pure functions so that their invariants are tested on their own.
 */
import { defineRewardModel, type RewardModel, type Rollout, resolveOptions } from '@policy-lab/core';
import { checkModelOptions, type ModelSizeOptions, modelDeclaration, modelOptionSpecs } from './model-options.js';
import { sigmoid, textFeatures } from './small-model.js';

export const REASONFLUX_PAPER = {
  title: 'ReasonFlux-PRM: Trajectory-Aware PRMs for Long Chain-of-Thought Reasoning in LLMs',
  arxiv: '2506.18896',
  year: 2025,
} as const;

/** A rollout read as a trajectory-response output: the task, the thinking steps, the final answer. */
export interface ThinkingTrace {
  question: string;
  /** The thinking steps: every action before the last. */
  steps: string[];
  /** The final answer: the last action. */
  answer: string;
}

/** A multi-turn episode's turns as thinking steps (every action but the last) and its answer (the last action). */
export function thinkingTrace(rollout: Pick<Rollout, 'turns'>): ThinkingTrace {
  const actions = rollout.turns.map((t) => t.action);
  return {
    question: rollout.turns[0]?.observation ?? '',
    steps: actions.slice(0, -1),
    answer: actions.at(-1) ?? '',
  };
}

/** The encoding of a text: its unit-length hashed word and word-pair counts, without the bias slot. */
export function encode(text: string, features: number): Float64Array {
  return textFeatures(text, features).subarray(0, features);
}

/** Cosine of two encodings; counts are non-negative, so it lies in [0, 1] (0 when either text has no words). */
export function similarity(a: Float64Array, b: Float64Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += (a[i] as number) * (b[i] as number);
  return Math.min(1, Math.max(0, dot));
}

/** Alignment of each step with the final answer: sim(step, answer) in [0, 1]. */
export function alignmentScores(steps: readonly string[], answer: string, features: number): number[] {
  const target = encode(answer, features);
  return steps.map((s) => similarity(encode(s, features), target));
}

/**
 * Coherence of each step with the one before it (the question before the first), contrastive
 * against negatives (steps of other tasks): sigma(sim(prev, s_t) / tau - log mean_n exp(sim(prev, n) / tau)).
 * The previous step is the anchor, so for fixed negatives the score rises with sim(prev, s_t) alone
 * and a step that repeats the previous one scores highest. Without negatives a null negative of
 * similarity 0 stands in.
 */
export function coherenceScores(
  question: string,
  steps: readonly string[],
  negatives: readonly string[],
  o: { features: number; temperature: number },
): number[] {
  const encodedNegatives = negatives.map((n) => encode(n, o.features));
  return steps.map((step, t) => {
    const previous = encode(t === 0 ? question : (steps[t - 1] as string), o.features);
    const positive = similarity(previous, encode(step, o.features)) / o.temperature;
    const logits = encodedNegatives.length ? encodedNegatives.map((n) => similarity(previous, n) / o.temperature) : [0];
    const top = Math.max(...logits);
    const logMeanExp = top + Math.log(logits.reduce((s, l) => s + Math.exp(l - top), 0) / logits.length);
    return sigmoid(positive - logMeanExp);
  });
}

/**
 * One step's reward from its three scores, each weighted by its softmax over the three:
 * sum_k softmax(r)_k r_k (a soft maximum, so one strong signal is not averaged away). It lies
 * between the smallest and the largest score and equals them when they agree.
 */
export function fuseStep(alignment: number, quality: number, coherence: number): number {
  const scores = [alignment, quality, coherence];
  const top = Math.max(...scores);
  const weights = scores.map((s) => Math.exp(s - top));
  const total = weights.reduce((a, b) => a + b, 0);
  return scores.reduce((acc, s, k) => acc + ((weights[k] as number) / total) * s, 0);
}

/**
 * The trajectory's PRM score: (1 - lambda) x the mean step reward + lambda x the template success
 * rate; a trajectory without thinking steps is scored by its template success rate alone.
 */
export function trajectoryScore(stepRewards: readonly number[], templateSuccess: number, lambda: number): number {
  if (stepRewards.length === 0) return templateSuccess;
  const meanStep = stepRewards.reduce((a, b) => a + b, 0) / stepRewards.length;
  return (1 - lambda) * meanStep + lambda * templateSuccess;
}

/** The RL reward: beta x PRM + (1 - beta) x rule. beta = 0 is the rule reward exactly. */
export function blendReward(prm: number, rule: number, beta: number): number {
  if (beta === 0) return rule;
  return beta * prm + (1 - beta) * rule;
}

const JUDGE_OPTIONS = modelOptionSpecs({
  dim: 32,
  layers: 1,
  heads: 4,
  learningRate: 2e-3,
  updatesPerStep: 2,
  replay: 2048,
  batch: 64,
});

/**
 * ReasonFlux-PRM's quality judge: a small discriminator the run trains on its own labelled
 * trajectories (each step read as its turn's observation and action, labelled by whether its
 * episode succeeded). The `reasonflux-prm` estimator scores the thinking steps with it (quality =
 * sigma of its logit) before training it on the step's labels, so no step is judged by a model that
 * has seen its own outcome.
 */
export function reasonfluxJudge(options: Partial<ModelSizeOptions> = {}): RewardModel {
  const resolved = resolveOptions<ModelSizeOptions>('reasonflux-prm', JUDGE_OPTIONS, options as Record<string, unknown>);
  checkModelOptions('reasonflux-prm', resolved);
  return defineRewardModel({
    name: 'reasonflux-prm',
    summary:
      "ReasonFlux-PRM's step quality judge: a small discriminator trained online on the run's own steps labelled by their episode's success (the reasonflux-prm estimator scores and trains it)",
    paper: REASONFLUX_PAPER,
    options: JUDGE_OPTIONS,
    resolved,
    unverified: [
      'adaptation: adapted. The paper fine-tunes a 7B/1.5B LLM as the PRM on trajectory-response data labelled by a strong LLM judge; here the quality judge is a small transformer trained online on the run’s own steps, labelled by their episode’s success.',
    ],
    math: "$r^{qual}_t = \\sigma(J_\\psi(o_t, s_t))$, $J_\\psi$ trained by logistic loss on (turn observation, step) labelled by the episode's success",
    ...modelDeclaration(resolved),
    objective: 'discriminator',
    component: { name: 'prmQuality', weight: 0 },
    // A whole rollout is scored as its answer turn (logged with weight 0).
    text: (rollout) => {
      const last = rollout.turns[rollout.turns.length - 1];
      return { context: last?.observation ?? '', text: last?.action ?? '' };
    },
    examples: () => ({}),
    configure: (next) => reasonfluxJudge({ ...resolved, ...next }),
  });
}
