/**
 * Per-rollout weights on the divergence penalty (GARDO's gated KL): the gradient of the weighted
 * penalty against finite differences, and, inside a real run, a gate of 0 everywhere trains exactly
 * as a run without the penalty.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AdvantageEstimator } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../backend/select-backend.js';
import { meanBaseline, TINY, temporaryFolder, tinyRegistry } from '../../test-support/tiny.js';
import { rowsFromRollouts } from '../batch.js';
import { train } from '../train.js';
import { weightedPenalty } from './rows.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

/** k3 = exp(ref - logp) - (ref - logp) - 1 per token, the GRPO KL estimator. */
const k3 = (logp: tf.Tensor, ref: tf.Tensor) => {
  const d = tf.sub(ref, logp);
  return tf.sub(tf.sub(tf.exp(d), d), 1);
};

describe('weighted divergence penalty', () => {
  const logp = [
    [-0.7, -1.2, -2.0],
    [-0.3, -0.9, -1.5],
    [-1.1, -0.4, -0.8],
  ];
  const ref = [
    [-0.5, -1.6, -1.0],
    [-0.8, -0.2, -1.9],
    [-0.6, -0.9, -0.3],
  ];
  const mask = [
    [1, 1, 0],
    [1, 1, 1],
    [1, 0, 0],
  ];
  const gates = [0, 2, 1];
  const value = (x: number[][]) =>
    tf.tidy(
      () => weightedPenalty(k3(tf.tensor2d(x), tf.tensor2d(ref)), tf.tensor2d(mask), tf.tensor1d(gates)).dataSync()[0],
    ) as number;

  it('is the gate-weighted mean of the per-token penalty over every trained token', () => {
    let expected = 0;
    logp.forEach((row, r) =>
      row.forEach((lp, t) => {
        const d = (ref[r]?.[t] as number) - lp;
        expected += (gates[r] as number) * (mask[r]?.[t] as number) * (Math.exp(d) - d - 1);
      }),
    );
    expect(value(logp)).toBeCloseTo(expected / 6, 5);
  });

  it('its gradient matches central finite differences, and is exactly 0 on ungated rows and padding', () => {
    const grad = tf.tidy(() =>
      tf
        .grad((x: tf.Tensor) => weightedPenalty(k3(x, tf.tensor2d(ref)), tf.tensor2d(mask), tf.tensor1d(gates)))(
          tf.tensor2d(logp),
        )
        .arraySync(),
    ) as number[][];
    const h = 1e-2;
    logp.forEach((row, r) =>
      row.forEach((_, t) => {
        const plus = logp.map((rr, i) => rr.map((v, j) => (i === r && j === t ? v + h : v)));
        const minus = logp.map((rr, i) => rr.map((v, j) => (i === r && j === t ? v - h : v)));
        const numeric = (value(plus) - value(minus)) / (2 * h);
        expect(grad[r]?.[t]).toBeCloseTo(numeric, 3);
        if (gates[r] === 0 || mask[r]?.[t] === 0) expect(Math.abs(grad[r]?.[t] as number)).toBe(0);
        else expect(Math.abs(grad[r]?.[t] as number)).toBeGreaterThan(0);
      }),
    );
  });
});

describe('divergence weights in a run', () => {
  it('rows carry their rollout’s divergence weight', () => {
    const rollout = (id: string) => ({
      id,
      groupId: 'g',
      taskId: 't',
      reward: {},
      success: false,
      turns: [
        {
          observation: '',
          action: 'a',
          promptTokens: [1],
          actionTokens: [2],
          logprobs: [-1],
          reward: {},
          valid: true,
          truncated: false,
        },
      ],
    });
    const rows = rowsFromRollouts([[rollout('g/0'), rollout('g/1')]], {
      rollout: [[1, -1]],
      weights: [[1, 1]],
      divergenceWeights: [[0, 3]],
    });
    expect(rows.map((r) => r.divergenceWeight)).toEqual([0, 3]);
  });

  const gateAll = (value: number): AdvantageEstimator => ({
    ...meanBaseline,
    name: `gate-${value}`,
    async compute(groups, ctx) {
      const base = await meanBaseline.compute(groups, ctx);
      return { ...base, divergenceWeights: groups.map((g) => g.map(() => value)) };
    },
  });
  const registry = () => tinyRegistry({ name: 'gates', estimators: [gateAll(0), gateAll(1)] });
  const lossesOf = async (overrides: Record<string, unknown>) => {
    const outDir = temporaryFolder();
    await train({
      registry: registry(),
      method: 'reinforce-mean',
      env: 'echo',
      seed: 3,
      budget: { episodes: 3 * 24 },
      overrides: { ...TINY, divergence: 'k2-test', ...overrides },
      sft: 'none',
      outDir,
    });
    return readFileSync(path.join(outDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, number>)
      .map((m) => [m.loss, m.kl]);
  };

  it('a gate of 0 on every rollout trains exactly as a run without the penalty; a gate of 1 as the plain penalty', async () => {
    const closed = await lossesOf({ estimator: 'gate-0', divergenceCoef: 0.5 });
    const off = await lossesOf({ estimator: 'gate-0', divergenceCoef: 0 });
    const open = await lossesOf({ estimator: 'gate-1', divergenceCoef: 0.5 });
    const plain = await lossesOf({ divergenceCoef: 0.5 });
    expect(closed).toEqual(off);
    expect(open).toEqual(plain);
    expect(open).not.toEqual(closed);
  });
});
