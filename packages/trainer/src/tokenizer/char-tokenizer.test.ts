import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CharTokenizer, EOS, UNK } from './char-tokenizer.js';

describe('CharTokenizer', () => {
  it('round-trips arbitrary strings over their own alphabet, one token per code point', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), (a, b) => {
        const text = a + b;
        const tokenizer = CharTokenizer.fromAlphabet(text);
        const ids = tokenizer.encode(text);
        return ids.length === Array.from(text).length && tokenizer.decode(ids) === text && !ids.includes(UNK);
      }),
    );
  });

  it('maps unknown characters to <unk>, drops specials on decode, and survives JSON', () => {
    const tokenizer = CharTokenizer.fromCorpus(['abc', 'cab 😀']);
    expect(tokenizer.encode('x')).toEqual([UNK]);
    expect(tokenizer.decode([...tokenizer.encode('ab'), EOS])).toBe('ab');
    const copy = CharTokenizer.fromJSON(JSON.parse(JSON.stringify(tokenizer)));
    expect(copy.encode('😀 cab')).toEqual(tokenizer.encode('😀 cab'));
    expect(copy.vocabSize).toBe(5 + 5);
    expect(() => CharTokenizer.fromJSON({ kind: 'bpe' } as never)).toThrow(/not a character tokenizer/);
  });
});
