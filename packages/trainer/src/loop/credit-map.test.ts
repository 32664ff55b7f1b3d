import { Rng } from '@policy-lab/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { createPolicy } from '../model/transformer.js';
import { echoEnv, TINY, temporaryFolder, tinyRegistry } from '../test-support/tiny.js';
import { CharTokenizer } from '../tokenizer/char-tokenizer.js';
import { creditAnswers, creditMapOfRun } from './credit-map.js';
import { collectRollouts } from './rollouts.js';
import { train } from './train.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

describe('the per-token credit map', () => {
  it("a DPO-trained policy's credit map sums, answer by answer, to its sequence implicit reward", async () => {
    const outDir = temporaryFolder();
    await train({
      registry: tinyRegistry(),
      method: 'dpo-online',
      env: 'echo',
      seed: 3,
      budget: { episodes: 6 * 24 },
      overrides: { ...TINY, learningRate: 0.03 },
      sft: 'none',
      outDir,
    });
    const map = await creditMapOfRun(outDir, echoEnv, { pairs: 4, samples: 6, beta: 0.5, seed: 1 });
    expect(map.method).toBe('dpo-online');
    expect(map.answers.length).toBeGreaterThanOrEqual(2);
    for (const answer of map.answers) {
      expect(answer.credits).toHaveLength(answer.tokens.length);
      expect(answer.creditSum).toBeCloseTo(answer.implicitReward, 4);
    }
    expect(map.maxSumError).toBeLessThan(1e-4);
    // Its cost: every sampled answer, and two teacher-forced passes (policy, reference) per mapped answer.
    expect(map.cost.episodes).toBe(6 * map.tasksTried);
    expect(map.cost.scoredTokens).toBeGreaterThanOrEqual(2 * map.answers.reduce((a, x) => a + x.tokens.length, 0));
    const capped = await creditMapOfRun(outDir, echoEnv, { pairs: 4, samples: 6, beta: 0.5, seed: 1, maxTasks: 1 });
    expect(capped.tasksTried).toBe(1);
    expect(capped.answers.length).toBeLessThanOrEqual(2);
    // The policy moved from its reference: some token carries credit.
    expect(Math.max(...map.answers.flatMap((a) => a.credits.map(Math.abs)))).toBeGreaterThan(1e-3);
  });

  it('sums to the sequence implicit reward for any policy, reference and beta (fast-check)', async () => {
    const tokenizer = CharTokenizer.fromAlphabet('say ab:');
    const model = (seed: number) =>
      createPolicy(
        { dim: 16, layers: 1, heads: 2, contextLength: 16, mlpRatio: 2, valueHead: false, vocabSize: tokenizer.vocabSize },
        Rng.seeded(seed).split('init'),
      );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 501, max: 1000 }),
        fc.double({ min: 0.01, max: 2, noNaN: true }),
        async (a, b, beta) => {
          const policy = model(a);
          const reference = model(b);
          const [group] = await collectRollouts(
            policy,
            tokenizer,
            echoEnv,
            [{ task: { letter: 'a', id: 0 }, groupId: 'g', count: 2 }],
            {
              maxNewTokens: 4,
              temperature: 1,
              rng: Rng.seeded(a),
            },
          );
          const answers = await creditAnswers(
            policy,
            reference,
            (group ?? []).map((rollout) => ({ rollout, role: 'chosen' as const, reward: 0 })),
            beta,
            (id) => tokenizer.decode([id]),
          );
          policy.dispose();
          reference.dispose();
          for (const answer of answers)
            expect(Math.abs(answer.creditSum - answer.implicitReward)).toBeLessThan(1e-4 * Math.max(1, beta * 10));
        },
      ),
      { numRuns: 10 },
    );
  });

  it('refuses a run without a reference, naming what it needs', async () => {
    const outDir = temporaryFolder();
    await train({
      registry: tinyRegistry(),
      method: 'reinforce-mean',
      env: 'echo',
      seed: 3,
      budget: { episodes: 24 },
      overrides: TINY,
      sft: 'none',
      outDir,
    });
    await expect(creditMapOfRun(outDir, echoEnv, { pairs: 1, samples: 2, beta: 0.1, seed: 1 })).rejects.toThrow(
      /no reference.safetensors/,
    );
  });
});
