import { Rng } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countdown, scoreCountdown } from './countdown.js';
import { parseExpression } from './expression.js';

describe('expression parser', () => {
  it.each([
    ['3*5+7', 22, [3, 5, 7]],
    ['(3+5)*7', 56, [3, 5, 7]],
    [' 8 / 4 - 1 ', 1, [8, 4, 1]],
  ])('%s = %d', (text, value, numbers) => {
    expect(parseExpression(text)).toEqual({ value, numbers });
  });

  it.each(['', '3+', '3**5', '(3+5', '2/0', 'abc', '3+5)'])('rejects %j', (text) => {
    expect(parseExpression(text)).toBeUndefined();
  });

  it('never throws on arbitrary strings', () => {
    fc.assert(fc.property(fc.string(), (s) => parseExpression(s) === undefined || Number.isFinite(parseExpression(s)?.value)));
  });
});

describe('countdown', () => {
  const env = countdown();

  it('scores correct and format independently', () => {
    const task = { numbers: [3, 5, 7], target: 22, solution: '3*5+7' };
    expect(scoreCountdown(task, '3*5+7')).toEqual({ correct: 1, format: 1 });
    expect(scoreCountdown(task, '7+5*3')).toEqual({ correct: 1, format: 1 });
    expect(scoreCountdown(task, '3*5+6')).toEqual({ correct: 0, format: 1 }); // wrong numbers
    expect(scoreCountdown(task, '3+5+7')).toEqual({ correct: 0, format: 1 }); // wrong value
    expect(scoreCountdown(task, '3*5+7+7')).toEqual({ correct: 0, format: 1 }); // a number twice
    expect(scoreCountdown(task, 'twenty two')).toEqual({ correct: 0, format: 0 });
  });

  it('gives the same tasks for the same seed, disjoint train and test splits', () => {
    const train = env.tasks('train', { seed: 1, count: 300 });
    expect(env.tasks('train', { seed: 1, count: 300 })).toEqual(train);
    expect(env.tasks('train', { seed: 2, count: 300 })).not.toEqual(train);
    const test = env.tasks('test', { seed: 1, count: 300 });
    expect(new Set(test.map(env.taskId)).size).toBe(300);
    const trainIds = new Set(train.map(env.taskId));
    for (const task of test) expect(trainIds.has(env.taskId(task))).toBe(false);
  });

  it("defaults to 2 numbers from 1-99 with TinyZero's operators (+ - * and exact /) and targets 1-99", () => {
    expect(env.resolved).toEqual({ numbers: 2, maxNumber: 99, maxTarget: 99 });
    // The measured SFT start (README: 25.8% sampled after 500 steps) depends on these defaults.
    expect(env.recommended?.sftSteps).toBe(500);
    const test = env.tasks('test', { seed: 0 });
    expect(test).toHaveLength(500); // the test split holds 1,507 tasks; the default evaluation set is 500 of them
    expect(env.tasks('test', { seed: 0, count: 100_000 }).length).toBeGreaterThan(1400);
    const train = env.tasks('train', { seed: 1 });
    expect(new Set(train.map(env.taskId)).size).toBeGreaterThan(6000); // 10x the quick preset's 400 draws
    const operators = new Set(train.flatMap((t) => t.solution.match(/[-+*/]/g) ?? []));
    expect([...operators].sort()).toEqual(['*', '+', '-', '/']);
    for (const task of train) {
      expect(task.target).toBeGreaterThanOrEqual(1);
      expect(task.target).toBeLessThanOrEqual(99);
      expect(parseExpression(task.solution)?.value).toBe(task.target);
    }
  });

  it('returns the whole split, quickly, when asked for more tasks than a small difficulty holds', () => {
    const small = countdown({ numbers: 2, maxNumber: 9 });
    const started = performance.now();
    const test = small.tasks('test', { seed: 1, count: 1_000_000 });
    expect(performance.now() - started).toBeLessThan(2000);
    expect(test.length).toBeGreaterThan(10);
    expect(test.length).toBeLessThan(60);
  });

  it.each([
    [2, 0.5],
    [3, 0.25],
  ])('lets the expert solve every test task and a random policy far less often (%d numbers)', (numbers, bound) => {
    const env = countdown({ numbers });
    const tasks = env.tasks('test', { seed: 3, count: 64 });
    const rng = Rng.seeded(5);
    let expert = 0;
    let random = 0;
    for (const task of tasks) {
      const episode = env.start(task, rng);
      for (const action of env.demonstrate?.(task) ?? []) episode.step(action);
      if (episode.outcome().success) expert++;
      const guess = env.start(task, rng);
      guess.step(`${rng.pick(task.numbers)}${rng.pick(['+', '-', '*'])}${rng.pick(task.numbers)}`);
      if (guess.outcome().success) random++;
    }
    expect(expert).toBe(tasks.length);
    expect(random).toBeLessThan(tasks.length * bound);
  });

  it('keeps observations and answers within its alphabet and recommended sizes', () => {
    const alphabet = new Set(env.alphabet?.());
    for (const task of env.tasks('train', { seed: 1, count: 100 })) {
      const text = env.start(task, Rng.seeded(1)).observation() + task.solution;
      for (const ch of text) expect(alphabet.has(ch)).toBe(true);
      expect(task.solution.length).toBeLessThan(env.recommended?.maxNewTokens ?? 0);
    }
  });

  it('validates its difficulty options', () => {
    expect(() => countdown({ numbers: 9 })).toThrow(/'numbers' must be 2..6, got 9/);
    expect(countdown({ numbers: 4 }).tasks('train', { seed: 1, count: 5 })[0]?.numbers).toHaveLength(4);
  });
});
