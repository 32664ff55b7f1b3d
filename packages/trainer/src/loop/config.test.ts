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
      /sftBatch must be at least 1, got 0/,
    );
    expect(() => resolveTrainConfig({ method, env, seed: 1, budget }, { sftBatch: 2.5 })).toThrow(
      /sftBatch must be a non-negative integer/,
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
