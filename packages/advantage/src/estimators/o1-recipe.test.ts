import type { Rollout } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { zScores } from '../group-math.js';
import { contextFor } from '../test-support/rollouts.js';
import { o1Recipe, stepAdvantages } from './o1-recipe.js';

/** A trace of one action whose steps end at `ends` with the value model's V there. */
function trace(reward: number, ends: readonly number[], values: readonly number[], i: number): Rollout {
  const tokens = ends[ends.length - 1] ?? 0;
  return {
    id: `g/${i}`,
    groupId: 'g',
    taskId: 't',
    turns: [
      {
        observation: 'o',
        action: 'x'.repeat(tokens),
        promptTokens: [],
        actionTokens: Array.from({ length: tokens }, () => 1),
        logprobs: Array.from({ length: tokens }, () => -1),
        reward: { reward },
        valid: true,
        truncated: false,
      },
    ],
    reward: { reward },
    success: reward > 0,
    meta: {
      restMcts: { value: values[values.length - 1] ?? 0, traces: 1, steps: ends.map((end, k) => ({ end, value: values[k] })) },
    },
  };
}

// A group of traces: rewards, and per trace its step lengths and the values at their ends.
const traces = fc.array(
  fc.record({
    reward: fc.constantFrom(0, 1),
    lengths: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 5 }),
    values: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 5, maxLength: 5 }),
  }),
  { minLength: 1, maxLength: 6 },
);
const build = (spec: { reward: number; lengths: number[]; values: number[] }[]) =>
  spec.map((s, i) => {
    const ends = s.lengths.map((_, k) => s.lengths.slice(0, k + 1).reduce((a, b) => a + b, 0));
    return trace(s.reward, ends, s.values.slice(0, ends.length), i);
  });

describe('o1-recipe (outcome + process advantages on search traces)', () => {
  it('worked example: outcome 0.5, steps of 2 and 1 tokens with V 0.2 then 0.6, alpha 1 give [0.7, 0.7, 0.9]', () => {
    const out = stepAdvantages(
      0.5,
      [
        { end: 2, value: 0.2 },
        { end: 3, value: 0.6 },
      ],
      3,
      1,
    );
    expect(out.map((a) => Number(a.toFixed(12)))).toEqual([0.7, 0.7, 0.9]);
  });

  it("property: process weight 0 is GRPO's z-score over the traces on every token", async () => {
    await fc.assert(
      fc.asyncProperty(traces, async (spec) => {
        const group = build(spec);
        const out = await o1Recipe({ processWeight: 0 }).compute([group], contextFor());
        const z = zScores(
          spec.map((s) => s.reward),
          'sample',
          1e-4,
        );
        group.forEach((r, i) => {
          for (const a of out.tokens?.[0]?.[i]?.[0] ?? []) expect(a).toBe(z[i]);
          expect(out.tokens?.[0]?.[i]?.[0]).toHaveLength(r.turns[0]?.actionTokens.length ?? -1);
        });
        expect(out.weights[0]?.every((w) => w === 1)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it("property: a trace's process rewards (one per step) telescope to alpha x V of its last step", async () => {
    await fc.assert(
      fc.asyncProperty(traces, fc.double({ min: 0.1, max: 3, noNaN: true }), async (spec, alpha) => {
        const group = build(spec);
        const out = await o1Recipe({ processWeight: alpha }).compute([group], contextFor());
        group.forEach((r, i) => {
          const steps = (r.meta?.restMcts as { steps: { end: number; value: number }[] } | undefined)?.steps ?? [];
          const tokens = out.tokens?.[0]?.[i]?.[0] ?? [];
          const outcome = out.rollout[0]?.[i] as number;
          // the first token of each step carries that step's process reward
          const starts = [0, ...steps.slice(0, -1).map((step) => step.end)];
          const sum = starts.reduce((a, start) => a + ((tokens[start] as number) - outcome), 0);
          expect(sum).toBeCloseTo(alpha * (steps[steps.length - 1]?.value as number), 9);
        });
      }),
      { numRuns: 100 },
    );
  });

  it('refuses traces without a search behind them', async () => {
    const bare = { ...trace(1, [2], [0.5], 0), meta: {} };
    await expect(Promise.resolve().then(() => o1Recipe().compute([[bare]], contextFor()))).rejects.toThrow(
      /--set sampler=rest-mcts/,
    );
  });
});
