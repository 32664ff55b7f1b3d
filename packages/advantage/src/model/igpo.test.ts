import type { Advantages, ScoreRequest } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { igpo } from './igpo.js';
import { contextWith, rolloutOf, scriptedServices, singleTurnGroups } from './test-support.js';

// The answer is likelier once the tool has shown it: log(0.8) per token after 'found 42', else log(0.2).
const belief = (request: ScoreRequest) =>
  Array.from(request.continuation, () => Math.log(request.context.includes('found 42') ? 0.8 : 0.2));
const meta = { answer: '42' };
const searchGroup = () => [
  [
    rolloutOf(
      'g0',
      0,
      [
        ['q', 'search'],
        ['found 42', '42'],
      ],
      1,
      { meta },
    ),
    rolloutOf(
      'g0',
      1,
      [
        ['q', 'look'],
        ['nothing', '7'],
      ],
      0,
      { meta },
    ),
  ],
];

describe('igpo', () => {
  it('hand-computed: IG 0.6 on the search turn, a zero IG merges into the next turn, joint z-score, gamma 1', async () => {
    const services = scriptedServices({ score: belief });
    const out = (await igpo().compute(searchGroup(), contextWith(services))) as Advantages;
    // reward positions [0.6 (IG), 1 (outcome), 0 (outcome)]; mean 0.53333, population var 0.168889, std 0.410961
    const z = (v: number) => (v - 1.6 / 3) / (Math.sqrt(0.506667 / 3 + 1e-8) + 1e-6);
    const [a, b] = (out.turns ?? [])[0] as number[][];
    expect(a?.[1]).toBeCloseTo(z(1), 4); // 1.1355
    expect(a?.[0]).toBeCloseTo(z(0.6) + z(1), 4); // 0.1622 + 1.1355
    expect(b?.[1]).toBeCloseTo(z(0), 4); // -1.2978
    expect(b?.[0]).toBeCloseTo(z(0), 4); // merged with the last turn
    expect(z(1)).toBeCloseTo(1.1355, 3);
    expect(out.rollout[0]?.[0]).toBeCloseTo(1.2978, 3);
    // two probes per two-turn rollout, the context ending with the answer prefix, the answer as continuation
    expect(services.scoreCalls).toHaveLength(1);
    expect(services.scoreCalls[0]?.policy).toBe('current');
    expect(services.scoreCalls[0]?.requests).toEqual([
      { context: 'q\n', continuation: '42' },
      { context: 'q\nsearch\nfound 42\n', continuation: '42' },
      { context: 'q\n', continuation: '42' },
      { context: 'q\nlook\nnothing\n', continuation: '42' },
    ]);
  });

  it('gamma discounts the later turn; separate normalisation z-scores IG values on their own (one value: std 1)', async () => {
    const discounted = (await igpo({ gamma: 0.5 }).compute(
      searchGroup(),
      contextWith(scriptedServices({ score: belief })),
    )) as Advantages;
    const z = (v: number) => (v - 1.6 / 3) / (Math.sqrt(0.506667 / 3 + 1e-8) + 1e-6);
    expect(discounted.turns?.[0]?.[0]?.[0]).toBeCloseTo(z(0.6) + 0.5 * z(1), 4);
    const separate = (await igpo({ normalization: 'separate' }).compute(
      searchGroup(),
      contextWith(scriptedServices({ score: belief })),
    )) as Advantages;
    // IG set {0.6}: centred to 0; outcome set {1, 0}: +-0.5 / (sqrt(0.25 + 1e-8) + 1e-6) = +-1
    expect(separate.turns?.[0]?.[0]?.[0]).toBeCloseTo(1, 4);
    expect(separate.turns?.[0]?.[1]?.[0]).toBeCloseTo(-1, 4);
  });

  it("log-prob-diff uses log(0.8) - log(0.2); 'best-in-group' probes with the successful rollout's last action", async () => {
    const groups = searchGroup().map((g) => g.map(({ meta: _meta, ...r }) => r));
    const services = scriptedServices({ score: belief });
    const out = (await igpo({ infoGain: 'log-prob-diff', answerSource: 'best-in-group' }).compute(
      groups,
      contextWith(services),
    )) as Advantages;
    expect(services.scoreCalls[0]?.requests.every((r) => r.continuation === '42')).toBe(true);
    const gain = Math.log(0.8) - Math.log(0.2);
    const values = [gain, 1, 0];
    const m = (gain + 1) / 3;
    const sd = Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / 3 + 1e-8) + 1e-6;
    expect(out.turns?.[0]?.[0]?.[0]).toBeCloseTo((gain - m) / sd + (1 - m) / sd, 6);
    // 'meta' without the answer: an error naming the rollout and the key
    await expect(async () => igpo({ answerSource: 'meta' }).compute(groups, contextWith(services))).rejects.toThrow(
      /group 0, rollout 0 \(g0\/0\).*meta\.answer/,
    );
  });

  it('single-turn groups: no scoring, the advantage is the outcome z-score (population std) and sums to zero', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 2, maxLength: 6 }), { minLength: 1, maxLength: 3 }),
        async (rewards) => {
          const services = scriptedServices();
          const out = (await igpo().compute(singleTurnGroups(rewards), contextWith(services))) as Advantages;
          expect(services.scoreCalls).toHaveLength(0);
          rewards.forEach((group, g) => {
            const m = group.reduce((a, b) => a + b, 0) / group.length;
            const sd = Math.sqrt(group.reduce((a, v) => a + (v - m) ** 2, 0) / group.length + 1e-8) + 1e-6;
            const row = out.rollout[g] as number[];
            row.forEach((a, i) => expect(a).toBeCloseTo(((group[i] as number) - m) / sd, 6));
            expect(Math.abs(row.reduce((a, b) => a + b, 0))).toBeLessThan(1e-6);
          });
        },
      ),
      { numRuns: 50 },
    );
  });

  it('multi-turn: finite advantages for any scripted beliefs, exactly one probe per turn of each multi-turn rollout', async () => {
    const turn = fc.tuple(fc.constantFrom('q', 'r', 's'), fc.constantFrom('a', 'b'));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.array(turn, { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 1 })), {
          minLength: 2,
          maxLength: 5,
        }),
        fc.array(fc.double({ min: -5, max: 0, noNaN: true }), { minLength: 8, maxLength: 8 }),
        async (spec, table) => {
          const group = spec.map(([turns, reward], i) => rolloutOf('g0', i, turns, reward, { meta }));
          const services = scriptedServices({
            score: (r) => Array.from(r.continuation, () => table[r.context.length % table.length] as number),
          });
          const out = (await igpo().compute([group], contextWith(services))) as Advantages;
          expect(services.scoreCalls.flatMap((c) => c.requests)).toHaveLength(
            spec.reduce((n, [turns]) => n + (turns.length >= 2 ? turns.length : 0), 0),
          );
          out.turns?.[0]?.forEach((row, i) => {
            expect(row).toHaveLength(spec[i]?.[0].length as number);
            expect(row.every(Number.isFinite)).toBe(true);
          });
        },
      ),
      { numRuns: 40 },
    );
  });

  it('errors: missing services, G < 2 naming the group, bad options', async () => {
    await expect(async () => igpo().compute(searchGroup(), contextWith())).rejects.toThrow(
      /igpo needs the trainer's model services/,
    );
    await expect(async () => igpo().compute([[searchGroup()[0]?.[0] as never]], contextWith(scriptedServices()))).rejects.toThrow(
      /group 0 has 1 rollout/,
    );
    expect(() => igpo({ infoGain: 'kl' as never })).toThrow(/infoGain.*kl/);
    expect(() => igpo({ gamma: 2 })).toThrow(/gamma.*2/);
  });
});
