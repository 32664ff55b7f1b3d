import { type RewardVector, Rng, type Rollout, type ShapeContext, type Turn } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tbrPartialCredit, traceBackCredit } from './tbr.js';

const vector = (pass: readonly number[]): RewardVector => {
  const passed = pass.every((p) => p === 1) ? 1 : 0;
  return {
    passed,
    partial: pass.reduce((a, b) => a + b, 0) / pass.length,
    ...Object.fromEntries(pass.map((p, j) => [`test${j + 1}`, p])),
  };
};
const turn = (pass: readonly number[]): Turn => ({
  observation: 'o',
  action: 'a',
  promptTokens: [1],
  actionTokens: [4],
  logprobs: [-1],
  reward: vector(pass),
  valid: true,
  truncated: false,
});
const rollout = (id: string, attempts: readonly (readonly number[])[]): Rollout => ({
  id,
  groupId: 'g',
  taskId: 't',
  turns: attempts.map(turn),
  reward: vector(attempts[attempts.length - 1] as number[]),
  success: (attempts[attempts.length - 1] as number[]).every((p) => p === 1),
});
const ctx: ShapeContext = { rng: Rng.seeded(1), step: 0, weights: {}, components: [], maxNewTokens: 20 };

describe('tbr-partial-credit', () => {
  it('hand-computed: credit goes to the attempt from which each finally passing test kept passing', () => {
    // tests:       1  2  3  4
    // attempt 1:   1  1  0  0
    // attempt 2:   1  0  1  0   (test 2 broken again)
    // attempt 3:   1  1  1  0
    // test 1 passes from attempt 1 on, test 3 from attempt 2 on, test 2 only from attempt 3 on; test 4 never.
    expect(
      traceBackCredit([
        [1, 1, 0, 0],
        [1, 0, 1, 0],
        [1, 1, 1, 0],
      ]),
    ).toEqual([0.25, 0.25, 0.25]);
    const [shaped] = tbrPartialCredit().shape(
      [
        rollout('g/0', [
          [0, 0, 0, 0],
          [1, 1, 0, 0],
          [1, 1, 1, 0],
        ]),
      ],
      ctx,
    );
    expect(shaped?.turns.map((t) => t.reward.tbr)).toEqual([0, 0.5, 0.25]);
    expect(shaped?.reward.tbr).toBe(0.75);
    // the other components are kept, the unshaped reward is remembered
    expect(shaped?.reward.passed).toBe(0);
    expect(shaped?.meta?.unshapedReward).toEqual(vector([1, 1, 1, 0]));
  });

  it('single attempt: the reward is the share of tests passed', () => {
    const out = tbrPartialCredit().shape([rollout('g/0', [[1, 0, 1, 1]]), rollout('g/1', [[0, 0, 0, 0]])], ctx);
    expect(out.map((r) => r.reward.tbr)).toEqual([0.75, 0]);
  });

  it('property: the turns credits are in [0, 1], sum to the final pass share, and a test passing throughout credits the first attempt', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }).chain((tests) =>
          fc.array(fc.array(fc.integer({ min: 0, max: 1 }), { minLength: tests, maxLength: tests }), {
            minLength: 1,
            maxLength: 5,
          }),
        ),
        (attempts) => {
          const [shaped] = tbrPartialCredit().shape([rollout('g/0', attempts)], ctx);
          const credits = shaped?.turns.map((t) => t.reward.tbr as number) ?? [];
          const last = attempts[attempts.length - 1] as number[];
          const share = last.reduce((a, b) => a + b, 0) / last.length;
          expect(credits.every((c) => c >= 0 && c <= 1)).toBe(true);
          expect(credits.reduce((a, b) => a + b, 0)).toBeCloseTo(share, 12);
          expect(shaped?.reward.tbr).toBeCloseTo(share, 12);
          const always = last.filter((_, j) => attempts.every((a) => a[j] === 1)).length;
          expect(credits[0] as number).toBeGreaterThanOrEqual(always / last.length - 1e-12);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses a rollout without per-test components, naming what it has', () => {
    const bare: Rollout = { id: 'g/0', groupId: 'g', taskId: 't', turns: [], reward: { correct: 1 }, success: true };
    expect(() => tbrPartialCredit().shape([bare], ctx)).toThrow(/no per-test components 'test1..N' \(has: correct\)/);
    expect(tbrPartialCredit().requires).toEqual({ components: ['test*'] });
  });
});
