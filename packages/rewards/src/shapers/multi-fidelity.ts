/**
 * Multi-fidelity reward: a cheap proxy component for every rollout, the exact component read
 * (and its cost charged) only for a seeded fraction of them; the proxy of the others is
 * corrected by the batch's mean exact-minus-proxy gap. Everything exact is charged, so equal
 * budgets stay equal.
 */
import { defineShaper, type RewardShaper, resolveOptions } from '@policy-lab/core';
import { requireComponent, reshaped } from './common.js';

export interface MultiFidelityOptions {
  proxy?: string;
  exact?: string;
  fraction?: number;
  exactEnvSteps?: number;
}

const OPTIONS = {
  proxy: { type: 'string', default: 'partial', doc: 'the cheap component (code: the share of passed tests)' },
  exact: { type: 'string', default: 'passed', doc: 'the exact component (code: every test passed)' },
  fraction: { type: 'number', default: 0.1, doc: 'share of rollouts checked exactly (seeded choice)' },
  exactEnvSteps: { type: 'integer', default: 1, doc: 'environment steps charged per exact check' },
} as const;

export function multiFidelity(options: MultiFidelityOptions = {}): RewardShaper {
  const o = resolveOptions<Required<MultiFidelityOptions>>('multi-fidelity', OPTIONS, options as Record<string, unknown>);
  if (!(o.fraction >= 0 && o.fraction <= 1))
    throw new RangeError(`multi-fidelity: option 'fraction' must be in [0, 1], got ${o.fraction}`);
  return defineShaper({
    name: 'multi-fidelity',
    summary:
      'Multi-fidelity reward: a cheap proxy for all, the exact reward (charged) for a seeded fraction, the proxy corrected by their gap',
    options: OPTIONS,
    resolved: o,
    requires: { components: [o.proxy, o.exact] },
    adds: [{ name: 'fidelity', weight: 1 }],
    math: '$r_i = r^{exact}_i$ if checked, else $r^{proxy}_i + \\overline{(r^{exact} - r^{proxy})}_{checked}$',
    unverified: ["An analogue of the seed paper's multi-fidelity reward estimator: a mean-gap corrector, not a GP."],
    configure: (next) => multiFidelity({ ...o, ...next }),
    shape(rollouts, ctx) {
      const count = Math.round(o.fraction * rollouts.length);
      const checked = new Set(ctx.rng.shuffle(rollouts.map((_, k) => k)).slice(0, count));
      ctx.charge?.({ envSteps: checked.size * o.exactEnvSteps });
      const gaps = [...checked].map((k) => {
        const r = rollouts[k] as (typeof rollouts)[number];
        return requireComponent('multi-fidelity', r, o.exact) - requireComponent('multi-fidelity', r, o.proxy);
      });
      const gap = gaps.length ? gaps.reduce((a, b) => a + b, 0) / gaps.length : 0;
      return rollouts.map((r, k) => {
        const value = checked.has(k)
          ? requireComponent('multi-fidelity', r, o.exact)
          : requireComponent('multi-fidelity', r, o.proxy) + gap;
        // Both sources leave the weighted sum: only the fused value counts.
        return reshaped(r, { ...r.reward, [o.proxy]: 0, [o.exact]: 0, fidelity: value });
      });
    },
  });
}
