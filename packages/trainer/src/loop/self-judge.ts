/**
 * The policy as its own judge at test time (SPARK, arXiv:2509.22624): each sampled answer is
 * scored by the policy's verdict on it, log pi(yes | judge prompt) - log pi(no | judge prompt),
 * teacher-forced on the prompt the policy reads for a pointwise judge task. Two uses in
 * evaluation: ranking held-out (succeeded, failed) pairs of the same test task (against the same
 * judge at the start of the run), and self-rerank, best-of-k chosen by that score.
 */
import type { Rollout, SelfJudge } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import type { PolicyModel } from '../model/policy.js';
import type { PolicyTokenizer } from '../tokenizer/policy-tokenizer.js';
import type { JudgeAccuracy } from './api.js';
import { disposeBatch, microBatchSize, type TrainingRow, toTensors } from './batch.js';
import { binomialUpperTail } from './evaluate.js';
import { promptFor } from './rollouts.js';

/** log pi(yes) - log pi(no) after each prompt (read as a rollout reads an observation, within `limit` tokens). */
export async function verdictScores(
  policy: PolicyModel,
  tokenizer: PolicyTokenizer,
  judge: Pick<SelfJudge, 'yes' | 'no'>,
  prompts: readonly string[],
  limit: number,
): Promise<number[]> {
  const yes = tokenizer.encode(judge.yes);
  const no = tokenizer.encode(judge.no);
  const rows: TrainingRow[] = prompts.flatMap((prompt) => {
    const tokens = promptFor([tokenizer.specials.bos], tokenizer.encode(prompt), limit, tokenizer);
    return [yes, no].map((verdict) => ({
      tokens: [...tokens, ...verdict],
      actionStart: tokens.length,
      oldLogprobs: [],
      advantage: 0,
      weight: 1,
    }));
  });
  const sums: number[] = [];
  const size = microBatchSize(rows, policy.config.heads, 64);
  for (let start = 0; start < rows.length; start += size) {
    const batch = toTensors(rows.slice(start, start + size));
    const summed = tf.tidy(() => {
      const { logprobs } = policy.score(batch.inputs, batch.targets);
      return tf.sum(tf.mul(logprobs, batch.mask), 1);
    });
    sums.push(...(await summed.data()));
    summed.dispose();
    disposeBatch(batch);
  }
  return prompts.map((_, i) => (sums[2 * i] as number) - (sums[2 * i + 1] as number));
}

/** A held-out verified pair: the judge prompts of a succeeded and a failed answer to the same test task. */
export type JudgePair = readonly [won: string, lost: string];

export interface SelfJudgeResult {
  /** Ranking of the held-out pairs: the policy now against the policy at the start of the run. */
  accuracy: JudgeAccuracy;
  /** Best of each test task's samples by the policy's own verdict: its success (ties: the first sample). */
  rerank: { success: number; samples: number };
}

/**
 * Every distinct (succeeded, failed) pair of answers within each group (one group per test task),
 * as judge prompts. Distinct: a policy often repeats an answer, and repeated pairs are one pair, not
 * independent evidence for the test.
 */
export function judgePairs(groups: readonly (readonly Rollout[])[], judge: SelfJudge): JudgePair[] {
  const prompt = (r: Rollout) => judge.prompt(r.turns[0]?.observation ?? '', r.turns[0]?.action ?? '');
  const pairs = new Map<string, JudgePair>();
  for (const group of groups)
    for (const won of group.filter((r) => r.success))
      for (const lost of group.filter((r) => !r.success)) {
        const pair: JudgePair = [prompt(won), prompt(lost)];
        pairs.set(JSON.stringify(pair), pair);
      }
  return [...pairs.values()];
}

/**
 * The policy's self-judging at an evaluation: how it ranks the fixed held-out `pairs` now and at
 * the start of the run (a one-sided exact McNemar test: now better), and self-rerank over the
 * evaluation's sampled groups (one group per test task, single-turn rollouts).
 */
export async function selfJudgeEvaluation(
  pairs: readonly JudgePair[],
  groups: readonly (readonly Rollout[])[],
  judge: SelfJudge,
  models: { now: PolicyModel; start: PolicyModel },
  tokenizer: PolicyTokenizer,
  limit: number,
): Promise<SelfJudgeResult> {
  const texts = pairs.flat();
  const right = async (model: PolicyModel) => {
    const scores = await verdictScores(model, tokenizer, judge, texts, limit);
    return pairs.map((_, i) => (scores[2 * i] as number) > (scores[2 * i + 1] as number));
  };
  const a = await right(models.now);
  const b = await right(models.start);
  const onlyNow = a.filter((c, i) => c && !b[i]).length;
  const onlyStart = b.filter((c, i) => c && !a[i]).length;
  const scores = await verdictScores(
    models.now,
    tokenizer,
    judge,
    groups.flat().map((r) => judge.prompt(r.turns[0]?.observation ?? '', r.turns[0]?.action ?? '')),
    limit,
  );
  let chosen = 0;
  let k = 0;
  for (const group of groups) {
    let best = -1;
    group.forEach((_, i) => {
      if (best < 0 || (scores[k + i] as number) > (scores[k + best] as number)) best = i;
    });
    if (group[best]?.success) chosen += 1;
    k += group.length;
  }
  return {
    accuracy: {
      pairs: pairs.length,
      accuracy: pairs.length ? a.filter(Boolean).length / pairs.length : 0,
      untrainedAccuracy: pairs.length ? b.filter(Boolean).length / pairs.length : 0,
      pValue: binomialUpperTail(onlyNow, onlyNow + onlyStart),
    },
    rerank: { success: groups.length ? chosen / groups.length : 0, samples: Math.max(0, ...groups.map((g) => g.length)) },
  };
}
