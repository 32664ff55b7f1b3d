import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BOS } from '../tokenizer/char-tokenizer.js';
import { scoringSequence } from './scoring.js';

describe('scoringSequence', () => {
  it('keeps short contexts whole: [bos] context continuation', () => {
    expect(scoringSequence([5, 6], [7, 8], 16)).toEqual({ sequence: [BOS, 5, 6, 7, 8], contextTokens: 3 });
  });

  it('drops the oldest context tokens (the bos stays) so a long transcript fits the model, as rollouts do', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 5, max: 40 }), { minLength: 0, maxLength: 300 }),
        fc.array(fc.integer({ min: 5, max: 40 }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 24, max: 128 }),
        (context, continuation, contextLength) => {
          const { sequence, contextTokens } = scoringSequence(context, continuation, contextLength);
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
    expect(() => scoringSequence([], Array(64).fill(5), 64)).toThrow(
      /continuation of 64 tokens with a context length of 64 \(at most 63\)/,
    );
  });
});
