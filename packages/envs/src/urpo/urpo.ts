/**
 * URPO's batch (Lu et al., arXiv 2507.17515): one model plays player and referee in one GRPO loop
 * over mixed batches of three kinds of task:
 * - verifiable tasks: the environment's own, rewarded by its rules;
 * - ranking tasks: preference data recast as an N-way ranking ("order these answers best first"),
 *   rewarded by agreement with the true order (the `rank` component);
 * - open-ended tasks: the environment's task with its verifier hidden (every component 0; the true
 *   reward kept in `openTruth`, weight 0, for diagnostics only); the `urpo-self-referee` estimator
 *   rewards each group by the policy's own ranking of it.
 * `withUrpoTasks(env)` plays the three kinds; the `urpo-mix` task source draws them at fixed shares.
 */
import {
  defineTaskSource,
  type Environment,
  type Episode,
  type RewardVector,
  Rng,
  resolveOptions,
  type TaskSource,
  type TaskStream,
  UsageError,
} from '@policy-lab/core';
import { withMappedRewards } from '../shared/mapped-rewards.js';
import { parseRanking, preferenceBuilder, type RankedCandidates, rankingAgreement, rankMarker, rankPrompt } from './ranking.js';

export const URPO_PAPER = {
  title: 'URPO: A Unified Reward & Policy Optimization Framework for Large Language Models',
  arxiv: '2507.17515',
  year: 2025,
};

/** The reward component of ranking tasks. */
export const RANK_COMPONENT = 'rank';
/** Open-ended tasks' hidden true reward (weight 0): logged against the self-scores, never trained on. */
export const OPEN_TRUTH_COMPONENT = 'openTruth';
/** Task ids of open-ended tasks start with this (the estimator reads it). */
export const OPEN_PREFIX = 'open/';

/** A ranking task: candidates shown in order, their true order, and what the warm start writes. */
export interface RankItem extends RankedCandidates {
  statement: string;
  /** What the warm start demonstrates: the true order, or a random one (format only). */
  label: number[];
  origin: string;
  /** Each rollout shows the candidates in its own random order (training draws; see `rankOrder`). */
  reorder?: boolean;
}
export interface RankTask {
  rankTask: RankItem;
}
export interface OpenTask {
  openTask: unknown;
}

export function isRankTask(task: unknown): task is RankTask {
  return typeof (task as { rankTask?: unknown } | null)?.rankTask === 'object';
}
export function isOpenTask(task: unknown): task is OpenTask {
  return typeof task === 'object' && task !== null && 'openTask' in task;
}

export interface UrpoTaskOptions {
  /** Largest ranking size N (ranking tasks draw N from 2..rankSize). */
  rankSize?: number;
  /** Ranking items added to the training split for the warm start, as a share of its tasks. */
  warmStartShare?: number;
  /** 'truth' (default): the warm start writes the true order; 'format': a random one (the referee format only). */
  warmStartLabels?: 'format' | 'truth';
  marker?: string;
}

/** A ranking item of `task`, or undefined when it has too few distinct candidates. */
export function rankItem(
  env: Environment,
  task: unknown,
  rng: Rng,
  n: number,
  labels: 'format' | 'truth',
  origin: string,
): RankItem | undefined {
  const ranked = preferenceBuilder(env).candidates(task, rng, n);
  if (!ranked) return undefined;
  const statement = env.start(task, rng.split('statement')).observation();
  const label = labels === 'truth' ? ranked.order : rng.shuffle(ranked.order);
  return { ...ranked, statement, label, origin };
}

/** The environment with ranking and open-ended tasks beside its own (same name, alphabet and test split). */
export function withUrpoTasks(env: Environment, options: UrpoTaskOptions = {}): Environment {
  for (const name of [RANK_COMPONENT, OPEN_TRUTH_COMPONENT])
    if (env.rewardComponents.some((c) => c.name === name))
      throw new UsageError(`urpo: environment '${env.name}' already has a reward component '${name}'`);
  preferenceBuilder(env);
  const marker = rankMarker(env.alphabet?.(), options.marker);
  const rankSize = options.rankSize ?? 2;
  const share = options.warmStartShare ?? 0.25;
  const labels = options.warmStartLabels ?? 'truth';
  const zeros: RewardVector = Object.fromEntries(env.rewardComponents.map((c) => [c.name, 0]));
  const extra = (rank: number, truth: number): RewardVector => ({ [RANK_COMPONENT]: rank, [OPEN_TRUTH_COMPONENT]: truth });
  const scalar = (reward: RewardVector) => env.rewardComponents.reduce((a, c) => a + c.weight * (reward[c.name] ?? 0), 0);
  const wrapped: Environment = {
    ...env,
    // The warm start's cache key reads `resolved`: a start that also learnt the referee format is another start.
    resolved: { ...(env.resolved ?? {}), urpo: { rankSize, warmStartShare: share, warmStartLabels: labels, marker } },
    rewardComponents: [...env.rewardComponents, { name: RANK_COMPONENT, weight: 1 }, { name: OPEN_TRUTH_COMPONENT, weight: 0 }],
    // The training split is the environment's tasks, then ranking items built from them for the warm start.
    tasks(split, o) {
      const own = env.tasks(split, o);
      if (split === 'test') return own;
      const rng = Rng.seeded(o.seed).split('urpo/warm-start');
      const items: RankTask[] = [];
      for (let k = 0; k < own.length && items.length < Math.round(share * own.length); k++) {
        const item = rankItem(env, own[k], rng.split(`${k}`), rng.int(2, rankSize), labels, `warm/${k}`);
        if (item) items.push({ rankTask: item });
      }
      return [...own, ...items];
    },
    taskId: (task) =>
      isRankTask(task)
        ? `rank/${task.rankTask.origin}`
        : isOpenTask(task)
          ? `${OPEN_PREFIX}${env.taskId(task.openTask)}`
          : env.taskId(task),
    start(task, rng): Episode {
      if (isRankTask(task)) return rankEpisode(task.rankTask, marker, zeros, rng);
      const open = isOpenTask(task);
      const episode = env.start(open ? task.openTask : task, rng);
      return withMappedRewards(episode, (reward) =>
        open ? { ...zeros, ...extra(0, scalar(reward)) } : { ...reward, ...extra(0, 0) },
      );
    },
  };
  const { configure, demonstrate } = env;
  if (configure) wrapped.configure = (next) => withUrpoTasks(configure(next), options);
  if (demonstrate)
    wrapped.demonstrate = (task) =>
      isRankTask(task) ? [task.rankTask.label.join('')] : demonstrate(isOpenTask(task) ? task.openTask : task);
  return wrapped;
}

/**
 * The candidates in another order: `permutation[i]` is the position in `texts` of the one shown
 * i-th, and the true order is rewritten in the new positions.
 */
export function permuted(candidates: RankedCandidates, permutation: readonly number[]): RankedCandidates {
  return {
    texts: permutation.map((i) => candidates.texts[i] as string),
    order: candidates.order.map((i) => permutation.indexOf(i)),
  };
}

function rankEpisode(source: RankItem, marker: string, zeros: RewardVector, rng: Rng): Episode {
  const item = source.reorder
    ? { ...source, ...permuted(source, rng.split('order').shuffle(source.texts.map((_, i) => i))) }
    : source;
  let agreement = 0;
  const reward = (): RewardVector => ({ ...zeros, [RANK_COMPONENT]: agreement, [OPEN_TRUTH_COMPONENT]: 0 });
  return {
    observation: () => rankPrompt(item.statement, item.texts, marker),
    step(action) {
      const predicted = parseRanking(action, item.texts.length);
      agreement = predicted ? rankingAgreement(item.order, predicted) : 0;
      return { reward: reward(), done: true, valid: predicted !== undefined };
    },
    outcome: () => ({ reward: reward(), success: agreement === 1 }),
  };
}

export interface UrpoMixOptions extends UrpoTaskOptions {
  /** Expected shares of each draw: verifiable, ranking and open-ended tasks (normalised to sum 1). */
  verifiable?: number;
  ranking?: number;
  open?: number;
  /** Candidate order of a ranking task's rollouts: each its own ('per-rollout') or the drawn one ('fixed'). */
  rankOrder?: 'per-rollout' | 'fixed';
}

const OPTIONS = {
  verifiable: { type: 'number', default: 0.5, doc: 'share of each draw that is the environment’s own (verifiable) tasks' },
  ranking: {
    type: 'number',
    default: 0.25,
    doc: 'share that is ranking tasks (preference data from the environment’s ground truth)',
  },
  open: { type: 'number', default: 0.25, doc: 'share that is open-ended tasks (verifier hidden; rewarded by the self-referee)' },
  rankSize: {
    type: 'integer',
    default: 2,
    doc: 'largest ranking size N; each ranking task draws N from 2..rankSize (2: pairwise, the format the held-out accuracy is measured in and where invalid rankings are rare)',
  },
  warmStartShare: {
    type: 'number',
    default: 0.25,
    doc: 'ranking items added to the warm start’s training split, as a share of its tasks',
  },
  warmStartLabels: {
    type: 'enum',
    values: ['format', 'truth'],
    default: 'truth',
    doc: "what the warm start's ranking items demonstrate: 'truth' the true order (a referee that judges from the start), 'format' a random order (the format only)",
  },
  rankOrder: {
    type: 'enum',
    values: ['per-rollout', 'fixed'],
    default: 'per-rollout',
    doc: "how a ranking task's rollouts show its candidates: 'per-rollout' each in its own random order (a referee that writes one order whatever it reads then earns its group's mean and no advantage), 'fixed' all in the order drawn",
  },
  marker: {
    type: 'string',
    doc: 'between statement and candidates (default: " rank", " ask", " ?" or " :", the first in the alphabet)',
  },
} as const;

type Resolved = Required<Omit<UrpoMixOptions, 'marker'>> & { marker?: string };

/** The batch mixer: each slot of a draw is verifiable, ranking or open-ended with the given shares (seeded). */
export function urpoMix(options: UrpoMixOptions = {}): TaskSource {
  const resolved = resolveOptions<Resolved>('urpo-mix', OPTIONS, options as Record<string, unknown>);
  const shares = [resolved.verifiable, resolved.ranking, resolved.open];
  if (shares.some((s) => !(s >= 0)) || !(shares.reduce((a, b) => a + b, 0) > 0))
    throw new UsageError(`urpo-mix: shares verifiable, ranking, open must be >= 0 and not all 0, got ${shares.join(', ')}`);
  if (!(resolved.rankSize >= 2 && resolved.rankSize <= 9))
    throw new UsageError(`urpo-mix: option 'rankSize' must be 2..9, got ${resolved.rankSize}`);
  if (!(resolved.warmStartShare >= 0))
    throw new UsageError(`urpo-mix: option 'warmStartShare' must be >= 0, got ${resolved.warmStartShare}`);
  let env: Environment | undefined;
  return defineTaskSource({
    name: 'urpo-mix',
    summary:
      'URPO’s mixed batch: the environment’s verifiable tasks, ranking tasks built from its ground truth, and open-ended tasks rewarded by the policy’s own ranking (urpo-self-referee)',
    paper: URPO_PAPER,
    unverified: [
      'The mixing shares (0.5 verifiable, 0.25 ranking, 0.25 open-ended) are ours: the paper does not state its ratios in what we could read.',
      'Each rollout of a ranking task shows the candidates in its own random order (ours, `rankOrder` per-rollout): a referee that writes one order whatever it reads then earns its group’s mean reward and no advantage; with one order for the whole group, such a referee’s groups all agree and GRPO stops teaching it (measured: the referee collapsed onto one order on 2 of 2 seeds).',
      'Preference data is synthesised from the environment’s ground truth (countdown: the expert equation and its operator variants ranked by the distance of their value to the target) instead of human preference triples.',
    ],
    options: OPTIONS,
    resolved,
    open(tasks) {
      const own = tasks.filter((t) => !isRankTask(t));
      if (!env)
        throw new UsageError('urpo-mix: the run must train in its environment (the source’s environment() was not applied)');
      const world = env;
      let drawn = [0, 0, 0];
      let built = 0;
      const stream: TaskStream = {
        draw(count, rng) {
          drawn = [0, 0, 0];
          return Array.from({ length: count }, (_, slot) => {
            const kind = rng.categorical(shares);
            const task = own[rng.int(0, own.length - 1)];
            if (kind === 1) {
              const item = rankItem(world, task, rng.split(`rank/${slot}`), rng.int(2, resolved.rankSize), 'truth', `${built}`);
              if (item) {
                built++;
                drawn[1]++;
                return { rankTask: resolved.rankOrder === 'per-rollout' ? { ...item, reorder: true } : item } satisfies RankTask;
              }
            }
            if (kind === 2) {
              drawn[2]++;
              return { openTask: task } satisfies OpenTask;
            }
            drawn[0]++;
            return task;
          });
        },
        save: () => ({ built }),
        load(state) {
          built = (state as { built: number }).built;
        },
        metrics: () => ({ verifiable: drawn[0] as number, ranking: drawn[1] as number, open: drawn[2] as number }),
      };
      return stream;
    },
    environment(base) {
      env = base;
      return withUrpoTasks(base, resolved);
    },
    configure: (next) => urpoMix({ ...resolved, ...next }),
  });
}
