import type { Rollout } from '@policy-lab/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { disposeBatch, rowsFromRollouts, toTensors } from './batch.js';

beforeAll(async () => {
  await initBackend({ name: 'cpu' });
});

const rollout = (id: string, actions: number[][]): Rollout => ({
  id,
  groupId: 'g',
  taskId: 't',
  turns: actions.map((actionTokens) => ({
    observation: 'o',
    action: 'a',
    promptTokens: [1, 9],
    actionTokens,
    logprobs: actionTokens.map(() => -1),
    reward: {},
    valid: true,
    truncated: false,
  })),
  reward: { r: 1 },
  success: true,
});

describe('per-token advantages (Advantages.tokens)', () => {
  it('each action token gets its own value; turns without them keep the turn value', async () => {
    const groups = [[rollout('g/0', [[5, 6, 7], [8]]), rollout('g/1', [[5]])]];
    const rows = rowsFromRollouts(groups, {
      rollout: [[0.5, -0.5]],
      turns: [[[0.5, 0.25], [-0.5]]],
      tokens: [[[[1, 2, 3], [4]], []]],
      weights: [[1, 1]],
    });
    const batch = toTensors(rows);
    const advantages = (await batch.advantages.array()) as number[][];
    const mask = (await batch.mask.array()) as number[][];
    const trained = advantages.map((row, r) => row.filter((_, t) => mask[r]?.[t] === 1));
    expect(trained).toEqual([[1, 2, 3], [4], [-0.5]]);
    disposeBatch(batch);
  });
});
