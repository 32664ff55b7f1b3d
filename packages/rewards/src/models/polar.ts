/**
 * POLAR (Dou et al., "Pre-Trained Policy Discriminators are General Reward Models", arXiv
 * 2507.05197; code InternLM/POLAR). The reward model is a policy discriminator: RM(x, y_ref, y)
 * scores how likely the candidate y comes from the same policy as the reference y_ref. It is
 * pre-trained on a zoo of policies: for a prompt x, two samples y_A1, y_A2 of one policy and one
 * sample y_B of another give the Bradley-Terry pair RM(x, y_A1, y_A2) > RM(x, y_A1, y_B); then
 * fine-tuned on (prompt, reference, chosen, rejected) triplets; in RL the reward of a rollout is
 * RM(x, gold reference, rollout), the model frozen.
 *
 * Here the zoo is what a run has: its own policy as RL starts at several temperatures, the same
 * seed's weights before the SFT warm start, the environment's expert (its demonstrations) and the
 * last checkpoints of earlier runs; the triplets of the fine-tuning stage are ordered by the
 * environment's verifier (in place of human labels); the gold reference is the expert's answer.
 * The trainer runs the pre-training phase (loop/reward-pretraining.ts) and charges it to its own
 * report, like the SFT start.
 */
import {
  type AdvantageEstimator,
  defineEstimator,
  defineRewardModel,
  type Environment,
  PAIR_JOIN,
  type RewardExamples,
  type RewardModel,
  type Rng,
  type Rollout,
  resolveOptions,
  type ScoredText,
  UsageError,
  type ZooPolicy,
  type ZooPrompt,
} from '@policy-lab/core';
import { checkModelOptions, type ModelSizeOptions, modelOptionSpecs } from './model-options.js';
import { groupZScores } from './reasonflux-blend.js';

export const POLAR_PAPER = {
  title: 'Pre-Trained Policy Discriminators are General Reward Models',
  arxiv: '2507.05197',
  year: 2025,
} as const;

/** The reward component the discriminator's score becomes. */
export const POLAR_COMPONENT = 'polarScore';

type Pair = NonNullable<RewardExamples['pairs']>[number];

/**
 * What the discriminator reads: the prompt and the reference answer as the context (joined by a
 * character no environment's alphabet holds, so the boundary cannot be confused with either), the
 * candidate as the text.
 */
export function polarText(prompt: string, reference: string, candidate: string): ScoredText {
  return { context: `${prompt}${PAIR_JOIN}${reference}`, text: candidate };
}

/**
 * Policy discriminative pairs: for every prompt and every ordered pair of distinct zoo policies
 * (A, B), two different samples of A (the reference y_A1 and the chosen y_A2) and one sample of B
 * (the rejected y_B), drawn by the rng; a pair whose chosen and rejected texts are equal carries
 * no preference and is skipped. Each policy needs at least 2 samples (a deterministic policy's
 * repeat).
 */
export function polarPairs(prompts: readonly ZooPrompt[], rng: Rng): Pair[] {
  const pairs: Pair[] = [];
  prompts.forEach((prompt, p) => {
    const draw = rng.split(`prompt/${p}`);
    const policies = prompt.samples.length;
    for (let a = 0; a < policies; a++)
      for (let b = 0; b < policies; b++) {
        if (a === b) continue;
        const own = prompt.samples[a] ?? [];
        const other = prompt.samples[b] ?? [];
        if (own.length < 2 || other.length < 1) continue;
        const [i, j] = draw.shuffle(own.map((_, k) => k)).slice(0, 2) as [number, number];
        const reference = (own[i] as { text: string }).text;
        const chosen = (own[j] as { text: string }).text;
        const rejected = (other[draw.int(0, other.length - 1)] as { text: string }).text;
        if (chosen === rejected) continue;
        pairs.push({ ...polarText(prompt.context, reference, chosen), chosen, rejected });
      }
  });
  return pairs;
}

/**
 * The fine-tuning triplets (POLAR's (prompt, reference, chosen, rejected)): the reference is the
 * expert's answer, chosen a sample the environment accepts and rejected one it rejects, both from
 * the sampled policies (not the expert's own), at most `cap` over all prompts, drawn uniformly.
 */
export function polarPreferencePairs(prompts: readonly ZooPrompt[], expert: number, cap: number, rng: Rng): Pair[] {
  const all: Pair[] = [];
  for (const prompt of prompts) {
    if (prompt.reference === undefined) continue;
    const sampled = prompt.samples.filter((_, k) => k !== expert).flat();
    const accepted = [...new Set(sampled.filter((s) => s.success).map((s) => s.text))];
    const rejected = [...new Set(sampled.filter((s) => !s.success).map((s) => s.text))];
    for (const chosen of accepted)
      for (const wrong of rejected) all.push({ ...polarText(prompt.context, prompt.reference, chosen), chosen, rejected: wrong });
  }
  return all.length > cap ? rng.shuffle(all).slice(0, cap) : all;
}

/** Each task's expert answer by task id (the run's training split and the test split), or what the environment lacks. */
export function expertAnswers(env: Environment, run: { seed: number }): (rollout: Rollout) => string | undefined {
  const missing: string[] = [];
  if (!env.demonstrate) missing.push('reference answers (demonstrate)');
  if (env.maxTurns !== 1) missing.push('single-turn episodes');
  if (missing.length > 0)
    throw new UsageError(
      `reward model 'polar' needs ${missing.join(' and ')}, which environment '${env.name}' does not have (it scores one answer against the expert's reference answer)`,
    );
  const demonstrate = env.demonstrate as NonNullable<Environment['demonstrate']>;
  let known: Map<string, unknown> | undefined;
  return (rollout) => {
    known ??= new Map(
      [...env.tasks('test', { seed: 0 }), ...env.tasks('train', { seed: run.seed })].map((t) => [env.taskId(t), t]),
    );
    // A task written during the run (an evolving pool) is read back from its first observation.
    if (!known.has(rollout.taskId)) known.set(rollout.taskId, env.parseTask?.(rollout.turns[0]?.observation ?? ''));
    const task = known.get(rollout.taskId);
    return task === undefined ? undefined : demonstrate(task).join(' ');
  };
}

export interface PolarOptions extends Partial<Omit<ModelSizeOptions, 'architecture' | 'updatesPerStep' | 'replay'>> {
  prompts?: number;
  samples?: number;
  heldOut?: number;
  updates?: number;
  temperatures?: number[];
  init?: boolean;
  expert?: boolean;
  runs?: string[];
  preferencePairs?: number;
  finetuneUpdates?: number;
}

const SIZE = modelOptionSpecs({ dim: 64, layers: 2, heads: 4, learningRate: 1e-3, updatesPerStep: 1, replay: 0, batch: 32 });

const OPTIONS = {
  dim: SIZE.dim,
  layers: SIZE.layers,
  heads: SIZE.heads,
  learningRate: SIZE.learningRate,
  batch: { ...SIZE.batch, doc: 'pairs per pre-training update' },
  prompts: { type: 'integer', default: 192, doc: 'training tasks every zoo policy answers in the pre-training phase' },
  samples: { type: 'integer', default: 2, doc: 'samples per zoo policy and prompt (at least 2: a reference and a chosen)' },
  heldOut: { type: 'number', default: 0.25, doc: 'share of the prompts held out to measure the discriminator' },
  updates: { type: 'integer', default: 250, doc: 'pre-training updates on the policy discriminative pairs' },
  temperatures: {
    type: 'array',
    default: [0.5, 1, 2],
    doc: 'temperatures at which the policy as RL starts joins the zoo (each a policy of its own)',
  },
  init: { type: 'boolean', default: true, doc: "the seed's weights before the SFT warm start join the zoo (at temperature 1)" },
  expert: { type: 'boolean', default: true, doc: "the environment's expert (its demonstrations) joins the zoo" },
  runs: {
    type: 'array',
    default: [],
    doc: 'folders of finished runs (bench train --out) whose last checkpoints join the zoo at temperature 1',
  },
  preferencePairs: {
    type: 'integer',
    default: 256,
    doc: 'fine-tuning triplets (expert reference, accepted, rejected zoo samples) at most; 0: no fine-tuning stage',
  },
  finetuneUpdates: { type: 'integer', default: 50, doc: 'updates of the fine-tuning stage' },
} as const;

const UNVERIFIED = [
  'adaptation: direct in mechanism (a reference-conditioned discriminator pre-trained on a policy zoo by two-of-A-against-one-of-B Bradley-Terry pairs, fine-tuned on reference triplets, then the frozen reward of RL against a gold reference); our discriminator is a small transformer pre-trained at the start of each run, where the paper pre-trains 1.8B and 7B models once on a corpus of many LLM policies.',
  "The zoo is ours: the run's policy after the SFT warm start at temperatures 0.5, 1 and 2, the same seed's weights before the SFT warm start, the environment's expert (a deterministic policy: its two samples are the same answer), and the last checkpoints of earlier runs given by name (runs). The paper's pool sizes and sampling schedule were read only in a summary.",
  "The fine-tuning triplets are ordered by the environment's verifier on the zoo's samples (the paper uses human preference triplets); their reference is the expert's answer, as the RL reference is.",
  'Pairs whose chosen and rejected texts are equal are skipped (they carry no preference); the paper does not say what it does with them.',
  'The model stays frozen during RL, as in the released PPO examples (the reward model is a served, fixed model).',
];

/** The zoo the options describe, in order. */
function zooOf(o: Required<PolarOptions>): ZooPolicy[] {
  return [
    ...o.temperatures.map((temperature) => ({ kind: 'start' as const, temperature })),
    ...(o.init ? [{ kind: 'init' as const, temperature: 1 }] : []),
    ...(o.expert ? [{ kind: 'expert' as const }] : []),
    ...o.runs.map((folder) => ({ kind: 'run' as const, folder, temperature: 1 })),
  ];
}

export function polar(options: PolarOptions = {}): RewardModel {
  const o = resolveOptions<Required<PolarOptions>>('polar', OPTIONS, options as Record<string, unknown>);
  checkModelOptions('polar', { ...o, architecture: 'transformer', updatesPerStep: 1, replay: 0 }, ['prompts', 'updates']);
  if (!(o.samples >= 2))
    throw new RangeError(`polar: samples must be an integer >= 2 (a reference and a chosen), got ${o.samples}`);
  if (!(o.heldOut >= 0 && o.heldOut < 1)) throw new RangeError(`polar: heldOut must be in [0, 1), got ${o.heldOut}`);
  if (!(o.preferencePairs >= 0 && o.finetuneUpdates >= 0))
    throw new RangeError(
      `polar: preferencePairs and finetuneUpdates must be >= 0, got ${o.preferencePairs}, ${o.finetuneUpdates}`,
    );
  if (o.temperatures.some((t) => !(typeof t === 'number' && t > 0)))
    throw new RangeError(`polar: temperatures must be numbers > 0, got ${JSON.stringify(o.temperatures)}`);
  if (o.runs.some((r) => typeof r !== 'string' || r === ''))
    throw new RangeError(`polar: runs must be run folder paths, got ${JSON.stringify(o.runs)}`);
  const zoo = zooOf(o);
  if (zoo.length < 2)
    throw new RangeError(`polar: the zoo needs at least 2 policies (temperatures, init, expert, runs give ${zoo.length})`);
  const expert = zoo.findIndex((p) => p.kind === 'expert');
  const base = {
    name: 'polar',
    aliases: ['polar-ref-discriminator'],
    summary:
      "POLAR's policy discriminator: scores (prompt, expert reference, answer) by how much the answer looks like the reference's policy; pre-trained before RL on a policy zoo (two samples of one policy against one of another), fine-tuned on verifier-ordered triplets, frozen in RL",
    paper: POLAR_PAPER,
    options: OPTIONS,
    resolved: o,
    unverified: UNVERIFIED,
    math: 'Pre-training: $\\mathcal L = -\\log\\sigma(r_\\phi(x, y_{A1}, y_{A2}) - r_\\phi(x, y_{A1}, y_B))$ over prompts $x$ and zoo policies $A \\ne B$; fine-tuning: $-\\log\\sigma(r_\\phi(x, y^{ref}, y^+) - r_\\phi(x, y^{ref}, y^-))$; RL reward $r = r_\\phi(x, y^{ref}, y)$ with $y^{ref}$ the expert answer',
    architecture: { kind: 'transformer' as const, dim: o.dim, layers: o.layers, heads: o.heads },
    learningRate: o.learningRate,
    updatesPerStep: 1,
    objective: 'bradley-terry' as const,
    // Weight 0: the `polar` estimator reads the score itself.
    component: { name: POLAR_COMPONENT, weight: 0 },
    pretraining: {
      zoo,
      prompts: o.prompts,
      samplesPerPolicy: o.samples,
      heldOut: o.heldOut,
      updates: o.updates,
      batch: o.batch,
      examples: (prompts: readonly ZooPrompt[], rng: Rng) => ({ pairs: polarPairs(prompts, rng) }),
      ...(o.preferencePairs > 0 && o.finetuneUpdates > 0
        ? {
            finetune: (prompts: readonly ZooPrompt[], rng: Rng) => ({
              pairs: polarPreferencePairs(prompts, expert, o.preferencePairs, rng),
            }),
            finetuneUpdates: o.finetuneUpdates,
          }
        : {}),
    },
    // Frozen during RL: no online examples.
    examples: (): RewardExamples => ({}),
    configure: (next: Readonly<Record<string, unknown>>) => polar({ ...o, ...next }),
  };
  return defineRewardModel({
    ...base,
    text() {
      throw new UsageError(
        "reward model 'polar' reads each task's expert reference: it must be bound to the run's environment (the trainer does this)",
      );
    },
    bind(env: Environment, run: { seed: number }): RewardModel {
      const reference = expertAnswers(env, run);
      const bound: RewardModel = defineRewardModel({
        ...base,
        text: (rollout) =>
          polarText(rollout.turns[0]?.observation ?? '', reference(rollout) ?? '', rollout.turns[0]?.action ?? ''),
        bind: () => bound,
      });
      return bound;
    },
  });
}

export interface PolarEstimatorOptions {
  eps?: number;
}

const ESTIMATOR_OPTIONS = {
  eps: { type: 'number', default: 1e-6, doc: "added to the group std before dividing (verl's GRPO epsilon)" },
} as const;

/**
 * GRPO on the discriminator's score alone: the paper's RL reward is the POLAR score of the rollout
 * against the gold reference (its released PPO examples add no rule reward).
 */
export function polarEstimator(options: PolarEstimatorOptions = {}): AdvantageEstimator {
  const o = resolveOptions<Required<PolarEstimatorOptions>>('polar', ESTIMATOR_OPTIONS, options as Record<string, unknown>);
  if (!(o.eps >= 0)) throw new RangeError(`polar: option 'eps' must be >= 0, got ${o.eps}`);
  return defineEstimator({
    name: 'polar',
    summary:
      "POLAR's policy reward: GRPO advantages of the frozen pre-trained discriminator's score against the expert reference",
    paper: POLAR_PAPER,
    options: ESTIMATOR_OPTIONS,
    resolved: o,
    needsModel: true,
    unverified: [
      "The paper's RL is PPO with a critic (GAE gamma 1, lambda 1, one rollout per prompt, no KL); here the score is normalised per group as GRPO does, so that it is compared with grpo at equal group size.",
    ],
    math: `$r_i = r_\\phi(x, y^{ref}, y_i)$, $A_i = (r_i - \\operatorname{mean}(r))/(\\operatorname{std}(r) + ${o.eps})$`,
    configure: (next) => polarEstimator({ ...o, ...next }),
    compute(groups) {
      const scores = groups.map((group) =>
        group.map((r) => {
          const s = r.reward[POLAR_COMPONENT];
          if (typeof s !== 'number')
            throw new UsageError(
              `polar: rollout ${r.id} has no '${POLAR_COMPONENT}' score; the run needs the reward model 'polar' (--set rewardModels=polar)`,
            );
          return s;
        }),
      );
      const flat = groups.flat();
      const all = scores.flat();
      const mean = (values: readonly number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0);
      return {
        rollout: scores.map((s) => groupZScores(s, o.eps)),
        weights: groups.map((group) => group.map(() => 1)),
        diagnostics: {
          scoreMean: mean(all),
          scoreOfCorrect: mean(all.filter((_, k) => flat[k]?.success)),
          scoreOfWrong: mean(all.filter((_, k) => !flat[k]?.success)),
        },
      };
    },
  });
}
