import type { Advantages, ScoreRequest } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { zScores } from '../group-math.js';
import { grpoVps } from './grpo-vps.js';
import { contextWith, rolloutOf, scriptedServices, singleTurnGroups } from './test-support.js';

// P(answer) = 0.9 per token once '42' has been written, else 0.3.
const belief = (request: ScoreRequest) =>
  Array.from(request.continuation, () => Math.log(request.context.includes('42') ? 0.9 : 0.3));
const meta = { answer: '42' };

describe('grpo-vps', () => {
  it('hand-computed: progress 0.6 on the answering segment refines GRPO additively', async () => {
    const group = [rolloutOf('g0', 0, [['q', 'so 42']], 1, { meta }), rolloutOf('g0', 1, [['q', 'no']], 0, { meta })];
    const services = scriptedServices({ score: belief });
    const out = (await grpoVps({ eps: 0 }).compute([group], contextWith(services))) as Advantages;
    expect(out.rollout[0]?.[0]).toBeCloseTo(Math.SQRT1_2, 10);
    expect(out.turns?.[0]?.[0]?.[0]).toBeCloseTo(Math.SQRT1_2 + 0.6, 10);
    expect(out.turns?.[0]?.[1]?.[0]).toBeCloseTo(-Math.SQRT1_2, 10);
    expect(services.scoreCalls[0]?.requests).toEqual([
      { context: 'q\n', continuation: '42' },
      { context: 'q\nso 42\n', continuation: '42' },
      { context: 'q\n', continuation: '42' },
      { context: 'q\nno\n', continuation: '42' },
    ]);
  });

  it('gated: progress against the sign of A is ignored; two segments get their own progress', async () => {
    // rollout 1 fails but writes '42' in its second turn: progress +0.6 there, against its negative A
    const group = [
      rolloutOf(
        'g0',
        0,
        [
          ['q', 'think'],
          ['o', 'so 42'],
        ],
        1,
        { meta },
      ),
      rolloutOf(
        'g0',
        1,
        [
          ['q', 'guess'],
          ['o', '42?'],
        ],
        0,
        { meta },
      ),
    ];
    const additive = (await grpoVps({ eps: 0 }).compute([group], contextWith(scriptedServices({ score: belief })))) as Advantages;
    const failed = additive.turns?.[0]?.[1] as number[];
    expect(failed[0]).toBeCloseTo(-Math.SQRT1_2, 10);
    expect(failed[1]).toBeCloseTo(-Math.SQRT1_2 + 0.6, 10);
    const gated = (await grpoVps({ eps: 0, combine: 'gated' }).compute(
      [group],
      contextWith(scriptedServices({ score: belief })),
    )) as Advantages;
    expect(gated.turns?.[0]?.[0]?.[1]).toBeCloseTo(Math.SQRT1_2 + 0.6, 10);
    for (const a of (gated.turns ?? [])[0]?.[1] ?? [NaN]) expect(a).toBeCloseTo(-Math.SQRT1_2, 10);
  });

  it('eta = 0 is GRPO on every turn; gated never flips the sign of A; everything finite; turns + 1 probes per rollout', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 2 }),
            fc.array(fc.constantFrom('a', '42', 'b4', 'x'), { minLength: 1, maxLength: 3 }),
          ),
          {
            minLength: 2,
            maxLength: 5,
          },
        ),
        fc.double({ min: 0, max: 3, noNaN: true }),
        async (spec, eta) => {
          const group = spec.map(([reward, actions], i) =>
            rolloutOf(
              'g0',
              i,
              actions.map((a) => ['o', a] as const),
              reward,
              { meta },
            ),
          );
          const expected = zScores(
            spec.map(([r]) => r),
            'sample',
            1e-4,
          );
          const services = scriptedServices({ score: belief });
          const zero = (await grpoVps({ eta: 0 }).compute([group], contextWith(services))) as Advantages;
          zero.turns?.[0]?.forEach((row, i) => row.forEach((a) => expect(a).toBeCloseTo(expected[i] as number, 10)));
          expect(services.scoreCalls[0]?.requests).toHaveLength(spec.reduce((n, [, actions]) => n + actions.length + 1, 0));
          const gated = (await grpoVps({ eta, combine: 'gated' }).compute([group], contextWith(services))) as Advantages;
          gated.turns?.[0]?.forEach((row, i) =>
            row.forEach((a) => {
              expect(Number.isFinite(a)).toBe(true);
              if ((expected[i] as number) !== 0) expect(Math.sign(a)).toBe(Math.sign(expected[i] as number));
            }),
          );
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a group with no answer and no success gets GRPO without scoring; errors for services, G < 2 and options', async () => {
    const services = scriptedServices({ score: belief });
    const out = (await grpoVps().compute(singleTurnGroups([[0, 0, 0]]), contextWith(services))) as Advantages;
    expect(out.turns).toEqual([[[0], [0], [0]]]);
    expect(services.scoreCalls).toHaveLength(0);
    await expect(async () => grpoVps().compute(singleTurnGroups([[1, 0]]), contextWith())).rejects.toThrow(
      /grpo-vps needs the trainer's model services/,
    );
    await expect(async () => grpoVps().compute(singleTurnGroups([[1, 0], [1]]), contextWith(services))).rejects.toThrow(
      /group 1 has 1 rollout/,
    );
    expect(() => grpoVps({ combine: 'product' as never })).toThrow(/combine.*product/);
    expect(() => grpoVps({ eta: -1 })).toThrow(/eta.*-1/);
  });
});
