import { Rng } from '@policy-lab/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { createPolicy } from '../model/transformer.js';
import { BOS, CharTokenizer } from '../tokenizer/char-tokenizer.js';
import { scoreTexts, scoringSequence, textDistributions } from './scoring.js';

describe('scoringSequence', () => {
  it('keeps short contexts whole: [bos] context continuation', () => {
    expect(scoringSequence([5, 6], [7, 8], 16, BOS)).toEqual({ sequence: [BOS, 5, 6, 7, 8], contextTokens: 3 });
  });

  it('drops the oldest context tokens (the bos stays) so a long transcript fits the model, as rollouts do', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 5, max: 40 }), { minLength: 0, maxLength: 300 }),
        fc.array(fc.integer({ min: 5, max: 40 }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 24, max: 128 }),
        (context, continuation, contextLength) => {
          const { sequence, contextTokens } = scoringSequence(context, continuation, contextLength, BOS);
          expect(sequence.length).toBeLessThanOrEqual(contextLength);
          expect(sequence[0]).toBe(BOS);
          expect(sequence.slice(contextTokens)).toEqual(continuation);
          // the context kept is the newest part of the original
          const kept = sequence.slice(1, contextTokens);
          expect(context.slice(context.length - kept.length)).toEqual(kept);
        },
      ),
    );
  });

  it('refuses a continuation the model cannot hold, with the sizes', () => {
    expect(() => scoringSequence([], Array(64).fill(5), 64, BOS)).toThrow(
      /continuation of 64 tokens with a context length of 64 \(at most 63\)/,
    );
  });
});

describe('teacher-forced distributions', () => {
  beforeAll(async () => {
    await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
  });

  it('give, before each continuation token, a distribution whose entry for that token is its scored log-probability', async () => {
    const tokenizer = CharTokenizer.fromAlphabet('abc ');
    const policy = createPolicy(
      { dim: 16, layers: 1, heads: 2, contextLength: 16, mlpRatio: 2, valueHead: false, vocabSize: tokenizer.vocabSize },
      Rng.seeded(4),
    );
    const requests = [
      { context: 'ab', continuation: 'cab' },
      { context: 'c', continuation: 'a' },
    ];
    const distributions = await textDistributions(policy, tokenizer, requests);
    const logprobs = await scoreTexts(policy, tokenizer, requests);
    expect(tokenizer.vocabulary()).toHaveLength(tokenizer.vocabSize);
    requests.forEach((request, r) => {
      const ids = tokenizer.encode(request.continuation);
      expect(distributions[r]).toHaveLength(ids.length);
      ids.forEach((id, t) => {
        const row = distributions[r]?.[t] as number[];
        expect(row).toHaveLength(tokenizer.vocabSize);
        expect(row.reduce((a, x) => a + Math.exp(x), 0)).toBeCloseTo(1, 5);
        expect(row[id]).toBeCloseTo(logprobs[r]?.[t] as number, 5);
      });
    });
    policy.dispose();
  });
});
