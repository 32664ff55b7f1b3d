/**
 * Resets the reference policy to the current policy every K steps, so that a divergence penalty
 * keeps the policy near where it recently was rather than near where it started: GARDO's
 * adaptive regularisation updates its reference periodically to match the online policy.
 * The reset happens at the end of every K-th step: the next step's divergence to the reference
 * is measured from zero. With `klThreshold` > 0 it also resets after any step whose measured
 * divergence exceeded the threshold (GARDO's released code resets on either condition).
 */
import { defineHook, resolveOptions, type StepHook } from '@policy-lab/core';

const OPTIONS = {
  every: {
    type: 'integer',
    default: 10,
    doc: 'steps between resets (the reference becomes the current policy after step K, 2K, ...)',
  },
  klThreshold: {
    type: 'number',
    default: 0,
    doc: "also reset after a step whose measured divergence to the reference (the 'kl' metric) exceeds this; 0 = off",
  },
} as const;

export interface ReferenceResetOptions {
  every?: number;
  klThreshold?: number;
}

export function referenceReset(options: ReferenceResetOptions = {}): StepHook {
  const resolved = resolveOptions<Required<ReferenceResetOptions>>(
    'reference-reset',
    OPTIONS,
    options as Record<string, unknown>,
  );
  if (!(resolved.every >= 1)) throw new RangeError(`reference-reset: every must be an integer >= 1, got ${resolved.every}`);
  if (!(resolved.klThreshold >= 0))
    throw new RangeError(`reference-reset: klThreshold must be >= 0 (0 = off), got ${resolved.klThreshold}`);
  return defineHook({
    name: 'reference-reset',
    summary: 'copies the current policy into the reference every K steps (a periodic reference reset)',
    paper: {
      title: 'GARDO: Reinforcing Diffusion Models without Reward Hacking',
      arxiv: '2512.24138',
      year: 2025,
    },
    unverified: [
      "the reset period: the abstract gives none; the default K = 10 is this project's choice (GARDO's code resets at most 15 epochs apart)",
      "GARDO's code counts the period from the last reset; here it counts from the start of the run (a hook keeps no state across a resume)",
    ],
    options: OPTIONS,
    resolved,
    needs: { reference: true },
    math: '$\\pi_{ref} \\leftarrow \\pi_\\theta$ after every step $t$ with $t \\bmod K = 0$ or (threshold $\\tau > 0$) $\\widehat{KL}_t > \\tau$',
    async onStepEnd(ctx) {
      const drifted = resolved.klThreshold > 0 && (ctx.metrics?.kl ?? 0) > resolved.klThreshold;
      if (ctx.step % resolved.every === 0 || drifted) await ctx.resetReference();
    },
    configure: (next) => referenceReset({ ...resolved, ...next }),
  });
}
