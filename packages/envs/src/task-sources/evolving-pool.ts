/**
 * An evolving pool of training tasks: the run trains on a pool of at most `size` tasks, drawn
 * uniformly with replacement. After each step a task leaves the pool when, for `patience` of its
 * groups in a row, the policy solved it (every rollout, or a share of at least `mastery`) or the
 * group carried no learning signal (every rollout earned the same reward, so a group-relative
 * advantage is 0 for all of them). Freed places are filled first by tasks the policy wrote, then
 * by unused tasks of the training split, in the split's (seeded) order. A retired task never
 * comes back.
 *
 * Tasks written by the policy: at the end of each step the policy reads `write` pool tasks as it
 * would play them and continues; the environment's `parseTask` reads each text back as a task,
 * refusing malformed, unsolvable and test-split tasks (the trainer refuses test tasks once more).
 * Countdown reads an equation as the task of reaching its value with its numbers, so a wrong
 * answer to a pool task becomes a new task near what the policy does (a proposer writing a
 * problem whose answer the environment computes, as in Absolute Zero, Zhao et al. 2025,
 * arXiv:2505.03335). The writing is charged to the budget as generated tokens.
 *
 * The retirement rule follows the observation that groups with identical rewards give GRPO no
 * gradient and should be replaced (DAPO's dynamic sampling, Yu et al. 2025, arXiv:2503.14476;
 * the pool-update rule of "Learning to Reason at the Frontier of Learnability", 2025).
 */
import {
  defineTaskSource,
  type ProposeContext,
  type Rng,
  resolveOptions,
  type TaskFeedback,
  type TaskSource,
  type TaskStream,
  UsageError,
} from '@policy-lab/core';

export interface EvolvingPoolOptions {
  /** The pool's bound: it never holds more tasks. */
  size?: number;
  /** Groups in a row that must show mastery (or no signal) before a task retires. */
  patience?: number;
  /** A group whose success rate is at least this shows mastery. */
  mastery?: number;
  /** Retire tasks the policy has mastered. */
  retireMastered?: boolean;
  /** Retire tasks whose groups carry no signal (every rollout the same reward). */
  retireFlat?: boolean;
  /** Tasks the policy is asked to write each step (0: none; nothing is asked when the environment cannot read tasks). */
  write?: number;
  /** Tokens each written task may take. */
  writeTokens?: number;
}

const OPTIONS = {
  size: { type: 'integer', default: 64, doc: 'the pool’s bound: at most this many tasks are trained on at a time' },
  patience: {
    type: 'integer',
    default: 2,
    doc: 'K: a task retires after K groups in a row showed mastery (or no signal)',
  },
  mastery: {
    type: 'number',
    default: 1,
    doc: 'a group whose success rate is at least this shows mastery (1: every rollout succeeded)',
  },
  retireMastered: { type: 'boolean', default: true, doc: 'retire tasks the policy has mastered' },
  retireFlat: {
    type: 'boolean',
    default: true,
    doc: 'retire tasks whose groups carry no signal: every rollout of the group earned the same reward',
  },
  write: {
    type: 'integer',
    default: 4,
    doc: 'tasks the policy is asked to write each step, read back by the environment’s parseTask (0: none)',
  },
  writeTokens: { type: 'integer', default: 16, doc: 'tokens each written task may take (charged as generated tokens)' },
} as const;

/** One task in the pool: an index into the training split, or a task the policy wrote. */
interface Entry {
  id: string;
  index?: number;
  written?: unknown;
  /** Groups in a row that showed mastery, and that carried no signal. */
  mastered: number;
  flat: number;
}

/** Per-step counters (reset at each observe) and run totals. */
interface Counters {
  added: number;
  addedWritten: number;
  retired: number;
  retiredMastered: number;
  retiredFlat: number;
  writtenAccepted: number;
  writtenRejected: number;
  writtenDuplicates: number;
}

const zeroCounters = (): Counters => ({
  added: 0,
  addedWritten: 0,
  retired: 0,
  retiredMastered: 0,
  retiredFlat: 0,
  writtenAccepted: 0,
  writtenRejected: 0,
  writtenDuplicates: 0,
});

/** The checkpointed state (JSON). */
interface PoolState {
  cursor: number;
  pool: [id: string, index: number | null, written: unknown, mastered: number, flat: number][];
  pending: unknown[];
  retired: string[];
  totals: Counters;
}

export function evolvingPool(options: EvolvingPoolOptions = {}): TaskSource {
  const resolved = resolveOptions<Required<EvolvingPoolOptions>>('evolving-pool', OPTIONS, options as Record<string, unknown>);
  for (const key of ['size', 'patience', 'writeTokens'] as const)
    if (!(resolved[key] >= 1)) throw new UsageError(`evolving-pool: option '${key}' must be >= 1, got ${resolved[key]}`);
  if (!(resolved.write >= 0)) throw new UsageError(`evolving-pool: option 'write' must be >= 0, got ${resolved.write}`);
  if (!(resolved.mastery > 0 && resolved.mastery <= 1))
    throw new UsageError(`evolving-pool: option 'mastery' must be in (0, 1], got ${resolved.mastery}`);
  return defineTaskSource({
    name: 'evolving-pool',
    summary:
      'a bounded pool of training tasks: retires tasks the policy has mastered or that carry no signal, adds tasks the policy writes and unused training tasks',
    paper: { title: 'Absolute Zero: Reinforced Self-play Reasoning with Zero Data', arxiv: '2505.03335', year: 2025 },
    unverified: [
      'the retirement rule (K groups in a row mastered or with identical rewards) and the refill order (written tasks first) are this implementation’s choices, not a paper’s',
    ],
    options: OPTIONS,
    resolved,
    math: 'retire $q$ when $\\bar s_{q,t-k} \\ge m$ or $\\max_i r_{q,t-k,i} = \\min_i r_{q,t-k,i}$ for $k = 0..K-1$; $|\\mathcal{P}_t| \\le N$',
    open: (tasks, ctx) => openEvolvingPool(tasks, ctx.taskId, resolved),
    configure: (next) => evolvingPool({ ...resolved, ...next }),
  });
}

export function openEvolvingPool(
  tasks: readonly unknown[],
  taskId: (task: unknown) => string,
  o: Required<EvolvingPoolOptions>,
): TaskStream {
  let pool: Entry[] = [];
  let cursor = 0;
  /** Accepted written tasks waiting for a place (at most `size`). */
  let pending: { id: string; task: unknown }[] = [];
  /** Every id that ever left the pool: it never comes back. */
  let retired = new Set<string>();
  let step = zeroCounters();
  let totals = zeroCounters();

  const taskOf = (e: Entry) => (e.index !== undefined ? tasks[e.index] : e.written);
  const known = (id: string) => retired.has(id) || pool.some((e) => e.id === id) || pending.some((p) => p.id === id);
  const count = (key: keyof Counters, by = 1) => {
    step[key] += by;
    totals[key] += by;
  };
  const refill = () => {
    while (pool.length < o.size && pending.length > 0) {
      const next = pending.shift() as { id: string; task: unknown };
      pool.push({ id: next.id, written: next.task, mastered: 0, flat: 0 });
      count('added');
      count('addedWritten');
    }
    while (pool.length < o.size && cursor < tasks.length) {
      const index = cursor++;
      const id = taskId(tasks[index]);
      if (known(id)) continue;
      pool.push({ id, index, mastered: 0, flat: 0 });
      count('added');
    }
  };
  refill();
  // The initial fill is the run's starting pool, not an addition of step 1.
  step = zeroCounters();
  totals = zeroCounters();
  if (pool.length === 0) throw new UsageError('evolving-pool: the training split is empty');

  return {
    draw(n: number, rng: Rng) {
      return Array.from({ length: n }, () => taskOf(pool[rng.int(0, pool.length - 1)] as Entry));
    },
    observe(feedback: readonly TaskFeedback[]) {
      step = zeroCounters();
      for (const f of feedback) {
        const entry = pool.find((e) => e.id === f.taskId);
        if (!entry || f.successes.length === 0) continue;
        const rate = f.successes.filter(Boolean).length / f.successes.length;
        const flat = Math.max(...f.rewards) - Math.min(...f.rewards) <= 1e-12;
        entry.mastered = rate >= o.mastery ? entry.mastered + 1 : 0;
        entry.flat = flat ? entry.flat + 1 : 0;
        const reason =
          o.retireMastered && entry.mastered >= o.patience
            ? 'retiredMastered'
            : o.retireFlat && entry.flat >= o.patience
              ? 'retiredFlat'
              : undefined;
        // The last task stays when nothing could take its place.
        if (!reason || (pool.length === 1 && pending.length === 0 && cursor >= tasks.length)) continue;
        pool = pool.filter((e) => e !== entry);
        retired.add(entry.id);
        count('retired');
        count(reason);
      }
      refill();
    },
    async propose(ctx: ProposeContext) {
      if (o.write === 0 || !ctx.parseTask) return;
      for (let k = 0; k < o.write; k++) {
        const shown = taskOf(pool[ctx.rng.int(0, pool.length - 1)] as Entry);
        const [text] = await ctx.generate(ctx.observation(shown), { count: 1, maxTokens: o.writeTokens });
        if (text === undefined) break; // the budget affords no more writing
        const task = ctx.parseTask(text);
        if (task === undefined) {
          count('writtenRejected');
          continue;
        }
        const id = ctx.taskId(task);
        if (known(id)) {
          count('writtenDuplicates');
          continue;
        }
        count('writtenAccepted');
        pending.push({ id, task });
        if (pending.length > o.size) pending.shift();
      }
      refill();
    },
    save(): PoolState {
      return {
        cursor,
        pool: pool.map((e) => [e.id, e.index ?? null, e.index === undefined ? e.written : null, e.mastered, e.flat]),
        pending: pending.map((p) => p.task),
        retired: [...retired],
        totals: { ...totals },
      };
    },
    load(state) {
      const s = state as PoolState;
      cursor = s.cursor;
      pool = s.pool.map(([id, index, written, mastered, flat]) => ({
        id,
        ...(index !== null ? { index } : { written }),
        mastered,
        flat,
      }));
      pending = s.pending.map((task) => ({ id: taskId(task), task }));
      retired = new Set(s.retired);
      totals = { ...s.totals };
      step = zeroCounters();
    },
    metrics() {
      return {
        poolSize: pool.length,
        writtenInPool: pool.filter((e) => e.index === undefined).length,
        pending: pending.length,
        trainTasksUsed: cursor,
        ...step,
      };
    },
  };
}
