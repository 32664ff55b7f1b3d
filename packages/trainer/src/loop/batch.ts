/**
 * Turns rollouts into [rows, T] tensors: one row per turn, teacher forcing over the turn's
 * prompt followed by its action, loss on the action tokens only.
 */
import type { Advantages, Rollout } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { rowsWithinAttention } from '../model/memory.js';
import { PAD } from '../tokenizer/char-tokenizer.js';

export interface TrainingRow {
  tokens: number[];
  /** Index in `tokens` of the first action token. */
  actionStart: number;
  oldLogprobs: number[];
  advantage: number;
  /** One advantage per action token, when the estimator gives them (ROVER); else `advantage` on each. */
  tokenAdvantages?: number[];
  weight: number;
  /** Weight of the divergence penalty on this row (GARDO's gate); 1 when absent. */
  divergenceWeight?: number;
  /** Critic target of this turn, when the estimator gives returns. */
  target?: number;
  /** The rollout this row belongs to (losses that read `LossBatch.rollouts`). */
  owner?: RowOwner;
  /** Teacher forcing: the reference tokens read at the action's positions (as many as the action's). */
  forcedTokens?: readonly number[];
}

export interface RowOwner {
  id: string;
  group: string;
  success: boolean;
  reward: number;
}

export function rowsFromRollouts(
  groups: readonly (readonly Rollout[])[],
  advantages: Advantages,
  scalar?: (reward: Rollout['reward']) => number,
): TrainingRow[] {
  const rows: TrainingRow[] = [];
  groups.forEach((group, g) =>
    group.forEach((rollout, i) => {
      const weight = advantages.weights[g]?.[i] ?? 1;
      if (!(weight > 0)) return; // excluded rollouts (e.g. MC-GRPO's pivot) cost no compute
      const divergenceWeight = advantages.divergenceWeights?.[g]?.[i];
      rollout.turns.forEach((turn, t) => {
        if (turn.actionTokens.length === 0) return;
        const tokenAdvantages = advantages.tokens?.[g]?.[i]?.[t];
        rows.push({
          tokens: [...turn.promptTokens, ...turn.actionTokens],
          actionStart: turn.promptTokens.length,
          oldLogprobs: [...turn.logprobs],
          advantage: advantages.turns?.[g]?.[i]?.[t] ?? (advantages.rollout[g]?.[i] as number),
          ...(tokenAdvantages ? { tokenAdvantages: [...tokenAdvantages] } : {}),
          weight,
          ...(turn.forcedTokens ? { forcedTokens: turn.forcedTokens } : {}),
          ...(divergenceWeight !== undefined ? { divergenceWeight } : {}),
          ...(advantages.returns?.[g]?.[i]?.[t] !== undefined ? { target: advantages.returns[g]?.[i]?.[t] as number } : {}),
          ...(scalar
            ? { owner: { id: rollout.id, group: rollout.groupId, success: rollout.success, reward: scalar(rollout.reward) } }
            : {}),
        });
      });
    }),
  );
  return rows;
}

/**
 * Consecutive groups of items, each of at most `max` rows by `rowsOf` (an item larger than that is
 * a group of its own), filled greedily in order.
 */
export function packByRows<T>(items: readonly T[], rowsOf: (item: T) => number, max: number): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let count = 0;
  for (const item of items) {
    const n = rowsOf(item);
    if (current.length > 0 && count + n > max) {
      out.push(current);
      current = [];
      count = 0;
    }
    current.push(item);
    count += n;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** Rows per micro-batch: at most `cap`, fewer when the longest row's attention would exceed ATTENTION_FLOATS. */
export function microBatchSize(rows: readonly TrainingRow[], heads: number, cap: number): number {
  return rowsWithinAttention(Math.max(1, ...rows.map((r) => r.tokens.length - 1)), heads, cap);
}

export interface BatchTensors {
  inputs: tf.Tensor2D;
  targets: tf.Tensor2D;
  mask: tf.Tensor2D;
  oldLogprobs: tf.Tensor2D;
  advantages: tf.Tensor2D;
  weights: tf.Tensor1D;
  /** [rows] weights of the divergence penalty, when some row has one (GARDO's gate). */
  divergenceWeights?: tf.Tensor1D;
  /** Critic targets on trained tokens, when every row has one. */
  returns?: tf.Tensor2D;
  /**
   * When some row is teacher-forced: the reference token each position reads next, [rows, T]
   * (equal to `targets` on rows without forced tokens); `targets` then hold the drawn tokens.
   */
  forcedTargets?: tf.Tensor2D;
  trainedTokens: number;
}

export function toTensors(rows: readonly TrainingRow[]): BatchTensors {
  const T = Math.max(...rows.map((r) => r.tokens.length)) - 1;
  const R = rows.length;
  const inputs = new Int32Array(R * T).fill(PAD);
  const targets = new Int32Array(R * T).fill(PAD);
  const mask = new Float32Array(R * T);
  const old = new Float32Array(R * T);
  const adv = new Float32Array(R * T);
  const withTargets = rows.length > 0 && rows.every((r) => r.target !== undefined);
  const targetsOut = new Float32Array(withTargets ? R * T : 0);
  const forced = rows.some((r) => r.forcedTokens !== undefined);
  const forcedTargets = new Int32Array(forced ? R * T : 0).fill(PAD);
  let trainedTokens = 0;
  rows.forEach((row, r) => {
    // Teacher forcing: the policy reads the reference at the action's positions and is scored on the drawn tokens.
    const read = row.forcedTokens ? [...row.tokens.slice(0, row.actionStart), ...row.forcedTokens] : row.tokens;
    for (let t = 0; t < row.tokens.length - 1; t++) {
      inputs[r * T + t] = read[t] as number;
      targets[r * T + t] = row.tokens[t + 1] as number;
      if (forced) forcedTargets[r * T + t] = read[t + 1] as number;
      // position t predicts token t+1: action tokens are predicted from actionStart - 1 on
      const actionIndex = t + 1 - row.actionStart;
      if (actionIndex >= 0) {
        mask[r * T + t] = 1;
        old[r * T + t] = row.oldLogprobs[actionIndex] ?? 0;
        adv[r * T + t] = row.tokenAdvantages?.[actionIndex] ?? row.advantage;
        if (withTargets) targetsOut[r * T + t] = row.target as number;
        trainedTokens += 1;
      }
    }
  });
  return {
    inputs: tf.tensor2d(inputs, [R, T], 'int32'),
    targets: tf.tensor2d(targets, [R, T], 'int32'),
    mask: tf.tensor2d(mask, [R, T]),
    oldLogprobs: tf.tensor2d(old, [R, T]),
    advantages: tf.tensor2d(adv, [R, T]),
    weights: tf.tensor1d(rows.map((r) => r.weight)),
    ...(rows.some((r) => r.divergenceWeight !== undefined)
      ? { divergenceWeights: tf.tensor1d(rows.map((r) => r.divergenceWeight ?? 1)) }
      : {}),
    ...(withTargets ? { returns: tf.tensor2d(targetsOut, [R, T]) } : {}),
    ...(forced ? { forcedTargets: tf.tensor2d(forcedTargets, [R, T], 'int32') } : {}),
    trainedTokens,
  };
}

export function disposeBatch(batch: BatchTensors): void {
  tf.dispose([
    batch.inputs,
    batch.targets,
    batch.mask,
    batch.oldLogprobs,
    batch.advantages,
    batch.weights,
    ...(batch.divergenceWeights ? [batch.divergenceWeights] : []),
    ...(batch.returns ? [batch.returns] : []),
    ...(batch.forcedTargets ? [batch.forcedTargets] : []),
  ]);
}
