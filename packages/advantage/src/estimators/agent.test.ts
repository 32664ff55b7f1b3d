import { type EstimatorContext, type RewardVector, Rng, type Rollout, type Turn, weightedSum } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gigpo, srgpo } from './agent.js';
import { ppoGae } from './ppo-gae.js';

function turn(stateKey: string | undefined, reward: RewardVector, tokens = 1): Turn {
  return {
    observation: '',
    action: 'a',
    promptTokens: [1],
    actionTokens: Array.from({ length: tokens }, () => 5),
    logprobs: Array.from({ length: tokens }, () => -1),
    reward,
    valid: true,
    truncated: false,
    ...(stateKey === undefined ? {} : { stateKey }),
  };
}

function rollout(id: string, turns: Turn[], reward?: RewardVector): Rollout {
  const total: Record<string, number> = {};
  for (const t of turns) for (const [k, v] of Object.entries(t.reward)) total[k] = (total[k] ?? 0) + v;
  return { id, groupId: id.split('/')[0] as string, taskId: 't', turns, reward: reward ?? total, success: false };
}

const ctx = (weights: Record<string, number> = { r: 1 }, extra: Partial<EstimatorContext> = {}): EstimatorContext => ({
  rng: Rng.seeded(3),
  weights,
  scalar: (r) => weightedSum(r, weights),
  ...extra,
});

// R1 reaches states A, B with step rewards 0, 1 (R = 1); R2 reaches A, C, D with rewards 0 (R = 0).
const example = [
  [
    rollout('g/0', [turn('A', { r: 0 }), turn('B', { r: 1 })]),
    rollout('g/1', [turn('A', { r: 0 }), turn('C', { r: 0 }), turn('D', { r: 0 })]),
  ],
];

describe('gigpo', () => {
  it('computes the worked example: step-weighted episode baseline plus the anchor-state step advantage', async () => {
    const result = await gigpo().compute(example, ctx());
    // episode mean over step rows: (1 + 1 + 0 + 0 + 0) / 5 = 0.4 (the per-trajectory mean would be 0.5)
    expect(result.rollout[0]?.[0]).toBeCloseTo(0.6, 12);
    expect(result.rollout[0]?.[1]).toBeCloseTo(-0.4, 12);
    // state A: returns 0.95 (= 0 + 0.95 x 1) and 0 -> step advantages +-0.475; B, C, D are singletons (0)
    const turns = result.turns as number[][][];
    expect(turns[0]?.[0]?.[0]).toBeCloseTo(1.075, 12);
    expect(turns[0]?.[0]?.[1]).toBeCloseTo(0.6, 12);
    expect(turns[0]?.[1]).toEqual([expect.closeTo(-0.875, 12), expect.closeTo(-0.4, 12), expect.closeTo(-0.4, 12)]);
    expect(result.diagnostics?.anchoredStepFraction).toBeCloseTo(2 / 5, 12);
    const perTrajectory = await gigpo({ crossSteps: false }).compute(example, ctx());
    expect(perTrajectory.rollout[0]).toEqual([0.5, -0.5]);
  });

  const arbitraryGroups = fc.array(
    fc.array(
      fc.array(fc.record({ state: fc.constantFrom('A', 'B', 'C', 'D'), r: fc.double({ min: -5, max: 5, noNaN: true }) }), {
        minLength: 1,
        maxLength: 4,
      }),
      { minLength: 2, maxLength: 5 },
    ),
    { minLength: 1, maxLength: 3 },
  );
  const build = (spec: { state: string; r: number }[][][]) =>
    spec.map((group, g) =>
      group.map((steps, i) =>
        rollout(
          `g${g}/${i}`,
          steps.map((s) => turn(s.state, { r: s.r })),
        ),
      ),
    );

  it('step advantages sum to zero within each anchor group, episode advantages over step rows (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryGroups, async (spec) => {
        const groups = build(spec);
        const result = await gigpo({ omega: 1 }).compute(groups, ctx());
        groups.forEach((group, g) => {
          const weighted = group.reduce((sum, r, i) => sum + r.turns.length * (result.rollout[g]?.[i] as number), 0);
          expect(Math.abs(weighted)).toBeLessThan(1e-9);
          const byState = new Map<string, number>();
          group.forEach((r, i) =>
            r.turns.forEach((t, k) => {
              const stepPart = (result.turns?.[g]?.[i]?.[k] as number) - (result.rollout[g]?.[i] as number);
              expect(Number.isFinite(stepPart)).toBe(true);
              byState.set(t.stateKey as string, (byState.get(t.stateKey as string) ?? 0) + stepPart);
            }),
          );
          for (const total of byState.values()) expect(Math.abs(total)).toBeLessThan(1e-9);
        });
      }),
      { numRuns: 100 },
    );
  });

  it('reduces to the episode advantage when no state repeats', async () => {
    const groups = [[rollout('g/0', [turn('A', { r: 1 }), turn('B', { r: 0 })]), rollout('g/1', [turn('C', { r: 0 })])]];
    const result = await gigpo().compute(groups, ctx());
    expect(result.turns?.[0]?.[0]).toEqual([result.rollout[0]?.[0], result.rollout[0]?.[0]]);
  });

  it('refuses groups of one and rollouts without turns, naming them', async () => {
    await expect(async () => gigpo().compute([[example[0]?.[0] as Rollout]], ctx())).rejects.toThrow(/group 0 has 1 rollout/);
    await expect(async () =>
      gigpo().compute([[rollout('g/0', [], { r: 1 }), rollout('g/1', [], { r: 0 })]], ctx()),
    ).rejects.toThrow(/rollout 0 \(g\/0\) has no turns/);
    expect(() => gigpo({ gamma: 2 })).toThrow(/gamma' must be in \[0, 1\], got 2/);
  });
});

describe('srgpo', () => {
  const nav = (g: number, rewards: number[][]) =>
    rewards.map((steps, i) =>
      rollout(
        `g${g}/${i}`,
        steps.map((p) => turn(undefined, { won: 0, progress: p })),
        { won: steps.at(-1) ?? 0, progress: steps.reduce((a, b) => a + b, 0) },
      ),
    );
  const weights = { won: 1, progress: 0.1 };

  it('z-scores the raw step reward within one step group (stepGroupSize 0) and adds it with omega', async () => {
    const groups = [nav(0, [[1, 1], [0]])];
    const result = await srgpo({ stepGroupSize: 0, omega: 1 }).compute(groups, ctx(weights));
    // step rewards 1, 1, 0: mean 2/3, sample std sqrt(1/3)
    const s = Math.sqrt(1 / 3) + 1e-6;
    const stepParts = [(1 - 2 / 3) / s, (1 - 2 / 3) / s, (0 - 2 / 3) / s];
    const flat = (result.turns as number[][][])[0]?.flatMap((r, i) => r.map((a) => a - (result.rollout[0]?.[i] as number)));
    flat?.forEach((v, k) => expect(v).toBeCloseTo(stepParts[k] as number, 9));
  });

  it('step parts sum to zero in every random group, and the same seed gives the same groups (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.array(fc.constantFrom(0, 1), { minLength: 1, maxLength: 4 }), { minLength: 2, maxLength: 4 }), {
          minLength: 1,
          maxLength: 3,
        }),
        fc.integer({ min: 0, max: 5 }),
        async (spec, size) => {
          const groups = spec.map((g, k) => nav(k, g));
          const a = await srgpo({ stepGroupSize: size, scope: 'trajectory' }).compute(groups, ctx(weights));
          const b = await srgpo({ stepGroupSize: size, scope: 'trajectory' }).compute(groups, ctx(weights));
          expect(a).toEqual(b);
          // within a trajectory scope with one group per trajectory (size 0), the step parts of a rollout sum to 0
          if (size === 0)
            groups.forEach((group, g) =>
              group.forEach((_, i) => {
                const parts = (a.turns?.[g]?.[i] ?? []).map((v) => (v - (a.rollout[g]?.[i] as number)) / 0.5);
                expect(Math.abs(parts.reduce((x, y) => x + y, 0))).toBeLessThan(1e-6);
              }),
            );
          for (const v of (a.turns as number[][][]).flat(2)) expect(Number.isFinite(v)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('names a missing step component', async () => {
    const groups = [[rollout('g/0', [turn(undefined, { r: 1 })]), rollout('g/1', [turn(undefined, { r: 0 })])]];
    await expect(async () => srgpo().compute(groups, ctx())).rejects.toThrow(
      /turn 0 has no reward component 'progress' \(has: r\)/,
    );
    expect((await srgpo({ stepComponent: '' }).compute(groups, ctx())).turns).toBeDefined();
  });
});

describe('ppo-gae', () => {
  const one = [[rollout('g/0', [turn('s0', { r: 0 }), turn('s1', { r: 1 })])]];
  const values = new Map([['g/0', [0.5, 0.8]]]);

  it('computes GAE over turns and returns A + V (hand-computed)', async () => {
    const result = await ppoGae({ whiten: false }).compute(one, ctx({ r: 1 }, { values }));
    // delta_1 = 1 - 0.8 = 0.2; delta_0 = 0 + 0.8 - 0.5 = 0.3; A_0 = 0.3 + 0.2 = 0.5
    expect(result.turns?.[0]?.[0]?.[0]).toBeCloseTo(0.5, 12);
    expect(result.turns?.[0]?.[0]?.[1]).toBeCloseTo(0.2, 12);
    expect(result.returns?.[0]?.[0]).toEqual([expect.closeTo(1, 12), expect.closeTo(1, 12)]);
    const td = await ppoGae({ whiten: false, lambda: 0 }).compute(one, ctx({ r: 1 }, { values }));
    expect(td.turns?.[0]?.[0]).toEqual([expect.closeTo(0.3, 12), expect.closeTo(0.2, 12)]);
  });

  it('with gamma = lambda = 1 the returns are the rewards-to-go whatever the values (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ r: fc.double({ min: -3, max: 3, noNaN: true }), v: fc.double({ min: -3, max: 3, noNaN: true }) }), {
          minLength: 1,
          maxLength: 6,
        }),
        async (steps) => {
          const groups = [
            [
              rollout(
                'g/0',
                steps.map((s, k) => turn(`s${k}`, { r: s.r })),
              ),
            ],
          ];
          const result = await ppoGae({ whiten: false }).compute(
            groups,
            ctx({ r: 1 }, { values: new Map([['g/0', steps.map((s) => s.v)]]) }),
          );
          steps.forEach((_, t) => {
            const toGo = steps.slice(t).reduce((a, s) => a + s.r, 0);
            expect(result.returns?.[0]?.[0]?.[t]).toBeCloseTo(toGo, 9);
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it("whitens as verl's masked_whiten: Bessel-corrected token variance, times 1/sqrt(var + 1e-8) (worked by hand)", async () => {
    // Two one-token turns with GAE advantages 1 and 0 (V = 0): token mean 0.5, Bessel variance
    // ((0.5)^2 + (0.5)^2) / (2 - 1) = 0.5, so A = +-0.5 / sqrt(0.5 + 1e-8) = +-0.70710677 (population: +-1).
    const groups = [[rollout('g/0', [turn('a', { r: 1 })]), rollout('g/1', [turn('a', { r: 0 })])]];
    const values = new Map([
      ['g/0', [0]],
      ['g/1', [0]],
    ]);
    const result = await ppoGae().compute(groups, ctx({ r: 1 }, { values }));
    const expected = 0.5 / Math.sqrt(0.5 + 1e-8);
    expect(result.rollout[0]?.[0]).toBeCloseTo(expected, 9);
    expect(result.rollout[0]?.[1]).toBeCloseTo(-expected, 9);
    // Token weights: a 3-token turn counts three times in the mean and in the n - 1 of the variance.
    const weighted = [[rollout('g/0', [turn('a', { r: 1 }, 3)]), rollout('g/1', [turn('a', { r: 0 }, 1)])]];
    const mixed = await ppoGae().compute(weighted, ctx({ r: 1 }, { values }));
    // mean 0.75, variance (3 x 0.0625 + 0.5625) / 3 = 0.25: A = 0.25 / 0.5 and -0.75 / 0.5
    expect(mixed.rollout[0]?.[0]).toBeCloseTo(0.25 / Math.sqrt(0.25 + 1e-8), 9);
    expect(mixed.rollout[0]?.[1]).toBeCloseTo(-0.75 / Math.sqrt(0.25 + 1e-8), 9);
  });

  it('whitens to a token-weighted mean of zero, and needs the critic', async () => {
    const groups = [
      [rollout('g/0', [turn('a', { r: 0 }, 3), turn('b', { r: 1 }, 1)]), rollout('g/1', [turn('a', { r: 0.5 }, 2)])],
    ];
    const v = new Map([
      ['g/0', [0.1, 0.2]],
      ['g/1', [0.3]],
    ]);
    const result = await ppoGae().compute(groups, ctx({ r: 1 }, { values: v }));
    const [a, b, c] = [result.turns?.[0]?.[0]?.[0], result.turns?.[0]?.[0]?.[1], result.turns?.[0]?.[1]?.[0]] as number[];
    expect(3 * a + 1 * b + 2 * c).toBeCloseTo(0, 9);
    await expect(async () => ppoGae().compute(groups, ctx())).rejects.toThrow(/needs the critic's values/);
    await expect(async () => ppoGae().compute(groups, ctx({ r: 1 }, { values: new Map([['g/0', [1]]]) }))).rejects.toThrow(
      /rollout 0 \(g\/0\): needs one critic value per turn \(2\), got 1/,
    );
  });
});
