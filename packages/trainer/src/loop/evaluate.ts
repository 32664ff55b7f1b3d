/**
 * Evaluation on the fixed test split: success sampled at temperature 1 (mean over k samples:
 * the headline, since RL moves it first), greedy success, pass@k (RL can raise mean@k while
 * narrowing pass@k, so both are reported), mean reward per component, mean action length.
 */
import { type Environment, pairText, type RewardModelHandle, type Rng, type Rollout, type Sampler } from '@policy-lab/core';
import type { PolicyModel } from '../model/policy.js';
import type { PolicyTokenizer } from '../tokenizer/policy-tokenizer.js';
import type { EvalResult, JudgeAccuracy } from './api.js';
import { type OwnedRewardModel, textOf } from './reward-models.js';
import { collectRollouts } from './rollouts.js';

/** A learned reward model and the same model before training. */
export interface Judge {
  trained: OwnedRewardModel;
  untrained: OwnedRewardModel;
}

export async function evaluate(
  policy: PolicyModel,
  tokenizer: PolicyTokenizer,
  env: Environment,
  tasks: readonly unknown[],
  options: {
    samples: number;
    maxNewTokens: number;
    rng: Rng;
    judges?: readonly Judge[];
    /** A sampler that decodes evaluation (`decodes` 'evaluation' or 'both'): the sampled success is its; greedy stays the policy's. */
    sampler?: Sampler;
    rewardModels?: Readonly<Record<string, RewardModelHandle>>;
    /** More figures read from the sampled groups (the policy's self-judging), merged into the result. */
    extra?: (sampled: readonly (readonly Rollout[])[]) => Promise<Partial<EvalResult>>;
  },
): Promise<EvalResult> {
  const requests = tasks.map((task, k) => ({ task, groupId: `eval${k}`, count: options.samples }));
  const sampled = await collectRollouts(policy, tokenizer, env, requests, {
    maxNewTokens: options.maxNewTokens,
    temperature: 1,
    rng: options.rng.split('sampled'),
    ...(options.sampler ? { sampler: options.sampler } : {}),
    ...(options.sampler && options.rewardModels ? { rewardModels: options.rewardModels } : {}),
  });
  const greedy = await collectRollouts(
    policy,
    tokenizer,
    env,
    tasks.map((task, k) => ({ task, groupId: `greedy${k}`, count: 1 })),
    {
      maxNewTokens: options.maxNewTokens,
      temperature: 1,
      greedy: true,
      rng: options.rng.split('greedy'),
    },
  );
  const all = sampled.flat();
  const reward: Record<string, number> = {};
  for (const { name } of env.rewardComponents) reward[name] = all.reduce((a, r) => a + (r.reward[name] ?? 0), 0) / all.length;
  const lengths = all.flatMap((r) => r.turns.map((t) => t.actionTokens.length));
  return {
    success: all.filter((r) => r.success).length / all.length,
    greedySuccess: greedy.flat().filter((r) => r.success).length / tasks.length,
    passAtK: sampled.filter((group) => group.some((r) => r.success)).length / tasks.length,
    reward,
    meanLength: lengths.reduce((a, b) => a + b, 0) / Math.max(1, lengths.length),
    perTask: sampled.map((group) => group.filter((r) => r.success).length / group.length),
    ...(options.judges?.length ? { rewardModels: await judgeAccuracies(options.judges, sampled) } : {}),
    ...(options.extra ? await options.extra(sampled) : {}),
  };
}

async function judgeAccuracies(judges: readonly Judge[], groups: readonly Rollout[][]): Promise<Record<string, JudgeAccuracy>> {
  const pairs: [Rollout, Rollout][] = [];
  for (const group of groups)
    for (const won of group.filter((r) => r.success)) for (const lost of group.filter((r) => !r.success)) pairs.push([won, lost]);
  const out: Record<string, JudgeAccuracy> = {};
  for (const { trained, untrained } of judges) {
    // A pairwise judge is asked about the pair both ways; a pointwise one scores each answer.
    const texts = pairs.flatMap(([won, lost]) =>
      trained.plugin.pairwise
        ? [pairText(won, lost), pairText(lost, won)]
        : [textOf(trained.plugin, won), textOf(trained.plugin, lost)],
    );
    const correct = async (model: OwnedRewardModel) => {
      const scores = await model.evaluate(texts);
      return pairs.map((_, i) => (scores[2 * i] as number) > (scores[2 * i + 1] as number));
    };
    const now = await correct(trained);
    const before = await correct(untrained);
    const onlyNow = now.filter((c, i) => c && !before[i]).length;
    const onlyBefore = before.filter((c, i) => c && !now[i]).length;
    out[trained.plugin.name] = {
      pairs: pairs.length,
      accuracy: pairs.length ? now.filter(Boolean).length / pairs.length : 0,
      untrainedAccuracy: pairs.length ? before.filter(Boolean).length / pairs.length : 0,
      pValue: binomialUpperTail(onlyNow, onlyNow + onlyBefore),
    };
  }
  return out;
}

/** P(X >= k) for X ~ Binomial(n, 1/2), summed in log space (exact to double precision). */
export function binomialUpperTail(k: number, n: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  // log m! for m = 0..n, once.
  const logFactorial = [0];
  for (let m = 1; m <= n; m++) logFactorial.push((logFactorial[m - 1] as number) + Math.log(m));
  const at = (m: number) => logFactorial[m] as number;
  let total = 0;
  for (let m = k; m <= n; m++) total += Math.exp(at(n) - at(m) - at(n - m) - n * Math.LN2);
  return Math.min(1, total);
}
