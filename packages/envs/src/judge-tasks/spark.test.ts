import { Rng, type TaskFeedback } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CountdownTask, countdown } from '../countdown/countdown.js';
import { gridnav } from '../gridnav/gridnav.js';
import { JUDGE_COMPONENT } from './judge-tasks.js';
import {
  isSparkTask,
  openSparkTasks,
  SPARK_ROUTING,
  type SparkItem,
  type SparkTask,
  sparkItems,
  sparkSelfJudge,
  sparkWords,
  warmStartItems,
  withSparkTasks,
} from './spark.js';

const base = countdown();
const env = withSparkTasks(base);
const train = base.tasks('train', { seed: 1, count: 40 });

/** A group of one-turn rollouts whose actions are numbered, so each answer names its rollout. */
function group(taskId: string, successes: readonly boolean[]): TaskFeedback {
  return {
    taskId,
    task: { taskId },
    rewards: successes.map((s) => (s ? 1 : 0)),
    successes,
    turns: successes.map((_, i) => [{ observation: `use 1 2 make ${taskId.length}`, action: `${i}+${i}` }]),
  };
}
const rolloutOf = (answer: string) => Number(answer.split('+')[0]);

describe('SPARK routing (sparkItems)', () => {
  it('property: every auxiliary label equals the verifier bit of the rollout it shows; all-equal groups never give pairwise items; reflection only from groups with a failure', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 1, max: 10_000 }),
        (outcomes, step) => {
          const feedback = outcomes.map((successes, g) => group(`task${g}`, successes));
          const { judge, reflection } = sparkItems(feedback, step);
          const groupOf = (item: SparkItem) => Number(item.origin.split('/')[1]);
          for (const item of judge) {
            const successes = outcomes[groupOf(item)] as boolean[];
            if (item.kind === 'pointwise') {
              expect(item.label).toBe(successes[item.rollout]);
              expect(rolloutOf(item.answer)).toBe(item.rollout);
            } else if (item.kind === 'pairwise') {
              expect(successes[item.positive]).toBe(true);
              expect(successes[item.negative]).toBe(false);
              expect(rolloutOf(item.answers[item.label])).toBe(item.positive);
              expect(rolloutOf(item.answers[1 - item.label] as string)).toBe(item.negative);
              expect(new Set(successes).size).toBe(2); // never from an all-equal group
            } else throw new Error('a reflection item among judge items');
            if (successes.every(Boolean) && item.kind === 'pointwise') expect(item.rollout).toBe(0);
          }
          // One judge item per group, one reflection item per group with a failure.
          expect(judge.map(groupOf)).toEqual(outcomes.map((_, g) => g));
          expect(reflection.map(groupOf)).toEqual(outcomes.flatMap((s, g) => (s.includes(false) ? [g] : [])));
          for (const item of reflection) {
            if (item.kind !== 'reflection') throw new Error('a judge item among reflection items');
            expect(outcomes[groupOf(item)]?.[item.rollout]).toBe(false);
            expect(rolloutOf(item.answer)).toBe(item.rollout);
          }
          expect(sparkItems(feedback, step)).toEqual({ judge, reflection }); // deterministic per (step, group)
        },
      ),
      { numRuns: 300 },
    );
  });

  it('group [1,1,0,0,0,0,0,0] gives one pointwise item or one pairwise item with positive in {0,1} and negative in {2..7}; pairwise about 70% of the time (SPARK: pointwise with probability 0.3)', () => {
    const outcome = [true, true, false, false, false, false, false, false];
    let pairwise = 0;
    const steps = 2000;
    for (let step = 1; step <= steps; step++) {
      const { judge } = sparkItems([group('t', outcome)], step);
      expect(judge).toHaveLength(1);
      const item = judge[0] as SparkItem;
      if (item.kind === 'pairwise') {
        pairwise += 1;
        expect([0, 1]).toContain(item.positive);
        expect(item.negative).toBeGreaterThanOrEqual(2);
        expect(item.negative).toBeLessThanOrEqual(7);
      } else expect(item.kind).toBe('pointwise');
    }
    // Binomial(2000, 0.7): sd 20.5; 0.7 +- 4 sd.
    expect(pairwise).toBeGreaterThan(1400 - 82);
    expect(pairwise).toBeLessThan(1400 + 82);
  });

  it('caps a step at 32 judge and 32 reflection items, a seeded sample; auxiliary groups and multi-turn groups give none', () => {
    const many = Array.from({ length: 50 }, (_, g) => group(`task${g}`, [true, false, false, true]));
    const { judge, reflection } = sparkItems(many, 3);
    expect(judge).toHaveLength(SPARK_ROUTING.judgeCap);
    expect(reflection).toHaveLength(SPARK_ROUTING.reflectionCap);
    const aux: TaskFeedback = { ...group('a', [true, false]), task: { spark: judge[0] } };
    const twoTurns: TaskFeedback = {
      ...group('b', [true, false]),
      turns: [
        [
          { observation: 'x', action: '1' },
          { observation: 'y', action: '2' },
        ],
        [{ observation: 'x', action: '3' }],
      ],
    };
    expect(sparkItems([aux, twoTurns], 1)).toEqual({ judge: [], reflection: [] });
  });
});

describe('withSparkTasks(env)', () => {
  const [task] = train as [CountdownTask];
  const observation = `use ${task.numbers.join(' ')} make ${task.target}`;
  const wrong = `${task.numbers[0]}`;
  const items: SparkItem[] = [
    { kind: 'pointwise', observation, answer: task.solution, label: true, origin: 'p', rollout: 0 },
    { kind: 'pointwise', observation, answer: wrong, label: false, origin: 'q', rollout: 1 },
    { kind: 'pairwise', observation, answers: [wrong, task.solution], label: 1, origin: 'r', positive: 0, negative: 1 },
    { kind: 'reflection', observation, answer: wrong, task, origin: 's', rollout: 1 },
  ];

  it('words in countdown’s alphabet: ask 1/0, see 1/2, make', () => {
    expect(sparkWords(base.alphabet?.())).toMatchObject({
      yes: '1',
      no: '0',
      marker: ' ask',
      first: '1',
      second: '2',
      pairMarker: ' see',
      reflectMarker: ' make',
    });
  });

  it('plays each kind: reward 1 in `judge` (every other component 0) exactly for the expected answer; the expert answers each right', () => {
    const play = (item: SparkItem, action: string) => {
      const episode = env.start({ spark: item } as SparkTask, Rng.seeded(1));
      const shown = episode.observation();
      const step = episode.step(action);
      expect(step.done).toBe(true);
      expect(step.reward).toMatchObject({ correct: 0, format: 0 });
      expect(episode.outcome().success).toBe(step.reward[JUDGE_COMPONENT] === 1);
      return { shown, reward: step.reward[JUDGE_COMPONENT] };
    };
    expect(play(items[0] as SparkItem, '1')).toEqual({ shown: `${observation} ${task.solution} ask`, reward: 1 });
    expect(play(items[0] as SparkItem, '0').reward).toBe(0);
    expect(play(items[1] as SparkItem, '0').reward).toBe(1);
    expect(play(items[2] as SparkItem, '2')).toEqual({ shown: `${observation} ${wrong} ${task.solution} see`, reward: 1 });
    expect(play(items[2] as SparkItem, '1').reward).toBe(0);
    // Reflection: the verifier decides (any correct equation), not a string match.
    expect(play(items[3] as SparkItem, task.solution)).toEqual({ shown: `${observation} ${wrong} make`, reward: 1 });
    const [a, b] = task.numbers as [number, number];
    if (task.solution === `${a}+${b}`) expect(play(items[3] as SparkItem, `${b}+${a}`).reward).toBe(1);
    expect(play(items[3] as SparkItem, wrong).reward).toBe(0);
    for (const item of items) {
      const [expected] = env.demonstrate?.({ spark: item } as SparkTask) ?? [];
      expect(play(item, expected as string).reward).toBe(1);
    }
  });

  it('keeps the environment’s splits and tasks (judge 0 on them); refuses multi-turn environments naming what is missing', () => {
    expect(env.tasks('test', { seed: 0 })).toEqual(base.tasks('test', { seed: 0 }));
    const episode = env.start(task, Rng.seeded(1));
    episode.step(task.solution);
    expect(episode.outcome()).toEqual({ success: true, reward: { correct: 1, format: 1, [JUDGE_COMPONENT]: 0 } });
    expect(isSparkTask(task)).toBe(false);
    expect(() => withSparkTasks(gridnav())).toThrow(
      /spark-self-judge needs a single-turn environment.*'gridnav' lacks single-turn/,
    );
  });
});

describe('the warm start’s judge items', () => {
  it('every label is the verifier’s: the expert’s answer right, its corruption wrong; the four kinds in turn', () => {
    const items = warmStartItems(env, train, Rng.seeded(4));
    expect(items).toHaveLength(train.length);
    const verify = (k: number, answer: string) => {
      const episode = base.start(train[k] as CountdownTask, Rng.seeded(0));
      episode.step(answer);
      return episode.outcome().success;
    };
    items.forEach((item, k) => {
      if (item.kind === 'pointwise') expect(verify(k, item.answer)).toBe(item.label);
      else if (item.kind === 'pairwise') {
        expect(verify(k, item.answers[item.label])).toBe(true);
        expect(verify(k, item.answers[1 - item.label] as string)).toBe(false);
      } else {
        expect(verify(k, item.answer)).toBe(false);
        expect(verify(k, env.demonstrate?.({ spark: item } as SparkTask)[0] as string)).toBe(true);
      }
    });
    const kinds = items.map((i) => (i.kind === 'pointwise' ? `pointwise/${i.label}` : i.kind));
    for (const kind of ['pointwise/true', 'pointwise/false', 'pairwise', 'reflection'])
      expect(kinds.filter((k) => k === kind).length).toBeGreaterThanOrEqual(train.length / 4 - 2);
    const source = sparkSelfJudge();
    const warm = source.warmStart?.(env, train, Rng.seeded(4));
    expect(warm?.tasks).toEqual(items.map((spark) => ({ spark })));
    expect(sparkSelfJudge({ warmStart: false }).warmStart).toBeUndefined();
  });
});

describe('the warm start with coin verdicts (the judge format only)', () => {
  it('shows the same items as the verifier’s warm start, but its verdicts are a fair coin: about half disagree with the verifier, on right and on wrong answers alike', () => {
    const many = base.tasks('train', { seed: 1, count: 400 });
    const truthful = warmStartItems(env, many, Rng.seeded(4));
    const coin = warmStartItems(env, many, Rng.seeded(4), 'coin');
    const strip = (item: SparkItem) => ({ ...item, label: undefined });
    expect(coin.map(strip)).toEqual(truthful.map(strip));
    const judged = coin.flatMap((item, k) => (item.kind === 'reflection' ? [] : [{ item, truth: truthful[k] as SparkItem }]));
    const disagree = judged.filter(({ item, truth }) => item.label !== (truth as typeof item).label);
    // A fair coin: within 4 standard deviations of half.
    const n = judged.length;
    expect(n).toBeGreaterThan(100);
    expect(Math.abs(disagree.length - n / 2)).toBeLessThan(4 * Math.sqrt(n / 4));
    // Right answers are called wrong and wrong answers right.
    const said = (answerRight: boolean, verdict: boolean) =>
      judged.some(
        ({ item, truth }) =>
          item.kind === 'pointwise' && truth.kind === 'pointwise' && truth.label === answerRight && item.label === verdict,
      );
    for (const right of [true, false]) for (const verdict of [true, false]) expect(said(right, verdict)).toBe(true);
    // A different warm start: its own SFT cache key.
    const keyOf = (verdicts: 'verifier' | 'coin') =>
      sparkSelfJudge({ warmVerdicts: verdicts }).warmStart?.(env, train, Rng.seeded(4)).key;
    expect(keyOf('coin')).not.toBe(keyOf('verifier'));
    expect(() => sparkSelfJudge({ warmVerdicts: 'maybe' as 'coin' })).toThrow(
      /option 'warmVerdicts' must be one of verifier, coin, got "maybe"/,
    );
  });
});

describe('the spark-self-judge stream', () => {
  it('takes a share of each draw from the waiting items, judge and reflection in turn, each once; keeps them in checkpoints', () => {
    const stream = openSparkTasks(
      { draw: (count) => Array.from({ length: count }, (_, i) => train[i]) },
      { share: 0.5, capacity: 64, ...SPARK_ROUTING },
    );
    expect(stream.draw(4, Rng.seeded(1)).some(isSparkTask)).toBe(false);
    const feedback = train.slice(0, 6).map((task, g) => ({ ...group(base.taskId(task), [g % 2 === 0, false, true]), task }));
    stream.observe?.(feedback, 1);
    const built = sparkItems(feedback, 1);
    expect(stream.metrics?.()).toMatchObject({ sparkQueued: built.judge.length + built.reflection.length });
    const copy = openSparkTasks({ draw: () => [] }, { share: 0.5, capacity: 64, ...SPARK_ROUTING });
    copy.load?.(JSON.parse(JSON.stringify(stream.save?.())));
    const drawn = stream.draw(8, Rng.seeded(2)).filter(isSparkTask);
    expect(drawn.map((t) => t.spark.kind === 'reflection')).toEqual([false, true, false, true]);
    expect(drawn.map((t) => t.spark)).toEqual([
      built.judge.at(-1),
      built.reflection.at(-1),
      built.judge.at(-2),
      built.reflection.at(-2),
    ]);
    expect(copy.draw(8, Rng.seeded(2)).filter(isSparkTask)).toEqual(drawn);
    // The auxiliary groups' verdicts are counted per kind.
    stream.observe?.([{ taskId: 'x', task: drawn[0], rewards: [1, 0], successes: [true, false], turns: [[], []] }], 2);
    expect(stream.metrics?.()).toMatchObject({ pointwiseRollouts: drawn[0]?.spark.kind === 'pointwise' ? 2 : 0 });
  });

  it('refuses bad options', () => {
    expect(() => sparkSelfJudge({ share: 1 })).toThrow(/share.*\[0, 1\), got 1/);
    expect(() => sparkSelfJudge({ judgeCap: 0 })).toThrow(/judgeCap.*>= 1/);
    expect(() => sparkSelfJudge({ pointwiseShare: 2 })).toThrow(/pointwiseShare/);
  });
});
