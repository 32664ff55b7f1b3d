/**
 * long-doc-reader: the expert succeeds on every test task, a random policy and a perception-first
 * policy are worse (the first fails, the second pays for what it reads), viewing is charged per
 * unit, splits are seeded and disjoint, and arbitrary actions never throw.
 */
import { Rng } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type LongDocTask, longDocReader, parseLongDocAction } from './long-doc.js';

const env = longDocReader();

function play(task: LongDocTask, actions: readonly string[], e = env) {
  const episode = e.start(task, Rng.seeded(0));
  const steps = [];
  const observations = [episode.observation()];
  for (const action of actions) {
    const step = episode.step(action);
    steps.push(step);
    observations.push(episode.observation());
    if (step.done) break;
  }
  return { steps, observations, outcome: episode.outcome() };
}

const TASK: LongDocTask = { keys: 'bcdfghjk', values: ['10', '11', '12', '13', '14', '15', '16', '17'], question: 'g' };

describe('long-doc-reader', () => {
  it('shows the question first, then what the agent chose to view, and charges each unit viewed', () => {
    const { steps, observations, outcome } = play(TASK, ['skim 0 7', 'read 4', 'answer 14']);
    expect(observations).toEqual(['doc 8 find g', '0b 1c 2d 3f 4g 5h 6j 7k', '4g=14', '4g=14']);
    expect(steps.map((s) => s.reward)).toEqual([
      { correct: 0, view: -0.5 * (8 / 32), viewed: 8 },
      { correct: 0, view: -0.5 * (4 / 32), viewed: 4 },
      { correct: 1, view: -0, viewed: 0 },
    ]);
    expect(outcome).toEqual({ success: true, reward: { correct: 1, view: -0.5 * (12 / 32), viewed: 12 } });
    // Perceiving everything first succeeds too, but pays the whole document.
    const eager = play(TASK, ['read 0 7', 'answer 14']);
    expect(eager.observations[1]).toBe('0b=10 1c=11 2d=12 3f=13 4g=14 5h=15 6j=16 7k=17');
    expect(eager.outcome).toEqual({ success: true, reward: { correct: 1, view: -0.5, viewed: 32 } });
    // A wrong answer, a malformed action, a range past the end, an unanswered episode.
    expect(play(TASK, ['answer 15']).outcome.success).toBe(false);
    expect(play(TASK, ['read 8'])).toMatchObject({ steps: [{ valid: false }], observations: ['doc 8 find g', 'bad action'] });
    expect(play(TASK, ['skim 3 2']).steps[0]?.valid).toBe(false);
    const idle = play(TASK, ['skim 0 1', 'skim 0 1', 'skim 0 1', 'skim 0 1', 'answer 14']);
    expect(idle.steps).toHaveLength(4);
    expect(idle.outcome).toMatchObject({ success: false, reward: { correct: 0, viewed: 8 } });
  });

  it('gated cost: only a right answer pays for what was viewed, at most the penalty', () => {
    const gated = longDocReader({ cost: 'gated' });
    const right = play(TASK, ['skim 0 7', 'read 4', 'answer 14'], gated);
    expect(right.steps.map((s) => s.reward.view)).toEqual([0, 0, -0.5 * (12 / 32)]);
    expect(right.outcome.reward).toEqual({ correct: 1, view: -0.5 * (12 / 32), viewed: 12 });
    const wrong = play(TASK, ['read 0 7', 'answer 15'], gated);
    expect(wrong.outcome.reward).toEqual({ correct: 0, view: 0, viewed: 32 });
    const greedy = play(TASK, ['read 0 7', 'read 0 7', 'answer 14'], gated);
    expect(greedy.outcome.reward.view).toBe(-0.5);
  });

  it('sums the per-turn rewards to the outcome (fast-check over arbitrary actions)', () => {
    const word = fc.oneof(
      fc.constantFrom('skim 0 7', 'read 4', 'answer 14', 'read 0 7', 'skim 2', 'answer 1'),
      fc.string({ maxLength: 12 }),
    );
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 6 }), (actions) => {
        for (const e of [env, longDocReader({ cost: 'gated' })]) {
          const { steps, outcome } = play(TASK, actions, e);
          for (const key of ['view', 'viewed'] as const)
            expect(steps.reduce((a, s) => a + (s.reward[key] ?? 0), 0)).toBeCloseTo(outcome.reward[key] ?? Number.NaN, 12);
        }
        const { steps, outcome } = play(TASK, actions);
        expect(steps.length).toBeLessThanOrEqual(env.maxTurns);
        expect(outcome.reward.viewed).toBeGreaterThanOrEqual(0);
        expect(outcome.reward.view).toBeGreaterThanOrEqual(-env.maxTurns * 0.5);
      }),
    );
  });

  it('lets the expert succeed on every test task; a random policy almost never does', () => {
    const test = env.tasks('test', { seed: 0 });
    expect(test.length).toBeGreaterThanOrEqual(200);
    const rng = Rng.seeded(3);
    const alphabet = [...(env.alphabet?.() ?? '')];
    let random = 0;
    for (const task of test) {
      const expert = play(task, env.demonstrate?.(task) ?? []);
      expect(expert.outcome.success).toBe(true);
      expect(expert.outcome.reward.viewed).toBe(12);
      const noise = Array.from({ length: env.maxTurns }, () =>
        Array.from({ length: rng.int(1, 12) }, () => rng.pick(alphabet)).join(''),
      );
      if (play(task, noise).outcome.success) random++;
    }
    expect(random / test.length).toBeLessThan(0.02);
  });

  it('draws the same tasks for the same seed, disjoint splits, text inside its alphabet and context', () => {
    const train = env.tasks('train', { seed: 1, count: 3000 });
    expect(env.tasks('train', { seed: 1, count: 3000 })).toEqual(train);
    expect(env.tasks('train', { seed: 2, count: 3000 })).not.toEqual(train);
    const testIds = new Set(env.tasks('test', { seed: 0 }).map(env.taskId));
    for (const task of train) expect(testIds.has(env.taskId(task))).toBe(false);
    const alphabet = new Set(env.alphabet?.());
    const task = train[0] as LongDocTask;
    const transcript = play(task, env.demonstrate?.(task) ?? []);
    const text = [...transcript.observations, ...(env.demonstrate?.(task) ?? [])].join(' ');
    expect([...text].filter((ch) => !alphabet.has(ch))).toEqual([]);
    // question, three actions and two views (with a separator or a stop token after each) fit the context
    expect(text.length + 6).toBeLessThan(env.recommended?.contextLength ?? 0);
  });

  it('parses its actions strictly, and refuses bad options', () => {
    expect(parseLongDocAction('read 3', 8)).toEqual({ kind: 'read', from: 3, to: 3 });
    expect(parseLongDocAction(' skim 0 7 ', 8)).toEqual({ kind: 'skim', from: 0, to: 7 });
    expect(parseLongDocAction('answer 07', 8)).toEqual({ kind: 'answer', value: '07' });
    for (const bad of ['read 9', 'read', 'answer 7', 'skim 1 0', 'look 1', `answer ${'1'.repeat(50)}`])
      expect(parseLongDocAction(bad, 8)).toBeUndefined();
    expect(() => longDocReader({ sections: 11 })).toThrow(/2\.\.10/);
    expect(() => longDocReader({ penalty: -1 })).toThrow(/penalty/);
  });
});
