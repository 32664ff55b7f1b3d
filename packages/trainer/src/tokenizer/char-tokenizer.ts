/**
 * Character-level tokenizer over code points (not UTF-16 units), with special tokens.
 * Built from an environment's alphabet or a corpus; saved in checkpoints as JSON.
 */
import { UsageError } from '@policy-lab/core';
import type { PolicyTokenizer, SpecialIds } from './policy-tokenizer.js';

export const SPECIAL_TOKENS = ['<pad>', '<bos>', '<eos>', '<sep>', '<unk>'] as const;
export const PAD = 0;
export const BOS = 1;
export const EOS = 2;
/** Separates an observation from the action that answers it. */
export const SEP = 3;
export const UNK = 4;
export const CHAR_SPECIALS: Readonly<SpecialIds> = { pad: PAD, bos: BOS, eos: EOS, sep: SEP };

export interface TokenizerJson {
  kind: 'char';
  specials: readonly string[];
  characters: string[];
}

export class CharTokenizer implements PolicyTokenizer {
  readonly kind = 'char';
  readonly specials: SpecialIds = CHAR_SPECIALS;
  private readonly ids = new Map<string, number>();

  private constructor(readonly characters: readonly string[]) {
    characters.forEach((character, index) => this.ids.set(character, SPECIAL_TOKENS.length + index));
  }

  /** Every distinct code point of `text`, in sorted order (so the same alphabet gives the same ids). */
  static fromAlphabet(text: string): CharTokenizer {
    return new CharTokenizer([...new Set(Array.from(text))].sort());
  }

  static fromCorpus(texts: Iterable<string>): CharTokenizer {
    let all = '';
    for (const text of texts) all += text;
    return CharTokenizer.fromAlphabet(all);
  }

  static fromJSON(json: TokenizerJson): CharTokenizer {
    if (json?.kind !== 'char' || !Array.isArray(json.characters)) {
      throw new UsageError(`not a character tokenizer: ${JSON.stringify(json)?.slice(0, 80)}`);
    }
    return new CharTokenizer(json.characters);
  }

  get vocabSize(): number {
    return SPECIAL_TOKENS.length + this.characters.length;
  }

  /** Each id's text: the special tokens by name ('<eos>'), then the characters. */
  vocabulary(): string[] {
    return [...SPECIAL_TOKENS, ...this.characters];
  }

  /** True when every character of the text has its own id (not unk). */
  has(text: string): boolean {
    return Array.from(text).every((character) => this.ids.has(character));
  }

  /** Characters outside the alphabet become <unk>. */
  encode(text: string): number[] {
    return Array.from(text, (character) => this.ids.get(character) ?? UNK);
  }

  /** Special tokens are dropped (pad, bos, eos, sep) or shown as U+FFFD (unk). */
  decode(ids: readonly number[]): string {
    let out = '';
    for (const id of ids) {
      if (id === UNK) out += '\uFFFD';
      else if (id >= SPECIAL_TOKENS.length) out += this.characters[id - SPECIAL_TOKENS.length] ?? '\uFFFD';
    }
    return out;
  }

  toJSON(): TokenizerJson {
    return { kind: 'char', specials: [...SPECIAL_TOKENS], characters: [...this.characters] };
  }
}
