/**
 * A prioritised stream of training tasks: the source keeps, per task, a moving average of the
 * policy's success on it and draws tasks (with replacement) with probability proportional to
 * (priority + floor)^(1 / temperature). Priorities:
 * - learnability p(1 - p): tasks the policy solves sometimes, where a group's rewards vary
 *   (Foster and Foerster, "Learning to Reason at the Frontier of Learnability", 2025);
 * - difficulty 1 - p;
 * - progress |fast - slow|: absolute learning progress, the gap between a fast and a slow
 *   moving average of success (Portelas et al., "Teacher algorithms for curriculum learning of
 *   Deep RL in continuously parameterized environments", 2019).
 * A task not yet drawn counts as p = 0.5. The test split never reaches a task source.
 */
import {
  defineTaskSource,
  type Rng,
  resolveOptions,
  type TaskFeedback,
  type TaskSource,
  type TaskStream,
} from '@policy-lab/core';

export type PriorityScore = 'learnability' | 'difficulty' | 'progress';

export interface PrioritizedOptions {
  score?: PriorityScore;
  /** Sharpness: 1 draws in proportion to the priority; lower concentrates on the top, higher flattens. */
  temperature?: number;
  /** Added to every priority so that no task is never drawn. */
  floor?: number;
  /** Rate of the moving average of success (the slow average of 'progress' moves at a quarter of it). */
  rate?: number;
}

const OPTIONS = {
  score: {
    type: 'enum',
    values: ['learnability', 'difficulty', 'progress'],
    default: 'learnability',
    doc: 'what a task is prioritised by: p(1-p), 1-p, or |fast - slow| learning progress of its success rate p',
  },
  temperature: { type: 'number', default: 1, doc: 'draw probability proportional to (priority + floor)^(1/temperature)' },
  floor: { type: 'number', default: 0.01, doc: 'added to every priority, so every task keeps a chance' },
  rate: { type: 'number', default: 0.5, doc: 'moving-average rate of a task’s success after each of its groups' },
} as const;

/** Per task: success averages (fast, slow); absent until the task is first seen. */
type Scores = Map<number, { fast: number; slow: number }>;

export function priorityOf(score: PriorityScore, entry: { fast: number; slow: number } | undefined): number {
  const p = entry?.fast ?? 0.5;
  if (score === 'learnability') return p * (1 - p);
  if (score === 'difficulty') return 1 - p;
  return entry ? Math.abs(entry.fast - entry.slow) : 0.25;
}

export function prioritized(options: PrioritizedOptions = {}): TaskSource {
  const resolved = resolveOptions<Required<PrioritizedOptions>>('prioritized', OPTIONS, options as Record<string, unknown>);
  if (!(resolved.temperature > 0)) throw new RangeError(`prioritized: temperature must be > 0, got ${resolved.temperature}`);
  if (!(resolved.floor >= 0)) throw new RangeError(`prioritized: floor must be >= 0, got ${resolved.floor}`);
  if (!(resolved.rate > 0 && resolved.rate <= 1))
    throw new RangeError(`prioritized: rate must be in (0, 1], got ${resolved.rate}`);
  return defineTaskSource({
    name: 'prioritized',
    summary: 'draws training tasks in proportion to a score it keeps per task (learnability, difficulty or learning progress)',
    paper: { title: 'Learning to Reason at the Frontier of Learnability', arxiv: '2502.12272', year: 2025 },
    options: OPTIONS,
    resolved,
    math: '$P(q) \\propto (s(q) + \\epsilon)^{1/\\tau}$, $s(q) = p_q(1-p_q)$ (learnability), $1 - p_q$, or $|\\bar p^{fast}_q - \\bar p^{slow}_q|$',
    open: (tasks, ctx) => openPrioritized(tasks, ctx.taskId, resolved),
    configure: (next) => prioritized({ ...resolved, ...next }),
  });
}

function openPrioritized(
  tasks: readonly unknown[],
  taskId: (task: unknown) => string,
  o: Required<PrioritizedOptions>,
): TaskStream {
  const scores: Scores = new Map();
  let indexById: Map<string, number> | undefined;
  let weights: number[] | undefined;
  const weightsNow = (): number[] => {
    weights ??= tasks.map((_, i) => (priorityOf(o.score, scores.get(i)) + o.floor) ** (1 / o.temperature));
    return weights;
  };
  return {
    draw(count: number, rng: Rng) {
      const w = weightsNow();
      return Array.from({ length: count }, () => tasks[rng.categorical(w)]);
    },
    observe(feedback: readonly TaskFeedback[]) {
      indexById ??= new Map(tasks.map((task, i) => [taskId(task), i]));
      for (const f of feedback) {
        const i = indexById.get(f.taskId);
        if (i === undefined || f.successes.length === 0) continue;
        const mean = f.successes.filter(Boolean).length / f.successes.length;
        const before = scores.get(i) ?? { fast: 0.5, slow: 0.5 };
        scores.set(i, {
          fast: before.fast + o.rate * (mean - before.fast),
          slow: before.slow + (o.rate / 4) * (mean - before.slow),
        });
      }
      weights = undefined;
    },
    save: () => [...scores.entries()].map(([i, s]) => [i, s.fast, s.slow]),
    load(state) {
      scores.clear();
      for (const [i, fast, slow] of state as [number, number, number][]) scores.set(i, { fast, slow });
      weights = undefined;
    },
    metrics() {
      const w = weightsNow();
      const total = w.reduce((a, b) => a + b, 0);
      const entropy = -w.reduce((a, x) => (x > 0 ? a + (x / total) * Math.log(x / total) : a), 0);
      return { seenTasks: scores.size, drawEntropy: tasks.length > 1 ? entropy / Math.log(tasks.length) : 0 };
    },
  };
}
