/**
 * Value Augmented Sampling (Han et al., arXiv 2405.06639; code idanshen/Value-Augmented-Sampling,
 * vas_trainer.py): the base policy stays frozen; a value model learns, from the base policy's own
 * samples, the expected reward of finishing an action that starts a given way; at decode time
 * the k most likely next tokens get beta x (V(s + token) - mean over those k of V(s + token'))
 * added to their log-probabilities, every other token keeps its own. beta is the strength,
 * chosen at decode time; beta 0 is the base policy.
 *
 * Two plugins: the `vas` sampler (decoding evaluation only, so that training rollouts remain the
 * base policy's samples the value model learns from) and the `frozen-policy` estimator (every
 * rollout weight 0: no update of the policy, no trained tokens).
 */
import {
  type AdvantageEstimator,
  defineEstimator,
  defineSampler,
  type LogitsRequest,
  resolveOptions,
  type Sampler,
  UsageError,
} from '@policy-lab/core';
import { topIds } from './samplers.js';

const VAS_PAPER = {
  title: 'Value Augmented Sampling for Language Model Alignment and Personalization',
  arxiv: '2405.06639',
  year: 2024,
} as const;

/**
 * One row of VAS: `row` (log-probabilities) with beta x (values[i] - mean(values)) added at
 * `ids[i]` (the top-k token ids); every other entry is copied. With beta 0 the row is returned
 * unchanged (the same array).
 */
export function vasRow(row: Float32Array, ids: readonly number[], values: readonly number[], beta: number): Float32Array {
  if (beta === 0 || ids.length === 0) return row;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const out = Float32Array.from(row);
  ids.forEach((id, i) => {
    out[id] = (row[id] as number) + beta * ((values[i] as number) - mean);
  });
  return out;
}

export interface VasOptions {
  model?: string;
  beta?: number;
  topK?: number;
  behaviour?: 'proposal' | 'policy';
}

const OPTIONS = {
  model: { type: 'string', default: 'prefix-value', doc: "the run's reward model that scores partial actions (the value model)" },
  beta: {
    type: 'number',
    default: 1,
    doc: 'strength: weight of the centred value on the top-k log-probabilities (0: the base policy)',
  },
  topK: {
    type: 'integer',
    default: 20,
    doc: 'most likely next tokens scored by the value model at each position (VAS code: 20)',
  },
  behaviour: {
    type: 'enum',
    values: ['proposal', 'policy'],
    default: 'proposal',
    doc: "behaviour log-probs recorded: the VAS distribution drawn from ('proposal'), or the base policy's ('policy')",
  },
} as const;

export function vas(options: VasOptions = {}): Sampler {
  const resolved = resolveOptions<Required<VasOptions>>('vas', OPTIONS, options as Record<string, unknown>);
  if (!(Number.isInteger(resolved.topK) && resolved.topK >= 1))
    throw new UsageError(`vas: topK must be an integer >= 1, got ${resolved.topK}`);
  if (!(resolved.beta >= 0 && Number.isFinite(resolved.beta)))
    throw new UsageError(`vas: beta must be a finite number >= 0, got ${resolved.beta}`);
  const hook = async (request: LogitsRequest): Promise<readonly Float32Array[]> => {
    const model = request.rewardModels?.[resolved.model];
    if (!model || !request.texts || !request.tokenText)
      throw new UsageError(
        `vas: the run has no reward model '${resolved.model}' (it has: ${Object.keys(request.rewardModels ?? {}).join(', ') || 'none'}); add it with --set rewardModels=${resolved.model}`,
      );
    const texts = request.texts;
    const tokenText = request.tokenText;
    const ids = request.logprobs.map((row) => topIds(row, resolved.topK));
    // One batched call for every row's k candidates (charged by the trainer as the value model's scoring).
    const values = await model.score(
      ids.flatMap((row, r) =>
        row.map((id) => ({ context: texts[r]?.context ?? '', text: `${texts[r]?.text ?? ''}${tokenText(id)}` })),
      ),
    );
    let next = 0;
    return request.logprobs.map((row, r) => {
      const rowIds = ids[r] as number[];
      const rowValues = values.slice(next, next + rowIds.length);
      next += rowIds.length;
      return vasRow(row, rowIds, rowValues, resolved.beta);
    });
  };
  return defineSampler({
    name: 'vas',
    aliases: ['vas-guided-decoding'],
    summary:
      "Value Augmented Sampling: the base policy's top-k next tokens shifted by beta x a value model's centred score of the action so far plus the token; the policy is not updated",
    paper: VAS_PAPER,
    options: OPTIONS,
    resolved,
    strategy: 'sample',
    decodes: 'evaluation',
    behaviour: resolved.behaviour,
    math: "$\\log q(v \\mid s) = \\log \\pi_{base}(v \\mid s) + \\beta\\,[v \\in \\text{top}_k]\\,(V_\\phi(s \\oplus v) - \\tfrac1k \\sum_{v' \\in \\text{top}_k} V_\\phi(s \\oplus v')) + c$",
    unverified: [
      "The value model is the prefix-value reward model (Monte Carlo targets: each sampled prefix regresses on its rollout's final reward, lambda = 1) where the VAS code fits TD(lambda) targets with gamma 1, lambda 0.95; with one terminal reward both estimate the same value, TD(lambda) with less variance.",
      "Decodes evaluation only: training rollouts are the frozen base policy's plain samples (the value model's training data, as in the paper); greedy evaluation stays the base policy's greedy decoding.",
    ],
    // Strength 0 is the base policy: no hook at all, so sampling is plain sampling token for token and log-prob for log-prob, and no value call is made.
    ...(resolved.beta > 0 ? { logits: hook } : {}),
    configure: (next) => vas({ ...resolved, ...(next as VasOptions) }),
  });
}

/**
 * The policy stays what it is: every rollout gets advantage 0 and loss weight 0, so the update
 * has no rows (no gradient, no trained tokens). VAS's training is its value model's alone.
 */
export function frozenPolicy(): AdvantageEstimator {
  return defineEstimator({
    name: 'frozen-policy',
    summary: 'no policy update: every rollout weight 0 (decode-time methods such as VAS train only their value model)',
    paper: VAS_PAPER,
    math: '$w_i = 0$ for every rollout: $\\theta$ is never updated',
    compute: (groups) => ({
      rollout: groups.map((group) => group.map(() => 0)),
      weights: groups.map((group) => group.map(() => 0)),
    }),
  });
}
