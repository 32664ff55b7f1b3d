/**
 * Environment turns as a chat model's conversation: the folder's chat template (hf/tokenizer.ts)
 * renders the task's first observation as the first user message, every later observation as a
 * user message and every earlier action as an assistant message, then opens the assistant's turn
 * (add_generation_prompt, as transformers' apply_chat_template does for generation). The text is
 * tokenized without the tokenizer's own specials: a template writes its bos_token itself, so a
 * second one is never added. An action ends at the template's end-of-turn token (the first special
 * token the template writes after an assistant message: <|im_end|> in ChatML, <|eot_id|> in
 * Llama 3's) or at the model's end-of-sequence token.
 */
import { UsageError } from '@policy-lab/core';
import type { ChatPrompts, ChatTurn } from '../tokenizer/policy-tokenizer.js';
import type { ChatMessage, HfTokenizer } from './tokenizer.js';

/** How a run prompts a model folder: through its chat template when it has one (auto), or in plain text (off). */
export type ChatTemplateMode = 'auto' | 'off';

/** Stands for an action while the end-of-turn token is found; no template writes it itself. */
const PROBE = 'policy-lab-probe-action';

/**
 * The messages of a conversation: each earlier turn's observation (user) and action (assistant),
 * then the observation to answer. Environments have no system prompt; a task stream's instruction
 * is part of the first observation, as in plain-text prompts.
 */
export function chatMessages(turns: readonly ChatTurn[], observation: string): ChatMessage[] {
  const messages: ChatMessage[] = [];
  for (const turn of turns)
    messages.push({ role: 'user', content: turn.observation }, { role: 'assistant', content: turn.action });
  messages.push({ role: 'user', content: observation });
  return messages;
}

export class HfChatPrompts implements ChatPrompts {
  /** The template's end-of-turn id (the eos when the template writes no special token after an answer). */
  readonly endOfTurn: number;
  readonly stops: readonly number[];

  /** Checks that the template renders (a failure is a UsageError naming its file and Jinja's message). */
  constructor(
    private readonly tokenizer: HfTokenizer,
    eos: number,
  ) {
    this.render([{ role: 'user', content: 'probe' }], true);
    const answered = this.render(
      [
        { role: 'user', content: 'probe' },
        { role: 'assistant', content: PROBE },
      ],
      false,
    );
    const at = answered.lastIndexOf(PROBE);
    const after = at < 0 ? [] : tokenizer.encode(answered.slice(at + PROBE.length));
    // A special token: its text vanishes when specials are skipped.
    const special = after.find(
      (id) => tokenizer.decode([id]) !== '' && tokenizer.decode([id], { skipSpecialTokens: true }) === '',
    );
    this.endOfTurn = special ?? eos;
    this.stops = special === undefined || special === eos ? [] : [eos];
  }

  /** Where the template was read from, for errors. */
  get file(): string {
    return this.tokenizer.chatTemplateFile ?? this.tokenizer.source;
  }

  render(messages: readonly ChatMessage[], addGenerationPrompt: boolean): string {
    try {
      return this.tokenizer.applyChatTemplate(messages, { addGenerationPrompt });
    } catch (error) {
      if (error instanceof UsageError) throw error;
      throw new UsageError(`${this.file}: the chat template fails to render (${(error as Error).message})`);
    }
  }

  /**
   * The ids before the next action; the oldest exchanges (an observation and its action) are
   * dropped until they fit `limit`. When the last observation alone does not fit, the run is
   * refused, naming the sizes (a template's turn cannot be cut in half).
   */
  prompt(turns: readonly ChatTurn[], observation: string, limit: number): number[] {
    let ids: number[] = [];
    for (let first = 0; first <= turns.length; first++) {
      ids = this.tokenizer.encode(this.render(chatMessages(turns.slice(first), observation), true));
      if (ids.length <= limit) return ids;
    }
    throw new UsageError(
      `${this.file}: the chat prompt of the last observation alone is ${ids.length} tokens, more than the ${limit} the context leaves (model.contextLength minus maxNewTokens; accepted: a larger --set model.contextLength or a smaller --set maxNewTokens)`,
    );
  }
}
