/**
 * The Environment contract, checked on every environment the package registers: test splits
 * large enough to conclude from, disjoint from training, and episodes that never throw on an
 * action however long or adversarial it is.
 */
import { type Environment, Rng } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plugin, splitSizes } from './index.js';

const environments = plugin.environments as Environment[];

/** Pieces of every environment's action syntax, repeated and mixed into long actions. */
const FRAGMENTS = [
  '<lookup>',
  '</lookup>',
  '<answer>',
  '</answer>',
  'search[',
  'click[',
  ']',
  'f(',
  '(',
  ')',
  'x',
  '9',
  '-',
  '*',
  '?',
  ':',
  ' ',
  '\n',
  'a',
  '\\',
  '<action>1</action>',
  '<next>',
  '</next>',
];

const longAction = fc
  .tuple(fc.array(fc.constantFrom(...FRAGMENTS), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 40_000 }))
  .map(([parts, times]) => parts.join('').repeat(times).slice(0, 200_000));
const action = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: fc.constantFrom(...FRAGMENTS), maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
  longAction,
);

/** The cases found by hand: a 12,280-character lookup, 160k characters of answer, nested calls. */
const KNOWN_HARD = [
  `<lookup>${'a'.repeat(12_280)}</lookup>`,
  `<lookup>${'a b '.repeat(4000)}</lookup>`,
  `<answer>${'<answer>x</answer>x'.repeat(8000)}`,
  `<answer>${' '.repeat(160_000)}x`,
  `${'f('.repeat(11)}x${')'.repeat(11)}`,
  `${'('.repeat(100_000)}1${')'.repeat(100_000)}`,
  `search[${'w '.repeat(50_000)}]`,
  `click[${'b'.repeat(100_000)}]`,
];

describe.each(environments.map((env) => [env.name, env] as const))('%s keeps the Environment contract', (_name, env) => {
  it('has at least 200 distinct test tasks at its default difficulty, disjoint from its training pool', () => {
    const sizes = splitSizes(env, 1);
    expect(sizes.test).toBeGreaterThanOrEqual(200);
    const test = new Set(env.tasks('test', { seed: 0 }).map((t) => env.taskId(t)));
    for (const task of env.tasks('train', { seed: 1, count: 2000 })) expect(test.has(env.taskId(task))).toBe(false);
  });

  it('never throws on an action, however long or adversarial, and answers each within 250 ms', () => {
    const task = env.tasks('test', { seed: 0, count: 1 })[0];
    const play = (actions: readonly string[]) => {
      const episode = env.start(task, Rng.seeded(1));
      for (const a of actions) {
        const started = performance.now();
        const result = episode.step(a);
        expect(performance.now() - started).toBeLessThan(250);
        expect(typeof episode.observation()).toBe('string');
        if (result.done) break;
      }
      const outcome = episode.outcome();
      expect(typeof outcome.success).toBe('boolean');
      for (const value of Object.values(outcome.reward)) expect(Number.isFinite(value)).toBe(true);
    };
    for (const hard of KNOWN_HARD) play([hard, hard]);
    fc.assert(
      fc.property(fc.array(action, { minLength: 1, maxLength: env.maxTurns }), (actions) => play(actions)),
      { numRuns: 25, seed: 7 },
    );
  });
});

describe('snapshot and restore (tree search restarts from them)', () => {
  const branching = environments.filter((env) => env.maxTurns > 1);
  it('every multi-turn environment can snapshot and restore its episodes', () => {
    for (const env of branching) {
      const episode = env.start(env.tasks('train', { seed: 1, count: 1 })[0], Rng.seeded(1));
      expect(typeof episode.snapshot, env.name).toBe('function');
      expect(typeof episode.restore, env.name).toBe('function');
    }
  });

  it.each(branching.map((env) => [env.name, env] as const))(
    '%s: a restored episode continues exactly as the one it was taken from',
    (_, env) => {
      const tasks = env.tasks('train', { seed: 3, count: 20 });
      // Expert actions mixed with syntax fragments, so the episode passes through varied states.
      const step = fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 12 }));
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: tasks.length - 1 }),
          fc.array(fc.oneof(step, fc.constant('expert')), { minLength: 1, maxLength: env.maxTurns }),
          fc.nat(),
          (k, plan, cutSeed) => {
            const task = tasks[k];
            const expert = env.demonstrate?.(task) ?? [];
            const actions = plan.map((a, i) => (a === 'expert' ? (expert[i] ?? 'x') : a));
            const original = env.start(task, Rng.seeded(k));
            const cut = cutSeed % actions.length;
            let snapshot: unknown;
            const trace = (episode: typeof original, from: number) => {
              const out: unknown[] = [];
              for (let i = from; i < actions.length; i++) {
                if (i === cut && episode === original) snapshot = JSON.parse(JSON.stringify(episode.snapshot?.()));
                out.push(episode.observation());
                const result = episode.step(actions[i] as string);
                out.push(result.reward, result.valid, result.done, result.stateKey);
                if (result.done) break;
              }
              out.push(episode.outcome());
              return out;
            };
            const full = trace(original, 0);
            if (snapshot === undefined) return; // the episode ended before the cut
            const restored = env.start(task, Rng.seeded(k));
            restored.restore?.(snapshot);
            const tail = trace(restored, cut);
            // The restored run reproduces the original from the cut on: same observations, rewards and outcome.
            expect(tail).toEqual(full.slice(full.length - tail.length));
          },
        ),
        { numRuns: 60 },
      );
    },
  );
});
