/**
 * The spurious-reward control (Chen et al. 2025): the reward is replaced by a seeded
 * Bernoulli(p) coin, independent of the answer. The true reward stays in meta.unshapedReward,
 * so diagnostics can still measure success.
 */
import { defineShaper, type RewardShaper, resolveOptions } from '@policy-lab/core';
import { reshaped } from './common.js';

export interface SpuriousOptions {
  p?: number;
  replace?: boolean;
}

const OPTIONS = {
  p: { type: 'number', default: 0.5, doc: 'probability of reward 1' },
  replace: { type: 'boolean', default: true, doc: 'zero the true components (the control); false adds the coin next to them' },
} as const;

export function spurious(options: SpuriousOptions = {}): RewardShaper {
  const o = resolveOptions<Required<SpuriousOptions>>('spurious', OPTIONS, options as Record<string, unknown>);
  if (!(o.p >= 0 && o.p <= 1)) throw new RangeError(`spurious: option 'p' must be in [0, 1], got ${o.p}`);
  return defineShaper({
    name: 'spurious',
    summary: 'Spurious-reward control: a seeded Bernoulli(p) reward that ignores the answer',
    paper: {
      title: 'Exploration v.s. Exploitation: Rethinking RLVR through Clipping, Entropy, and Spurious Reward',
      arxiv: '2512.16912',
      year: 2025,
    },
    options: OPTIONS,
    resolved: o,
    adds: [{ name: 'spurious', weight: 1 }],
    math: '$r \\sim \\mathrm{Bernoulli}(p)$, independent of the rollout',
    configure: (next) => spurious({ ...o, ...next }),
    shape(rollouts, ctx) {
      return rollouts.map((r) => {
        const coin = ctx.rng.split(r.id).next() < o.p ? 1 : 0;
        const base = o.replace ? Object.fromEntries(Object.keys(r.reward).map((k) => [k, 0])) : { ...r.reward };
        const turns = o.replace ? r.turns.map((t) => Object.fromEntries(Object.keys(t.reward).map((k) => [k, 0]))) : undefined;
        return reshaped(r, { ...base, spurious: coin }, turns);
      });
    },
  });
}
