/**
 * A model folder's own tokenizer as the training loop's tokenizer (tokenizer/policy-tokenizer.ts).
 * The loop's context rule, [bos] observation [sep] action [eos], takes the model's ids:
 * eos is the tokenizer's eos_token (else config.json's eos_token_id); bos is its bos_token, else
 * config.json's bos_token_id, else eos (GPT-2 starts a document with <|endoftext|>, and Qwen's
 * tokenizers have no bos); sep is the single token of a newline, which separates a prompt from
 * its answer in plain-text prompting; rows are padded with pad_token, else eos (masked anyway).
 * Environments' observations and actions are text, so they need nothing else from it.
 * With a chat template (and `chatTemplate` not 'off') prompts are the template's conversation
 * (hf/chat-template.ts) and eos is the template's end-of-turn token.
 */
import path from 'node:path';
import { UsageError } from '@policy-lab/core';
import type { PolicyTokenizer, SpecialIds } from '../tokenizer/policy-tokenizer.js';
import { type ChatTemplateMode, HfChatPrompts } from './chat-template.js';
import type { HfTokenizer } from './tokenizer.js';

/** Separator candidates, in order: the first that is one token of the vocabulary is used. */
const SEPARATORS = ['\n', ' =', ':'];

export class HfPolicyTokenizer implements PolicyTokenizer {
  readonly kind = 'hf';
  readonly specials: SpecialIds;
  readonly chat?: HfChatPrompts;
  private words?: string[];

  /**
   * `tokenizer` of a model whose vocabulary has `vocabSize` rows (at least the tokenizer's ids;
   * Qwen pads it); `config` is the model's config.json for its bos/eos ids; `chatTemplate`
   * 'auto' uses the folder's chat template when it has one.
   */
  constructor(
    readonly tokenizer: HfTokenizer,
    readonly vocabSize: number,
    config: Record<string, unknown>,
    chatTemplate: ChatTemplateMode = 'off',
  ) {
    const source = tokenizer.source;
    if (tokenizer.vocabSize > vocabSize)
      throw new UsageError(
        `${source}: tokenizer.json has ${tokenizer.vocabSize} ids, more than the model's vocab_size ${vocabSize} (accepted: a tokenizer of the same model)`,
      );
    const configId = (key: string) => {
      const value = config[key];
      const id = Array.isArray(value) ? value[0] : value;
      return Number.isInteger(id) && (id as number) >= 0 && (id as number) < vocabSize ? (id as number) : undefined;
    };
    const eos = tokenizer.eosTokenId ?? configId('eos_token_id');
    if (eos === undefined)
      throw new UsageError(
        `${source}: no end-of-sequence token (accepted: eos_token in tokenizer_config.json, or eos_token_id in config.json)`,
      );
    const bos =
      (tokenizer.bosToken === undefined ? undefined : tokenizer.tokenId(tokenizer.bosToken)) ?? configId('bos_token_id') ?? eos;
    const separator = SEPARATORS.map((text) => tokenizer.encode(text)).find((ids) => ids.length === 1)?.[0];
    if (separator === undefined)
      throw new UsageError(
        `${source}: none of ${SEPARATORS.map((s) => JSON.stringify(s)).join(', ')} is a single token of this tokenizer (the loop separates a prompt from its answer with one)`,
      );
    if (chatTemplate === 'auto' && tokenizer.hasChatTemplate) this.chat = new HfChatPrompts(tokenizer, eos);
    this.specials = { pad: tokenizer.padTokenId ?? eos, bos, eos: this.chat?.endOfTurn ?? eos, sep: separator };
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text);
  }

  /** The text of ids, special tokens and ids beyond the tokenizer's vocabulary (a padded embedding) dropped. */
  decode(ids: readonly number[]): string {
    const known = ids.filter((id) => id < this.tokenizer.vocabSize);
    return this.tokenizer.decode(known, { skipSpecialTokens: true });
  }

  vocabulary(): string[] {
    this.words ??= Array.from({ length: this.vocabSize }, (_, id) =>
      id < this.tokenizer.vocabSize ? this.tokenizer.decode([id]) : '',
    );
    return this.words;
  }

  /** True when the text comes back from its tokens unchanged (byte-level BPE: always). */
  has(text: string): boolean {
    return this.decode(this.encode(text)) === text;
  }

  toJSON(): unknown {
    return {
      kind: 'hf',
      source: path.resolve(this.tokenizer.source),
      vocabSize: this.vocabSize,
      specials: this.specials,
      // A run with its chat template reads other prompts: its checkpoints and SFT start are not a plain run's.
      ...(this.chat ? { chatTemplate: this.chat.file } : {}),
    };
  }
}
