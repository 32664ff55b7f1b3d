import type { Advantages, RewardExamples, RewardModelHandle, Rollout, ScoredText } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bestOfKValue, pav, progressFromScores, proverAdvantage, verifierText } from './pav.js';
import { contextWith, rolloutOf, type ScriptedServices, scriptedServices } from './test-support.js';

type PrefixCall = { rollout: string; turns: number; count: number; policy?: 'current' | 'reference' };

/** Services whose restarts at (rollout, t) succeed in the given fraction of episodes (rounded down). */
function restarting(rate: (rollout: Rollout, t: number) => number): ScriptedServices & { prefixCalls: PrefixCall[] } {
  const base = scriptedServices();
  const prefixCalls: PrefixCall[] = [];
  return Object.assign(base, {
    prefixCalls,
    async prefixRollouts(request: { rollout: Rollout; turns: number; count: number; policy?: 'current' | 'reference' }) {
      prefixCalls.push({
        rollout: request.rollout.id,
        turns: request.turns,
        count: request.count,
        ...(request.policy ? { policy: request.policy } : {}),
      });
      const wins = Math.floor(rate(request.rollout, request.turns) * request.count);
      return Array.from({ length: request.count }, (_, i) =>
        rolloutOf(`${request.rollout.id}@${request.turns}`, i, [['o', 'a']], i < wins ? 1 : 0),
      );
    },
  });
}

/** A verifier double: scores from a table keyed by context|text; records what it trained on and when. */
function tableVerifier(table: (text: ScoredText) => number) {
  const log: string[] = [];
  const trained: RewardExamples[] = [];
  const handle: RewardModelHandle = {
    name: 'pav-verifier',
    async score(texts) {
      log.push(`score ${texts.length}`);
      return texts.map(table);
    },
    async train(examples) {
      log.push(`train ${examples.points?.length ?? 0}`);
      trained.push(examples);
      return { loss: 0.25, examples: examples.points?.length ?? 0 };
    },
  };
  return { handle, log, trained };
}

const three = (index: number, actions: string, reward: number) =>
  rolloutOf(
    'g0',
    index,
    [...actions].map((a, h) => [`s${h}`, a] as [string, string]),
    reward,
  );

describe('pav', () => {
  it("hand-worked example: V(s) = 0.3, V(s') = 0.5, K = 4 gives A^mu = 0.1776; effective reward 0.5888 at alpha 0.5", () => {
    expect(bestOfKValue(0.3, 4)).toBeCloseTo(0.7599, 10);
    expect(proverAdvantage(0.3, 0.5, 4)).toBeCloseTo(0.1776, 4);
    expect(0.5 + 0.5 * proverAdvantage(0.3, 0.5, 4)).toBeCloseTo(0.5888, 4);
  });

  it('Monte Carlo progress, hand-computed: restarts at every step prefix of every rollout, each charged through the services', async () => {
    // rollout 0 ('abc', won): V(s1) = 0.5, V(s2) = 1; rollout 1 ('xyz', lost): V(s1) = 0.25, V(s2) = 0; V(s0) = 1/2
    const rates: Record<string, number> = { 'g0/0@1': 0.5, 'g0/0@2': 1, 'g0/1@1': 0.25, 'g0/1@2': 0 };
    const services = restarting((r, t) => rates[`${r.id}@${t}`] as number);
    const group = [three(0, 'abc', 1), three(1, 'xyz', 0)];
    const out = (await pav({ progress: 'monte-carlo', k: 2, alpha: 1, mc: 4 }).compute(
      [group],
      contextWith(services),
    )) as Advantages;
    const b = (v: number) => 1 - (1 - v) ** 2;
    const expected = [
      [0.5 + b(0.5) - b(0.5), 0.5 + b(1) - b(0.5), 0.5 + 1 - b(1)],
      [-0.5 + b(0.25) - b(0.5), -0.5 + b(0) - b(0.25), -0.5 + 0 - b(0)],
    ];
    out.turns?.[0]?.forEach((row, i) => row.forEach((a, h) => expect(a).toBeCloseTo(expected[i]?.[h] as number, 12)));
    // the headline telescopes: A^pi + alpha (outcome - V^mu(s0))
    expect(out.rollout[0]?.[0]).toBeCloseTo(0.5 + 1 - b(0.5), 12);
    expect(out.rollout[0]?.[1]).toBeCloseTo(-0.5 - b(0.5), 12);
    expect(services.prefixCalls).toEqual([
      { rollout: 'g0/0', turns: 1, count: 4, policy: 'current' },
      { rollout: 'g0/0', turns: 2, count: 4, policy: 'current' },
      { rollout: 'g0/1', turns: 1, count: 4, policy: 'current' },
      { rollout: 'g0/1', turns: 2, count: 4, policy: 'current' },
    ]);
    expect(out.diagnostics?.prefixEpisodes).toBe(16);
    expect(services.rolloutCalls).toHaveLength(0);
  });

  it('verifier progress: scored before it trains; progress = consecutive differences of Q_psi; targets are the Best-of-K Monte Carlo values', async () => {
    const services = restarting(() => 0.5);
    const q: Record<string, number> = { 's0|': 0.2, 's0|a': 0.3, 's1|b': 0.7, 's2|c': 0.9, 's0|x': 0.1, 's1|y': 0.1, 's2|z': 0 };
    const verifier = tableVerifier((t) => q[`${t.context}|${t.text}`] as number);
    const group = [three(0, 'abc', 1), three(1, 'xyz', 0)];
    const ctx = { ...contextWith(services), rewardModels: { 'pav-verifier': verifier.handle } };
    const out = (await pav({ share: 1, prefixes: 1, alpha: 0.5, k: 4, mc: 2 }).compute([group], ctx)) as Advantages;
    expect(verifier.log).toEqual(['score 8', 'train 5']);
    const expected = [
      [0.5 + 0.5 * 0.1, 0.5 + 0.5 * 0.4, 0.5 + 0.5 * 0.2],
      [-0.5 + 0.5 * -0.1, -0.5 + 0.5 * 0, -0.5 + 0.5 * -0.1],
    ];
    out.turns?.[0]?.forEach((row, i) => row.forEach((a, h) => expect(a).toBeCloseTo(expected[i]?.[h] as number, 12)));
    // one restart point per rollout (prefixes 1), each with mc = 2 episodes
    expect(services.prefixCalls).toHaveLength(2);
    expect(out.diagnostics?.prefixEpisodes).toBe(4);
    const points = verifier.trained[0]?.points ?? [];
    // start state: V^mu(s0) = 1 - (1 - 1/2)^4; each restarted prefix: 1 - (1 - 1/2)^4; each end: its own outcome
    expect(points[0]).toEqual({ context: 's0', text: '', target: 1 - 0.5 ** 4 });
    expect(points.filter((p) => p.target === 1 - 0.5 ** 4)).toHaveLength(3);
    expect(points.filter((p) => p.context === 's2').map((p) => [p.text, p.target])).toEqual([
      ['c', 1],
      ['z', 0],
    ]);
  });

  it('property: alpha = 0 is the centred outcome with no model call; Monte Carlo progress telescopes to outcome - V^mu(s0), each step within [-1, 1]', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.boolean()), { minLength: 2, maxLength: 5 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.double({ min: 0.01, max: 2, noNaN: true }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 5 }),
        async (shape, k, mc, alpha, rates) => {
          const group = shape.map(([length, won], i) => three(i, 'abcd'.slice(0, length), won ? 1 : 0));
          const services = restarting((r, t) => rates[(t + Number(r.id.slice(3))) % rates.length] as number);
          const zero = (await pav({ alpha: 0 }).compute([group], contextWith(services))) as Advantages;
          expect(services.prefixCalls).toHaveLength(0);
          const m = group.filter((r) => r.success).length / group.length;
          zero.rollout[0]?.forEach((a, i) => expect(a).toBeCloseTo((group[i]?.success ? 1 : 0) - m, 12));
          const out = (await pav({ alpha, k, mc, progress: 'monte-carlo' }).compute(
            [group],
            contextWith(services),
          )) as Advantages;
          expect(services.prefixCalls).toHaveLength(group.reduce((a, r) => a + r.turns.length - 1, 0));
          group.forEach((r, i) => {
            const o = r.success ? 1 : 0;
            expect(out.rollout[0]?.[i]).toBeCloseTo(o - m + alpha * (o - bestOfKValue(m, k)), 9);
            out.turns?.[0]?.[i]?.forEach((a) => expect(Math.abs(a - (o - m))).toBeLessThanOrEqual(alpha + 1e-9));
          });
        },
      ),
      { numRuns: 40 },
    );
  });

  it('share: round(share x G) rollouts of each group (at least one) are restarted, at `prefixes` step prefixes each', async () => {
    const services = restarting(() => 0.5);
    const verifier = tableVerifier(() => 0);
    const group = Array.from({ length: 8 }, (_, i) => three(i, 'abcd', i % 2));
    const ctx = { ...contextWith(services), rewardModels: { 'pav-verifier': verifier.handle } };
    const out = (await pav({ share: 0.25, prefixes: 2, mc: 3 }).compute([group], ctx)) as Advantages;
    expect(new Set(services.prefixCalls.map((c) => c.rollout)).size).toBe(2);
    expect(services.prefixCalls).toHaveLength(4);
    expect(out.diagnostics?.prefixEpisodes).toBe(12);
    await pav({ share: 0.01, prefixes: 0, mc: 1 }).compute([group], ctx);
    // one rollout, every one of its 3 inner prefixes
    expect(services.prefixCalls.slice(4)).toHaveLength(3);
  });

  it('a frozen prover restarts with the reference policy, its start value from fresh reference episodes', async () => {
    const services = restarting(() => 1);
    const group = [three(0, 'ab', 1), three(1, 'xy', 0)];
    const out = (await pav({ progress: 'monte-carlo', prover: 'reference', mc: 3, k: 1, alpha: 1 }).compute(
      [group],
      contextWith(services),
    )) as Advantages;
    expect(services.rolloutCalls).toEqual([{ groupId: 'g0', count: 3, policy: 'reference' }]);
    expect(services.prefixCalls.every((c) => c.policy === 'reference')).toBe(true);
    // the default scripted start episodes all fail: V(s0) = 0, V(s1) = 1 for both rollouts
    expect(out.turns?.[0]?.[1]).toEqual([-0.5 + 1, -0.5 + (0 - 1)]);
  });

  it('verifier texts and progress from scores', () => {
    const r = three(0, 'ab', 1);
    expect(verifierText(r, -1)).toEqual({ context: 's0', text: '' });
    expect(verifierText(r, 1)).toEqual({ context: 's1', text: 'b' });
    const progress = progressFromScores([0.2, 0.5, 0.1]);
    expect(progress).toHaveLength(2);
    expect(progress[0]).toBeCloseTo(0.3, 12);
    expect(progress[1]).toBeCloseTo(-0.4, 12);
  });

  it('errors: missing services, missing verifier, no prefix restarts, G < 2, reward outside [0, 1], bad options', async () => {
    const group = [three(0, 'ab', 1), three(1, 'xy', 0)];
    await expect(async () => pav().compute([group], contextWith())).rejects.toThrow(/pav needs the trainer's model services/);
    await expect(async () => pav().compute([group], contextWith(restarting(() => 0)))).rejects.toThrow(
      /no reward model 'pav-verifier'.*--set rewardModels=pav-verifier/,
    );
    await expect(async () => pav({ progress: 'monte-carlo' }).compute([group], contextWith(scriptedServices()))).rejects.toThrow(
      /prefixRollouts/,
    );
    await expect(async () =>
      pav({ progress: 'monte-carlo' }).compute([[group[0] as Rollout]], contextWith(restarting(() => 0))),
    ).rejects.toThrow(/group 0 has 1 rollout/);
    const big = [three(0, 'ab', 2), three(1, 'xy', 0)];
    await expect(async () =>
      pav({ value: 'reward', progress: 'monte-carlo' }).compute([big], contextWith(restarting(() => 0))),
    ).rejects.toThrow(/rollout 0 \(g0\/0\) has reward 2 outside \[0, 1\]/);
    expect(() => pav({ k: 0 })).toThrow(/'k'.*0/);
    expect(() => pav({ mc: 0 })).toThrow(/'mc'.*0/);
    expect(() => pav({ share: 0 })).toThrow(/'share'.*0/);
    expect(() => pav({ progress: 'oracle' as never })).toThrow(/progress.*oracle/);
    expect(pav().requires).toEqual({ multiTurn: true });
  });
});
