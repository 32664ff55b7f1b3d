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
import { BOS, type CharTokenizer } from '../tokenizer/char-tokenizer.js';
import type { JudgeAccuracy } from './api.js';
import { disposeBatch, microBatchSize, type TrainingRow, toTensors } from './batch.js';
import { binomialUpperTail } from './evaluate.js';
import { promptFor } from './rollouts.js';

/** log pi(yes) - log pi(no) after each prompt (read as a rollout reads an observation, within `limit` tokens). */
export async function verdictScores(
  policy: PolicyModel,
  tokenizer: CharTokenizer,
  judge: Pick<SelfJudge, 'yes' | 'no'>,
  prompts: readonly string[],
  limit: number,
): Promise<number[]> {
  const yes = tokenizer.encode(judge.yes);
  const no = tokenizer.encode(judge.no);
  const rows: TrainingRow[] = prompts.flatMap((prompt) => {
    const tokens = promptFor([BOS], tokenizer.encode(prompt), limit);
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

export interface SelfJudgeResult {
  /** Ranking of held-out (succeeded, failed) pairs: the policy now against the policy at the start of the run. */
  accuracy: JudgeAccuracy;
  /** Best of each test task's samples by the policy's own verdict: its success (ties: the first sample). */
  rerank: { success: number; samples: number };
}

/**
 * The policy's self-judging on evaluation's sampled groups (one group per test task, single-turn
 * rollouts): pair accuracy now and at the start (one-sided exact McNemar test), and self-rerank.
 */
export async function selfJudgeEvaluation(
  groups: readonly (readonly Rollout[])[],
  judge: SelfJudge,
  models: { now: PolicyModel; start: PolicyModel },
  tokenizer: CharTokenizer,
  limit: number,
): Promise<SelfJudgeResult> {
  const all = groups.flat();
  const prompts = all.map((r) => judge.prompt(r.turns[0]?.observation ?? '', r.turns[0]?.action ?? ''));
  const now = await verdictScores(models.now, tokenizer, judge, prompts, limit);
  const start = await verdictScores(models.start, tokenizer, judge, prompts, limit);
  const index = new Map(all.map((r, i) => [r, i]));
  const pairs: [number, number][] = [];
  for (const group of groups)
    for (const won of group.filter((r) => r.success))
      for (const lost of group.filter((r) => !r.success)) pairs.push([index.get(won) as number, index.get(lost) as number]);
  const right = (scores: readonly number[]) => pairs.map(([w, l]) => (scores[w] as number) > (scores[l] as number));
  const a = right(now);
  const b = right(start);
  const onlyNow = a.filter((c, i) => c && !b[i]).length;
  const onlyStart = b.filter((c, i) => c && !a[i]).length;
  let chosen = 0;
  for (const group of groups) {
    let best: Rollout | undefined;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (const r of group) {
      const score = now[index.get(r) as number] as number;
      if (score > bestScore) {
        best = r;
        bestScore = score;
      }
    }
    if (best?.success) chosen += 1;
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
