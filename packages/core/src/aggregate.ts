/**
 * The one loss aggregation of the project: every loss of every package reduces its per-token
 * values through `aggregateLoss`, so the same batch is normalised the same way whatever loss
 * trains on it. Core has no tensor library: the caller passes its `tf` namespace, and this
 * file only names the handful of operations it uses.
 */
import type { Aggregation } from './contracts.js';
import { RunError } from './errors.js';

/** The slice of a TensorFlow.js-like namespace that aggregation uses. */
export interface AggregationOps<T> {
  mul(a: T, b: T | number): T;
  div(a: T, b: T | number): T;
  sum(x: T, axis?: number): T;
  maximum(a: T, b: T | number): T;
  greater(a: T, b: T | number): T;
  cast(x: T, dtype: 'float32'): T;
  expandDims(x: T, axis?: number): T;
}

/**
 * Reduces [rows, T] per-token values to a scalar. `mask` is [rows, T] (1 on trained tokens),
 * `weights` is [rows] (each row's rollout loss weight; omitted = all 1).
 *
 * Rows with weight 0 (MC-GRPO's pivot, filtered samples) leave every denominator, so adding
 * such a row changes neither the loss nor its gradient. A row with weight > 0 but no trained
 * token (an empty completion) counts in the row denominators only when `rows` is 'all'.
 * With L the weighted per-token values, M the effective mask, T the trained tokens (sum M) and
 * B the rows counted ('trained': rows with a trained token; 'all': every row of weight > 0):
 * - token-mean: sum(M L) / T
 * - seq-mean-token-sum: sum(M L) / B
 * - seq-mean-token-mean: (1/B) sum_i sum_t(M L) / max(sum_t M, 1)
 * - seq-mean-token-sum-norm: sum(M L) / (B x normLength)
 *
 * With rows = 'trained' these are verl's `agg_loss` modes (verl/trainer/ppo/core_algos.py at
 * 018f23b5f83a: one process, global_batch_size unset = the non-empty rows, loss_scale_factor =
 * normLength; unset there it is the padded response width). verl before `global_batch_info`
 * divided seq-mean-token-sum-norm by the padded width only (no B). With rows = 'all' they are
 * TRL GRPOTrainer's: loss_type grpo = seq-mean-token-mean and dr_grpo = seq-mean-token-sum-norm
 * (normLength = max_completion_length) over all B rows, empty ones included
 * (trl/trainer/grpo_trainer.py); bnpo, dapo, cispo and vespo are token-mean.
 */
export function aggregateLoss<T>(
  ops: AggregationOps<NoInfer<T>>,
  perToken: T,
  mask: T,
  weights: T | undefined,
  mode: Aggregation,
  normLength: number,
  rows: 'trained' | 'all' = 'trained',
): T {
  const active = weights === undefined ? undefined : ops.cast(ops.greater(weights, 0), 'float32');
  const effectiveMask = active === undefined ? mask : ops.mul(mask, ops.expandDims(active, 1));
  const masked = ops.mul(perToken, effectiveMask);
  const weighted = weights === undefined ? masked : ops.mul(masked, ops.expandDims(weights, 1));
  const rowSums = ops.sum(weighted, 1);
  const rowTokens = ops.sum(effectiveMask, 1);
  const counted =
    rows === 'trained'
      ? ops.greater(rowTokens, 0)
      : active === undefined
        ? ops.greater(ops.maximum(rowTokens, 1), 0) // every row
        : ops.greater(active, 0);
  const rowCount = ops.maximum(ops.sum(ops.cast(counted, 'float32')), 1);
  switch (mode) {
    case 'token-mean':
      return ops.div(ops.sum(rowSums), ops.maximum(ops.sum(rowTokens), 1));
    case 'seq-mean-token-sum':
      return ops.div(ops.sum(rowSums), rowCount);
    case 'seq-mean-token-mean':
      return ops.div(ops.sum(ops.div(rowSums, ops.maximum(rowTokens, 1))), rowCount);
    case 'seq-mean-token-sum-norm':
      if (!(normLength > 0)) throw new RunError(`seq-mean-token-sum-norm needs normLength > 0, got ${normLength}`);
      return ops.div(ops.sum(rowSums), ops.mul(rowCount, normLength));
    default:
      throw new RunError(`unknown aggregation '${String(mode)}'`);
  }
}
