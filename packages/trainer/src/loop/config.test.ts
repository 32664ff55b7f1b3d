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
