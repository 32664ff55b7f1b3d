import { isUsageError, type Plugin, type RowLoss } from '@policy-lab/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { meanBaseline, TINY, tinyRegistry } from '../test-support/tiny.js';
import { resolvePlugins } from './plugins.js';
import { train } from './train.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

const resolve = (overrides: Record<string, unknown>, method = 'reinforce-mean') =>
  resolvePlugins({ registry: tinyRegistry(), method, env: 'echo', seed: 1, budget: { episodes: 48 }, overrides });

describe('shared options reach only the plugins that read them', () => {
  it('clipLow on a loss that does not honour it is refused, naming the losses that do', () => {
    const attempt = () => resolve({ loss: 'reinforce', clipLow: 0.5 });
    expect(attempt).toThrow(
      /--set clipLow: no active plugin of this run reads it .*loss 'reinforce'.*read by the losses .*ppo-clip/,
    );
    try {
      attempt();
    } catch (error) {
      expect(isUsageError(error)).toBe(true);
    }
  });

  it('clipLow on ppo-clip reaches the loss; unset, the loss keeps its own default', () => {
    const set = resolve({ clipLow: 0.1 });
    expect(set.loss.resolved).toMatchObject({ clipLow: 0.1, clipHigh: 0.2 });
    const unset = resolve({});
    expect(unset.loss.resolved).toMatchObject({ clipLow: 0.2, clipHigh: 0.2 });
  });

  it('a divergence coefficient without a divergence, and aggregation on a pair loss, are refused', () => {
    expect(() => resolve({ divergenceCoef: 0.1 })).toThrow(/divergenceCoef: no active plugin .*a run with a divergence/);
    expect(() => resolve({ aggregation: 'seq-mean-token-sum' }, 'dpo-online')).toThrow(/aggregation: no active plugin/);
    expect(resolve({ divergence: 'k2-test', divergenceCoef: 0.1 }).divergence?.name).toBe('k2-test');
  });
});

describe('the verification pass (PIPO) takes the same update path as the main one', () => {
  // An estimator that asks for a second update on the step's own groups, and a row loss that
  // reads the rows' rollouts: before the one update path the verification rows had no owners.
  let verify: { groups: never[][]; advantages: never } | undefined;
  const verifying: Plugin = {
    name: 'verifying',
    estimators: [
      {
        ...meanBaseline,
        name: 'verifying',
        summary: 'mean baseline whose groups are trained on twice',
        async compute(groups, ctx) {
          const advantages = await meanBaseline.compute(groups, ctx);
          verify = { groups: groups as never, advantages: advantages as never };
          return advantages;
        },
        verification: () => verify,
      },
    ],
    losses: [
      {
        name: 'owners-needed',
        summary: 'REINFORCE that checks every row carries its rollout',
        kind: 'rows',
        needs: { rollouts: true },
        loss(batch, tf) {
          const t = tf as typeof import('@tensorflow/tfjs-core');
          if (!batch.rollouts) throw new Error('rows without rollouts');
          const b = batch as Parameters<RowLoss<typeof t, import('@tensorflow/tfjs-core').Tensor>['loss']>[0];
          return { loss: t.neg(t.mean(t.mul(t.mul(b.advantages, b.logprobs), b.mask))) };
        },
      } as RowLoss,
    ],
    methods: [{ name: 'verify-twice', summary: 'test', estimator: 'verifying', loss: 'owners-needed' }],
  };

  it('trains on the verification rows with their rollouts (the loss reads them) and reports the pass', async () => {
    const result = await train({
      registry: tinyRegistry(verifying),
      method: 'verify-twice',
      env: 'echo',
      seed: 1,
      budget: { episodes: 48 },
      overrides: TINY,
      sft: 'none',
    });
    expect(result.steps).toBe(2);
    expect(Number.isFinite(result.diagnostics.verificationLoss)).toBe(true);
  });
});
