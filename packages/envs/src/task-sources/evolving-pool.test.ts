import { type ProposeContext, Rng, type TaskFeedback, type TaskStream } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CountdownTask, countdown } from '../countdown/countdown.js';
import { isTestKey } from '../shared/split.js';
import { type EvolvingPoolOptions, evolvingPool } from './evolving-pool.js';

const env = countdown();
const train = env.tasks('train', { seed: 1, count: 40 });
const test = env.tasks('test', { seed: 0, count: 30 });
const idOf = (task: unknown) => env.taskId(task as CountdownTask);
const statement = (task: CountdownTask) => `use ${task.numbers.join(' ')} make ${task.target}`;
const open = (options: EvolvingPoolOptions = {}) => evolvingPool(options).open(train, { taskId: idOf });

/** A group's feedback: each rollout succeeded or not (reward 1 or 0). */
const group = (task: unknown, successes: readonly boolean[]): TaskFeedback => ({
  taskId: idOf(task),
  task,
  rewards: successes.map((s) => (s ? 1 : 0)),
  successes,
});

/** A ProposeContext whose "policy" writes the given texts in turn, reading tasks with countdown's own parseTask. */
function writer(texts: readonly string[], step: number): ProposeContext {
  let next = 0;
  return {
    step,
    rng: Rng.seeded(step).split('propose'),
    generate: async (_prompt, { count }) => Array.from({ length: count }, () => texts[next++ % texts.length] as string),
    parseTask: (text) => env.parseTask?.(text),
    observation: (task) => statement(task as CountdownTask),
    taskId: idOf,
  };
}

/** The run totals the stream keeps in its checkpointed state. */
const totalsOf = (stream: TaskStream) => (stream.save?.() as { totals: Record<string, number> } | undefined)?.totals;

/** The pool's current tasks, seen through many draws. */
const drawnIds = (stream: TaskStream, seed: number) => new Set(stream.draw(400, Rng.seeded(seed)).map(idOf));

describe('evolving-pool task source', () => {
  it('retires a task after `patience` mastered groups in a row, one with no signal likewise, and refills from the unused split', () => {
    const stream = open({ size: 4, patience: 2, write: 0 });
    const [a, b, c] = train as [CountdownTask, CountdownTask, CountdownTask];
    expect(drawnIds(stream, 1)).toEqual(new Set(train.slice(0, 4).map(idOf)));
    stream.observe?.(
      [group(a, [true, true, true, true]), group(b, [false, false, false, false]), group(c, [true, false, true, false])],
      1,
    );
    expect(stream.metrics?.()).toMatchObject({ poolSize: 4, added: 0, retired: 0 });
    // A mixed group breaks a's streak: not retired; b has no signal twice in a row: retired.
    stream.observe?.([group(a, [true, false, true, true]), group(b, [false, false, false, false])], 2);
    expect(stream.metrics?.()).toMatchObject({ poolSize: 4, added: 1, retired: 1, retiredFlat: 1, retiredMastered: 0 });
    stream.observe?.([group(a, [true, true, true, true])], 3);
    stream.observe?.([group(a, [true, true, true, true])], 4);
    expect(stream.metrics?.()).toMatchObject({ poolSize: 4, added: 1, retired: 1, retiredMastered: 1 });
    expect(totalsOf(stream)).toMatchObject({ added: 2, retired: 2 });
    const now = drawnIds(stream, 2);
    expect(now.has(idOf(a)) || now.has(idOf(b))).toBe(false);
    expect(now).toEqual(new Set([train[2], train[3], train[4], train[5]].map(idOf)));
  });

  it('keeps a task whose groups carry no signal when retireFlat is off, and a mastered one when retireMastered is off', () => {
    const flat = open({ size: 2, patience: 1, retireFlat: false, write: 0 });
    flat.observe?.([group(train[0], [false, false])], 1);
    expect(flat.metrics?.()).toMatchObject({ retired: 0 });
    flat.observe?.([group(train[0], [true, true])], 2);
    expect(flat.metrics?.()).toMatchObject({ retired: 1, retiredMastered: 1 });
    const mastered = open({ size: 2, patience: 1, retireMastered: false, write: 0 });
    mastered.observe?.([group(train[0], [true, true])], 1);
    expect(mastered.metrics?.()).toMatchObject({ retired: 1, retiredFlat: 1, retiredMastered: 0 });
    const keep = open({ size: 2, patience: 1, retireMastered: false, retireFlat: false, write: 0 });
    keep.observe?.([group(train[0], [true, true]), group(train[1], [false, false])], 1);
    expect(keep.metrics?.()).toMatchObject({ retired: 0, poolSize: 2 });
  });

  it('adds tasks the policy writes (read by the environment) before unused training tasks, and refuses test tasks and duplicates', async () => {
    const stream = open({ size: 3, patience: 1, write: 4 });
    const fresh = env.parseTask?.('40+41') as CountdownTask;
    expect(fresh).toBeDefined();
    const testTask = test[0] as CountdownTask;
    await stream.propose?.(writer(['40+41', statement(testTask), 'not a task', statement(train[1] as CountdownTask)], 1));
    expect(stream.metrics?.()).toMatchObject({
      writtenAccepted: 1,
      writtenRejected: 2,
      writtenDuplicates: 1,
      pending: 1,
      poolSize: 3,
    });
    stream.observe?.([group(train[0], [false, false])], 2);
    expect(stream.metrics?.()).toMatchObject({ retired: 1, added: 1, addedWritten: 1, writtenInPool: 1, pending: 0 });
    expect(drawnIds(stream, 3).has(idOf(fresh))).toBe(true);
  });

  it('property: never above its bound, never a test task, no task twice, a retired task never back, and the counts add up', async () => {
    const written = [
      ...test.slice(0, 10).map(statement),
      ...test.slice(10, 20).map((t) => t.solution),
      ...train.slice(30).map(statement),
    ];
    const arbitraryStep = fc.record({
      outcomes: fc.array(fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 }),
      texts: fc.array(
        fc.oneof(
          fc.constantFrom(...written),
          fc.tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 })).map(([x, y]) => `${x}+${y}`),
        ),
        {
          minLength: 1,
          maxLength: 4,
        },
      ),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          size: fc.integer({ min: 1, max: 8 }),
          patience: fc.integer({ min: 1, max: 3 }),
          mastery: fc.constantFrom(0.5, 1),
        }),
        fc.array(arbitraryStep, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 1000 }),
        async (options, steps, seed) => {
          const stream = open({ ...options, write: 2 });
          const retired = new Set<string>();
          let size = drawnIds(stream, seed).size;
          let added = 0;
          let removed = 0;
          for (const [s, { outcomes, texts }] of steps.entries()) {
            const before = drawnIds(stream, seed + s);
            const drawn = stream.draw(outcomes.length, Rng.seeded(seed).split(`${s}`));
            stream.observe?.(
              drawn.map((task, k) => group(task, outcomes[k] as boolean[])),
              s + 1,
            );
            await stream.propose?.(writer(texts, s + 1));
            const m = stream.metrics?.() as Record<string, number>;
            const pool = stream.draw(600, Rng.seeded(seed + 17 * s));
            const ids = new Set(pool.map(idOf));
            expect(m.poolSize).toBeLessThanOrEqual(options.size);
            expect(ids.size).toBe(m.poolSize as number); // every place holds a different task (600 draws see all of at most 8)
            for (const task of pool) expect(isTestKey(idOf(task))).toBe(false);
            expect(m.poolSize).toBe(size + (m.added as number) - (m.retired as number));
            expect(m.retired).toBe((m.retiredMastered as number) + (m.retiredFlat as number));
            expect((m.writtenAccepted as number) + (m.writtenRejected as number) + (m.writtenDuplicates as number)).toBe(2);
            for (const id of before) if (!ids.has(id) && m.retired === 0) expect.fail(`${id} left without a retirement`);
            for (const id of retired) expect(ids.has(id)).toBe(false);
            for (const id of before) if (!ids.has(id)) retired.add(id);
            size = m.poolSize as number;
            added += m.added as number;
            removed += m.retired as number;
            expect(totalsOf(stream)).toMatchObject({ added, retired: removed });
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('its state survives save and load: the same draws, metrics and later evolution', async () => {
    const run = async (stream: TaskStream, from: number, to: number) => {
      for (let s = from; s < to; s++) {
        const drawn = stream.draw(3, Rng.seeded(5).split(`${s}`));
        stream.observe?.(
          drawn.map((task, k) => group(task, [k === 0, s % 2 === 0])),
          s,
        );
        await stream.propose?.(writer([`${s + 3}*2`, `${s + 9}+5`], s));
      }
    };
    const straight = open({ size: 5, patience: 1, write: 2 });
    await run(straight, 1, 9);
    const first = open({ size: 5, patience: 1, write: 2 });
    await run(first, 1, 5);
    const resumed = open({ size: 5, patience: 1, write: 2 });
    resumed.load?.(JSON.parse(JSON.stringify(first.save?.())));
    await run(resumed, 5, 9);
    expect(resumed.save?.()).toEqual(straight.save?.());
    expect(resumed.metrics?.()).toEqual(straight.metrics?.());
    expect(totalsOf(straight)?.added).toBeGreaterThan(0);
    expect(resumed.draw(50, Rng.seeded(9))).toEqual(straight.draw(50, Rng.seeded(9)));
  });

  it('refuses bad options, naming the value', () => {
    expect(() => evolvingPool({ size: 0 })).toThrow(/size.*>= 1, got 0/);
    expect(() => evolvingPool({ mastery: 0 })).toThrow(/mastery.*\(0, 1\], got 0/);
    expect(() => evolvingPool({ write: -1 })).toThrow(/write.*>= 0, got -1/);
  });
});
