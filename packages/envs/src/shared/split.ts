/**
 * Train/test membership decided by a hash of the task's content, not by the seed, so the
 * two splits never share a task whatever seeds a run uses.
 */

/**
 * Default split sizes (`tasks(split, { seed })` without a count). The test split is the
 * evaluation set: at least 200 distinct tasks at every environment's default difficulty, so
 * that a comparison's conclusions rest on more than a few tasks (`splitSizes` measures it).
 * The training pool is what a run samples from, with replacement: 10x the 5,000 tasks a
 * 20,000-episode run with groups of 4 draws, where the environment has that many.
 */
export const TEST_SPLIT_SIZE = 500;
export const TRAIN_POOL_SIZE = 50_000;

/** FNV-1a over the UTF-16 units of a key. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** One task in `every` belongs to the test split. */
export function isTestKey(key: string, every = 5): boolean {
  return fnv1a(key) % every === 0;
}

/**
 * Draws tasks until `count` distinct tasks of the wanted split exist, or until the split looks
 * exhausted: more draws in a row found nothing new than `patience` and than 20 times the draws
 * each new task took so far (small difficulty settings have few distinct tasks; rejection
 * sampling with a low acceptance rate must not stop early). Asking for more tasks than a split
 * holds returns the whole split quickly instead of drawing `count` times over.
 */
export function drawSplit<T>(
  split: 'train' | 'test',
  count: number,
  draw: () => T | undefined,
  key: (task: T) => string,
  patience = 2000,
): T[] {
  const out: T[] = [];
  const seen = new Set<string>();
  let draws = 0;
  let drawsPerTask = 1;
  for (let misses = 0; out.length < count && (misses < patience || misses < 20 * drawsPerTask); ) {
    draws++;
    const task = draw();
    const k = task === undefined ? undefined : key(task);
    if (task === undefined || k === undefined || isTestKey(k) !== (split === 'test') || seen.has(k)) {
      misses++;
      continue;
    }
    misses = 0;
    seen.add(k);
    out.push(task);
    drawsPerTask = draws / out.length;
  }
  return out;
}

/** The split's size at the default count: `tasks(split, { seed })` as the trainer and `bench env run` draw it. */
export interface SplitSizes {
  /** Distinct tasks in the test split (`tasks('test', { seed: 0 })`). */
  test: number;
  /** Tasks in the training pool a run samples from (`tasks('train', { seed })`). */
  train: number;
  /** Distinct tasks in that pool. */
  trainDistinct: number;
}

/**
 * Measures an environment's splits at its current difficulty. A trainer checks an explicit
 * `evalTasks` against `test`; a report says how often training tasks repeat when a run
 * draws more than `trainDistinct / 10` of them.
 */
export function splitSizes<T>(
  env: { tasks(split: 'train' | 'test', options: { seed: number; count?: number }): T[]; taskId(task: T): string },
  seed = 0,
): SplitSizes {
  const test = env.tasks('test', { seed: 0 });
  const train = env.tasks('train', { seed });
  return {
    test: new Set(test.map((t) => env.taskId(t))).size,
    train: train.length,
    trainDistinct: new Set(train.map((t) => env.taskId(t))).size,
  };
}
