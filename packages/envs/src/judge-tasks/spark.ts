/**
 * SPARK (Synergistic Policy And Reward Co-Evolving Framework, arXiv:2509.22624): the verified
 * rollouts of a GRPO step become, in the next step, auxiliary tasks for the same policy, rewarded
 * by exact match in the same loop (J = J_GRPO(D_task) + J_GRPO(D_aux)):
 * - pointwise: "is this answer correct?", expected verdict the rollout's verifier bit;
 * - pairwise: "which of these two answers is correct?", one right and one wrong rollout in a
 *   random order, expected the index of the right one;
 * - reflection: a failed attempt shown, then the task again; expected a correct answer (scored by
 *   the environment's own verifier).
 *
 * Routing as SPARK's data generator does it (InternLM/Spark, Lmm_XC/openrlhf/trainer/ppo_utils/
 * new_data_gen.py): a group all right gives one pointwise item on its rollout 0; all wrong, one
 * on a random wrong rollout; a mixed group, with probability 0.3 a pointwise item on a random
 * rollout of a random side (right or wrong), else a pairwise item; every group with at least one
 * failure gives a reflection item on a random failed rollout; each step keeps at most 32 judge
 * and 32 reflection items (a seeded sample when there are more).
 *
 * Single-turn environments with a verifier and an expert only: the answer is one action, the
 * reflection item's expected answer is the expert's, and the SFT warm start's judge items are
 * built from the expert's answers and corruptions of them.
 */
import {
  defineTaskSource,
  type Environment,
  type Episode,
  type RewardVector,
  Rng,
  resolveOptions,
  type SelfJudge,
  type TaskFeedback,
  type TaskSource,
  type TaskStream,
  UsageError,
} from '@policy-lab/core';
import { JUDGE_COMPONENT, type JudgeWords, judgeWords, uniformStream, withJudgeZero } from './judge-tasks.js';

export type SparkItem =
  | {
      kind: 'pointwise';
      /** The task as the policy read it. */
      observation: string;
      answer: string;
      /** The verifier's bit for `answer`. */
      label: boolean;
      origin: string;
      /** The rollout judged, in its group. */
      rollout: number;
    }
  | {
      kind: 'pairwise';
      observation: string;
      answers: [string, string];
      /** Index in `answers` of the right one. */
      label: 0 | 1;
      origin: string;
      /** The rollouts shown, in their group: the right one and the wrong one. */
      positive: number;
      negative: number;
    }
  | {
      kind: 'reflection';
      observation: string;
      /** The failed attempt shown. */
      answer: string;
      /** The environment's task, replayed to verify the new answer (and to ask the expert for one). */
      task: unknown;
      origin: string;
      rollout: number;
    };

/** An auxiliary task as the wrapped environment plays it. */
export interface SparkTask {
  spark: SparkItem;
}

export function isSparkTask(task: unknown): task is SparkTask {
  const item = (task as { spark?: SparkItem } | null)?.spark;
  return typeof item === 'object' && item !== null && typeof item.kind === 'string';
}

/** The words of the three prompts: the pointwise marker and verdicts, the pairwise ones, the reflection marker. */
export interface SparkWords extends JudgeWords {
  /** The verdict naming the first (second) of two answers. */
  first: string;
  second: string;
  pairMarker: string;
  reflectMarker: string;
}

const PAIR_VERDICTS: readonly [string, string][] = [
  ['a', 'b'],
  ['1', '2'],
  ['x', 'y'],
];
const PAIR_MARKERS = [' which', ' or', ' see', ' vs'];
const REFLECT_MARKERS = [' again', ' retry', ' make', ' redo'];

/**
 * The words, each the first candidate written in the environment's alphabet (countdown: ` ask`
 * then `1`/`0`; ` see` then `1`/`2`; ` make`), refused when none is.
 */
export function sparkWords(alphabet: string | undefined): SparkWords {
  const fits = (text: string) => alphabet === undefined || [...text].every((c) => alphabet.includes(c));
  const pair = PAIR_VERDICTS.find((p) => p.every(fits));
  const pairMarker = PAIR_MARKERS.find(fits);
  const reflectMarker = REFLECT_MARKERS.find(fits);
  if (!pair || !pairMarker || !reflectMarker)
    throw new UsageError(
      `spark-self-judge: the environment's alphabet ${JSON.stringify(alphabet)} writes no ${!pair ? `pairwise verdicts (${PAIR_VERDICTS.map((p) => p.join('/')).join(', ')})` : !pairMarker ? `pairwise marker (${PAIR_MARKERS.join(',')})` : `reflection marker (${REFLECT_MARKERS.join(',')})`}`,
    );
  return { ...judgeWords(alphabet), first: pair[0], second: pair[1], pairMarker, reflectMarker };
}

/** What the policy reads for each kind of item. */
export function sparkPrompt(item: SparkItem, words: SparkWords): string {
  if (item.kind === 'pointwise') return `${item.observation} ${item.answer}${words.marker}`;
  if (item.kind === 'pairwise') return `${item.observation} ${item.answers[0]} ${item.answers[1]}${words.pairMarker}`;
  return `${item.observation} ${item.answer}${words.reflectMarker}`;
}

export interface SparkRouting {
  /** Probability that a mixed group gives a pointwise item instead of a pairwise one (SPARK: 0.3). */
  pointwiseShare: number;
  /** At most this many judge (pointwise and pairwise) and reflection items per step (SPARK: 32 each). */
  judgeCap: number;
  reflectionCap: number;
}

export const SPARK_ROUTING: SparkRouting = { pointwiseShare: 0.3, judgeCap: 32, reflectionCap: 32 };

/**
 * A step's auxiliary items from its groups (auxiliary tasks' own groups, groups without their
 * text and groups of more than one turn give none). Deterministic per (step, group).
 */
export function sparkItems(
  feedback: readonly TaskFeedback[],
  step: number,
  routing: SparkRouting = SPARK_ROUTING,
): { judge: SparkItem[]; reflection: SparkItem[] } {
  const judge: SparkItem[] = [];
  const reflection: SparkItem[] = [];
  feedback.forEach((f, group) => {
    const turns = f.turns;
    if (isSparkTask(f.task) || !turns || turns.length !== f.successes.length || turns.length === 0) return;
    if (turns.some((t) => t.length !== 1)) return;
    const rng = Rng.seeded(step).split(`spark/${group}/${f.taskId}`);
    const answer = (i: number) => turns[i]?.[0]?.action as string;
    const observation = turns[0]?.[0]?.observation as string;
    const origin = (what: string) => `${step}/${group}/${f.taskId}/${what}`;
    const wins = f.successes.flatMap((s, i) => (s ? [i] : []));
    const losses = f.successes.flatMap((s, i) => (s ? [] : [i]));
    const pointwise = (i: number): SparkItem => ({
      kind: 'pointwise',
      observation,
      answer: answer(i),
      label: f.successes[i] as boolean,
      origin: origin(`${i}`),
      rollout: i,
    });
    if (losses.length === 0) judge.push(pointwise(0));
    else if (wins.length === 0) judge.push(pointwise(rng.pick(losses)));
    else if (rng.next() < routing.pointwiseShare) judge.push(pointwise(rng.pick(rng.next() < 0.5 ? losses : wins)));
    else {
      const positive = rng.pick(wins);
      const negative = rng.pick(losses);
      const label = rng.next() < 0.5 ? 0 : 1;
      judge.push({
        kind: 'pairwise',
        observation,
        answers: label === 0 ? [answer(positive), answer(negative)] : [answer(negative), answer(positive)],
        label,
        origin: origin(`${positive}>${negative}`),
        positive,
        negative,
      });
    }
    if (losses.length > 0) {
      const failed = rng.pick(losses);
      reflection.push({
        kind: 'reflection',
        observation,
        answer: answer(failed),
        task: f.task,
        origin: origin(`${failed}!`),
        rollout: failed,
      });
    }
  });
  const rng = Rng.seeded(step).split('spark/cap');
  return { judge: capped(judge, routing.judgeCap, rng), reflection: capped(reflection, routing.reflectionCap, rng) };
}

/** At most `cap` of the items, a uniform sample in their order. */
function capped<T>(items: readonly T[], cap: number, rng: Rng): T[] {
  if (items.length <= cap) return [...items];
  const kept = new Set(rng.shuffle(items.map((_, i) => i)).slice(0, cap));
  return items.filter((_, i) => kept.has(i));
}

/** Whether `action` succeeds on the environment's task (its verifier). */
function verified(env: Environment, task: unknown, action: string): boolean {
  const episode = env.start(task, Rng.seeded(0).split('spark/verify'));
  episode.step(action);
  return episode.outcome().success;
}

/** Why SPARK cannot run on this environment, or undefined. */
export function sparkUnfit(env: Environment): string | undefined {
  const missing = [
    ...(env.maxTurns !== 1 ? [`single-turn episodes (it has up to ${env.maxTurns} turns)`] : []),
    ...(env.demonstrate ? [] : ['an expert (demonstrate) for the reflection answers and the warm start']),
  ];
  return missing.length
    ? `spark-self-judge needs a single-turn environment with a verifier and an expert; environment '${env.name}' lacks ${missing.join(' and ')}`
    : undefined;
}

/** The environment with SPARK's auxiliary tasks beside its own (the same name, alphabet and splits). */
export function withSparkTasks<Task>(env: Environment<Task>, options: { weight?: number } = {}): Environment<Task | SparkTask> {
  const unfit = sparkUnfit(env as Environment);
  if (unfit) throw new UsageError(unfit);
  if (env.rewardComponents.some((c) => c.name === JUDGE_COMPONENT))
    throw new UsageError(`spark-self-judge: environment '${env.name}' already has a reward component '${JUDGE_COMPONENT}'`);
  const words = sparkWords(env.alphabet?.());
  const zeros: RewardVector = Object.fromEntries(env.rewardComponents.map((c) => [c.name, 0]));
  const { configure } = env;
  const demonstrate = env.demonstrate as (task: Task) => string[];
  const expected = (item: SparkItem): string =>
    item.kind === 'pointwise'
      ? item.label
        ? words.yes
        : words.no
      : item.kind === 'pairwise'
        ? item.label === 0
          ? words.first
          : words.second
        : (demonstrate(item.task as Task)[0] ?? '');
  const wrapped: Environment<Task | SparkTask> = {
    ...(env as Environment<Task | SparkTask>),
    rewardComponents: [...env.rewardComponents, { name: JUDGE_COMPONENT, weight: options.weight ?? 1 }],
    tasks: (split, o) => env.tasks(split, o),
    taskId: (task) => (isSparkTask(task) ? `spark/${task.spark.kind}/${task.spark.origin}` : env.taskId(task)),
    start: (task, rng): Episode =>
      isSparkTask(task) ? sparkEpisode(env as Environment, task.spark, words, zeros) : withJudgeZero(env.start(task, rng)),
    demonstrate: (task) => (isSparkTask(task) ? [expected(task.spark)] : demonstrate(task)),
  };
  if (configure) wrapped.configure = (next) => withSparkTasks(configure(next), options);
  return wrapped;
}

function sparkEpisode(env: Environment, item: SparkItem, words: SparkWords, zeros: RewardVector): Episode {
  let answer: string | undefined;
  const right = (action: string): boolean => {
    if (item.kind === 'reflection') return verified(env, item.task, action);
    const verdict = action.trim();
    if (item.kind === 'pointwise') return verdict === (item.label ? words.yes : words.no).trim();
    return verdict === (item.label === 0 ? words.first : words.second).trim();
  };
  const score = (): RewardVector => ({ ...zeros, [JUDGE_COMPONENT]: answer !== undefined && right(answer) ? 1 : 0 });
  const verdicts =
    item.kind === 'pointwise' ? [words.yes, words.no] : item.kind === 'pairwise' ? [words.first, words.second] : undefined;
  return {
    observation: () => sparkPrompt(item, words),
    step(action) {
      answer = action;
      const valid = verdicts ? verdicts.some((v) => v.trim() === action.trim()) : true;
      return { reward: score(), done: true, valid };
    },
    outcome: () => ({ reward: score(), success: score()[JUDGE_COMPONENT] === 1 }),
  };
}

/**
 * A wrong answer near `answer`: one character replaced by another of its class (digit by digit,
 * letter by letter, any other by another non-space character of the alphabet), kept when the
 * environment's verifier fails it; undefined after 32 tries.
 */
export function corruptAnswer(env: Environment, task: unknown, answer: string, rng: Rng): string | undefined {
  const alphabet = [...new Set(env.alphabet?.() ?? answer)].filter((c) => c !== ' ');
  const classOf = (c: string) => (/[0-9]/.test(c) ? 'digit' : /[a-z]/i.test(c) ? 'letter' : 'other');
  const positions = [...answer].flatMap((c, i) => (c === ' ' ? [] : [i]));
  if (positions.length === 0) return undefined;
  for (let attempt = 0; attempt < 32; attempt++) {
    const i = rng.pick(positions);
    const was = answer[i] as string;
    const pool = alphabet.filter((c) => c !== was && classOf(c) === classOf(was));
    if (pool.length === 0) continue;
    const wrong = `${answer.slice(0, i)}${rng.pick(pool)}${answer.slice(i + 1)}`;
    if (!verified(env, task, wrong)) return wrong;
  }
  return undefined;
}

/**
 * The warm start's items (ours: SPARK starts from an instruction-tuned model that can already
 * judge): per training task, in turn, a pointwise item on the expert's answer, a pointwise item
 * on a corruption of it, a pairwise item (expert and corruption, random order) and a reflection
 * item (the corruption shown, the expert's answer expected). One item per task.
 */
export function warmStartItems(
  env: Environment,
  train: readonly unknown[],
  rng: Rng,
  verdicts: WarmVerdicts = 'verifier',
): SparkItem[] {
  const demonstrate = env.demonstrate;
  if (!demonstrate) return [];
  const items: SparkItem[] = [];
  train.forEach((task, k) => {
    const r = rng.split(`warm/${k}`);
    const expert = demonstrate(task)[0];
    if (expert === undefined || !verified(env, task, expert)) return;
    const observation = env.start(task, r.split('start')).observation();
    const wrong = corruptAnswer(env, task, expert, r);
    const origin = `warm/${k}`;
    const kind = k % 4;
    // 'coin': the verdict taught is a fair coin, independent of the answer (the format, not the judging).
    const coin = r.split('coin').next() < 0.5;
    const said = (truth: boolean) => (verdicts === 'coin' ? coin : truth);
    if (kind === 0 || wrong === undefined)
      items.push({ kind: 'pointwise', observation, answer: expert, label: said(true), origin, rollout: 0 });
    else if (kind === 1) items.push({ kind: 'pointwise', observation, answer: wrong, label: said(false), origin, rollout: 1 });
    else if (kind === 2) {
      const label = r.next() < 0.5 ? 0 : 1;
      items.push({
        kind: 'pairwise',
        observation,
        answers: label === 0 ? [expert, wrong] : [wrong, expert],
        label: verdicts === 'coin' ? (coin ? 0 : 1) : label,
        origin,
        positive: 0,
        negative: 1,
      });
    } else items.push({ kind: 'reflection', observation, answer: wrong, task, origin, rollout: 1 });
  });
  return items;
}

/**
 * The verdicts the warm start teaches: the verifier's (a judge trained before the run) or a fair
 * coin per item (the judge format only, as an instruction-tuned model brings it; judging is then
 * learnt in the run from the verified rollouts).
 */
export type WarmVerdicts = 'verifier' | 'coin';

export interface SparkSelfJudgeOptions {
  /** Expected share of each draw that is auxiliary tasks while any wait. */
  share?: number;
  /** Auxiliary items kept waiting (the newest). */
  capacity?: number;
  pointwiseShare?: number;
  judgeCap?: number;
  reflectionCap?: number;
  /** Judge items in the SFT warm start (off: the plain SFT start, which never writes a verdict). */
  warmStart?: boolean;
  /** What the warm start's verdicts say: the verifier's bit, or a coin (the format only). */
  warmVerdicts?: WarmVerdicts;
  /** Weight of the `judge` reward component. */
  weight?: number;
}

const OPTIONS = {
  share: {
    type: 'number',
    default: 0.5,
    doc: 'expected share of each draw that is auxiliary tasks while any wait (stochastic rounding, seeded); SPARK adds up to 64 to a batch of 64 prompts',
  },
  capacity: { type: 'integer', default: 64, doc: 'auxiliary items kept waiting, the newest: half judge, half reflection' },
  pointwiseShare: {
    type: 'number',
    default: 0.3,
    doc: 'probability that a mixed group gives a pointwise item instead of a pairwise one (SPARK code: 0.3)',
  },
  judgeCap: { type: 'integer', default: 32, doc: 'judge items kept per step (SPARK code: 32)' },
  reflectionCap: { type: 'integer', default: 32, doc: 'reflection items kept per step (SPARK code: 32)' },
  warmStart: {
    type: 'boolean',
    default: true,
    doc: 'add judge items built from the expert and from corrupted answers to the SFT warm start (ours, see the page)',
  },
  warmVerdicts: {
    type: 'enum',
    default: 'verifier',
    values: ['verifier', 'coin'],
    doc: "the warm start's verdicts: the verifier's bit (a judge before the run), or a fair coin per item (the format only: judging is learnt in the run)",
  },
  weight: { type: 'number', default: 1, doc: 'weight of the judge reward component (1 on an auxiliary task answered right)' },
} as const;

type Resolved = Required<SparkSelfJudgeOptions>;

export function sparkSelfJudge(options: SparkSelfJudgeOptions = {}): TaskSource {
  const resolved = resolveOptions<Resolved>('spark-self-judge', OPTIONS, options as Record<string, unknown>);
  if (!(resolved.share >= 0 && resolved.share < 1))
    throw new UsageError(`spark-self-judge: option 'share' must be in [0, 1), got ${resolved.share}`);
  if (!(resolved.pointwiseShare >= 0 && resolved.pointwiseShare <= 1))
    throw new UsageError(`spark-self-judge: option 'pointwiseShare' must be in [0, 1], got ${resolved.pointwiseShare}`);
  for (const key of ['capacity', 'judgeCap', 'reflectionCap'] as const)
    if (!(resolved[key] >= 1)) throw new UsageError(`spark-self-judge: option '${key}' must be >= 1, got ${resolved[key]}`);
  return defineTaskSource({
    name: 'spark-self-judge',
    summary:
      'SPARK: each step’s verified rollouts become pointwise, pairwise and reflection tasks for the same policy (rewarded by exact match), mixed into the next draw; the policy judges itself at test time',
    paper: { title: 'SPARK: Synergistic Policy And Reward Co-Evolving Framework', arxiv: '2509.22624', year: 2025 },
    unverified: [
      'adaptation: adapted. The routing (all right: pointwise on rollout 0; all wrong: pointwise on a random wrong rollout; mixed: pointwise with probability 0.3 on a random side, else pairwise; reflection from every group with a failure; 32 + 32 per step) is the released code’s. SPARK’s many prompt templates (yes/no and A/B wordings) become one prompt per kind in the environment’s alphabet (countdown: `<task> <answer> ask` -> 1/0; `<task> <a> <b> see` -> 1/2; `<task> <failed answer> make` -> an equation).',
      'Reflection items are scored by the environment’s verifier (any correct answer earns 1), where SPARK compares with the gold answer; SPARK’s half of reflection items with the chain of thought has no counterpart (our answers are the whole action).',
      'Auxiliary items enter the next step’s draw (a share of its tasks, so they count against the episode budget); SPARK appends them to the batch of the step that made them.',
      'The SFT warm start adds judge items built from the expert’s answers and one-character corruptions the verifier fails (one item per training task, four kinds in turn), with proportionally more SFT steps; SPARK starts from an instruction-tuned model that can already answer in the judge format. Pairwise prompts longer than the model’s context lose the task’s first characters (the trainer’s truncation rule). `warmVerdicts=coin` teaches the format only (a fair coin per verdict), so that all judging is learnt in the run.',
      'Measured 2026-12-05 (docs/extensions.md): on countdown with numbers up to 30 and 32 tasks a step, the policy’s held-out pair accuracy rose over 3,200 episodes on seed 1 (42.0% -> 44.7% -> 48.4%, 219 distinct pairs, one-sided exact McNemar p = 1.3e-3 against the start) and fell on seed 2 (52.9% -> 50.8%, p 0.88): both toward 50%, so RL does not yet teach this judge; on the default countdown it did not rise (54.3% -> 48.4-53.8%, p 0.68-0.97). The verdicts are learnable at this size: cross-entropy on exactly the judge items this routing builds from the start policy’s own samples reaches 59.6% on held-out pairs (start 45.5%, p 1.5e-3), 74% when the prompt shows the answer’s value; a run draws far fewer verdicts (8 judge items a step of up to 32 built, one reward bit per sample). GRPO’s KL term, an entropy bonus, a prompt showing the answer’s value and a pairwise evaluation did not change that on both seeds.',
    ],
    options: OPTIONS,
    resolved,
    math: 'pointwise $(q, o_i) \\mapsto r_i$; pairwise $(q, o_i, o_j),\\ r_i \\ne r_j \\mapsto \\arg\\max(r_i, r_j)$; reflection $(q, o_i),\\ r_i = 0 \\mapsto y^*$ (verified); reward $\\mathbb{1}[\\text{answer} = \\text{label}]$; $J = J_{GRPO}(D_{task}) + J_{GRPO}(D_{aux})$',
    open: (tasks) => openSparkTasks(uniformStream(tasks), resolved),
    environment: (env) => withSparkTasks(env, { weight: resolved.weight }) as Environment,
    ...(resolved.warmStart
      ? {
          warmStart: (env: Environment, train: readonly unknown[], rng: Rng) => {
            const items = warmStartItems(env, train, rng, resolved.warmVerdicts);
            const key = JSON.stringify({
              spark: 1,
              words: sparkWords(env.alphabet?.()),
              items: items.length,
              ...(resolved.warmVerdicts === 'verifier' ? {} : { verdicts: resolved.warmVerdicts }),
            });
            return { tasks: items.map((spark): SparkTask => ({ spark })), key };
          },
        }
      : {}),
    selfJudge: (env: Environment): SelfJudge => {
      const words = sparkWords(env.alphabet?.());
      return {
        name: 'spark-self-judge',
        prompt: (observation, action) =>
          sparkPrompt({ kind: 'pointwise', observation, answer: action, label: true, origin: '', rollout: 0 }, words),
        yes: words.yes,
        no: words.no,
      };
    },
    configure: (next) => sparkSelfJudge({ ...resolved, ...next }),
  });
}

/**
 * The stream: the base draws, with a `share` of each draw (stochastic rounding) taken from the
 * waiting items, judge and reflection items in turn (SPARK's batch holds up to 32 of each), the
 * newest first; each item once.
 */
export function openSparkTasks(base: TaskStream, o: { share: number; capacity: number } & SparkRouting): TaskStream {
  let judging: SparkItem[] = [];
  let reflecting: SparkItem[] = [];
  let last: Record<string, number> = {};
  const half = Math.max(1, Math.floor(o.capacity / 2));
  return {
    draw(count, rng) {
      const expected = o.share * count;
      const whole = Math.floor(expected);
      const k = Math.min(judging.length + reflecting.length, whole + (rng.next() < expected - whole ? 1 : 0));
      const aux: SparkTask[] = [];
      // Alternate, starting with a judge item; an empty queue leaves its turns to the other.
      for (let i = 0; aux.length < k; i++) {
        const queue = (i % 2 === 0 && judging.length) || !reflecting.length ? judging : reflecting;
        aux.push({ spark: queue.pop() as SparkItem });
      }
      return [...base.draw(count - k, rng), ...aux];
    },
    observe(feedback, at) {
      const own = feedback.filter((f) => !isSparkTask(f.task));
      base.observe?.(own, at);
      const { judge, reflection } = sparkItems(own, at, o);
      judging = [...judging, ...judge].slice(-half);
      reflecting = [...reflecting, ...reflection].slice(-half);
      const count = (items: readonly SparkItem[], kind: SparkItem['kind']) => items.filter((i) => i.kind === kind).length;
      last = {
        sparkPointwise: count(judge, 'pointwise'),
        sparkPairwise: count(judge, 'pairwise'),
        sparkReflection: reflection.length,
      };
      for (const kind of ['pointwise', 'pairwise', 'reflection'] as const) {
        const groups = feedback.filter((f) => isSparkTask(f.task) && f.task.spark.kind === kind);
        last[`${kind}Rollouts`] = groups.reduce((a, f) => a + f.successes.length, 0);
        last[`${kind}Right`] = groups.reduce((a, f) => a + f.successes.filter(Boolean).length, 0);
      }
    },
    save: () => ({ base: base.save?.() ?? null, judging, reflecting }),
    load(state) {
      const s = state as { base: unknown; judging: SparkItem[]; reflecting: SparkItem[] };
      if (s.base !== null) base.load?.(s.base);
      judging = [...s.judging];
      reflecting = [...s.reflecting];
    },
    metrics: () => ({ ...base.metrics?.(), sparkQueued: judging.length + reflecting.length, ...last }),
  };
}
