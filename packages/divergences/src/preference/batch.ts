/**
 * The contracts of preference objectives: what a trainer hands them (paired or unpaired
 * batches of sequence log-probabilities) and what they give back (a scalar loss and the
 * reward metrics TRL logs).
 */
import type { PreferenceBatch as CorePreferenceBatch, OptionSpec, PaperRef } from '@policy-lab/core';
import type { Tensor, Tf } from '../tensor-types.js';
import type { PreferenceReference } from './reference.js';

/**
 * Chosen/rejected pairs as [pairs] tensors: the core contract the trainer already builds for
 * `PolicyLoss.pairwise`, so a preference objective plugs into it unchanged.
 *
 * - `chosenLogps`, `rejectedLogps`: log pi_theta summed over the completion's action tokens
 *   (differentiable).
 * - `refChosenLogps`, `refRejectedLogps`: the same under the frozen reference, for the
 *   objectives with `needs.reference`.
 * - `chosenLengths`, `rejectedLengths`: action-token counts. Length-normalised objectives
 *   (IPO, sigmoid-norm, SimPO, ORPO) divide by them, and the NLL term of SFT / ORPO / CPO is
 *   the token mean over the batch, -sum(chosenLogps) / sum(chosenLengths): TRL's
 *   cross-entropy over every chosen token, so no per-token tensor is needed.
 */
export type PreferenceBatch<T = Tensor> = CorePreferenceBatch<T>;

/**
 * Unpaired examples for KTO, as [n] tensors: each completion carries a desirable or
 * undesirable label.
 */
export interface KtoBatch<T = Tensor> {
  /** log pi_theta(y_i | x_i), summed over action tokens, [n] (differentiable). */
  logps: T;
  /** log pi_ref(y_i | x_i), [n]. */
  refLogps: T;
  /** One label per example: true for a desirable completion. */
  desirable: readonly boolean[];
  /**
   * The KL anchor's inputs: log pi_theta and log pi_ref of mismatched completions (example i's
   * prompt with example i-1's completion, cyclically: `ktoMismatchedCompletions`), [m].
   * z0 = max(0, mean(klLogps - klRefLogps)), held constant.
   */
  klLogps?: T;
  klRefLogps?: T;
  /**
   * A ready anchor estimate, already averaged (e.g. gathered over workers); clamped at 0.
   * Takes precedence over klLogps/klRefLogps.
   */
  kl?: number;
}

/** What every preference objective logs, as scalar tensors (not differentiated). */
export interface PreferenceMetrics<T = Tensor> {
  /** Fraction of pairs whose chosen implicit reward beats the rejected one. */
  rewardAccuracy: T;
  /** Mean implicit reward of the chosen (desirable) completions. */
  chosenReward: T;
  /** Mean implicit reward of the rejected (undesirable) completions. */
  rejectedReward: T;
  /** chosenReward - rejectedReward. */
  margin: T;
}

export interface PreferenceResult<T = Tensor> {
  /** Scalar, to minimise. */
  loss: T;
  metrics: PreferenceMetrics<T> & Record<string, T>;
}

/** What the trainer must supply to an objective, besides the policy's summed log-probs. */
export interface PreferenceNeeds {
  /** Reference log-probabilities (refChosenLogps / refRejectedLogps, or KtoBatch.refLogps). */
  reference: boolean;
  /** Meaningful chosenLengths / rejectedLengths (length-normalised terms or an NLL term). */
  lengths: boolean;
  /** KTO: the KL anchor (mismatched completions through policy and reference, or `kl`). */
  klAnchor?: boolean;
  /** The loss couples the pairs of a batch (AOT sorts them): results depend on batch composition. */
  batchCoupled?: boolean;
  /** LD-DPO: the log-probabilities of the tokens past each pair's shared length. */
  tails?: boolean;
  /** WPO: the aligned mean log-probabilities of both responses. */
  aligned?: boolean;
  /** The token-level view (per-row token log-probabilities and the pair selectors). */
  tokens?: boolean;
}

interface PreferenceObjectiveBase {
  /** Kebab-case registry name. */
  name: string;
  /** Other registry names that resolve to this objective. */
  aliases?: readonly string[];
  /** One sentence. */
  summary: string;
  paper: PaperRef;
  /** The public implementation this one matches. */
  matches?: string;
  /** The TRL code `matches` names, with the fixture that checks it (packages/divergences/reference). */
  references?: readonly PreferenceReference[];
  options: Readonly<Record<string, OptionSpec>>;
  resolved: object;
  /** Markdown math. */
  math: string;
  /** Same as needs.reference: the trainer keeps a frozen reference model. */
  needsReference: boolean;
  needs: PreferenceNeeds;
  /** Parts of the specification not confirmed against a primary source. */
  unverified: readonly string[];
}

/** An objective on chosen/rejected pairs. */
export interface PairedPreferenceObjective<TF = Tf, T = Tensor> extends PreferenceObjectiveBase {
  data: 'paired';
  loss(batch: PreferenceBatch<T>, tf: TF): PreferenceResult<T>;
  /** Rebuilds the objective with other options (merged over the current ones). */
  configure(options: Readonly<Record<string, unknown>>): PairedPreferenceObjective<TF, T>;
}

/** An objective on labelled single completions (KTO). */
export interface UnpairedPreferenceObjective<TF = Tf, T = Tensor> extends PreferenceObjectiveBase {
  data: 'unpaired';
  loss(batch: KtoBatch<T>, tf: TF): PreferenceResult<T>;
  configure(options: Readonly<Record<string, unknown>>): UnpairedPreferenceObjective<TF, T>;
}

export type PreferenceObjective<TF = Tf, T = Tensor> = PairedPreferenceObjective<TF, T> | UnpairedPreferenceObjective<TF, T>;
