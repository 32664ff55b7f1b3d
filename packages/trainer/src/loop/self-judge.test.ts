import { Rng, type Rollout, type SelfJudge } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { createPolicy } from '../model/transformer.js';
import { BOS, CharTokenizer, SEP } from '../tokenizer/char-tokenizer.js';
import { judgePairs, selfJudgeEvaluation, verdictScores } from './self-judge.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

const tokenizer = CharTokenizer.fromAlphabet('use 0123456789+-*/()mak');
const model = (seed: number) =>
  createPolicy(
    { dim: 16, layers: 1, heads: 2, contextLength: 32, mlpRatio: 2, valueHead: false, vocabSize: tokenizer.vocabSize },
    Rng.seeded(seed),
  );
const judge: SelfJudge = { name: 'self', prompt: (o, a) => `${o} ${a} ask`, yes: '1', no: '0' };

function rollout(observation: string, action: string, success: boolean, id: string): Rollout {
  return {
    id,
    groupId: id.split('/')[0] as string,
    taskId: observation,
    turns: [{ observation, action, promptTokens: [], actionTokens: [], logprobs: [], reward: {}, valid: true, truncated: false }],
    reward: {},
    success,
  };
}

const groups: Rollout[][] = [
  [
    rollout('use 3 5 make 8', '3+5', true, 'a/0'),
    rollout('use 3 5 make 8', '3*5', false, 'a/1'),
    rollout('use 3 5 make 8', '3*5', false, 'a/2'),
    rollout('use 3 5 make 8', '5+3', true, 'a/3'),
  ],
  [
    rollout('use 9 2 make 7', '9+2', false, 'b/0'),
    rollout('use 9 2 make 7', '9-2', true, 'b/1'),
    rollout('use 9 2 make 7', '2-9', false, 'b/2'),
    rollout('use 9 2 make 7', '9*2', false, 'b/3'),
  ],
  [rollout('use 4 4 make 1', '4-4', false, 'c/0'), rollout('use 4 4 make 1', '4+4', false, 'c/1')],
];

describe('self-judging', () => {
  it('a verdict score is log pi(yes) - log pi(no) after [bos] prompt [sep], as a rollout reads the judge prompt', async () => {
    const policy = model(3);
    const prompts = ['use 3 5 make 8 3+5 ask', 'use 9 2 make 7 2-9 ask'];
    const scores = await verdictScores(policy, tokenizer, judge, prompts, 24);
    for (const [i, prompt] of prompts.entries()) {
      const context = [BOS, ...tokenizer.encode(prompt), SEP];
      const logp = (verdict: string) =>
        tf.tidy(() => {
          const tokens = [...context, ...tokenizer.encode(verdict)];
          const { logprobs } = policy.score(
            tf.tensor2d([tokens.slice(0, -1)], [1, tokens.length - 1], 'int32'),
            tf.tensor2d([tokens.slice(1)], [1, tokens.length - 1], 'int32'),
          );
          return (logprobs.arraySync() as number[][])[0]?.at(-1) as number;
        });
      expect(scores[i]).toBeCloseTo(logp('1') - logp('0'), 4);
    }
  });

  it('held-out pairs are the distinct (succeeded, failed) pairs within each task; a group without both gives none', () => {
    expect(judgePairs(groups, judge)).toEqual([
      ['use 3 5 make 8 3+5 ask', 'use 3 5 make 8 3*5 ask'],
      ['use 3 5 make 8 5+3 ask', 'use 3 5 make 8 3*5 ask'],
      ['use 9 2 make 7 9-2 ask', 'use 9 2 make 7 9+2 ask'],
      ['use 9 2 make 7 9-2 ask', 'use 9 2 make 7 2-9 ask'],
      ['use 9 2 make 7 9-2 ask', 'use 9 2 make 7 9*2 ask'],
    ]);
  });

  it('self-rerank takes each task’s best-scored sample; the same judge now and at the start agrees with itself (p = 1); another judge is compared pair by pair', async () => {
    const policy = model(5);
    const pairs = judgePairs(groups, judge);
    const same = await selfJudgeEvaluation(pairs, groups, judge, { now: policy, start: policy }, tokenizer, 24);
    expect(same.accuracy.accuracy).toBe(same.accuracy.untrainedAccuracy);
    expect(same.accuracy.pValue).toBe(1);
    expect(same.accuracy.pairs).toBe(5);
    const scores = await verdictScores(
      policy,
      tokenizer,
      judge,
      groups.flat().map((r) => judge.prompt(r.turns[0]?.observation ?? '', r.turns[0]?.action ?? '')),
      24,
    );
    let k = 0;
    let chosen = 0;
    for (const group of groups) {
      const mine = scores.slice(k, k + group.length);
      if (group[mine.indexOf(Math.max(...mine))]?.success) chosen += 1;
      k += group.length;
    }
    expect(same.rerank).toEqual({ success: chosen / 3, samples: 4 });
    const other = await selfJudgeEvaluation(pairs, groups, judge, { now: model(6), start: policy }, tokenizer, 24);
    expect(other.accuracy.untrainedAccuracy).toBe(same.accuracy.accuracy);
    const right = async (p: ReturnType<typeof model>) => {
      const s = await verdictScores(p, tokenizer, judge, pairs.flat(), 24);
      return pairs.filter((_, i) => (s[2 * i] as number) > (s[2 * i + 1] as number)).length / pairs.length;
    };
    expect(other.accuracy.accuracy).toBe(await right(model(6)));
  });
});
