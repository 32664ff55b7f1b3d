/**
 * Resets the reference policy to the current policy every K steps, so that a divergence penalty
 * keeps the policy near where it recently was rather than near where it started: GARDO's
 * adaptive regularisation updates its reference periodically to match the online policy.
 * The reset happens at the end of every K-th step: the next step's divergence to the reference
 * is measured from zero.
 */
import { defineHook, resolveOptions, type StepHook } from '@policy-lab/core';

const OPTIONS = {
  every: {
    type: 'integer',
    default: 10,
    doc: 'steps between resets (the reference becomes the current policy after step K, 2K, ...)',
  },
} as const;

export function referenceReset(options: { every?: number } = {}): StepHook {
  const resolved = resolveOptions<{ every: number }>('reference-reset', OPTIONS, options);
  if (!(resolved.every >= 1)) throw new RangeError(`reference-reset: every must be an integer >= 1, got ${resolved.every}`);
  return defineHook({
    name: 'reference-reset',
    summary: 'copies the current policy into the reference every K steps (a periodic reference reset)',
    paper: {
      title: 'GARDO: Reinforcing Diffusion Models without Reward Hacking',
      arxiv: '2512.24138',
      year: 2025,
    },
    unverified: ["the reset period: the abstract gives none; the default K = 10 is this project's choice"],
    options: OPTIONS,
    resolved,
    needs: { reference: true },
    math: '$\\pi_{ref} \\leftarrow \\pi_\\theta$ after every step $t$ with $t \\bmod K = 0$',
    async onStepEnd(ctx) {
      if (ctx.step % resolved.every === 0) await ctx.resetReference();
    },
    configure: (next) => referenceReset({ ...resolved, ...next }),
  });
}
