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

/** An earlier turn of an episode, as text. */
export interface ChatTurn {
  observation: string;
  action: string;
}

/**
 * A chat model's prompts (hf/chat-template.ts): the episode as a conversation its chat template
 * renders, instead of the plain [bos] obs [sep] action [eos] rule; `specials.eos` is then the
 * template's end-of-turn token.
 */
export interface ChatPrompts {
  /** The ids before the next action: the earlier turns, then `observation`, fitted into `limit` tokens. */
  prompt(turns: readonly ChatTurn[], observation: string, limit: number): number[];
  /** Other ids that end an action too (the model's end-of-sequence when it is not the end-of-turn token). */
  readonly stops: readonly number[];
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
  /** Present when prompts are a chat template's conversation; absent, the plain context rule. */
  readonly chat?: ChatPrompts;
  /** What identifies the tokenizer in a checkpoint (a resumed run must read the same). */
  toJSON(): unknown;
}
