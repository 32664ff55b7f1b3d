/** How a step's training items are cut: minibatches per epoch, micro-batches per forward pass. */
import { type Rng, type RowRollouts, RunError } from '@policy-lab/core';
import type { TrainingRow } from './batch.js';

/**
 * The minibatches of one epoch: `items` shuffled and cut into `count` slices (fewer when there
 * are fewer items). `groupOf` keeps each group's items in one slice (losses that read whole
 * groups, DRPO): groups are shuffled and cut instead.
 */
export function minibatchesOf<T>(items: readonly T[], count: number, order: Rng, groupOf?: (item: T) => string): T[][] {
  if (items.length === 0) return [];
  const units: T[][] = groupOf ? groupsOf(items, groupOf) : items.map((item) => [item]);
  const shuffled = order.shuffle(units);
  const size = Math.ceil(shuffled.length / Math.min(count, shuffled.length));
  const out: T[][] = [];
  for (let start = 0; start < shuffled.length; start += size) out.push(shuffled.slice(start, start + size).flat());
  return out;
}

/** Items gathered by group, in first-seen order. */
export function groupsOf<T>(items: readonly T[], groupOf: (item: T) => string): T[][] {
  const byGroup = new Map<string, T[]>();
  for (const item of items) {
    const key = groupOf(item);
    const list = byGroup.get(key);
    if (list) list.push(item);
    else byGroup.set(key, [item]);
  }
  return [...byGroup.values()];
}

export const rowGroup = (row: TrainingRow): string => row.owner?.group ?? '';

/** Consecutive chunks of at most `size` items. */
export function microBatches<T>(items: readonly T[], size: number): T[][] {
  const step = Math.max(1, size);
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += step) out.push(items.slice(start, start + step));
  return out;
}

/** Micro-batches that never split a group: whole groups are added while the chunk stays within `size` rows. */
export function groupMicroBatches(rows: readonly TrainingRow[], size: number): TrainingRow[][] {
  const out: TrainingRow[][] = [];
  let current: TrainingRow[] = [];
  for (const group of groupsOf(rows, rowGroup)) {
    if (current.length > 0 && current.length + group.length > size) {
      out.push(current);
      current = [];
    }
    current = [...current, ...group];
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** The batch's rollouts for losses that read them: local indices, groups, verdicts, rewards. */
export function rowRollouts(rows: readonly TrainingRow[]): RowRollouts {
  const index = new Map<string, number>();
  const group: string[] = [];
  const success: boolean[] = [];
  const reward: number[] = [];
  const ofRow = rows.map((row) => {
    if (!row.owner) throw new RunError('this loss reads the rollouts of its rows, but the trainer built rows without them');
    let k = index.get(row.owner.id);
    if (k === undefined) {
      k = group.length;
      index.set(row.owner.id, k);
      group.push(row.owner.group);
      success.push(row.owner.success);
      reward.push(row.owner.reward);
    }
    return k;
  });
  return { ofRow, group, success, reward };
}

/** The rows and action tokens that count in the loss's denominators (weight > 0, some tokens). */
export function activeCounts(rows: readonly TrainingRow[]): { rows: number; tokens: number } {
  let count = 0;
  let tokens = 0;
  for (const row of rows) {
    const n = row.tokens.length - row.actionStart;
    if (!(row.weight > 0) || n <= 0) continue;
    count += 1;
    tokens += n;
  }
  return { rows: count, tokens };
}
