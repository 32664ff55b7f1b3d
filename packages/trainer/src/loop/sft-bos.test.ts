import { Rng } from '@policy-lab/core';
import { describe, expect, it } from 'vitest';
import { echoEnv, meanBaseline, TINY } from '../test-support/tiny.js';
import { CharTokenizer } from '../tokenizer/char-tokenizer.js';
import type { PolicyTokenizer } from '../tokenizer/policy-tokenizer.js';
import { resolveTrainConfig } from './config.js';
import { demonstrationRows } from './sft.js';

describe('SFT demonstration rows', () => {
  it("start with the tokenizer's own bos, not the character alphabet's id", () => {
    const method = { name: 'm', summary: 'm', estimator: meanBaseline.name, loss: 'ppo-clip' };
    const config = resolveTrainConfig({ method, env: echoEnv, seed: 1, budget: { episodes: 8 } }, TINY);
    const chars = CharTokenizer.fromAlphabet(echoEnv.alphabet?.() ?? '');
    // A model folder's tokenizer: the same text encoding, with its start token somewhere else.
    const bos = chars.vocabSize - 1;
    const tokenizer: PolicyTokenizer = Object.create(chars, {
      specials: { value: { ...chars.specials, bos } },
    });
    expect(bos).not.toBe(chars.specials.bos);
    const tasks = echoEnv.tasks('train', { seed: 3, count: 4 });
    const rows = demonstrationRows(echoEnv, tokenizer, tasks, config, Rng.seeded(1));
    expect(rows.length).toBeGreaterThan(0);
    // Every episode's first row starts the history with the start token.
    const firsts = rows.filter((row) => row.tokens[0] === bos);
    expect(firsts.length).toBeGreaterThanOrEqual(tasks.length);
    expect(rows.every((row) => row.tokens[0] === bos)).toBe(true);
  });
});
