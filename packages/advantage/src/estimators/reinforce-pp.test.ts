import type { Rollout } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contextFor, groupsOf } from '../test-support/rollouts.js';
import { dapo } from './dapo.js';
import { reinforcePp, reinforcePpBaseline, tokenWhiten } from './reinforce-pp.js';

const withTokens = (groups: Rollout[][], counts: number[][]): Rollout[][] =>
  groups.map((g, gi) =>
    g.map((r, i) => ({
      ...r,
      turns: [
        {
          observation: '',
          action: '',
          promptTokens: [1],
          actionTokens: new Array(counts[gi]?.[i] ?? 1).fill(5),
          logprobs: [],
          reward: {},
          valid: true,
          truncated: false,
        },
      ],
    })),
  );

describe('REINFORCE++ (hand-computed)', () => {
  it('REINFORCE++-baseline: group mean, then whitening over the batch', () => {
    // centred [0.5, -0.5, 0, 0]; Bessel variance over 4 values = 0.5 / 3; 0.5 / sqrt(1/6) = 1.2247
    const { rollout } = reinforcePpBaseline().compute(
      groupsOf([
        [1, 0],
        [1, 1],
      ]),
      contextFor(),
    ) as { rollout: number[][] };
    rollout.flat().forEach((a, i) => expect(a).toBeCloseTo([1.2247, -1.2247, 0, 0][i] as number, 4));
  });

  it('REINFORCE++: rewards whitened over the batch without a group baseline (groups of one allowed)', () => {
    const { rollout } = reinforcePp().compute(groupsOf([[1], [0], [1], [0]]), contextFor()) as { rollout: number[][] };
    rollout.flat().forEach((a, i) => expect(a).toBeCloseTo([0.866, -0.866, 0.866, -0.866][i] as number, 3));
  });

  it('token-weighted whitening gives token-weighted mean 0 and variance 1', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: -100, max: 100 }).map((x) => x / 10),
            fc.integer({ min: 1, max: 6 }),
          ),
          { minLength: 2, maxLength: 12 },
        ),
        (pairs) => {
          const values = pairs.map(([v]) => v);
          const counts = pairs.map(([, c]) => c);
          const total = counts.reduce((a, b) => a + b, 0);
          const centre = values.reduce((s, v, i) => s + v * (counts[i] as number), 0) / total;
          const spread = values.reduce((s, v, i) => s + (counts[i] as number) * (v - centre) ** 2, 0);
          const out = tokenWhiten(values, counts);
          const m = out.reduce((s, v, i) => s + v * (counts[i] as number), 0) / total;
          const variance = out.reduce((s, v, i) => s + (counts[i] as number) * (v - m) ** 2, 0) / (total - 1);
          return Math.abs(m) < 1e-9 && (spread < 1e-6 || Math.abs(variance - 1) < 1e-4);
        },
      ),
    );
  });

  it('weights longer rollouts more in the batch statistics', () => {
    const groups = withTokens(groupsOf([[1], [0]]), [[3], [1]]);
    const { rollout } = reinforcePp().compute(groups, contextFor()) as { rollout: number[][] };
    // token-weighted mean 0.75: the long rewarded rollout sits closer to it than the short one
    expect(Math.abs(rollout[0]?.[0] as number)).toBeLessThan(Math.abs(rollout[1]?.[0] as number));
  });
});

describe('DAPO dynamic sampling', () => {
  it('keeps only groups whose rewards differ, and otherwise equals GRPO', () => {
    const estimator = dapo();
    const ctx = contextFor();
    const [mixed, equal] = groupsOf([
      [1, 0, 0, 1],
      [1, 1, 1, 1],
    ]);
    expect(estimator.keepGroup?.(mixed as Rollout[], ctx)).toBe(true);
    expect(estimator.keepGroup?.(equal as Rollout[], ctx)).toBe(false);
    const { rollout } = estimator.compute([mixed as Rollout[]], ctx) as { rollout: number[][] };
    rollout[0]?.forEach((a, i) => expect(a).toBeCloseTo([0.8659, -0.8659, -0.8659, 0.8659][i] as number, 4));
  });
});
