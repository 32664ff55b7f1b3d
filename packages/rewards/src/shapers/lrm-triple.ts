/**
 * Large Reward Models ("Large Reward Models: Generalizable Online Robot Reward Generation with
 * Vision-Language Models", arXiv 2603.16065): a reward model pre-trained on trajectories judges
 * each step of an episode online, zero-shot, with three signals, a temporal contrastive reward
 * (is the new state ahead of the last one), an absolute progress estimate and a completion
 * verdict. Per turn t, with x_t the judge's state after the turn and x_{-1} the first observation:
 *
 *   r_t = w_c c(x_{t-1}, x_t) + w_p (p(x_t) - p(x_{t-1})) + w_d [d(x_t) >= 1/2]
 *
 * The three terms are the reward components lrmContrastive, lrmProgress and lrmCompletion of every
 * turn (their weights are w_c, w_p, w_d), so they are logged turn by turn in each rollout's turn
 * rewards, and step means in the metrics.
 */
import { defineShaper, type RewardShaper, type Rollout, resolveOptions, type ShapeContext, UsageError } from '@policy-lab/core';
import { LrmJudge, stateTrace } from '../models/lrm-judge.js';
import { characters } from '../models/small-model.js';
import { reshaped } from './common.js';
import { checkpointed, perRun, requireDemonstrations } from './dopamine.js';

export interface LrmTripleOptions {
  pretrainTasks?: number;
  pretrainEpochs?: number;
  span?: number;
  features?: number;
  hidden?: number;
  learningRate?: number;
  batch?: number;
  keepTrueReward?: boolean;
}

/** The components each turn carries, with their default weights (w_c, w_p, w_d). */
export const LRM_COMPONENTS = [
  { name: 'lrmContrastive', weight: 0.5 },
  { name: 'lrmProgress', weight: 0.3 },
  { name: 'lrmCompletion', weight: 0.2 },
] as const;

const OPTIONS = {
  pretrainTasks: {
    type: 'integer',
    default: 256,
    doc: 'training tasks whose demonstrations pre-train the judge (a side budget)',
  },
  pretrainEpochs: { type: 'integer', default: 8, doc: 'passes over the pre-training states' },
  span: { type: 'integer', default: 3, doc: 'contrastive pairs are states of one demonstration at most this many turns apart' },
  features: { type: 'integer', default: 1024, doc: 'hash buckets of the state text (words and word pairs)' },
  hidden: { type: 'integer', default: 32, doc: "each head's hidden units" },
  learningRate: { type: 'number', default: 0.01, doc: "the heads' Adam learning rate" },
  batch: { type: 'integer', default: 32, doc: 'rows per Adam step' },
  keepTrueReward: {
    type: 'boolean',
    default: false,
    doc: "true: the environment's components stay in the training reward beside the judge's",
  },
} as const;

/** One turn's reward from its three terms (the worked example: weights 0.5, 0.3, 0.2 and terms 0.6, 0, 1 give 0.5). */
export function lrmTurnReward(
  terms: { contrastive: number; progressGain: number; completion: number },
  weights: { contrastive: number; progress: number; completion: number },
): number {
  return weights.contrastive * terms.contrastive + weights.progress * terms.progressGain + weights.completion * terms.completion;
}

/** The judge's three terms for every turn of a rollout, and the characters it read to give them. */
export function judgeTurns(
  judge: LrmJudge,
  turns: readonly { observation: string; action: string }[],
): { terms: { contrastive: number; progress: number; progressGain: number; completion: number }[]; characters: number } {
  const states = stateTrace(turns);
  const progress = states.map((s) => judge.progress(s));
  const terms = turns.map((_, t) => ({
    contrastive: judge.contrastive(states[t] as string, states[t + 1] as string),
    progress: progress[t + 1] as number,
    progressGain: (progress[t + 1] as number) - (progress[t] as number),
    completion: judge.completion(states[t + 1] as string) >= 0.5 ? 1 : 0,
  }));
  // Progress reads every state, completion every state after a turn, the contrastive head each
  // consecutive pair in both orders.
  let read = characters(states) + characters(states.slice(1));
  for (let t = 0; t + 1 < states.length; t++) read += 2 * ((states[t] as string).length + (states[t + 1] as string).length);
  return { terms, characters: read };
}

export function lrmTriple(options: LrmTripleOptions = {}): RewardShaper {
  const o = resolveOptions<Required<LrmTripleOptions>>('lrm-triple', OPTIONS, options as Record<string, unknown>);
  for (const key of ['pretrainEpochs', 'span', 'features', 'hidden', 'batch'] as const)
    if (!(o[key] >= 1)) throw new UsageError(`lrm-triple: option '${key}' must be >= 1, got ${o[key]}`);
  if (!(o.pretrainTasks >= 1)) throw new UsageError(`lrm-triple: option 'pretrainTasks' must be >= 1, got ${o.pretrainTasks}`);
  if (!(o.learningRate > 0)) throw new UsageError(`lrm-triple: option 'learningRate' must be > 0, got ${o.learningRate}`);

  const newModel = () =>
    new LrmJudge({ features: o.features, hidden: o.hidden, learningRate: o.learningRate, seed: 'lrm-triple' });
  const state = perRun((ctx) => {
    const model = newModel();
    const traces = requireDemonstrations('lrm-triple', ctx)
      .training(o.pretrainTasks)
      .filter((d) => d.success)
      .map((d) => stateTrace(d.turns));
    // Pre-training reads data only, like the SFT start: logged as a side budget, not charged to RL.
    const losses = model.train(traces, {
      epochs: o.pretrainEpochs,
      batch: o.batch,
      span: o.span,
      rng: ctx.rng.split('pretrain'),
    });
    ctx.log?.('pretrainTraces', traces.length);
    ctx.log?.('pretrainTrainedTokens', losses.characters);
    for (const head of ['progress', 'completion', 'contrastive'] as const)
      if (Number.isFinite(losses[head])) ctx.log?.(`pretrainLoss.${head}`, losses[head]);
    return { model };
  });

  return defineShaper({
    name: 'lrm-triple',
    summary:
      'Large Reward Models: a judge pre-trained on demonstrations gives each turn a contrastive, a progress and a completion reward, r_t = 0.5 c_t + 0.3 (p_t - p_{t-1}) + 0.2 d_t',
    paper: {
      title: 'Large Reward Models: Generalizable Online Robot Reward Generation with Vision-Language Models',
      arxiv: '2603.16065',
      year: 2026,
    },
    options: OPTIONS,
    resolved: o,
    requires: { multiTurn: true, demonstrations: true },
    adds: LRM_COMPONENTS.map((c) => ({ ...c })),
    math: '$r_t = w_c\\,c(x_{t-1}, x_t) + w_p\\,(p(x_t) - p(x_{t-1})) + w_d\\,[d(x_t) \\ge \\tfrac12]$, $c(a,b) = \\sigma(g(a,b)) - \\sigma(g(b,a))$; $(w_c, w_p, w_d) = (0.5, 0.3, 0.2)$ as the weights of lrmContrastive, lrmProgress, lrmCompletion',
    unverified: [
      'adaptation: adapted. The paper fine-tunes a large VLM on real robot, human-object and simulated trajectories and reads camera frames; ours is three small networks over hashed words of the turn text (the observation the policy read and the action it took), pre-trained on the expert demonstrations of training tasks of the same environment, so it is not zero-shot across environments as the paper’s is.',
      'The judge is frozen after pre-training, as the paper uses its reward model zero-shot; its pre-training is a side budget (logged, like the SFT start), its scoring of every turn is charged as auxScoredTokens.',
      'The combination r_t = w_c c_t + w_p (p_t - p_{t-1}) + w_d d_t and the weights (0.5, 0.3, 0.2) are ours; the paper’s combination and prompts were not available. d_t is the completion verdict as 0/1 (the paper’s yes or no).',
      'No code was released; the contrastive span (3 turns), the sizes and the Method’s estimator (GiGPO, for turn-level rewards; the paper refines an imitation policy with its own RL recipe) are ours.',
    ],
    configure: (next) => lrmTriple({ ...o, ...next }),
    ...checkpointed(state, newModel),
    shape(rollouts: readonly Rollout[], ctx: ShapeContext) {
      const { model } = state(ctx);
      const zero = (v: Readonly<Record<string, number>>) =>
        o.keepTrueReward
          ? { ...v }
          : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, ctx.components.includes(k) ? 0 : x]));
      let read = 0;
      const all: { contrastive: number; progress: number; completion: number }[] = [];
      const finalCompletion = { won: [] as number[], lost: [] as number[] };
      const shaped = rollouts.map((r) => {
        const judged = judgeTurns(model, r.turns);
        read += judged.characters;
        all.push(...judged.terms);
        const last = judged.terms[judged.terms.length - 1];
        if (last) (r.success ? finalCompletion.won : finalCompletion.lost).push(last.completion);
        const turnRewards = r.turns.map((t, k) => {
          const term = judged.terms[k] as (typeof judged.terms)[number];
          return {
            ...zero(t.reward),
            lrmContrastive: term.contrastive,
            lrmProgress: term.progressGain,
            lrmCompletion: term.completion,
          };
        });
        const sum = (name: string) => turnRewards.reduce((s, v) => s + ((v as Record<string, number>)[name] ?? 0), 0);
        return reshaped(
          r,
          {
            ...zero(r.reward),
            lrmContrastive: sum('lrmContrastive'),
            lrmProgress: sum('lrmProgress'),
            lrmCompletion: sum('lrmCompletion'),
          },
          turnRewards,
        );
      });
      ctx.charge?.({ auxScoredTokens: read });
      const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
      ctx.log?.('scoredTokens', read);
      ctx.log?.('turns', all.length);
      ctx.log?.('contrastiveMean', mean(all.map((t) => t.contrastive)));
      ctx.log?.('progressMean', mean(all.map((t) => t.progress)));
      ctx.log?.('completionMean', mean(all.map((t) => t.completion)));
      // Whether the completion verdict on the last turn agrees with the environment's outcome.
      if (finalCompletion.won.length) ctx.log?.('completionOfWon', mean(finalCompletion.won));
      if (finalCompletion.lost.length) ctx.log?.('completionOfLost', mean(finalCompletion.lost));
      return shaped;
    },
  });
}
