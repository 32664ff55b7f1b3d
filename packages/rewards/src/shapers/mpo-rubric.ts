/**
 * MPO (Kim, Park, Raheja & Kang 2025, "Toward Evaluative Thinking: Meta Policy Optimization with Evolving Reward
 * Models", arXiv 2504.20157; released code minnesotanlp/mpo): the policy is trained against a judge
 * that scores each response by a rubric, and a meta step rewrites the rubric from recent samples
 * every `interval` policy steps (the code's `num_mpo_interval` 10, `num_mpo_samples` 20), so that
 * what the policy has learnt to exploit stops paying.
 *
 * Adapted: the judge here is a rubric of weights over rule criteria (the environment's reward
 * components and two text criteria a judge is easily fooled by, length and keyword coverage), not an
 * LLM reading a rubric prompt; the meta step is a rule reading the samples' hidden check (the
 * episode's success, which the judge never sees), not a larger LLM analysing them. A criterion is
 * gamed when the failed samples score on it at least about as high as the successful ones while
 * scoring high; the rewrite scales its weight down and renormalises, and the rubric's version
 * counts rewrites. The rubric (version and weights) is the shaper's checkpoint state.
 */
import { defineShaper, type RewardShaper, type Rollout, resolveOptions, type ShapeContext, UsageError } from '@policy-lab/core';
import { reshaped } from './common.js';
import { perRun } from './dopamine.js';

export interface MpoRubricOptions {
  interval?: number;
  samples?: number;
  threshold?: number;
  margin?: number;
  minFailures?: number;
  decay?: number;
  textCriteria?: string[];
  initialWeights?: Record<string, number>;
  keepTrueReward?: boolean;
}

export const TEXT_CRITERIA = ['length', 'coverage'] as const;

const OPTIONS = {
  interval: { type: 'integer', default: 10, doc: "policy steps between meta steps (MPO's num_mpo_interval)" },
  samples: {
    type: 'integer',
    default: 20,
    doc: "recent samples the meta step reads, drawn from those scored since the last one (MPO's num_mpo_samples)",
  },
  threshold: { type: 'number', default: 0.5, doc: 'a criterion is gamed only when the failed samples score at least this on it' },
  margin: {
    type: 'number',
    default: 0.1,
    doc: 'and when their mean score on it comes within this of the successful samples’ (it no longer separates them)',
  },
  minFailures: { type: 'integer', default: 3, doc: 'failed samples the meta step needs before it judges a criterion' },
  decay: {
    type: 'number',
    default: 0.5,
    doc: "a gamed criterion's weight is multiplied by this before renormalising (0 drops it)",
  },
  textCriteria: {
    type: 'array',
    default: [...TEXT_CRITERIA],
    doc: 'text criteria beside the environment’s components: length (share of the action limit used), coverage (share of the prompt’s words repeated)',
  },
  initialWeights: {
    type: 'object',
    doc: "the starting rubric, weight per criterion name (default: uniform over the environment's components and the text criteria)",
  },
  keepTrueReward: {
    type: 'boolean',
    default: false,
    doc: "true: the environment's components stay in the training reward beside the judge's score",
  },
} as const;

/** The judge's rubric: weights over named criteria (summing to 1) and how many times the meta step rewrote them. */
export interface Rubric {
  version: number;
  weights: Record<string, number>;
}

/** One judged sample as the meta step reads it: its score per criterion and the hidden check. */
export interface RubricSample {
  criteria: Readonly<Record<string, number>>;
  passed: boolean;
}

export interface MetaStepOptions {
  threshold: number;
  margin: number;
  minFailures: number;
  decay: number;
}

/** The judge's score: the rubric's weighted mean of the criteria (each in [0, 1]). */
export function judgeScore(rubric: Rubric, criteria: Readonly<Record<string, number>>): number {
  let total = 0;
  let score = 0;
  for (const [name, w] of Object.entries(rubric.weights)) {
    total += w;
    score += w * (criteria[name] ?? 0);
  }
  return total > 0 ? score / total : 0;
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/**
 * The criteria of the rubric that the samples show gamed: weighted, at least `minFailures` failed
 * samples, the failed samples' mean score on it at least `threshold`, and within `margin` of the
 * successful samples' mean (0 when no sample succeeded: nothing shows that it separates).
 */
export function gamedCriteria(rubric: Rubric, samples: readonly RubricSample[], o: MetaStepOptions): string[] {
  const failed = samples.filter((s) => !s.passed);
  const passed = samples.filter((s) => s.passed);
  if (failed.length < o.minFailures) return [];
  return Object.entries(rubric.weights)
    .filter(([, w]) => w > 0)
    .map(([name]) => name)
    .filter((name) => {
      const fooled = mean(failed.map((s) => s.criteria[name] ?? 0));
      const earned = mean(passed.map((s) => s.criteria[name] ?? 0));
      return fooled >= o.threshold && fooled + o.margin >= earned;
    });
}

/**
 * MPO's meta step, as a rule: the gamed criteria's weights are scaled by `decay` and the rubric
 * renormalised; the version moves exactly when the weights do. When every weighted criterion is
 * gamed, scaling them all changes nothing after renormalising, and the rubric stays.
 */
export function metaStep(
  rubric: Rubric,
  samples: readonly RubricSample[],
  o: MetaStepOptions,
): { rubric: Rubric; gamed: string[] } {
  const gamed = gamedCriteria(rubric, samples, o);
  const active = Object.entries(rubric.weights).filter(([, w]) => w > 0);
  if (gamed.length === 0 || gamed.length === active.length) return { rubric, gamed };
  const scaled = Object.fromEntries(
    Object.entries(rubric.weights).map(([name, w]) => [name, gamed.includes(name) ? w * o.decay : w]),
  );
  const total = Object.values(scaled).reduce((a, b) => a + b, 0);
  const weights = Object.fromEntries(Object.entries(scaled).map(([name, w]) => [name, w / total]));
  return { rubric: { version: rubric.version + 1, weights }, gamed };
}

const words = (text: string) => new Set(text.toLowerCase().match(/[a-z0-9]+/g) ?? []);

/**
 * A rollout's score per criterion, each in [0, 1]: the environment's components (unshaped, clamped),
 * `length` (the mean share of the action limit its actions use) and `coverage` (the share of the
 * first observation's distinct words its actions repeat: the keyword count a lenient judge rewards).
 */
export function rubricCriteria(
  rollout: Rollout,
  ctx: Pick<ShapeContext, 'components' | 'maxNewTokens'>,
  textCriteria: readonly string[],
): Record<string, number> {
  const reward = (rollout.meta?.unshapedReward as Rollout['reward'] | undefined) ?? rollout.reward;
  const clamp = (x: number) => Math.min(1, Math.max(0, x));
  const out: Record<string, number> = {};
  for (const c of ctx.components) out[c] = clamp(reward[c] ?? 0);
  if (textCriteria.includes('length'))
    out.length = clamp(mean(rollout.turns.map((t) => t.actionTokens.length / Math.max(1, ctx.maxNewTokens))));
  if (textCriteria.includes('coverage')) {
    const prompt = words(rollout.turns[0]?.observation ?? '');
    const said = words(rollout.turns.map((t) => t.action).join(' '));
    out.coverage = prompt.size ? [...prompt].filter((w) => said.has(w)).length / prompt.size : 0;
  }
  return out;
}

interface RunState {
  rubric: Rubric;
  /** Samples judged since the last meta step. */
  recent: RubricSample[];
  rewrites: { step: number; version: number; gamed: string[] }[];
}

export function mpoEvolvingRubric(options: MpoRubricOptions = {}): RewardShaper {
  const o = resolveOptions<Required<Omit<MpoRubricOptions, 'initialWeights'>> & Pick<MpoRubricOptions, 'initialWeights'>>(
    'mpo-evolving-rubric',
    OPTIONS,
    options as Record<string, unknown>,
  );
  for (const key of ['interval', 'samples', 'minFailures'] as const)
    if (!(o[key] >= 1)) throw new UsageError(`mpo-evolving-rubric: option '${key}' must be >= 1, got ${o[key]}`);
  for (const key of ['threshold', 'decay'] as const)
    if (!(o[key] >= 0 && o[key] <= 1))
      throw new UsageError(`mpo-evolving-rubric: option '${key}' must be in [0, 1], got ${o[key]}`);
  if (!(o.margin >= 0)) throw new UsageError(`mpo-evolving-rubric: option 'margin' must be >= 0, got ${o.margin}`);
  for (const c of o.textCriteria)
    if (!(TEXT_CRITERIA as readonly unknown[]).includes(c))
      throw new UsageError(`mpo-evolving-rubric: unknown text criterion '${String(c)}'; accepted: ${TEXT_CRITERIA.join(', ')}`);
  const meta: MetaStepOptions = { threshold: o.threshold, margin: o.margin, minFailures: o.minFailures, decay: o.decay };

  const state = perRun<RunState>((ctx) => {
    const names = [...ctx.components, ...o.textCriteria];
    const given = o.initialWeights;
    if (given)
      for (const [name, w] of Object.entries(given))
        if (!names.includes(name) || !(typeof w === 'number' && w >= 0))
          throw new UsageError(
            `mpo-evolving-rubric: initialWeights.${name} must name a criterion (${names.join(', ')}) with a weight >= 0, got ${JSON.stringify(w)}`,
          );
    const raw = names.map((n) => (given ? (given[n] ?? 0) : 1));
    const total = raw.reduce((a, b) => a + b, 0);
    if (!(total > 0)) throw new UsageError('mpo-evolving-rubric: initialWeights must give some criterion a positive weight');
    return {
      rubric: { version: 0, weights: Object.fromEntries(names.map((n, k) => [n, (raw[k] as number) / total])) },
      recent: [],
      rewrites: [],
    };
  });

  return defineShaper({
    name: 'mpo-evolving-rubric',
    summary:
      "MPO: the reward is a rubric judge's score; every `interval` steps a meta step reads recent samples against a hidden check and scales down the criteria the policy games (the rubric versioned in checkpoints)",
    paper: {
      title: 'Toward Evaluative Thinking: Meta Policy Optimization with Evolving Reward Models',
      arxiv: '2504.20157',
      year: 2025,
    },
    options: OPTIONS,
    resolved: o,
    adds: [{ name: 'rubric', weight: 1 }],
    math: '$J_v(y) = \\sum_k w^{(v)}_k c_k(y)$, $\\sum_k w^{(v)}_k = 1$; every $I$ steps, on $N$ recent samples with hidden check $h$: $k$ is gamed when $\\bar c_k^{h=0} \\ge \\tau$ and $\\bar c_k^{h=0} + m \\ge \\bar c_k^{h=1}$; then $w_k \\leftarrow \\delta w_k$, renormalise, $v \\leftarrow v + 1$',
    unverified: [
      'adaptation: adapted. The paper’s reward model is an LLM judge reading a rubric prompt and its meta-reward model a larger LLM that analyses recent samples and rewrites the prompt (refine and merge); here the judge is a weighted rubric over rule criteria and the meta step a rule that reads the samples’ hidden check (the episode’s success, never shown to the judge) and scales gamed criteria down. No criterion is written anew: the rubric can only move weight between the criteria it starts with.',
      'The paper’s meta step rewrites the rubric at every interval; here the version moves only when a criterion is found gamed (so it counts rewrites that changed the reward).',
      'The gaming rule (threshold 0.5, margin 0.1, at least 3 failed samples), the decay 0.5, the text criteria and the uniform starting rubric are ours. Interval 10 and 20 samples are the released code’s defaults.',
      'The judge and the meta step are rules over the text and the environment’s verdict: no model is called, so there is nothing beyond the episodes to charge (as with an environment’s own checks). The paper’s judge and meta-judge are LLM calls.',
      'The paper trains by PPO with a value model; the Method here is GRPO on the judge’s score.',
    ],
    configure: (next) => mpoEvolvingRubric({ ...o, ...next }),
    save() {
      const s = state.current();
      return s && structuredClone(s);
    },
    load(saved) {
      state.restore(structuredClone(saved) as RunState);
    },
    shape(rollouts: readonly Rollout[], ctx: ShapeContext) {
      const s = state(ctx);
      const zero = (v: Readonly<Record<string, number>>) =>
        o.keepTrueReward
          ? { ...v }
          : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, ctx.components.includes(k) ? 0 : x]));
      const judged = rollouts.map((r) => {
        const criteria = rubricCriteria(r, ctx, o.textCriteria);
        return { criteria, score: judgeScore(s.rubric, criteria), passed: r.success };
      });
      const shaped = rollouts.map((r, i) => {
        const score = (judged[i] as (typeof judged)[number]).score;
        const last = r.turns.length - 1;
        return reshaped(
          r,
          { ...zero(r.reward), rubric: score },
          r.turns.map((t, k) => ({ ...zero(t.reward), rubric: k === last ? score : 0 })),
        );
      });
      ctx.log?.('judgeMean', mean(judged.map((j) => j.score)));
      // Rollouts the judge rates at least 0.5 whose hidden check fails: the reward hacking MPO targets.
      ctx.log?.('hackRate', mean(judged.map((j) => (j.score >= 0.5 && !j.passed ? 1 : 0))));
      s.recent.push(...judged.map(({ criteria, passed }) => ({ criteria, passed })));
      // Steps count from 1: the meta step follows steps interval, 2 interval, ...
      if (ctx.step % o.interval === 0) {
        const rng = ctx.rng.split('mpo-meta');
        const pool = rng.shuffle(s.recent.map((_, k) => k)).slice(0, o.samples);
        const { rubric, gamed } = metaStep(
          s.rubric,
          pool.map((k) => s.recent[k] as RubricSample),
          meta,
        );
        if (rubric.version !== s.rubric.version) s.rewrites.push({ step: ctx.step, version: rubric.version, gamed });
        s.rubric = rubric;
        s.recent = [];
        ctx.log?.('gamed', gamed.length);
      }
      ctx.log?.('version', s.rubric.version);
      for (const [name, w] of Object.entries(s.rubric.weights)) ctx.log?.(`weight.${name}`, w);
      return shaped;
    },
  });
}
