/**
 * What the training loop asks of a tokenizer: text to ids and back, and the ids of the four
 * tokens its context rule uses ([bos] obs [sep] action [eos] ..., rows padded with pad). The
 * character tokenizer (char-tokenizer.ts) is one; a Hugging Face model's own tokenizer
 * (hf/policy-tokenizer.ts) is another, whose special ids are the model's.
 */
export interface SpecialIds {
  pad: number;
  bos: number;
  eos: number;
  /** Ends an observation: the action follows it. */
  sep: number;
}

export interface PolicyTokenizer {
  /** 'char' or 'hf' (checkpoints and the SFT cache key record it through toJSON). */
  readonly kind: string;
  /** Ids the tokenizer may give are below this. */
  readonly vocabSize: number;
  readonly specials: SpecialIds;
  encode(text: string): number[];
  /** The text of ids, special tokens dropped. */
  decode(ids: readonly number[]): string;
  /** Each id's text, in id order. */
  vocabulary(): string[];
  /** True when the text encodes without an unknown token. */
  has(text: string): boolean;
  /** What identifies the tokenizer in a checkpoint (a resumed run must read the same). */
  toJSON(): unknown;
}
