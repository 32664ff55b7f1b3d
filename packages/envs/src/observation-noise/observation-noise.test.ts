import { type Environment, Rng } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plugin } from '../index.js';
import { perturbObservations, smoothObservations } from './observation-noise.js';

const environments = plugin.environments as Environment[];

/** Observations, step results and the outcome of one episode played with `actions`. */
function transcript(env: Environment, task: unknown, seed: number, actions: readonly string[]) {
  const episode = env.start(task, Rng.seeded(seed));
  const seen: unknown[] = [];
  for (const action of actions) {
    seen.push(episode.observation(), episode.observation());
    const result = episode.step(action);
    seen.push(result);
    if (result.done) break;
  }
  seen.push(episode.outcome());
  return seen;
}

function hamming(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  expect(x.length).toBe(y.length);
  return x.filter((ch, k) => ch !== y[k]).length;
}

describe('observation wrappers', () => {
  it.each(environments.map((env) => [env.name, env] as const))(
    'rate 0 and radius 0 are the identity on %s (observations, rewards, outcome)',
    (_name, env) => {
      const tasks = env.tasks('test', { seed: 0, count: 3 });
      const wrapped = [smoothObservations(env, { rate: 0 }), perturbObservations(env, { radius: 0 })];
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: tasks.length - 1 }),
          fc.nat(1000),
          fc.array(fc.string({ maxLength: 20 }), { minLength: 1, maxLength: env.maxTurns }),
          (k, seed, actions) => {
            const task = tasks[k];
            const expert = env.demonstrate?.(task) ?? [];
            for (const played of [actions, expert.length ? expert : actions]) {
              const plain = transcript(env, task, seed, played);
              for (const w of wrapped) expect(transcript(w, task, seed, played)).toEqual(plain);
            }
          },
        ),
        { numRuns: 10, seed: 11 },
      );
    },
  );

  const judge = environments.find((e) => e.name === 'policy-judge') as Environment;
  const tasks = judge.tasks('test', { seed: 0, count: 50 });

  it('a perturbation changes at most radius characters per episode, exactly min(radius, length) on the first observation', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), fc.nat(49), fc.nat(1000), (radius, k, seed) => {
        const task = tasks[k];
        const raw = judge.start(task, Rng.seeded(seed)).observation();
        const shown = perturbObservations(judge, { radius }).start(task, Rng.seeded(seed)).observation();
        expect(hamming(raw, shown)).toBe(Math.min(radius, Array.from(raw).length));
      }),
      { numRuns: 100, seed: 2 },
    );
  });

  it("split 'test' perturbs test tasks only, after the test split was drawn, and composes with smoothing", () => {
    const attacked = smoothObservations(perturbObservations(judge, { radius: 3, split: 'test' }), { rate: 0.2 });
    const clean = smoothObservations(judge, { rate: 0.2 });
    const train = attacked.tasks('train', { seed: 1, count: 20 });
    const test = attacked.tasks('test', { seed: 0, count: 20 });
    for (const [k, task] of train.entries())
      expect(attacked.start(task, Rng.seeded(k)).observation()).toBe(clean.start(task, Rng.seeded(k)).observation());
    const differs = test.filter(
      (task, k) => attacked.start(task, Rng.seeded(k)).observation() !== clean.start(task, Rng.seeded(k)).observation(),
    );
    expect(differs.length).toBeGreaterThan(10);
  });

  it('smoothing replaces a share rate * (1 - 1/K) of the characters, seeded by the episode rng', () => {
    const rate = 0.3;
    const smoothed = smoothObservations(judge, { rate });
    const K = new Set(judge.alphabet?.() ?? '').size;
    let changed = 0;
    let total = 0;
    tasks.forEach((task, k) => {
      const raw = judge.start(task, Rng.seeded(k)).observation();
      const shown = smoothed.start(task, Rng.seeded(k)).observation();
      expect(smoothed.start(task, Rng.seeded(k)).observation()).toBe(shown);
      changed += hamming(raw, shown);
      total += Array.from(raw).length;
    });
    const expected = rate * (1 - 1 / K);
    // about 3,500 characters: the binomial standard deviation of the share is under 0.008
    expect(Math.abs(changed / total - expected)).toBeLessThan(0.03);
    expect(smoothed.name).toBe('smoothed-policy-judge');
    expect(smoothed.configure?.({ maxRules: 3 }).name).toBe('smoothed-policy-judge');
  });

  it('refuses a rate outside [0, 1] and a negative or fractional radius', () => {
    expect(() => smoothObservations(judge, { rate: 1.5 })).toThrow(/rate must be in \[0, 1\], got 1.5/);
    expect(() => perturbObservations(judge, { radius: -1 })).toThrow(/radius must be an integer >= 0, got -1/);
    expect(() => perturbObservations(judge, { radius: 0.5 })).toThrow(/got 0.5/);
  });
});
