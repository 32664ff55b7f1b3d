import { type RewardVector, Rng, type Rollout, type ShapeContext, type Turn } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compose } from '../compose.js';
import { curriculumWeight } from './curriculum.js';
import { conditional, prs, stageWeights } from './gates.js';
import {
  builtInShapers,
  format,
  multiFidelity,
  overlong,
  overlongPenalty,
  potential,
  progressPotential,
  spurious,
} from './index.js';
import { applyHop, hop, shapingTerm } from './potential.js';
import { difficultyWeights, verpo } from './verpo.js';

const turn = (action: string, reward: RewardVector, stateKey?: string, tokens = action.length): Turn => ({
  observation: '',
  action,
  promptTokens: [1],
  actionTokens: Array.from({ length: tokens }, () => 4),
  logprobs: [],
  reward,
  valid: true,
  truncated: false,
  ...(stateKey ? { stateKey } : {}),
});
const rollout = (id: string, reward: RewardVector, turns: Turn[] = [turn('a', reward)], success = false): Rollout => ({
  id,
  groupId: id.split('/')[0] as string,
  taskId: 't',
  turns,
  reward,
  success,
});
const ctx = (over: Partial<ShapeContext> = {}): ShapeContext => ({
  rng: Rng.seeded(1),
  step: 0,
  weights: {},
  components: [],
  maxNewTokens: 20,
  ...over,
});

describe('every shaper', () => {
  const arbitraryRollouts = fc.array(
    fc.record({
      format: fc.constantFrom(0, 1),
      correct: fc.constantFrom(0, 1),
      partial: fc.double({ min: 0, max: 1, noNaN: true }),
      passed: fc.constantFrom(0, 1),
      test1: fc.constantFrom(0, 1),
      test2: fc.constantFrom(0, 1),
      success: fc.boolean(),
      group: fc.constantFrom('g0', 'g1'),
      turns: fc.array(fc.record({ action: fc.string({ maxLength: 25 }), state: fc.constantFrom('A', 'B', 'C') }), {
        minLength: 1,
        maxLength: 4,
      }),
    }),
    { minLength: 1, maxLength: 8 },
  );

  it('returns new rollouts, never mutates its input, and keeps the unshaped reward (fast-check)', () => {
    fc.assert(
      fc.property(arbitraryRollouts, (specs) => {
        const input = specs.map((s, k) => {
          const { success, group, turns, ...reward } = s;
          return rollout(
            `${group}/${k}`,
            reward,
            turns.map((t) => turn(t.action, { correct: reward.correct }, t.state)),
            success,
          );
        });
        const before = JSON.stringify(input);
        for (const shaper of builtInShapers()) {
          // Shapers that learn from demonstrations get an expert with none to offer.
          const out = shaper.shape(input, ctx({ demonstrations: { ofGroup: () => undefined, training: () => [] } }));
          expect(JSON.stringify(input), shaper.name).toBe(before);
          expect(out).toHaveLength(input.length);
          out.forEach((r, k) => {
            expect(r).not.toBe(input[k]);
            expect(r.meta?.unshapedReward).toEqual(input[k]?.reward);
            for (const v of Object.values(r.reward)) expect(Number.isFinite(v), shaper.name).toBe(true);
            for (const c of shaper.adds ?? []) expect(r.reward[c.name], `${shaper.name} adds ${c.name}`).toBeDefined();
          });
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('overlong (DAPO)', () => {
  it('is 0 up to L_max - L_cache, then linear to -1 at L_max', () => {
    // L_max 20, L_cache 4 (0.2), L_exp 16
    expect(overlongPenalty(16, 20, 4)).toBe(0);
    expect(overlongPenalty(18, 20, 4)).toBe(-0.5);
    expect(overlongPenalty(20, 20, 4)).toBe(-1);
    const [shaped] = overlong().shape(
      [rollout('g/0', { correct: 1 }, [turn('x', {}, undefined, 18), turn('y', {}, undefined, 10)])],
      ctx(),
    );
    expect(shaped?.reward).toEqual({ correct: 1, overlong: -0.5 });
    expect(shaped?.turns.map((t) => t.reward.overlong)).toEqual([-0.5, 0]);
  });
});

describe('format', () => {
  it('checks the last action (or all of them) against the pattern', () => {
    const r = rollout('g/0', {}, [turn('<lookup>x</lookup>', {}), turn('<answer>y</answer>', {})]);
    expect(format().shape([r], ctx())[0]?.reward.formatted).toBe(1);
    expect(format({ turns: 'all' }).shape([r], ctx())[0]?.reward.formatted).toBe(0);
    expect(() => format({ pattern: '(' })).toThrow(/not a valid regular expression/);
  });
});

describe('potential-based shaping', () => {
  it("reproduces Robo-Dopamine's shaping and hop vectors (hand-worked vectors)", () => {
    const phi = [0, 0.3, 0.2, 0.6, 1];
    const r = [0, 0, 0, 1];
    const shaped = r.map((x, t) => x + shapingTerm(phi[t] as number, phi[t + 1] as number, 1));
    shaped.forEach((v, k) => expect(v).toBeCloseTo([0.3, -0.1, 0.4, 1.4][k] as number, 12));
    expect(shaped.reduce((a, b) => a + b, 0)).toBeCloseTo(2, 12);
    expect(hop(0.4, 0.7)).toBeCloseTo(0.5, 12);
    expect(applyHop(0.4, 0.5)).toBeCloseTo(0.7, 12);
    expect(hop(0.4, 0.2)).toBeCloseTo(-0.5, 12);
    expect(applyHop(0.4, -0.5)).toBeCloseTo(0.2, 12);
  });

  it('telescopes to -Phi(s0) per episode, so rollouts from one start keep their reward differences', () => {
    const table = { A: 0.2, B: 0.7, C: 0.4 };
    const shaper = potential({ potential: table });
    const out = shaper.shape(
      [
        rollout('g/0', { correct: 1 }, [turn('x', { correct: 0 }, 'A'), turn('y', { correct: 1 }, 'B')]),
        rollout('g/1', { correct: 0 }, [
          turn('x', { correct: 0 }, 'A'),
          turn('z', { correct: 0 }, 'C'),
          turn('w', { correct: 0 }, 'B'),
        ]),
      ],
      ctx(),
    );
    expect(out.map((r) => r.reward.shaping)).toEqual([expect.closeTo(-0.2, 12), expect.closeTo(-0.2, 12)]);
    expect(out[0]?.turns.map((t) => t.reward.shaping)).toEqual([expect.closeTo(0.5, 12), expect.closeTo(-0.7, 12)]);
  });

  // Value iteration on a finite MDP: Q(s, a) = sum_s' P(s'|s,a) [R(s,a,s') + gamma max_a' Q(s', a')].
  function greedyPolicy(P: number[][][], R: (s: number, a: number, t: number) => number, gamma: number): number[] {
    const S = P.length;
    const A = (P[0] as number[][]).length;
    let V = new Array<number>(S).fill(0);
    let Q: number[][] = [];
    for (let it = 0; it < 2000; it++) {
      Q = Array.from({ length: S }, (_, s) =>
        Array.from({ length: A }, (_, a) =>
          (P[s]?.[a] ?? []).reduce((sum, p, t) => sum + p * (R(s, a, t) + gamma * (V[t] as number)), 0),
        ),
      );
      V = Q.map((row) => Math.max(...row));
    }
    return Q.map((row) => row.indexOf(Math.max(...row)));
  }
  const randomMdp = (rng: Rng, S: number, A: number) => {
    const P = Array.from({ length: S }, () =>
      Array.from({ length: A }, () => {
        const w = Array.from({ length: S }, () => rng.next() ** 3);
        const total = w.reduce((a, b) => a + b, 0);
        return w.map((x) => x / total);
      }),
    );
    const R = Array.from({ length: S }, () =>
      Array.from({ length: A }, () => Array.from({ length: S }, () => rng.next() * 2 - 1)),
    );
    return { P, R };
  };

  it('leaves the optimal policy of random small MDPs unchanged (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e9 }),
        fc.integer({ min: 2, max: 5 }),
        fc.integer({ min: 2, max: 3 }),
        (seed, S, A) => {
          const rng = Rng.seeded(seed);
          const { P, R } = randomMdp(rng, S, A);
          const phi = Array.from({ length: S }, () => rng.next() * 10 - 5);
          const gamma = 0.9;
          const plain = greedyPolicy(P, (s, a, t) => R[s]?.[a]?.[t] as number, gamma);
          const shaped = greedyPolicy(
            P,
            (s, a, t) => (R[s]?.[a]?.[t] as number) + shapingTerm(phi[s] as number, phi[t] as number, gamma),
            gamma,
          );
          expect(shaped).toEqual(plain);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('while an arbitrary state-action bonus can change it', () => {
    let changed = false;
    for (let seed = 0; seed < 50 && !changed; seed++) {
      const rng = Rng.seeded(seed);
      const { P, R } = randomMdp(rng, 3, 2);
      const bonus = Array.from({ length: 3 }, () => Array.from({ length: 2 }, () => rng.next() * 4 - 2));
      const plain = greedyPolicy(P, (s, a, t) => R[s]?.[a]?.[t] as number, 0.9);
      const bent = greedyPolicy(P, (s, a, t) => (R[s]?.[a]?.[t] as number) + (bonus[s]?.[a] as number), 0.9);
      changed = bent.some((a, s) => a !== plain[s]);
    }
    expect(changed).toBe(true);
  });

  it('estimates progress as the batch success rate through each state (progress-potential)', () => {
    const out = progressPotential({ minVisits: 1 }).shape(
      [
        rollout('g/0', { correct: 1 }, [turn('x', {}, 'A'), turn('y', {}, 'B')], true),
        rollout('g/1', { correct: 0 }, [turn('x', {}, 'A'), turn('z', {}, 'C')], false),
      ],
      ctx(),
    );
    // Phi(A) = 1/2, Phi(B) = 1, Phi(C) = 0: first rollout F = [1 - 0.5, 0 - 1]
    expect(out[0]?.turns.map((t) => t.reward.shaping)).toEqual([0.5, -1]);
    expect(out.map((r) => r.reward.shaping)).toEqual([-0.5, -0.5]);
  });
});

describe('gates', () => {
  it('conditional: the easy reward counts only when the hard one is met', () => {
    const out = conditional().shape(
      [rollout('g/0', { format: 1, correct: 0 }), rollout('g/1', { format: 1, correct: 1 })],
      ctx(),
    );
    expect(out.map((r) => r.reward.format)).toEqual([0, 1]);
  });

  it('prs: gated stages, and a weight schedule that moves from the first stage to the last', () => {
    const out = prs({ stages: ['format', 'correct'] }).shape(
      [rollout('g/0', { format: 0, correct: 1 }), rollout('g/1', { format: 1, correct: 1 })],
      ctx(),
    );
    expect(out.map((r) => r.reward.correct)).toEqual([0, 1]);
    expect(stageWeights(2, 0, 10)).toEqual([2, 0]);
    expect(stageWeights(2, 5, 10)).toEqual([1, 1]);
    expect(stageWeights(2, 20, 10)).toEqual([0, 2]);
    expect(() => prs().shape([rollout('g/0', { correct: 1 })], ctx())).toThrow(/no reward component 'format' \(has: correct\)/);
  });
});

describe('verpo', () => {
  it('weights tests by difficulty in the group (our proposal)', () => {
    expect(
      difficultyWeights([
        [1, 0],
        [1, 1],
        [0, 0],
      ]).map((w) => w.toFixed(6)),
    ).toEqual([(1 / 3).toFixed(6), (2 / 3).toFixed(6)]);
    expect(
      difficultyWeights([
        [1, 1],
        [1, 1],
      ]),
    ).toEqual([0.5, 0.5]);
    const out = verpo().shape(
      [
        rollout('g/0', { passed: 0, partial: 0.5, test1: 1, test2: 0 }),
        rollout('g/1', { passed: 1, partial: 1, test1: 1, test2: 1 }),
        rollout('g/2', { passed: 0, partial: 0, test1: 0, test2: 0 }),
      ],
      ctx(),
    );
    out.forEach((r, k) => expect(r.reward.verpo).toBeCloseTo([1 / 3, 1, 0][k] as number, 12));
  });
});

describe('spurious, curriculum, multi-fidelity', () => {
  it('spurious: a seeded coin with the given rate, replacing the true reward', () => {
    const many = Array.from({ length: 2000 }, (_, k) => rollout(`g/${k}`, { correct: 1 }));
    const a = spurious({ p: 0.3 }).shape(many, ctx());
    expect(a).toEqual(spurious({ p: 0.3 }).shape(many, ctx()));
    const rate = a.filter((r) => r.reward.spurious === 1).length / many.length;
    expect(Math.abs(rate - 0.3)).toBeLessThan(0.04);
    expect(a.every((r) => r.reward.correct === 0)).toBe(true);
  });

  it('curriculum: full weight at the target pass rate, less away from it', () => {
    expect(curriculumWeight(0.5, 0.5, 0.25)).toBe(1);
    expect(curriculumWeight(0, 0.5, 0.25)).toBeCloseTo(Math.exp(-2), 12);
  });

  it('multi-fidelity: exact where checked (and charged), the corrected proxy elsewhere', () => {
    const input = [0, 1, 2, 3].map((k) => rollout(`g/${k}`, { partial: 0.5, passed: k % 2 }));
    const charged: number[] = [];
    const all = multiFidelity({ fraction: 1 }).shape(input, ctx({ charge: (c) => charged.push(c.envSteps ?? 0) }));
    expect(all.map((r) => r.reward.fidelity)).toEqual([0, 1, 0, 1]);
    expect(charged).toEqual([4]);
    const none = multiFidelity({ fraction: 0 }).shape(input, ctx());
    expect(none.map((r) => r.reward.fidelity)).toEqual([0.5, 0.5, 0.5, 0.5]);
    expect(none[0]?.reward.passed).toBe(0); // the sources leave the weighted sum
  });
});

describe('compose', () => {
  it('is linear in the weights (fast-check)', () => {
    const vec = fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.double({ min: -10, max: 10, noNaN: true }), { minKeys: 3 });
    const weights = fc.record({ a: fc.double({ min: -5, max: 5, noNaN: true }), b: fc.double({ min: -5, max: 5, noNaN: true }) });
    fc.assert(
      fc.property(vec, weights, weights, fc.double({ min: -3, max: 3, noNaN: true }), (r, w1, w2, k) => {
        const mixed = { a: w1.a + k * w2.a, b: w1.b + k * w2.b };
        expect(compose(r, { weights: mixed })).toBeCloseTo(compose(r, { weights: w1 }) + k * compose(r, { weights: w2 }), 6);
      }),
    );
  });

  it('has an explicit rule for missing components and a logging hook', () => {
    expect(() => compose({ a: 1 }, { weights: { a: 1, b: 2 } })).toThrow(/no component 'b' \(has: a\)/);
    expect(compose({ a: 1 }, { weights: { a: 1, b: 2 }, missing: 'zero' })).toBe(1);
    expect(compose({ a: 1 }, { weights: { a: 1, b: 2 }, missing: 'skip-renormalise' })).toBe(3);
    expect(compose({ a: 1 }, { weights: { a: 1, b: 2 }, missing: 'renormalise' })).toBe(3);
    expect(compose({ a: 2, b: 1 }, { weights: { a: 1, b: -3, c: 4 }, missing: 'skip-renormalise' })).toBe(-2);
    expect(() => compose({ a: 1 }, { weights: { a: 1 }, missing: 'ignore' as never })).toThrow(
      /unknown missing-component rule 'ignore'; accepted: error, zero, skip-renormalise, renormalise/,
    );
    const seen: string[] = [];
    compose({ a: 1, b: 0 }, { weights: { a: 1, b: 2 }, onComponent: (e) => seen.push(`${e.name}=${e.value}x${e.weight}`) });
    expect(seen).toEqual(['a=1x1', 'b=0x2']);
  });
});
