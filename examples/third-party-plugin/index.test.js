import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry, Rng, weightedSum } from '@policy-lab/core';
import { plugin, topBaseline } from './index.js';

const weights = { reward: 1 };
const ctx = { rng: Rng.seeded(0), weights, scalar: (r) => weightedSum(r, weights) };
const group = (rewards) =>
  rewards.map((r, i) => ({ id: `g/${i}`, groupId: 'g', taskId: 't', turns: [], reward: { reward: r }, success: false }));

test('top-baseline: worked example [1, 0, 0.5] -> [0, -1, -0.5]', () => {
  assert.deepEqual(topBaseline.compute([group([1, 0, 0.5])], ctx).rollout, [[0, -1, -0.5]]);
});

test('advantages are never positive, and the plugin registers', () => {
  for (const rewards of [
    [3, 1],
    [0, 0, 0],
    [-1, 2, 5, 2],
  ]) {
    for (const a of topBaseline.compute([group(rewards)], ctx).rollout[0]) assert.ok(a <= 0);
  }
  const registry = new Registry();
  registry.register(plugin, 'example');
  assert.deepEqual(registry.names('methods'), ['example-top']);
});
