/**
 * Injected judge tasks (SPARK, Synergistic Policy And Reward Co-Evolving, arXiv:2509.22624): the
 * rollouts of a step and their verifier bits become, in the next steps, tasks for the same
 * policy: "here is an attempt; was it correct?", rewarded 1 when the verdict matches the
 * verifier. The policy trains as its own judge in the same loop, on the same budget.
 *
 * Two parts, so that the trainer still runs one environment:
 * - `withJudgeTasks(env)`: an environment that plays the wrapped environment's tasks (adding a
 *   `judge` reward component, 0 on them) and judge tasks (the transcript, then a question marker;
 *   the expected action is a verdict word; every other component 0). Its splits are the wrapped
 *   environment's: a judge task is never in the test split, and evaluation reports the wrapped
 *   environment's success. Marker and verdicts are written in the environment's alphabet.
 * - the `judge-tasks` task source: a wrapper of another source (uniform by default) that turns
 *   each observed group into pointwise judge items, routed as SPARK's code does (a group all right
 *   gives an item on one of its rollouts, all wrong one on a random wrong rollout, mixed one right
 *   and one wrong), keeps the newest `capacity`, and mixes them into later draws at a `share` of
 *   each draw. Its `environment` is `withJudgeTasks`, which the trainer then runs.
 * SPARK's pairwise ("which of A or B is correct?") and reflection items, its exact routing and a
 * verdict warm start are the `spark-self-judge` source's (spark.ts); this one stays pointwise.
 */
import {
  defineTaskSource,
  type Environment,
  type Episode,
  type RewardVector,
  Rng,
  resolveOptions,
  type StepResult,
  type TaskFeedback,
  type TaskSource,
  type TaskStream,
  type TurnText,
  UsageError,
} from '@policy-lab/core';
import { evolvingPool } from '../task-sources/evolving-pool.js';
import { prioritized } from '../task-sources/prioritized.js';

/** One judge item: an attempt's transcript and whether it succeeded. */
export interface JudgeItem {
  transcript: string;
  label: boolean;
  /** `${step}/${group}/${taskId}/${rollout}`: where the attempt came from (unique within a run). */
  origin: string;
}

/** A judge task as the wrapped environment plays it. */
export interface JudgeTask {
  judgeTask: JudgeItem;
}

export function isJudgeTask(task: unknown): task is JudgeTask {
  const item = (task as { judgeTask?: JudgeItem } | null)?.judgeTask;
  return typeof item === 'object' && item !== null && typeof item.transcript === 'string' && typeof item.label === 'boolean';
}

export interface JudgeWords {
  /** The verdict for a correct attempt. */
  yes: string;
  /** The verdict for a wrong one. */
  no: string;
  /** Shown after the transcript: the question. */
  marker: string;
}

const VERDICTS: readonly [string, string][] = [
  ['yes', 'no'],
  ['1', '0'],
  ['y', 'n'],
];
const MARKERS = [' ?', ' ask', ' :', ' ='];

/**
 * The verdict words and marker: the given ones, else the first candidates written in the
 * environment's alphabet (countdown: `1`/`0` after ` ask`). A word outside the alphabet would
 * reach the policy as unknown tokens: refused, naming the characters.
 */
export function judgeWords(alphabet: string | undefined, given: Partial<JudgeWords> = {}): JudgeWords {
  const fits = (text: string) => alphabet === undefined || [...text].every((c) => alphabet.includes(c));
  const [yes, no] = VERDICTS.find((pair) => pair.every(fits)) ?? ['', ''];
  const words = { yes: given.yes ?? yes, no: given.no ?? no, marker: given.marker ?? MARKERS.find(fits) ?? '' };
  for (const [key, text] of Object.entries(words))
    if (text.trim().length === 0 || !fits(text))
      throw new UsageError(
        `judge tasks: option '${key}' ${JSON.stringify(text)} is not written in the environment's alphabet ${JSON.stringify(alphabet)}; set yes, no and marker to words of it`,
      );
  if (words.yes.trim() === words.no.trim())
    throw new UsageError(`judge tasks: yes and no must differ, both are ${JSON.stringify(words.yes)}`);
  return words;
}

/** The transcript of one rollout: each turn's observation and action. */
export function transcriptOf(turns: readonly TurnText[]): string {
  return turns.map((t) => `${t.observation} ${t.action}`).join(' ');
}

/** The reward component judge tasks are scored in. */
export const JUDGE_COMPONENT = 'judge';

/** The environment with judge tasks beside its own (the same name, alphabet and splits). */
export function withJudgeTasks<Task>(
  env: Environment<Task>,
  options: Partial<JudgeWords> & { weight?: number } = {},
): Environment<Task | JudgeTask> {
  if (env.rewardComponents.some((c) => c.name === JUDGE_COMPONENT))
    throw new UsageError(`judge tasks: environment '${env.name}' already has a reward component '${JUDGE_COMPONENT}'`);
  const words = judgeWords(env.alphabet?.(), options);
  const zeros: RewardVector = Object.fromEntries(env.rewardComponents.map((c) => [c.name, 0]));
  const verdict = (label: boolean) => (label ? words.yes : words.no);
  const { configure, demonstrate } = env;
  const wrapped: Environment<Task | JudgeTask> = {
    ...(env as Environment<Task | JudgeTask>),
    rewardComponents: [...env.rewardComponents, { name: JUDGE_COMPONENT, weight: options.weight ?? 1 }],
    tasks: (split, o) => env.tasks(split, o),
    taskId: (task) => (isJudgeTask(task) ? `judge/${task.judgeTask.origin}` : env.taskId(task)),
    start: (task, rng): Episode =>
      isJudgeTask(task) ? judgeEpisode(task.judgeTask, words, zeros) : withJudgeZero(env.start(task as Task, rng)),
  };
  if (configure) wrapped.configure = (next) => withJudgeTasks(configure(next), options);
  if (demonstrate) wrapped.demonstrate = (task) => (isJudgeTask(task) ? [verdict(task.judgeTask.label)] : demonstrate(task));
  return wrapped;
}

/** An episode of the environment's own task, its reward vectors with the `judge` component at 0. */
export function withJudgeZero(episode: Episode): Episode {
  const withZero = (reward: RewardVector): RewardVector => ({ ...reward, [JUDGE_COMPONENT]: 0 });
  return {
    observation: () => episode.observation(),
    step: (action): StepResult => {
      const result = episode.step(action);
      return { ...result, reward: withZero(result.reward) };
    },
    outcome: () => {
      const outcome = episode.outcome();
      return { ...outcome, reward: withZero(outcome.reward) };
    },
    ...(episode.snapshot && episode.restore
      ? { snapshot: () => episode.snapshot?.(), restore: (state: unknown) => episode.restore?.(state) }
      : {}),
  };
}

function judgeEpisode(item: JudgeItem, words: JudgeWords, zeros: RewardVector): Episode {
  let answer: string | undefined;
  const expected = item.label ? words.yes : words.no;
  const score = (): RewardVector => ({ ...zeros, [JUDGE_COMPONENT]: answer?.trim() === expected.trim() ? 1 : 0 });
  return {
    observation: () => `${item.transcript}${words.marker}`,
    step(action) {
      answer = action;
      const verdict = action.trim();
      return { reward: score(), done: true, valid: verdict === words.yes.trim() || verdict === words.no.trim() };
    },
    outcome: () => ({ reward: score(), success: score()[JUDGE_COMPONENT] === 1 }),
  };
}

/**
 * Pointwise judge items from a step's groups (judge tasks' own groups give none), routed as
 * SPARK's data generator does: all right, one item on a random rollout; all wrong, one on a
 * random wrong rollout; mixed, one right and one wrong. Each label is the rollout's success.
 * Deterministic per (step, group): the choice is seeded by both.
 */
export function judgeItems(feedback: readonly TaskFeedback[], step: number): JudgeItem[] {
  const items: JudgeItem[] = [];
  feedback.forEach((f, group) => {
    const turns = f.turns;
    if (isJudgeTask(f.task) || !turns || turns.length !== f.successes.length || turns.length === 0) return;
    const rng = Rng.seeded(step).split(`judge/${group}/${f.taskId}`);
    const wins = f.successes.flatMap((s, i) => (s ? [i] : []));
    const losses = f.successes.flatMap((s, i) => (s ? [] : [i]));
    const chosen =
      wins.length === 0 || losses.length === 0 ? [rng.pick(wins.length ? wins : losses)] : [rng.pick(wins), rng.pick(losses)];
    for (const i of chosen)
      items.push({
        transcript: transcriptOf(turns[i] as readonly TurnText[]),
        label: f.successes[i] as boolean,
        origin: `${step}/${group}/${f.taskId}/${i}`,
      });
  });
  return items;
}

export interface JudgeTasksOptions {
  /** The source of the environment's own tasks. */
  base?: 'uniform' | 'prioritized' | 'evolving-pool';
  baseOptions?: Record<string, unknown>;
  /** Expected share of each draw that is judge tasks (while the queue has them). */
  share?: number;
  /** Judge items kept waiting (the newest). */
  capacity?: number;
  yes?: string;
  no?: string;
  marker?: string;
  /** Weight of the `judge` reward component. */
  weight?: number;
}

const OPTIONS = {
  base: {
    type: 'enum',
    values: ['uniform', 'prioritized', 'evolving-pool'],
    default: 'uniform',
    doc: 'the source of the environment’s own tasks, which the judge tasks are mixed into',
  },
  baseOptions: { type: 'object', doc: 'options of the base source (baseOptions.size=32 for evolving-pool)' },
  share: {
    type: 'number',
    default: 0.25,
    doc: 'expected share of each draw that is judge tasks while the queue has them (stochastic rounding, seeded)',
  },
  capacity: { type: 'integer', default: 64, doc: 'judge items kept waiting, the newest (SPARK caps a batch at 32)' },
  yes: { type: 'string', doc: 'verdict for a correct attempt (default: yes, 1 or y, the first in the environment’s alphabet)' },
  no: { type: 'string', doc: 'verdict for a wrong attempt (default: no, 0 or n, with yes)' },
  marker: { type: 'string', doc: 'shown after the transcript (default: " ?", " ask", " :" or " =", the first in the alphabet)' },
  weight: {
    type: 'number',
    default: 1,
    doc: 'weight of the judge reward component (1 on judge tasks when the verdict is right)',
  },
} as const;

export function judgeTasks(options: JudgeTasksOptions = {}): TaskSource {
  const resolved = resolveOptions<
    JudgeTasksOptions & Required<Pick<JudgeTasksOptions, 'base' | 'share' | 'capacity' | 'weight'>>
  >('judge-tasks', OPTIONS, options as Record<string, unknown>);
  if (!(resolved.share >= 0 && resolved.share < 1))
    throw new UsageError(`judge-tasks: option 'share' must be in [0, 1), got ${resolved.share}`);
  if (!(resolved.capacity >= 1)) throw new UsageError(`judge-tasks: option 'capacity' must be >= 1, got ${resolved.capacity}`);
  const base =
    resolved.base === 'prioritized'
      ? prioritized(resolved.baseOptions)
      : resolved.base === 'evolving-pool'
        ? evolvingPool(resolved.baseOptions)
        : undefined;
  if (!base && resolved.baseOptions && Object.keys(resolved.baseOptions).length)
    throw new UsageError("judge-tasks: option 'baseOptions' needs a base with options (prioritized, evolving-pool)");
  const { yes, no, marker, weight } = resolved;
  return defineTaskSource({
    name: 'judge-tasks',
    summary:
      'mixes judge tasks built from the step’s own rollouts ("was this answer correct?", labelled by the verifier) into the draw: the policy trains as its own judge',
    paper: { title: 'SPARK: Synergistic Policy And Reward Co-Evolving Framework', arxiv: '2509.22624', year: 2025 },
    unverified: [
      'pointwise items only: SPARK’s pairwise and reflection items are built by the spark-self-judge source (the spark Method)',
      'the share of judge tasks per draw is this implementation’s knob; SPARK adds up to 32 judge items to each batch',
    ],
    options: OPTIONS,
    resolved,
    math: 'item $(q, o_i) \\mapsto$ "is $o_i$ correct?" with label $r_i$; reward $\\mathbb{1}[\\hat v = r_i]$; $J = J_{GRPO}(D_{task}) + J_{GRPO}(D_{judge})$',
    open: (tasks, ctx) => openJudgeTasks(base ? base.open(tasks, ctx) : uniformStream(tasks), resolved),
    environment: (env) =>
      withJudgeTasks(env, { ...(yes ? { yes } : {}), ...(no ? { no } : {}), ...(marker ? { marker } : {}), weight }),
    configure: (next) => judgeTasks({ ...resolved, ...next }),
  });
}

/** Uniform draws with replacement, as the trainer draws without a source. */
export function uniformStream(tasks: readonly unknown[]): TaskStream {
  return { draw: (count, rng) => Array.from({ length: count }, () => tasks[rng.int(0, tasks.length - 1)]) };
}

export function openJudgeTasks(base: TaskStream, o: { share: number; capacity: number }): TaskStream {
  let queue: JudgeItem[] = [];
  let step = { built: 0, groups: 0, rollouts: 0, correct: 0 };
  const stream: TaskStream = {
    draw(count, rng) {
      const expected = o.share * count;
      const whole = Math.floor(expected);
      const k = Math.min(queue.length, whole + (rng.next() < expected - whole ? 1 : 0));
      const judged = queue.splice(queue.length - k, k).map((item): JudgeTask => ({ judgeTask: item }));
      return [...base.draw(count - k, rng), ...judged];
    },
    observe(feedback, at) {
      const own = feedback.filter((f) => !isJudgeTask(f.task));
      const judged = feedback.filter((f) => isJudgeTask(f.task));
      base.observe?.(own, at);
      const items = judgeItems(own, at);
      queue = [...queue, ...items].slice(-o.capacity);
      step = {
        built: items.length,
        groups: judged.length,
        rollouts: judged.reduce((a, f) => a + f.successes.length, 0),
        correct: judged.reduce((a, f) => a + f.successes.filter(Boolean).length, 0),
      };
    },
    save: () => ({ base: base.save?.() ?? null, queue }),
    load(state) {
      const s = state as { base: unknown; queue: JudgeItem[] };
      if (s.base !== null) base.load?.(s.base);
      queue = [...s.queue];
    },
    metrics: () => ({
      ...base.metrics?.(),
      judgeQueued: queue.length,
      judgeBuilt: step.built,
      judgeGroups: step.groups,
      judgeRollouts: step.rollouts,
      judgeCorrect: step.correct,
    }),
  };
  const { instructions, propose } = base;
  if (instructions)
    stream.instructions = (tasks, rng) => {
      const own = tasks.filter((t) => !isJudgeTask(t));
      const given = instructions.call(base, own, rng);
      let k = 0;
      return tasks.map((t) => (isJudgeTask(t) ? undefined : given[k++]));
    };
  if (propose) stream.propose = (ctx) => propose.call(base, ctx);
  return stream;
}
