import { type Environment, Rng, type Rollout } from '@policy-lab/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { evaluate } from '../loop/evaluate.js';
import { collectRollouts } from '../loop/rollouts.js';
import { createPolicy } from '../model/transformer.js';
import { CharTokenizer } from '../tokenizer/char-tokenizer.js';
import { beamLikelihood } from './beam-likelihood.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

const tokenizer = CharTokenizer.fromAlphabet('abcdefgh ');
const tinyPolicy = (seed: number) =>
  createPolicy(
    { dim: 16, layers: 1, heads: 2, contextLength: 24, mlpRatio: 2, valueHead: false, vocabSize: tokenizer.vocabSize },
    Rng.seeded(seed).split('init'),
  );

/** One turn; the task is a letter shown in the observation, success is answering it. */
const say: Environment<string> = {
  name: 'say',
  summary: 'say the letter',
  rewardComponents: [{ name: 'correct', weight: 1 }],
  maxTurns: 1,
  tasks: () => ['a', 'b', 'c'],
  taskId: String,
  start: (task) => {
    let correct = 0;
    return {
      observation: () => `say ${task}`,
      step: (action) => {
        correct = action === task ? 1 : 0;
        return { reward: { correct }, done: true, valid: true };
      },
      outcome: () => ({ reward: { correct }, success: correct === 1 }),
    };
  },
};
const view = (groups: Rollout[][]) =>
  groups.flat().map((r) => ({ tokens: r.turns[0]?.actionTokens, logprobs: r.turns[0]?.logprobs }));

describe('beam-likelihood', () => {
  it('with width 1 is greedy decoding, token for token and log-prob for log-prob, through the rollout engine', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1000 }), fc.constantFrom('a', 'b', 'c'), async (seed, task) => {
        const policy = tinyPolicy(seed);
        const request = [{ task, groupId: 'g', count: 1 }];
        const options = { maxNewTokens: 6, temperature: 1, rng: Rng.seeded(seed) };
        const greedy = await collectRollouts(policy, tokenizer, say, request, { ...options, greedy: true });
        const beam = await collectRollouts(policy, tokenizer, say, request, {
          ...options,
          sampler: beamLikelihood({ width: 1 }),
        });
        policy.dispose();
        expect(view(beam)).toEqual(view(greedy));
      }),
      { numRuns: 12 },
    );
  });

  it("decodes evaluation: each test task's samples are its best distinct beams, the first the most likely; a wider beam never finds a less likely best answer", async () => {
    const policy = tinyPolicy(5);
    const tasks = say.tasks('test', { seed: 0 });
    const result = await evaluate(policy, tokenizer, say, tasks, {
      samples: 3,
      maxNewTokens: 5,
      rng: Rng.seeded(1),
      sampler: beamLikelihood({ width: 3 }),
    });
    expect(result.perTask).toHaveLength(3);
    const beams = await collectRollouts(policy, tokenizer, say, [{ task: 'a', groupId: 'g', count: 3 }], {
      maxNewTokens: 5,
      temperature: 1,
      rng: Rng.seeded(1),
      sampler: beamLikelihood({ width: 3 }),
    });
    const group = beams[0] as Rollout[];
    const sums = group.map((r) => (r.turns[0]?.logprobs ?? []).reduce((a, b) => a + b, 0));
    expect(new Set(group.map((r) => r.turns[0]?.action)).size).toBe(3);
    for (let i = 1; i < sums.length; i++) expect(sums[i]).toBeLessThanOrEqual((sums[i - 1] as number) + 1e-9);
    const narrow = await collectRollouts(policy, tokenizer, say, [{ task: 'a', groupId: 'n', count: 1 }], {
      maxNewTokens: 5,
      temperature: 1,
      rng: Rng.seeded(1),
      sampler: beamLikelihood({ width: 1 }),
    });
    const greedySum = (narrow[0]?.[0]?.turns[0]?.logprobs ?? []).reduce((a, b) => a + b, 0);
    expect(sums[0]).toBeGreaterThanOrEqual(greedySum - 1e-9);
    policy.dispose();
  });

  it('refuses a width below 1, naming the value', () => {
    expect(() => beamLikelihood({ width: 0 })).toThrow(/width must be an integer >= 1, got 0/);
  });
});
