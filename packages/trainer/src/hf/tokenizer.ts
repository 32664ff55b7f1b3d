/**
 * A model folder's own tokenizer and chat template. `tokenizer.json` (BPE, byte-level BPE,
 * WordPiece, Unigram, with their normalizers, pre-tokenizers and decoders) runs through
 * @huggingface/tokenizers, Hugging Face's pure-JS implementation of its Rust `tokenizers` (the one
 * Transformers.js uses): no native addon, so it runs wherever the wasm backend does. The chat
 * template of `tokenizer_config.json` (or `chat_template.jinja`) renders through
 * @huggingface/jinja, a Jinja interpreter written for chat templates (transformers renders them
 * with Python's Jinja2; this one follows its semantics for the subset templates use).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { UsageError } from '@policy-lab/core';

export interface ChatMessage {
  role: string;
  content: string;
}

type Json = Record<string, unknown>;

function readJson(file: string, what: string): Json {
  try {
    const value: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Json;
  } catch (error) {
    throw new UsageError(`${file}: cannot read the ${what} (${(error as Error).message})`);
  }
}

/** A special token of tokenizer_config.json: a string, or an AddedToken object with `content`. */
function tokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as Json).content === 'string')
    return (value as Json).content as string;
  return undefined;
}

export class HfTokenizer {
  private readonly tokenizer: Tokenizer;
  private readonly template?: Template;
  /** Ids of tokenizer.json's vocabulary and added tokens: the largest + 1. */
  readonly vocabSize: number;
  readonly bosToken?: string;
  readonly eosToken?: string;

  private constructor(
    json: Json,
    private readonly config: Json,
    template: string | undefined,
    /** Where it was read from, for errors. */
    readonly source: string,
    /** The file the chat template was read from, for errors. */
    readonly chatTemplateFile?: string,
  ) {
    try {
      this.tokenizer = new Tokenizer(json, config);
    } catch (error) {
      throw new UsageError(`${source}: tokenizer.json is not supported by @huggingface/tokenizers (${(error as Error).message})`);
    }
    if (template !== undefined) {
      try {
        this.template = new Template(template);
      } catch (error) {
        throw new UsageError(`${chatTemplateFile ?? source}: the chat template does not parse (${(error as Error).message})`);
      }
    }
    const model = (json.model ?? {}) as Json;
    const vocab = model.vocab;
    const ids: number[] = Array.isArray(vocab)
      ? [vocab.length - 1]
      : Object.values((vocab ?? {}) as Record<string, number>).filter((id) => typeof id === 'number');
    for (const added of (json.added_tokens ?? []) as { id?: unknown }[]) if (typeof added.id === 'number') ids.push(added.id);
    this.vocabSize = ids.reduce((a, b) => Math.max(a, b), -1) + 1;
    const bos = tokenText(config.bos_token);
    const eos = tokenText(config.eos_token);
    if (bos !== undefined) this.bosToken = bos;
    if (eos !== undefined) this.eosToken = eos;
  }

  /**
   * tokenizer.json (required) and tokenizer_config.json (optional) of a model folder; the chat
   * template from chat_template.jinja when present, else tokenizer_config.json's chat_template
   * (a string, or a list of named templates whose 'default' is used).
   */
  static load(folder: string): HfTokenizer {
    const file = path.join(folder, 'tokenizer.json');
    if (!existsSync(file))
      throw new UsageError(`${folder}: no tokenizer.json (accepted: a Hugging Face model folder with a tokenizer.json)`);
    const json = readJson(file, 'tokenizer');
    const configFile = path.join(folder, 'tokenizer_config.json');
    const config = existsSync(configFile) ? readJson(configFile, 'tokenizer config') : {};
    const jinjaFile = path.join(folder, 'chat_template.jinja');
    const fromJinja = existsSync(jinjaFile);
    const template = fromJinja ? readFileSync(jinjaFile, 'utf8') : chatTemplateOf(config, configFile);
    return new HfTokenizer(json, config, template, folder, fromJinja ? jinjaFile : configFile);
  }

  /** From parsed files (no folder): `source` names them in errors. */
  static fromJson(tokenizerJson: Json, tokenizerConfig: Json = {}, source = '<tokenizer.json>'): HfTokenizer {
    return new HfTokenizer(tokenizerJson, tokenizerConfig, chatTemplateOf(tokenizerConfig, source), source);
  }

  /** Token ids of `text`; special tokens (a BOS a post-processor adds) only when asked. */
  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? false }).ids;
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    return this.tokenizer.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /** The id of one token of the vocabulary (a special token's text included), if it has one. */
  tokenId(token: string): number | undefined {
    return this.tokenizer.model?.tokens_to_ids.get(token);
  }

  get eosTokenId(): number | undefined {
    return this.eosToken === undefined ? undefined : this.tokenId(this.eosToken);
  }

  /** The id of tokenizer_config.json's pad_token, if it names one the vocabulary has. */
  get padTokenId(): number | undefined {
    const pad = tokenText(this.config.pad_token);
    return pad === undefined ? undefined : this.tokenId(pad);
  }

  get hasChatTemplate(): boolean {
    return this.template !== undefined;
  }

  /**
   * The model's chat template rendered over `messages` (with bos_token and eos_token, as
   * transformers' apply_chat_template passes them); `addGenerationPrompt` opens the assistant's turn.
   */
  applyChatTemplate(messages: readonly ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    if (!this.template)
      throw new UsageError(
        `${this.source}: no chat template (tokenizer_config.json has no chat_template, and there is no chat_template.jinja)`,
      );
    return this.template.render({
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? false,
      bos_token: this.bosToken ?? '',
      eos_token: this.eosToken ?? '',
      ...Object.fromEntries(
        ['pad_token', 'unk_token'].map((key) => [key, tokenText(this.config[key]) ?? '']).filter(([, value]) => value !== ''),
      ),
    });
  }
}

function chatTemplateOf(config: Json, file: string): string | undefined {
  const template = config.chat_template;
  if (template === undefined || template === null) return undefined;
  if (typeof template === 'string') return template;
  if (Array.isArray(template)) {
    const named = template.find((entry) => (entry as Json)?.name === 'default') as Json | undefined;
    if (typeof named?.template === 'string') return named.template;
  }
  throw new UsageError(`${file}: chat_template is neither a string nor a list holding a 'default' template`);
}

/** Loads the tokenizer of a Hugging Face model folder. */
export function loadHfTokenizer(folder: string): HfTokenizer {
  return HfTokenizer.load(folder);
}
