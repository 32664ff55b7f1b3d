import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ANIMALS, segmentText, syntheticCorpus } from './corpus.js';
import { tokenF1 } from './match.js';
import { type NextSegmentTask, nextSegment } from './next-segment.js';

function answer(env: ReturnType<typeof nextSegment>, task: NextSegmentTask, action: string) {
  const episode = env.start(task, Rng.seeded(0));
  const step = episode.step(action);
  return { step, outcome: episode.outcome() };
}

describe('token F1 (the segment matcher)', () => {
  it("scores the RLPT notes' example and SQuAD's edge cases", () => {
    expect(tokenF1('the cat sat on the mat', 'a cat sat on a mat')).toBeCloseTo(2 / 3, 10);
    expect(tokenF1('The Fox, eats MICE!', 'the fox eats mice.')).toBe(1);
    expect(tokenF1('', 'the fox eats mice.')).toBe(0);
    expect(tokenF1('the the the', 'the fox')).toBeCloseTo((2 * (1 / 3) * (1 / 2)) / (1 / 3 + 1 / 2), 10); // counts clip
  });

  it('is symmetric and in [0, 1] (fast-check)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), fc.string({ maxLength: 60 }), (a, b) => {
        const f = tokenF1(a, b);
        expect(f).toBeGreaterThanOrEqual(0);
        expect(f).toBeLessThanOrEqual(1);
        expect(tokenF1(b, a)).toBeCloseTo(f, 12);
      }),
    );
  });
});

describe('the corpus', () => {
  it('writes documents of an opening, five facts and a closing, with the same world knowledge in every document', () => {
    const corpus = syntheticCorpus(300, 0);
    expect(syntheticCorpus(300, 0)).toEqual(corpus);
    for (const document of corpus) {
      expect(document).toHaveLength(7);
      const animal = ANIMALS.find((a) => document[0] === `this is about the ${a.name}.`);
      expect(animal).toBeDefined();
      expect(document).toContain(`the ${animal?.name} lives in the ${animal?.home}.`);
      expect(document).toContain(`the ${animal?.name} says ${animal?.sound}.`);
      expect(document[6]).toBe(`that is all about the ${animal?.name}.`);
    }
    // the facts come in different orders
    expect(new Set(corpus.map((d) => d[1]?.split(' ')[2])).size).toBe(5);
  });

  it('cuts a text into documents (blank lines) and sentences', () => {
    expect(segmentText('One. Two?  Three!\nstill three.\n\n  \nNew doc. No end')).toEqual([
      ['One.', 'Two?', 'Three!', 'still three.'],
      ['New doc.', 'No end'],
    ]);
    expect(segmentText('3.14 is pi. e.g.it stays')).toEqual([['3.14 is pi.', 'e.g.it stays']]);
    expect(segmentText('')).toEqual([]);
  });
});

describe('next-segment environment', () => {
  const env = nextSegment();

  it('lets the expert succeed on every test task; a random policy and a template guess mostly fail', () => {
    const test = env.tasks('test', { seed: 0 });
    expect(test.length).toBeGreaterThanOrEqual(200);
    const rng = Rng.seeded(4);
    const alphabet = [...(env.alphabet?.() ?? '')];
    let random = 0;
    let guess = 0;
    for (const task of test) {
      const expert = answer(env, task, env.demonstrate?.(task)[0] ?? '');
      expect(expert.outcome).toMatchObject({ success: true, reward: { match: 1, f1: 1 } });
      expect(expert.outcome.reward.chrf).toBeCloseTo(1, 10);
      const noise = Array.from({ length: rng.int(5, 30) }, () => rng.pick(alphabet)).join('');
      if (answer(env, task, noise).outcome.success) random++;
      // the right animal in the wrong kind of sentence: the matcher's threshold rejects it
      const animal = task.prefix.split(' ')[3]?.replace('.', '');
      if (answer(env, task, `the ${animal} is ${rng.pick(['red', 'grey'])}.`).outcome.success) guess++;
    }
    expect(random).toBe(0);
    expect(guess / test.length).toBeLessThan(0.2);
  });

  it('scores by token F1 against the threshold, chrF logged; an over-long action is invalid', () => {
    const task = { prefix: 'this is about the fox.', segment: 'the fox plays with the owl.' };
    expect(answer(env, task, 'the fox plays with the cat.').outcome).toMatchObject({
      success: true, // F1 5/6: a lexical matcher forgives one wrong word of six
      reward: { match: 1 },
    });
    const wrong = answer(env, task, 'the fox eats mice.');
    expect(wrong.outcome.success).toBe(false);
    expect(wrong.outcome.reward.f1).toBeCloseTo(0.4, 10);
    expect(wrong.step).toMatchObject({ done: true, valid: true });
    expect(answer(env, task, 'x'.repeat(5000)).step).toMatchObject({ valid: false, reward: { match: 0, f1: 0, chrf: 0 } });
    expect(answer(nextSegment({ threshold: 0.9 }), task, 'the fox plays with the cat.').outcome.success).toBe(false);
  });

  it('gives the same tasks for the same seed, disjoint splits, text inside its alphabet and sizes', () => {
    const train = env.tasks('train', { seed: 1, count: 3000 });
    expect(env.tasks('train', { seed: 1, count: 3000 })).toEqual(train);
    expect(env.tasks('train', { seed: 2, count: 3000 })).not.toEqual(train);
    const test = env.tasks('test', { seed: 0 });
    const trainIds = new Set(env.tasks('train', { seed: 1 }).map(env.taskId));
    for (const task of test) expect(trainIds.has(env.taskId(task))).toBe(false);
    const alphabet = new Set(env.alphabet?.());
    const all = [...train, ...test];
    expect([...new Set(all.flatMap((t) => [...(t.prefix + t.segment)]))].filter((ch) => !alphabet.has(ch))).toEqual([]);
    expect(Math.max(...all.map((t) => t.segment.length))).toBeLessThan(env.recommended?.maxNewTokens ?? 0);
    expect(Math.max(...all.map((t) => t.prefix.length + t.segment.length))).toBeLessThan(env.recommended?.contextLength ?? 0);
  });

  it('reads your own text from a file or a folder with corpus.txt, and names what is wrong with it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'next-segment-'));
    const text = Array.from({ length: 30 }, (_, i) => `Line ${i} starts here. It goes on ${i} times. Then it ends.`).join('\n\n');
    writeFileSync(join(dir, 'corpus.txt'), text);
    for (const data of [dir, join(dir, 'corpus.txt')]) {
      const mine = nextSegment({ data });
      const tasks = [...mine.tasks('train', { seed: 1 }), ...mine.tasks('test', { seed: 1 })];
      expect(tasks).toHaveLength(60);
      expect(tasks.every((t) => text.includes(`${t.prefix} ${t.segment}`))).toBe(true);
      const task = tasks[0] as NextSegmentTask;
      expect(answer(mine, task, task.segment).outcome.success).toBe(true);
      for (const ch of task.prefix) expect(mine.alphabet?.()).toContain(ch);
    }
    writeFileSync(join(dir, 'one.txt'), 'Only one. And two.');
    expect(() => nextSegment({ data: join(dir, 'one.txt') })).toThrow(/one\.txt gives \d test and \d training segments/);
    expect(() => nextSegment({ data: join(dir, 'missing.txt') })).toThrow(/cannot read .*missing\.txt \(ENOENT\)/);
    expect(() => nextSegment({ threshold: 0 })).toThrow(/'threshold' must be in \(0, 1\], got 0/);
  });
});

describe("next-segment's middle-segment task (RLPT's MSR)", () => {
  const plain = nextSegment();
  const middle = nextSegment({ task: 'middle' });
  const both = nextSegment({ task: 'both' });
  const pairKey = (t: NextSegmentTask) => `${t.prefix}\n${t.segment}`;

  it('shows the segments before the gap, the gap mark and the segment after it; the expert fills every test gap', () => {
    const test = middle.tasks('test', { seed: 0 });
    expect(test.length).toBeGreaterThanOrEqual(200);
    for (const task of test) {
      expect(task.suffix).toBeDefined();
      const episode = middle.start(task, Rng.seeded(0));
      expect(episode.observation()).toBe(`${task.prefix} | ${task.suffix}`);
      expect(answer(middle, task, middle.demonstrate?.(task)[0] ?? '').outcome.success).toBe(true);
      // the segment after the gap is not the answer
      expect(answer(middle, task, task.suffix ?? '').outcome.reward.match).toBe(task.suffix === task.segment ? 1 : 0);
    }
  });

  it('leaves the next-segment task as it was: same tasks, same alphabet without the gap mark', () => {
    expect(plain.alphabet?.()).not.toContain('|');
    expect(middle.alphabet?.()).toContain('|');
    expect(plain.tasks('test', { seed: 3, count: 50 }).every((t) => t.suffix === undefined)).toBe(true);
    const both = nextSegment({ task: 'both' });
    const nextOnly = both.tasks('train', { seed: 1, count: 100_000 }).filter((t) => t.suffix === undefined);
    expect(new Set(nextOnly.map(plain.taskId))).toEqual(
      new Set(plain.tasks('train', { seed: 1, count: 100_000 }).map(plain.taskId)),
    );
  });

  it('poses both kinds with "both", and never trains on a test answer after its prefix, whatever the kind', () => {
    const train = both.tasks('train', { seed: 1, count: 100_000 });
    const test = both.tasks('test', { seed: 1, count: 100_000 });
    const middleShare = train.filter((t) => t.suffix !== undefined).length / train.length;
    expect(middleShare).toBeGreaterThan(0.3);
    expect(middleShare).toBeLessThan(0.7);
    const testPairs = new Set(test.map(pairKey));
    expect(train.filter((t) => testPairs.has(pairKey(t)))).toEqual([]);
    const trainIds = new Set(train.map(both.taskId));
    expect(test.filter((t) => trainIds.has(both.taskId(t)))).toEqual([]);
    const alphabet = new Set(both.alphabet?.());
    const longest = Math.max(...[...train, ...test].map((t) => `${t.prefix} | ${t.suffix ?? ''}`.length + t.segment.length));
    expect(longest).toBeLessThan(both.recommended?.contextLength ?? 0);
    for (const t of test.slice(0, 300))
      for (const ch of `${t.prefix} | ${t.suffix ?? ''}${t.segment}`) expect(alphabet.has(ch)).toBe(true);
  });

  it('never throws on arbitrary actions and scores them in [0, 1] (fast-check)', () => {
    const tasks = middle.tasks('train', { seed: 2, count: 20 });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: tasks.length - 1 }), fc.string({ maxLength: 80 }), (i, action) => {
        const { outcome } = answer(middle, tasks[i] as NextSegmentTask, action);
        expect(outcome.reward.f1).toBeGreaterThanOrEqual(0);
        expect(outcome.reward.f1).toBeLessThanOrEqual(1);
        expect(outcome.success).toBe(outcome.reward.match === 1);
      }),
    );
  });

  it('refuses an unknown task kind by name', () => {
    expect(() => nextSegment({ task: 'last' as never })).toThrow(/'task' must be one of next, middle, both, got "last"/);
  });
});
