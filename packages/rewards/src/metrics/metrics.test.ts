import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { corpusBleu, sentenceBleu } from './bleu.js';
import { corpusChrf, sentenceChrf } from './chrf.js';
import { pySplit } from './text.js';
import { tokenize13a } from './tokenize.js';

// Values computed with sacreBLEU 2.x: x100 to 4 decimals (sacreBLEU 2.x), and sacreBLEU's own unit-test expectations.
describe('sentence BLEU matches sacreBLEU', () => {
  const hyp = 'the cat sat on the mat';
  const ref = 'the cat is on the mat';

  it.each([
    ['exp', 37.9918],
    ['floor', 25.4066],
    ['add-k', 48.5492],
    ['none', 0],
  ] as const)('%s smoothing: %d', (smooth, value) => {
    const result = sentenceBleu(hyp, [ref], { smooth });
    expect(result.score).toBeCloseTo(value, 4);
    expect(result.counts).toEqual([5, 3, 1, 0]);
    expect(result.totals).toEqual([6, 5, 4, 3]);
    expect(result.bp).toBe(1);
  });

  it('uses the effective order for short hypotheses (and scores 0 without it)', () => {
    const result = sentenceBleu('the cat', ['the cat sat']);
    expect(result.counts).toEqual([2, 1, 0, 0]);
    expect(result.totals).toEqual([2, 1, 0, 0]);
    expect(result.bp).toBeCloseTo(Math.exp(-0.5), 12);
    expect(result.score).toBeCloseTo(60.6531, 4);
    expect(sentenceBleu('the cat', ['the cat sat'], { effectiveOrder: false }).score).toBe(0);
  });

  it('is 0 with no matching unigram, whatever the smoothing', () => {
    for (const smooth of ['exp', 'floor', 'add-k', 'none'] as const)
      expect(sentenceBleu('this is a cat', ['okay thanks'], { smooth }).score).toBe(0);
  });

  it("reproduces sacreBLEU's unit test with different t-comma code points", () => {
    const sys = 'Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;';
    const refs = ['producţia de zahăr brut se exprimă în zahăr alb;'];
    expect(sentenceBleu(sys, refs, { smooth: 'exp' }).score).toBeCloseTo(8.493, 3);
    expect(sentenceBleu(sys, refs, { smooth: 'none' }).score).toBe(0);
    expect(sentenceBleu(sys, refs, { smooth: 'floor' }).score).toBeCloseTo(4.51688, 5);
    // sacreBLEU's test compares at 1e-3; by hand: p = 500/14, 300/14, 100/13, 100/12, BP 1 -> 14.88256
    const addK = sentenceBleu(sys, refs, { smooth: 'add-k' }).score;
    expect(Math.abs(addK - 14.882)).toBeLessThan(1e-3);
    expect(addK).toBeCloseTo(
      Math.exp((Math.log(500 / 14) + Math.log(300 / 14) + Math.log(100 / 13) + Math.log(100 / 12)) / 4),
      10,
    );
  });

  it('takes the max count over references and the closest reference length, ties to the shorter', () => {
    // hyp length 4; refs of lengths 3 and 5 are equally close: the shorter (3) wins, so BP = 1
    const result = sentenceBleu('a b c d', ['a b c', 'a b c d e']);
    expect(result.refLen).toBe(3);
    expect(result.bp).toBe(1);
    expect(result.score).toBeCloseTo(100, 10);
    // clipping: "the" twice in the hypothesis matches only as often as one reference has it
    expect(sentenceBleu('the the the', ['the cat', 'the the dog']).counts[0]).toBe(2);
  });

  it('rejects unknown options naming them', () => {
    expect(() => sentenceBleu('a', ['a'], { smooth: 'loud' as never })).toThrow(
      /unknown smoothing 'loud'; accepted: exp, floor, add-k, none/,
    );
    expect(() => sentenceBleu('a', [])).toThrow(/at least one reference/);
  });
});

describe('13a tokenizer and Python whitespace', () => {
  it.each([
    ['Hello, world!', 'Hello , world !'],
    ["it's 3.5 or 3,000 - ok.", "it's 3.5 or 3,000 - ok ."],
    ['a/b (c) "d" [e] {f}', 'a / b ( c ) " d " [ e ] { f }'],
    ['10-20 x-y', '10 - 20 x-y'],
    ['&quot;hi&quot; &amp; bye', '" hi " & bye'],
    ['line-\nbreak\nhere <skipped>', 'linebreak here'],
  ])('%j -> %j', (input, output) => {
    expect(tokenize13a(input)).toBe(output);
  });

  it('splits on the whitespace Python splits on', () => {
    expect(pySplit('a\u001cb\u0085c\u00a0d\ufeffe')).toEqual(['a', 'b', 'c', 'd\ufeffe']);
  });
});

describe('chrF matches sacreBLEU', () => {
  it('abc vs abd: chrF 38.8889, chrF++ 29.1667', () => {
    expect(sentenceChrf('abc', ['abd']).score).toBeCloseTo(38.8889, 4);
    expect(sentenceChrf('abc', ['abd'], { wordOrder: 2 }).score).toBeCloseTo(29.1667, 4);
  });

  it("reproduces sacreBLEU's corpus-level unit tests (beta 3)", () => {
    expect(corpusChrf(['aa'], [['ab']], { beta: 3 }).score).toBeCloseTo(25, 10);
    expect(corpusChrf(['a', 'b'], [['a', 'c']], { beta: 3 }).score).toBeCloseTo(50, 10);
    expect(corpusChrf(['a b c'], [['abc']], { beta: 3 }).score).toBeCloseTo(100, 10);
  });

  it('counts code points, not UTF-16 units, and keeps different code points apart', () => {
    expect(sentenceChrf('😀😃', ['😀😃']).score).toBeCloseTo(100, 10);
    expect(sentenceChrf('ţ', ['ț']).score).toBe(0); // no Unicode normalisation
  });

  it('picks the best reference per sentence', () => {
    expect(sentenceChrf('abc', ['xyz', 'abc']).score).toBeCloseTo(100, 10);
  });

  it('splits one punctuation mark per token for word n-grams', () => {
    // "(hi)" -> "(hi", ")": the word unigrams match only when the same split happens
    expect(sentenceChrf('(hi)', ['(hi)'], { wordOrder: 2 }).score).toBeCloseTo(100, 10);
  });
});

describe('corpus BLEU', () => {
  it('sums statistics over segments, effective order off by default', () => {
    const hyps = ['the cat sat on the mat', 'a dog ran'];
    const refs = [['the cat is on the mat', 'a dog ran']];
    const corpus = corpusBleu(hyps, refs);
    expect(corpus.counts).toEqual([5 + 3, 3 + 2, 1 + 1, 0]);
    expect(corpus.totals).toEqual([9, 7, 5, 3]);
    expect(corpus.sysLen).toBe(9);
    expect(corpus.score).toBeGreaterThan(0);
    expect(() => corpusBleu(hyps, [['one']])).toThrow(/stream 0 has 1 segments for 2 hypotheses/);
  });
});

describe('metric properties (fast-check)', () => {
  const text = fc.string({ unit: 'binary', maxLength: 30 });

  it('scores lie in [0, 100] and are never NaN, for arbitrary Unicode including empty strings', () => {
    fc.assert(
      fc.property(text, fc.array(text, { minLength: 1, maxLength: 3 }), (hyp, refs) => {
        for (const smooth of ['exp', 'floor', 'add-k', 'none'] as const) {
          for (const effectiveOrder of [true, false]) {
            const { score } = sentenceBleu(hyp, refs, { smooth, effectiveOrder });
            expect(score >= 0 && score <= 100 + 1e-9).toBe(true);
          }
        }
        for (const wordOrder of [0, 2]) {
          const { score } = sentenceChrf(hyp, refs, { wordOrder });
          expect(score >= 0 && score <= 100 + 1e-9).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('gives 100 when the hypothesis is the reference (any non-blank text)', () => {
    fc.assert(
      fc.property(
        text.filter((s) => pySplit(s).length > 0),
        (s) => {
          expect(sentenceBleu(s, [s]).score).toBeCloseTo(100, 9);
          expect(sentenceChrf(s, [s]).score).toBeCloseTo(100, 9);
          expect(sentenceChrf(s, [s], { wordOrder: 2 }).score).toBeCloseTo(100, 9);
        },
      ),
      { numRuns: 200 },
    );
  });
});
