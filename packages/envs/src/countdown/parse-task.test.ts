import { Rng } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTestKey } from '../shared/split.js';
import { type CountdownTask, countdown, scoreCountdown } from './countdown.js';
import { solveCountdown } from './solve.js';

const env = countdown();
const statement = (task: CountdownTask) => `use ${task.numbers.join(' ')} make ${task.target}`;
const key = (task: CountdownTask) => env.taskId(task);

describe('countdown solver', () => {
  it('finds an answer the scorer accepts for every drawn task (all solvable by construction), at 2, 4 and 6 numbers', () => {
    for (const numbers of [2, 4, 6]) {
      const tasks = countdown({ numbers }).tasks('train', { seed: 3, count: numbers === 6 ? 10 : 100 });
      for (const task of tasks) {
        const solution = solveCountdown(task.numbers, task.target);
        expect(solution, statement(task)).toBeDefined();
        expect(scoreCountdown(task, solution as string).correct).toBe(1);
      }
    }
  });

  it('an answer it returns always scores correct; it finds none where none exists', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 2, maxLength: 3 }),
        fc.integer({ min: 1, max: 99 }),
        (numbers, target) => {
          const solution = solveCountdown(numbers, target);
          if (solution !== undefined) expect(scoreCountdown({ numbers, target, solution }, solution).correct).toBe(1);
        },
      ),
      { numRuns: 200 },
    );
    expect(solveCountdown([1, 1], 97)).toBeUndefined();
    expect(solveCountdown([2, 3], 7)).toBeUndefined();
  });
});

describe('countdown parseTask', () => {
  it('reads back every training task from its statement, with a solution', () => {
    for (const task of env.tasks('train', { seed: 1, count: 200 })) {
      const read = env.parseTask?.(statement(task));
      expect(read && key(read)).toBe(key(task));
      expect(scoreCountdown(read as CountdownTask, (read as CountdownTask).solution).correct).toBe(1);
    }
  });

  it('refuses every task of the test split, written as a statement or as its solution', () => {
    const test = env.tasks('test', { seed: 0 });
    expect(test.length).toBeGreaterThan(100);
    for (const task of test) {
      expect(env.parseTask?.(statement(task))).toBeUndefined();
      expect(env.parseTask?.(task.solution)).toBeUndefined();
    }
  });

  it('reads an equation as the task of reaching its value with its numbers (refused when that task is a test task)', () => {
    let accepted = 0;
    for (let a = 2; a <= 30; a++)
      for (const [text, numbers, target] of [
        [`${a}*3`, [a, 3], a * 3],
        [`${a}+11`, [a, 11], a + 11],
      ] as const) {
        const task = env.parseTask?.(text);
        const test = isTestKey(key({ numbers: [...numbers], target, solution: '' }));
        if (test || target > 99) {
          expect(task).toBeUndefined();
          continue;
        }
        expect(task).toEqual({ numbers, target, solution: text });
        accepted++;
      }
    expect(accepted).toBeGreaterThan(30);
  });

  it.each([
    ['use 1 1 make 97', 'unsolvable'],
    ['use 3 5 7 make 8', 'three numbers where the environment gives two'],
    ['use 3 500 make 503', 'a number above maxNumber'],
    ['use 3 5 make 0', 'a target below 1'],
    ['3/2', 'a value that is not a whole number'],
    ['5-7', 'a negative target'],
    ['3+', 'malformed'],
    ['make me a task', 'not a task'],
    ['', 'empty'],
  ])('refuses %j (%s)', (text) => {
    expect(env.parseTask?.(text)).toBeUndefined();
  });

  it('never throws, and anything it accepts is a solvable training-split task within the settings', () => {
    // Texts of the environment's alphabet, in pieces that often form statements and equations.
    const piece = fc.constantFrom('use ', ' make ', 'ma', '1', '2', '3', '5', '9', '0', ' ', '+', '-', '*', '/', '(', ')');
    let parsed = 0;
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 12 }).map((pieces) => pieces.join('')),
        (text) => {
          const task = env.parseTask?.(text);
          if (!task) return;
          parsed++;
          expect(task.numbers).toHaveLength(2);
          expect(task.numbers.every((n) => n >= 1 && n <= 99)).toBe(true);
          expect(task.target >= 1 && task.target <= 99).toBe(true);
          expect(isTestKey(key(task))).toBe(false);
          expect(scoreCountdown(task, task.solution).correct).toBe(1);
        },
      ),
      { numRuns: 2000 },
    );
    expect(parsed).toBeGreaterThan(0);
    // Random statements: accepted exactly when solvable and not a test task.
    const rng = Rng.seeded(7);
    let accepted = 0;
    for (let i = 0; i < 300; i++) {
      const numbers = [rng.int(1, 99), rng.int(1, 99)];
      const target = rng.int(1, 99);
      const task = env.parseTask?.(`use ${numbers.join(' ')} make ${target}`);
      const solvable = solveCountdown(numbers, target) !== undefined;
      const test = isTestKey(key({ numbers, target, solution: '' }));
      expect(task !== undefined).toBe(solvable && !test);
      if (task) accepted++;
    }
    expect(accepted).toBeGreaterThan(0);
  });
});
