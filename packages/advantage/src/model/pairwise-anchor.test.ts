import { type Advantages, PAIR_JOIN, type RewardModelHandle, type ScoredText } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pairwiseAnchor, pairwiseReward } from './pairwise-anchor.js';
import { contextWith, rolloutOf, scriptedServices, singleTurnGroups } from './test-support.js';

/** The two answers a pair text shows, first then second. */
function answersOf(pair: ScoredText): [string, string] {
  const first = pair.context.split(PAIR_JOIN)[1] ?? '';
  return [first, pair.text];
}

/**
 * A judge whose logit for "first > second" is strength(first) - strength(second) + bias: `bias`
 * is a position bias towards whichever answer is shown first.
 */
function scriptedJudge(strength: (answer: string) => number, bias = 0): RewardModelHandle & { calls: number } {
  const judge = {
    name: 'pairwise-gen-rm',
    calls: 0,
    async score(texts: readonly ScoredText[]) {
      judge.calls++;
      return texts.map((t) => {
        const [a, b] = answersOf(t);
        return strength(a) - strength(b) + bias;
      });
    },
    async train() {
      return { loss: 0, examples: 0 };
    },
  };
  return judge;
}

/** Services whose greedy anchor of every group answers `anchor` with the given reward. */
const anchorServices = (anchor: string, reward = 0) =>
  scriptedServices({ rollouts: (request) => [rolloutOf(`${request.groupId}a`, 0, [['q', anchor]], reward)] });

const run = async (
  groups: ReturnType<typeof singleTurnGroups>,
  judge: RewardModelHandle,
  services = anchorServices('anchor'),
  options: Parameters<typeof pairwiseAnchor>[0] = {},
) =>
  (await pairwiseAnchor(options).compute(groups, {
    ...contextWith(services),
    rewardModels: { 'pairwise-gen-rm': judge },
  })) as Advantages;

describe('pairwise-anchor (Pairwise-RL)', () => {
  it('worked example: P(y > a) = 0.70 and P(a > y) = 0.40 give r = 0.65', () => {
    expect(pairwiseReward(0.7, 0.4)).toBeCloseTo(0.65, 12);
    expect(pairwiseReward(1, 0)).toBe(1);
    expect(pairwiseReward(0, 1)).toBe(0);
  });

  it("an answer equal to the anchor scores exactly 1/2 (advantage 0), whatever the judge's position bias (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.double({ min: -8, max: 8, noNaN: true }), fc.integer({ min: 1, max: 5 }), async (bias, size) => {
        const groups = [Array.from({ length: size }, (_, i) => rolloutOf('g0', i, [['q', 'same']], i % 2))];
        const out = await run(
          groups,
          scriptedJudge((a) => a.length, bias),
          anchorServices('same'),
        );
        for (const a of out.rollout[0] ?? []) expect(Math.abs(a)).toBeLessThan(1e-12);
      }),
      { numRuns: 60 },
    );
  });

  it("a position bias cancels: the advantage is the unbiased judge's to first order, and in [-1/2, 1/2] (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 6 }),
        fc.double({ min: -0.05, max: 0.05, noNaN: true }),
        async (lengths, bias) => {
          const groups = [lengths.map((n, i) => rolloutOf('g0', i, [['q', 'x'.repeat(n)]], 0))];
          const strength = (a: string) => 0.3 * a.length;
          const biased = await run(groups, scriptedJudge(strength, bias), anchorServices('xxx'));
          const fair = await run(groups, scriptedJudge(strength), anchorServices('xxx'));
          biased.rollout[0]?.forEach((a, i) => {
            expect(a).toBeGreaterThanOrEqual(-0.5);
            expect(a).toBeLessThanOrEqual(0.5);
            // r(b) = (s(d + b) + s(d - b)) / 2 = s(d) + s''(d) b^2 / 4 + ...: the swap cancels the O(b) term
            expect(Math.abs(a - (fair.rollout[0]?.[i] as number))).toBeLessThan(bias * bias + 1e-12);
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('orders rollouts as the judge prefers them; baseline=group sums to zero in each group (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 }),
        async (lengths) => {
          const groups = lengths.map((group, g) => group.map((n, i) => rolloutOf(`g${g}`, i, [['q', 'y'.repeat(n)]], 0)));
          const strength = (a: string) => 0.5 * a.length;
          const anchored = await run(groups, scriptedJudge(strength), anchorServices('yyyy'));
          const centred = await run(groups, scriptedJudge(strength), anchorServices('yyyy'), { baseline: 'group' });
          lengths.forEach((group, g) => {
            group.forEach((n, i) => {
              const a = anchored.rollout[g]?.[i] as number;
              expect(Math.sign(Math.round(a * 1e9))).toBe(Math.sign(n - 4));
            });
            const sum = (centred.rollout[g] ?? []).reduce((s, x) => s + x, 0);
            expect(Math.abs(sum)).toBeLessThan(1e-9);
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('draws one greedy anchor per group from the frozen start, asks the judge once, and logs its agreement with the environment', async () => {
    const services = anchorServices('aa', 0.5);
    const judge = scriptedJudge((a) => a.length);
    const groups = [
      [rolloutOf('g0', 0, [['q', 'a']], 0), rolloutOf('g0', 1, [['q', 'aaa']], 1)],
      [rolloutOf('g1', 0, [['q', 'aaaa']], 0)],
    ];
    const out = await run(groups, judge, services);
    expect(services.rolloutCalls).toEqual([
      { groupId: 'g0', count: 1, greedy: true, policy: 'reference' },
      { groupId: 'g1', count: 1, greedy: true, policy: 'reference' },
    ]);
    expect(judge.calls).toBe(1);
    // 'a' < 'aa' (truth 0 < 0.5: agree), 'aaa' > 'aa' (1 > 0.5: agree), 'aaaa' > 'aa' (0 < 0.5: disagree)
    expect(out.diagnostics).toMatchObject({ judgeDecided: 3, anchorRewardMean: 0.5 });
    expect(out.diagnostics?.judgeAgreement).toBeCloseTo(2 / 3, 12);
    expect(out.diagnostics?.positionGap).toBeCloseTo(0, 12);
    expect(pairwiseAnchor().needsReference).toBe(true);
    expect(pairwiseAnchor({ anchor: 'current' }).needsReference).toBe(false);
  });

  it('names the missing judge and the bad option', async () => {
    await expect(
      pairwiseAnchor().compute(singleTurnGroups([[1, 0]]), { ...contextWith(anchorServices('a')), rewardModels: {} }),
    ).rejects.toThrow(/no reward model 'pairwise-gen-rm'.*--set rewardModels=pairwise-gen-rm/);
    await expect(pairwiseAnchor().compute(singleTurnGroups([[1, 0]]), contextWith())).rejects.toThrow(
      /needs the trainer's model services/,
    );
    expect(() => pairwiseAnchor({ baseline: 'median' as never })).toThrow(/baseline.*anchor, group.*median/);
  });
});
