import type { Method } from '@policy-lab/core';
import { describe, expect, it } from 'vitest';
import { echoEnv } from '../test-support/tiny.js';
import { DEFAULT_TRAIN_CONFIG, resolveTrainConfig } from './config.js';

const method: Method = { name: 'm', summary: 'test', estimator: 'mean-baseline', loss: 'ppo-clip' };
const budget = { episodes: 8 };

describe('resolveTrainConfig precedence', () => {
  it('shared defaults <- environment recommendation <- method defaults <- --set', () => {
    const env = { ...echoEnv, recommended: { dim: 32, heads: 2, contextLength: 96, maxNewTokens: 8, sftSteps: 500 } };
    const base = resolveTrainConfig({ method, env, seed: 1, budget });
    expect(base.sftSteps).toBe(500);
    expect(base.model).toMatchObject({ dim: 32, heads: 2, contextLength: 96 });
    expect(base.maxNewTokens).toBe(8);

    const withMethod = resolveTrainConfig({ method: { ...method, defaults: { sftSteps: 300 } }, env, seed: 1, budget });
    expect(withMethod.sftSteps).toBe(300);
    expect(resolveTrainConfig({ method, env, seed: 1, budget }, { sftSteps: 20 }).sftSteps).toBe(20);

    const plain = resolveTrainConfig({ method, env: { ...echoEnv, recommended: {} }, seed: 1, budget });
    expect(plain.sftSteps).toBe(DEFAULT_TRAIN_CONFIG.sftSteps);
  });
});

describe('SFT settings', () => {
  it('takes sftLearningRate and sftBatch from --set, validated, and keys the SFT cache by them', async () => {
    const env = { ...echoEnv, recommended: {} };
    const base = resolveTrainConfig({ method, env, seed: 1, budget });
    expect([base.sftLearningRate, base.sftBatch]).toEqual([3e-3, 32]);
    const tuned = resolveTrainConfig({ method, env, seed: 1, budget }, { sftLearningRate: 1e-3, sftBatch: 16 });
    expect([tuned.sftLearningRate, tuned.sftBatch]).toEqual([1e-3, 16]);
    expect(() => resolveTrainConfig({ method, env, seed: 1, budget }, { sftBatch: 0 })).toThrow(
      /sftBatch must be an integer from 1 to 65536, got 0/,
    );
    expect(() => resolveTrainConfig({ method, env, seed: 1, budget }, { sftBatch: 2.5 })).toThrow(
      /sftBatch must be an integer from 1 to 65536, got 2.5/,
    );
    expect(() => resolveTrainConfig({ method, env, seed: 1, budget }, { sftLearningRate: -1 })).toThrow(/sftLearningRate/);

    const { sftCacheKey } = await import('./sft.js');
    const { CharTokenizer } = await import('../tokenizer/char-tokenizer.js');
    const tokenizer = CharTokenizer.fromAlphabet('ab');
    const key = (config: typeof base) => sftCacheKey(env, tokenizer, config);
    expect(key(tuned)).not.toBe(key(base));
    expect(key(resolveTrainConfig({ method, env, seed: 1, budget }, { sftBatch: 16 }))).not.toBe(key(base));
    expect(key(resolveTrainConfig({ method, env, seed: 1, budget }))).toBe(key(base));
  });
});

describe('the option table', () => {
  const env = { ...echoEnv, recommended: {} };
  const resolve = (overrides: Record<string, unknown>) => resolveTrainConfig({ method, env, seed: 1, budget }, overrides);

  it('refuses out-of-range values up front, naming the key, the value and what is accepted', () => {
    expect(() => resolve({ temperature: 0 })).toThrow(/--set: temperature must be a number > 0 and <= 100, got 0/);
    expect(() => resolve({ clipLow: 5 })).toThrow(/clipLow must be a number >= 0 and < 1, got 5/);
    expect(() => resolve({ evalTasks: 0 })).toThrow(/evalTasks must be an integer from 1 to 1000000, got 0/);
    expect(() => resolve({ evalSamples: 0 })).toThrow(/evalSamples must be an integer from 1 to 1024, got 0/);
    expect(() => resolve({ model: { dim: 100000 } })).toThrow(/model\.dim must be an integer from 8 to 4096, got 100000/);
    expect(() => resolve({ envOptions: 5 })).toThrow(/envOptions must be an object of keys/);
    expect(() => resolve({ weights: JSON.parse('{"__proto__": {"x": 1}}') })).toThrow(
      /weights\.__proto__ is not an accepted key/,
    );
    expect(() => resolve({ weights: { correct: Number.POSITIVE_INFINITY } })).toThrow(/weights\.correct must be a finite number/);
    expect(() => resolve({ learningRat: 0.1 })).toThrow(
      /unknown option 'learningRat'; accepted: tasksPerStep, groupSize, learningRate/,
    );
  });

  it('takes valid values, and the help and docs list every row with its default', async () => {
    expect(resolve({ temperature: 0.7, shapers: 'overlong,spurious' })).toMatchObject({
      temperature: 0.7,
      shapers: ['overlong', 'spurious'],
    });
    const { TRAIN_OPTIONS, optionsHelp, optionsMarkdown } = await import('@policy-lab/core');
    const help = optionsHelp(DEFAULT_TRAIN_CONFIG);
    const markdown = optionsMarkdown(DEFAULT_TRAIN_CONFIG);
    for (const option of TRAIN_OPTIONS) {
      expect(help).toContain(option.name);
      expect(markdown).toContain(`\`${option.name}\``);
    }
    expect(help).toMatch(/learningRate\s+Adam learning rate.*default 0.0003/);
    expect(markdown).toContain('| `model.dim` | `64` |');
  });
});
