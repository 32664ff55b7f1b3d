import { Rng, type Rollout, type ShapeContext, type Turn } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { turnOf } from '../models/test-support.js';
import {
  judgeScore,
  type MetaStepOptions,
  metaStep,
  mpoEvolvingRubric,
  type Rubric,
  type RubricSample,
  rubricCriteria,
} from './mpo-rubric.js';

const META: MetaStepOptions = { threshold: 0.5, margin: 0.1, minFailures: 3, decay: 0.5 };

/**
 * An honest sample set: for every criterion the failed samples either score low on it (below the
 * threshold) or clearly below the successful ones, so nothing is gamed.
 */
const honest = (names: readonly string[]) =>
  fc
    .record({
      modes: fc.array(fc.boolean(), { minLength: names.length, maxLength: names.length }),
      failed: fc.integer({ min: 3, max: 12 }),
      passed: fc.integer({ min: 1, max: 8 }),
      seed: fc.integer({ min: 1, max: 1e6 }),
    })
    .map(({ modes, failed, passed, seed }) => {
      const rng = Rng.seeded(seed);
      const between = (lo: number, hi: number) => lo + (hi - lo) * rng.next();
      const sample = (ok: boolean): RubricSample => ({
        passed: ok,
        criteria: Object.fromEntries(
          names.map((n, k) => [
            n,
            modes[k] ? (ok ? between(0.85, 1) : between(0.5, 0.7)) : ok ? between(0, 1) : between(0, 0.49),
          ]),
        ),
      });
      return [...Array.from({ length: failed }, () => sample(false)), ...Array.from({ length: passed }, () => sample(true))];
    });

const rubricOver = (names: readonly string[], raw: readonly number[]): Rubric => {
  const total = raw.reduce((a, b) => a + b, 0);
  return { version: 3, weights: Object.fromEntries(names.map((n, k) => [n, (raw[k] as number) / total])) };
};
const NAMES = ['correct', 'format', 'length', 'coverage', 'extra'];
const setting = fc.integer({ min: 2, max: 5 }).chain((count) =>
  fc.record({
    names: fc.constant(NAMES.slice(0, count)),
    raw: fc.array(fc.double({ min: 0.05, max: 1, noNaN: true }), { minLength: count, maxLength: count }),
    planted: fc.integer({ min: 0, max: count - 1 }),
  }),
);

describe('mpo-evolving-rubric: the meta step', () => {
  it('keeps the rubric (version and weights) when no criterion is gamed (fast-check)', () => {
    fc.assert(
      fc.property(
        setting.chain((s) => fc.tuple(fc.constant(s), honest(s.names))),
        ([{ names, raw }, samples]) => {
          const rubric = rubricOver(names, raw);
          const next = metaStep(rubric, samples, META);
          expect(next.gamed).toEqual([]);
          expect(next.rubric).toEqual(rubric);
        },
      ),
    );
  });

  it('moves the version when a planted exploit appears, scales that criterion down and lowers the exploit’s score (fast-check)', () => {
    fc.assert(
      fc.property(
        setting.chain((s) => fc.tuple(fc.constant(s), honest(s.names), fc.integer({ min: 1, max: 1e6 }))),
        ([{ names, raw, planted }, samples, seed]) => {
          const rubric = rubricOver(names, raw);
          const k = names[planted] as string;
          const rng = Rng.seeded(seed);
          // The failed samples now max out criterion k, and the successful ones do no better on it.
          const exploited = samples.map((s) => ({
            ...s,
            criteria: { ...s.criteria, [k]: s.passed ? 0.8 * rng.next() : 0.8 + 0.2 * rng.next() },
          }));
          const next = metaStep(rubric, exploited, META);
          expect(next.gamed).toEqual([k]);
          expect(next.rubric.version).toBe(rubric.version + 1);
          expect(next.rubric.weights[k]).toBeLessThan(rubric.weights[k] as number);
          const sum = Object.values(next.rubric.weights).reduce((a, b) => a + b, 0);
          expect(sum).toBeCloseTo(1, 12);
          // The other criteria keep their proportions.
          const others = names.filter((n) => n !== k);
          for (const n of others.slice(1))
            expect((next.rubric.weights[n] as number) / (next.rubric.weights[others[0] as string] as number)).toBeCloseTo(
              (rubric.weights[n] as number) / (rubric.weights[others[0] as string] as number),
              9,
            );
          const exploit = Object.fromEntries(names.map((n) => [n, n === k ? 1 : 0]));
          expect(judgeScore(next.rubric, exploit)).toBeLessThan(judgeScore(rubric, exploit));
        },
      ),
    );
  });

  it('the worked example: format gamed under a uniform rubric of four criteria', () => {
    const rubric: Rubric = { version: 0, weights: { correct: 0.25, format: 0.25, length: 0.25, coverage: 0.25 } };
    const s = (correct: number, format: number, length: number, coverage: number): RubricSample => ({
      passed: correct === 1,
      criteria: { correct, format, length, coverage },
    });
    // Every failed answer is well formed, the right ones half the time: format no longer separates.
    const samples = [s(0, 1, 0.3, 0.4), s(0, 1, 0.3, 0.4), s(0, 1, 0.2, 0.2), s(1, 1, 0.3, 0.4), s(1, 0, 0.3, 0.4)];
    const next = metaStep(rubric, samples, META);
    expect(next.gamed).toEqual(['format']);
    expect(next.rubric.version).toBe(1);
    expect(next.rubric.weights.format).toBeCloseTo(0.125 / 0.875, 12);
    expect(next.rubric.weights.correct).toBeCloseTo(0.25 / 0.875, 12);
  });

  it('leaves the rubric when too few samples failed, or when every weighted criterion is gamed', () => {
    const rubric: Rubric = { version: 2, weights: { a: 0.5, b: 0.5, c: 0 } };
    const fail = { passed: false, criteria: { a: 1, b: 0, c: 1 } };
    expect(metaStep(rubric, [fail, fail], META).rubric).toBe(rubric);
    const allGamed = { passed: false, criteria: { a: 1, b: 1, c: 0 } };
    const next = metaStep(rubric, [allGamed, allGamed, allGamed], META);
    expect(next.gamed).toEqual(['a', 'b']);
    expect(next.rubric).toBe(rubric);
  });
});

const turn = (observation: string, action: string, tokens: number, reward: Record<string, number>): Turn => ({
  ...turnOf(observation, action),
  actionTokens: Array.from({ length: tokens }, () => 4),
  reward,
});
const answer = (id: number, action: string, correct: number, format: number): Rollout => ({
  id: `g${id}/0`,
  groupId: `g${id}`,
  taskId: `t${id}`,
  turns: [turn('use 3 5 make 8', action, action.length, { correct, format })],
  reward: { correct, format },
  success: correct === 1,
});
const ctx = (step: number): ShapeContext => ({
  rng: Rng.seeded(1),
  step,
  weights: { correct: 1, format: 0.1, rubric: 1 },
  components: ['correct', 'format'],
  maxNewTokens: 16,
});

describe('mpo-evolving-rubric: the shaper', () => {
  it('scores the criteria of a rollout: components clamped, length of the action limit, coverage of the prompt’s words', () => {
    const c = rubricCriteria(answer(1, '3+5 make', 1, 1), { components: ['correct', 'format'], maxNewTokens: 16 }, [
      'length',
      'coverage',
    ]);
    expect(c).toEqual({ correct: 1, format: 1, length: 8 / 16, coverage: 3 / 5 });
  });

  it('replaces the true reward by the judge’s score, rewrites at its interval, and a reload continues the rubric’s version', () => {
    const shaper = mpoEvolvingRubric({ interval: 2, textCriteria: ['coverage'] });
    // A keyword-stuffing exploit: failed answers repeat the prompt's words and are well formed.
    const batch = [answer(0, '3+5', 1, 1), ...Array.from({ length: 6 }, (_, k) => answer(k + 1, 'use 3 5 make 8', 0, 1))];
    const logged: Record<string, number>[] = [];
    const run = (s: typeof shaper, step: number) => {
      const log: Record<string, number> = {};
      const out = s.shape(batch, { ...ctx(step), log: (key, v) => (log[key] = v) });
      logged.push(log);
      return out;
    };
    const first = run(shaper, 1);
    expect(first.every((r) => r.reward.correct === 0 && r.reward.format === 0)).toBe(true);
    // Uniform rubric over correct, format, coverage: the right answer 3+5 covers 3 and 5 of 5 words.
    expect(first[0]?.reward.rubric).toBeCloseTo((1 + 1 + 2 / 5) / 3, 12);
    expect(first[1]?.reward.rubric).toBeCloseTo((0 + 1 + 1) / 3, 12);
    expect(logged[0]?.version).toBe(0);
    run(shaper, 2); // the meta step: format and coverage are gamed
    expect(logged[1]?.gamed).toBe(2);
    expect(logged[1]?.version).toBe(1);
    const saved = JSON.parse(JSON.stringify(shaper.save?.())) as { rubric: Rubric };
    expect(saved.rubric.version).toBe(1);
    expect(saved.rubric.weights.correct).toBeCloseTo(0.5, 12);

    const resumed = mpoEvolvingRubric({ interval: 2, textCriteria: ['coverage'] });
    resumed.load?.(saved);
    const next = run(resumed, 3);
    expect(logged[2]?.version).toBe(1);
    // Under the new rubric the exploit pays less than under the first.
    expect(next[1]?.reward.rubric).toBeCloseTo(0.25 * 1 + 0.25 * 1, 12);
    expect(next[1]?.reward.rubric).toBeLessThan(first[1]?.reward.rubric as number);
  });

  it('refuses unknown text criteria and initial weights naming no criterion (exit 2)', () => {
    expect(() => mpoEvolvingRubric({ textCriteria: ['style'] })).toThrow(
      /unknown text criterion 'style'; accepted: length, coverage/,
    );
    const s = mpoEvolvingRubric({ initialWeights: { tone: 1 } });
    expect(() => s.shape([answer(0, '3+5', 1, 1)], ctx(1))).toThrow(/initialWeights.tone must name a criterion/);
  });
});
