import { Rng } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CodeTask, code, scoreProgram } from './code.js';
import { parseProgram, runProgram } from './language.js';

function run(source: string, x: number, stepLimit?: number) {
  const parsed = parseProgram(source);
  if (!parsed.ok) throw new Error(parsed.error);
  return runProgram(parsed.program, x, stepLimit);
}

describe('the code language', () => {
  it.each([
    ['3*x+2', 4, 14],
    ['x<5?5:x', 2, 5],
    ['x%2=0?1:7', 3, 7],
    ['-x/2', 7, -3], // truncates toward zero
    ['x<1?0:x+f(x-1)', 4, 10],
    ['(x+1)*(x-1)', 3, 8],
    ['1<2?3<4?5:6:7', 0, 5],
  ])('%s at x=%d is %d', (source, x, y) => {
    expect(run(source, x)).toEqual({ ok: true, value: y });
  });

  it('stops non-terminating and failing programs with a reason', () => {
    expect(run('f(x)', 1)).toEqual({ ok: false, error: 'step limit' });
    expect(run('f(x+1)+1', 1, 100000)).toEqual({ ok: false, error: 'step limit' }); // the call-depth guard
    expect(run('x/(x-1)', 1)).toEqual({ ok: false, error: 'division by zero' });
    expect(run('x<1?1:x*x*x*x*x*x*x*x*f(x-1)*99999', 9)).toEqual({ ok: false, error: 'overflow' });
  });

  it('fails deeply nested calls with a reason instead of overflowing the stack, at any allowed step limit', () => {
    const nested = `${'f('.repeat(59)}x${')'.repeat(59)}`; // 178 characters: 200 calls deep, 59 arguments each
    expect(run(nested, 1, 100_000)).toEqual({ ok: false, error: 'step limit' });
    const env = code({ stepLimit: 100_000 });
    const task = env.tasks('test', { seed: 1, count: 1 })[0] as CodeTask;
    const result = env.start(task, Rng.seeded(1)).step(nested);
    expect(result).toMatchObject({ done: true, valid: true, reward: { passed: 0 } });
  });

  it('bounds its step limit, naming the accepted range', () => {
    expect(() => code({ stepLimit: 100_001 })).toThrow(/'stepLimit' must be 100..100000, got 100001/);
    expect(() => code({ stepLimit: 99 })).toThrow(/'stepLimit' must be 100..100000, got 99/);
  });

  it('rejects malformed programs with the reason', () => {
    for (const bad of ['', '3+', 'x y', 'f x', '(x', 'g(x)', 'x==1', '1?2']) {
      const parsed = parseProgram(bad);
      expect(parsed.ok, bad).toBe(false);
    }
  });

  it('never throws, whatever the text (fast-check)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'x0123456789f()+-*/%<>=?: '.split('')), maxLength: 40 }), (source) => {
        const parsed = parseProgram(source);
        if (parsed.ok) {
          const result = runProgram(parsed.program, 3, 2000);
          if (result.ok) expect(Number.isSafeInteger(result.value)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('code environment', () => {
  it.each(['easy', 'medium', 'hard'] as const)(
    'lets the expert pass every hidden test (%s), a random program far less',
    (level) => {
      const env = code({ level });
      const tasks = env.tasks('test', { seed: 2, count: 40 });
      expect(tasks.length).toBeGreaterThanOrEqual(20);
      const rng = Rng.seeded(3);
      let random = 0;
      for (const task of tasks) {
        const episode = env.start(task, rng);
        for (const action of env.demonstrate?.(task) ?? []) episode.step(action);
        const outcome = episode.outcome();
        expect(outcome.success).toBe(true);
        expect(outcome.reward.partial).toBe(1);
        const guess = env.start(task, rng);
        guess.step(`${rng.int(1, 5)}*x+${rng.int(0, 9)}`);
        if (guess.outcome().success) random++;
      }
      expect(random).toBeLessThan(tasks.length * 0.3);
    },
  );

  it('scores partial passes per hidden test', () => {
    const task: CodeTask = {
      solution: 'x<5?5:x',
      examples: [{ x: 0, y: 5 }],
      hidden: [
        { x: 2, y: 5 },
        { x: 6, y: 6 },
        { x: 9, y: 9 },
        { x: 4, y: 5 },
      ],
    };
    expect(scoreProgram(task, 'x')).toEqual({ parsed: true, tests: [0, 1, 1, 0] });
    expect(scoreProgram(task, 'f(x)')).toEqual({ parsed: true, tests: [0, 0, 0, 0] });
    const env = code();
    const episode = env.start(task, Rng.seeded(0));
    expect(episode.step('x').reward).toEqual({ passed: 0, partial: 0.5, test1: 0, test2: 1, test3: 1, test4: 0 });
  });

  it('gives feedback on the examples and another attempt when attempts > 1', () => {
    const env = code({ attempts: 2 });
    const task = env.tasks('test', { seed: 1, count: 1 })[0] as CodeTask;
    const episode = env.start(task, Rng.seeded(0));
    expect(episode.observation()).toMatch(/^write f\(x\)\. f\(\d\)=-?\d+/);
    const first = episode.step('0');
    expect(first.done).toBe(false);
    expect(episode.observation()).toMatch(/^failed\. yours: f\(\d\)=0/);
    const second = episode.step(task.solution);
    expect(second.done).toBe(true);
    expect(episode.outcome().success).toBe(true);
  });

  it('gives the same tasks for the same seed, disjoint splits, text inside the alphabet', () => {
    const env = code({ level: 'hard' });
    const train = env.tasks('train', { seed: 5, count: 200 });
    expect(env.tasks('train', { seed: 5, count: 200 })).toEqual(train);
    const ids = new Set(train.map(env.taskId));
    const alphabet = new Set(env.alphabet?.());
    for (const task of env.tasks('test', { seed: 5, count: 40 })) {
      expect(ids.has(env.taskId(task))).toBe(false);
      const text = env.start(task, Rng.seeded(0)).observation() + task.solution;
      for (const ch of text) expect(alphabet.has(ch)).toBe(true);
    }
    expect(() => code({ examples: 8, hiddenTests: 4 })).toThrow(/examples \+ hiddenTests <= 10, got 8 and 4/);
    expect(() => code({ level: 'expert' as never })).toThrow(/expert/);
  });
});
