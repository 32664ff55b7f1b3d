/**
 * DAPO's overlong reward shaping: a soft length penalty per action, 0 up to the
 * expected length L_max - L_cache, then linear down to -1 at L_max:
 * min(-(len - L_exp) / L_cache x factor, 0). Summed over a rollout's turns into `overlong`.
 */
import { defineShaper, type RewardShaper, resolveOptions } from '@policy-lab/core';
import { VERL_OVERLONG } from '../reference.js';
import { reshaped } from './common.js';

export interface OverlongOptions {
  /** L_cache as a fraction of the action token limit (DAPO: 4096 of 20480 = 0.2). */
  cacheFraction?: number;
  penaltyFactor?: number;
}

const OPTIONS = {
  cacheFraction: { type: 'number', default: 0.2, doc: 'L_cache / L_max (DAPO: 4096 / 20480)' },
  penaltyFactor: { type: 'number', default: 1, doc: 'scale of the penalty (verl penalty_factor)' },
} as const;

export function overlongPenalty(length: number, maxLength: number, cache: number, factor = 1): number {
  const expected = maxLength - cache;
  if (length <= expected || cache <= 0) return 0;
  return Math.min((-(length - expected) / cache) * factor, 0);
}

export function overlong(options: OverlongOptions = {}): RewardShaper {
  const o = resolveOptions<Required<OverlongOptions>>('overlong', OPTIONS, options as Record<string, unknown>);
  if (!(o.cacheFraction > 0 && o.cacheFraction <= 1))
    throw new RangeError(`overlong: option 'cacheFraction' must be in (0, 1], got ${o.cacheFraction}`);
  return defineShaper({
    name: 'overlong',
    summary: "DAPO's soft overlong punishment: a length penalty from L_max - L_cache down to -1 at the token limit",
    paper: { title: 'DAPO: An Open-Source LLM Reinforcement Learning System at Scale', arxiv: '2503.14476', year: 2025 },
    matches: 'verl `reward_model.overlong_buffer` (DAPO reward manager)',
    references: [VERL_OVERLONG],
    options: OPTIONS,
    resolved: o,
    adds: [{ name: 'overlong', weight: 1 }],
    math: '$R_{len} = \\min\\big(-\\frac{|y| - (L_{max} - L_{cache})}{L_{cache}}\\cdot f,\\ 0\\big)$, $L_{max}$ = the action token limit',
    unverified: ['Multi-turn: the penalty is computed per action and summed over the turns (DAPO has one response).'],
    configure: (next) => overlong({ ...o, ...next }),
    shape(rollouts, ctx) {
      const cache = ctx.maxNewTokens * o.cacheFraction;
      return rollouts.map((r) => {
        const perTurn = r.turns.map((t) => overlongPenalty(t.actionTokens.length, ctx.maxNewTokens, cache, o.penaltyFactor));
        return reshaped(
          r,
          { ...r.reward, overlong: perTurn.reduce((a, b) => a + b, 0) },
          r.turns.map((t, k) => ({ ...t.reward, overlong: perTurn[k] as number })),
        );
      });
    },
  });
}
