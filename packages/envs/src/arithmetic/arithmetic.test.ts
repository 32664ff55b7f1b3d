import { Rng } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arithmetic, scoreArithmetic } from './arithmetic.js';
import { extractFlexible, extractStrict } from './extract.js';

describe('GSM8K extraction (verl gsm8k.py behaviour, ground truth 1234)', () => {
  it.each([
    ['The answer is #### 1,234', '1234', '1,234'],
    ['#### $42', undefined, '42'],
    ['#### 72\n#### 10', '72', '10'],
    ['no number here', undefined, undefined],
    ['it is 3. ', undefined, '3.'],
  ])('%j -> strict %j, flexible %j', (text, strict, flexible) => {
    expect(extractStrict(text)).toBe(strict);
    expect(extractFlexible(text)).toBe(flexible);
  });

  it('scores by string equality with the ground truth, format independently', () => {
    const task = { question: 'q', answer: '1234', solution: '#### 1234' };
    expect(scoreArithmetic(task, 'The answer is #### 1,234', 'strict')).toEqual({ correct: 1, format: 1 });
    expect(scoreArithmetic(task, 'The answer is #### 1,234', 'flexible')).toEqual({ correct: 0, format: 1 }); // commas kept
    expect(scoreArithmetic(task, '#### $42', 'strict')).toEqual({ correct: 0, format: 0 });
    expect(scoreArithmetic(task, 'I think 1234', 'flexible')).toEqual({ correct: 1, format: 0 });
  });
});

describe('arithmetic environment', () => {
  it.each([1, 2, 3])('lets the expert solve every test task (%d steps), a random answer rarely', (steps) => {
    const env = arithmetic({ steps });
    const tasks = env.tasks('test', { seed: 4, count: 50 });
    expect(tasks.length).toBeGreaterThan(20);
    const rng = Rng.seeded(1);
    let random = 0;
    for (const task of tasks) {
      const episode = env.start(task, rng);
      for (const action of env.demonstrate?.(task) ?? []) episode.step(action);
      expect(episode.outcome()).toEqual({ reward: { correct: 1, format: 1 }, success: true });
      const guess = env.start(task, rng);
      guess.step(`#### ${rng.int(0, 20)}`);
      if (guess.outcome().success) random++;
    }
    expect(random).toBeLessThan(tasks.length * 0.25);
  });

  it('gives the same tasks for the same seed and disjoint splits', () => {
    const env = arithmetic({ steps: 2 });
    const train = env.tasks('train', { seed: 1, count: 200 });
    expect(env.tasks('train', { seed: 1, count: 200 })).toEqual(train);
    const ids = new Set(train.map(env.taskId));
    for (const task of env.tasks('test', { seed: 1, count: 50 })) expect(ids.has(env.taskId(task))).toBe(false);
  });

  it('never throws on arbitrary answers; unreadable ones are invalid', () => {
    const env = arithmetic();
    const task = env.tasks('test', { seed: 1, count: 1 })[0];
    fc.assert(
      fc.property(fc.string(), (text) => {
        const result = env.start(task as never, Rng.seeded(0)).step(text);
        expect(result.done).toBe(true);
        expect(result.valid).toBe(extractStrict(text) !== undefined);
      }),
    );
  });

  it('keeps questions and solutions in its alphabet and its token limit', () => {
    for (const instruction of [false, true]) {
      const env = arithmetic({ steps: 3, instruction, maxNumber: 99 });
      const alphabet = new Set(env.alphabet?.());
      for (const task of env.tasks('train', { seed: 2, count: 50 })) {
        for (const ch of task.question + task.solution) expect(alphabet.has(ch)).toBe(true);
        expect(task.solution.length).toBeLessThanOrEqual(env.recommended?.maxNewTokens ?? 0);
        expect(task.question.length).toBeLessThan((env.recommended?.contextLength ?? 0) - (env.recommended?.maxNewTokens ?? 0));
      }
    }
    expect(() => arithmetic({ steps: 4 })).toThrow(/steps.*1\.\.3.*4/);
    expect(() => arithmetic({ extraction: 'loose' as never })).toThrow(/loose/);
  });
});
