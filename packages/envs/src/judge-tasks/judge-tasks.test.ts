import { Rng, type TaskFeedback, weightedSum } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CountdownTask, countdown } from '../countdown/countdown.js';
import { gridnav } from '../gridnav/gridnav.js';
import {
  isJudgeTask,
  JUDGE_COMPONENT,
  type JudgeTask,
  judgeItems,
  judgeTasks,
  judgeWords,
  openJudgeTasks,
  transcriptOf,
  withJudgeTasks,
} from './judge-tasks.js';

const base = countdown();
const env = withJudgeTasks(base);
const train = base.tasks('train', { seed: 1, count: 20 });

/** A group of one-turn rollouts whose actions are numbered, so each transcript names its rollout. */
function group(taskId: string, successes: readonly boolean[]): TaskFeedback {
  return {
    taskId,
    task: taskId,
    rewards: successes.map((s) => (s ? 1 : 0)),
    successes,
    turns: successes.map((_, i) => [{ observation: `use 1 2 make ${taskId.length}`, action: `${i}+${i}` }]),
  };
}

describe('judge items from a step’s rollouts', () => {
  it('property: every label is the success of the rollout whose transcript it shows; routing as SPARK (one item for a uniform group, one right and one wrong for a mixed one)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 1000 }),
        (outcomes, step) => {
          const feedback = outcomes.map((successes, g) => group(`task${g}`, successes));
          const items = judgeItems(feedback, step);
          let k = 0;
          for (const [g, successes] of outcomes.entries()) {
            const mixed = successes.some(Boolean) && successes.some((s) => !s);
            const mine = items.slice(k, k + (mixed ? 2 : 1));
            k += mine.length;
            for (const item of mine) {
              const index = (feedback[g]?.turns ?? []).findIndex((turns) => transcriptOf(turns) === item.transcript);
              expect(index).toBeGreaterThanOrEqual(0);
              expect(item.label).toBe(successes[index]);
              expect(item.origin).toBe(`${step}/${g}/task${g}/${index}`);
            }
            if (mixed) expect(mine.map((i) => i.label)).toEqual([true, false]);
            else expect(mine[0]?.label).toBe(successes[0]);
          }
          expect(items).toHaveLength(k);
          expect(judgeItems(feedback, step)).toEqual(items); // deterministic per (step, group)
        },
      ),
      { numRuns: 200 },
    );
  });

  it('none from judge tasks’ own groups, nor from groups without their text', () => {
    const judged: TaskFeedback = {
      ...group('t', [true, false]),
      task: { judgeTask: { transcript: 'x', label: true, origin: 'o' } },
    };
    const { turns: _, ...textless } = group('u', [true]);
    expect(judgeItems([judged, textless], 1)).toEqual([]);
  });
});

describe('withJudgeTasks(env)', () => {
  it('writes its marker and verdicts in the environment’s alphabet (countdown: "1"/"0" after " ask"), and refuses words outside it', () => {
    expect(judgeWords(base.alphabet?.())).toEqual({ yes: '1', no: '0', marker: ' ask' });
    expect(judgeWords('abcdefghijklmnopqrstuvwxyz ?')).toEqual({ yes: 'yes', no: 'no', marker: ' ?' });
    expect(() => withJudgeTasks(base, { yes: 'yes' })).toThrow(/option 'yes' "yes" is not written in the environment's alphabet/);
    expect(() => withJudgeTasks(base, { yes: '1', no: '1' })).toThrow(/yes and no must differ/);
    const alphabet = base.alphabet?.() ?? '';
    const item = judgeItems([group('abc', [true, false])], 1)[0];
    const shown = env.start({ judgeTask: item } as JudgeTask, Rng.seeded(1)).observation();
    expect([...shown].every((c) => alphabet.includes(c))).toBe(true);
  });

  it('plays a judge task: reward 1 in `judge` (every other component 0) exactly when the verdict matches the label', () => {
    for (const label of [true, false]) {
      const task: JudgeTask = { judgeTask: { transcript: 'use 3 5 make 8 3+5', label, origin: '1/0/t/0' } };
      for (const [answer, right] of [
        ['1', label],
        ['0', !label],
        ['3+5', false],
      ] as const) {
        const episode = env.start(task, Rng.seeded(1));
        expect(episode.observation()).toBe('use 3 5 make 8 3+5 ask');
        const step = episode.step(answer);
        expect(step.done).toBe(true);
        expect(step.valid).toBe(answer !== '3+5');
        expect(step.reward).toEqual({ correct: 0, format: 0, [JUDGE_COMPONENT]: right ? 1 : 0 });
        expect(episode.outcome().success).toBe(right);
      }
    }
  });

  it('plays the environment’s own tasks as before (judge 0), with the same splits: a judge task is never a test task', () => {
    expect(env.name).toBe('countdown');
    expect(env.rewardComponents.map((c) => c.name)).toEqual(['correct', 'format', JUDGE_COMPONENT]);
    expect(env.tasks('test', { seed: 0 })).toEqual(base.tasks('test', { seed: 0 }));
    expect(env.tasks('train', { seed: 4, count: 50 })).toEqual(base.tasks('train', { seed: 4, count: 50 }));
    expect(env.tasks('test', { seed: 0 }).some(isJudgeTask)).toBe(false);
    for (const task of train) {
      const [answer] = base.demonstrate?.(task) ?? [];
      const mine = env.start(task, Rng.seeded(1));
      const theirs = base.start(task, Rng.seeded(1));
      expect(mine.observation()).toBe(theirs.observation());
      expect(mine.step(answer as string).reward).toEqual({ ...theirs.step(answer as string).reward, [JUDGE_COMPONENT]: 0 });
      expect(mine.outcome()).toEqual({ ...theirs.outcome(), reward: { ...theirs.outcome().reward, [JUDGE_COMPONENT]: 0 } });
      expect(env.taskId(task)).toBe(base.taskId(task as CountdownTask));
    }
    // Multi-turn environments keep their snapshots.
    const grid = withJudgeTasks(gridnav());
    const [task] = grid.tasks('train', { seed: 1, count: 1 });
    const episode = grid.start(task, Rng.seeded(1));
    expect(typeof episode.snapshot).toBe('function');
    // The reward's scalar is unchanged on the environment's own tasks.
    const reward = env.start(train[0] as CountdownTask, Rng.seeded(1)).outcome().reward;
    expect(weightedSum(reward, { correct: 1, format: 0.1, judge: 1 })).toBe(weightedSum(reward, { correct: 1, format: 0.1 }));
  });
});

describe('judge-tasks task source', () => {
  it('mixes queued judge items into later draws at the expected share, each item once, the newest first', () => {
    const stream = openJudgeTasks(
      { draw: (count) => Array.from({ length: count }, (_, i) => train[i]) },
      { share: 0.5, capacity: 100 },
    );
    expect(stream.draw(4, Rng.seeded(1)).some(isJudgeTask)).toBe(false); // nothing queued yet
    const feedback = train.slice(0, 6).map((task, g) => ({ ...group(base.taskId(task), [g % 2 === 0, g % 3 === 0]), task }));
    stream.observe?.(feedback, 1);
    const built = judgeItems(feedback, 1);
    expect(stream.metrics?.()).toMatchObject({ judgeBuilt: built.length, judgeQueued: built.length });
    const drawn = stream.draw(4, Rng.seeded(2));
    const judged = drawn.filter(isJudgeTask);
    expect(judged).toHaveLength(2);
    expect(judged.map((t) => t.judgeTask)).toEqual(built.slice(-2));
    expect(stream.metrics?.()).toMatchObject({ judgeQueued: built.length - 2 });
    // Over many draws of 3 the share is 0.5 on average (stochastic rounding, seeded).
    const counts = Array.from({ length: 400 }, (_, i) => {
      const s = openJudgeTasks({ draw: (count) => Array.from({ length: count }, () => train[0]) }, { share: 0.5, capacity: 100 });
      s.observe?.(feedback, 1);
      return s.draw(3, Rng.seeded(i)).filter(isJudgeTask).length;
    });
    const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
    expect(mean).toBeGreaterThan(1.35);
    expect(mean).toBeLessThan(1.65);
  });

  it('gives the base stream only the environment’s own groups, and counts the judge groups’ verdicts', () => {
    const seen: TaskFeedback[] = [];
    const stream = openJudgeTasks({ draw: () => [], observe: (f) => seen.push(...f) }, { share: 0.5, capacity: 3 });
    const judgeGroup: TaskFeedback = {
      taskId: 'judge/x',
      task: { judgeTask: { transcript: 'use 1 2 make 3 1+2', label: true, origin: 'x' } },
      rewards: [1, 0, 1],
      successes: [true, false, true],
    };
    const own = [group('a', [true, true]), group('bb', [false, true]), group('ccc', [false])];
    stream.observe?.([judgeGroup, ...own], 3);
    expect(seen).toEqual(own);
    expect(stream.metrics?.()).toMatchObject({
      judgeGroups: 1,
      judgeRollouts: 3,
      judgeCorrect: 2,
      judgeBuilt: 4,
      judgeQueued: 3,
    });
  });

  it('keeps its queue and its base stream’s state in checkpoints', () => {
    const source = judgeTasks({ base: 'evolving-pool', baseOptions: { size: 4, patience: 1, write: 0 } });
    const a = source.open(train, { taskId: (t) => env.taskId(t as CountdownTask) });
    const b = source.open(train, { taskId: (t) => env.taskId(t as CountdownTask) });
    const feedback = train.slice(0, 3).map((task) => ({ ...group(base.taskId(task), [false, false]), task }));
    a.observe?.(feedback, 1);
    b.load?.(JSON.parse(JSON.stringify(a.save?.())));
    expect(b.metrics?.()).toMatchObject({ judgeQueued: 3, poolSize: 4, trainTasksUsed: 7 });
    expect(b.draw(8, Rng.seeded(3))).toEqual(a.draw(8, Rng.seeded(3)));
    // Its environment is the wrapper.
    expect(source.environment?.(base).rewardComponents.map((c) => c.name)).toContain(JUDGE_COMPONENT);
  });

  it('refuses bad options', () => {
    expect(() => judgeTasks({ share: 1 })).toThrow(/share.*\[0, 1\), got 1/);
    expect(() => judgeTasks({ baseOptions: { size: 3 } })).toThrow(/baseOptions/);
    expect(() => judgeTasks({ base: 'evolving-pool', baseOptions: { size: 0 } })).toThrow(/size/);
  });
});
