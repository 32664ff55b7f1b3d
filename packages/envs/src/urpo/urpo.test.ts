import { type EstimatorContext, Rng, type Rollout, UsageError } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CountdownTask, countdown } from '../countdown/countdown.js';
import { gridnav } from '../gridnav/gridnav.js';
import {
  bordaPoints,
  countdownCandidates,
  parseRanking,
  rankingAgreement,
  rankMarker,
  rankPrompt,
  shownCandidate,
} from './ranking.js';
import { selfReferee, selfScores } from './self-referee.js';
import {
  isOpenTask,
  isRankTask,
  OPEN_TRUTH_COMPONENT,
  permuted,
  RANK_COMPONENT,
  type RankTask,
  urpoMix,
  withUrpoTasks,
} from './urpo.js';

const env = countdown();
const trainTasks = env.tasks('train', { seed: 1, count: 64 }) as CountdownTask[];
const permutation = (n: number) => fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n });

describe('ranking reward', () => {
  it('is 1 for the true order, 0 for its reverse, and in [0, 1] for any order (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 7 }).chain((n) => fc.tuple(permutation(n), permutation(n))),
        ([truth, predicted]) => {
          expect(rankingAgreement(truth, truth)).toBe(1);
          expect(rankingAgreement(truth, [...truth].reverse())).toBe(0);
          const a = rankingAgreement(truth, predicted);
          expect(a).toBeGreaterThanOrEqual(0);
          expect(a).toBeLessThanOrEqual(1);
        },
      ),
    );
  });

  it('worked example: truth 0>1>2 against the prediction 2>0>1 gives 1/3', () => {
    expect(rankingAgreement([0, 1, 2], [2, 0, 1])).toBeCloseTo(1 / 3, 12);
  });

  it('reads the referee’s answer as a permutation of the positions, or refuses it', () => {
    expect(parseRanking(' 201', 3)).toEqual([2, 0, 1]);
    for (const bad of ['', '01', '011', '0123', '03', 'a01', '98-30']) expect(parseRanking(bad, 3)).toBeUndefined();
    expect(bordaPoints([2, 0, 1])).toEqual([0.5, 0, 1]);
  });
});

describe('countdown preference data', () => {
  it('ranks the expert equation and its corruptions by the environment’s checks: the correct one first whenever shown (fast-check)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: trainTasks.length - 1 }), fc.integer({ min: 2, max: 3 }), fc.nat(), (k, n, seed) => {
        const task = trainTasks[k] as CountdownTask;
        const ranked = countdownCandidates(task, Rng.seeded(seed), n);
        if (!ranked) return;
        expect(ranked.texts).toHaveLength(n);
        expect([...ranked.order].sort()).toEqual([...Array(n).keys()]);
        const shownSolution = ranked.texts.findIndex((t) => env.start(task, Rng.seeded(0)).step(t).reward.correct === 1);
        if (shownSolution >= 0) expect(ranked.order[0]).toBe(shownSolution);
      }),
    );
  });
});

describe('withUrpoTasks', () => {
  const wrapped = withUrpoTasks(env);
  it('keeps the test split, adds warm-start ranking items built from training tasks, and writes the referee format in the alphabet', () => {
    expect(wrapped.tasks('test', { seed: 0 })).toEqual(env.tasks('test', { seed: 0 }));
    const train = wrapped.tasks('train', { seed: 1, count: 64 });
    const items = train.filter(isRankTask);
    expect(items.length).toBe(16);
    const statements = new Set(trainTasks.map((t) => env.start(t, Rng.seeded(0)).observation()));
    for (const { rankTask } of items) {
      expect(statements.has(rankTask.statement)).toBe(true);
      const demo = wrapped.demonstrate?.({ rankTask })?.[0] as string;
      expect(parseRanking(demo, rankTask.texts.length)).toBeDefined();
      const prompt = wrapped.start({ rankTask }, Rng.seeded(0)).observation();
      expect([...prompt].every((c) => (env.alphabet?.() ?? '').includes(c))).toBe(true);
    }
  });

  it('a ranking episode earns the agreement; an open-ended episode hides the verifier (truth kept at weight 0)', () => {
    const task = trainTasks[0] as CountdownTask;
    const ranked = countdownCandidates(task, Rng.seeded(3), 3);
    expect(ranked).toBeDefined();
    const rankTask = { rankTask: { ...(ranked as NonNullable<typeof ranked>), statement: 'x', label: [0, 1, 2], origin: 't' } };
    const right = wrapped.start(rankTask, Rng.seeded(0));
    expect(right.step(rankTask.rankTask.order.join('')).reward[RANK_COMPONENT]).toBe(1);
    const reversed = wrapped.start(rankTask, Rng.seeded(0));
    expect(reversed.step([...rankTask.rankTask.order].reverse().join('')).reward[RANK_COMPONENT]).toBe(0);
    const open = wrapped.start({ openTask: task }, Rng.seeded(0));
    const step = open.step(task.solution);
    expect(step.reward.correct).toBe(0);
    expect(step.reward.format).toBe(0);
    expect(step.reward[OPEN_TRUTH_COMPONENT]).toBeCloseTo(1.1, 12);
    expect(wrapped.rewardComponents.find((c) => c.name === OPEN_TRUTH_COMPONENT)?.weight).toBe(0);
    expect(wrapped.taskId({ openTask: task })).toBe(`open/${env.taskId(task)}`);
  });

  it('refuses an environment without a preference-data builder, naming what is missing and what is accepted', () => {
    expect(() => withUrpoTasks(gridnav())).toThrow(UsageError);
    expect(() => withUrpoTasks(gridnav())).toThrow(/no preference-data builder.*accepted: countdown/);
  });
});

describe('per-rollout candidate order', () => {
  it('a permutation keeps the true order of the candidates themselves (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 5 }).chain((n) => fc.tuple(permutation(n), permutation(n))),
        ([order, shuffle]) => {
          const texts = order.map((_, i) => `c${i}`);
          const moved = permuted({ texts, order }, shuffle);
          expect(moved.order.map((i) => moved.texts[i])).toEqual(order.map((i) => texts[i]));
        },
      ),
    );
  });

  const wrapped = withUrpoTasks(env);
  const ranked = countdownCandidates(trainTasks[1] as CountdownTask, Rng.seeded(4), 2) as NonNullable<
    ReturnType<typeof countdownCandidates>
  >;
  const item = { ...ranked, statement: 'use 1 2 make 3', label: ranked.order, origin: 't' };
  /** Eight rollouts of one ranking task, each started with its own random stream, as the trainer starts a group. */
  const group = (task: RankTask, answer: (prompt: string) => string) =>
    Array.from({ length: 8 }, (_, i) => {
      const episode = wrapped.start(task, Rng.seeded(9).split(`env/g/${i}`));
      const prompt = episode.observation();
      return { prompt, reward: episode.step(answer(prompt)).reward[RANK_COMPONENT] as number };
    });

  it('a referee that writes one order whatever it reads: with one order per group its rewards are all equal (no advantage, the collapse); shown per rollout they differ', () => {
    const fixed = group({ rankTask: item }, () => '01');
    expect(new Set(fixed.map((r) => r.prompt)).size).toBe(1);
    expect(new Set(fixed.map((r) => r.reward)).size).toBe(1);
    const reordered = group({ rankTask: { ...item, reorder: true } }, () => '01');
    expect(new Set(reordered.map((r) => r.prompt)).size).toBe(2);
    expect(new Set(reordered.map((r) => r.reward))).toEqual(new Set([0, 1]));
  });

  it('a referee that reads the candidates earns 1 on every rollout in either presentation', () => {
    const truthOf = (prompt: string) => {
      const shown = prompt.split(rankMarker(env.alphabet?.()))[1]?.trim().split(' ') ?? [];
      const best = shown.indexOf(shownCandidate(ranked.texts[ranked.order[0] as number] as string));
      return best === 0 ? '01' : '10';
    };
    for (const reorder of [false, true])
      expect(group({ rankTask: { ...item, reorder } }, truthOf).every((r) => r.reward === 1)).toBe(true);
  });

  it('urpo-mix marks its ranking draws per-rollout by default, never the warm start’s items (their demonstration is one order)', () => {
    const drawnWith = (options: Parameters<typeof urpoMix>[0]) => {
      const source = urpoMix(options);
      source.environment?.(env);
      return source
        .open(trainTasks, { taskId: (t) => env.taskId(t as CountdownTask) })
        .draw(64, Rng.seeded(3))
        .filter(isRankTask);
    };
    expect(drawnWith({}).length).toBeGreaterThan(0);
    expect(drawnWith({}).every((t) => t.rankTask.reorder === true)).toBe(true);
    expect(drawnWith({ rankOrder: 'fixed' }).every((t) => t.rankTask.reorder === undefined)).toBe(true);
    const warm = wrapped.tasks('train', { seed: 1, count: 64 }).filter(isRankTask);
    expect(warm.every((t) => t.rankTask.reorder === undefined)).toBe(true);
  });
});

describe('urpo-mix', () => {
  it('draws the three kinds at its shares (seeded; within 4 standard errors over 4,000 slots)', () => {
    const source = urpoMix({ verifiable: 0.5, ranking: 0.3, open: 0.2 });
    const played = source.environment?.(env);
    expect(played?.name).toBe('countdown');
    const stream = source.open(trainTasks, { taskId: (t) => env.taskId(t as CountdownTask) });
    const drawn = stream.draw(4000, Rng.seeded(2));
    const shares = [
      drawn.filter((t) => !isRankTask(t) && !isOpenTask(t)).length,
      drawn.filter(isRankTask).length,
      drawn.filter(isOpenTask).length,
    ].map((c) => c / 4000);
    [0.5, 0.3, 0.2].forEach((p, i) => {
      expect(Math.abs((shares[i] as number) - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / 4000));
    });
  });
});

/** An open-ended group of rollouts with the given answers and hidden true rewards. */
function openGroup(answers: readonly string[], truth: readonly number[], group = 0): Rollout[] {
  return answers.map((action, i) => ({
    id: `g${group}/${i}`,
    groupId: `g${group}`,
    taskId: 'open/3,5=8',
    turns: [
      {
        observation: 'use 3 5 make 8',
        action,
        promptTokens: [],
        actionTokens: [],
        logprobs: [],
        reward: {},
        valid: true,
        truncated: false,
      },
    ],
    reward: { correct: 0, format: 0, rank: 0, openTruth: truth[i] as number },
    success: false,
  }));
}

function context(referee: (prompt: string) => string, seen: string[] = []): EstimatorContext {
  return {
    rng: Rng.seeded(5),
    weights: { correct: 1, format: 0.1, rank: 1, openTruth: 0 },
    scalar: (r) => (r.correct ?? 0) + 0.1 * (r.format ?? 0) + (r.rank ?? 0),
    services: {
      score: async () => [],
      rollouts: async () => [],
      vocabulary: ['<pad>', '<eos>', ...(env.alphabet?.() ?? '')],
      generate: async (prompts) => {
        seen.push(...prompts);
        return prompts.map(referee);
      },
    },
  };
}

const answer = fc.constantFrom('3+5', '5+3', '3*5', '5-3', '3-5', '35', '', '8');

describe('urpo-self-referee', () => {
  it('a referee whose score is constant across the group gives every rollout advantage 0 (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(answer, { minLength: 2, maxLength: 6 }),
        fc.constantFrom('zz', '', '00'),
        async (answers, output) => {
          const groups = [
            openGroup(
              answers,
              answers.map(() => 0),
            ),
          ];
          const result = await selfReferee().compute(
            groups,
            context(() => output),
          );
          for (const a of result.rollout[0] as number[]) expect(a).toBe(0);
          expect(result.diagnostics?.selfRewardVariance).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('ranks each open group in the ranking format, charges K samples through generate, logs the self-reward variance; the hidden truth never moves an advantage', async () => {
    // A referee that puts the shortest answer first: its scores are a function of the answers alone (each sample ranks all three).
    const shortestFirst = (prompt: string) => {
      const shown = prompt.split(' ask ')[1]?.split(' ') ?? [];
      return shown
        .map((text, i) => ({ text, i }))
        .sort((a, b) => a.text.length - b.text.length || a.i - b.i)
        .map((c) => c.i)
        .join('');
    };
    const answers = ['3+5', '35', '3*55', '3+5'];
    const seen: string[] = [];
    const one = await selfReferee({ samples: 6, rankSize: 3 }).compute(
      [openGroup(answers, [1, 0, 0, 1])],
      context(shortestFirst, seen),
    );
    const other = await selfReferee({ samples: 6, rankSize: 3 }).compute(
      [openGroup(answers, [0, 1, 1, 0])],
      context(shortestFirst),
    );
    expect(seen).toHaveLength(6);
    for (const prompt of seen) expect(prompt.startsWith(`use 3 5 make 8${rankMarker(env.alphabet?.())} `)).toBe(true);
    expect(one.rollout).toEqual(other.rollout);
    const advantages = one.rollout[0] as number[];
    expect(advantages[1]).toBeGreaterThan(advantages[0] as number); // '35' is the shortest
    expect(advantages[0]).toBe(advantages[3]); // identical answers share their score
    expect(one.diagnostics?.refereeSamples).toBe(6);
    expect(one.diagnostics?.selfRewardVariance).toBeGreaterThan(0);
    expect(one.diagnostics?.selfRewardTruthAgreement).toBeDefined();
  });

  it('self-scores are mean Borda points over the samples that showed each answer; unseen answers take the mean of the others', () => {
    const scores = selfScores(3, [{ shown: [0, 1], order: [1, 0] }, { shown: [1, 0], order: [1, 0] }, { shown: [0, 1] }]);
    expect(scores).toEqual([0.5, 0.5, 0.5]);
    expect(selfScores(3, [{ shown: [2, 0], order: [0, 1] }])).toEqual([0, 0.5, 1]);
    expect(rankPrompt('use 3 5 make 8', ['3 + 5', '35'], ' ask')).toBe('use 3 5 make 8 ask 3+5 35');
  });

  it('groups that are not open-ended keep the environment’s reward and call no referee', async () => {
    const groups = [
      openGroup(['3+5', '35'], [1, 0]).map((r) => ({
        ...r,
        taskId: '3,5=8',
        reward: { correct: 1, format: 1, rank: 0, openTruth: 0 },
      })),
    ];
    const seen: string[] = [];
    const result = await selfReferee().compute(
      groups,
      context(() => '01', seen),
    );
    expect(seen).toHaveLength(0);
    expect(result.rollout[0]).toEqual([0, 0]);
  });
});
