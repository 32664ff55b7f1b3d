/**
 * A reward model's pre-training phase on a policy zoo (POLAR, Dou et al., "Pre-Trained Policy
 * Discriminators are General Reward Models", arXiv 2507.05197): before RL starts, every zoo policy
 * answers the same training prompts; the plugin turns the answers into pairs (POLAR: two samples of
 * one policy against one of another) and the trainer trains the reward model on them, then on the
 * plugin's fine-tuning pairs, and measures on held-out prompts how often each pair is ranked the
 * plugin's way, by the pre-trained model and by its untrained self.
 *
 * Like the SFT warm start, this phase is not charged to the RL budget: its episodes, generated
 * tokens and the reward model's scored and trained tokens go to its own report.
 */
import {
  type BudgetConsumption,
  type Environment,
  type RewardExamples,
  type RewardModelPretraining,
  Rng,
  type Rollout,
  replayDemonstration,
  rolloutText,
  type TrainConfig,
  UsageError,
  type ZooPolicy,
  type ZooPrompt,
} from '@policy-lab/core';
import type { PolicyModel } from '../model/policy.js';
import { createPolicy } from '../model/transformer.js';
import type { PolicyTokenizer } from '../tokenizer/policy-tokenizer.js';
import { binomialUpperTail } from './evaluate.js';
import type { OwnedRewardModel } from './reward-models.js';
import { collectRollouts, generatedTokens } from './rollouts.js';
import { loadTeacher } from './teacher.js';

/** What the phase did and cost (a side budget, like the SFT start's). */
export interface PretrainingReport {
  /** The zoo, one label per policy (`start@T1`, `init@T1`, `expert`, `run:<folder>@T1`). */
  policies: string[];
  prompts: number;
  heldOutPrompts: number;
  pairs: number;
  finetunePairs: number;
  updates: number;
  /** Mean loss of the first and the last update. */
  firstLoss: number;
  lastLoss: number;
  /** Side budget: zoo episodes and their generated tokens, the reward model's scored and trained tokens. */
  episodes: number;
  generatedTokens: number;
  auxScoredTokens: number;
  auxTrainedTokens: number;
  seconds: number;
  /** On the held-out prompts' pairs: the share whose chosen text scores strictly above its rejected one. */
  heldOut: HeldOutAccuracy;
  /** The same on the held-out prompts' fine-tuning pairs, when there is a fine-tuning stage. */
  heldOutFinetune?: HeldOutAccuracy;
}

export interface HeldOutAccuracy {
  pairs: number;
  accuracy: number;
  /** The same model untrained (the run's seed), on the same pairs. */
  untrainedAccuracy: number;
  /** One-sided exact McNemar test (binomial on the pairs where the two disagree): pre-trained better than untrained. */
  pValue: number;
}

export function zooLabel(policy: ZooPolicy): string {
  if (policy.kind === 'expert') return 'expert';
  const at = `@T${policy.temperature}`;
  return policy.kind === 'run' ? `run:${policy.folder}${at}` : `${policy.kind}${at}`;
}

/** The text of the expert's episode, read as `rolloutText` reads a rollout. */
function demonstrationText(env: Environment, task: unknown, rng: Rng): { text: string; success: boolean } | undefined {
  const demo = replayDemonstration(env, task, rng);
  if (!demo) return undefined;
  const text = demo.turns.map((t, i) => (i === 0 ? t.action : `${t.observation} ${t.action}`)).join(' ');
  return { text, success: demo.success };
}

export interface PretrainInputs {
  owned: OwnedRewardModel;
  /** The same model untrained (never trained, never charged): the held-out baseline. */
  untrained: OwnedRewardModel;
  spec: RewardModelPretraining;
  /** The policy as RL starts. */
  start: PolicyModel;
  env: Environment;
  config: TrainConfig;
  tokenizer: PolicyTokenizer;
  /** Sends the reward model's charges to the given sink while the phase runs (undefined: back to the RL budget). */
  route(sink: ((cost: Partial<BudgetConsumption>) => void) | undefined): void;
}

/** The phase for one reward model; its weights are trained in place. */
export async function pretrainRewardModel(inputs: PretrainInputs): Promise<PretrainingReport> {
  const { owned, untrained, spec, env, config } = inputs;
  const name = owned.plugin.name;
  if (!(spec.heldOut >= 0 && spec.heldOut < 1))
    throw new UsageError(`reward model '${name}': pre-training heldOut must be in [0, 1), got ${spec.heldOut}`);
  if (spec.zoo.length < 2) throw new UsageError(`reward model '${name}': a policy zoo needs at least 2 policies`);
  const t0 = performance.now();
  const rng = Rng.seeded(config.seed).split(`pretrain/${name}`);
  const spent = { episodes: 0, generatedTokens: 0, auxScoredTokens: 0, auxTrainedTokens: 0 };
  const pool = env.tasks('train', { seed: config.seed });
  const tasks = rng
    .split('prompts')
    .shuffle([...pool])
    .slice(0, Math.min(spec.prompts, pool.length));
  const prompts = await zooPrompts(inputs, tasks, rng.split('zoo'), spent);
  const heldOutCount = Math.round(prompts.length * spec.heldOut);
  const trainPrompts = prompts.slice(0, prompts.length - heldOutCount);
  const heldPrompts = prompts.slice(prompts.length - heldOutCount);
  inputs.route((cost) => {
    spent.auxScoredTokens += cost.auxScoredTokens ?? 0;
    spent.auxTrainedTokens += cost.auxTrainedTokens ?? 0;
  });
  try {
    const pairs = spec.examples(trainPrompts, rng.split('pairs')).pairs ?? [];
    const finetune = spec.finetune?.(trainPrompts, rng.split('finetune-pairs')).pairs ?? [];
    const losses: number[] = [];
    const stage = async (pool: NonNullable<RewardExamples['pairs']>, updates: number, tag: string) => {
      const draw = rng.split(tag);
      for (let u = 0; u < (pool.length ? updates : 0); u++) {
        const batch = Array.from({ length: spec.batch }, () => pool[draw.int(0, pool.length - 1)] as (typeof pool)[number]);
        losses.push((await owned.handle.train({ pairs: batch })).loss);
      }
    };
    await stage(pairs, spec.updates, 'updates');
    await stage(finetune, spec.finetuneUpdates ?? 0, 'finetune-updates');
    const heldPairs = spec.examples(heldPrompts, rng.split('held-out-pairs')).pairs ?? [];
    const heldFinetune = spec.finetune?.(heldPrompts, rng.split('held-out-finetune-pairs')).pairs;
    return {
      policies: spec.zoo.map(zooLabel),
      prompts: prompts.length,
      heldOutPrompts: heldPrompts.length,
      pairs: pairs.length,
      finetunePairs: finetune.length,
      updates: losses.length,
      firstLoss: losses[0] ?? Number.NaN,
      lastLoss: losses.at(-1) ?? Number.NaN,
      ...spent,
      seconds: (performance.now() - t0) / 1000,
      heldOut: await pairAccuracy(owned, untrained, heldPairs),
      ...(heldFinetune ? { heldOutFinetune: await pairAccuracy(owned, untrained, heldFinetune) } : {}),
    };
  } finally {
    inputs.route(undefined);
  }
}

/** Every zoo policy's samples on the tasks, prompt by prompt. */
async function zooPrompts(
  inputs: PretrainInputs,
  tasks: readonly unknown[],
  rng: Rng,
  spent: { episodes: number; generatedTokens: number },
): Promise<ZooPrompt[]> {
  const { spec, env, config, tokenizer } = inputs;
  const perPolicy: { text: string; success: boolean }[][][] = [];
  for (const [k, policy] of spec.zoo.entries()) {
    const seeded = rng.split(`policy/${k}`);
    if (policy.kind === 'expert') {
      perPolicy.push(
        tasks.map((task, t) => {
          const demo = demonstrationText(env, task, seeded.split(`${t}`));
          if (!demo)
            throw new UsageError(`the policy zoo's expert needs demonstrations, which environment '${env.name}' has not`);
          // A deterministic policy: its samples repeat.
          return Array.from({ length: spec.samplesPerPolicy }, () => demo);
        }),
      );
      continue;
    }
    const { model, dispose } = zooModel(policy, inputs);
    try {
      const groups = await collectRollouts(
        model,
        tokenizer,
        env,
        tasks.map((task, t) => ({ task, groupId: `zoo${k}/${t}`, count: spec.samplesPerPolicy })),
        { maxNewTokens: config.maxNewTokens, temperature: policy.temperature, rng: seeded },
      );
      const flat: Rollout[] = groups.flat();
      spent.episodes += flat.length;
      spent.generatedTokens += generatedTokens(flat);
      perPolicy.push(groups.map((g) => g.map((r) => ({ text: rolloutText(r).text, success: r.success }))));
    } finally {
      dispose();
    }
  }
  const referenceRng = rng.split('reference');
  return tasks.map((task, t) => {
    const reference = demonstrationText(env, task, referenceRng.split(`${t}`));
    const first = env.start(task, referenceRng.split(`observe/${t}`)).observation();
    return {
      taskId: env.taskId(task),
      context: first,
      ...(reference ? { reference: reference.text } : {}),
      samples: perPolicy.map((samples) => samples[t] as { text: string; success: boolean }[]),
    };
  });
}

/** A sampled zoo policy as a model, and how to let it go (the run's own policy is not disposed). */
function zooModel(
  policy: Exclude<ZooPolicy, { kind: 'expert' }>,
  inputs: PretrainInputs,
): { model: PolicyModel; dispose(): void } {
  const { config, tokenizer } = inputs;
  if (policy.kind === 'start') return { model: inputs.start, dispose: () => {} };
  // The seed's weights before the SFT warm start: train() draws its policy from this same stream.
  const model =
    policy.kind === 'init'
      ? createPolicy({ ...config.model, vocabSize: tokenizer.vocabSize }, Rng.seeded(config.seed).split('init'))
      : loadTeacher(policy.folder, config, tokenizer);
  return { model, dispose: () => model.dispose() };
}

/**
 * The share of pairs the trained and the untrained model rank chosen strictly above rejected, and
 * the one-sided exact McNemar p of "trained better" (not charged: a measurement, like evaluation's).
 */
async function pairAccuracy(owned: OwnedRewardModel, untrained: OwnedRewardModel, pairs: NonNullable<RewardExamples['pairs']>) {
  const texts = pairs.flatMap((p) => [
    { context: p.context, text: p.chosen },
    { context: p.context, text: p.rejected },
  ]);
  const right = async (model: OwnedRewardModel) => {
    const scores = pairs.length ? await model.evaluate(texts) : [];
    return pairs.map((_, i) => (scores[2 * i] as number) > (scores[2 * i + 1] as number));
  };
  const now = await right(owned);
  const before = await right(untrained);
  const onlyNow = now.filter((c, i) => c && !before[i]).length;
  const onlyBefore = before.filter((c, i) => c && !now[i]).length;
  const share = (flags: readonly boolean[]) => (pairs.length ? flags.filter(Boolean).length / pairs.length : 0);
  return {
    pairs: pairs.length,
    accuracy: share(now),
    untrainedAccuracy: share(before),
    pValue: binomialUpperTail(onlyNow, onlyNow + onlyBefore),
  };
}
