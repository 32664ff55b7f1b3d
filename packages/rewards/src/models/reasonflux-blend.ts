/**
 * ReasonFlux-PRM as an RL reward (arXiv 2506.18896): every rollout's PRM score (fused step
 * rewards of its thinking steps and its template-guided success rate, ./reasonflux-prm.ts) is
 * blended with the environment's rule reward, R = beta PRM + (1 - beta) rule, and the blended
 * rewards are normalised within each group as GRPO does. The template rollouts are episodes
 * restarted after the trajectory's thinking steps (the trainer's prefix rollouts), charged to the
 * episode budget; the judge's scoring and training are charged by the trainer as auxiliary tokens.
 */
import {
  type AdvantageEstimator,
  defineEstimator,
  type EstimatorContext,
  type ModelServices,
  type Rollout,
  resolveOptions,
  type ScoredText,
  UsageError,
} from '@policy-lab/core';
import {
  alignmentScores,
  blendReward,
  coherenceScores,
  fuseStep,
  REASONFLUX_PAPER,
  thinkingTrace,
  trajectoryScore,
} from './reasonflux-prm.js';
import { sigmoid } from './small-model.js';

export interface ReasonfluxBlendOptions {
  beta?: number;
  trajectoryWeight?: number;
  templateRollouts?: number;
  temperature?: number;
  features?: number;
  judge?: string;
  hackThreshold?: number;
  rule?: 'reward' | 'success';
  eps?: number;
}

const OPTIONS = {
  beta: {
    type: 'number',
    default: 0.75,
    doc: 'weight of the PRM score in the RL reward, beta PRM + (1 - beta) rule (released verl recipe: 0.75; 0: the rule reward alone)',
  },
  trajectoryWeight: {
    type: 'number',
    default: 0.5,
    doc: 'lambda: PRM = (1 - lambda) mean step reward + lambda template success rate',
  },
  templateRollouts: {
    type: 'integer',
    default: 2,
    doc: "episodes that follow each trajectory's thinking steps and answer afresh (charged to the episode budget; 0: no trajectory-level score)",
  },
  temperature: { type: 'number', default: 0.2, doc: 'tau of the contrastive coherence score' },
  features: { type: 'integer', default: 256, doc: 'hash buckets of the bag-of-words encoder (alignment, coherence)' },
  judge: { type: 'string', default: 'reasonflux-prm', doc: "the run's reward model that judges step quality" },
  hackThreshold: {
    type: 'number',
    default: 0.5,
    doc: 'a rollout counts toward hackRate when its PRM score is at least this while its episode failed',
  },
  rule: {
    type: 'enum',
    values: ['reward', 'success'],
    default: 'reward',
    doc: "the rule reward blended with the PRM: the environment's weighted reward (what GRPO reads), or success 0/1 (the paper's correctness reward, on the PRM's [0, 1] scale)",
  },
  eps: { type: 'number', default: 1e-4, doc: "added to the group std before dividing (GRPO's eps)" },
} as const;

/** Per rollout: the PRM's parts, for diagnostics and tests. */
export interface PrmBreakdown {
  alignment: number[];
  quality: number[];
  coherence: number[];
  steps: number[];
  templateSuccess: number;
  prm: number;
}

function mean(values: readonly number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
}

/** GRPO's group z-score (sample std, eps added; a constant group gives zeros). */
export function groupZScores(values: readonly number[], eps: number): number[] {
  const m = mean(values);
  const n = values.length;
  const s = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (n - 1)) : 0;
  return s === 0 ? values.map(() => 0) : values.map((v) => (v - m) / (s + eps));
}

/** The template's success rate: episodes that replay the thinking steps, then answer afresh. */
async function templateSuccess(services: ModelServices, rollout: Rollout, count: number): Promise<number[]> {
  const thinking = rollout.turns.length - 1;
  const episodes =
    thinking > 0
      ? await (services.prefixRollouts as NonNullable<ModelServices['prefixRollouts']>)({ rollout, turns: thinking, count })
      : await services.rollouts({ groupId: rollout.groupId, count });
  if (episodes.length !== count)
    throw new UsageError(`reasonflux-prm: asked for ${count} template episodes of ${rollout.id}, got ${episodes.length}`);
  return episodes.map((e) => (e.success ? 1 : 0));
}

export function reasonfluxBlend(options: ReasonfluxBlendOptions = {}): AdvantageEstimator {
  const o = resolveOptions<Required<ReasonfluxBlendOptions>>('reasonflux-prm', OPTIONS, options as Record<string, unknown>);
  if (!(o.beta >= 0 && o.beta <= 1)) throw new RangeError(`reasonflux-prm: option 'beta' must be in [0, 1], got ${o.beta}`);
  if (!(o.trajectoryWeight >= 0 && o.trajectoryWeight <= 1))
    throw new RangeError(`reasonflux-prm: option 'trajectoryWeight' must be in [0, 1], got ${o.trajectoryWeight}`);
  if (!(o.templateRollouts >= 0))
    throw new RangeError(`reasonflux-prm: option 'templateRollouts' must be an integer >= 0, got ${o.templateRollouts}`);
  if (!(o.temperature > 0)) throw new RangeError(`reasonflux-prm: option 'temperature' must be > 0, got ${o.temperature}`);
  if (!(o.features >= 1)) throw new RangeError(`reasonflux-prm: option 'features' must be an integer >= 1, got ${o.features}`);
  if (!(o.eps >= 0)) throw new RangeError(`reasonflux-prm: option 'eps' must be >= 0, got ${o.eps}`);
  const lambda = o.templateRollouts > 0 ? o.trajectoryWeight : 0;
  return defineEstimator({
    name: 'reasonflux-prm',
    summary:
      "ReasonFlux-PRM's RL reward: beta x a trajectory-aware PRM (alignment, quality, coherence per thinking step; template-guided success) + (1 - beta) x the rule reward, normalised per group",
    paper: REASONFLUX_PAPER,
    options: OPTIONS,
    resolved: o,
    needsModel: o.beta > 0,
    requires: { multiTurn: true },
    unverified: [
      'adaptation: adapted. A thinking step is a turn of a multi-turn episode and the final answer its last action (the paper segments one long thinking text; our single-turn environments, countdown and arithmetic included, have no steps the trainer can restart from and are refused).',
      'The template is the trajectory’s own thinking turns, replayed verbatim by the trainer’s prefix restarts before the policy answers afresh; the paper abstracts a reasoning template with an LLM and has the policy follow it.',
      'The encoder of alignment and coherence is a hashed bag of words (not a sentence-embedding model); the quality judge is the small reasonflux-prm reward model trained on the run’s own steps labelled by episode success.',
      'The fusion (softmax-weighted sum of the three scores), the contrastive coherence form (the previous step as anchor, steps of other tasks as negatives, tau 0.2), lambda 0.5 and 2 template episodes are read from summaries or chosen by us; beta 0.75 is the released recipe’s value.',
      'The released code scores a response by the PRM at its first step separator; here the PRM score is the mean fused step reward mixed with the template success rate.',
      'Best-of-N selection with the PRM (the paper’s test-time use) is not built.',
    ],
    math: `$R_i = ${o.beta}\\,\\mathrm{PRM}_i + ${1 - o.beta}\\,r^{rule}_i$, $\\mathrm{PRM}_i = (1-\\lambda)\\frac{1}{T}\\sum_t \\sum_k \\mathrm{softmax}(r_t)_k r_{t,k} + \\lambda\\,\\hat p^{tmpl}_i$ over $k \\in$ {align, qual, coh}; $r^{align}_t = \\cos(\\phi(s_t), \\phi(a))$, $r^{coh}_t = \\sigma(\\cos(\\phi(s_{t-1}), \\phi(s_t))/\\tau - \\log \\mathrm{mean}_n e^{\\cos(\\phi(s_{t-1}), \\phi(n))/\\tau})$, $r^{qual}_t = \\sigma(J_\\psi(s_t))$; $A_i = (R_i - \\bar R)/(\\mathrm{std}(R) + \\epsilon)$`,
    configure: (next) => reasonfluxBlend({ ...o, ...next }),
    async compute(groups, ctx) {
      for (const [g, group] of groups.entries())
        if (group.length === 0) throw new UsageError(`reasonflux-prm: group ${g} is empty`);
      const rules = groups.map((group) => group.map((r) => (o.rule === 'success' ? (r.success ? 1 : 0) : ctx.scalar(r.reward))));
      if (o.beta === 0) {
        const rollout = rules.map((r) => groupZScores(r, o.eps));
        return { rollout, weights: groups.map((group) => group.map(() => 1)) };
      }
      const { breakdowns, judgeLoss, templateEpisodes } = await scoreGroups(groups, ctx, o, lambda);
      const blended = breakdowns.map((row, g) =>
        row.map((b, i) => blendReward(b.prm, (rules[g] as number[])[i] as number, o.beta)),
      );
      const all = breakdowns.flat();
      const flat = groups.flat();
      const hacked = all.filter((b, k) => b.prm >= o.hackThreshold && !flat[k]?.success).length;
      const failed = flat.filter((r) => !r.success).length;
      return {
        rollout: blended.map((r) => groupZScores(r, o.eps)),
        weights: groups.map((group) => group.map(() => 1)),
        diagnostics: {
          prmMean: mean(all.map((b) => b.prm)),
          alignmentMean: mean(all.flatMap((b) => b.alignment)),
          qualityMean: mean(all.flatMap((b) => b.quality)),
          coherenceMean: mean(all.flatMap((b) => b.coherence)),
          templateSuccess: mean(all.map((b) => b.templateSuccess)),
          templateEpisodes,
          // Share of all rollouts whose PRM is high while their answer is wrong, and of the failed ones.
          hackRate: hacked / flat.length,
          hackRateOfFailed: failed ? hacked / failed : 0,
          judgeLoss,
        },
      };
    },
  });
}

/**
 * The PRM breakdown of every rollout. The judge scores every thinking step first, then trains on
 * the step's labels (each step and answer turn labelled by its episode's success).
 */
export async function scoreGroups(
  groups: readonly (readonly Rollout[])[],
  ctx: EstimatorContext,
  o: Required<ReasonfluxBlendOptions>,
  lambda: number,
): Promise<{ breakdowns: PrmBreakdown[][]; judgeLoss: number; templateEpisodes: number }> {
  const services = ctx.services;
  if (!services)
    throw new UsageError(
      "reasonflux-prm needs the trainer's model services (template rollouts); it cannot run from rewards alone (e.g. in 'bench advantages'), except with beta 0",
    );
  if (o.templateRollouts > 0 && !services.prefixRollouts)
    throw new UsageError(
      "reasonflux-prm needs the trainer's prefix rollouts (ctx.services.prefixRollouts) to follow a trajectory's thinking steps",
    );
  const judge = ctx.rewardModels?.[o.judge];
  if (!judge)
    throw new UsageError(
      `reasonflux-prm: the run has no reward model '${o.judge}' to judge step quality (it has: ${Object.keys(ctx.rewardModels ?? {}).join(', ') || 'none'}); add it with --set rewardModels=${o.judge}`,
    );
  const traces = groups.map((group) => group.map((r) => thinkingTrace(r)));
  const stepTexts: ScoredText[] = groups.flatMap((group) =>
    group.flatMap((r) => r.turns.slice(0, -1).map((t) => ({ context: t.observation, text: t.action }))),
  );
  const logits = stepTexts.length ? await judge.score(stepTexts) : [];
  if (logits.length !== stepTexts.length)
    throw new UsageError(`reasonflux-prm: the judge returned ${logits.length} scores for ${stepTexts.length} steps`);
  let next = 0;
  let templateEpisodes = 0;
  const breakdowns: PrmBreakdown[][] = [];
  for (const [g, group] of groups.entries()) {
    // Negatives of the contrastive coherence: thinking steps of the other groups' tasks.
    const negatives = traces.flatMap((other, h) => (h === g ? [] : other.flatMap((t) => t.steps)));
    const row: PrmBreakdown[] = [];
    for (const [i, rollout] of group.entries()) {
      const trace = traces[g]?.[i] as ReturnType<typeof thinkingTrace>;
      const alignment = alignmentScores(trace.steps, trace.answer, o.features);
      const coherence = coherenceScores(trace.question, trace.steps, negatives, o);
      const quality = trace.steps.map(() => sigmoid(logits[next++] as number));
      const steps = trace.steps.map((_, t) => fuseStep(alignment[t] as number, quality[t] as number, coherence[t] as number));
      let success = 0;
      if (o.templateRollouts > 0) {
        const outcomes = await templateSuccess(services, rollout, o.templateRollouts);
        templateEpisodes += outcomes.length;
        success = mean(outcomes);
      }
      row.push({ alignment, quality, coherence, steps, templateSuccess: success, prm: trajectoryScore(steps, success, lambda) });
    }
    breakdowns.push(row);
  }
  const points = groups.flatMap((group) =>
    group.flatMap((r) => r.turns.map((t) => ({ context: t.observation, text: t.action, target: r.success ? 1 : 0 }))),
  );
  const judgeLoss = points.length ? (await judge.train({ points })).loss : 0;
  return { breakdowns, judgeLoss, templateEpisodes };
}
